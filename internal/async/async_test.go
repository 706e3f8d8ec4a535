package async

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
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

// BenchmarkStartWaitInline is BenchmarkStartWait with Wait, which runs
// the call on the waiting goroutine.
func BenchmarkStartWaitInline(b *testing.B) { benchmarkStartWait(b, Limits{}) }

// benchmarkStartWait issues calls on an engine with limits and waits for
// each with Wait.
func benchmarkStartWait(b *testing.B, limits Limits) {
	b.ReportAllocs()
	var key Key // as the root package orders calls on a security context
	e := New(limits, nil)
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

// A goroutine that finished its call waits for the next one while other
// calls run, and every goroutine ends once none does.
func TestWorkerReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 4}, nil)
		base := runtime.NumGoroutine()
		var a, b, c Op
		ga, gb, gc := newGate(status.SEC_E_OK), newGate(status.SEC_E_OK), newGate(status.SEC_E_OK)
		mustStart(t, &a, e, nil, CPU, ga.run)
		mustStart(t, &b, e, nil, CPU, gb.run)
		synctest.Wait()
		if got := runtime.NumGoroutine(); got != base+2 {
			t.Fatalf("%d goroutines for two running calls, want %d", got, base+2)
		}
		close(ga.release)
		a.Wait(context.Background())
		synctest.Wait()
		if got := runtime.NumGoroutine(); got != base+2 {
			t.Fatalf("%d goroutines with one call running and one idle worker, want %d", got, base+2)
		}
		// The idle worker takes the next call: no new goroutine.
		mustStart(t, &c, e, nil, CPU, gc.run)
		synctest.Wait()
		if !isClosed(gc.started) {
			t.Fatal("third call did not start")
		}
		if got := runtime.NumGoroutine(); got != base+2 {
			t.Fatalf("%d goroutines after reusing the idle worker, want %d", got, base+2)
		}
		close(gb.release)
		close(gc.release)
		synctest.Wait()
		if got := runtime.NumGoroutine(); got != base {
			t.Errorf("%d goroutines once the engine is idle, want %d", got, base)
		}
	})
}

// deep uses about n KiB of stack.
//
//go:noinline
func deep(n int) byte {
	var frame [1 << 10]byte
	frame[n%len(frame)] = byte(n)
	if n == 0 {
		return frame[0]
	}
	return deep(n-1) + frame[n%len(frame)]
}

// New goroutines reserve their stack only once a call has shown that
// calls grow it: shallow calls leave deepStacks unset, a call that goes
// 10 KiB deep sets it.
func TestDeepStacksDetected(t *testing.T) {
	e := New(Limits{}, nil)
	run := func(fn func(context.Context) status.Status) {
		t.Helper()
		var o Op
		if err := o.Start(context.Background(), e, nil, CPU, fn); err != nil {
			t.Fatal(err)
		}
		<-o.Done() // not Wait, which may run the call on this goroutine
		if st := o.Status(); st != status.SEC_E_OK {
			t.Fatal(st)
		}
	}
	for range 3 {
		run(func(context.Context) status.Status { return status.SEC_E_OK })
	}
	if e.deepStacks.Load() {
		t.Fatal("deepStacks set by shallow calls")
	}
	run(func(context.Context) status.Status {
		deep(10)
		return status.SEC_E_OK
	})
	if !e.deepStacks.Load() {
		t.Fatal("deepStacks not set by a call 10 KiB deep")
	}
	// Reserved goroutines run calls as before.
	run(func(context.Context) status.Status {
		deep(20)
		return status.SEC_E_OK
	})
}

// onWaiter reports whether the calling fn runs inside Op.Wait.
func onWaiter() bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), ".(*Op).Wait(")
}

// Wait with a context that never ends runs a call that may start on the
// waiting goroutine; with a callback registered, with a context that may
// end, or with the call still queued, the call runs on an engine
// goroutine. Either way the status and Done behave alike, and no engine
// goroutine is left behind.
func TestWaitRunsCallInline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 1}, nil)
		base := runtime.NumGoroutine()
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
		if got := runtime.NumGoroutine(); got > base {
			t.Errorf("%d goroutines after the calls, %d before", got, base)
		}
	})
}

