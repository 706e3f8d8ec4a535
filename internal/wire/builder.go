package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf16"
)

// ErrOverflow is the cause [Builder.Bytes] reports when a length or an
// offset does not fit the field that carries it.
var ErrOverflow = errors.New("wire: value does not fit its field")

// Builder appends a little-endian message to a buffer. Lengths and offsets
// that depend on what comes later are reserved first (Reserve16,
// Reserve32, AddField) and filled in afterwards (Set16, Set32,
// AddPayload). A value too large for its field is never truncated: the
// Builder records the first such failure and [Builder.Bytes] returns it.
// The zero Builder is ready to use.
type Builder struct {
	b   []byte
	err error
}

// NewBuilder returns a Builder that appends to buf[:0], reusing buf's
// capacity.
func NewBuilder(buf []byte) *Builder {
	return &Builder{b: buf[:0]}
}

// Bytes returns the message, or the first overflow the Builder met.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.b, nil
}

// Len is the number of bytes appended so far: the offset of what comes
// next.
func (b *Builder) Len() int { return len(b.b) }

func (b *Builder) overflow(what string, v, max uint64) {
	if b.err == nil {
		b.err = fmt.Errorf("%w: %s %d exceeds %d", ErrOverflow, what, v, max)
	}
}

// AddUint8 appends v.
func (b *Builder) AddUint8(v uint8) { b.b = append(b.b, v) }

// AddUint16LE appends v, little-endian.
func (b *Builder) AddUint16LE(v uint16) { b.b = binary.LittleEndian.AppendUint16(b.b, v) }

// AddUint32LE appends v, little-endian.
func (b *Builder) AddUint32LE(v uint32) { b.b = binary.LittleEndian.AppendUint32(b.b, v) }

// AddUint64LE appends v, little-endian.
func (b *Builder) AddUint64LE(v uint64) { b.b = binary.LittleEndian.AppendUint64(b.b, v) }

// AddBytes appends p.
func (b *Builder) AddBytes(p []byte) { b.b = append(b.b, p...) }

// AddZeros appends n zero bytes.
func (b *Builder) AddZeros(n int) {
	for range n {
		b.b = append(b.b, 0)
	}
}

// AddLen16 appends n, a length or count, as a little-endian uint16; an n
// outside 0..65535 is an overflow.
func (b *Builder) AddLen16(n int) {
	b.AddUint16LE(b.fit16("length", n))
}

// AddLen32 appends n as a little-endian uint32; an n outside 0..2³²-1 is
// an overflow.
func (b *Builder) AddLen32(n int) {
	b.AddUint32LE(b.fit32("length", n))
}

func (b *Builder) fit16(what string, n int) uint16 {
	if n < 0 || n > math.MaxUint16 {
		b.overflow(what, uint64(n), math.MaxUint16)
		return 0
	}
	return uint16(n)
}

func (b *Builder) fit32(what string, n int) uint32 {
	if n < 0 || uint64(n) > math.MaxUint32 {
		b.overflow(what, uint64(n), math.MaxUint32)
		return 0
	}
	return uint32(n)
}

// Mark16 is the position of a reserved 16-bit value.
type Mark16 int

// Mark32 is the position of a reserved 32-bit value.
type Mark32 int

// Reserve16 appends a zero uint16 to be set later with Set16.
func (b *Builder) Reserve16() Mark16 {
	m := Mark16(len(b.b))
	b.b = append(b.b, 0, 0)
	return m
}

// Reserve32 appends a zero uint32 to be set later with Set32.
func (b *Builder) Reserve32() Mark32 {
	m := Mark32(len(b.b))
	b.b = append(b.b, 0, 0, 0, 0)
	return m
}

// Set16 sets the reserved value m to n; an n outside 0..65535 is an
// overflow.
func (b *Builder) Set16(m Mark16, n int) {
	binary.LittleEndian.PutUint16(b.b[m:], b.fit16("value", n))
}

// Set32 sets the reserved value m to n; an n outside 0..2³²-1 is an
// overflow.
func (b *Builder) Set32(m Mark32, n int) {
	binary.LittleEndian.PutUint32(b.b[m:], b.fit32("value", n))
}

// FieldMark is the position of a reserved NTLM field descriptor.
type FieldMark int

// AddField appends an NTLM field descriptor (MS-NLMP 2.2.1: Len, MaxLen,
// BufferOffset) to be filled by AddPayload or SetField.
func (b *Builder) AddField() FieldMark {
	m := FieldMark(len(b.b))
	b.b = append(b.b, 0, 0, 0, 0, 0, 0, 0, 0)
	return m
}

// AddPayload appends p and points the descriptor f at it: Len and MaxLen
// len(p), BufferOffset where p starts. A p longer than 65535 bytes, or an
// offset past 2³²-1, is an overflow.
func (b *Builder) AddPayload(f FieldMark, p []byte) {
	b.SetField(f, len(p), len(b.b))
	b.b = append(b.b, p...)
}

// SetField fills the descriptor f with length n and offset off, for a
// payload already appended (or, with n == 0, an absent field whose offset
// the format fixes).
func (b *Builder) SetField(f FieldMark, n, off int) {
	l := b.fit16("field length", n)
	binary.LittleEndian.PutUint16(b.b[f:], l)
	binary.LittleEndian.PutUint16(b.b[f+2:], l)
	binary.LittleEndian.PutUint32(b.b[f+4:], b.fit32("field offset", off))
}

// AddUTF16LE appends s encoded as UTF-16LE, without a terminator; invalid
// UTF-8 becomes U+FFFD.
func (b *Builder) AddUTF16LE(s string) { b.b = AppendUTF16LE(b.b, s) }

// AppendUTF16LE appends s to dst encoded as UTF-16LE, without a
// terminator, as unicode/utf16.Encode does (invalid UTF-8 becomes
// U+FFFD), and returns the extended slice.
func AppendUTF16LE(dst []byte, s string) []byte {
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			dst = binary.LittleEndian.AppendUint16(dst, uint16(r1))
			r = r2
		}
		dst = binary.LittleEndian.AppendUint16(dst, uint16(r))
	}
	return dst
}
