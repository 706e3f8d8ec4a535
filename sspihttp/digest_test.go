package sspihttp

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/digest"
)

// A Digest nonce that expired on the server: the cached session's
// request is refused and the Transport answers the new challenge at once.
func TestTransportDigestNonceExpiry(t *testing.T) {
	reg := sspi.NewRegistry()
	reg.Register(digest.New(&digest.Config{NonceLifetime: time.Second}))
	ts := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeDigest}, Digest: testDigestUsers})
	var legs []int
	var stale []bool
	tr := &Transport{Registry: reg, Credentials: testIdentity, Trace: func(_ *http.Request, resp *http.Response) {
		legs = append(legs, resp.StatusCode)
		stale = append(stale, strings.Contains(resp.Header.Get("Www-Authenticate"), "stale=true"))
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	if code, _, _ := get(t, c, "GET", ts.URL+"/", ""); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	time.Sleep(2100 * time.Millisecond) // nonces carry whole seconds
	if code, _, _ := get(t, c, "GET", ts.URL+"/", ""); code != 200 {
		t.Fatalf("after the nonce expired: %d", code)
	}
	// 401 200 for the first; then the stale preemptive one, 401, and the
	// answer to the new challenge, 200.
	if want := "[401 200 401 200]"; fmt.Sprint(legs) != want {
		t.Errorf("legs %v, want %s", legs, want)
	}
	if fmt.Sprint(stale) != "[false false true false]" {
		t.Errorf("stale=true in the challenges: %v, want only in the one refusing the expired nonce", stale)
	}
}

// Credentials given per request stay with their request: a Digest nonce
// one user's request earned is never used for another's.
func TestTransportPerRequestCredentials(t *testing.T) {
	reg := testRegistry(t, nil)
	users := digest.Users{{Name: "alice", Password: "alice-pw"}, {Name: "bob", Password: "bob-pw"}}
	ts := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeDigest, SchemeNTLM}, Digest: users,
		NTLM: ntlmUsers("bob", "bob-pw")})
	tr := &Transport{Registry: reg, Credentials: testIdentity, Schemes: []string{SchemeDigest}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	ntlmTr := &Transport{Registry: reg, Credentials: testIdentity, Schemes: []string{SchemeNTLM}}
	defer ntlmTr.CloseIdleConnections()
	for _, tt := range []struct {
		user, pass, scheme, want string
	}{
		{"", "", SchemeDigest, "hello alice via Digest"}, // the Transport's own
		{"bob", "bob-pw", SchemeDigest, "hello bob via Digest"},
		{"", "", SchemeDigest, "hello alice via Digest"},
		{"bob", "bob-pw", SchemeNTLM, `hello GOSSPI\bob via NTLM`},
		{"bob", "wrong", SchemeDigest, "Unauthorized"},
		{"", "", SchemeDigest, "hello alice via Digest"},
	} {
		req, err := http.NewRequest("GET", ts.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.user != "" {
			req = req.WithContext(WithCredentials(req.Context(), &packages.AuthIdentity{User: tt.user, Domain: "GOSSPI", Password: tt.pass}))
		}
		cl := c
		if tt.scheme == SchemeNTLM {
			cl = &http.Client{Transport: ntlmTr}
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(b), tt.want) {
			t.Errorf("%s/%s: got %d %q, want %q", tt.user, tt.scheme, resp.StatusCode, b, tt.want)
		}
	}
}
