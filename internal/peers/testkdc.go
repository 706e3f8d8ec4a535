package peers

import "testing"

// TestKDC returns the shared test realm ([SharedKDC]). When it cannot
// start (MIT krb5 missing), TestKDC skips t, or fails it when [Interop]
// is true, through [Require].
func TestKDC(t testing.TB) *KDC {
	t.Helper()
	k, err := SharedKDC()
	if err != nil {
		Require(t, "MIT krb5 test KDC ("+err.Error()+")", false)
	}
	return k
}

// RunTests runs the tests of m, stops the shared KDC if one started and
// returns the exit code, for a TestMain that uses [TestKDC]:
//
//	func TestMain(m *testing.M) { os.Exit(peers.RunTests(m)) }
func RunTests(m *testing.M) int {
	code := m.Run()
	StopSharedKDC()
	return code
}
