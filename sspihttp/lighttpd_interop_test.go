package sspihttp

import (
	"crypto/md5"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

// startLighttpd runs lighttpd (Debian's lighttpd, with
// lighttpd-mod-authn-gssapi for Negotiate) on 127.0.0.1 at a free port,
// with modules and auth settings from conf, until the test ends. It
// returns the port.
func startLighttpd(t *testing.T, env []string, module, conf string) int {
	t.Helper()
	_, err := os.Stat("/usr/lib/lighttpd/" + module + ".so")
	peers.Require(t, "lighttpd "+module+" (apt-get install -y lighttpd lighttpd-mod-authn-gssapi)", err == nil)
	return peers.Lighttpd(t, t.TempDir(), env, []string{"mod_auth", module}, "lighttpd page\n", conf)
}

// Our Transport against lighttpd's mod_auth Digest (MD5, qop=auth), with
// the nonce reused on later requests.
func TestInteropLighttpdDigest(t *testing.T) {
	const realm = "lighttpd realm"
	dir := t.TempDir()
	ha1 := md5.Sum([]byte("alice:" + realm + ":alice-pw"))
	users := filepath.Join(dir, "htdigest")
	if err := os.WriteFile(users, []byte(fmt.Sprintf("alice:%s:%x\n", realm, ha1)), 0o600); err != nil {
		t.Fatal(err)
	}
	port := startLighttpd(t, os.Environ(), "mod_authn_file", fmt.Sprintf(`auth.backend = "htdigest"
auth.backend.htdigest.userfile = %q
auth.require = ("/" => ("method" => "digest", "realm" => %q, "require" => "valid-user"))
`, users, realm))
	reg := testRegistry(t, nil)
	var legs []string
	tr := &Transport{Registry: reg, Schemes: []string{SchemeDigest}, Credentials: testIdentity,
		Trace: func(req *http.Request, resp *http.Response) {
			legs = append(legs, fmt.Sprintf("%t %d", req.Header.Get("Authorization") != "", resp.StatusCode))
		}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for i := 0; i < 3; i++ {
		code, body, _ := get(t, c, "GET", url, "")
		if code != 200 || body != "lighttpd page\n" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if want := "[false 401 true 200 true 200 true 200]"; fmt.Sprint(legs) != want {
		t.Errorf("legs %v, want %s (the nonce reused with nc 2 and 3)", legs, want)
	}
	bad := &Transport{Registry: reg, Schemes: []string{SchemeDigest}, Credentials: &kerberosIdentity{User: "alice", Password: "nope"}}
	defer bad.CloseIdleConnections()
	if code, _, _ := get(t, &http.Client{Transport: bad.withIdentity()}, "GET", url, ""); code != 401 {
		t.Errorf("wrong password: status %d, want 401", code)
	}
}

// Our Transport against lighttpd's mod_authn_gssapi (MIT GSS-API,
// Negotiate with Kerberos) on the test realm.
func TestInteropLighttpdNegotiate(t *testing.T) {
	k := peers.TestKDC(t)
	port := startLighttpd(t, k.Env(""), "mod_authn_gssapi", fmt.Sprintf(`auth.backend = "gssapi"
auth.backend.gssapi.keytab = %q
auth.backend.gssapi.principal = "HTTP/localhost"
auth.backend.gssapi.store-creds = "disable"
auth.require = ("/" => ("method" => "gssapi", "realm" => %q, "require" => "valid-user"))
`, k.ServiceKeytab, k.Realm))
	reg := testRegistry(t, k)
	url := fmt.Sprintf("http://localhost:%d/", port)
	for i := 0; i < 2; i++ {
		tr := &Transport{Registry: reg, Schemes: []string{SchemeNegotiate},
			Credentials: (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()}
		code, body, _ := get(t, &http.Client{Transport: tr}, "GET", url, "")
		tr.CloseIdleConnections()
		if code != 200 || body != "lighttpd page\n" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	// Pre-emptive: the AP-REQ goes with the request, one round trip.
	var legs int
	pre := &Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, Preemptive: SchemeNegotiate,
		Credentials: (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity(),
		Trace:       func(*http.Request, *http.Response) { legs++ }}
	code, body, _ := get(t, &http.Client{Transport: pre}, "GET", url, "")
	pre.CloseIdleConnections()
	if code != 200 || body != "lighttpd page\n" || legs != 1 {
		t.Fatalf("pre-emptive: %d %q in %d round trips, want 200 in 1", code, body, legs)
	}
	// lighttpd 1.4.69 sends no final Negotiate token on the 200, so a
	// client that requires mutual authentication must refuse the answer.
	tr := &Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, MutualAuth: true,
		Credentials: (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()}
	resp, err := (&http.Client{Transport: tr}).Get(url)
	tr.CloseIdleConnections()
	if err == nil {
		resp.Body.Close()
		if _, ok := finalToken(resp.Header.Values("Www-Authenticate"), SchemeNegotiate); !ok {
			t.Fatal("MutualAuth accepted a response without the server's token")
		}
	} else if !errors.Is(err, ErrMutualAuthFailed) {
		t.Fatalf("MutualAuth: %v", err)
	}
	// A wrong password cannot even get a ticket: a clear error.
	tr = &Transport{Registry: reg, Schemes: []string{SchemeNegotiate},
		Credentials: (&kerberosIdentity{"alice", k.Realm, "nope"}).authIdentity()}
	defer tr.CloseIdleConnections()
	resp, err = (&http.Client{Transport: tr}).Get(fmt.Sprintf("http://localhost:%d/", port))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("wrong password: status %d", resp.StatusCode)
		}
	} else if !strings.Contains(err.Error(), "Negotiate") {
		t.Fatalf("wrong password: %v", err)
	}
}
