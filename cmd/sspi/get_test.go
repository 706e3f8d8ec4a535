package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/sspihttp"
)

func TestParseUser(t *testing.T) {
	tests := []struct {
		in                     string
		user, domain, password string
		none                   bool
	}{
		{"", "", "", "", true},
		{":", "", "", "", true},
		{`DOM\alice:pw`, "alice", "DOM", "pw", false},
		{"alice@REALM.TEST:p:w", "alice", "REALM.TEST", "p:w", false},
		{"bob", "bob", "", "typed", false},
	}
	for _, tt := range tests {
		id, err := parseUser(tt.in, func(string) (string, error) { return "typed", nil })
		if err != nil {
			t.Fatal(err)
		}
		if tt.none {
			if id != nil {
				t.Errorf("%q: got %+v, want default credentials", tt.in, id)
			}
			continue
		}
		if id == nil || id.User != tt.user || id.Domain != tt.domain || id.Password != tt.password {
			t.Errorf("%q: got %+v", tt.in, id)
		}
	}
}

// startAuthServer runs the middleware (NTLM, Digest) in front of a
// handler that names the client.
func startAuthServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := &sspihttp.Server{Schemes: []string{sspihttp.SchemeNTLM, sspihttp.SchemeDigest},
		NTLM: ntlm.Users{"alice": "alice-pw"}, Digest: digest.Users{{Name: "alice", Password: "alice-pw"}}}
	hs := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := sspihttp.IdentityFromContext(r.Context())
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		w.Write([]byte(r.Method + " " + id.Name + " " + id.Scheme + " " + b.String()))
	})))
	hs.Config.ConnContext = sspihttp.ConnContext
	hs.Start()
	t.Cleanup(hs.Close)
	return hs
}

func TestGet(t *testing.T) {
	hs := startAuthServer(t)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		stdout   string
		inErr    []string
		notInAll string
	}{
		{"ntlm", []string{"--ntlm", "-u", `DOM\alice:alice-pw`}, "", exitOK, `GET DOM\alice NTLM `, nil, ""},
		{"digest-post", []string{"--digest", "-u", "alice:alice-pw", "-d", "a=b"}, "", exitOK, "POST alice Digest a=b", nil, ""},
		{"anyauth", []string{"-u", "alice:alice-pw"}, "", exitOK, "GET alice NTLM ", nil, ""},
		{"prompt", []string{"--digest", "-u", "alice"}, "alice-pw\n", exitOK, "GET alice Digest ", []string{"Enter host password for user 'alice'"}, ""},
		{"verbose", []string{"-v", "--ntlm", "-u", "alice:alice-pw"}, "", exitOK, "GET alice NTLM ",
			[]string{"> Authorization: NTLM ", "*   NTLM NEGOTIATE_MESSAGE", "*   NTLM CHALLENGE_MESSAGE", "*   NTLM AUTHENTICATE_MESSAGE", "< HTTP/1.1 200 OK"}, "alice-pw"},
		{"preemptive", []string{"-v", "--preemptive", "--ntlm", "-u", "alice:alice-pw"}, "", exitOK, "GET alice NTLM ",
			[]string{"*   NTLM NEGOTIATE_MESSAGE", "< HTTP/1.1 401", "*   NTLM AUTHENTICATE_MESSAGE", "< HTTP/1.1 200 OK"}, ""},
		{"wrong-password", []string{"--ntlm", "-u", "alice:nope"}, "", exitFailure, "Unauthorized", []string{"sspi get: 401 Unauthorized"}, ""},
		{"include", []string{"-i", "--digest", "-u", "alice:alice-pw"}, "", exitOK, "HTTP/1.1 200 OK\r\n", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := getStdin
			defer func() { getStdin = old }()
			getStdin = strings.NewReader(tt.stdin)
			code, out, errOut := runCmd(t, append(append([]string{"get"}, tt.args...), hs.URL+"/p")...)
			if code != tt.code || !strings.Contains(out, tt.stdout) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q", code, out, errOut, tt.code, tt.stdout)
			}
			for _, s := range tt.inErr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if tt.name == "preemptive" && strings.Count(errOut, "< HTTP/1.1 401") != 1 {
				t.Errorf("pre-emptive NTLM took %d 401s, want 1 (the CHALLENGE):\n%s", strings.Count(errOut, "< HTTP/1.1 401"), errOut)
			}
			if tt.notInAll != "" && strings.Contains(out+errOut, tt.notInAll) {
				t.Errorf("the password appears in the output")
			}
		})
	}
}

func TestGetUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get"}, "exactly one URL"},
		{[]string{"get", "a", "b"}, "exactly one URL"},
		{[]string{"get", "--bogus", "http://x/"}, "Usage: sspi get"},
		{[]string{"get", "-H", "nocolon", "http://x/"}, "has no colon"},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q", tt.args, code, errOut)
		}
	}
}

