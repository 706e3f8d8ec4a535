package sspihttp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/jcmturner/gokrb5/v8/config"
)

const (
	testDomain = "GOSSPI"
	testUser   = "alice"
	testPass   = "alice-pw"
)

var (
	testNTLMUsers   = ntlm.Users{testUser: testPass}
	testDigestUsers = digest.Users{{Name: testUser, Password: testPass}}
	testIdentity    = &packages.AuthIdentity{User: testUser, Domain: testDomain, Password: testPass}
)

// testRegistry returns a Registry whose Kerberos uses the test KDC's
// krb5.conf (k may be nil: then Negotiate offers NTLM only). Its NTLM has
// the defaults, which accept clients without a MIC (curl).
func testRegistry(t testing.TB, k *peers.KDC) *sspi.Registry {
	t.Helper()
	nt := ntlm.New(nil)
	var krb *kerberos.Package
	list := "NTLM"
	if k != nil {
		conf, err := config.Load(k.Krb5Conf)
		if err != nil && conf == nil {
			t.Fatal(err)
		}
		krb = kerberos.New(&kerberos.Config{Krb5Conf: conf})
		list = ""
	} else {
		krb = kerberos.New(&kerberos.Config{Krb5Conf: config.New()})
	}
	r := sspi.NewRegistry()
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: nt, PackageList: list}))
	r.Register(krb)
	r.Register(nt)
	r.Register(digest.New(&digest.Config{Realm: "gosspi-test"}))
	return r
}

// testServer is the middleware in front of a handler that reports who
// was authenticated.
type testServer struct {
	*httptest.Server
	srv      *Server
	requests atomic.Int32             // requests that reached the handler
	last     atomic.Pointer[Identity] // the identity of the last of them
}

func startServer(t testing.TB, s *Server) *testServer {
	t.Helper()
	if s.ErrorLog == nil {
		s.ErrorLog = nullLogger()
	}
	if s.AuditLog == nil {
		s.AuditLog = slog.New(slog.DiscardHandler)
	}
	ts := &testServer{srv: s}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		id, ok := IdentityFromContext(r.Context())
		if !ok {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		ts.last.Store(id)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "hello %s via %s/%s body=%q", id.Name, id.Scheme, id.Package, body)
	})
	ts.Server = httptest.NewUnstartedServer(s.Middleware(h))
	ts.Config.ConnContext = ConnContext
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// startServerHandler serves h with ConnContext and returns its URL.
func startServerHandler(t testing.TB, h http.Handler) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(h)
	hs.Config.ConnContext = ConnContext
	hs.Start()
	t.Cleanup(hs.Close)
	return hs.URL + "/"
}

func get(t testing.TB, c *http.Client, method, url, body string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

var loopbackTests = []struct {
	name        string
	scheme      string // the only scheme the client answers
	wantName    string
	wantPackage string
}{
	{"NTLM", SchemeNTLM, `GOSSPI\alice`, "NTLM"},
	{"Negotiate-NTLM", SchemeNegotiate, `GOSSPI\alice`, "NTLM"},
	{"Digest", SchemeDigest, "alice", "WDigest"},
}

func TestTransportAgainstServer(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, NTLM: testNTLMUsers, Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}, Digest: testDigestUsers})
	for _, tt := range loopbackTests {
		t.Run(tt.name, func(t *testing.T) {
			var legs []string
			tr := &Transport{Registry: reg, Schemes: []string{tt.scheme}, Credentials: testIdentity,
				Base: &http.Transport{},
				Trace: func(req *http.Request, resp *http.Response) {
					legs = append(legs, fmt.Sprintf("%s %d", strings.SplitN(req.Header.Get("Authorization"), " ", 2)[0], resp.StatusCode))
				}}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			code, body, _ := get(t, c, "POST", ts.URL+"/path?q=1", "payload")
			want := fmt.Sprintf("hello %s via %s/%s body=%q", tt.wantName, tt.scheme, tt.wantPackage, "payload")
			if code != 200 || body != want {
				t.Fatalf("got %d %q, want 200 %q (legs %v)", code, body, want, legs)
			}
			wantLegs := map[string][]string{
				SchemeNTLM:      {" 401", "NTLM 401", "NTLM 200"},
				SchemeNegotiate: {" 401", "Negotiate 401", "Negotiate 200"},
				SchemeDigest:    {" 401", "Digest 200"},
			}[tt.scheme]
			if fmt.Sprint(legs) != fmt.Sprint(wantLegs) {
				t.Errorf("legs %v, want %v", legs, wantLegs)
			}
			// A second request: Digest reuses the nonce with nc=2 (one
			// round trip); the connection schemes authenticate again.
			legs = nil
			code, body, _ = get(t, c, "GET", ts.URL+"/again", "")
			if code != 200 || !strings.HasPrefix(body, "hello "+tt.wantName) {
				t.Fatalf("second request: %d %q", code, body)
			}
			if tt.scheme == SchemeDigest && fmt.Sprint(legs) != "[Digest 200]" {
				t.Errorf("second Digest request legs %v, want one preemptive leg", legs)
			}
		})
	}
}

