package sspihttp

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
		peers.Require(t, "MIT krb5 test KDC ("+err.Error()+")", false)
	}
	return k
}
