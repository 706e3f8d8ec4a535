// Package async is the engine under the root package's asynchronous SSPI
// family (SspiInitializeSecurityContextAsyncW and its siblings). It runs
// synchronous calls on goroutines with three guarantees:
//
//   - Ordering: calls that share a key (the security context they work on)
//     run one at a time, in the order they were issued; calls with different
//     keys, or with no key, run in parallel.
//   - Bounded work: at most [Limits].CPU calls compute at once, and at most
//     [Limits].Network calls wait on the network at once. The two allowances
//     are separate, so calls stuck on a slow KDC never hold the slots that
//     local handshakes need. A call is network-bound when it is issued with
//     [Network] or when it says so while running with [NetworkBound].
//   - No idle work: a queued call is an entry in a list, not a goroutine. A
//     call gets a goroutine when it may run; that goroutine publishes the
//     result and runs the notify callback, then runs the next call or, while
//     other calls run, waits for one (reusing goroutines keeps their grown
//     stacks). When no call runs, every engine goroutine ends: an idle
//     Engine has no goroutines at all. Nothing polls.
//
// With [Limits].StartDelay set, a call issued first for its key while
// nothing waits for it (no notify callback; nobody can have asked for
// Done yet) is parked: it keeps its place on its key but takes no slot and
// no goroutine. [Op.Wait] with a context that never ends then runs it on
// the waiting goroutine once it has a slot; Done, Status and SetNotify
// give it a slot (or a place in the queue for one) and a goroutine, Free
// completes it as cancelled; if none of them comes, a timer of its Op
// starts it after the delay. A call that waits behind another on its key
// or for a slot is started as soon as it may run. Starting a goroutine while a
// processor is idle makes the Go runtime wake an OS thread for it, and on
// a machine with few cores that thread slows the one doing the work by
// more than a short call costs; a caller that issues and then waits wakes
// nothing. Without a start delay every call gets a goroutine as soon as
// it may run, and a waiter that finds it not yet begun still runs it
// itself (the goroutine started for it then serves the Op's next call, so
// a caller that issues and waits in a loop leaves at most one behind per
// async context).
//
// Cost per call: the call record (Done's channel only if asked for; no
// context.WithCancel), and the timer of its Op moved forward at most once
// per half delay. New goroutines grow their stack once, up front, when
// calls are known to go deep. See BENCHMARKS.md.
//
// [Op] is the per-async-context state (SspiAsyncContext): idle, pending,
// done or freed, with the status, the Done channel and the callback.
package async

import (
	"container/list"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gosspi/sspi/status"
)

// Class says which allowance a call counts against.
type Class uint8

const (
	// CPU is a call that computes: a handshake step, a credential lookup.
	CPU Class = iota
	// Network is a call that waits on a peer, such as a KDC exchange.
	Network

	numClasses
	noClass Class = numClasses // a call that holds no slot
)

// DefaultNetworkLimit is the number of network-bound calls that may wait at
// once when [Limits].Network is not set.
const DefaultNetworkLimit = 64

// Limits bounds the work an [Engine] runs at once.
type Limits struct {
	// CPU is the number of CPU-bound calls that may run at once.
	// Zero or less means runtime.GOMAXPROCS(0) at the time the limits are set.
	CPU int
	// Network is the number of network-bound calls that may run at once.
	// Zero or less means DefaultNetworkLimit.
	Network int
	// StartDelay is how long a call that may start, and that nobody is
	// waiting for yet, is kept without a goroutine (see Engine). Zero or
	// less starts every call on a goroutine at once.
	StartDelay time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.CPU <= 0 {
		l.CPU = runtime.GOMAXPROCS(0)
	}
	if l.Network <= 0 {
		l.Network = DefaultNetworkLimit
	}
	return l
}

