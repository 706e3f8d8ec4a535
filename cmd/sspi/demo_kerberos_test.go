package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

// The Kerberos demos change process state (KRB5_CONFIG, the default
// registry's krb5.conf), so each runs in a child process of the test
// binary.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("SSPI_CMD_ARGS"); ok {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	code := m.Run()
	peers.StopSharedKDC()
	os.Exit(code)
}

func runChild(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), env...), "SSPI_CMD_ARGS="+strings.Join(args, " "))
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

func TestDemoNegotiateWithoutKDC(t *testing.T) {
	env := []string{"KRB5_CONFIG=/nonexistent", "KRB5_KTNAME="}
	code, out := runChild(t, env, "demo", "-p", "Negotiate", "--no-kdc")
	if code != exitOK || !strings.Contains(out, "-- no KDC: Negotiate falls back to NTLM") ||
		!strings.Contains(out, "negotiated package: NTLM") || !strings.Contains(out, `authenticated client: GOSSPI\demo`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out = runChild(t, env, "demo", "-p", "Kerberos", "--no-kdc")
	if code != exitOK || !strings.Contains(out, "skipped: no KDC (--no-kdc): set KRB5_CONFIG") || !strings.Contains(out, "0 package(s) ran") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestDemoKerberosTestRealm(t *testing.T) {
	peers.Require(t, "MIT Kerberos KDC (apt-get install -y krb5-kdc krb5-admin-server)", peers.KDCInstalled())
	env := []string{"KRB5_CONFIG=", "KRB5_KTNAME="}
	for _, args := range [][]string{{"-p", "Kerberos"}, {"-p", "Negotiate"}, {"-p", "Negotiate", "--async"}} {
		pkg := args[1]
		code, out := runChild(t, env, append([]string{"demo"}, args...)...)
		if code != exitOK || !strings.Contains(out, "test realm GOSSPI.TEST of scripts/testkdc.sh") ||
			!strings.Contains(out, "authenticated client: alice@GOSSPI.TEST") {
			t.Fatalf("%s: exit %d:\n%s", pkg, code, out)
		}
		if pkg == "Negotiate" && !strings.Contains(out, "negotiated package: Kerberos") {
			t.Errorf("Negotiate did not choose Kerberos:\n%s", out)
		}
	}
}
