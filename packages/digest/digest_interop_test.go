package digest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// digestServer is a net/http server whose authentication is our acceptor,
// one server context per request, as an HTTP server uses Digest.
type digestServer struct {
	p     *Package
	store UserStore
	req   uint32

	mu    sync.Mutex
	log   []string // Authorization values accepted
	fails []status.Status
}

func (d *digestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cred, err := d.p.AcquireCredentials(r.Context(), "", packages.SECPKG_CRED_INBOUND, d.store)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	challenge := func(tok []byte) {
		w.Header().Add("WWW-Authenticate", "Digest "+string(tok))
		w.WriteHeader(http.StatusUnauthorized)
	}
	fresh := func() {
		ctx, err := cred.NewServerContext(d.req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
		if st, err := ctx.Step(r.Context(), nil, out); st != status.SEC_I_CONTINUE_NEEDED {
			http.Error(w, fmt.Sprint(err), http.StatusInternalServerError)
			return
		}
		challenge(out[0].Data)
	}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Digest ")
	if !ok {
		fresh()
		return
	}
	ctx, err := cred.NewServerContext(d.req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	in := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte(auth)},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(r.Method)},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(r.RequestURI)},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS},
		{Type: secbuffer.SECBUFFER_DATA, Data: body},
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
	st, _ := ctx.Step(r.Context(), in, out)
	d.mu.Lock()
	if st == status.SEC_E_OK {
		d.log = append(d.log, auth)
	} else {
		d.fails = append(d.fails, st)
	}
	d.mu.Unlock()
	switch {
	case st == status.SEC_E_OK:
		names, _ := ctx.QueryAttribute(packages.SECPKG_ATTR_NAMES)
		w.Header().Set("Authentication-Info", string(out[0].Data))
		fmt.Fprintf(w, "hello %s, %d bytes", names.(*packages.Names).UserName, len(body))
	case len(out[0].Data) > 0: // stale=true challenge
		challenge(out[0].Data)
	default:
		fresh()
	}
}

