package negotiate

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
)

// negotiateServer is a small HTTP server authenticating with our
// Negotiate acceptor (RFC 4559): one context per connection.
type negotiateServer struct {
	cred packages.Credentials

	mu    sync.Mutex
	conns map[net.Conn]packages.Context
	users []string  // who was authenticated, in order
	kinds []rawMech // what each first token was
}

type connKey struct{}

func (s *negotiateServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Negotiate ")
	if !ok {
		w.Header().Set("WWW-Authenticate", "Negotiate")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	in, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth))
	if err != nil {
		http.Error(w, "bad token", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	c := s.conns[conn]
	if c == nil || c.Session() != nil {
		s.kinds = append(s.kinds, classifyToken(in))
		c, err = s.cred.NewServerContext(0)
		if err != nil {
			s.mu.Unlock()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.conns[conn] = c
	}
	s.mu.Unlock()
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
	_, err = c.Step(r.Context(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: in}}, out)
	if len(out[0].Data) > 0 {
		w.Header().Set("WWW-Authenticate", "Negotiate "+base64.StdEncoding.EncodeToString(out[0].Data))
	}
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if c.Session() == nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	v, err := c.QueryAttribute(packages.SECPKG_ATTR_NAMES)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	name := v.(*packages.Names).UserName
	s.mu.Lock()
	s.users = append(s.users, name)
	s.mu.Unlock()
	w.Write([]byte("hello " + name + "\n"))
}

func startNegotiateServer(t *testing.T, cred packages.Credentials) (*negotiateServer, *httptest.Server) {
	t.Helper()
	ns := &negotiateServer{cred: cred, conns: map[net.Conn]packages.Context{}}
	hs := httptest.NewUnstartedServer(ns)
	hs.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	hs.Start()
	t.Cleanup(hs.Close)
	return ns, hs
}

// curl --negotiate (MIT GSS-API SPNEGO) with no Kerberos ticket falls to
// gss-ntlmssp, whose credentials come from NTLM_USER_FILE.
func TestInteropCurlNegotiateNTLM(t *testing.T) {
	needGSSPeers(t)
	peers.Tool(t, "curl", "curl")
	users := userFile(t)
	cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: ntlm.UserFile(users)})
	if err != nil {
		t.Fatal(err)
	}
	ns, hs := startNegotiateServer(t, cred)

	dir := t.TempDir()
	krb5conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(krb5conf, []byte("[libdefaults]\n dns_lookup_kdc = false\n dns_lookup_realm = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", "-sS", "--negotiate", "-u", ":", "--http1.1", "-o", "-", "-w", "\n%{http_code}", hs.URL+"/")
	cmd.Env = append(os.Environ(), "NTLM_USER_FILE="+users, "KRB5_CONFIG="+krb5conf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "none"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.HasSuffix(string(out), "\n200") || !strings.Contains(string(out), `hello DOM\alice`) {
		t.Fatalf("curl output:\n%s", out)
	}
	if len(ns.users) != 1 || len(ns.kinds) != 1 || ns.kinds[0] != rawSPNEGO {
		t.Fatalf("server authenticated %v, first tokens %v (want one SPNEGO)", ns.users, ns.kinds)
	}
}

// curl --negotiate with a Kerberos ticket from kinit.
func TestInteropCurlNegotiateKerberos(t *testing.T) {
	k := peers.TestKDC(t)
	peers.Tool(t, "curl", "curl")
	if k.MIT() {
		peers.Tool(t, "kinit", "krb5-user")
	}
	cred, err := kdcPackage(t, k, "").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND,
		&AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: krbUsers})
	if err != nil {
		t.Fatal(err)
	}
	ns, hs := startNegotiateServer(t, cred)
	dir := t.TempDir()
	env := append(k.Env(filepath.Join(dir, "ccache")), "KRB5RCACHEDIR="+dir, "NTLM_USER_FILE=")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// MIT kinit on an MIT realm, this module's Kerberos package on the
	// Go KDC.
	if err := k.Kinit("alice", "alice-pw", filepath.Join(dir, "ccache")); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1) + "/"
	cmd := exec.CommandContext(ctx, "curl", "-4", "-sS", "--negotiate", "-u", ":", "--http1.1", "-o", "-", "-w", "\n%{http_code}", url)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.HasSuffix(string(out), "\n200") || !strings.Contains(string(out), "hello alice@GOSSPI.TEST") {
		t.Fatalf("curl output:\n%s", out)
	}
	if len(ns.kinds) != 1 || ns.kinds[0] != rawSPNEGO {
		t.Fatalf("first tokens %v, want one SPNEGO", ns.kinds)
	}
}
