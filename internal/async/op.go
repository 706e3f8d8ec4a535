package async

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosspi/sspi/status"
)

// Errors of [Op.Start] and [Op.Reinit].
var (
	// ErrInvalid: the Op is nil or freed.
	ErrInvalid = errors.New("async: invalid or freed async context")
	// ErrPending: the Op has a call that has not completed.
	ErrPending = errors.New("async: a call is still pending on this async context")
)

// opState is the life cycle of an Op.
type opState uint8

const (
	idle    opState = iota // no call since creation or the last Reinit
	pending                // a call is queued or running
	done                   // the last call completed; its status is final
)

// closed is the Done channel of an Op with no pending call.
var closed = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Op tracks one call at a time, as SspiAsyncContext does: it is idle, then
// pending while a call is queued or running, then done once the call's
// status is final. Its methods are safe for concurrent use and a nil *Op
// behaves as a freed one. The zero Op is idle.
type Op struct {
	st    atomic.Uint32 // the status.Status of the last call; SEC_E_OK when idle
	freed atomic.Bool   // set by Free

	mu       sync.Mutex
	state    opState       // guarded by mu
	done     chan struct{} // guarded by mu; made by the first Done of a call, closed when it completes
	cur      *call         // guarded by mu; the pending call
	onNotify func()        // guarded by mu; the notify callback

	spare atomic.Pointer[spare] // the goroutine started for the last call (see Engine.start)

	// parked is the pending call when it may start but has no goroutine
	// (see parkLocked); whoever swaps it out starts or runs it.
	parked    atomic.Pointer[call]
	timer     *time.Timer   // guarded by mu; starts the parked call when nobody asks for it
	timerFake bool          // guarded by mu; timer was made in a testing/synctest bubble
	deadline  time.Duration // guarded by mu; when timer fires, since epoch
}

// Start issues fn on e as the Op's call: SspiXxxAsync. key orders it with
// the other calls on the same security context (nil: no ordering) and
// class says which allowance it counts against. fn runs on an engine
// goroutine with a context that ends when parent ends or the Op is freed;
// fn writes its outputs before returning its status.
//
// Start returns ErrInvalid for a nil or freed Op and ErrPending while the
// Op's previous call has not completed; nothing is queued then. Otherwise
// the Op is pending when Start returns. A completed Op need not be Reinit
// first: Start resets it as Reinit would.
func (o *Op) Start(parent context.Context, e *Engine, key any, class Class, fn func(context.Context) status.Status) error {
	return o.StartRunner(parent, e, key, class, Func(fn), nil)
}

// A Runner is the work of a call: Run is fn of [Op.Start].
type Runner interface {
	Run(ctx context.Context) status.Status
}

// Func makes a function a [Runner].
type Func func(context.Context) status.Status

// Run calls f.
func (f Func) Run(ctx context.Context) status.Status { return f(ctx) }

// StartRunner is [Op.Start] with the work given as a Runner, which lets a
// caller issue calls without allocating a closure for each: the Runner
// may be a value kept with the Op, such as the async context itself. If
// setup is not nil it runs once Start has accepted the call, with the
// Op's lock held, before the call is queued; the caller stores there what
// Run will read, knowing that no other call of the Op is pending. When
// Start refuses the call, setup does not run.
func (o *Op) StartRunner(parent context.Context, e *Engine, key any, class Class, run Runner, setup func()) error {
	if o == nil {
		return ErrInvalid
	}
	if class >= numClasses {
		class = CPU
	}
	o.mu.Lock()
	if o.freed.Load() {
		o.mu.Unlock()
		return ErrInvalid
	}
	if o.state == pending {
		o.mu.Unlock()
		return ErrPending
	}
	if setup != nil {
		setup()
	}
	c := &call{e: e, op: o, key: key, class: class, run: run, parent: parent, holding: noClass}
	if parent.Done() != nil {
		if err := parent.Err(); err != nil {
			c.err.Store(errPointer(err))
		} else {
			c.stop = context.AfterFunc(parent, func() {
				c.cancel(parent.Err())
				e.dequeue(c)
			})
		}
	}
	// Done is made when asked for: a caller driven by the callback never
	// needs it.
	o.state, o.cur, o.done = pending, c, nil
	o.st.Store(uint32(status.SEC_I_ASYNC_CALL_PENDING))
	d := time.Duration(e.startDelay.Load())
	switch e.submit(c, d > 0 && o.onNotify == nil) {
	case admitted:
		o.mu.Unlock()
		e.start(c)
	case parkedAt:
		o.parkLocked(c, d)
		o.mu.Unlock()
	default:
		o.mu.Unlock()
	}
	return nil
}

