package kdc

import (
	"fmt"

	"github.com/gosspi/sspi/packages"
)

// Format implements fmt.Formatter: every verb prints the service with its
// password replaced by packages.Redacted, so that logging a Service never
// leaks it.
func (s Service) Format(f fmt.State, verb rune) {
	type service Service // without the methods
	c := service(s)
	if c.Password != "" {
		c.Password = packages.Redacted
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), c)
}

// String implements fmt.Stringer with the password redacted.
func (s Service) String() string { return fmt.Sprintf("%+v", s) }

// GoString implements fmt.GoStringer with the password redacted.
func (s Service) GoString() string { return fmt.Sprintf("%#v", s) }

// Format implements fmt.Formatter for a KDC: its realms and address,
// never its keys.
func (k *KDC) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "kdc.KDC{Realms:%q, Addr:%+v}", k.Realms(), k.Addr())
}
