package negotiate

import (
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
)

var _ kerberos.DelegatedCredentialer = (*serverContext)(nil)

// DelegatedCredentials returns the credentials the client delegated
// through the selected mechanism (a forwarded Kerberos TGT, announced by
// ASC_RET_DELEGATE) once the handshake has completed, or nil: for NTLM,
// before the context is established, and when nothing was delegated.
func (c *serverContext) DelegatedCredentials() packages.Credentials {
	if !c.established.Load() {
		return nil
	}
	if d, ok := c.inner.(kerberos.DelegatedCredentialer); ok {
		return d.DelegatedCredentials()
	}
	return nil
}
