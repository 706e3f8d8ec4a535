package async

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gosspi/sspi/status"
)

// gate is a call body that records when it starts and returns st once
// released (or its context's cause status once cancelled).
type gate struct {
	started chan struct{}
	release chan struct{}
	ctxErr  error
	st      status.Status
}

func newGate(st status.Status) *gate {
	return &gate{started: make(chan struct{}), release: make(chan struct{}), st: st}
}

func (g *gate) run(ctx context.Context) status.Status {
	close(g.started)
	select {
	case <-g.release:
		return g.st
	case <-ctx.Done():
		g.ctxErr = ctx.Err()
		return status.Code(ctx.Err())
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func mustStart(t *testing.T, o *Op, e *Engine, key any, class Class, fn func(context.Context) status.Status) {
	t.Helper()
	if err := o.Start(context.Background(), e, key, class, fn); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func TestOpLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 2}, nil)
		var o Op
		if st := o.Status(); st != status.SEC_E_OK {
			t.Errorf("idle Status = %v, want SEC_E_OK", st)
		}
		if !isClosed(o.Done()) {
			t.Error("idle Done not closed")
		}

		var output string
		var notified atomic.Int32
		var seenStatus status.Status
		var seenOutput string
		var doneAtNotify bool
		if err := o.SetNotify(func() {
			notified.Add(1)
			seenStatus, seenOutput = o.Status(), output
			doneAtNotify = isClosed(o.Done())
		}); err != nil {
			t.Fatal(err)
		}
		if !o.HasNotify() {
			t.Error("HasNotify = false after SetNotify")
		}

		g := newGate(status.SEC_I_CONTINUE_NEEDED)
		mustStart(t, &o, e, nil, CPU, func(ctx context.Context) status.Status {
			st := g.run(ctx)
			output = "token"
			return st
		})
		if st := o.Status(); st != status.SEC_I_ASYNC_CALL_PENDING {
			t.Errorf("Status while pending = %v", st)
		}
		synctest.Wait()
		if !isClosed(g.started) {
			t.Fatal("call did not start")
		}
		if isClosed(o.Done()) {
			t.Fatal("Done closed while the call runs")
		}
		if st := o.Status(); st != status.SEC_I_ASYNC_CALL_PENDING {
			t.Errorf("Status while running = %v", st)
		}
		close(g.release)
		if st := o.Wait(context.Background()); st != status.SEC_I_CONTINUE_NEEDED {
			t.Errorf("Wait = %v, want SEC_I_CONTINUE_NEEDED", st)
		}
		synctest.Wait()
		if n := notified.Load(); n != 1 {
			t.Fatalf("callback ran %d times, want 1", n)
		}
		if seenStatus != status.SEC_I_CONTINUE_NEEDED || seenOutput != "token" || !doneAtNotify {
			t.Errorf("callback saw status %v, output %q, done %v; want final status, output written, Done closed",
				seenStatus, seenOutput, doneAtNotify)
		}

		// Reinit keeps the callback and resets the status.
		if err := o.Reinit(); err != nil {
			t.Fatalf("Reinit: %v", err)
		}
		if st := o.Status(); st != status.SEC_E_OK {
			t.Errorf("Status after Reinit = %v", st)
		}
		if !o.HasNotify() {
			t.Error("Reinit dropped the callback")
		}
		mustStart(t, &o, e, nil, CPU, func(context.Context) status.Status { return status.SEC_E_LOGON_DENIED })
		if st := o.Wait(context.Background()); st != status.SEC_E_LOGON_DENIED {
			t.Errorf("second call: Wait = %v", st)
		}
		synctest.Wait()
		if n := notified.Load(); n != 2 {
			t.Errorf("callback ran %d times after two calls, want 2", n)
		}
		o.Free()
	})
}

func TestWaitContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{}, nil)
		var o Op
		g := newGate(status.SEC_E_OK)
		mustStart(t, &o, e, nil, CPU, g.run)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if st := o.Wait(ctx); st != status.SEC_I_ASYNC_CALL_PENDING {
			t.Errorf("Wait with expired ctx = %v, want SEC_I_ASYNC_CALL_PENDING", st)
		}
		if g.ctxErr != nil || isClosed(o.Done()) {
			t.Error("ending Wait's ctx cancelled the call")
		}
		close(g.release)
		if st := o.Wait(context.Background()); st != status.SEC_E_OK {
			t.Errorf("Wait = %v", st)
		}
	})
}

func TestOrderingPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 8}, nil)
		const perKey = 5
		keys := []string{"a", "b", "c"}
		// Keys of any comparable type, and Keys that hold their queue.
		keyOf := map[string]any{"a": "a", "b": new(Key), "c": new(Key)}
		var mu sync.Mutex
		log := map[string][]int{}
		gates := map[string][]*gate{}
		ops := make([]*Op, 0, perKey*len(keys))
		// Interleave issue order across keys.
		for i := range perKey {
			for _, k := range keys {
				g := newGate(status.SEC_E_OK)
				gates[k] = append(gates[k], g)
				o := new(Op)
				ops = append(ops, o)
				mustStart(t, o, e, keyOf[k], CPU, func(ctx context.Context) status.Status {
					mu.Lock()
					log[k] = append(log[k], i)
					mu.Unlock()
					return g.run(ctx)
				})
			}
		}
		for i := range perKey {
			synctest.Wait()
			for _, k := range keys {
				// Exactly call i of each key runs: the keys run in
				// parallel, the calls of one key one at a time.
				for j, g := range gates[k] {
					if got, want := isClosed(g.started), j <= i; got != want {
						t.Fatalf("step %d: key %s call %d started = %v, want %v", i, k, j, got, want)
					}
				}
			}
			if s := e.Stats(); s.Running[CPU] != len(keys) || s.Keys != len(keys) || s.Queued != (perKey-1-i)*len(keys) {
				t.Fatalf("step %d: stats %+v", i, s)
			}
			for _, k := range keys {
				close(gates[k][i].release)
			}
		}
		for _, o := range ops {
			if st := o.Wait(context.Background()); st != status.SEC_E_OK {
				t.Fatalf("Wait = %v", st)
			}
		}
		for _, k := range keys {
			if want := []int{0, 1, 2, 3, 4}; !slices.Equal(log[k], want) {
				t.Errorf("key %s ran in order %v, want %v", k, log[k], want)
			}
		}
		synctest.Wait()
		if s := e.Stats(); s != (Stats{}) {
			t.Errorf("idle engine stats = %+v", s)
		}
	})
}

func TestCPULimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 2}, nil)
		var gates []*gate
		var ops []*Op
		for range 6 {
			g := newGate(status.SEC_E_OK)
			o := new(Op)
			mustStart(t, o, e, nil, CPU, g.run)
			gates, ops = append(gates, g), append(ops, o)
		}
		started := func() (n int) {
			synctest.Wait()
			for _, g := range gates {
				if isClosed(g.started) {
					n++
				}
			}
			return n
		}
		if n := started(); n != 2 {
			t.Fatalf("%d calls running, want 2", n)
		}
		if s := e.Stats(); s.Running[CPU] != 2 || s.Waiting[CPU] != 4 {
			t.Fatalf("stats %+v", s)
		}
		// Calls start in issue order as slots free up.
		close(gates[0].release)
		if n := started(); n != 3 || !isClosed(gates[2].started) {
			t.Fatalf("after one finished: %d running, third started %v", n, isClosed(gates[2].started))
		}
		// Raising the limit starts waiting calls at once.
		e.SetLimits(Limits{CPU: 4})
		if n := started(); n != 5 {
			t.Fatalf("after raising the limit: %d started, want 5", n)
		}
		if got := e.Limits(); got.CPU != 4 || got.Network != DefaultNetworkLimit {
			t.Errorf("Limits = %+v", got)
		}
		for _, g := range gates[1:] {
			close(g.release)
		}
		for _, o := range ops {
			o.Wait(context.Background())
		}
	})
}

func TestDefaultLimits(t *testing.T) {
	e := New(Limits{}, nil)
	if got := e.Limits(); got.CPU != runtime.GOMAXPROCS(0) || got.Network != DefaultNetworkLimit {
		t.Errorf("default limits = %+v", got)
	}
}

// A slow KDC holds network slots only: local handshakes keep running.
func TestNetworkDoesNotStarveCPU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 1, Network: 2}, nil)
		kdc := func(ctx context.Context) status.Status {
			select {
			case <-time.After(time.Hour):
				return status.SEC_E_OK
			case <-ctx.Done():
				return status.Code(ctx.Err())
			}
		}
		var slow []*Op
		for range 5 {
			o := new(Op)
			mustStart(t, o, e, nil, Network, kdc)
			slow = append(slow, o)
		}
		var local []*Op
		for range 3 {
			o := new(Op)
			mustStart(t, o, e, nil, CPU, func(context.Context) status.Status { return status.SEC_I_CONTINUE_NEEDED })
			local = append(local, o)
		}
		synctest.Wait()
		for i, o := range local {
			if st := o.Status(); st != status.SEC_I_CONTINUE_NEEDED {
				t.Errorf("local call %d: status %v while the KDC is slow", i, st)
			}
		}
		if s := e.Stats(); s.Running[Network] != 2 || s.Waiting[Network] != 3 || s.Running[CPU] != 0 {
			t.Errorf("stats %+v", s)
		}
		start := time.Now()
		for _, o := range slow {
			if st := o.Wait(context.Background()); st != status.SEC_E_OK {
				t.Errorf("slow call: %v", st)
			}
		}
		// Two at a time, an hour each: three rounds.
		if d := time.Since(start); d != 3*time.Hour {
			t.Errorf("slow calls took %v, want 3h", d)
		}
	})
}

