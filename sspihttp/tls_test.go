package sspihttp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/secbuffer"
)

// otherCert is a certificate the test server does not use, for bindings
// that must not match.
func otherCert(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
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
	k := kdc(t)
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
