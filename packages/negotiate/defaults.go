package negotiate

import (
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/ntlm"
)

// defaultKerberos returns the Kerberos package used when Config.Kerberos
// is nil.
func defaultKerberos() packages.Package { return kerberos.New(nil) }

// defaultNTLM returns the NTLM package used when Config.NTLM is nil.
//
// It does not negotiate NTLMSSP_NEGOTIATE_KEY_EXCH. With key exchange an
// NTLM signature consumes RC4 key stream, and MS-SPNG 3.3.5.1 wants the
// RC4 state put back after the mechListMIC is signed or verified; without
// it the mechListMIC leaves the RC4 state alone, so the first sealed
// message after the handshake matches what Windows and gss-ntlmssp
// expect. An NTLM package given in Config.NTLM should do the same unless
// its contexts implement the reset themselves (see micResetter).
func defaultNTLM() packages.Package {
	return ntlm.New(&ntlm.Config{DisableKeyExchange: true})
}
