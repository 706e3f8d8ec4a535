package mitkdc

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCommandLinksNoTestingCode: the shipped command does not link the
// testing package (it did, through internal/peers).
func TestCommandLinksNoTestingCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/gosspi/sspi/cmd/sspi").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasSuffix(dep, "/internal/peers") || strings.HasSuffix(dep, "/internal/testkit") {
			t.Errorf("cmd/sspi depends on %s", dep)
		}
	}
}
