// Package async is the engine under the root package's asynchronous SSPI
// family (SspiInitializeSecurityContextAsyncW and its siblings). It runs
// synchronous calls on goroutines with three guarantees:
//
//   - Ordering: calls that share a key (the security context they work on)
//     run one at a time, in the order they were issued; calls with
//     different keys, or with no key, run in parallel.
//   - Bounded work: at most [Limits].CPU calls compute at once, and at most
//     [Limits].Network calls wait on the network at once. The two
//     allowances are separate, so calls stuck on a slow KDC never hold the
//     slots that local handshakes need. A call counts against Network when
//     it is issued with [Network], or while it waits inside [NetworkBound].
//   - Cancellation: each call runs with a context of its own, which ends
//     when the call's [Op] is freed (or the parent context given to
//     [Op.Start] ends). A call that has not begun then never runs.
//
// The design is plain on purpose. A call goes through at most three FIFO
// queues: its key's queue (while another call with its key is admitted),
// its class's wait list (while every slot of its class is in use), and the
// ready list (it holds its slot and waits for a goroutine). A call is
// never delayed on purpose: the moment it reaches the ready list, a worker
// goroutine is started for it unless enough new workers are already on
// their way to the list (Engine.seekers). A worker runs ready calls, each
// followed by its notify callback, and ends when the list is empty, so an
// engine with nothing to run has no goroutines, and nothing polls. The one
// shortcut: a goroutine that blocks in [Op.Wait] for a call still on the
// ready list takes it off and runs it itself (the worker started for it
// finds nothing and ends), which spares two goroutine switches per call.
//
// When a call ends, whoever ran it gives back its slot and its key, which
// admits the next calls, publishes its status (outputs first, then the
// status, then Done, then the callback) and only then puts the admitted
// calls on the ready list, so that the calls of one key also complete in
// order. One mutex (Engine.mu) guards the slots, the queues and the ready
// list; each Op has its own mutex for its status and callback, taken
// before Engine.mu when both are needed.
//
// A worker runs any ready call of its Engine. Under testing/synctest that
// matters: a worker started outside a bubble must not run a call issued
// inside one (the runtime stops the program when it closes the call's
// channels), so a test that issues calls in a bubble uses an Engine made
// for it (the root package's tests swap in a fresh one).
package async

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/gosspi/sspi/packages"
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
	onPanic func(any) // constant; may be nil

	mu       sync.Mutex
	pools    [numClasses]pool // guarded by mu
	keys     map[any]*Key     // guarded by mu: the state of busy keys that are not a *Key
	busyKeys int              // guarded by mu: keys with a call admitted (running or waiting for a slot)
	queued   int              // guarded by mu: calls queued behind another with the same key

	// ready holds, in order, the calls that hold a slot and wait for a
	// goroutine to run them; seekers counts the workers started that have
	// not yet looked at ready (each will, before it blocks on anything).
	// Whoever adds to ready starts workers until seekers >= len(ready),
	// so every ready call is taken: by a worker, or by the goroutine
	// waiting for it (Op.Wait).
	ready   []*call // guarded by mu
	seekers int     // guarded by mu
}

// Key is an ordering key that holds its own queue, so that issuing a call
// with it needs no map: embed a Key in the object whose calls it orders (a
// security context) and issue them with its address. Any other comparable
// value is a key too. The zero Key is ready to use.
type Key struct {
	busy  bool    // guarded by Engine.mu: a call with the key is admitted
	queue []*call // guarded by Engine.mu: the calls issued behind it, in order
}

// pool is one allowance: the slots in use and, in arrival order, the
// calls waiting for one (calls not yet begun, and running calls inside
// NetworkBound).
type pool struct {
	limit, running int
	wait           []*call
}

// callState is where a call is; guarded by Engine.mu.
type callState uint8

const (
	issued     callState = iota // made by Start, not yet submitted
	queuedKey                   // behind another call with the same key
	queuedSlot                  // first for its key, waiting for a slot
	running                     // holds a slot (or, inside NetworkBound, waits for one): on the ready list, or being run
	finished                    // returned, or removed from its queue before running
)

