package kerberos

import (
	"os"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

var exitFunc = os.Exit

// kdc returns the realm of scripts/testkdc.sh, started once per test
// binary. It skips the test when MIT krb5 is missing, unless
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

func stopKDC() { peers.StopSharedKDC() }

// peersRequired reports whether SSPI_INTEROP=1: a missing peer is then a
// failure rather than a skip.
func peersRequired() bool { return os.Getenv("SSPI_INTEROP") == "1" }
