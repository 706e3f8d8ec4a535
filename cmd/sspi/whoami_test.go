package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

func whoami(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut strings.Builder
	code := run(append([]string{"whoami"}, args...), &out, &errOut)
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	t.Logf("sspi whoami %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), code
}

func wantWhoami(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

// TestWhoami runs the explanation against the MIT test realm: with
// explicit credentials, with a kinit cache, and with a realm no KDC can
// be found for, where Negotiate falls back and says why.
func TestWhoami(t *testing.T) {
	k := peers.TestKDC(t)
	t.Setenv("KRB5_CONFIG", k.Krb5Conf)
	cc := filepath.Join(t.TempDir(), "cc")
	t.Setenv("KRB5CCNAME", "FILE:"+cc)

	// No cache yet: the default credentials say which cache was looked
	// for, then fall back to the client keytab.
	t.Setenv("KRB5_CLIENT_KTNAME", k.ClientKeytab)
	out, code := whoami(t)
	if code != exitOK {
		t.Errorf("exit %d with the client keytab, want 0", code)
	}
	wantWhoami(t, out, "default: credential cache not usable", "(KRB5CCNAME)", "FILE:"+cc,
		"default: the client keytab (KRB5_CLIENT_KTNAME or default_client_keytab_name): alice@GOSSPI.TEST")
	t.Setenv("KRB5_CLIENT_KTNAME", filepath.Join(t.TempDir(), "nokt"))
	out, code = whoami(t)
	if code != exitFailure {
		t.Errorf("exit %d with neither cache nor keytab, want 1", code)
	}
	wantWhoami(t, out, "not usable", "hint:        run kinit")

	out, code = whoami(t, "-u", "alice@GOSSPI.TEST:alice-pw", "-t", "HTTP/localhost")
	if code != exitOK {
		t.Errorf("exit %d, want 0", code)
	}
	wantWhoami(t, out, "krb5.conf:   "+k.Krb5Conf, "explicit (-u): user alice in domain GOSSPI.TEST",
		"realm:       GOSSPI.TEST (the DNS domain, upper-cased)", "KDCs:        found by krb5.conf",
		"Negotiate:   HTTP/localhost: Kerberos")

	kinit := exec.Command("kinit", "alice@GOSSPI.TEST")
	kinit.Env = k.Env(cc)
	kinit.Stdin = strings.NewReader("alice-pw\n")
	if b, err := kinit.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v: %s", err, b)
	}
	out, code = whoami(t, "-t", "HTTP@localhost")
	if code != exitOK {
		t.Errorf("exit %d with a kinit cache, want 0", code)
	}
	wantWhoami(t, out, "default: credential cache FILE:"+cc+" (from KRB5CCNAME): alice@GOSSPI.TEST, TGT valid until",
		"realm:       GOSSPI.TEST (the credentials' client principal)", "Negotiate:   HTTP@localhost: Kerberos")

	// No configuration at all and a realm DNS does not know (the test
	// binary's resolver never leaves loopback): the fallback is explained.
	t.Setenv("KRB5_CONFIG", filepath.Join(t.TempDir(), "none"))
	out, code = whoami(t, "-u", `NOWHERE\bob:pw`, "-t", "HTTP/web.nowhere.test", "-m", "10")
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	wantWhoami(t, out, "none (KRB5_CONFIG=", "realm:       NOWHERE (a NetBIOS name no DC was found for",
		"KDCs:        none found", "fell back to NTLM; Kerberos was not used because", "SEC_E_NO_AUTHENTICATING_AUTHORITY")
}
