package kdc_test

import (
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/pac"

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

// mspacScript accepts, with MIT's GSSAPI through python3-gssapi, a context
// from the credential cache to HTTP@localhost, and prints each PAC
// attribute MIT's mspac module exposes: name, whether MIT verified it,
// and its value in hex.
const mspacScript = `
import gssapi, gssapi.raw as raw
target = gssapi.Name('HTTP@localhost', gssapi.NameType.hostbased_service)
c = gssapi.SecurityContext(name=target, usage='initiate')
s = gssapi.SecurityContext(usage='accept', creds=gssapi.Credentials(usage='accept'))
s.step(c.step())
n = s.initiator_name
print("name", n)
for a in raw.inquire_name(n).attrs:
    r = raw.get_name_attribute(n, a)
    print(a.decode(), r.authenticated, r.values[0].hex() if r.values else "")
`

// MIT's acceptor reads the PAC of a ticket this KDC issued: its mspac
// module verifies the signatures (the attributes are "authenticated") and
// exposes the logon info, whose user RID, groups and extra SIDs are those
// the KDC was given.
func TestMITReadsPAC(t *testing.T) {
	if !peers.Interop() {
		t.Skip("SSPI_INTEROP=1 not set: MIT's PAC reading is an interop test")
	}
	peers.Require(t, "MIT kinit (krb5-user) and python3-gssapi", haveMITClients() && peers.HavePythonGSSAPI())
	k, err := kdc.New(kdc.Config{Realm: "PAC.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.AddUser("alice", "alice-pw", kdc.User{RID: 1234, GroupRIDs: []uint32{512}, ExtraSIDs: []string{"S-1-5-21-7-8-9-1000"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("HTTP/localhost", kdc.Service{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Listen(""); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf, kt := filepath.Join(dir, "krb5.conf"), filepath.Join(dir, "http.keytab")
	if err := k.WriteKrb5Conf(conf); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteKeytab(kt, "HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "KRB5_CONFIG="+conf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "cc"), "KRB5_KTNAME=FILE:"+kt, "KRB5RCACHEDIR="+dir)
	cmd := exec.Command("kinit", "alice")
	cmd.Env, cmd.Stdin = env, strings.NewReader("alice-pw\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}
	cmd = exec.Command(peers.Python, "-c", mspacScript)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3-gssapi: %v\n%s", err, out)
	}
	attrs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			attrs[f[0]] = f[1:]
		}
	}
	if n := attrs["name"]; len(n) != 1 || n[0] != "alice@PAC.TEST" {
		t.Fatalf("MIT accepted %v:\n%s", n, out)
	}
	for _, a := range []string{"urn:mspac:logon-info", "urn:mspac:client-info", "urn:mspac:upn-dns-info", "urn:mspac:server-checksum", "urn:mspac:privsvr-checksum"} {
		if v := attrs[a]; len(v) != 2 || v[0] != "True" {
			t.Fatalf("%s: %v (MIT did not verify it):\n%s", a, v, out)
		}
	}
	raw, err := hex.DecodeString(attrs["urn:mspac:logon-info"][1])
	if err != nil {
		t.Fatal(err)
	}
	var li pac.KerbValidationInfo
	if err := li.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	dom, _ := k.DomainSID("PAC.TEST")
	groups := li.GetGroupMembershipSIDs()
	if li.UserID != 1234 || li.LogonDomainID.String() != dom || !slices.Contains(groups, dom+"-512") || !slices.Contains(groups, "S-1-5-21-7-8-9-1000") {
		t.Fatalf("logon info read by MIT: user %d domain %s groups %v", li.UserID, li.LogonDomainID.String(), groups)
	}
}
