package sspihttp

import (
	"io"
	"net/http"
	"testing"

	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// benchServer serves "ok" behind the middleware; with no schemes, the
// handler alone (the baseline).
func benchServer(b *testing.B, s *Server) string {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	var handler http.Handler = h
	if s != nil {
		s.ErrorLog = nullLogger()
		handler = s.Middleware(h)
	}
	ts := startServerHandler(b, handler)
	return ts
}

// BenchmarkRequest measures one authenticated request end to end, client
// and server in process: the baseline is the same request with no
// authentication; Digest reuses its nonce (one round trip); NTLM and
// Negotiate run their handshake on a new connection each time.
func BenchmarkRequest(b *testing.B) {
	reg := testRegistry(b, nil)
	srv := &Server{Registry: reg, NTLM: ntlm.Users{testUser: testPass},
		Negotiate: &negotiate.AuthData{NTLM: ntlm.Users{testUser: testPass}}, Digest: testDigestUsers}
	for _, bc := range []struct {
		name   string
		server *Server
		scheme string
	}{
		{"baseline", nil, ""},
		{"Digest", srv, SchemeDigest},
		{"NTLM", srv, SchemeNTLM},
		{"Negotiate-NTLM", srv, SchemeNegotiate},
	} {
		b.Run(bc.name, func(b *testing.B) {
			url := benchServer(b, bc.server)
			var rt http.RoundTripper = &http.Transport{}
			if bc.scheme != "" {
				rt = &Transport{Registry: reg, Schemes: []string{bc.scheme}, Credentials: testIdentity, Base: rt}
			}
			c := &http.Client{Transport: rt}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
