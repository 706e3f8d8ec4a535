package digest

import (
	"fmt"
	"strings"
	"testing"
)

// TestSecretsRedacted: no fmt verb prints a password or an H(A1) of the
// digest types, alone, by pointer, or inside another value.
func TestSecretsRedacted(t *testing.T) {
	const pw, ha1 = "S3cret-Passw0rd", "0123456789abcdef0123456789abcdef"
	u := User{Name: "alice", Realm: "r", Password: pw, HA1: map[string]string{"MD5": ha1}}
	us := Users{u, {Name: "bob", HA1: map[string]string{"SHA-256": ha1}}}
	id := Identity{User: "alice", Password: pw}
	sec := Secret{Password: pw, HA1: map[string]string{"MD5": ha1}}
	holder := struct {
		Users Users
		Any   any
		Map   map[string]User
	}{us, id, map[string]User{"a": u}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%30v"} {
		for _, v := range []any{u, &u, us, &us, id, &id, sec, &sec, holder, &holder} {
			out := fmt.Sprintf(verb, v)
			for _, s := range []string{pw, ha1, fmt.Sprintf("%x", pw)} {
				if strings.Contains(out, s) {
					t.Errorf("%s of %T leaks a secret: %s", verb, v, out)
				}
			}
		}
	}
	if s := fmt.Sprintf("%+v", us); !strings.Contains(s, "alice") || !strings.Contains(s, "bob") {
		t.Errorf("%%+v hides the names: %s", s)
	}
}
