package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/sspihttp"
	"github.com/jcmturner/gokrb5/v8/config"
)

// The Kerberos demos change process state (KRB5_CONFIG, the default
// registry's krb5.conf), so each runs in a child process of the test
// binary.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("SSPI_CMD_ARGS"); ok {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	os.Exit(peers.RunTests(m))
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

// The demo's test realm, on each KDC: the built-in Go KDC always (as on a
// machine with only Go), MIT krb5kdc when installed; Kerberos and
// Negotiate over Kerberos run, and the demo says which KDC it used.
func TestDemoKerberosTestRealm(t *testing.T) {
	for _, tt := range []struct{ kdc, about string }{
		{"go", "test realm GOSSPI.TEST on the built-in Go KDC (package kdc), 127.0.0.1:"},
		{"mit", "test realm GOSSPI.TEST on MIT krb5kdc (scripts/testkdc.sh), 127.0.0.1:"},
	} {
		t.Run(tt.kdc, func(t *testing.T) {
			if tt.kdc == "mit" {
				if os.Getenv(peers.KDCEnv) == "go" {
					t.Skip("SSPI_TEST_KDC=go: no MIT krb5kdc")
				}
				peers.Require(t, "MIT Kerberos KDC (apt-get install -y krb5-kdc krb5-admin-server)", peers.KDCInstalled())
			}
			env := []string{"KRB5_CONFIG=", "KRB5_KTNAME=", peers.KDCEnv + "=" + tt.kdc}
			for _, args := range [][]string{{"-p", "Kerberos"}, {"-p", "Negotiate"}, {"-p", "Negotiate", "--async"}} {
				pkg := args[1]
				code, out := runChild(t, env, append([]string{"demo"}, args...)...)
				if code != exitOK || !strings.Contains(out, tt.about) ||
					!strings.Contains(out, "authenticated client: alice@GOSSPI.TEST") || !strings.Contains(out, "1 package(s) ran, 0 failed") {
					t.Fatalf("%s: exit %d:\n%s", pkg, code, out)
				}
				if pkg == "Negotiate" && !strings.Contains(out, "negotiated package: Kerberos") {
					t.Errorf("Negotiate did not choose Kerberos:\n%s", out)
				}
			}
		})
	}
}

// With only Go (SSPI_TEST_KDC=go standing for a machine without MIT
// Kerberos), the whole demo runs every package and none is skipped.
func TestDemoAllPackagesGoKDC(t *testing.T) {
	env := []string{"KRB5_CONFIG=", "KRB5_KTNAME=", peers.KDCEnv + "=go"}
	code, out := runChild(t, env, "demo")
	if code != exitOK || strings.Contains(out, "skipped") || !strings.Contains(out, "6 package(s) ran, 0 failed") ||
		!strings.Contains(out, "on the built-in Go KDC") || !strings.Contains(out, "negotiated package: Kerberos") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// sspi get --negotiate and --kerberos with a password, against the
// middleware with the test realm's service keytab, mutual authentication
// required.
func TestGetKerberos(t *testing.T) {
	k := peers.TestKDC(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	reg := sspi.NewRegistry()
	reg.Register(negotiate.New(&negotiate.Config{Kerberos: krb}))
	reg.Register(krb)
	kt := &kerberos.Keytab{Path: k.ServiceKeytab}
	s := &sspihttp.Server{Registry: reg, Schemes: []string{sspihttp.SchemeNegotiate, sspihttp.SchemeKerberos},
		Negotiate: &negotiate.AuthData{Kerberos: kt}, Kerberos: kt}
	hs := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := sspihttp.IdentityFromContext(r.Context())
		w.Write([]byte(id.Name + " " + id.Scheme + "/" + id.Package))
	})))
	hs.Config.ConnContext = sspihttp.ConnContext
	hs.Start()
	defer hs.Close()
	url := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1) + "/"
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + t.TempDir() + "/none"}
	for _, scheme := range []string{"--negotiate", "--kerberos"} {
		code, out := runChild(t, env, "get", "-v", "--mutual", scheme, "-u", "alice@"+k.Realm+":alice-pw", url)
		name := map[string]string{"--negotiate": "Negotiate", "--kerberos": "Kerberos"}[scheme]
		if code != exitOK || !strings.Contains(out, "alice@"+k.Realm+" "+name+"/Kerberos") ||
			!strings.Contains(out, "KRB_AP_REQ") || !strings.Contains(out, "KRB_AP_REP") ||
			!strings.Contains(out, "* server proved its identity with "+name) {
			t.Errorf("get %s: exit %d\n%s", scheme, code, out)
		}
	}
}
