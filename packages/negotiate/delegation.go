package negotiate

import (
	"errors"
	"io"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/status"
)

var (
	_ kerberos.DelegatedCredentialer = (*serverContext)(nil)
	_ kerberos.CCacheWriter          = (*credentials)(nil)
)

// DelegatedCredentials returns a new copy of the credentials the client
// delegated through the selected mechanism (a forwarded Kerberos TGT,
// announced by ASC_RET_DELEGATE) once the handshake has completed, or
// nil: for NTLM, before the context is established, and when nothing was
// delegated. They are the mechanism's (Kerberos) credentials; the caller
// owns them and frees them. Passed as auth data to Negotiate's
// AcquireCredentials they give Negotiate credentials over them.
func (c *serverContext) DelegatedCredentials() packages.Credentials {
	if !c.established.Load() {
		return nil
	}
	if d, ok := c.inner.(kerberos.DelegatedCredentialer); ok {
		return d.DelegatedCredentials()
	}
	return nil
}

// WriteCCache writes the Kerberos credentials among c's as an MIT FILE
// credential cache (see [kerberos.CCacheWriter]), or fails with
// SEC_E_NO_CREDENTIALS when c holds none.
func (c *credentials) WriteCCache(w io.Writer) error {
	for _, m := range c.mechs {
		if cw, ok := m.cred.(kerberos.CCacheWriter); ok {
			return cw.WriteCCache(w)
		}
	}
	return status.New("WriteCCache", pkgName, status.SEC_E_NO_CREDENTIALS, errors.New("negotiate: no Kerberos credentials"))
}
