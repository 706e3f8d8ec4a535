package negotiate

import "github.com/gosspi/sspi/packages/kerberos"

var _ kerberos.PACContext = (*serverContext)(nil)

// PAC returns the PAC of the client's Kerberos ticket when Negotiate
// selected Kerberos (or a mechanism whose acceptor contexts implement
// kerberos.PACContext) and the handshake has completed. It returns nil
// for NTLM, before the context is established, and when the ticket had
// no PAC.
func (c *serverContext) PAC() *kerberos.PAC {
	if !c.established.Load() {
		return nil
	}
	if p, ok := c.inner.(kerberos.PACContext); ok {
		return p.PAC()
	}
	return nil
}
