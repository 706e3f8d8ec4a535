package sspihttp

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/secbuffer"
)

// otherCert is a certificate the test server does not use, for bindings
// that must not match.
func otherCert(t *testing.T) *x509.Certificate {
	t.Helper()
	var selfSigned *testkit.CA
	cert, err := selfSigned.Issue(&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return cert.Leaf
}

func TestChannelBindings(t *testing.T) {
	reg := testRegistry(t, nil)
	for _, scheme := range []string{SchemeNTLM, SchemeNegotiate} {
		s := &Server{Registry: reg, Schemes: []string{scheme}, NTLM: testNTLMUsers,
			Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}, RequireChannelBindings: true, ErrorLog: nullLogger()}
		hs := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := IdentityFromContext(r.Context())
			w.Write([]byte(id.Name))
		})))
		hs.Config.ConnContext = ConnContext
		hs.StartTLS()
		defer hs.Close()
		good := TLSServerEndPoint(hs.Certificate())
		bad := TLSServerEndPoint(otherCert(t))
		tests := []struct {
			name     string
			server   func(*http.Request) *secbuffer.ChannelBindings
			client   bool
			wantCode int
		}{
			{"match", good, true, 200},
			{"client-sends-none", good, false, 401},
			{"mismatch", bad, true, 401},
		}
		for _, tt := range tests {
			t.Run(scheme+"/"+tt.name, func(t *testing.T) {
				s.ChannelBindings = tt.server
				base := hs.Client().Transport.(*http.Transport).Clone()
				tr := &Transport{Registry: reg, Base: base, Credentials: testIdentity, ChannelBindings: tt.client}
				defer tr.CloseIdleConnections()
				code, body, _ := get(t, &http.Client{Transport: tr}, "GET", hs.URL+"/", "")
				if code != tt.wantCode {
					t.Fatalf("status %d (%q), want %d", code, body, tt.wantCode)
				}
				if code == 200 && body != `GOSSPI\alice` {
					t.Errorf("body %q", body)
				}
			})
		}
	}
}

// A server that answers Kerberos mutual authentication with a token the
// client cannot verify: MutualAuth turns it into ErrMutualAuthFailed.
func TestMutualAuthFailure(t *testing.T) {
	k := peers.TestKDC(t)
	reg := testRegistry(t, k)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("Www-Authenticate", "Negotiate")
			w.WriteHeader(401)
			return
		}
		// An SPNEGO accept-completed whose responseToken is garbage.
		w.Header().Set("Www-Authenticate", "Negotiate oRQwEqADCgEAohMEEWdhcmJhZ2UtdG9rZW4tISE=")
		w.Write([]byte("secret"))
	}))
	defer hs.Close()
	url := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1) + "/"
	tr := &Transport{Registry: reg, Credentials: (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity(), MutualAuth: true}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get(url)
	if !errors.Is(err, ErrMutualAuthFailed) {
		t.Fatalf("err = %v, want ErrMutualAuthFailed", err)
	}
	// Without MutualAuth the same response is returned.
	tr2 := &Transport{Registry: reg, Credentials: (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()}
	defer tr2.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr2}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// Over https with HTTP/2 enabled, the first request may use HTTP/2, but
// the NTLM legs go over one HTTP/1.1 connection of their own.
func TestTransportHTTP2Server(t *testing.T) {
	reg := testRegistry(t, nil)
	s := &Server{Registry: reg, Schemes: []string{SchemeNTLM}, NTLM: testNTLMUsers, ErrorLog: nullLogger()}
	hs := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Proto))
	})))
	hs.Config.ConnContext = ConnContext
	hs.EnableHTTP2 = true
	hs.StartTLS()
	defer hs.Close()
	var protos []string
	base := hs.Client().Transport.(*http.Transport).Clone()
	base.ForceAttemptHTTP2 = true
	tr := &Transport{Registry: reg, Base: base, Credentials: testIdentity,
		Trace: func(_ *http.Request, resp *http.Response) { protos = append(protos, resp.Proto) }}
	defer tr.CloseIdleConnections()
	code, body, _ := get(t, &http.Client{Transport: tr}, "GET", hs.URL+"/", "")
	if code != 200 || body != "HTTP/1.1" {
		t.Fatalf("got %d %q", code, body)
	}
	if fmt.Sprint(protos) != "[HTTP/2.0 HTTP/1.1 HTTP/1.1]" {
		t.Errorf("protocols of the legs: %v", protos)
	}
}

// Over HTTP/2 the Server keeps no connection state: a multi-leg NTLM
// handshake cannot finish (a clean 401), and nothing leaks between the
// requests multiplexed on the connection.
func TestServerHTTP2NoConnectionState(t *testing.T) {
	reg := testRegistry(t, nil)
	s := &Server{Registry: reg, Schemes: []string{SchemeNTLM}, NTLM: testNTLMUsers, ErrorLog: nullLogger()}
	hs := httptest.NewUnstartedServer(s.Middleware(http.NotFoundHandler()))
	hs.Config.ConnContext = ConnContext
	hs.EnableHTTP2 = true
	hs.StartTLS()
	defer hs.Close()
	// An HTTP/2-only client that speaks NTLM on its own, leg by leg.
	c := hs.Client()
	tr := &Transport{Registry: reg, Base: &onlyHTTP2{c.Transport}, Credentials: testIdentity}
	code, _, _ := get(t, &http.Client{Transport: tr}, "GET", hs.URL+"/", "")
	if code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", code)
	}
}

// onlyHTTP2 is a RoundTripper that is not an *http.Transport, so the
// Transport cannot pin an HTTP/1.1 connection.
type onlyHTTP2 struct{ rt http.RoundTripper }

func (o *onlyHTTP2) RoundTrip(r *http.Request) (*http.Response, error) { return o.rt.RoundTrip(r) }
