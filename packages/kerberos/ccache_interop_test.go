package kerberos

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// ccacheRealm writes a krb5.conf for the test realm with extra
// [libdefaults] lines, points KRB5_CONFIG at it, and returns the
// environment for MIT tools (KRB5_CONFIG, no KRB5CCNAME).
func ccacheRealm(t *testing.T, k *peers.KDC, libdefaults ...string) []string {
	t.Helper()
	b, err := os.ReadFile(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "default_ccache_name") {
			continue // the test chooses
		}
		keep = append(keep, line)
	}
	conf := strings.Replace(strings.Join(keep, "\n"), "[libdefaults]", "[libdefaults]\n\t"+strings.Join(libdefaults, "\n\t"), 1)
	path := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KRB5_CONFIG", path)
	t.Setenv("KRB5CCNAME", "")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KRB5_CONFIG=") && !strings.HasPrefix(kv, "KRB5CCNAME=") {
			env = append(env, kv)
		}
	}
	return append(env, "KRB5_CONFIG="+path, "KRB5RCACHEDIR="+k.Dir)
}

// mit runs an MIT tool with env (plus KRB5CCNAME=name when name is not
// empty) and returns its output; it fails t on error.
func mit(t *testing.T, env []string, name string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	if name != "" {
		cmd.Env = append(append([]string(nil), env...), "KRB5CCNAME="+name)
	}
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func randomName(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "gosspi" + hex.EncodeToString(b[:])
}

// TestInteropCCacheTypes: MIT kinit writes a cache of each type; the
// package finds it through KRB5CCNAME (or default_ccache_name), gets a
// service ticket with its TGT and authenticates; MIT klist then lists
// the service ticket the package stored back in the same cache.
func TestInteropCCacheTypes(t *testing.T) {
	k := peers.TestKDC(t)
	peers.Tool(t, "kinit", "krb5-user")
	type cacheCase struct {
		name    string
		ccname  func(t *testing.T, dir string) string // the name kinit and the package use
		viaConf bool                                  // default_ccache_name instead of KRB5CCNAME
		linux   bool
		kcm     func(testing.TB) string // starts a KCM daemon, returns its socket
	}
	cases := []cacheCase{
		{name: "FILE", ccname: func(t *testing.T, dir string) string { return "FILE:" + filepath.Join(dir, "cc") }},
		{name: "bare-path", ccname: func(t *testing.T, dir string) string { return filepath.Join(dir, "cc") }},
		{name: "DIR", ccname: func(t *testing.T, dir string) string { return "DIR:" + filepath.Join(dir, "coll") }},
		{name: "DIR-subsidiary", ccname: func(t *testing.T, dir string) string {
			os.Mkdir(filepath.Join(dir, "coll"), 0o700)
			return "DIR::" + filepath.Join(dir, "coll", "tktalice")
		}},
		{name: "default_ccache_name", viaConf: true, ccname: func(t *testing.T, dir string) string {
			return "FILE:" + filepath.Join(dir, "krb5cc_%{uid}")
		}},
		{name: "KEYRING-session", linux: true, ccname: func(t *testing.T, dir string) string {
			n := randomName(t)
			t.Cleanup(func() { unlinkKeyringCollection("_krb_" + n) })
			return "KEYRING:session:" + n
		}},
		{name: "KEYRING-user", linux: true, ccname: func(t *testing.T, dir string) string {
			n := randomName(t)
			t.Cleanup(func() { unlinkKeyringCollection("_krb_" + n) })
			return "KEYRING:user:" + n
		}},
		{name: "KEYRING-legacy", linux: true, ccname: func(t *testing.T, dir string) string {
			n := randomName(t)
			t.Cleanup(func() { unlinkKeyringCollection("_krb_" + n); unlinkKeyringCollection(n) })
			return "KEYRING:" + n
		}},
		{name: "KEYRING-persistent", linux: true, ccname: func(t *testing.T, dir string) string {
			return "KEYRING:persistent:" + strconv.Itoa(os.Geteuid()) + ":" + randomName(t)
		}},
		{name: "KCM-heimdal", kcm: peers.KCM, ccname: func(t *testing.T, dir string) string { return "KCM:" }},
		{name: "KCM-sssd", kcm: peers.SSSDKCM, ccname: func(t *testing.T, dir string) string { return "KCM:" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.linux && runtime.GOOS != "linux" {
				t.Skip("kernel keyrings exist on Linux only")
			}
			dir := t.TempDir()
			var extra []string
			if tc.kcm != nil {
				extra = append(extra, "kcm_socket = "+tc.kcm(t))
			}
			name := tc.ccname(t, dir)
			kinitName := name
			if tc.viaConf {
				extra = append(extra, "default_ccache_name = "+name)
				kinitName = ""
			}
			env := ccacheRealm(t, k, extra...)
			mit(t, env, kinitName, "alice-pw\n", "kinit", "alice")
			t.Cleanup(func() {
				cmd := exec.Command("kdestroy")
				cmd.Env = env
				if kinitName != "" {
					cmd.Env = append(cmd.Env, "KRB5CCNAME="+kinitName)
				}
				cmd.Run()
			})
			if out := mit(t, env, kinitName, "", "klist"); strings.Contains(out, "HTTP/localhost@") {
				t.Fatalf("kinit's cache already holds the service ticket:\n%s", out)
			}
			if !tc.viaConf {
				t.Setenv("KRB5CCNAME", name)
			}

			p := New(nil) // KRB5_CONFIG, KRB5CCNAME as a process sees them
			srv, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
			if err != nil {
				t.Fatal(err)
			}
			cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cred.Free()
			if cred.UserName() != "alice@GOSSPI.TEST" {
				t.Errorf("UserName = %q", cred.UserName())
			}
			c, _ := cred.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_SEQUENCE_DETECT)
			sc, _ := srv.NewServerContext(0)
			if _, err := testkit.Handshake(bg(), c, sc, nil, nil); err != nil {
				t.Fatal(err)
			}
			exchangeMessages(t, c, sc)

			out := mit(t, env, kinitName, "", "klist")
			if !strings.Contains(out, "HTTP/localhost@GOSSPI.TEST") || !strings.Contains(out, "krbtgt/GOSSPI.TEST@GOSSPI.TEST") {
				t.Fatalf("klist does not list the TGT and the stored service ticket:\n%s", out)
			}
			// MIT's own client uses the stored ticket: kvno finds it
			// in the cache (no TGS request is needed, but either way the
			// ticket must be valid for the service key).
			if out := mit(t, env, kinitName, "", "kvno", "HTTP/localhost"); !strings.Contains(out, "kvno =") {
				t.Fatalf("kvno: %s", out)
			}

			// A second set of credentials finds the service ticket in
			// the cache: the handshake needs no KDC.
			p2 := New(&Config{Transport: deadTransport{}})
			cred2, err := p2.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, &CCache{Path: name})
			if tc.viaConf {
				cred2, err = p2.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, &CCache{})
			}
			if err != nil {
				t.Fatal(err)
			}
			defer cred2.Free()
			c2, _ := cred2.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
			sc2, _ := srv.NewServerContext(0)
			if _, err := testkit.Handshake(bg(), c2, sc2, nil, nil); err != nil {
				t.Fatalf("with the stored ticket and no KDC: %v", err)
			}
		})
	}
}

