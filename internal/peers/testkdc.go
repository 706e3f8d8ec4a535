package peers

import (
	"os"
	"testing"
)

// TestKDC returns the shared test realm ([SharedKDC]): on MIT krb5kdc
// when it is installed, else on the Go KDC (SSPI_TEST_KDC=go forces the
// Go KDC, SSPI_TEST_KDC=mit the MIT one). When it cannot start, TestKDC
// skips t, or fails it when [Interop] is true, through [Require].
func TestKDC(t testing.TB) *KDC {
	t.Helper()
	k, err := SharedKDC()
	if err != nil {
		Require(t, "test KDC ("+err.Error()+")", false)
	}
	return k
}

// MITKDC returns a shared test realm on MIT krb5kdc, for tests that need
// MIT's own KDC or its administration tools (kadmin.local). Without MIT
// Kerberos it skips t, or fails it when [Interop] is true; with
// SSPI_TEST_KDC=go, which stands for a machine without MIT Kerberos, it
// skips t.
func MITKDC(t testing.TB) *KDC {
	t.Helper()
	if os.Getenv(KDCEnv) == "go" {
		t.Skip("SSPI_TEST_KDC=go: this test needs MIT krb5kdc")
	}
	Require(t, "MIT Kerberos KDC (apt-get install -y krb5-kdc krb5-admin-server krb5-user)", KDCInstalled())
	k, err := sharedMITKDC()
	if err != nil {
		Require(t, "MIT krb5 test KDC ("+err.Error()+")", false)
	}
	return k
}

// KinitAlice writes alice's TGT to a new credential cache in t's temporary
// folder and returns its path ([KDC.Kinit]); a failure fails t.
func (k *KDC) KinitAlice(t testing.TB) string {
	t.Helper()
	cc := t.TempDir() + "/ccache"
	if err := k.Kinit("alice", "alice-pw", cc); err != nil {
		t.Fatal(err)
	}
	return cc
}

// RunTests runs the tests of m, stops the shared KDCs if any started and
// returns the exit code, for a TestMain that uses [TestKDC]:
//
//	func TestMain(m *testing.M) { os.Exit(peers.RunTests(m)) }
func RunTests(m *testing.M) int {
	code := m.Run()
	StopSharedKDC()
	return code
}