// A call that declares itself network-bound while running hands its CPU
// slot to the next call.
func TestNetworkBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 1, Network: 1}, nil)
		kdcReply := make(chan struct{})
		var afterKDC atomic.Bool
		kdcCall := func(ctx context.Context) status.Status {
			done := NetworkBound(ctx)
			select {
			case <-kdcReply:
			case <-ctx.Done():
			}
			done()
			afterKDC.Store(true)
			return status.SEC_E_OK
		}
		var a, b, c Op
		mustStart(t, &a, e, nil, CPU, kdcCall)
		synctest.Wait()
		if s := e.Stats(); s.Running[CPU] != 0 || s.Running[Network] != 1 {
			t.Fatalf("after NetworkBound: stats %+v", s)
		}
		// The CPU slot is free for a local call...
		mustStart(t, &b, e, nil, CPU, func(context.Context) status.Status { return status.SEC_E_OK })
		synctest.Wait()
		if st := b.Status(); st != status.SEC_E_OK {
			t.Fatalf("local call blocked behind a KDC call: %v", st)
		}
		// ...while a second KDC call waits for the one network slot.
		mustStart(t, &c, e, nil, CPU, kdcCall)
		synctest.Wait()
		if s := e.Stats(); s.Running[Network] != 1 || s.Waiting[Network] != 1 || s.Running[CPU] != 0 {
			t.Fatalf("second KDC call: stats %+v", s)
		}
		// Freeing a call that waits for a network slot ends it.
		c.Free()
		if s := e.Stats(); s.Waiting[Network] != 0 {
			t.Fatalf("after Free: stats %+v", s)
		}
		close(kdcReply)
		if st := a.Wait(context.Background()); st != status.SEC_E_OK || !afterKDC.Load() {
			t.Errorf("KDC call: %v", st)
		}
		synctest.Wait()
		if s := e.Stats(); s != (Stats{}) {
			t.Errorf("idle engine stats = %+v", s)
		}
		// Outside the engine NetworkBound does nothing.
		NetworkBound(context.Background())()
	})
}

func TestFreeCancelsRunningCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{}, nil)
		var o Op
		var notified atomic.Int32
		o.SetNotify(func() { notified.Add(1) })
		g := newGate(status.SEC_E_OK)
		var returned atomic.Bool
		mustStart(t, &o, e, "ctx", CPU, func(ctx context.Context) status.Status {
			defer returned.Store(true)
			return g.run(ctx)
		})
		<-g.started
		done := o.Done()
		o.Free()
		if !returned.Load() {
			t.Error("Free returned before the call ended")
		}
		if !errors.Is(g.ctxErr, context.Canceled) {
			t.Errorf("call saw ctx error %v, want context.Canceled", g.ctxErr)
		}
		if !isClosed(done) {
			t.Error("Done not closed after Free")
		}
		synctest.Wait()
		if n := notified.Load(); n != 0 {
			t.Errorf("callback ran %d times after Free", n)
		}
		if st := o.Status(); st != status.SEC_E_INVALID_HANDLE {
			t.Errorf("Status after Free = %v", st)
		}
		if s := e.Stats(); s != (Stats{}) {
			t.Errorf("engine stats after Free = %+v", s)
		}
	})
}

func TestFreeCancelsQueuedCall(t *testing.T) {
	for _, tt := range []struct {
		name string
		key  any // the queued call's key: "k" waits behind the blocker's key, nil for a slot
	}{
		{"behind its key", "k"},
		{"waiting for a slot", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := New(Limits{CPU: 1}, nil)
				var blocker, queued, after Op
				g := newGate(status.SEC_E_OK)
				mustStart(t, &blocker, e, "k", CPU, g.run)
				var ran atomic.Bool
				mustStart(t, &queued, e, tt.key, CPU, func(context.Context) status.Status {
					ran.Store(true)
					return status.SEC_E_OK
				})
				// A call behind the freed one still runs, in order.
				mustStart(t, &after, e, "k", CPU, func(context.Context) status.Status { return status.SEC_I_CONTINUE_NEEDED })
				synctest.Wait()
				queued.Free()
				if ran.Load() {
					t.Fatal("freed queued call ran")
				}
				if !isClosed(g.started) || blocker.Status() != status.SEC_I_ASYNC_CALL_PENDING {
					t.Fatal("freeing a queued call disturbed the running one")
				}
				close(g.release)
				if st := after.Wait(context.Background()); st != status.SEC_I_CONTINUE_NEEDED {
					t.Errorf("call after the freed one: %v", st)
				}
				synctest.Wait()
				if ran.Load() {
					t.Error("freed queued call ran later")
				}
				if s := e.Stats(); s != (Stats{}) {
					t.Errorf("engine stats = %+v", s)
				}
			})
		})
	}
}

func TestParentContextCancelsQueuedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 1}, nil)
		var blocker, o Op
		g := newGate(status.SEC_E_OK)
		mustStart(t, &blocker, e, nil, CPU, g.run)
		ctx, cancel := context.WithCancel(context.Background())
		var notified atomic.Int32
		o.SetNotify(func() { notified.Add(1) })
		var ran atomic.Bool
		if err := o.Start(ctx, e, nil, CPU, func(context.Context) status.Status {
			ran.Store(true)
			return status.SEC_E_OK
		}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		cancel()
		if st := o.Wait(context.Background()); st != status.SEC_E_INTERNAL_ERROR {
			t.Errorf("cancelled queued call: %v, want SEC_E_INTERNAL_ERROR", st)
		}
		synctest.Wait()
		if ran.Load() || notified.Load() != 1 {
			t.Errorf("ran %v, callback %d times; want not run, callback once", ran.Load(), notified.Load())
		}
		if s := e.Stats(); s.Waiting[CPU] != 0 {
			t.Errorf("stats %+v", s)
		}
		// An already-cancelled parent: the call completes without running.
		o.Reinit()
		if err := o.Start(ctx, e, nil, CPU, func(context.Context) status.Status {
			ran.Store(true)
			return status.SEC_E_OK
		}); err != nil {
			t.Fatal(err)
		}
		if st := o.Wait(context.Background()); st != status.SEC_E_INTERNAL_ERROR || ran.Load() {
			t.Errorf("call with cancelled parent: %v, ran %v", st, ran.Load())
		}
		close(g.release)
		blocker.Wait(context.Background())
	})
}

func TestParentContextCancelsRunningCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{}, nil)
		var o Op
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		mustStart(t, &o, e, nil, Network, func(c context.Context) status.Status {
			<-c.Done()
			return status.SEC_E_NO_AUTHENTICATING_AUTHORITY
		})
		// Start again with the timed context on a second Op.
		var p Op
		if err := p.Start(ctx, e, nil, Network, func(c context.Context) status.Status {
			<-c.Done()
			return status.SEC_E_NO_AUTHENTICATING_AUTHORITY
		}); err != nil {
			t.Fatal(err)
		}
		if st := p.Wait(context.Background()); st != status.SEC_E_NO_AUTHENTICATING_AUTHORITY {
			t.Errorf("timed-out call: %v", st)
		}
		if st := o.Status(); st != status.SEC_I_ASYNC_CALL_PENDING {
			t.Errorf("unrelated call: %v", st)
		}
		o.Free()
	})
}

func TestMisuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{}, nil)
		nop := func(context.Context) status.Status { return status.SEC_E_OK }

		newPending := func() (*Op, *gate) {
			o, g := new(Op), newGate(status.SEC_E_OK)
			mustStart(t, o, e, nil, CPU, g.run)
			return o, g
		}
		newFreed := func() *Op {
			o := new(Op)
			o.Free()
			return o
		}
		tests := []struct {
			name       string
			op         *Op
			start      error
			reinit     error
			setNotify  error
			status     status.Status
			doneClosed bool
		}{
			{"nil", nil, ErrInvalid, ErrInvalid, ErrInvalid, status.SEC_E_INVALID_HANDLE, true},
			{"freed", newFreed(), ErrInvalid, ErrInvalid, ErrInvalid, status.SEC_E_INVALID_HANDLE, true},
			{"idle", new(Op), nil, nil, nil, status.SEC_E_OK, true},
		}
		for _, tt := range tests {
			if err := tt.op.SetNotify(func() {}); err != tt.setNotify {
				t.Errorf("%s: SetNotify = %v, want %v", tt.name, err, tt.setNotify)
			}
			if got := tt.op.Status(); got != tt.status {
				t.Errorf("%s: Status = %v, want %v", tt.name, got, tt.status)
			}
			if got := isClosed(tt.op.Done()); got != tt.doneClosed {
				t.Errorf("%s: Done closed = %v", tt.name, got)
			}
			if err := tt.op.Reinit(); err != tt.reinit {
				t.Errorf("%s: Reinit = %v, want %v", tt.name, err, tt.reinit)
			}
			if err := tt.op.Start(context.Background(), e, nil, CPU, nop); err != tt.start {
				t.Errorf("%s: Start = %v, want %v", tt.name, err, tt.start)
			}
			tt.op.Wait(context.Background())
			tt.op.Free()
			tt.op.Free() // double free does nothing
			if tt.op.HasNotify() {
				t.Errorf("%s: HasNotify after Free", tt.name)
			}
		}

		// Reused or reinitialised while pending: refused, nothing queued,
		// the pending call unaffected.
		o, g := newPending()
		var ran atomic.Bool
		if err := o.Start(context.Background(), e, nil, CPU, func(context.Context) status.Status {
			ran.Store(true)
			return status.SEC_E_OK
		}); err != ErrPending {
			t.Errorf("Start while pending = %v, want ErrPending", err)
		}
		if err := o.Reinit(); err != ErrPending {
			t.Errorf("Reinit while pending = %v, want ErrPending", err)
		}
		if st := o.Status(); st != status.SEC_I_ASYNC_CALL_PENDING {
			t.Errorf("Status = %v", st)
		}
		close(g.release)
		if st := o.Wait(context.Background()); st != status.SEC_E_OK {
			t.Errorf("Wait = %v", st)
		}
		synctest.Wait()
		if ran.Load() {
			t.Error("refused call ran")
		}
		// A completed Op takes a new call without Reinit.
		mustStart(t, o, e, nil, CPU, func(context.Context) status.Status { return status.SEC_E_LOGON_DENIED })
		if st := o.Wait(context.Background()); st != status.SEC_E_LOGON_DENIED {
			t.Errorf("second call = %v", st)
		}
		o.Free()
		o.Free()
		if err := o.Start(context.Background(), e, nil, CPU, nop); err != ErrInvalid {
			t.Errorf("Start after Free = %v", err)
		}
	})
}

func TestPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var panics []any
		e := New(Limits{CPU: 1}, func(v any) {
			mu.Lock()
			panics = append(panics, v)
			mu.Unlock()
		})
		var o Op
		o.SetNotify(func() { panic("callback") })
		mustStart(t, &o, e, "k", CPU, func(context.Context) status.Status { panic("call") })
		if st := o.Wait(context.Background()); st != status.SEC_E_INTERNAL_ERROR {
			t.Errorf("panicking call: %v, want SEC_E_INTERNAL_ERROR", st)
		}
		// The engine still runs calls, on the same key and slot.
		var p Op
		mustStart(t, &p, e, "k", CPU, func(context.Context) status.Status { return status.SEC_E_OK })
		if st := p.Wait(context.Background()); st != status.SEC_E_OK {
			t.Errorf("call after panics: %v", st)
		}
		synctest.Wait()
		if !slices.Equal(panics, []any{"call", "callback"}) {
			t.Errorf("recovered %v", panics)
		}
	})
}

// The callback may reuse or free its own Op without deadlock.
func TestCallbackReentry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{}, nil)
		var o Op
		var legs atomic.Int32
		finished := make(chan struct{})
		step := func(context.Context) status.Status {
			if legs.Add(1) < 3 {
				return status.SEC_I_CONTINUE_NEEDED
			}
			return status.SEC_E_OK
		}
		o.SetNotify(func() {
			if o.Status() == status.SEC_I_CONTINUE_NEEDED {
				if err := o.Reinit(); err != nil {
					t.Errorf("Reinit in callback: %v", err)
				}
				if err := o.Start(context.Background(), e, "k", CPU, step); err != nil {
					t.Errorf("Start in callback: %v", err)
				}
				return
			}
			o.Free()
			close(finished)
		})
		mustStart(t, &o, e, "k", CPU, step)
		<-finished
		if n := legs.Load(); n != 3 {
			t.Errorf("%d legs, want 3", n)
		}
		if st := o.Status(); st != status.SEC_E_INVALID_HANDLE {
			t.Errorf("Status after Free in callback = %v", st)
		}
	})
}

// Free racing with completion from another goroutine: the callback runs at
// most once and Free always returns.
func TestFreeRacesCompletion(t *testing.T) {
	e := New(Limits{}, nil)
	var calls atomic.Int32
	for range 2000 {
		o := new(Op)
		o.SetNotify(func() { calls.Add(1) })
		mustStart(t, o, e, nil, CPU, func(context.Context) status.Status { return status.SEC_E_OK })
		o.Free()
		if !isClosed(o.Done()) {
			t.Fatal("Done open after Free")
		}
	}
	if n := calls.Load(); n > 2000 {
		t.Errorf("%d callbacks for 2000 calls", n)
	}
}