// call is one issued call. It is also the context its Runner runs with:
// a child of the parent given to Start that ends when the parent ends, when
// the Op is freed, or when the call returns (see the context methods
// below; being its own context saves a context.WithCancel per call).
type call struct {
	parent context.Context
	stop   func() bool // stops watching the parent; nil when the parent never ends

	cmu  sync.Mutex
	err  error         // guarded by cmu: set once, when the call's context ends
	done chan struct{} // guarded by cmu: made by the first Done, closed when err is set

	e     *Engine
	op    *Op
	key   any   // comparable; nil means unordered
	class Class // the class of the slot it holds or waits for; changed only by the goroutine running it (moveSlot)
	run   Runner

	// guarded by e.mu
	state   callState
	holding bool          // holds a slot of class
	granted chan struct{} // inside NetworkBound: closed when the slot it waits for is granted
}

// New returns an Engine with the given limits. onPanic, if not nil,
// receives the value of any panic recovered from a call or a notify
// callback; the engine survives either way.
func New(limits Limits, onPanic func(any)) *Engine {
	e := &Engine{onPanic: onPanic, keys: make(map[any]*Key)}
	e.SetLimits(limits)
	return e
}

// Limits returns the limits in force, with defaults applied.
func (e *Engine) Limits() Limits {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Limits{CPU: e.pools[CPU].limit, Network: e.pools[Network].limit}
}

// SetLimits changes the limits. Raising a limit starts waiting calls at
// once; lowering one lets running calls finish and starts no new ones
// until the count drops below it.
func (e *Engine) SetLimits(limits Limits) {
	limits = limits.withDefaults()
	e.mu.Lock()
	e.pools[CPU].limit = limits.CPU
	e.pools[Network].limit = limits.Network
	var start []*call
	for cl := range numClasses {
		start = e.grantLocked(cl, start)
	}
	e.mu.Unlock()
	e.launch(start, false)
}

// Stats is a snapshot of an Engine's load.
type Stats struct {
	Running [numClasses]int // slots in use, by Class
	Waiting [numClasses]int // calls waiting for a slot, by Class
	Keys    int             // keys with a call running or waiting for a slot
	Queued  int             // calls queued behind another call with the same key
}

// Stats returns a snapshot of the engine's load.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s Stats
	for cl := range numClasses {
		s.Running[cl] = e.pools[cl].running
		s.Waiting[cl] = len(e.pools[cl].wait)
	}
	s.Keys, s.Queued = e.busyKeys, e.queued
	return s
}

// submit hands c, just issued, to the engine: it queues c behind the
// calls with its key, or queues it for a slot, or gives it a slot and a
// goroutine. A call whose context has already ended completes without
// running, on a goroutine of its own, so that its callback never runs on
// the issuing goroutine.
func (e *Engine) submit(c *call) {
	e.mu.Lock()
	if c.Err() != nil {
		c.state = finished
		e.mu.Unlock()
		go c.complete()
		return
	}
	var start []*call
	if e.enterKeyLocked(c) {
		start = e.admitLocked(c, nil)
	}
	e.ready = append(e.ready, start...)
	n := e.workersNeededLocked()
	e.mu.Unlock()
	e.startWorkers(n)
}

// enterKeyLocked makes c's key busy and reports true when no other call
// with the key is admitted; otherwise it queues c behind the calls with
// the key and reports false.
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
	k.queue = append(k.queue, c)
	c.state = queuedKey
	e.queued++
	return false
}

// keyLocked returns the state of key: key itself for a *Key, nil for no
// key, and for any other key the Key kept for it in e.keys while it is
// busy (made if create is set).
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

// admitLocked gives c, the first call of its key, a slot of its class if
// one is free and nobody waits for one (appending c to start), or queues
// it for one.
func (e *Engine) admitLocked(c *call, start []*call) []*call {
	p := &e.pools[c.class]
	if p.running < p.limit && len(p.wait) == 0 {
		p.running++
		c.state, c.holding = running, true
		return append(start, c)
	}
	c.state = queuedSlot
	p.wait = append(p.wait, c)
	return start
}

// grantLocked hands the free slots of class cl to the calls waiting for
// one, first come first served, appending those to start on a goroutine
// to start.
func (e *Engine) grantLocked(cl Class, start []*call) []*call {
	p := &e.pools[cl]
	for p.running < p.limit && len(p.wait) > 0 {
		c := p.wait[0]
		p.wait[0] = nil
		p.wait = p.wait[1:]
		p.running++
		c.holding = true
		if c.granted != nil {
			// A running call waiting in NetworkBound.
			close(c.granted)
			c.granted = nil
			continue
		}
		c.state = running
		start = append(start, c)
	}
	return start
}