// publish makes st the final status of the pending call, closes Done and
// returns the notify callback to run (nil when there is none or the Op was
// freed meanwhile).
func (o *Op) publish(st status.Status) (notify func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.st.Store(uint32(st))
	o.state, o.cur = done, nil
	if o.done != nil {
		close(o.done)
		o.done = nil
	}
	if o.freed.Load() {
		return nil
	}
	return o.onNotify
}

// Status returns SEC_I_ASYNC_CALL_PENDING while a call is pending, then the
// call's status (SspiGetAsyncCallStatus); SEC_E_OK before the first call
// and after Reinit; SEC_E_INVALID_HANDLE for a nil or freed Op. It gives a
// parked call (see parkLocked) a goroutine.
func (o *Op) Status() status.Status {
	if o == nil || o.freed.Load() {
		return status.SEC_E_INVALID_HANDLE
	}
	if o.parked.Load() != nil {
		// A caller that polls does not run the call itself.
		o.unpark()
	}
	return status.Status(o.st.Load())
}

// Done returns a channel closed when the pending call completes, after its
// status is final. With no call pending it returns a closed channel. Each
// call closes its channel exactly once. It gives a parked call (see parkLocked)
// a goroutine.
func (o *Op) Done() <-chan struct{} {
	if o == nil {
		return closed
	}
	o.mu.Lock()
	ch := o.doneLocked()
	o.mu.Unlock()
	o.unpark()
	return ch
}

// doneLocked is Done with o.mu held.
func (o *Op) doneLocked() <-chan struct{} {
	if o.state != pending {
		return closed
	}
	if o.done == nil {
		o.done = make(chan struct{})
	}
	return o.done
}

// Wait blocks until the pending call completes and returns Status, or
// until ctx ends and returns SEC_I_ASYNC_CALL_PENDING. Ending ctx does not
// cancel the call.
//
// When ctx can never end and no notify callback is registered, the
// waiting goroutine runs the call itself if it may start and no engine
// goroutine has begun it (it then blocks exactly as long as it would
// have); this saves two goroutine switches per call.
func (o *Op) Wait(ctx context.Context) status.Status {
	if ctx.Done() == nil && o != nil {
		// Swapping a parked call out makes it the caller's, without a
		// lock: nothing else has been given it.
		if c := o.parked.Load(); c != nil && o.parked.CompareAndSwap(c, nil) && c.e.admitParked(c) {
			c.taken.Store(true)
			c.e.runTaken(c)
			return o.Status()
		}
		o.mu.Lock()
		c := o.cur
		if o.onNotify != nil {
			c = nil
		}
		o.mu.Unlock()
		if c != nil && c.e.runInline(c) {
			// The call ran here and its status is final.
			return o.Status()
		}
	}
	select {
	case <-o.Done():
		return o.Status()
	case <-ctx.Done():
		return status.SEC_I_ASYNC_CALL_PENDING
	}
}

// SetNotify registers fn (nil to remove) as the callback run once after
// each later call completes, on the engine goroutine, after the outputs
// and the status are final (SspiSetAsyncNotifyCallback). It returns
// ErrInvalid for a nil or freed Op. Registering a callback gives a parked
// call (see parkLocked) a goroutine.
func (o *Op) SetNotify(fn func()) error {
	if o == nil {
		return ErrInvalid
	}
	o.mu.Lock()
	if o.freed.Load() {
		o.mu.Unlock()
		return ErrInvalid
	}
	o.onNotify = fn
	o.mu.Unlock()
	if fn != nil {
		o.unpark()
	}
	return nil
}

