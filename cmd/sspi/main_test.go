package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, exitUsage, "", "Commands:"},
		{[]string{"help"}, exitOK, "Commands:", ""},
		{[]string{"--help"}, exitOK, "demo", ""},
		{[]string{"help", "demo"}, exitOK, "Usage: sspi demo", ""},
		{[]string{"help", "packages"}, exitOK, "Usage: sspi packages", ""},
		{[]string{"help", "bogus"}, exitUsage, "", "unknown help topic"},
		{[]string{"bogus"}, exitUsage, "", `unknown command "bogus"`},
		{[]string{"packages", "extra"}, exitUsage, "", "unexpected argument"},
		{[]string{"packages", "-x"}, exitUsage, "", "Usage: sspi packages"},
		{[]string{"demo", "-p", "NoSuchPackage"}, exitUsage, "", "no package named"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.inStdout) || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					code, out, errOut, tt.code, tt.inStdout, tt.inStderr)
			}
		})
	}
}

func TestPackages(t *testing.T) {
	code, out, errOut := runCmd(t, "packages", "-l")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The row Windows 10 reports for NTLM (spec structures.md §7).
	row := regexp.MustCompile(`(?m)^NTLM\s+NTLM Security Package\s+0x00882B37\s+1\s+10\s+2888$`)
	if !row.MatchString(out) {
		t.Errorf("no NTLM row in:\n%s", out)
	}
	if !strings.Contains(out, "SECPKG_FLAG_TOKEN_ONLY") {
		t.Errorf("-l did not decode the capabilities:\n%s", out)
	}
}

func TestDemoNTLM(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "-p", "ntlm")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"== NTLM (NTLM Security Package)",
		"InitializeSecurityContextW   SEC_I_CONTINUE_NEEDED",
		"AcceptSecurityContext        SEC_I_CONTINUE_NEEDED",
		"InitializeSecurityContextW   SEC_E_OK",
		"authenticated client: GOSSPI\\demo",
		"MakeSignature/Verify         SEC_E_OK",
		"EncryptMessage/Decrypt       SEC_E_OK",
		"1 package(s) ran, 0 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// In process, the demo runs without a test realm (see
// demo_kerberos_test.go for the Kerberos demos, each in a child process).
func TestDemoAll(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "--no-kdc")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("a package failed:\n%s", out)
	}
}

func TestCapabilityNames(t *testing.T) {
	got := capabilityNames(0x1 | 0x2 | 0x40000000)
	want := []string{"SECPKG_FLAG_INTEGRITY", "SECPKG_FLAG_PRIVACY", "0x40000000"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("capabilityNames = %v, want %v", got, want)
	}
}