// A goroutine that issues calls and waits for each, with no processor free
// to run the goroutines started for them, does not leave one behind per
// call: the goroutine started for a call its waiter ran serves the Op's
// next call (before, one per call piled up until the issuer was
// preempted). Each spare is one goroutine started.
func TestInlineWaitDoesNotPileUpGoroutines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e := New(Limits{}, nil)
	fn := func(context.Context) status.Status { return status.SEC_E_OK }
	var o Op
	started := make(map[*spare]bool)
	const calls = 5000
	for range calls {
		if err := o.Start(context.Background(), e, "k", CPU, fn); err != nil {
			t.Fatal(err)
		}
		if st := o.Wait(context.Background()); st != status.SEC_E_OK {
			t.Fatalf("Wait = %v", st)
		}
		started[o.spare.Load()] = true
	}
	// A preemption of this goroutine lets the spare run and end, so a
	// few may be started; without sharing there would be one per call.
	if len(started) > calls/100 {
		t.Errorf("%d goroutines started for %d calls waited for one at a time", len(started), calls)
	}
	// The goroutine left behind ends once it runs.
	for range 1000 {
		if o.spare.Load().slot.Load() == closedSlot {
			return
		}
		runtime.Gosched()
	}
	t.Error("the goroutine started for the last call never ran")
}

// BenchmarkStartWaitParked is BenchmarkStartWaitInline on an engine that
// parks calls nobody waits for yet: no goroutine is started at all.
func BenchmarkStartWaitParked(b *testing.B) {
	benchmarkStartWait(b, Limits{StartDelay: time.Millisecond})
}