// startDigestServer listens on 127.0.0.1 only.
func startDigestServer(t *testing.T, d *digestServer) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: d}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestCurlAgainstOurServer: curl --digest, an independent client, against
// our acceptor, for every algorithm curl 7.88 implements.
func TestCurlAgainstOurServer(t *testing.T) {
	curl := peers.Tool(t, "curl", "curl")
	const pass = "Circle of Life"
	for _, tt := range []struct {
		alg      string
		userhash bool
	}{{MD5, false}, {MD5Sess, false}, {SHA256, false}, {SHA256Sess, false}, {SHA256, true}} {
		name := tt.alg
		if tt.userhash {
			name += "/userhash"
		}
		t.Run(name, func(t *testing.T) {
			d := &digestServer{
				p:     New(&Config{Realm: "curl@example.org", Algorithms: []string{tt.alg}, UserHash: tt.userhash}),
				store: Users{{Name: "Mufasa", Password: pass}},
				req:   ASC_REQ_HTTP,
			}
			srv := startDigestServer(t, d)
			// A POST, then two GETs in one run (curl 7.88 starts each URL
			// with a fresh challenge, so every nc is 00000001).
			for _, args := range [][]string{
				{"-d", "a=b&c=d", srv.URL + "/dir/index.html?q=1"},
				{srv.URL + "/second", srv.URL + "/third"},
			} {
				cmd := exec.Command(curl, append([]string{"-sS", "--http1.1", "--digest", "-u", "Mufasa:" + pass}, args...)...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("curl: %v\n%s", err, out)
				}
				want := "hello Mufasa, 7 bytes"
				if len(args) == 2 {
					want = "hello Mufasa, 0 byteshello Mufasa, 0 bytes"
				}
				if string(out) != want {
					t.Fatalf("curl output %q, want %q", out, want)
				}
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			if len(d.log) != 3 || len(d.fails) != 0 {
				t.Fatalf("accepted %q, failures %v", d.log, d.fails)
			}
			var auths []*httpAuthorization
			for _, l := range d.log {
				a, err := parseHTTPAuthorization(l)
				if err != nil {
					t.Fatal(err)
				}
				auths = append(auths, a)
			}
			if a := auths[0]; a.algorithm != tt.alg || a.userhash != tt.userhash || a.qop != qopAuth || a.uri != "/dir/index.html?q=1" {
				t.Errorf("curl sent %q", d.log[0])
			}
			if a := auths[2]; a.uri != "/third" || a.nc != "00000001" {
				t.Errorf("curl sent %q", d.log[2])
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		d := &digestServer{p: New(nil), store: Users{{Name: "Mufasa", Password: pass}}, req: ASC_REQ_HTTP}
		srv := startDigestServer(t, d)
		out, err := exec.Command(curl, "-sS", "--digest", "-u", "Mufasa:wrong", "-o", "/dev/null", "-w", "%{http_code}", srv.URL+"/").CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		if string(out) != "401" {
			t.Errorf("status %q, want 401", out)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.log) != 0 || len(d.fails) != 1 || d.fails[0] != status.SEC_E_LOGON_DENIED {
			t.Errorf("accepted %q, failures %v", d.log, d.fails)
		}
	})
}

// lighttpdPeer starts lighttpd with mod_auth (htdigest backend) on a free
// 127.0.0.1 port, with its configuration in a temporary folder, and stops
// it when the test ends.
//
// families are the hash families whose H(A1) go into the htdigest file
// (lighttpd tells MD5 from the 32-byte ones by length only, so SHA-256 and
// SHA-512-256 need servers of their own); extra is added to the
// auth.require options.
func lighttpdPeer(t *testing.T, realm, algorithms, extra string, families []string, users map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	// htdigest lines: user:realm:hex H(user:realm:password), MD5 and
	// SHA-256 forms (lighttpd tells them apart by length).
	var ht bytes.Buffer
	for u, pw := range users {
		for _, alg := range families {
			d := newDigester(lookupAlgorithm(alg))
			fmt.Fprintf(&ht, "%s:%s:%s", u, realm, d.baseHA1(u, realm, pw))
			if strings.Contains(extra, "userhash") {
				// lighttpd finds userhashes in an optional 4th field.
				fmt.Fprintf(&ht, ":%s", d.userhash(u, realm))
			}
			ht.WriteString("\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "htdigest"), ht.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`auth.backend = "htdigest"
auth.backend.htdigest.userfile = %q
auth.require = ("/" => ("method" => "digest", "realm" => %q, "require" => "valid-user", "algorithm" => %q%s))
`, filepath.Join(dir, "htdigest"), realm, algorithms, extra)
	port := peers.Lighttpd(t, dir, nil, []string{"mod_auth", "mod_authn_file"}, "secret page\n", conf)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// challengeFor returns the Digest challenge of resp that names alg.
func challengeFor(t *testing.T, resp *http.Response, alg string) []byte {
	t.Helper()
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		rest, ok := strings.CutPrefix(v, "Digest ")
		if !ok {
			continue
		}
		ch, err := parseHTTPChallenge(rest)
		if err != nil {
			t.Fatalf("lighttpd challenge %q: %v", v, err)
		}
		if strings.EqualFold(ch.algorithm, alg) || (ch.algorithm == "" && alg == MD5) {
			return []byte(rest)
		}
	}
	t.Fatalf("no %s challenge in %q", alg, resp.Header.Values("WWW-Authenticate"))
	return nil
}

func get(t *testing.T, url, authorization string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", "Digest "+authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestOurClientAgainstLighttpd: our initiator against lighttpd's
// mod_auth digest, an independent server.
func TestOurClientAgainstLighttpd(t *testing.T) {
	const realm, pass = "lighttpd@example.org", "Circle of Life"
	base := lighttpdPeer(t, realm, "SHA-256|MD5", "", []string{MD5, SHA256}, map[string]string{"Mufasa": pass})
	for _, alg := range []string{MD5, SHA256} {
		t.Run(alg, func(t *testing.T) {
			const uri = "/index.html"
			resp := get(t, base+uri, "")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d without credentials", resp.StatusCode)
			}
			ch := challengeFor(t, resp, alg)
			c := newClient(t, New(nil), "Mufasa", pass, uri, packages.ISC_REQ_USE_HTTP_STYLE)
			auth := step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf("GET"), paramBuf("")}, status.SEC_E_OK)
			resp = get(t, base+uri, string(auth))
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != "secret page\n" {
				t.Fatalf("status %d, body %q, Authorization %q", resp.StatusCode, body, auth)
			}
			if info := resp.Header.Get("Authentication-Info"); info != "" {
				step(t, c, []secbuffer.Buffer{tokenBuf([]byte(info))}, status.SEC_E_OK)
			}
			// The next request on the same context: MakeSignature, nc=2.
			sig := []secbuffer.Buffer{tokenBuf(nil), paramBuf("GET"), paramBuf(uri), paramBuf(""),
				{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, maxToken)}}
			if err := c.Session().MakeSignature(0, sig, 0); err != nil {
				t.Fatal(err)
			}
			resp = get(t, base+uri, string(sig[4].Data))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("second request: status %d, Authorization %q", resp.StatusCode, sig[4].Data)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		resp := get(t, base+"/", "")
		ch := challengeFor(t, resp, MD5)
		c := newClient(t, New(nil), "Mufasa", "wrong", "/", packages.ISC_REQ_USE_HTTP_STYLE)
		auth := step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf("GET"), paramBuf("")}, status.SEC_E_OK)
		resp = get(t, base+"/", string(auth))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d with a wrong password", resp.StatusCode)
		}
		step(t, c, []secbuffer.Buffer{tokenBuf(challengeFor(t, resp, MD5)), paramBuf("GET"), paramBuf("")}, status.SEC_E_LOGON_DENIED)
	})
}

// TestOurClientAgainstLighttpdRFC7616 covers what curl 7.88 lacks:
// SHA-512-256 (FIPS 180-4 SHA-512/256), and userhash.
func TestOurClientAgainstLighttpdRFC7616(t *testing.T) {
	const realm, pass, uri = "api@example.org", "Secret, or not?", "/index.html"
	for _, tt := range []struct {
		name, alg, extra string
		family           string
	}{
		{"SHA-512-256", SHA512_256, "", SHA512_256},
		{"SHA-256/userhash", SHA256, `, "userhash" => "enable"`, SHA256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := lighttpdPeer(t, realm, tt.alg, tt.extra, []string{tt.family}, map[string]string{"Mufasa": pass})
			resp := get(t, base+uri, "")
			ch := challengeFor(t, resp, tt.alg)
			c := newClient(t, New(nil), "Mufasa", pass, uri, packages.ISC_REQ_USE_HTTP_STYLE)
			auth := step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf("GET"), paramBuf("")}, status.SEC_E_OK)
			resp = get(t, base+uri, string(auth))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, challenge %q, Authorization %q", resp.StatusCode, ch, auth)
			}
		})
	}
}
