package sspi

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering: imports point down (DESIGN.md 1). Providers import
// neither the root nor its async engine; the contract imports no
// provider; the shipped command links no test code.
func TestLayering(t *testing.T) {
	const mod = "github.com/gosspi/sspi"
	deps := func(pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	forbidden := map[string][]string{
		"/packages":           {mod, mod + "/internal/async", mod + "/packages/kerberos", mod + "/packages/ntlm"},
		"/packages/kerberos":  {mod, mod + "/internal/async"},
		"/packages/ntlm":      {mod, mod + "/internal/async"},
		"/packages/negotiate": {mod, mod + "/internal/async"},
		"/packages/digest":    {mod, mod + "/internal/async"},
		"/packages/schannel":  {mod, mod + "/internal/async"},
		"/cmd/sspi":           {"testing", mod + "/internal/peers", mod + "/internal/testkit"},
	}
	for pkg, bad := range forbidden {
		for _, d := range deps(pkg) {
			for _, b := range bad {
				if d == b {
					t.Errorf("%s imports %s", mod+pkg, d)
				}
			}
		}
	}
}
