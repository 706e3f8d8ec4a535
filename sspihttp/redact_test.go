package sspihttp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// TestServerPrintsNoSecrets: a Server configured with user stores and
// logged with any fmt verb does not print a password (it did through
// ntlm.Users and digest.Users).
func TestServerPrintsNoSecrets(t *testing.T) {
	const pw = "S3cret-Passw0rd"
	s := &Server{
		Negotiate: negotiate.AuthData{NTLM: ntlm.Users{`DOM\alice`: pw}},
		NTLM:      ntlm.Users{"alice": pw},
		Digest:    digest.Users{{Name: "alice", Password: pw}},
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		for _, v := range []any{s, s.Negotiate, s.NTLM, s.Digest} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, pw) {
				t.Errorf("%s of %T leaks the password: %s", verb, v, out)
			}
		}
	}
}