func TestTransportWrongPassword(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, NTLM: testNTLMUsers, Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}, Digest: testDigestUsers})
	bad := &packages.AuthIdentity{User: testUser, Domain: testDomain, Password: "wrong"}
	for _, tt := range loopbackTests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			tr := &Transport{Registry: reg, Schemes: []string{tt.scheme}, Credentials: bad,
				Trace: func(*http.Request, *http.Response) { n++ }}
			defer tr.CloseIdleConnections()
			code, _, h := get(t, &http.Client{Transport: tr}, "GET", ts.URL+"/", "")
			if code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", code)
			}
			if len(h.Values("Www-Authenticate")) == 0 {
				t.Error("the 401 has no challenges")
			}
			if n > 3 {
				t.Errorf("%d round trips for a refused password", n)
			}
			if ts.requests.Load() != 0 {
				t.Errorf("the handler ran %d times", ts.requests.Load())
			}
		})
	}
}

func TestTransportSchemePreference(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeDigest, SchemeNTLM}, NTLM: testNTLMUsers, Digest: testDigestUsers})
	for _, tt := range []struct {
		prefer []string
		want   string
	}{
		{[]string{SchemeNTLM, SchemeDigest}, "NTLM"},
		{[]string{SchemeDigest, SchemeNTLM}, "Digest"},
		{[]string{SchemeNegotiate, SchemeDigest}, "Digest"}, // Negotiate not offered
	} {
		tr := &Transport{Registry: reg, Schemes: tt.prefer, Credentials: testIdentity}
		code, body, _ := get(t, &http.Client{Transport: tr}, "GET", ts.URL+"/", "")
		if code != 200 || !strings.Contains(body, "via "+tt.want+"/") {
			t.Errorf("prefer %v: %d %q, want %s", tt.prefer, code, body, tt.want)
		}
		tr.CloseIdleConnections()
	}
}

// nonRewindable is a body http.NewRequest cannot make a GetBody for.
type nonRewindable struct{ io.Reader }

func TestTransportBodyNotRewindable(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, NTLM: testNTLMUsers})
	tr := &Transport{Registry: reg, Credentials: testIdentity}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("POST", ts.URL+"/", nonRewindable{strings.NewReader("data")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&http.Client{Transport: tr}).Do(req)
	if !errors.Is(err, ErrBodyNotRewindable) {
		t.Fatalf("err = %v, want ErrBodyNotRewindable", err)
	}
}

func TestTransportRedirect(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, NTLM: testNTLMUsers, Digest: testDigestUsers})
	// The same server under another host name: 127.0.0.1 and localhost.
	other := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other+"/target", http.StatusFound)
	}))
	defer redirect.Close()
	var sentAuth atomic.Int32
	tr := &Transport{Registry: reg, Credentials: testIdentity, Trace: func(req *http.Request, _ *http.Response) {
		if req.Header.Get("Authorization") != "" {
			sentAuth.Add(1)
		}
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	code, _, _ := get(t, c, "GET", redirect.URL+"/", "")
	if code != http.StatusUnauthorized || sentAuth.Load() != 0 {
		t.Fatalf("after a redirect to another host: status %d, %d authorized requests; want 401 and none", code, sentAuth.Load())
	}
	tr2 := &Transport{Registry: reg, Credentials: testIdentity, AllowHost: func(h string) bool { return h == "localhost" }}
	defer tr2.CloseIdleConnections()
	code, body, _ := get(t, &http.Client{Transport: tr2}, "GET", redirect.URL+"/", "")
	if code != 200 || !strings.HasPrefix(body, "hello") {
		t.Fatalf("with AllowHost: %d %q", code, body)
	}

	// A redirect within one host keeps authenticating, the body going
	// along with a 307.
	s := &Server{Registry: reg, Schemes: []string{SchemeNTLM}, NTLM: testNTLMUsers, ErrorLog: nullLogger()}
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		id, _ := IdentityFromContext(r.Context())
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", id.Name, b)
	})
	same := startServerHandler(t, s.Middleware(mux))
	tr3 := &Transport{Registry: reg, Credentials: testIdentity}
	defer tr3.CloseIdleConnections()
	code, body, _ = get(t, &http.Client{Transport: tr3}, "POST", same+"old", "data")
	if code != 200 || body != `GOSSPI\alice data` {
		t.Fatalf("same-host redirect: %d %q", code, body)
	}
}

