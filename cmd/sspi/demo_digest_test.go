package main

import (
	"strings"
	"testing"
)

func TestDemoDigest(t *testing.T) {
	for _, args := range [][]string{{"demo", "-p", "wdigest"}, {"demo", "-p", "wdigest", "--async"}} {
		code, out, errOut := runCmd(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d:\n%s%s", args, code, out, errOut)
		}
		for _, want := range []string{
			"== WDigest (Digest Authentication for Windows)",
			"   -- SASL DIGEST-MD5",
			"   -- HTTP Digest",
			"AcceptSecurityContext        SEC_I_CONTINUE_NEEDED",
			"InitializeSecurityContextW   SEC_E_OK",
			"VerifySignature (replay)     SEC_E_OUT_OF_SEQUENCE",
			"InitializeSecurityContextW   SEC_I_CONTINUE_NEEDED            0 bytes",
			"AcceptSecurityContext        SEC_E_OK",
			"InitializeSecurityContextW   SEC_E_OK                         0 bytes",
			"authenticated client: demo",
			"MakeSignature/Verify         SEC_E_OK                        16-byte signature",
			"EncryptMessage/Decrypt       SEC_E_OK                        16-byte trailer",
			"1 package(s) ran, 0 failed",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}
