package sspi

import (
	"errors"
	"fmt"

	"github.com/gosspi/sspi/status"
)

// Causes attached to the *status.Error values the root itself returns.
var (
	errInvalidUse        = errors.New("sspi: credential use must include SECPKG_CRED_INBOUND or SECPKG_CRED_OUTBOUND")
	errNilResult         = errors.New("sspi: package returned nothing and no error")
	errNilCredentials    = errors.New("sspi: nil credentials")
	errFreedCredentials  = errors.New("sspi: credentials already freed")
	errDeletedContext    = errors.New("sspi: context already deleted")
	errNoOutputToken     = errors.New("sspi: no SECBUFFER_TOKEN output buffer")
	errBadAuthData       = errors.New("sspi: malformed SEC_WINNT_AUTH_IDENTITY")
	errAttributeMismatch = errors.New("sspi: attribute value does not match the buffer type")
)

// wrapErr returns err as a *status.Error for op in package pkg, keeping
// its status and cause so that errors.Is matches both. A bare Status
// becomes an Error with no cause; a *status.Error from a provider keeps its
// cause (prefixed with the provider's own operation, if any); any other
// error becomes the cause of an SEC_E_INTERNAL_ERROR unless it carries a
// Status.
func wrapErr(op, pkg string, err error) error {
	if err == nil {
		return nil
	}
	switch e := err.(type) {
	case *status.Error:
		if e.Op == op && e.Package == pkg {
			return e
		}
		cause := e.Err
		if e.Op != "" && e.Op != op {
			if cause == nil {
				cause = errors.New(e.Op)
			} else {
				cause = fmt.Errorf("%s: %w", e.Op, cause)
			}
		}
		if pkg == "" {
			pkg = e.Package
		}
		return newError(op, pkg, e.Status, cause)
	case status.Status:
		return newError(op, pkg, e, nil)
	}
	return newError(op, pkg, status.Code(err), err)
}

// newError is status.New that never panics: a non-failure status (a
// provider bug) becomes SEC_E_INTERNAL_ERROR.
func newError(op, pkg string, st status.Status, cause error) *status.Error {
	if !st.Failed() {
		if cause == nil {
			cause = fmt.Errorf("sspi: failure reported with non-failure status %v", st)
		}
		st = status.SEC_E_INTERNAL_ERROR
	}
	return status.New(op, pkg, st, cause)
}