func TestTransportConcurrent(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, NTLM: testNTLMUsers, Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}, Digest: testDigestUsers})
	for _, scheme := range []string{SchemeNTLM, SchemeNegotiate, SchemeDigest} {
		t.Run(scheme, func(t *testing.T) {
			tr := &Transport{Registry: reg, Schemes: []string{scheme}, Credentials: testIdentity}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range 3 {
						body := fmt.Sprintf("client %d request %d", i, j)
						req, err := http.NewRequest("POST", ts.URL+"/", strings.NewReader(body))
						if err != nil {
							errs <- err
							return
						}
						resp, err := c.Do(req)
						if err != nil {
							errs <- err
							return
						}
						b, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != 200 || !strings.Contains(string(b), fmt.Sprintf("%q", body)) {
							errs <- fmt.Errorf("%d %q %v", resp.StatusCode, b, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestServerNeedsConnContext(t *testing.T) {
	reg := testRegistry(t, nil)
	s := &Server{Registry: reg, NTLM: testNTLMUsers, ErrorLog: nullLogger()}
	hs := httptest.NewServer(s.Middleware(http.NotFoundHandler()))
	defer hs.Close()
	tr := &Transport{Registry: reg, Credentials: testIdentity}
	defer tr.CloseIdleConnections()
	code, _, _ := get(t, &http.Client{Transport: tr}, "GET", hs.URL+"/", "")
	if code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500 for a server without ConnContext", code)
	}
}

func TestServerChallenges(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, NTLM: testNTLMUsers, Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}, Digest: testDigestUsers})
	code, _, h := get(t, http.DefaultClient, "GET", ts.URL+"/", "")
	if code != 401 {
		t.Fatalf("status %d", code)
	}
	var schemes []string
	for _, ch := range parseChallenges(h.Values("Www-Authenticate")) {
		schemes = append(schemes, ch.scheme)
	}
	if fmt.Sprint(schemes) != "[Negotiate NTLM Digest]" {
		t.Fatalf("challenges %v", h.Values("Www-Authenticate"))
	}
	// Garbage tokens give a clean 401, never a 500 or a panic.
	for _, auth := range []string{"NTLM !!!", "Negotiate AAAA", "Digest nonce", "NTLM", "Bogus x", "Digest username=\"x\", response=\"00\""} {
		req, _ := http.NewRequest("GET", ts.URL+"/", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"Negotiate, NTLM"}, `[{Negotiate } {NTLM }]`},
		{[]string{"Negotiate abc=", "NTLM"}, `[{Negotiate abc=} {NTLM }]`},
		{[]string{`Digest realm="a, b", nonce="x", qop="auth,auth-int", Negotiate`}, `[{Digest realm="a, b", nonce="x", qop="auth,auth-int"} {Negotiate }]`},
		{[]string{`Basic realm="r", negotiate YWJj`}, `[{Basic realm="r"} {Negotiate YWJj}]`},
		{[]string{`Digest realm="unterminated`}, `[{Digest realm="unterminated}]`},
		{[]string{``, `,,`}, `[]`},
	}
	for _, tt := range tests {
		got := fmt.Sprint(parseChallenges(tt.in))
		if got != tt.want {
			t.Errorf("parseChallenges(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func FuzzParseChallenges(f *testing.F) {
	for _, s := range []string{"Negotiate, NTLM", `Digest realm="a, b", nonce="x", qop="auth,auth-int", Negotiate`, `Basic realm="r", negotiate YWJj`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ch := range parseChallenges([]string{s}) {
			if ch.scheme == "" {
				t.Fatalf("empty scheme from %q", s)
			}
			ch.token()
		}
		parseCredentials(s)
	})
}

func TestMayAuthenticate(t *testing.T) {
	mk := func(urls ...string) *http.Request {
		var prev *http.Request
		for _, u := range urls {
			r, err := http.NewRequest("GET", u, nil)
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil {
				r.Response = &http.Response{Request: prev}
			}
			prev = r
		}
		return prev
	}
	tests := []struct {
		name  string
		chain []string
		allow func(string) bool
		want  bool
	}{
		{"no redirect", []string{"http://a/"}, nil, true},
		{"same host", []string{"https://a/x", "https://a/y"}, nil, true},
		{"same host, other port", []string{"http://a:1/", "http://a:2/"}, nil, false},
		{"https to http", []string{"https://a/", "http://a/"}, nil, false},
		{"http to https (an upgrade)", []string{"http://a/", "https://a/"}, nil, true},
		{"other host", []string{"http://a/", "http://b/"}, nil, false},
		{"back to the first host", []string{"http://a/", "http://b/", "http://a/z"}, nil, true},
		{"allowed host", []string{"http://a/", "http://b/"}, func(h string) bool { return h == "b" }, true},
		{"host not allowed", []string{"http://a/", "http://c/"}, func(h string) bool { return h == "b" }, false},
	}
	for _, tt := range tests {
		tr := &Transport{AllowHost: tt.allow}
		if got := tr.mayAuthenticate(mk(tt.chain...)); got != tt.want {
			t.Errorf("%s: mayAuthenticate = %t, want %t", tt.name, got, tt.want)
		}
	}
}

// Transport.Preemptive sends the first token with the request: one round
// trip less for NTLM and Negotiate, a POST body sent with both legs, and
// a server that does not take the scheme gets the usual exchange.
func TestTransportPreemptive(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, NTLM: testNTLMUsers, Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}, Digest: testDigestUsers})
	digestOnly := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeDigest}, Digest: testDigestUsers})
	for _, tt := range []struct {
		name, preemptive, url string
		schemes               []string
		want                  string
		legs                  []string
	}{
		{"NTLM", "ntlm", ts.URL, []string{SchemeNTLM}, `hello GOSSPI\alice via NTLM/NTLM body="payload"`, []string{"NTLM 401", "NTLM 200"}},
		{"Negotiate", SchemeNegotiate, ts.URL, []string{SchemeNegotiate}, `hello GOSSPI\alice via Negotiate/NTLM body="payload"`, []string{"Negotiate 401", "Negotiate 200"}},
		{"NotOffered", SchemeNTLM, digestOnly.URL, []string{SchemeNTLM, SchemeDigest}, `hello alice via Digest/WDigest body="payload"`, []string{"NTLM 401", "Digest 200"}},
		{"UnknownScheme", "Basic", ts.URL, []string{SchemeNTLM}, `hello GOSSPI\alice via NTLM/NTLM body="payload"`, []string{" 401", "NTLM 401", "NTLM 200"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var legs []string
			tr := &Transport{Registry: reg, Schemes: tt.schemes, Credentials: testIdentity, Preemptive: tt.preemptive,
				Base: &http.Transport{},
				Trace: func(req *http.Request, resp *http.Response) {
					legs = append(legs, fmt.Sprintf("%s %d", strings.SplitN(req.Header.Get("Authorization"), " ", 2)[0], resp.StatusCode))
				}}
			defer tr.CloseIdleConnections()
			code, body, _ := get(t, &http.Client{Transport: tr}, "POST", tt.url+"/p", "payload")
			if code != 200 || body != tt.want {
				t.Fatalf("got %d %q, want 200 %q (legs %v)", code, body, tt.want, legs)
			}
			if fmt.Sprint(legs) != fmt.Sprint(tt.legs) {
				t.Errorf("legs %v, want %v", legs, tt.legs)
			}
		})
	}
	// A body that cannot be sent twice fails clearly when the pre-emptive
	// NTLM exchange needs a second leg.
	tr := &Transport{Registry: reg, Schemes: []string{SchemeNTLM}, Credentials: testIdentity, Preemptive: SchemeNTLM, Base: &http.Transport{}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("POST", ts.URL+"/p", io.NopCloser(strings.NewReader("once")))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := (&http.Client{Transport: tr}).Do(req); !errors.Is(err, ErrBodyNotRewindable) {
		if err == nil {
			resp.Body.Close()
		}
		t.Errorf("unrewindable body: %v, want ErrBodyNotRewindable", err)
	}
}
