package sspihttp

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
)

// curl runs curl with args and env and returns its output: the body, then
// a line with the status code.
func curl(t *testing.T, env []string, args ...string) string {
	t.Helper()
	path := peers.Tool(t, "curl", "curl")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-sS", "--http1.1", "-o", "-", "-w", "\n%{http_code}"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// noKerberosEnv keeps curl's GSS-API away from any Kerberos or NTLM
// configuration of the machine.
func noKerberosEnv(t *testing.T) []string {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n dns_lookup_kdc = false\n dns_lookup_realm = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "KRB5_CONFIG="+conf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "none"), "NTLM_USER_FILE=")
}

func TestInteropCurl(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, NTLM: testNTLMUsers, Digest: testDigestUsers, Schemes: []string{SchemeNTLM, SchemeDigest}})
	env := noKerberosEnv(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ntlm", []string{"--ntlm", "-u", `GOSSPI\alice:alice-pw`}, `hello GOSSPI\alice via NTLM/NTLM body=""` + "\n200"},
		{"ntlm-post", []string{"--ntlm", "-u", "alice:alice-pw", "-d", "form=1"}, `via NTLM/NTLM body="form=1"` + "\n200"},
		{"ntlm-wrong", []string{"--ntlm", "-u", "alice:nope"}, "\n401"},
		{"digest", []string{"--digest", "-u", "alice:alice-pw"}, `hello alice via Digest/WDigest body=""` + "\n200"},
		{"digest-post", []string{"--digest", "-u", "alice:alice-pw", "-d", "x=y"}, `body="x=y"` + "\n200"},
		{"digest-wrong", []string{"--digest", "-u", "alice:nope"}, "\n401"},
		{"anyauth", []string{"--anyauth", "-u", "alice:alice-pw"}, "hello alice via Digest/WDigest" + ` body=""` + "\n200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := curl(t, env, append(tt.args, ts.URL+"/dir/file?a=b")...)
			if !strings.HasSuffix(out, tt.want) {
				t.Fatalf("curl output %q, want suffix %q", out, tt.want)
			}
		})
	}
}

// curl --negotiate with a ticket from kinit: Kerberos through SPNEGO, with
// the server's mutual-authentication token, which curl checks.
func TestInteropCurlNegotiateKerberos(t *testing.T) {
	k := peers.TestKDC(t)
	if k.MIT() {
		peers.Tool(t, "kinit", "krb5-user")
	}
	reg := testRegistry(t, k)
	ts := startServer(t, &Server{Registry: reg,
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: testNTLMUsers}})
	dir := t.TempDir()
	env := append(k.Env(filepath.Join(dir, "ccache")), "NTLM_USER_FILE=")
	// MIT kinit on an MIT realm, this module's Kerberos package on the
	// Go KDC.
	if err := k.Kinit("alice", "alice-pw", filepath.Join(dir, "ccache")); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1) + "/"
	out := curl(t, env, "-4", "--negotiate", "-u", ":", url)
	want := `hello alice@` + k.Realm + ` via Negotiate/Kerberos body=""` + "\n200"
	if out != want {
		t.Fatalf("curl output %q, want %q", out, want)
	}
	// The ticket curl got from the KDC carried a PAC, which reaches the
	// handler's identity.
	if id := ts.last.Load(); id == nil || id.PAC == nil || id.PAC.ClientName != "alice" {
		t.Errorf("identity %+v: no PAC for alice from curl's ticket", id)
	}
}

// Our Transport against our Server with Kerberos: through Negotiate and
// as the bare Kerberos scheme, mutual authentication required.
func TestTransportKerberos(t *testing.T) {
	k := peers.TestKDC(t)
	reg := testRegistry(t, k)
	ts := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeNegotiate, SchemeKerberos},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: testNTLMUsers},
		Kerberos:  &kerberos.Keytab{Path: k.ServiceKeytab}})
	url := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1) + "/krb"
	id := &kerberosIdentity{User: "alice", Realm: k.Realm, Password: "alice-pw"}
	for _, tc := range []struct {
		scheme     string
		preemptive bool
	}{{SchemeNegotiate, false}, {SchemeKerberos, false}, {SchemeNegotiate, true}, {SchemeKerberos, true}} {
		scheme := tc.scheme
		name := scheme
		if tc.preemptive {
			name += "/Preemptive"
		}
		t.Run(name, func(t *testing.T) {
			var legs int
			tr := &Transport{Registry: reg, Schemes: []string{scheme}, Credentials: id.authIdentity(), MutualAuth: true,
				Trace: func(*http.Request, *http.Response) { legs++ }}
			wantLegs := 2 // challenge, AP-REQ
			if tc.preemptive {
				tr.Preemptive, wantLegs = scheme, 1 // the AP-REQ with the request
			}
			defer tr.CloseIdleConnections()
			code, body, h := get(t, &http.Client{Transport: tr}, "GET", url, "")
			want := "hello alice@" + k.Realm + " via " + scheme + "/Kerberos"
			if code != 200 || !strings.HasPrefix(body, want) {
				t.Fatalf("got %d %q, want %q", code, body, want)
			}
			if legs != wantLegs {
				t.Errorf("%d round trips, want %d", legs, wantLegs)
			}
			if tok, ok := finalToken(h.Values("Www-Authenticate"), scheme); !ok || len(tok) == 0 {
				t.Errorf("no mutual-authentication token in %q", h.Values("Www-Authenticate"))
			}
		})
	}
}

// curl --negotiate without a Kerberos ticket: MIT's SPNEGO falls back to
// gss-ntlmssp, whose credentials come from NTLM_USER_FILE.
func TestInteropCurlNegotiateNTLM(t *testing.T) {
	peers.Require(t, "gss-ntlmssp (apt-get install -y gss-ntlmssp)", peers.HaveGSSNTLMSSP())
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}})
	users := filepath.Join(t.TempDir(), "ntlm_users")
	if err := os.WriteFile(users, []byte("GOSSPI:alice:alice-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(noKerberosEnv(t), "NTLM_USER_FILE="+users)
	out := curl(t, env, "--negotiate", "-u", ":", ts.URL+"/")
	want := `hello GOSSPI\alice via Negotiate/NTLM body=""` + "\n200"
	if out != want {
		t.Fatalf("curl output %q, want %q", out, want)
	}
}