// Engine runs calls with per-key ordering and bounded concurrency. It is
// safe for concurrent use. The zero Engine is not usable; call [New].
type Engine struct {
	// The fields that every call touches come first, so that they share
	// as few cache lines as possible.
	mu       sync.Mutex
	active   int // guarded by mu: calls that hold a slot
	busyKeys int // guarded by mu: keys with a call started or waiting for a slot
	queued   int // guarded by mu: calls queued behind another with the same key

	startDelay atomic.Int64 // Limits.StartDelay, in nanoseconds; 0: start at once

	// deepStacks is set once a call has grown the stack of the fresh
	// goroutine it ran on; from then on new goroutines reserve their
	// stack before their first call (see reserveStack).
	deepStacks atomic.Bool

	pools [numClasses]pool // guarded by mu

	// keys holds the state of each busy key other than a *Key, which
	// holds its own.
	keys map[any]*Key // guarded by mu
	idle []*worker    // guarded by mu: goroutines waiting for a call

	onPanic func(any) // constant; may be nil
}

// Key is an ordering key that holds its own queue, so that issuing a call
// with it needs no map lookup: embed a Key in the object whose calls it
// orders (a security context) and issue them with its address. Any other
// comparable value is a key too. The zero Key is ready to use.
type Key struct {
	busy  bool       // guarded by Engine.mu: a call with the key has started or waits for a slot
	queue *list.List // guarded by Engine.mu: the calls issued behind it; kept for reuse
}

// A spare is the goroutine started for a call of an Op, as long as it has
// not yet looked for its work. Its slot holds that call; when the call's
// waiter runs it instead, the slot is emptied, and the Op's next call
// that needs a goroutine goes into the slot rather than starting another
// (see start). The goroutine closes the slot when it runs, taking what
// it holds. Spares are per Op, not per Engine: a goroutine only ever runs
// calls of the Op it was started for, so one started outside a
// testing/synctest bubble never runs a call issued inside one.
type spare struct {
	e    *Engine
	slot atomic.Pointer[call] // nil: empty; closedSlot: the goroutine has run
}

// closedSlot marks a spare whose goroutine has taken its slot.
var closedSlot = new(call)

// pool is one allowance: a count of slots in use and the FIFO of what waits
// for one, each entry a *call (not started yet) or a *slotWaiter (a running
// call that moves to another class).
type pool struct {
	limit, running int
	wait           list.List
}

// worker is a goroutine that has finished a call and waits for the next
// one while the engine is busy. Reusing it keeps its grown stack: a fresh
// goroutine would grow its stack again for every handshake step.
type worker struct {
	next chan *call // buffered (1): the call to run; closed to make it exit
}

// slotWaiter is a running call blocked in NetworkBound until a slot frees.
type slotWaiter struct {
	ch      chan struct{} // closed when granted
	granted bool          // guarded by Engine.mu
	elem    *list.Element // guarded by Engine.mu; nil once granted
}

// callState is where a call is; guarded by Engine.mu.
type callState uint8

const (
	unsubmitted callState = iota // issued, not yet handed to the engine
	queuedKey                    // behind another call with the same key
	queuedSlot                   // first for its key, waiting for a slot
	parked                       // first for its key, with no slot yet: parked on its Op
	running                      // has a slot, and a goroutine or a waiter to run it
	finished                     // completed, or removed from its queue
)

// call is one unit of work, and the context its fn runs with (see the
// context methods below).
type call struct {
	e      *Engine
	op     *Op
	key    any // comparable; nil means unordered
	run    Runner
	parent context.Context
	stop   func() bool // stops the AfterFunc watching parent; nil when parent never ends

	// The call's own cancellation, made lazily: most calls are never
	// cancelled and nobody asks for their Done channel, so a call costs
	// no context.WithCancel.
	cmu       sync.Mutex
	done      chan struct{}         // guarded by cmu; made by the first Done, closed by cancel
	err       atomic.Pointer[error] // set once by cancel
	doneAsked atomic.Bool           // Done has been called: cancel must close done

	taken atomic.Bool // a goroutine has begun running it (see take)
	class Class       // the class it was issued with

	// guarded by e.mu (the fields are ordered to keep a call in 128 bytes)
	state   callState
	holding Class         // the slot it holds while running (noClass if none)
	elem    *list.Element // its entry in a key queue or a pool's wait list
	queue   *list.List    // the list elem belongs to
}

