package kdc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/kdc"
)

// haveMITClients reports whether MIT's kinit, klist and kvno are on PATH.
func haveMITClients() bool {
	for _, tool := range []string{"kinit", "klist", "kvno"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	return true
}

// MIT's kinit gets a TGT from our KDC with each enctype (the krb5.conf
// limiting default_tkt_enctypes and default_tgs_enctypes to it), kvno a
// service ticket that it checks against the keytab our KDC wrote, and
// klist -e shows the enctypes; kinit -R renews the TGT; a wrong password
// is refused.
func TestMITClients(t *testing.T) {
	if !peers.Interop() {
		t.Skip("SSPI_INTEROP=1 not set: MIT kinit/kvno/klist against this KDC is an interop test")
	}
	peers.Require(t, "MIT kinit, klist, kvno (apt-get install krb5-user)", haveMITClients())
	k, err := kdc.New(kdc.Config{Realm: "MIT.TEST", Enctypes: append(append([]int32(nil), kdc.DefaultEnctypes...), kdc.RC4HMAC)})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.AddUser("alice", "alice-pw", kdc.User{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("HTTP/localhost", kdc.Service{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kt := filepath.Join(dir, "http.keytab")
	if err := k.WriteKeytab(kt, "HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	base := k.Krb5Conf()
	for _, e := range []string{"aes256-cts-hmac-sha1-96", "aes128-cts-hmac-sha1-96", "aes256-cts-hmac-sha384-192", "aes128-cts-hmac-sha256-128", "rc4-hmac"} {
		t.Run(e, func(t *testing.T) {
			var conf []string
			for _, line := range strings.Split(base, "\n") {
				if strings.Contains(line, "default_tkt_enctypes") || strings.Contains(line, "default_tgs_enctypes") {
					line = line[:strings.Index(line, "=")+1] + " " + e
				}
				conf = append(conf, line)
			}
			confPath := filepath.Join(dir, e+".conf")
			if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "KRB5_CONFIG="+confPath, "KRB5CCNAME=FILE:"+filepath.Join(dir, e+".cc"), "KRB5_TRACE=/dev/null")
			run := func(stdin string, name string, args ...string) (string, error) {
				cmd := exec.Command(name, args...)
				cmd.Env = env
				cmd.Stdin = strings.NewReader(stdin)
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			if out, err := run("wrong\n", "kinit", "alice"); err == nil || !strings.Contains(out, "Password incorrect") {
				t.Fatalf("kinit with a wrong password: %v\n%s", err, out)
			}
			if out, err := run("alice-pw\n", "kinit", "-r", "2d", "alice"); err != nil {
				t.Fatalf("kinit: %v\n%s", err, out)
			}
			if out, err := run("", "kinit", "-R"); err != nil {
				t.Fatalf("kinit -R: %v\n%s", err, out)
			}
			out, err := run("", "kvno", "-k", kt, "HTTP/localhost")
			if err != nil || !strings.Contains(out, "HTTP/localhost@MIT.TEST: kvno = 2, keytab entry valid") {
				t.Fatalf("kvno: %v\n%s", err, out)
			}
			out, err = run("", "klist", "-e")
			if err != nil {
				t.Fatalf("klist: %v\n%s", err, out)
			}
			mit := e
			if e == "rc4-hmac" {
				mit = "arcfour-hmac"
			}
			for _, svc := range []string{"krbtgt/MIT.TEST@MIT.TEST", "HTTP/localhost@MIT.TEST"} {
				i := strings.Index(out, svc)
				if i < 0 {
					t.Fatalf("klist -e lacks %s:\n%s", svc, out)
				}
				rest := out[i:]
				if j := strings.Index(rest, "Etype (skey, tkt): "); j < 0 || !strings.Contains(strings.SplitN(rest[j:], "\n", 2)[0], mit+",") {
					t.Fatalf("klist -e: %s session key is not %s:\n%s", svc, e, out)
				}
			}
		})
	}
}

// MIT's client across two realms of this KDC (kvno for a service of B.TEST
// with a TGT of A.TEST: the cross-realm TGT krbtgt/B.TEST@A.TEST, then B's
// TGS) and through S4U: kvno -U (S4U2Self) and -P (S4U2Proxy) by a
// front-end service allowed to delegate to a back end only.
func TestMITCrossRealmS4U(t *testing.T) {
	if !peers.Interop() {
		t.Skip("SSPI_INTEROP=1 not set: MIT kvno against this KDC is an interop test")
	}
	peers.Require(t, "MIT kinit, klist, kvno (apt-get install krb5-user)", haveMITClients())
	k, err := kdc.New(kdc.Config{Realm: "A.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(k.AddRealm("B.TEST"))
	must(k.AddUser("alice", "alice-pw", kdc.User{}))
	for spn, svc := range map[string]kdc.Service{
		"HTTP/svc.b.test@B.TEST": {},
		"HTTP/front.a.test":      {AllowedToDelegateTo: []string{"HTTP/back.a.test"}, TrustedToAuthForDelegation: true},
		"HTTP/back.a.test":       {},
		"HTTP/other.a.test":      {},
	} {
		_, err := k.AddService(spn, svc)
		must(err)
	}
	_, err = k.Listen("")
	must(err)
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	must(k.WriteKrb5Conf(conf))
	for _, spn := range []string{"HTTP/svc.b.test@B.TEST", "HTTP/front.a.test", "HTTP/back.a.test"} {
		must(k.WriteKeytab(filepath.Join(dir, strings.NewReplacer("/", "_", "@", "_").Replace(spn)+".keytab"), spn))
	}
	run := func(cc, stdin, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "KRB5_CONFIG="+conf, "KRB5CCNAME=FILE:"+filepath.Join(dir, cc), "KRB5_TRACE=/dev/null")
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run("alice.cc", "alice-pw\n", "kinit", "alice")
	out := run("alice.cc", "", "kvno", "-k", filepath.Join(dir, "HTTP_svc.b.test_B.TEST.keytab"), "HTTP/svc.b.test@B.TEST")
	if !strings.Contains(out, "keytab entry valid") {
		t.Fatalf("cross-realm kvno:\n%s", out)
	}
	if out := run("alice.cc", "", "klist"); !strings.Contains(out, "krbtgt/B.TEST@A.TEST") {
		t.Fatalf("no cross-realm TGT in:\n%s", out)
	}

	run("front.cc", "", "kinit", "-k", "-t", filepath.Join(dir, "HTTP_front.a.test.keytab"), "HTTP/front.a.test")
	out = run("front.cc", "", "kvno", "-k", filepath.Join(dir, "HTTP_front.a.test.keytab"), "-U", "alice", "HTTP/front.a.test")
	if !strings.Contains(out, "keytab entry valid") {
		t.Fatalf("S4U2Self:\n%s", out)
	}
	out = run("front.cc", "", "kvno", "-U", "alice", "-P", "HTTP/back.a.test")
	if !strings.Contains(out, "HTTP/back.a.test@A.TEST: kvno = 2") {
		t.Fatalf("S4U2Proxy:\n%s", out)
	}
	if out := run("front.cc", "", "klist"); !strings.Contains(out, "HTTP/back.a.test@A.TEST\n\tfor client alice@A.TEST") {
		t.Fatalf("no proxy ticket for alice in:\n%s", out)
	}
	cmd := exec.Command("kvno", "-U", "alice", "-P", "HTTP/other.a.test")
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+conf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "front.cc"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "KDC can't fulfill requested option") {
		t.Fatalf("S4U2Proxy off the allow-list: %v\n%s", err, out)
	}
}
