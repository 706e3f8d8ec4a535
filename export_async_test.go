package sspi

import (
	"testing"

	"github.com/gosspi/sspi/internal/async"
)

// UseOwnAsyncEngine runs the SspiXxxAsync calls issued until t ends on an
// engine of their own, with the default limits. A test in a
// testing/synctest bubble calls it first: a worker runs any ready call of
// its engine, and a worker of the shared engine started by an earlier
// test, outside the bubble, must not run a call issued inside it (the
// runtime stops the program when it closes the call's channels).
func UseOwnAsyncEngine(t testing.TB) {
	old := testEngine.Swap(async.New(async.Limits{}, nil))
	t.Cleanup(func() { testEngine.Store(old) })
}