// With a start delay, a call issued while nothing waits for it is parked:
// it keeps its place on its key but has no slot and no goroutine. The
// first of Wait (which runs it on the waiter), Done, Status, SetNotify and
// Free starts it, and
// with none of them it starts when the Op's timer fires, between d/2 and
// d after it was parked. No goroutine is started for a call its waiter
// runs.
func TestParkedCalls(t *testing.T) {
	const d = time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		e := New(Limits{CPU: 1, StartDelay: d}, nil)
		if got := e.Limits().StartDelay; got != d {
			t.Fatalf("StartDelay = %v", got)
		}
		var started atomic.Int32 // calls of e given a goroutine
		testHookStart = func(c *call) {
			if c.e == e {
				started.Add(1)
			}
		}
		defer func() { testHookStart = nil }()
		var ran atomic.Int32
		var inline atomic.Bool
		fn := func(context.Context) status.Status {
			ran.Add(1)
			inline.Store(onWaiter())
			return status.SEC_I_CONTINUE_NEEDED
		}
		// parked issues a call on o and checks that it is parked.
		parked := func(o *Op) {
			t.Helper()
			ran.Store(0)
			started.Store(0)
			mustStart(t, o, e, nil, CPU, fn)
			synctest.Wait()
			if ran.Load() != 0 || started.Load() != 0 {
				t.Fatalf("call ran (%d) or was given a goroutine (%d) before anyone asked", ran.Load(), started.Load())
			}
			if s := e.Stats(); s.Running[CPU] != 0 {
				t.Fatalf("a parked call holds a slot: %+v", s)
			}
		}
		// ranOnce checks that the call ran once, not on a waiter, and
		// that its status is final.
		ranOnce := func(o *Op, what string) {
			t.Helper()
			synctest.Wait()
			if ran.Load() != 1 || inline.Load() || o.Status() != status.SEC_I_CONTINUE_NEEDED {
				t.Errorf("%s: ran %d times (inline %v), status %v", what, ran.Load(), inline.Load(), o.Status())
			}
		}

		var o Op
		parked(&o)
		if st := o.Wait(context.Background()); st != status.SEC_I_CONTINUE_NEEDED || ran.Load() != 1 || !inline.Load() || started.Load() != 0 {
			t.Errorf("Wait: %v, ran %d times, inline %v, %d goroutines started", st, ran.Load(), inline.Load(), started.Load())
		}

		parked(&o)
		<-o.Done()
		ranOnce(&o, "Done")

		parked(&o)
		if st := o.Status(); st != status.SEC_I_ASYNC_CALL_PENDING {
			t.Errorf("Status of a parked call = %v", st)
		}
		ranOnce(&o, "Status")

		parked(&o)
		ctx, cancel := context.WithCancel(context.Background())
		o.Wait(ctx)
		cancel()
		ranOnce(&o, "Wait with a context that may end")

		var notified atomic.Int32
		parked(&o)
		o.SetNotify(func() { notified.Add(1) })
		ranOnce(&o, "SetNotify")
		if notified.Load() != 1 {
			t.Errorf("callback ran %d times", notified.Load())
		}
		o.SetNotify(nil)

		// Nobody asks: the timer starts it d after the first park, and a
		// second call parked before d/2 has passed since does not push
		// the timer back.
		parked(&o)
		time.Sleep(d - time.Microsecond)
		synctest.Wait()
		if ran.Load() != 0 {
			t.Fatal("parked call ran before the start delay")
		}
		time.Sleep(time.Microsecond)
		ranOnce(&o, "timer")
		start := time.Now()
		parked(&o)
		o.Wait(context.Background())
		time.Sleep(d / 4)
		parked(&o)
		time.Sleep(time.Until(start.Add(d)) - time.Microsecond)
		synctest.Wait()
		if ran.Load() != 0 {
			t.Fatal("parked call ran before the timer")
		}
		time.Sleep(time.Microsecond)
		ranOnce(&o, "timer set for an earlier call")

		// A parked call holds no slot. With the only CPU slot busy, its
		// waiter cannot run it; it runs on an engine goroutine once the
		// slot frees.
		var blocker Op
		g := newGate(status.SEC_E_OK)
		mustStart(t, &blocker, e, nil, CPU, g.run)
		blocker.Done()
		<-g.started
		ran.Store(0)
		mustStart(t, &o, e, nil, CPU, fn)
		if s := e.Stats(); s.Running[CPU] != 1 || s.Waiting[CPU] != 0 {
			t.Errorf("stats with one running and one parked call: %+v", s)
		}
		waited := make(chan status.Status)
		go func() { waited <- o.Wait(context.Background()) }()
		synctest.Wait()
		if ran.Load() != 0 {
			t.Error("a parked call ran while the only slot was busy")
		}
		close(g.release)
		if st := <-waited; st != status.SEC_I_CONTINUE_NEEDED || ran.Load() != 1 || inline.Load() {
			t.Errorf("after the slot freed: %v, ran %d times, inline %v", st, ran.Load(), inline.Load())
		}
		blocker.Free()

		// Free completes a parked call as cancelled without running it.
		var other Op
		parked(&other)
		other.Free()
		if ran.Load() != 0 {
			t.Error("freed parked call ran")
		}
		if s := e.Stats(); s != (Stats{}) {
			t.Errorf("stats after the calls: %+v", s)
		}
		// No goroutine of the bubble outlives the calls: synctest.Test
		// fails if one is left blocked when the function returns.
		o.Free()
	})
}