// HasNotify reports whether a callback is registered
// (SspiAsyncContextRequiresNotify).
func (o *Op) HasNotify() bool {
	if o == nil {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.freed.Load() && o.onNotify != nil
}

// Reinit makes a completed Op idle again, keeping its callback
// (SspiReinitAsyncContext). It returns ErrPending while a call is pending
// and ErrInvalid for a nil or freed Op.
func (o *Op) Reinit() error {
	if o == nil {
		return ErrInvalid
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.freed.Load():
		return ErrInvalid
	case o.state == pending:
		return ErrPending
	}
	o.state = idle
	o.st.Store(uint32(status.SEC_E_OK))
	return nil
}

// Free frees the Op (SspiFreeAsyncContext). A pending call is cancelled:
// a queued one never runs, a running one sees its context end. Free
// returns once that call has completed, so nothing the engine does touches
// the call's outputs or the Op afterwards and its callback never runs.
// Later calls on the Op fail with ErrInvalid and Status gives
// SEC_E_INVALID_HANDLE. Free on a nil or freed Op does nothing.
//
// A notify callback that has already started when Free is called (Free
// called from the callback itself, or racing with it from another
// goroutine) runs to its end; Free does not wait for it.
func (o *Op) Free() {
	if o == nil {
		return
	}
	o.mu.Lock()
	c, ch := o.cur, o.doneLocked()
	if o.freed.Swap(true) {
		// Freed already, perhaps by a Free still waiting for the call.
		o.mu.Unlock()
		if c != nil {
			<-ch
		}
		return
	}
	o.onNotify = nil
	if _, fake := sinceEpoch(); o.timer != nil && o.timerFake == fake {
		o.timer.Stop()
	}
	o.mu.Unlock()
	if c == nil {
		return
	}
	c.cancel(context.Canceled)
	c.e.dequeue(c) // a queued or parked call completes here, as cancelled
	o.parked.CompareAndSwap(c, nil)
	<-ch
}

// parkLocked parks c, the Op's pending call, just issued and first for
// its key, with o.mu held: c keeps its place on its key but takes no slot
// and no goroutine while nothing waits for it (no callback is registered,
// and nobody has asked for Done yet). The goroutine that waits for it
// runs it ([Op.Wait]); Done, Status, SetNotify and Free give it a
// goroutine (Free: completes it as cancelled); if none of these comes,
// the Op's timer does, after d. A caller that issues a call and waits for
// it thus has it run on its own goroutine without any other being woken:
// starting a goroutine while a processor is idle makes the Go runtime
// wake an OS thread, which on small machines costs more than a short
// handshake step.
func (o *Op) parkLocked(c *call, d time.Duration) {
	o.parked.Store(c)
	// One timer per Op, pushed back when it would fire less than d/2 from
	// now, so that a parked call starts between d/2 and d after it was
	// parked: a timer that has not fired is moved rather than added
	// again, which wakes no thread, and most calls do not touch it at
	// all. A timer made in a testing/synctest bubble may not be touched
	// from outside it (and one made outside would not follow the bubble's
	// clock), so an Op used on both sides gets a new timer; the old one
	// fires for nothing.
	now, fake := sinceEpoch()
	switch {
	case o.timer == nil || o.timerFake != fake:
		o.timer, o.timerFake = time.AfterFunc(d, o.fire), fake
	case o.deadline-now >= d/2:
		return
	default:
		o.timer.Reset(d)
	}
	o.deadline = now + d
}

// epoch is what the Ops' timer deadlines count from: a reading taken
// outside any testing/synctest bubble, when the package is initialised.
var epoch = time.Now()

// sinceEpoch returns the time since epoch on the calling goroutine's
// clock, and whether that clock is a synctest bubble's. Outside a bubble
// it reads only the monotonic clock. A bubble's clock starts in 2000,
// before epoch, so inside one the time since epoch is negative.
func sinceEpoch() (now time.Duration, fake bool) {
	now = time.Since(epoch)
	return now, now < 0
}

// fire is the body of the Op's timer: it runs the parked call, if any.
func (o *Op) fire() {
	_, fake := sinceEpoch()
	o.mu.Lock()
	current := fake == o.timerFake
	o.mu.Unlock()
	if !current {
		// A timer the Op dropped when it moved into or out of a synctest
		// bubble: the parked call, if any, is not this goroutine's to run.
		return
	}
	if c := o.parked.Swap(nil); c != nil && c.e.admitParked(c) {
		c.e.run(c, false)
	}
}

// unpark gives the parked call, if any, its slot and a goroutine (or a
// place in the queue for a slot).
func (o *Op) unpark() {
	if c := o.parked.Swap(nil); c != nil && c.e.admitParked(c) {
		c.e.start(c)
	}
}