// TestInteropCCacheNoStore: with NoCCacheStore the service ticket stays
// out of the cache.
func TestInteropCCacheNoStore(t *testing.T) {
	k := peers.TestKDC(t)
	peers.Tool(t, "kinit", "krb5-user")
	env := ccacheRealm(t, k)
	name := "FILE:" + filepath.Join(t.TempDir(), "cc")
	mit(t, env, name, "alice-pw\n", "kinit", "alice")
	before, err := os.ReadFile(strings.TrimPrefix(name, "FILE:"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(&Config{NoCCacheStore: true})
	srv, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, &CCache{Path: name})
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	c, _ := cred.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
	sc, _ := srv.NewServerContext(0)
	if _, err := testkit.Handshake(bg(), c, sc, nil, nil); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(strings.TrimPrefix(name, "FILE:"))
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("the cache changed with NoCCacheStore")
	}
	if out := mit(t, env, name, "", "klist"); strings.Contains(out, "HTTP/localhost") {
		t.Fatalf("klist lists a service ticket:\n%s", out)
	}
}

// TestCCacheUnreachable: names of caches pure Go cannot reach, and a KCM
// socket with no daemon, give SEC_E_NO_CREDENTIALS with a message that
// says what to do.
func TestCCacheUnreachable(t *testing.T) {
	p := New(&Config{})
	for _, tc := range []struct{ name, want string }{
		{"API:", "KRB5CCNAME=FILE:"},
		{"API:krb5cc", "KRB5CCNAME=FILE:"},
		{"MSLSA:", "KRB5CCNAME=FILE:"},
		{"MEMORY:x", "unsupported"},
		{"NOSUCH:x", "unsupported"},
		{"DIR::/tmp/not-a-tkt-name", "tkt"},
	} {
		_, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, &CCache{Path: tc.name})
		if !errors.Is(err, status.SEC_E_NO_CREDENTIALS) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want SEC_E_NO_CREDENTIALS saying %q", tc.name, err, tc.want)
		}
	}
	conf := filepath.Join(t.TempDir(), "krb5.conf")
	sock := filepath.Join(t.TempDir(), "no-kcm-socket")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n\tkcm_socket = "+sock+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KRB5_CONFIG", conf)
	_, err := New(nil).AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, &CCache{Path: "KCM:"})
	if !errors.Is(err, status.SEC_E_NO_CREDENTIALS) || !strings.Contains(err.Error(), sock) {
		t.Errorf("KCM with no daemon: %v", err)
	}
}
