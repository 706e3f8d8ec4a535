package sspi

import (
	"strings"
	"unicode/utf16"
	"unsafe"

	"github.com/gosspi/sspi/status"
)

// UTF16PtrFromString returns s as a NUL-terminated UTF-16 string, the
// LPWSTR the W functions take. It fails with SEC_E_INVALID_PARAMETER if s
// contains a NUL.
func UTF16PtrFromString(s string) (*uint16, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, status.SEC_E_INVALID_PARAMETER
	}
	return &utf16.Encode([]rune(s + "\x00"))[0], nil
}

// BytePtrFromString returns s as a NUL-terminated 8-bit string, the LPSTR
// the A functions take (UTF-8: the emulation's ANSI code page). It fails
// with SEC_E_INVALID_PARAMETER if s contains a NUL.
func BytePtrFromString(s string) (*byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, status.SEC_E_INVALID_PARAMETER
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return &b[0], nil
}

// UTF16PtrToString returns the Go string of a NUL-terminated UTF-16
// string, or "" for nil. p must point to a NUL-terminated array, such as
// one made by UTF16PtrFromString or returned by a W function.
func UTF16PtrToString(p *uint16) string {
	if p == nil {
		return ""
	}
	n := 0
	for ptr := unsafe.Pointer(p); *(*uint16)(ptr) != 0; n++ {
		ptr = unsafe.Add(ptr, 2)
	}
	return string(utf16.Decode(unsafe.Slice(p, n)))
}

// BytePtrToString returns the Go string of a NUL-terminated 8-bit string,
// or "" for nil. p must point to a NUL-terminated array.
func BytePtrToString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for ptr := unsafe.Pointer(p); *(*byte)(ptr) != 0; n++ {
		ptr = unsafe.Add(ptr, 1)
	}
	return string(unsafe.Slice(p, n))
}

// utf16z returns s as a NUL-terminated UTF-16 string for a structure the
// W functions fill. A NUL inside s ends the string there.
func utf16z(s string) *uint16 {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return &utf16.Encode([]rune(s + "\x00"))[0]
}

// bytez returns s as a NUL-terminated 8-bit string for a structure the A
// functions fill.
func bytez(s string) *byte {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return &b[0]
}

// counted returns the n characters at p as a Go string: a counted, not
// NUL-terminated field of SEC_WINNT_AUTH_IDENTITY_W (UTF-16) or _A (8-bit).
func counted[C uint16 | byte](p *C, n uint32) string {
	if p == nil || n == 0 {
		return ""
	}
	switch q := any(p).(type) {
	case *uint16:
		return string(utf16.Decode(unsafe.Slice(q, n)))
	case *byte:
		return string(unsafe.Slice(q, n))
	}
	return ""
}