// releaseLocked gives back the slot of class cl held by c.
func (e *Engine) releaseLocked(c *call, cl Class, start []*call) []*call {
	if !c.holding {
		return start
	}
	c.holding = false
	e.pools[cl].running--
	return e.grantLocked(cl, start)
}

// advanceLocked lets the next call with key in after the admitted one
// finished or left.
func (e *Engine) advanceLocked(key any, start []*call) []*call {
	k := e.keyLocked(key, false)
	if k == nil {
		return start
	}
	if len(k.queue) == 0 {
		k.busy = false
		k.queue = nil
		e.busyKeys--
		if _, own := key.(*Key); !own {
			delete(e.keys, key)
		}
		return start
	}
	next := k.queue[0]
	k.queue[0] = nil
	k.queue = k.queue[1:]
	e.queued--
	return e.admitLocked(next, start)
}

// launch puts the calls of start, which hold their slots, on the ready
// list. With take set, the caller is a worker looking for its next call:
// it gets the first ready call, or nil if there is none (it then ends).
// launch starts a worker for each ready call that no worker will take.
func (e *Engine) launch(start []*call, take bool) (next *call) {
	if len(start) == 0 && !take {
		return nil
	}
	e.mu.Lock()
	e.ready = append(e.ready, start...)
	if take {
		next = e.popReadyLocked()
	}
	n := e.workersNeededLocked()
	e.mu.Unlock()
	e.startWorkers(n)
	return next
}

// workersNeededLocked counts as seekers, and returns, the workers to start
// so that seekers >= len(ready).
func (e *Engine) workersNeededLocked() int {
	n := max(len(e.ready)-e.seekers, 0)
	e.seekers += n
	return n
}

// startWorkers starts n workers, counted as seekers already.
func (e *Engine) startWorkers(n int) {
	for range n {
		go e.run()
	}
}

// popReadyLocked takes the first call off the ready list, if any.
func (e *Engine) popReadyLocked() *call {
	if len(e.ready) == 0 {
		return nil
	}
	c := e.ready[0]
	e.ready[0] = nil
	e.ready = e.ready[1:]
	return c
}

// run is the body of a worker goroutine, counted in seekers when started.
// It runs ready calls, each followed by its notify callback, until none is
// left, and then ends: an engine with nothing to run has no goroutines. A
// callback may block until a later call completes, so a worker puts the
// calls its call's end admitted on the ready list before it runs the
// callback: those calls get workers of their own. Without a callback, it
// takes the next ready call itself.
func (e *Engine) run() {
	e.mu.Lock()
	e.seekers--
	c := e.popReadyLocked()
	e.mu.Unlock()
	for c != nil {
		start, notify := e.execute(c)
		if notify != nil {
			e.launch(start, false)
			e.notify(notify)
			start = nil
		}
		c = e.launch(start, true)
	}
}

// execute runs c, which the caller has taken off the ready list, unless
// c's context has ended meanwhile; gives back c's slot and key; and
// publishes c's status. It returns the calls that c's end admitted, which
// the caller must launch (after the publication, so that the calls of one
// key also complete in order), and the notify callback to run, if any.
func (e *Engine) execute(c *call) (start []*call, notify func()) {
	var st status.Status
	if c.Err() != nil {
		st = canceledStatus(c)
	} else {
		st = e.invoke(c)
	}
	c.end()

	e.mu.Lock()
	c.state = finished
	start = e.releaseLocked(c, c.class, nil)
	start = e.advanceLocked(c.key, start)
	e.mu.Unlock()

	return start, c.op.publish(st)
}

// takeForWaiter takes c off ready for the goroutine waiting for it, if c
// is there: it holds its slot and no worker has taken it yet.
func (e *Engine) takeForWaiter(c *call) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.state != running {
		return false
	}
	i := slices.Index(e.ready, c)
	if i < 0 {
		return false
	}
	e.ready = slices.Delete(e.ready, i, i+1)
	return true
}

