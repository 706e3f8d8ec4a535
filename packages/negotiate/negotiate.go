package negotiate

import "github.com/gosspi/sspi/packages"

// pkgName is the package's SecPkgInfo name.
const pkgName = "Negotiate"

// info is SecPkgInfo for Negotiate (structures.md 7): the Windows 10
// capabilities, and Kerberos cbMaxToken (48000) plus 256.
var info = packages.Info{
	Name:         pkgName,
	Comment:      "Microsoft Package Negotiator",
	Capabilities: 0x00883BB3,
	Version:      1,
	RPCID:        9, // RPC_C_AUTHN_GSS_NEGOTIATE
	MaxToken:     48256,
}
