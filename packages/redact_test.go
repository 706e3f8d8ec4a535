package packages

import (
	"fmt"
	"strings"
	"testing"
)

// TestAuthIdentityRedacted: no verb prints the password, whether the
// identity is printed alone, through a pointer, or inside a struct.
func TestAuthIdentityRedacted(t *testing.T) {
	const secret = "S3cret-Passw0rd"
	id := AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: secret}
	holder := struct {
		Name string
		ID   *AuthIdentity
		Any  any
		IDs  []AuthIdentity
	}{"h", &id, id, []AuthIdentity{id}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%20v"} {
		for _, v := range []any{id, &id, holder, &holder} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
				t.Errorf("%s of %T leaks the password: %s", verb, v, out)
			}
		}
	}
	if s := fmt.Sprintf("%+v", id); !strings.Contains(s, "alice") || !strings.Contains(s, Redacted) {
		t.Errorf("%%+v = %s: want the user and %s", s, Redacted)
	}
	if s := id.String() + id.GoString(); strings.Contains(s, secret) {
		t.Errorf("String/GoString leak: %s", s)
	}
}
