package sspihttp

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi"
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
