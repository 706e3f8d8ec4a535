package negotiate

import (
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/ntlm"
)

// defaultKerberos returns the Kerberos package used when Config.Kerberos
// is nil.
func defaultKerberos() packages.Package { return kerberos.New(nil) }

// defaultNTLM returns the NTLM package used when Config.NTLM is nil: the
// NTLM defaults, key exchange included. Its sessions implement
// micResetter (ntlm's ResetMICState), so the RC4 state consumed by the
// mechListMIC is reset as MS-SPNG 3.3.5.1 wants.
func defaultNTLM() packages.Package { return ntlm.New(nil) }
