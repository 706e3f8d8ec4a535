// Package status defines SECURITY_STATUS, the result code of every SSPI
// call, with the SEC_E_* and SEC_I_* values of the Windows headers, and
// [Error], the error type the Go API returns for failures.
//
// A [Status] is data: SEC_E_OK and the informational SEC_I_* codes are
// successes and are never returned in an error variable. Failures
// (SEC_E_*) implement error, so a flat-API result can be compared with ==
// and a Go-API error matched with errors.Is.
package status

import (
	"errors"
	"fmt"
)

// Status is a Windows SECURITY_STATUS: a 32-bit code whose top bit is set
// for failures. Its String method gives the Windows name
// ("SEC_E_INVALID_TOKEN") and its Error method the name, the value and a
// one-line meaning.
type Status uint32

// Failed reports whether s is a failure (SEC_E_*), the FAILED() macro.
func (s Status) Failed() bool { return int32(s) < 0 }

// Succeeded reports whether s is SEC_E_OK or an informational code.
func (s Status) Succeeded() bool { return int32(s) >= 0 }

// String returns the Windows name of s, or its hex value if s is unknown.
func (s Status) String() string {
	if c, ok := codes[s]; ok {
		return c.name
	}
	return fmt.Sprintf("SECURITY_STATUS(0x%08X)", uint32(s))
}

// Meaning returns a one-line description of s.
func (s Status) Meaning() string {
	if c, ok := codes[s]; ok {
		return c.meaning
	}
	return "unknown status"
}

// Error returns "sspi: NAME (0xVALUE): meaning".
func (s Status) Error() string {
	return fmt.Sprintf("sspi: %s (0x%08X): %s", s.String(), uint32(s), s.Meaning())
}

// Is maps statuses to portable sentinels: SEC_E_UNSUPPORTED_FUNCTION is
// [errors.ErrUnsupported].
func (s Status) Is(target error) bool {
	switch target {
	case errors.ErrUnsupported:
		return s == SEC_E_UNSUPPORTED_FUNCTION
	}
	return false
}

// Err returns s as an error if it is a failure, and nil otherwise, so that
// SEC_E_OK and SEC_I_* codes never become non-nil errors.
func (s Status) Err() error {
	if s.Failed() {
		return s
	}
	return nil
}

// Error is a failure with its context: the operation, the package, the
// SECURITY_STATUS the flat API returns, and the underlying cause, if any.
// errors.Is matches both the Status and the cause.
type Error struct {
	Op      string // the SSPI call or provider step, e.g. "AcceptSecurityContext"
	Package string // the security package, e.g. "NTLM"; may be empty
	Status  Status // always a failure code
	Err     error  // the cause; may be nil
}

// Error formats e as "sspi: Package Op: NAME (0xVALUE): cause".
func (e *Error) Error() string {
	msg := "sspi: "
	if e.Package != "" {
		msg += e.Package + " "
	}
	if e.Op != "" {
		msg += e.Op + ": "
	}
	msg += fmt.Sprintf("%s (0x%08X)", e.Status.String(), uint32(e.Status))
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	} else {
		msg += ": " + e.Status.Meaning()
	}
	return msg
}

// Unwrap returns the status and the cause, so errors.Is and errors.As see
// both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Status}
	}
	return []error{e.Status, e.Err}
}

// New returns an *Error for op with status st and cause err. It panics if
// st is not a failure: success codes are data, not errors.
func New(op, pkg string, st Status, err error) *Error {
	if !st.Failed() {
		panic("status: New called with non-failure " + st.String())
	}
	return &Error{Op: op, Package: pkg, Status: st, Err: err}
}

// Errorf returns an *Error with status st and a cause built from format.
func Errorf(st Status, format string, args ...any) *Error {
	return New("", "", st, fmt.Errorf(format, args...))
}

// Code returns the SECURITY_STATUS that err carries: SEC_E_OK for nil, the
// Status found by errors.As, and SEC_E_INTERNAL_ERROR for any other error.
func Code(err error) Status {
	if err == nil {
		return SEC_E_OK
	}
	var s Status
	if errors.As(err, &s) {
		return s
	}
	return SEC_E_INTERNAL_ERROR
}
