// Package wire reads and builds the little-endian binary formats of SSPI:
// NTLM messages (MS-NLMP 2.2), SEC_CHANNEL_BINDINGS and
// SEC_WINNT_AUTH_IDENTITY_EX2. It has the shape of
// golang.org/x/crypto/cryptobyte, which does the same for big-endian and
// DER formats:
//
//   - a [String] is the unread part of a message; its reads report a bool
//     and advance only on success, so a read never indexes past the end and
//     a failed read leaves the String where it was;
//   - a variable-length field is found through a descriptor (an NTLM
//     (Len u16, MaxLen u16, Offset u32) [Field], or any (offset, length)
//     pair) that [Resolve] turns into bytes of the whole message, checked
//     in 64-bit arithmetic against the message's end and the end of its
//     fixed header;
//   - a [Builder] appends values and reserves descriptors whose length and
//     offset it fills in when the payload is appended; a value that does not
//     fit its 16- or 32-bit field makes [Builder.Bytes] fail instead of
//     being truncated.
//
// Every parser also caps the size of the whole message before reading it
// ([Limit]).
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// String is a message, or the unread rest of one. Its methods read from
// the front and advance past what they read; on failure they return false
// and leave the String unchanged.
type String []byte

// ErrTooLarge is the cause [Limit] reports for a message over its cap.
var ErrTooLarge = errors.New("wire: message too large")

// Limit returns b as a String when it holds at most max bytes, and an
// error wrapping [ErrTooLarge] otherwise. Parsers call it first, so that
// nothing is allocated for an oversized message.
func Limit(b []byte, max int) (String, error) {
	if len(b) > max {
		return nil, fmt.Errorf("%w: %d bytes, at most %d accepted", ErrTooLarge, len(b), max)
	}
	return String(b), nil
}

// read returns the next n bytes and advances, or nil when fewer remain.
func (s *String) read(n int) []byte {
	if n < 0 || len(*s) < n {
		return nil
	}
	v := (*s)[:n:n]
	*s = (*s)[n:]
	return v
}

// Empty reports whether the String has been read completely.
func (s String) Empty() bool { return len(s) == 0 }

// Skip advances over n bytes.
func (s *String) Skip(n int) bool { return s.read(n) != nil }

// ReadUint8 reads one byte into out.
func (s *String) ReadUint8(out *uint8) bool {
	v := s.read(1)
	if v == nil {
		return false
	}
	*out = v[0]
	return true
}

// ReadUint16LE reads a little-endian uint16 into out.
func (s *String) ReadUint16LE(out *uint16) bool {
	v := s.read(2)
	if v == nil {
		return false
	}
	*out = binary.LittleEndian.Uint16(v)
	return true
}

// ReadUint32LE reads a little-endian uint32 into out.
func (s *String) ReadUint32LE(out *uint32) bool {
	v := s.read(4)
	if v == nil {
		return false
	}
	*out = binary.LittleEndian.Uint32(v)
	return true
}

// ReadUint64LE reads a little-endian uint64 into out.
func (s *String) ReadUint64LE(out *uint64) bool {
	v := s.read(8)
	if v == nil {
		return false
	}
	*out = binary.LittleEndian.Uint64(v)
	return true
}

// ReadBytes sets out to the next n bytes, which alias the String (with
// their capacity cut to n), and advances.
func (s *String) ReadBytes(out *[]byte, n int) bool {
	v := s.read(n)
	if v == nil {
		return false
	}
	*out = v
	return true
}

// CopyBytes copies the next len(out) bytes into out and advances.
func (s *String) CopyBytes(out []byte) bool {
	v := s.read(len(out))
	if v == nil {
		return false
	}
	copy(out, v)
	return true
}

// ReadSignature advances over want, which the String must start with
// (a magic number such as NTLM's "NTLMSSP\x00").
func (s *String) ReadSignature(want []byte) bool {
	if len(*s) < len(want) || string((*s)[:len(want)]) != string(want) {
		return false
	}
	*s = (*s)[len(want):]
	return true
}

// Field is the descriptor of an NTLM payload field (MS-NLMP 2.2.1: Len,
// MaxLen and BufferOffset, 8 bytes): the field's bytes are at Offset from
// the start of the message.
type Field struct {
	Len    uint16
	MaxLen uint16
	Offset uint32
}

// ReadField reads an 8-byte NTLM field descriptor into f.
func (s *String) ReadField(f *Field) bool {
	v := s.read(8)
	if v == nil {
		return false
	}
	*f = Field{
		Len:    binary.LittleEndian.Uint16(v),
		MaxLen: binary.LittleEndian.Uint16(v[2:]),
		Offset: binary.LittleEndian.Uint32(v[4:]),
	}
	return true
}

// Resolve sets out to the bytes of msg that f describes, as [Resolve]
// does with f's offset and length. MaxLen is not checked: Windows and
// every other implementation ignore it.
func (f Field) Resolve(msg []byte, hdr int, out *[]byte) bool {
	return Resolve(msg, hdr, uint64(f.Offset), uint64(f.Len), out)
}

// Resolve sets out to msg[off:off+n], capacity cut to n, when those bytes
// lie inside msg and at or after hdr, the end of the message's fixed
// header: a payload field may not overlap the header. An empty field
// (n == 0) resolves to nil wherever its offset points, as MS-NLMP and
// SEC_CHANNEL_BINDINGS allow. The arithmetic is done in 64 bits, so no
// offset or length the peer sends can wrap around. On failure out is set
// to nil.
func Resolve(msg []byte, hdr int, off, n uint64, out *[]byte) bool {
	*out = nil
	if n == 0 {
		return true
	}
	if hdr < 0 || off < uint64(hdr) || off > uint64(len(msg)) || n > uint64(len(msg))-off {
		return false
	}
	*out = msg[off : off+n : off+n]
	return true
}
