package packages

import "fmt"

// Redacted stands in for a secret when a value holding one is formatted.
const Redacted = "<redacted>"

// redact returns Redacted for a non-empty secret, "" for none, so that a
// printed value still shows whether a secret was set.
func redact(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// Format implements fmt.Formatter: every verb (%v, %+v, %#v, %s, %q, ...)
// prints the identity with its password replaced by [Redacted], so that
// logging an AuthIdentity, or a struct holding one, never leaks it.
func (a AuthIdentity) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "packages.AuthIdentity{User:%q, Domain:%q, Password:%q, PackageList:%q, Flags:0x%x}",
			a.User, a.Domain, redact(a.Password), a.PackageList, a.Flags)
		return
	}
	type authIdentity struct {
		User, Domain, Password, PackageList string
		Flags                               uint32
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), authIdentity{a.User, a.Domain, redact(a.Password), a.PackageList, a.Flags})
}

// String implements fmt.Stringer with the password redacted.
func (a AuthIdentity) String() string { return fmt.Sprintf("%+v", a) }

// GoString implements fmt.GoStringer with the password redacted.
func (a AuthIdentity) GoString() string { return fmt.Sprintf("%#v", a) }
