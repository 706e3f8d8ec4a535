package sspi

import (
	"sync"
	"sync/atomic"
)

// CredHandle is a CredHandle (SecHandle) of the flat API: an opaque pair of
// words naming a credential in a [Registry]'s handle table. The zero value
// and [InvalidCredHandle] name nothing.
type CredHandle struct {
	Lower, Upper uintptr
}

// CtxtHandle is a CtxtHandle (SecHandle) of the flat API: an opaque pair of
// words naming a security context in a [Registry]'s handle table. The zero
// value and [InvalidCtxtHandle] name nothing.
type CtxtHandle struct {
	Lower, Upper uintptr
}

// invalidWord is (ULONG_PTR)-1, SecInvalidateHandle's value for both words.
const invalidWord = ^uintptr(0)

// InvalidCredHandle is a CredHandle set with SecInvalidateHandle.
var InvalidCredHandle = CredHandle{invalidWord, invalidWord}

// InvalidCtxtHandle is a CtxtHandle set with SecInvalidateHandle.
var InvalidCtxtHandle = CtxtHandle{invalidWord, invalidWord}

// IsValid reports whether h holds a value other than the invalid one
// (SecIsValidHandle): neither word is (ULONG_PTR)-1. A valid-looking handle
// may still be stale; the table decides.
func (h CredHandle) IsValid() bool { return h.Lower != invalidWord && h.Upper != invalidWord }

// IsValid reports whether h holds a value other than the invalid one
// (SecIsValidHandle).
func (h CtxtHandle) IsValid() bool { return h.Lower != invalidWord && h.Upper != invalidWord }

// Handle encoding (a design choice; Windows values are opaque): Lower is
// the slot index plus one and Upper the serial of the object stored there.
// Serials come from one counter shared by every table of every Registry,
// so a freed handle, a handle of the other kind and a handle of another
// Registry all fail the serial check.
var lastSerial atomic.Uint64

func nextSerial() uintptr {
	for {
		s := uintptr(lastSerial.Add(1))
		if s != 0 && s != invalidWord {
			return s
		}
	}
}

// handleTable maps handle words to objects. It is safe for concurrent use.
type handleTable[T any] struct {
	mu    sync.Mutex
	slots []slot[T] // guarded by mu
	free  []int     // guarded by mu: indexes of empty slots
}

type slot[T any] struct {
	serial uintptr // 0 when empty
	obj    T
}

// add stores obj and returns its handle words.
func (t *handleTable[T]) add(obj T) (lower, upper uintptr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := nextSerial()
	var i int
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = len(t.slots)
		t.slots = append(t.slots, slot[T]{})
	}
	t.slots[i] = slot[T]{serial: s, obj: obj}
	return uintptr(i) + 1, s
}

// index returns the slot index named by the handle words, checked against
// the table under t.mu, or -1.
func (t *handleTable[T]) index(lower, upper uintptr) int {
	if lower == 0 || upper == 0 || lower == invalidWord || upper == invalidWord {
		return -1
	}
	i := lower - 1
	if i >= uintptr(len(t.slots)) || t.slots[i].serial != upper {
		return -1
	}
	return int(i)
}

// get returns the object named by the handle words.
func (t *handleTable[T]) get(lower, upper uintptr) (T, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.index(lower, upper)
	if i < 0 {
		var zero T
		return zero, false
	}
	return t.slots[i].obj, true
}

// remove deletes the object named by the handle words and returns it.
func (t *handleTable[T]) remove(lower, upper uintptr) (T, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var zero T
	i := t.index(lower, upper)
	if i < 0 {
		return zero, false
	}
	obj := t.slots[i].obj
	t.slots[i] = slot[T]{}
	t.free = append(t.free, i)
	return obj, true
}

// len returns the number of live handles.
func (t *handleTable[T]) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.slots) - len(t.free)
}