func TestManyConcurrentCalls(t *testing.T) {
	const n = 10000
	run := func(t *testing.T) {
		e := New(Limits{}, nil)
		var notified atomic.Int64
		var wg sync.WaitGroup
		wg.Add(n)
		ops := make([]*Op, n)
		var perKey [100]atomic.Int32 // calls of one key must never overlap
		for i := range ops {
			o := new(Op)
			ops[i] = o
			o.SetNotify(func() {
				notified.Add(1)
				wg.Done()
			})
			k := i % len(perKey)
			mustStart(t, o, e, k, Class(i%2), func(context.Context) status.Status {
				if perKey[k].Add(1) != 1 {
					t.Errorf("two calls of key %d overlap", k)
				}
				defer perKey[k].Add(-1)
				runtime.Gosched()
				return status.Status(i)
			})
		}
		wg.Wait()
		for i, o := range ops {
			if st := o.Status(); st != status.Status(i) {
				t.Fatalf("call %d: status %v", i, st)
			}
			o.Free()
		}
		if got := notified.Load(); got != n {
			t.Errorf("%d callbacks, want %d", got, n)
		}
		if s := e.Stats(); s != (Stats{}) {
			t.Errorf("engine stats = %+v", s)
		}
	}
	// In a synctest bubble, synctest.Wait returns once every goroutine the
	// engine started has ended (a stuck one fails the test as a deadlock).
	synctest.Test(t, func(t *testing.T) {
		base := runtime.NumGoroutine()
		run(t)
		synctest.Wait()
		if got := runtime.NumGoroutine(); got > base {
			t.Errorf("%d goroutines after the calls, %d before", got, base)
		}
	})
}

func BenchmarkDirectCall(b *testing.B) {
	b.ReportAllocs()
	fn := func(context.Context) status.Status { return status.SEC_E_OK }
	ctx := context.Background()
	for b.Loop() {
		if fn(ctx) != status.SEC_E_OK {
			b.Fatal("bad status")
		}
	}
}

// BenchmarkStartWait is the engine's cost for one call: issue, run on an
// engine goroutine, publish, wait.
func BenchmarkStartWait(b *testing.B) {
	b.ReportAllocs()
	var key Key // as the root package orders calls on a security context
	e := New(Limits{}, nil)
	fn := func(context.Context) status.Status { return status.SEC_E_OK }
	ctx := context.Background()
	var o Op
	for b.Loop() {
		if err := o.Start(ctx, e, &key, CPU, fn); err != nil {
			b.Fatal(err)
		}
		<-o.Done()
	}
}

// BenchmarkStartWaitWait is BenchmarkStartWait waiting with Wait.
func BenchmarkStartWaitWait(b *testing.B) {
	b.ReportAllocs()
	var key Key // as the root package orders calls on a security context
	e := New(Limits{}, nil)
	fn := func(context.Context) status.Status { return status.SEC_E_OK }
	ctx := context.Background()
	var o Op
	defer o.Free()
	for b.Loop() {
		if err := o.Start(ctx, e, &key, CPU, fn); err != nil {
			b.Fatal(err)
		}
		if o.Wait(ctx) != status.SEC_E_OK {
			b.Fatal("bad status")
		}
	}
}

// BenchmarkPendingCall measures what one queued call holds: each iteration
// queues a call behind a blocked one on the same key; allocs and B/op are
// per pending call.
func BenchmarkPendingCall(b *testing.B) {
	b.ReportAllocs()
	var key Key // as the root package orders calls on a security context
	e := New(Limits{}, nil)
	var blocker Op
	release := make(chan struct{})
	if err := blocker.Start(context.Background(), e, &key, CPU, func(context.Context) status.Status {
		<-release
		return status.SEC_E_OK
	}); err != nil {
		b.Fatal(err)
	}
	fn := func(context.Context) status.Status { return status.SEC_E_OK }
	ops := make([]Op, b.N)
	b.ResetTimer()
	for i := range ops {
		if err := ops[i].Start(context.Background(), e, &key, CPU, fn); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(release)
	for i := range ops {
		<-ops[i].Done()
	}
}

// A callback may block until a later call completes: that call must get
// the slot and the key the finished call gave up, not wait behind the
// callback.
func TestCallbackWaitsForLaterCall(t *testing.T) {
	for _, tt := range []struct {
		name   string
		keyOfB any
	}{
		{"same key", "k"},
		{"same slot", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := New(Limits{CPU: 1}, nil)
				var a, b Op
				gateA := newGate(status.SEC_E_OK)
				var bStatus status.Status
				callbackDone := make(chan struct{})
				a.SetNotify(func() {
					bStatus = b.Wait(context.Background())
					close(callbackDone)
				})
				mustStart(t, &a, e, "k", CPU, gateA.run)
				mustStart(t, &b, e, tt.keyOfB, CPU, func(context.Context) status.Status { return status.SEC_I_CONTINUE_NEEDED })
				synctest.Wait()
				close(gateA.release)
				<-callbackDone
				if bStatus != status.SEC_I_CONTINUE_NEEDED {
					t.Errorf("later call: %v", bStatus)
				}
			})
		})
	}
}