// New returns an Engine with the given limits. onPanic, if not nil,
// receives the value of any panic recovered from a call or a notify
// callback; the engine survives either way.
func New(limits Limits, onPanic func(any)) *Engine {
	e := &Engine{onPanic: onPanic, keys: make(map[any]*Key)}
	e.setLimitsLocked(limits)
	return e
}

// Limits returns the limits in force, with defaults applied.
func (e *Engine) Limits() Limits {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Limits{CPU: e.pools[CPU].limit, Network: e.pools[Network].limit, StartDelay: time.Duration(e.startDelay.Load())}
}

// SetLimits changes the limits. Raising a limit starts waiting calls at
// once; lowering one lets running calls finish and starts no new ones until
// the count drops below it.
func (e *Engine) SetLimits(limits Limits) {
	e.mu.Lock()
	e.setLimitsLocked(limits)
	var start []*call
	for cl := range numClasses {
		start = e.grantLocked(cl, start)
	}
	e.mu.Unlock()
	e.launch(start)
}

func (e *Engine) setLimitsLocked(l Limits) {
	l = l.withDefaults()
	e.pools[CPU].limit = l.CPU
	e.pools[Network].limit = l.Network
	e.startDelay.Store(int64(max(l.StartDelay, 0)))
}

// Stats is a snapshot of an Engine's load.
type Stats struct {
	Running [numClasses]int // slots in use, by Class
	Waiting [numClasses]int // calls and running calls waiting for a slot, by Class
	Keys    int             // keys with a call running or queued
	Queued  int             // calls queued behind another call with the same key
}

// Stats returns a snapshot of the engine's load.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s Stats
	for cl := range numClasses {
		s.Running[cl] = e.pools[cl].running
		s.Waiting[cl] = e.pools[cl].wait.Len()
	}
	s.Keys, s.Queued = e.busyKeys, e.queued
	return s
}

// What submit did with a call.
type admission uint8

const (
	queued   admission = iota // queued behind its key or for a slot, or completed at once
	admitted                  // holds its slot: the caller must start it
	parkedAt                  // first for its key, parked: the caller must park it on its Op
)

// submit queues c behind the calls with its key, or, if park is set,
// parks it as first for its key without a slot, or gives it a slot, or
// queues it for one. A call whose context has already ended completes
// without running. The caller holds c's Op's lock: the Op's lock comes
// before the engine's.
func (e *Engine) submit(c *call, park bool) admission {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.Err() != nil {
		// Complete it on a goroutine of its own: the callback never runs
		// on the goroutine that issued the call.
		c.state = finished
		go c.complete(canceledStatus(c))
		return queued
	}
	if !e.enterKeyLocked(c) {
		return queued
	}
	if park {
		c.state = parked
		return parkedAt
	}
	var buf [1]*call // keeps start off the heap
	if len(e.admitLocked(c, buf[:0])) > 0 {
		return admitted
	}
	return queued
}

// admitParked gives c, a call taken off its Op's parked slot, a slot of
// its class, and reports whether it has one and may run at once. If not,
// c waits for a slot and is started on a goroutine when one frees; it
// also does not run if Free has dequeued it meanwhile.
func (e *Engine) admitParked(c *call) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.state != parked {
		return false
	}
	var buf [1]*call
	return len(e.admitLocked(c, buf[:0])) > 0
}

// admitLocked gives c, the first call of its key, a slot of its class if
// one is free (appending it to start) or queues it for one.
func (e *Engine) admitLocked(c *call, start []*call) []*call {
	p := &e.pools[c.class]
	if p.running < p.limit && p.wait.Len() == 0 {
		p.running++
		c.state, c.holding = running, c.class
		e.active++
		return append(start, c)
	}
	c.state, c.queue, c.elem = queuedSlot, &p.wait, p.wait.PushBack(c)
	return start
}

