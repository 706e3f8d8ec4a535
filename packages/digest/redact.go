package digest

import (
	"fmt"

	"github.com/gosspi/sspi/packages"
)

// Values that hold a password or an H(A1) (a password equivalent) print
// them as packages.Redacted with every fmt verb, so that logging an
// identity, a user list or a server configured with them leaks nothing.

func redact(s string) string {
	if s == "" {
		return ""
	}
	return packages.Redacted
}

func redactHA1(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	r := make(map[string]string, len(m))
	for k := range m {
		r[k] = packages.Redacted
	}
	return r
}

// Format implements fmt.Formatter with the password redacted.
func (id Identity) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "digest.Identity{User:%q, Password:%q, Realm:%q, AuthzID:%q}", id.User, redact(id.Password), id.Realm, id.AuthzID)
		return
	}
	type identity struct{ User, Password, Realm, AuthzID string }
	fmt.Fprintf(f, fmt.FormatString(f, verb), identity{id.User, redact(id.Password), id.Realm, id.AuthzID})
}

// Format implements fmt.Formatter with the password and H(A1) redacted.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "digest.Secret{Password:%q, HA1:%#v}", redact(s.Password), redactHA1(s.HA1))
		return
	}
	type secret struct {
		Password string
		HA1      map[string]string
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), secret{redact(s.Password), redactHA1(s.HA1)})
}

// Format implements fmt.Formatter with the password and H(A1) redacted.
func (u User) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "digest.User{Name:%q, Realm:%q, Password:%q, HA1:%#v}", u.Name, u.Realm, redact(u.Password), redactHA1(u.HA1))
		return
	}
	type user struct {
		Name, Realm, Password string
		HA1                   map[string]string
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), user{u.Name, u.Realm, redact(u.Password), redactHA1(u.HA1)})
}

// Format implements fmt.Formatter: each user with its secrets redacted.
func (us Users) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, "digest.Users{")
		for i, u := range us {
			if i > 0 {
				fmt.Fprint(f, ", ")
			}
			fmt.Fprintf(f, "%#v", u)
		}
		fmt.Fprint(f, "}")
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), []User(us))
}

// String and GoString, for callers that use them directly.

func (id Identity) String() string   { return fmt.Sprintf("%+v", id) }
func (id Identity) GoString() string { return fmt.Sprintf("%#v", id) }
func (s Secret) String() string      { return fmt.Sprintf("%+v", s) }
func (s Secret) GoString() string    { return fmt.Sprintf("%#v", s) }
func (u User) String() string        { return fmt.Sprintf("%+v", u) }
func (u User) GoString() string      { return fmt.Sprintf("%#v", u) }
func (us Users) String() string      { return fmt.Sprintf("%+v", us) }
func (us Users) GoString() string    { return fmt.Sprintf("%#v", us) }
