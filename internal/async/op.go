package async

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

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
}

// Start issues fn on e as the Op's call: SspiXxxAsync. key orders it with
// the other calls on the same security context (nil: no ordering) and
// class says which allowance it counts against. fn runs on a goroutine of
// its own, started at once if its key and a slot allow (or on the
// goroutine waiting for it: see Wait), with a context that ends
// when parent ends or the Op is freed; fn writes its outputs before
// returning its status.
//
// Start returns ErrInvalid for a nil or freed Op and ErrPending while the
// Op's previous call has not completed; nothing is queued then. Otherwise
// the Op is pending when Start returns. A completed Op need not be Reinit
// first: Start resets it as Reinit would.
func (o *Op) Start(parent context.Context, e *Engine, key any, class Class, fn func(context.Context) status.Status) error {
	return o.StartRunner(parent, e, key, class, Func(fn))
}

// A Runner is the work of a call: Run is fn of [Op.Start].
type Runner interface {
	Run(ctx context.Context) status.Status
}

// Func makes a function a [Runner].
type Func func(context.Context) status.Status

// Run calls f.
func (f Func) Run(ctx context.Context) status.Status { return f(ctx) }

// StartRunner is [Op.Start] with the work given as a Runner.
func (o *Op) StartRunner(parent context.Context, e *Engine, key any, class Class, run Runner) error {
	if o == nil {
		return ErrInvalid
	}
	if class >= numClasses {
		class = CPU
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.freed.Load() {
		return ErrInvalid
	}
	if o.state == pending {
		return ErrPending
	}
	c := &call{parent: parent, e: e, op: o, key: key, class: class, run: run}
	switch {
	case parent.Done() == nil:
	case parent.Err() != nil:
		c.err = parent.Err() // submit completes it without running it
	default:
		// The call's context ends with its parent's, and a queued call
		// then completes at once, as cancelled.
		c.stop = context.AfterFunc(parent, func() {
			c.cancel(parent.Err())
			e.dequeue(c)
		})
	}
	// Done's channel is made when asked for: a caller driven by the
	// callback never needs it.
	o.state, o.cur, o.done = pending, c, nil
	o.st.Store(uint32(status.SEC_I_ASYNC_CALL_PENDING))
	e.submit(c)
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
// and after Reinit; SEC_E_INVALID_HANDLE for a nil or freed Op.
func (o *Op) Status() status.Status {
	if o == nil || o.freed.Load() {
		return status.SEC_E_INVALID_HANDLE
	}
	return status.Status(o.st.Load())
}

// Done returns a channel closed when the pending call completes, after its
// status is final. With no call pending it returns a closed channel. Each
// call closes its channel exactly once.
func (o *Op) Done() <-chan struct{} {
	if o == nil {
		return closed
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.doneLocked()
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
// With a ctx that never ends and no notify callback registered, a call
// that holds its slot but that no worker has taken yet runs on the
// waiting goroutine instead (the worker started for it then finds nothing
// to do and ends): the waiter would only block for as long. This saves
// handing the call to another goroutine and back, which costs more than
// a short handshake step when the other processor is busy.
func (o *Op) Wait(ctx context.Context) status.Status {
	if o == nil {
		return status.SEC_E_INVALID_HANDLE
	}
	if ctx.Done() == nil {
		o.mu.Lock()
		c := o.cur
		if o.onNotify != nil {
			c = nil
		}
		o.mu.Unlock()
		if c != nil && c.e.takeForWaiter(c) {
			start, notify := c.e.execute(c)
			c.e.launch(start, false)
			if notify != nil {
				// Registered while c ran: never on the waiter, which
				// may be the goroutine that issued the call.
				go c.e.notify(notify)
			}
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
// each later call completes, on the goroutine that ran the call, after the
// outputs and the status are final (SspiSetAsyncNotifyCallback). A callback
// registered while a call is pending applies to that call. It returns
// ErrInvalid for a nil or freed Op.
func (o *Op) SetNotify(fn func()) error {
	if o == nil {
		return ErrInvalid
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.freed.Load() {
		return ErrInvalid
	}
	o.onNotify = fn
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
// SEC_E_INVALID_HANDLE. Free on a nil or freed Op does nothing more than
// wait for the call, if any, as the first Free does.
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
	first := !o.freed.Swap(true)
	o.onNotify = nil
	o.mu.Unlock()
	if c == nil {
		return
	}
	if first {
		c.cancel(context.Canceled)
		c.e.dequeue(c) // a queued call completes here, as cancelled
	}
	<-ch
}
