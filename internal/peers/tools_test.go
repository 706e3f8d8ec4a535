package peers

import "testing"

// TestTool finds a program every test machine has and reports a missing
// one as a skip; the skip is seen from a subtest, which ends at once.
func TestTool(t *testing.T) {
	if p := Tool(t, "sh", "dash"); p == "" {
		t.Fatal("Tool(sh) returned an empty path")
	}
	if Interop() {
		return // a missing program would fail the test by design
	}
	reached := false
	t.Run("missing", func(t *testing.T) {
		Tool(t, "gosspi-no-such-program", "none")
		reached = true
	})
	if reached {
		t.Error("Tool returned for a missing program instead of skipping")
	}
}