// An Op used outside a testing/synctest bubble, then inside one, then
// outside again keeps working: its timer is never touched from the wrong
// side (the runtime would end the program), and a timer it dropped does
// not run a call from the other side.
func TestParkedOpAcrossBubbles(t *testing.T) {
	const d = time.Millisecond
	e := New(Limits{StartDelay: d}, nil)
	var ran atomic.Int32
	fn := func(context.Context) status.Status {
		ran.Add(1)
		return status.SEC_E_OK
	}
	base := runtime.NumGoroutine()
	var o Op
	defer func() {
		// Let the timers this test dropped fire, so that their
		// goroutines do not show up in later tests' counts.
		o.Free()
		time.Sleep(2 * d)
		for start := time.Now(); runtime.NumGoroutine() > base && time.Since(start) < 10*time.Second; {
			time.Sleep(d)
		}
	}()
	mustStart(t, &o, e, nil, CPU, fn)
	if st := o.Wait(context.Background()); st != status.SEC_E_OK {
		t.Fatal(st)
	}
	synctest.Test(t, func(t *testing.T) {
		ran.Store(0)
		mustStart(t, &o, e, nil, CPU, fn)
		time.Sleep(d)
		synctest.Wait()
		if ran.Load() != 1 || o.Status() != status.SEC_E_OK {
			t.Errorf("in the bubble: ran %d times, status %v", ran.Load(), o.Status())
		}
		mustStart(t, &o, e, nil, CPU, fn)
		o.Wait(context.Background())
	})
	mustStart(t, &o, e, nil, CPU, fn)
	if st := o.Wait(context.Background()); st != status.SEC_E_OK {
		t.Fatal(st)
	}
	ran.Store(0)
	mustStart(t, &o, e, nil, CPU, fn)
	for start := time.Now(); ran.Load() == 0 && time.Since(start) < 10*time.Second; {
		time.Sleep(d)
	}
	if ran.Load() != 1 {
		t.Error("after the bubble, a parked call nobody asked about did not start")
	}
	<-o.Done()
}

// md5Work hashes n blocks: a stand-in for a handshake leg's work.
func md5Work(n int) {
	var buf [64]byte
	for range n {
		sum := md5.Sum(buf[:])
		buf[0] ^= sum[0]
	}
}

// BenchmarkWakeCost is why the engine parks calls: it runs units of MD5
// work (80 blocks, 10 to 20 µs) alone and, interleaved, each preceded by
// the start of a goroutine that does nothing (every=1), or by one every
// few units, or preceded by moving two timers forward as parked calls do
// (every=timer), and reports the slowdown of the same work: the median
// over pairs of batches (ratio) and the ratio of the total times
// (mean-ratio), which the slowdown's bursts weigh on more. A
// goroutine started while the other processor is idle makes the runtime
// wake an OS thread, whose activity slows the one doing the work.
func BenchmarkWakeCost(b *testing.B) {
	for _, every := range []int{1, 4, 16, 64, 0} {
		name := fmt.Sprintf("every=%d", every)
		if every == 0 {
			name = "every=timer"
		}
		b.Run(name, func(b *testing.B) {
			t1 := time.AfterFunc(time.Hour, func() {})
			t2 := time.AfterFunc(time.Hour, func() {})
			defer t1.Stop()
			defer t2.Stop()
			var spent [2]time.Duration
			var ratios []float64
			i := 0
			for b.Loop() {
				var pair [2]time.Duration
				for k := range 2 {
					t0 := time.Now()
					for range 16 {
						if k == 1 {
							switch i++; {
							case every == 0:
								t1.Reset(time.Millisecond)
								t2.Reset(time.Millisecond)
							case i%every == 0:
								go func() {}()
							}
						}
						md5Work(80)
					}
					pair[k] = time.Since(t0)
					spent[k] += pair[k]
				}
				ratios = append(ratios, float64(pair[1])/float64(pair[0]))
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "ratio")
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "mean-ratio")
			b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N*16), "ns/unit")
		})
	}
}

// Many goroutines issue calls on an engine that parks them and learn of
// their completion in every way at once: Wait, Done, polling Status, a
// callback registered after the call was issued, the timer, or Free.
// Each call runs at most once (never after a Free that found it parked or
// queued), each status turns final, and the engine ends idle with no
// goroutine left.
func TestParkedCallsStress(t *testing.T) {
	e := New(Limits{CPU: 2, StartDelay: 50 * time.Microsecond}, nil)
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
					// The timer may have run the call already, and then
					// the callback does not run for it.
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
					// Nobody asks: the timer starts it.
					for ran.Load() == 0 {
						time.Sleep(20 * time.Microsecond)
					}
					<-o.Done()
					final("timer")
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