// grantLocked hands the free slots of class cl to the front of its wait
// list, appending calls that may now start to start.
func (e *Engine) grantLocked(cl Class, start []*call) []*call {
	p := &e.pools[cl]
	for p.running < p.limit && p.wait.Len() > 0 {
		p.running++
		switch w := p.wait.Remove(p.wait.Front()).(type) {
		case *call:
			w.state, w.holding, w.queue, w.elem = running, cl, nil, nil
			e.active++
			start = append(start, w)
		case *slotWaiter:
			w.granted, w.elem = true, nil
			close(w.ch)
		}
	}
	return start
}

// releaseLocked gives back the slot of class cl.
func (e *Engine) releaseLocked(cl Class, start []*call) []*call {
	if cl == noClass {
		return start
	}
	e.pools[cl].running--
	return e.grantLocked(cl, start)
}

// advanceLocked lets the next call with key run after the current one
// finished or left its queue.
func (e *Engine) advanceLocked(key any, start []*call) []*call {
	k := e.keyLocked(key, false)
	if k == nil {
		return start
	}
	if k.queue == nil || k.queue.Len() == 0 {
		k.busy = false
		e.busyKeys--
		if _, own := key.(*Key); !own {
			delete(e.keys, key)
		}
		return start
	}
	next := k.queue.Remove(k.queue.Front()).(*call)
	next.queue, next.elem = nil, nil
	e.queued--
	return e.admitLocked(next, start)
}

// enterKeyLocked makes c's key busy and reports true when no other call
// with it has started or waits for a slot; otherwise it queues c behind
// the calls with the key and reports false.
func (e *Engine) enterKeyLocked(c *call) bool {
	k := e.keyLocked(c.key, true)
	switch {
	case k == nil:
		return true
	case !k.busy:
		k.busy = true
		e.busyKeys++
		return true
	}
	if k.queue == nil {
		k.queue = list.New()
	}
	c.state, c.queue, c.elem = queuedKey, k.queue, k.queue.PushBack(c)
	e.queued++
	return false
}

// keyLocked returns the state of key: key itself for a *Key, nil for no
// key, and for any other key the Key the engine keeps for it in its map
// while the key is busy (made if create is set).
func (e *Engine) keyLocked(key any, create bool) *Key {
	switch k := key.(type) {
	case nil:
		return nil
	case *Key:
		return k
	}
	k := e.keys[key]
	if k == nil && create {
		k = new(Key)
		e.keys[key] = k
	}
	return k
}

// launch gives each call of start a goroutine. Calls are parked only
// when issued (see Op.StartRunner): one that waited behind another call
// or for a slot starts at once when it may.
func (e *Engine) launch(start []*call) {
	for _, c := range start {
		e.start(c)
	}
}

// start gives c a goroutine: an idle worker, the spare of its Op (a
// goroutine started for the Op's previous call, which that call's waiter
// ran itself, and which has not run yet), or a new one. Without the
// spare, a goroutine that issues and waits for calls in a loop while no
// other processor is free would leave one unstarted goroutine behind per
// call until it was preempted (thousands at GOMAXPROCS=1).
func (e *Engine) start(c *call) {
	if testHookStart != nil {
		testHookStart(c)
	}
	e.mu.Lock()
	var w *worker
	if n := len(e.idle); n > 0 {
		w = e.idle[n-1]
		e.idle[n-1] = nil
		e.idle = e.idle[:n-1]
	}
	e.mu.Unlock()
	if w != nil {
		w.next <- c // never blocks: one send per wait
		return
	}
	if sp := c.op.spare.Load(); sp != nil && sp.e == e && sp.slot.CompareAndSwap(nil, c) {
		return
	}
	sp := &spare{e: e}
	sp.slot.Store(c)
	c.op.spare.Store(sp)
	go e.runSpare(sp)
}

// testHookStart, when set by a test, is called for each call given a
// goroutine (or a waiting worker) by start.
var testHookStart func(*call)

// runSpare is the body of a goroutine started by start: it closes its
// slot and runs the call it held, unless that call's waiter took it.
func (e *Engine) runSpare(sp *spare) {
	c := sp.slot.Swap(closedSlot)
	if c != nil {
		e.run(c, false)
	}
}

