package sspihttp

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
)

// identityServer serves s in front of a handler that hands each request's
// Identity to the test.
func identityServer(t *testing.T, s *Server) (url string, ids <-chan *Identity) {
	t.Helper()
	if s.ErrorLog == nil {
		s.ErrorLog = nullLogger()
	}
	ch := make(chan *Identity, 8)
	hs := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := IdentityFromContext(r.Context())
		if !ok {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		ch <- id
	})))
	hs.Config.ConnContext = ConnContext
	hs.Start()
	t.Cleanup(hs.Close)
	return strings.Replace(hs.URL, "127.0.0.1", "localhost", 1) + "/", ch
}

// login makes one request as creds with scheme and returns the identity
// the handler saw.
func login(t *testing.T, reg *sspi.Registry, url string, ids <-chan *Identity, scheme string, creds any) *Identity {
	t.Helper()
	tr := &Transport{Registry: reg, Schemes: []string{scheme}, Credentials: creds}
	defer tr.CloseIdleConnections()
	code, body, _ := get(t, &http.Client{Transport: tr}, "GET", url, "")
	if code != http.StatusOK {
		t.Fatalf("%s: status %d %q", scheme, code, body)
	}
	select {
	case id := <-ids:
		return id
	default:
		t.Fatalf("%s: the handler did not run", scheme)
	}
	return nil
}

// Kerberos logins against the MIT KDC, through Negotiate and the bare
// scheme: the identity carries the PAC decoded from alice's ticket. MIT's
// KDC signs a PAC with PAC_CLIENT_INFO but no logon info, so UserSID and
// Groups are what that PAC lists: nothing.
func TestIdentityPACFromMIT(t *testing.T) {
	k := peers.TestKDC(t)
	reg := testRegistry(t, k)
	url, ids := identityServer(t, &Server{Registry: reg, Schemes: []string{SchemeNegotiate, SchemeKerberos},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: testNTLMUsers},
		Kerberos:  &kerberos.Keytab{Path: k.ServiceKeytab}})
	alice := (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()
	for _, scheme := range []string{SchemeNegotiate, SchemeKerberos} {
		t.Run(scheme, func(t *testing.T) {
			id := login(t, reg, url, ids, scheme, alice)
			if id.Package != "Kerberos" || id.Name != "alice@"+k.Realm {
				t.Fatalf("identity %q via %s", id.Name, id.Package)
			}
			if id.PAC == nil {
				t.Fatal("no PAC in the identity of a Kerberos login")
			}
			if id.PAC.ClientName != "alice" {
				t.Errorf("PAC client name %q, want alice", id.PAC.ClientName)
			}
			if id.UserSID != id.PAC.UserSID || !slices.Equal(id.Groups, id.PAC.GroupSIDs) {
				t.Errorf("identity SIDs %q %q, PAC's %q %q", id.UserSID, id.Groups, id.PAC.UserSID, id.PAC.GroupSIDs)
			}
		})
	}
}

// NTLM, Negotiate over NTLM and Digest identities have no PAC and no SIDs.
func TestIdentityNoPAC(t *testing.T) {
	reg := testRegistry(t, nil)
	url, ids := identityServer(t, &Server{Registry: reg, NTLM: testNTLMUsers,
		Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}, Digest: testDigestUsers})
	for _, tt := range loopbackTests {
		t.Run(tt.name, func(t *testing.T) {
			id := login(t, reg, url, ids, tt.scheme, testIdentity)
			if id.Name != tt.wantName || id.Package != tt.wantPackage {
				t.Fatalf("identity %q via %s", id.Name, id.Package)
			}
			if id.PAC != nil || id.UserSID != "" || id.Groups != nil {
				t.Errorf("%s identity has PAC %v, user SID %q, groups %q", tt.name, id.PAC, id.UserSID, id.Groups)
			}
		})
	}
}