func TestServe(t *testing.T) {
	url, stop := startServe(t, "--ntlm", "--digest", "-u", "alice:alice-pw", "--addr", "127.0.0.1:0", "--realm", "test")
	for _, scheme := range []string{"--ntlm", "--digest"} {
		code, body, errOut := runCmd(t, "get", scheme, "-u", "alice:alice-pw", url)
		if code != exitOK || !strings.HasPrefix(body, "hello alice (") {
			t.Errorf("get %s: exit %d, %q %q", scheme, code, body, errOut)
		}
	}
	code, _, _ := runCmd(t, "get", "--digest", "-u", "alice:bad", url)
	if code != exitFailure {
		t.Errorf("wrong password: exit %d", code)
	}
	out, logs := stop()
	if !strings.Contains(out, "listening on http://127.0.0.1:") || !strings.Contains(logs, "alice via Digest/WDigest") {
		t.Errorf("stdout %q, log %q", out, logs)
	}
}

func TestServeUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "nothing to authenticate with"},
		{[]string{"serve", "--ntlm"}, "--ntlm needs at least one user"},
		{[]string{"serve", "--kerberos", "-u", "a:b"}, "--kerberos needs --keytab"},
		{[]string{"serve", "-u", "nopass"}, "no password for nopass on standard input"},
		{[]string{"serve", "-u", ":pw"}, "no user name"},
		{[]string{"serve", "--users", "/nonexistent/users"}, "no such file"},
		{[]string{"serve", "extra"}, "unexpected argument"},
	}
	serveStdin = strings.NewReader("")
	defer func() { serveStdin = os.Stdin }()
	os.Unsetenv(serveEnvPassword)
	for _, tt := range tests {
		t.Setenv("KRB5_KTNAME", "")
		code, _, errOut := runCmd(t, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q", tt.args, code, errOut)
		}
	}
}

// syncWriter is a bytes.Buffer safe for the server's goroutines.
// startServe runs sspi serve with args until stop, which waits for it to
// end and returns what it wrote to standard output and to its log.
func startServe(t *testing.T, args ...string) (url string, stop func() (out, logs string)) {
	t.Helper()
	var errBuf bytes.Buffer
	o, err := parseServe(args, &errBuf)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	quit := make(chan struct{})
	done := make(chan error, 1)
	var outW, logW syncWriter
	go func() { done <- o.serve(&outW, &logW, func(u string) { ready <- u }, quit) }()
	return <-ready, func() (string, string) {
		t.Helper()
		close(quit)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return outW.String(), logW.String()
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startConnectProxy runs a CONNECT proxy that requires NTLM (user bob).
func startConnectProxy(t *testing.T) string {
	t.Helper()
	s := &sspihttp.Server{Proxy: true, Schemes: []string{sspihttp.SchemeNTLM}, NTLM: ntlm.Users{"bob": "bob-pw"}}
	hs := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		testkit.Tunnel(w, r)
	})))
	hs.Config.ConnContext = sspihttp.ConnContext
	hs.Start()
	t.Cleanup(hs.Close)
	return strings.TrimPrefix(hs.URL, "http://")
}

func TestGetThroughProxy(t *testing.T) {
	hs := startAuthServer(t)
	proxy := startConnectProxy(t)
	code, out, errOut := runCmd(t, "get", "-v", "--digest", "-u", "alice:alice-pw", "-x", proxy, "-U", `DOM\bob:bob-pw`, hs.URL+"/p")
	if code != exitOK || out != "GET alice Digest " {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	wantLines(t, errOut, "> CONNECT 127.0.0.1:", "< HTTP/1.1 407 Proxy Authentication Required", "> Proxy-Authorization: NTLM ",
		"NTLM AUTHENTICATE_MESSAGE", `UserName: "bob"`, "< HTTP/1.1 200 Connection established")
	code, _, errOut = runCmd(t, "get", "--digest", "-u", "alice:alice-pw", "-x", proxy, "-U", "bob:wrong", hs.URL+"/p")
	if code != exitFailure || !strings.Contains(errOut, "proxy refused CONNECT") {
		t.Fatalf("wrong proxy password: exit %d, stderr %q", code, errOut)
	}
}

// serve --bindings (https, channel bindings required): get --bindings
// passes, get without them is refused.
func TestServeChannelBindings(t *testing.T) {
	url, stop := startServe(t, "--ntlm", "-u", "alice:alice-pw", "--addr", "127.0.0.1:0", "--bindings")
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %q", url)
	}
	code, body, errOut := runCmd(t, "get", "-k", "--bindings", "--ntlm", "-u", "alice:alice-pw", url)
	if code != exitOK || !strings.HasPrefix(body, "hello alice (NTLM/NTLM)") {
		t.Errorf("with bindings: exit %d, %q %q", code, body, errOut)
	}
	code, _, errOut = runCmd(t, "get", "-k", "--ntlm", "-u", "alice:alice-pw", url)
	if code != exitFailure || !strings.Contains(errOut, "401") {
		t.Errorf("without bindings: exit %d, %q", code, errOut)
	}
	if out, _ := stop(); !strings.Contains(out, "certificate SHA-256 ") {
		t.Errorf("stdout %q", out)
	}
}