// invoke runs c, turning a panic into SEC_E_INTERNAL_ERROR.
func (e *Engine) invoke(c *call) (st status.Status) {
	defer func() {
		if v := recover(); v != nil {
			st = status.SEC_E_INTERNAL_ERROR
			e.panicked(v)
		}
	}()
	return c.run.Run(c)
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

// dequeue removes c from its queue if it has not started, and completes
// it with the cancellation status. It reports whether it did.
func (e *Engine) dequeue(c *call) bool {
	e.mu.Lock()
	var start []*call
	switch c.state {
	case queuedKey:
		k := e.keyLocked(c.key, false)
		k.queue = slices.DeleteFunc(k.queue, func(q *call) bool { return q == c })
		e.queued--
	case queuedSlot:
		p := &e.pools[c.class]
		p.wait = slices.DeleteFunc(p.wait, func(q *call) bool { return q == c })
		start = e.advanceLocked(c.key, start)
	default:
		e.mu.Unlock()
		return false
	}
	c.state = finished
	e.mu.Unlock()
	e.launch(start, false)
	c.complete()
	return true
}

// complete finishes a call that never ran.
func (c *call) complete() {
	c.end()
	c.e.notify(c.op.publish(canceledStatus(c)))
}

// end ends the call's context and stops watching the parent.
func (c *call) end() {
	if c.stop != nil {
		c.stop()
	}
	c.cancel(context.Canceled)
}

// cancel ends the call's context with err unless it has ended already.
func (c *call) cancel(err error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
}

// The context methods of a call.
var _ context.Context = (*call)(nil)

func (c *call) Deadline() (time.Time, bool) { return c.parent.Deadline() }

func (c *call) Done() <-chan struct{} {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *call) Err() error {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.err
}

// canceledStatus is the status of a call whose context ended before it
// could run: what status.Code gives for the context's cause (its parent's
// cause, if the parent ended).
func canceledStatus(c *call) status.Status {
	return status.Code(context.Cause(c))
}

// callKey is the context key under which a call's context gives the call.
type callKey struct{}

// Value gives the call under callKey and packages.NetworkSchedulerKey, for
// NetworkBound; every other key goes to the parent context.
func (c *call) Value(key any) any {
	switch key {
	case callKey{}, packages.NetworkSchedulerKey{}:
		return c
	}
	return c.parent.Value(key)
}

// NetworkBound implements packages.NetworkScheduler for the code the call
// runs: see the package-level NetworkBound.
func (c *call) NetworkBound() (done func()) {
	if c.class == Network || !c.e.moveSlot(c, CPU, Network) {
		return func() {}
	}
	return func() { c.e.moveSlot(c, Network, CPU) }
}

// NetworkBound is called by code running on the engine just before it
// waits on the network (a KDC exchange, for example). It gives the call's
// CPU slot back and takes a network slot, waiting for one if all are in
// use, so that calls stuck on the network never hold CPU slots. The
// returned function must be called when the wait is over: it gives the
// network slot back and takes a CPU slot again (waiting for one).
//
// Outside the engine (a synchronous call) and for a call issued as
// [Network], NetworkBound does nothing. If the call's context ends while
// it waits for a slot, the call goes on without one until it returns.
//
// Providers call packages.NetworkBound, which reaches the same code
// through packages.NetworkSchedulerKey without importing this package.
func NetworkBound(ctx context.Context) (done func()) {
	c, ok := ctx.Value(callKey{}).(*call)
	if !ok {
		return func() {}
	}
	return c.NetworkBound()
}

// moveSlot trades the slot of class from held by the running call c for
// one of class to, waiting in to's wait list until one is granted or c's
// context ends. It reports whether c then holds a slot of class to; if
// not, c holds none.
func (e *Engine) moveSlot(c *call, from, to Class) bool {
	e.mu.Lock()
	if !c.holding {
		e.mu.Unlock()
		return false
	}
	start := e.releaseLocked(c, from, nil)
	granted := make(chan struct{})
	c.granted = granted
	p := &e.pools[to]
	p.wait = append(p.wait, c)
	// Granting here, rather than testing for a free slot, keeps the wait
	// list first come first served.
	start = e.grantLocked(to, start)
	e.mu.Unlock()
	e.launch(start, false)

	select {
	case <-granted:
	case <-c.Done():
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.granted != nil { // not granted: leave the wait list
		c.granted = nil
		p.wait = slices.DeleteFunc(p.wait, func(q *call) bool { return q == c })
		return false
	}
	c.class = to
	return true
}
