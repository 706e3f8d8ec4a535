// Package secbuffer defines the SecBuffer and SecBufferDesc of SSPI in Go
// form, the SECBUFFER_* types and flags, and SEC_CHANNEL_BINDINGS with the
// builders that derive channel bindings from a TLS connection.
//
// Where Windows passes a pointer and a length, a [Buffer] carries a slice.
// For an output buffer the caller's capacity is cap(Data) and the result
// length is len(Data); a package that may allocate (ISC_REQ_ALLOCATE_MEMORY,
// ASC_REQ_ALLOCATE_MEMORY) replaces Data with a slice of its own.
package secbuffer

import (
	"github.com/gosspi/sspi/status"
)

// Buffer is a SecBuffer: a type (SECBUFFER_* optionally ORed with
// SECBUFFER_READONLY or SECBUFFER_READONLY_WITH_CHECKSUM) and its bytes.
type Buffer struct {
	Type uint32
	Data []byte
}

// Desc is a SecBufferDesc. Version is SECBUFFER_VERSION (0).
type Desc struct {
	Version uint32
	Buffers []Buffer
}

// BaseType returns the buffer type without the attribute flags.
func (b *Buffer) BaseType() uint32 { return b.Type &^ SECBUFFER_ATTRMASK }

// ReadOnly reports whether the buffer must not be modified: it carries
// SECBUFFER_READONLY or SECBUFFER_READONLY_WITH_CHECKSUM.
func (b *Buffer) ReadOnly() bool {
	return b.Type&(SECBUFFER_READONLY|SECBUFFER_READONLY_WITH_CHECKSUM) != 0
}

// Signed reports whether a DATA-like buffer is covered by a signature or
// checksum: every buffer except those flagged SECBUFFER_READONLY alone.
func (b *Buffer) Signed() bool {
	return b.Type&SECBUFFER_READONLY == 0 || b.Type&SECBUFFER_READONLY_WITH_CHECKSUM != 0
}

// Find returns the first buffer in bufs whose base type is typ, or nil.
func Find(bufs []Buffer, typ uint32) *Buffer {
	for i := range bufs {
		if bufs[i].BaseType() == typ {
			return &bufs[i]
		}
	}
	return nil
}

// FindIndex returns the index of the first buffer in bufs whose base type is
// typ, or -1.
func FindIndex(bufs []Buffer, typ uint32) int {
	for i := range bufs {
		if bufs[i].BaseType() == typ {
			return i
		}
	}
	return -1
}

// Count returns how many buffers in bufs have base type typ.
func Count(bufs []Buffer, typ uint32) int {
	n := 0
	for i := range bufs {
		if bufs[i].BaseType() == typ {
			n++
		}
	}
	return n
}

// Set stores p as the result of output buffer b. If p fits in cap(b.Data)
// it is copied there (b.Data is resliced to len(p)); otherwise, if allocate
// is true, b.Data becomes a new slice holding a copy of p; otherwise Set
// leaves b unchanged and returns SEC_E_BUFFER_TOO_SMALL.
//
// Packages call [Fits] before changing any state, so that a too-small
// buffer leaves the context as it was.
func Set(b *Buffer, p []byte, allocate bool) status.Status {
	if len(p) <= cap(b.Data) {
		b.Data = append(b.Data[:0], p...)
		return status.SEC_E_OK
	}
	if !allocate {
		return status.SEC_E_BUFFER_TOO_SMALL
	}
	b.Data = append([]byte(nil), p...)
	return status.SEC_E_OK
}

// Fits reports whether n bytes can be stored in output buffer b by [Set].
func Fits(b *Buffer, n int, allocate bool) bool {
	return allocate || n <= cap(b.Data)
}
