package sspihttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
)

// testProxy is a small forward proxy (absolute-form requests and CONNECT)
// behind the middleware in proxy mode.
type testProxy struct {
	*httptest.Server
	connects atomic.Int32
	forwards atomic.Int32
	users    chan string
}

func startProxy(t *testing.T, s *Server) *testProxy {
	t.Helper()
	s.Proxy = true
	s.PersistConnection = true // as proxies that speak NTLM do
	if s.ErrorLog == nil {
		s.ErrorLog = nullLogger()
	}
	p := &testProxy{users: make(chan string, 100)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := IdentityFromContext(r.Context()); ok {
			p.users <- id.Scheme + " " + id.Name
		}
		if r.Method == http.MethodConnect {
			p.connects.Add(1)
			testkit.Tunnel(w, r)
			return
		}
		p.forwards.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	p.Server = httptest.NewUnstartedServer(s.Middleware(h))
	p.Config.ConnContext = ConnContext
	p.Start()
	t.Cleanup(p.Close)
	return p
}

func TestProxyAuthentication(t *testing.T) {
	reg := testRegistry(t, nil)
	origin := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeDigest}, Digest: testDigestUsers})
	proxyUser := &packages.AuthIdentity{User: "bob", Domain: testDomain, Password: "bob-pw"}
	pusers := map[string]any{
		SchemeNTLM:      ntlmUsers("bob", "bob-pw"),
		SchemeNegotiate: &negotiate.AuthData{NTLM: ntlmUsers("bob", "bob-pw")},
		SchemeDigest:    digestUsers("bob", "bob-pw"),
	}
	for _, scheme := range []string{SchemeNTLM, SchemeNegotiate, SchemeDigest} {
		proxy := startProxy(t, &Server{Registry: reg, Schemes: []string{scheme},
			NTLM: pusers[SchemeNTLM], Negotiate: pusers[SchemeNegotiate], Digest: pusers[SchemeDigest]})
		purl, err := url.Parse(proxy.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(scheme+"/forward", func(t *testing.T) {
			// 407 from the proxy as bob, then 401 from the origin as alice.
			tr := &Transport{Registry: reg, Credentials: testIdentity, ProxyCredentials: proxyUser,
				Base: &http.Transport{Proxy: http.ProxyURL(purl)}}
			defer tr.CloseIdleConnections()
			code, body, _ := get(t, &http.Client{Transport: tr}, "POST", origin.URL+"/via-proxy", "abc")
			if code != 200 || body != `hello alice via Digest/WDigest body="abc"` {
				t.Fatalf("got %d %q", code, body)
			}
			if got := <-proxy.users; !strings.HasSuffix(got, "bob") {
				t.Errorf("proxy authenticated %q", got)
			}
		})
		t.Run(scheme+"/connect", func(t *testing.T) {
			d := &ProxyDialer{Proxy: purl.Host, Registry: reg, Credentials: proxyUser}
			tr := &Transport{Registry: reg, Credentials: testIdentity, Base: &http.Transport{DialContext: d.DialContext}}
			defer tr.CloseIdleConnections()
			code, body, _ := get(t, &http.Client{Transport: tr}, "GET", origin.URL+"/tunnel", "")
			if code != 200 || !strings.HasPrefix(body, "hello alice via Digest") {
				t.Fatalf("got %d %q", code, body)
			}
			if proxy.connects.Load() == 0 {
				t.Error("no CONNECT reached the proxy")
			}
			// Wrong proxy password: a clear error, no loop.
			bad := &ProxyDialer{Proxy: purl.Host, Registry: reg, Credentials: &packages.AuthIdentity{User: "bob", Domain: testDomain, Password: "x"}}
			_, err := bad.DialContext(context.Background(), "tcp", strings.TrimPrefix(origin.URL, "http://"))
			if !errors.Is(err, ErrProxyRefused) {
				t.Fatalf("wrong password: err %v, want ErrProxyRefused", err)
			}
		})
	}
}

// A proxy that wants Negotiate with Kerberos, on CONNECT and on forwarded
// requests: the SPN is HTTP/ and the proxy's host name.
func TestProxyKerberos(t *testing.T) {
	k := peers.TestKDC(t)
	reg := testRegistry(t, k)
	origin := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeDigest}, Digest: testDigestUsers})
	proxy := startProxy(t, &Server{Registry: reg, Schemes: []string{SchemeNegotiate},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}}})
	purl, err := url.Parse(strings.Replace(proxy.URL, "127.0.0.1", "localhost", 1))
	if err != nil {
		t.Fatal(err)
	}
	alice := (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()
	d := &ProxyDialer{Proxy: purl.Host, Registry: reg, Credentials: alice}
	tr := &Transport{Registry: reg, Credentials: testIdentity, Schemes: []string{SchemeDigest},
		Base: &http.Transport{DialContext: d.DialContext}}
	defer tr.CloseIdleConnections()
	code, body, _ := get(t, &http.Client{Transport: tr}, "GET", origin.URL+"/k", "")
	if code != 200 || !strings.HasPrefix(body, "hello alice via Digest") {
		t.Fatalf("through CONNECT: %d %q", code, body)
	}
	if got := <-proxy.users; got != "Negotiate alice@"+k.Realm {
		t.Errorf("proxy authenticated %q", got)
	}
	fwd := &Transport{Registry: reg, Credentials: testIdentity, ProxyCredentials: alice,
		Base: &http.Transport{Proxy: http.ProxyURL(purl)}}
	defer fwd.CloseIdleConnections()
	code, body, _ = get(t, &http.Client{Transport: fwd}, "GET", origin.URL+"/f", "")
	if code != 200 || !strings.HasPrefix(body, "hello alice via Digest") {
		t.Fatalf("forwarded: %d %q", code, body)
	}
	if got := <-proxy.users; got != "Negotiate alice@"+k.Realm {
		t.Errorf("proxy authenticated %q", got)
	}
}
