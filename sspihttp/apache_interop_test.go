package sspihttp

import (
	"net/http"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

// Our Transport against Apache httpd with mod_auth_gssapi: Negotiate
// with Kerberos (MIT GSS-API, keytab of the test realm) and Negotiate
// with NTLM (gss-ntlmssp, connection-bound), the peers of the load
// benchmark; a wrong NTLM password is refused.
func TestInteropApacheNegotiate(t *testing.T) {
	k := peers.TestKDC(t)
	addr, _ := startApache(t, k)
	spn := func(string) string { return "HTTP/localhost" }
	alice := (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()
	for _, c := range []struct {
		name, path string
		tr         *Transport
		want       int
	}{
		{"Kerberos", "/krb/", &Transport{Registry: testRegistry(t, k), Schemes: []string{SchemeNegotiate}, Credentials: alice, SPN: spn, MutualAuth: true}, 200},
		{"NTLM", "/ntlm/", &Transport{Registry: testRegistry(t, nil), Schemes: []string{SchemeNegotiate}, Credentials: testIdentity, SPN: spn}, 200},
		{"NTLM wrong password", "/ntlm/", &Transport{Registry: testRegistry(t, nil), Schemes: []string{SchemeNegotiate},
			Credentials: (&kerberosIdentity{testUser, testDomain, "nope"}).authIdentity(), SPN: spn}, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer c.tr.CloseIdleConnections()
			code, body, _ := get(t, &http.Client{Transport: c.tr}, "GET", "http://"+addr+c.path, "")
			if code != c.want || (c.want == 200 && body != "ok\n") {
				t.Fatalf("status %d %q, want %d", code, body, c.want)
			}
		})
	}
}
