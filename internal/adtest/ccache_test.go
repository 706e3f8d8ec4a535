package adtest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// TestKinitCacheTypesNoConfig: the user ran MIT kinit against the DC,
// into a cache of each type; the library, with no krb5.conf (KDCs found
// through the DC's DNS) and only KRB5CCNAME, authenticates with
// Negotiate over Kerberos to the web service of the domain and stores
// the service ticket back in that cache, where MIT klist lists it. For
// KCM the library's krb5.conf holds nothing but kcm_socket (the test's
// daemon is not on the default socket).
func TestKinitCacheTypesNoConfig(t *testing.T) {
	dc := Require(t)
	peers.Tool(t, "kinit", "krb5-user")
	res := newDCResolver(dc)
	rnd := func() string {
		var b [4]byte
		rand.Read(b[:])
		return "gosspi" + hex.EncodeToString(b[:])
	}
	for _, tc := range []struct {
		name string
		cc   func(t *testing.T) string
		kcm  func(testing.TB) string
	}{
		{name: "FILE", cc: func(t *testing.T) string { return "FILE:" + filepath.Join(t.TempDir(), "cc") }},
		{name: "DIR", cc: func(t *testing.T) string { return "DIR:" + filepath.Join(t.TempDir(), "cc") }},
		{name: "KEYRING-session", cc: func(t *testing.T) string {
			n := rnd()
			t.Cleanup(func() { unlinkSessionKeyring("_krb_" + n) })
			return "KEYRING:session:" + n
		}},
		{name: "KEYRING-persistent", cc: func(t *testing.T) string {
			return "KEYRING:persistent:" + strconv.Itoa(os.Geteuid()) + ":" + rnd()
		}},
		{name: "KCM-heimdal", kcm: peers.KCM, cc: func(t *testing.T) string { return "KCM:" }},
		{name: "KCM-sssd", kcm: peers.SSSDKCM, cc: func(t *testing.T) string { return "KCM:" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			kinitConf, ourConf := dc.Krb5Conf, filepath.Join(dir, "none")
			if tc.kcm != nil {
				sock := tc.kcm(t)
				b, err := os.ReadFile(dc.Krb5Conf)
				if err != nil {
					t.Fatal(err)
				}
				line := "[libdefaults]\n\tkcm_socket = " + sock + "\n"
				kinitConf, ourConf = filepath.Join(dir, "kinit.conf"), filepath.Join(dir, "kcm.conf")
				if err := os.WriteFile(kinitConf, []byte(strings.Replace(string(b), "[libdefaults]\n", line, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(ourConf, []byte(line), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			name := tc.cc(t)
			mitEnv := append(os.Environ(), "KRB5_CONFIG="+kinitConf, "KRB5CCNAME="+name)
			mitRun := func(stdin string, args ...string) string {
				t.Helper()
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Env = mitEnv
				cmd.Stdin = strings.NewReader(stdin)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %v: %s", args, err, out)
				}
				return string(out)
			}
			mitRun(Alice.Password+"\n", "kinit", Alice.Principal())
			t.Cleanup(func() {
				cmd := exec.Command("kdestroy")
				cmd.Env = mitEnv
				cmd.Run()
			})

			t.Setenv("KRB5_CONFIG", ourConf)
			t.Setenv("KRB5CCNAME", name)
			krb := kerberos.New(&kerberos.Config{Resolver: res})
			r := sspi.NewRegistry()
			r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: ntlm.New(nil)}))
			r.Register(krb)
			client := acquire(t, r, "Negotiate", "", sspi.CredentialsOutbound, nil)
			server := serviceCred(t, dc, newRegistry(t, dc, registryOptions{}), "Negotiate", WebService.SPNs[0])
			c, s := contexts(t, client, server, WebService.SPNs[0], kerberosISC, kerberosASC)
			if err := handshake(testCtx(t), c, s); err != nil {
				t.Fatalf("%v\n--- samba's log:\n%s", err, dc.LogTail(10))
			}
			if got := c.NegotiatedPackage(); got != "Kerberos" {
				t.Fatalf("Negotiate chose %q (fallback: %v), want Kerberos", got, c.FallbackReason())
			}
			if name, err := s.UserName(); err != nil || name != Alice.Principal() {
				t.Errorf("server UserName() = %q, %v; want %s", name, err, Alice.Principal())
			}
			if out := mitRun("", "klist"); !strings.Contains(out, WebService.SPNs[0]+"@"+Realm) {
				t.Errorf("klist does not list the stored service ticket:\n%s", out)
			}
		})
	}
}

// unlinkSessionKeyring unlinks the keyring name from the session keyring
// with keyctl (keyutils), leaving the session as the test found it.
func unlinkSessionKeyring(name string) {
	out, err := exec.Command("keyctl", "search", "@s", "keyring", name).Output()
	if err != nil {
		return
	}
	exec.Command("keyctl", "unlink", strings.TrimSpace(string(out)), "@s").Run()
}