// run is the body of an engine goroutine. It runs c, then the calls that
// c's end let start when c has no callback, then waits as an idle worker
// for the next call while the engine has calls running, and ends when the
// engine goes idle. A call with a callback never hands its goroutine on
// directly: the callback may block until a later call completes, which
// must not wait behind it. taken says that the caller has taken c
// already.
func (e *Engine) run(c *call, taken bool) {
	var w *worker
	fresh, reserved := true, false // fresh: the stack is as the runtime made it
	for {
		var stay bool
		for c != nil {
			if !taken && !e.take(c) {
				// Its waiter ran it (runInline); the engine has this
				// goroutine to spare.
				return
			}
			if !reserved {
				reserved = true
				if e.deepStacks.Load() {
					reserveStack()
					fresh = false
				}
			}
			c, stay = e.runOne(c, fresh)
			fresh, taken = false, false
		}
		if !stay {
			return
		}
		e.mu.Lock()
		if e.active == 0 {
			e.mu.Unlock()
			return
		}
		if w == nil {
			w = &worker{next: make(chan *call, 1)}
		}
		e.idle = append(e.idle, w)
		e.mu.Unlock()
		var ok bool
		if c, ok = <-w.next; !ok {
			return
		}
	}
}

// runOne runs c and completes it. It returns the call its goroutine runs
// next, if any, and whether the goroutine may stay to wait for more work.
//
// The engine's books are settled before the status is published: once a
// waiter sees the call complete, the call no longer counts as active, and
// a goroutine that found the engine idle then ends after the callback
// rather than waiting for calls issued later (which start goroutines of
// their own). So no engine goroutine survives the calls it served by
// picking up unrelated later work, and calls issued after the engine went
// idle never run on a goroutine started before. A call that c's end lets
// start is admitted here but launched only after the publication, so the
// calls on one key still run, and complete, in order.
func (e *Engine) runOne(c *call, fresh bool) (next *call, stay bool) {
	st := e.execute(c, fresh)
	var buf [2]*call // keeps start off the heap in the usual cases
	start, stay := e.settle(c, buf[:0])
	notify := c.op.publish(st)
	if len(start) > 0 && notify == nil {
		next, start = start[0], start[1:]
	}
	e.launch(start)

	e.notify(notify)
	return next, stay
}

// take reports whether the goroutine c was handed to (a spare, an idle
// worker, or the goroutine that ran the call before it), which has its
// slot, may run it, and marks c as taken if so. It finds c taken when the goroutine
// waiting for c ran it first (see runInline).
func (e *Engine) take(c *call) bool {
	return c.taken.CompareAndSwap(false, true)
}

// takeInline is take for the goroutine waiting for c, which may call it
// before c has its slot.
func (e *Engine) takeInline(c *call) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.state != running || !c.taken.CompareAndSwap(false, true) {
		return false
	}
	// Free the spare started for c, if it has not run, for the Op's
	// next call.
	if sp := c.op.spare.Load(); sp != nil {
		sp.slot.CompareAndSwap(c, nil)
	}
	return true
}

// execute runs c's fn unless c's context has ended, and ends the context.
func (e *Engine) execute(c *call, fresh bool) (st status.Status) {
	switch {
	case c.Err() != nil:
		st = canceledStatus(c)
	case fresh:
		st = e.invokeWatchingStack(c)
	default:
		st = e.invoke(c)
	}
	c.end()
	return st
}

// settle does the engine's books for c, which has run: it gives back c's
// slot and lets the next call with c's key go. It returns, appended to
// start, the calls that may start now (admitted, to be launched once c's
// status is published), and whether the engine still has calls running.
func (e *Engine) settle(c *call, start []*call) (_ []*call, busy bool) {
	e.mu.Lock()
	c.state = finished
	e.active--
	start = e.releaseLocked(c.holding, start)
	c.holding = noClass
	start = e.advanceLocked(c.key, start)
	var retire []*worker
	if e.active == 0 {
		// The engine is idle: its waiting goroutines end.
		retire, e.idle = e.idle, nil
	}
	busy = e.active > 0
	e.mu.Unlock()
	for _, w := range retire {
		close(w.next)
	}
	return start, busy
}

