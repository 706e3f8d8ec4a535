package sspi

import (
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/packages/schannel"
)

// builtinPackages returns the built-in packages of the default Registry,
// in the order EnumerateSecurityPackages lists them on Windows: Negotiate,
// Kerberos, NTLM, WDigest, Schannel, then "Microsoft Unified Security
// Protocol Provider" (the second name of Schannel). Each is built with its
// default configuration; a program that needs another configuration
// registers its own instance in a private [Registry].
func builtinPackages() []packages.Package {
	return []packages.Package{
		negotiate.New(nil),
		kerberos.New(nil),
		ntlm.New(nil),
		digest.New(nil),
		schannel.New(nil),
		schannel.NewUnified(nil),
	}
}