// Two Frees at once: both return only once the call has ended.
func TestConcurrentFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{}, nil)
		var o Op
		release := make(chan struct{})
		var ended atomic.Bool
		mustStart(t, &o, e, nil, CPU, func(context.Context) status.Status {
			<-release // a call that does not watch its context
			ended.Store(true)
			return status.SEC_E_OK
		})
		synctest.Wait()
		var returned atomic.Int32
		for range 2 {
			go func() {
				o.Free()
				if !ended.Load() {
					t.Error("Free returned before the call ended")
				}
				returned.Add(1)
			}()
		}
		synctest.Wait()
		if n := returned.Load(); n != 0 {
			t.Fatalf("%d Frees returned while the call runs", n)
		}
		close(release)
		synctest.Wait()
		if n := returned.Load(); n != 2 {
			t.Errorf("%d Frees returned, want 2", n)
		}
	})
}

// A call whose parent context has already ended completes without
// running, and its callback does not run on the issuing goroutine.
func TestCallbackNotOnIssuer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{}, nil)
		var o Op
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ch := make(chan status.Status) // unbuffered: a callback run inside Start would block forever
		o.SetNotify(func() { ch <- o.Status() })
		if err := o.Start(ctx, e, nil, CPU, func(context.Context) status.Status {
			t.Error("call ran with a cancelled parent")
			return status.SEC_E_OK
		}); err != nil {
			t.Fatal(err)
		}
		if st := <-ch; st != status.SEC_E_INTERNAL_ERROR {
			t.Errorf("status %v", st)
		}
	})
}

// Many goroutines issue calls and learn of their completion in every way
// at once: Wait, Done, polling Status, a callback registered after the
// call was issued, nothing at all (the call must still run), or Free. Each
// call runs at most once (never after a Free that found it queued), each
// status turns final, and the engine ends idle with no goroutine left.
func TestCallsStress(t *testing.T) {
	e := New(Limits{CPU: 2}, nil)
	base := runtime.NumGoroutine()
	const workers, rounds = 16, 200
	keys := []*Key{new(Key), new(Key), new(Key)}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := new(Op)
			for i := range rounds {
				var ran atomic.Int32
				fn := func(context.Context) status.Status {
					if ran.Add(1) != 1 {
						t.Error("a call ran twice")
					}
					return status.SEC_I_CONTINUE_NEEDED
				}
				if err := o.Start(context.Background(), e, keys[(w+i)%len(keys)], CPU, fn); err != nil {
					t.Errorf("Start: %v", err)
					return
				}
				final := func(how string) {
					if st := o.Status(); st != status.SEC_I_CONTINUE_NEEDED || ran.Load() != 1 {
						t.Errorf("%s: status %v, ran %d times", how, st, ran.Load())
					}
				}
				switch (w + i) % 6 {
				case 0:
					o.Wait(context.Background())
					final("Wait")
				case 1:
					<-o.Done()
					final("Done")
				case 2:
					for o.Status() == status.SEC_I_ASYNC_CALL_PENDING {
						runtime.Gosched()
					}
					final("Status")
				case 3:
					// The call may have completed already, and then the
					// callback does not run for it.
					var notified atomic.Int32
					o.SetNotify(func() {
						if notified.Add(1) > 1 {
							t.Error("callback ran twice")
						}
					})
					<-o.Done()
					o.SetNotify(nil)
					final("SetNotify")
				case 4:
					// Nobody asks: the call runs all the same.
					for ran.Load() == 0 {
						time.Sleep(20 * time.Microsecond)
					}
					<-o.Done()
					final("nobody asking")
				case 5:
					o.Free()
					if n := ran.Load(); n > 1 {
						t.Errorf("Free: ran %d times", n)
					}
					o = new(Op)
				}
			}
			o.Free()
		}()
	}
	wg.Wait()
	if s := e.Stats(); s != (Stats{}) {
		t.Errorf("stats after the calls: %+v", s)
	}
	for start := time.Now(); runtime.NumGoroutine() > base && time.Since(start) < 10*time.Second; {
		time.Sleep(time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > base {
		t.Errorf("%d goroutines after the calls, %d before", got, base)
	}
}

// A call that may run starts at once, on a goroutine of its own, although
// nobody waits for it or asks about it; a queued call has no goroutine;
// once no call runs, no goroutine of the engine is left.
func TestEagerStartAndNoIdleGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 2}, nil)
		base := bubbleGoroutines()
		gates := []*gate{newGate(status.SEC_E_OK), newGate(status.SEC_E_OK), newGate(status.SEC_E_OK)}
		ops := make([]Op, len(gates))
		for i, g := range gates {
			mustStart(t, &ops[i], e, nil, CPU, g.run)
		}
		synctest.Wait() // nothing else runs in the bubble: no poller, no timer
		if !isClosed(gates[0].started) || !isClosed(gates[1].started) || isClosed(gates[2].started) {
			t.Fatal("the two calls that may run did not start by themselves, or the third did")
		}
		if got := bubbleGoroutines(); got != base+2 {
			t.Errorf("%d goroutines with two calls running and one queued, want %d", got, base+2)
		}
		close(gates[0].release)
		synctest.Wait()
		if !isClosed(gates[2].started) {
			t.Error("the queued call did not start when a slot freed")
		}
		close(gates[1].release)
		close(gates[2].release)
		synctest.Wait()
		if got := bubbleGoroutines(); got != base {
			t.Errorf("%d goroutines once the engine is idle, want %d", got, base)
		}
		for i := range ops {
			if st := ops[i].Status(); st != status.SEC_E_OK {
				t.Errorf("call %d: %v", i, st)
			}
		}
	})
}

