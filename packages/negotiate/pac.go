package negotiate

import "github.com/gosspi/sspi/packages"

var _ packages.PACContext = (*serverContext)(nil)

// PAC returns the PAC of the client's Kerberos ticket when Negotiate
// selected Kerberos (or a mechanism whose acceptor contexts implement
// packages.PACContext) and the handshake has completed. It returns nil
// for NTLM, before the context is established, and when the ticket had
// no PAC.
func (c *serverContext) PAC() *packages.PAC {
	if !c.established.Load() {
		return nil
	}
	if p, ok := c.inner.(packages.PACContext); ok {
		return p.PAC()
	}
	return nil
}