// runInline runs c on the calling goroutine, which is about to block
// until c completes, when c has its slot and no engine goroutine has
// begun it: the waiter does the work instead of sleeping while another
// goroutine is scheduled to do it, and is woken by nobody. Every rule of
// the engine holds as for a call run by its own goroutine: c runs
// after the calls before it on its key, within the CPU or network
// allowance (it holds its slot), and its status is published after its
// outputs. The goroutine launched for c finds it taken and ends. A notify
// callback (registered while c ran) runs on a goroutine of its own, never
// on the waiter, which may be the goroutine that issued c. It reports
// whether it ran c.
func (e *Engine) runInline(c *call) bool {
	if !e.takeInline(c) {
		return false
	}
	e.runTaken(c)
	return true
}

// runTaken is runInline once c is taken.
func (e *Engine) runTaken(c *call) {
	st := e.execute(c, false)
	var buf [2]*call
	start, _ := e.settle(c, buf[:0])
	notify := c.op.publish(st)
	e.launch(start)
	if notify != nil {
		go e.notify(notify)
	}
}

// invoke runs fn, turning a panic into SEC_E_INTERNAL_ERROR.
func (e *Engine) invoke(c *call) (st status.Status) {
	defer func() {
		if v := recover(); v != nil {
			st = status.SEC_E_INTERNAL_ERROR
			e.panicked(v)
		}
	}()
	return c.run.Run(c)
}

// A call is the context its fn runs with: a child of the parent given to
// Start that ends when the parent ends, when the Op is freed or when the
// call returns, and that holds the call itself under callKey for
// NetworkBound. Being its own context saves context.WithCancel and its
// allocations on every call; its Done channel is made only if asked for.
var _ context.Context = (*call)(nil)

func (c *call) Deadline() (time.Time, bool) { return c.parent.Deadline() }

func (c *call) Done() <-chan struct{} {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	// Announce the channel before looking at err; cancel sets err before
	// looking for the announcement, so one of the two sees the other.
	c.doneAsked.Store(true)
	if c.done == nil {
		if c.err.Load() != nil {
			return closed
		}
		c.done = make(chan struct{})
	}
	return c.done
}

func (c *call) Err() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Value gives the call under callKey; context.Cause finds the parent's
// cause through it, and gets Err when the call was cancelled on its own.
func (c *call) Value(key any) any {
	if key == (callKey{}) {
		return c
	}
	return c.parent.Value(key)
}

// cancel ends the call's context with err (context.Canceled, or the
// parent's error) unless it has ended already.
func (c *call) cancel(err error) {
	if !c.err.CompareAndSwap(nil, errPointer(err)) {
		return
	}
	if c.doneAsked.Load() {
		c.cmu.Lock()
		if c.done != nil {
			close(c.done)
		}
		c.cmu.Unlock()
	}
}

// errPointer returns a pointer to err, without allocating for the errors
// a context ends with.
func errPointer(err error) *error {
	switch err {
	case context.Canceled:
		return &context.Canceled
	case context.DeadlineExceeded:
		return &context.DeadlineExceeded
	}
	p := new(error)
	*p = err
	return p
}

// end ends the call's context once the call has returned or has been
// dropped, and stops watching the parent.
func (c *call) end() {
	if c.stop != nil {
		c.stop()
	}
	c.cancel(context.Canceled)
}

// reserveStack grows the stack of a new engine goroutine, while it is
// still shallow, to the size a handshake step needs. A goroutine starts
// with a small stack and doubles it, copying every frame, each time a
// call goes deeper; a handshake step (NTLM hashing, ASN.1 for Kerberos)
// goes through several doublings, and since the goroutine ends when the
// engine goes idle, a caller issuing one call at a time would pay them on
// every call. One growth at the start copies almost nothing. The engine
// does it only once a call has shown that calls go deep (deepStacks):
// for calls that stay shallow, such as deleting contexts, it would be
// wasted work.
func reserveStack() { stackReserve(0) }

