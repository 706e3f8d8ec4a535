package negotiate

import (
	"os"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

func TestMain(m *testing.M) {
	code := m.Run()
	peers.StopSharedKDC()
	os.Exit(code)
}

// kdc returns the realm of scripts/testkdc.sh, started once per test
// binary; it skips the test when MIT krb5 is missing, unless
// SSPI_INTEROP=1.
func kdc(t testing.TB) *peers.KDC {
	t.Helper()
	k, err := peers.SharedKDC()
	if err != nil {
		if os.Getenv("SSPI_INTEROP") == "1" {
			t.Fatalf("test KDC: %v", err)
		}
		t.Skipf("test KDC: %v", err)
	}
	return k
}