// bubbleGoroutines counts the goroutines of the calling goroutine's
// testing/synctest bubble: unlike runtime.NumGoroutine, it leaves out
// goroutines that other tests left winding down.
func bubbleGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), ", synctest bubble ")
}

// A goroutine that issues calls and runs each itself in Wait, with no
// processor free to run the workers started for them, does not pile up
// goroutines: a worker started for an earlier call that has not run yet
// counts for the next call too, so at most one is pending per ready call.
func TestWaitInLoopDoesNotPileUpGoroutines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e := New(Limits{}, nil)
	fn := func(context.Context) status.Status { return status.SEC_E_OK }
	var o Op
	base := runtime.NumGoroutine()
	most := 0
	for range 5000 {
		if err := o.Start(context.Background(), e, "k", CPU, fn); err != nil {
			t.Fatal(err)
		}
		if st := o.Wait(context.Background()); st != status.SEC_E_OK {
			t.Fatalf("Wait = %v", st)
		}
		most = max(most, runtime.NumGoroutine()-base)
	}
	if most > 1 {
		t.Errorf("up to %d goroutines pending for calls waited for one at a time, want at most 1", most)
	}
}

// onWaiter reports whether the calling fn runs inside Op.Wait.
func onWaiter() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), ".(*Op).Wait(")
}

// Wait with a context that never ends runs a call that may start on the
// waiting goroutine; with a callback registered, with a context that may
// end, or with the call still queued, the call runs on a worker
// goroutine. Either way the status and Done behave alike, and no engine
// goroutine is left behind.
func TestWaitRunsCallInline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 1}, nil)
		base := bubbleGoroutines()
		var inline atomic.Bool
		fn := func(context.Context) status.Status {
			inline.Store(onWaiter())
			return status.SEC_I_CONTINUE_NEEDED
		}

		// The goroutine launched for the call may, on another P, begin
		// it before Wait does: try a few times.
		var o Op
		ranInline := false
		for range 10 {
			mustStart(t, &o, e, "k", CPU, fn)
			if st := o.Wait(context.Background()); st != status.SEC_I_CONTINUE_NEEDED {
				t.Errorf("Wait = %v", st)
			}
			if inline.Load() {
				ranInline = true
				break
			}
		}
		if !ranInline {
			t.Error("an admitted call never ran on its waiter")
		}
		if !isClosed(o.Done()) || o.Status() != status.SEC_I_CONTINUE_NEEDED {
			t.Error("Done or Status after an inline call")
		}

		// With a callback: on an engine goroutine, callback once.
		var notified atomic.Int32
		o.SetNotify(func() { notified.Add(1) })
		mustStart(t, &o, e, "k", CPU, fn)
		o.Wait(context.Background())
		if inline.Load() {
			t.Error("a call with a callback ran on its waiter")
		}
		synctest.Wait()
		if n := notified.Load(); n != 1 {
			t.Errorf("callback ran %d times", n)
		}
		o.SetNotify(nil)

		// With a context that may end: on an engine goroutine.
		ctx, cancel := context.WithCancel(context.Background())
		mustStart(t, &o, e, "k", CPU, fn)
		o.Wait(ctx)
		cancel()
		if inline.Load() {
			t.Error("Wait with a cancellable ctx ran the call itself")
		}

		// Queued behind the only CPU slot: the waiter does not run it
		// early; it runs after the blocker, on an engine goroutine.
		var blocker Op
		g := newGate(status.SEC_E_OK)
		mustStart(t, &blocker, e, nil, CPU, g.run)
		<-g.started
		mustStart(t, &o, e, "k", CPU, fn)
		waited := make(chan status.Status)
		go func() { waited <- o.Wait(context.Background()) }()
		synctest.Wait()
		if isClosed(o.Done()) {
			t.Fatal("queued call completed while the CPU slot was held")
		}
		close(g.release)
		if st := <-waited; st != status.SEC_I_CONTINUE_NEEDED {
			t.Errorf("Wait on the queued call = %v", st)
		}
		if inline.Load() {
			t.Error("a call queued when Wait began ran on its waiter")
		}
		o.Free()
		blocker.Free()
		synctest.Wait()
		if got := bubbleGoroutines(); got > base {
			t.Errorf("%d goroutines after the calls, %d before", got, base)
		}
	})
}