// stackReserve's frame (with the stack guard) does not fit below 8 KiB,
// so the runtime grows the stack to 16 KiB, the largest size it serves
// from its per-P cache.
//
//go:noinline
func stackReserve(i int) byte {
	var frame [7<<10 + 512]byte
	return frame[i]
}

// invokeWatchingStack is invoke on a goroutine whose stack has not been
// reserved. It sets deepStacks when the call grew the stack: the runtime
// then moved the stack, and with it the address of a local variable.
// That address is kept as a uintptr, which the runtime does not adjust
// when it moves the stack.
func (e *Engine) invokeWatchingStack(c *call) status.Status {
	var mark byte
	before := uintptr(unsafe.Pointer(&mark))
	st := e.invoke(c)
	if uintptr(unsafe.Pointer(&mark)) != before {
		e.deepStacks.Store(true)
	}
	return st
}

// notify runs a notify callback, surviving its panic.
func (e *Engine) notify(fn func()) {
	if fn == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			e.panicked(v)
		}
	}()
	fn()
}

func (e *Engine) panicked(v any) {
	if e.onPanic != nil {
		e.onPanic(v)
	}
}

// dequeue removes c from its queue if it has not started, completing it
// with the cancellation status. It reports whether c was removed.
func (e *Engine) dequeue(c *call) bool {
	e.mu.Lock()
	var start []*call
	switch c.state {
	case queuedKey:
		c.queue.Remove(c.elem)
		e.queued--
	case queuedSlot:
		c.queue.Remove(c.elem)
		start = e.advanceLocked(c.key, start)
	case parked:
		start = e.advanceLocked(c.key, start)
	default:
		e.mu.Unlock()
		return false
	}
	c.state, c.queue, c.elem = finished, nil, nil
	e.mu.Unlock()
	e.launch(start)
	c.complete(canceledStatus(c))
	return true
}

// complete finishes a call that never ran.
func (c *call) complete(st status.Status) {
	c.end()
	c.e.notify(c.op.publish(st))
}

// canceledStatus is the status of a call whose context ended before it
// could run: what status.Code gives for the context's error.
func canceledStatus(ctx context.Context) status.Status {
	return status.Code(context.Cause(ctx))
}

type callKey struct{}

// NetworkBound is called by code running on the engine just before it
// waits on the network (a KDC exchange, for example). It gives the call's
// CPU slot back and takes a network slot, waiting for one if all are in
// use, so that calls stuck on the network never hold CPU slots. The
// returned function must be called when the wait is over: it gives the
// network slot back and takes a CPU slot again.
//
// Outside the engine (a synchronous call), for a call already issued as
// [Network], and when ctx ends while it waits for a slot, NetworkBound does
// nothing and returns a function that does nothing.
func NetworkBound(ctx context.Context) (done func()) {
	c, ok := ctx.Value(callKey{}).(*call)
	if !ok || c.class == Network {
		return func() {}
	}
	if !c.e.moveSlot(c, CPU, Network) {
		return func() {}
	}
	return func() { c.e.moveSlot(c, Network, CPU) }
}

// moveSlot trades the slot of class from held by the running call c for
// one of class to, waiting for it until c's context ends. It reports
// whether c holds a slot of class to; if not, c holds none and runs on
// without one until it returns.
func (e *Engine) moveSlot(c *call, from, to Class) bool {
	e.mu.Lock()
	if c.holding != from {
		e.mu.Unlock()
		return false
	}
	start := e.releaseLocked(from, nil)
	c.holding = noClass
	p := &e.pools[to]
	if p.running < p.limit && p.wait.Len() == 0 {
		p.running++
		c.holding = to
		e.mu.Unlock()
		e.launch(start)
		return true
	}
	w := &slotWaiter{ch: make(chan struct{})}
	w.elem = p.wait.PushBack(w)
	e.mu.Unlock()
	e.launch(start)

	select {
	case <-w.ch:
	case <-c.Done():
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !w.granted {
		p.wait.Remove(w.elem)
		return false
	}
	c.holding = to
	return true
}
