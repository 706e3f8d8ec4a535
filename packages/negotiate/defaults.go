package negotiate

import "github.com/gosspi/sspi/packages"

// defaultKerberos returns the Kerberos package used when Config.Kerberos
// is nil.
func defaultKerberos() packages.Package { return nil }

// defaultNTLM returns the NTLM package used when Config.NTLM is nil.
func defaultNTLM() packages.Package { return nil }
