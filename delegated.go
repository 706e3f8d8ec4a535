package sspi

import (
	"context"
	"errors"
	"io"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/status"
)

// Delegation: a server using the credentials its client delegated.
//
// On Windows a server whose client delegated (ISC_REQ_DELEGATE, a
// forwarded TGT in the Kerberos authenticator, RFC 4121 4.1.1) calls
// ImpersonateSecurityContext, then AcquireCredentialsHandle with no
// identity: the thread's token names the client's logon session, which
// holds the forwarded TGT. A process with the TCB privilege can instead
// pass that logon session's LUID as pvLogonId. Off Windows there is no
// thread token (ImpersonateSecurityContext returns
// SEC_E_UNSUPPORTED_FUNCTION), so this package offers the pvLogonId form:
// [Registry.QueryContextLogonID] gives the LUID of an accepted context's
// logon session, and AcquireCredentialsHandle with that pvLogonId gives
// outbound credentials from the delegated TGT. The Go API has
// [Context.DelegatedCredentials].

var (
	errNoDelegation   = errors.New("sspi: the client delegated no credentials")
	errClientContext  = errors.New("sspi: a client context has no delegated credentials")
	errNoLogonSession = errors.New("sspi: the LUID names no logon session of this registry")
)

// DelegatedCredentials returns outbound credentials built from what the
// client of an established server context delegated: with Kerberos (or
// Negotiate over Kerberos), its forwarded TGT, which the client sends
// when it asks for ISC_REQ_DELEGATE and its TGT is forwardable;
// [ASC_RET_DELEGATE] in [Context.Flags] announces it. They are Kerberos
// credentials acting as the client: pass them to [NewClientContext] to
// reach another service on its behalf, to [AcquireCredentials] as auth
// data for Negotiate credentials over them, or write them out with
// [Credentials.WriteCCache] for a child process.
//
// Each call returns a new copy that the caller owns: its Free zeroes its
// keys and no one else's. Deleting the server context zeroes the
// context's own copy and leaves the returned ones usable.
//
// It fails with SEC_E_NO_CREDENTIALS when nothing was delegated (no
// ISC_REQ_DELEGATE, a TGT that is not forwardable, NTLM, a handshake not
// yet complete), SEC_E_UNSUPPORTED_FUNCTION on a client context and
// SEC_E_INVALID_HANDLE after Delete. Windows has no single call for this:
// see [Registry.QueryContextLogonID] for the flat form.
func (c *Context) DelegatedCredentials() (*Credentials, error) {
	const op = "AcquireCredentialsHandle"
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() {
		return nil, c.deletedErr(op)
	}
	if c.client {
		return nil, newError(op, c.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, errClientContext)
	}
	var pc packages.Credentials
	if d, ok := c.pc.(kerberos.DelegatedCredentialer); ok && c.established.Load() {
		pc = d.DelegatedCredentials()
	}
	if pc == nil {
		return nil, newError(op, c.info.Name, status.SEC_E_NO_CREDENTIALS, errNoDelegation)
	}
	// The credentials are the mechanism's: Kerberos, also under
	// Negotiate, whose negotiation info names the package it selected.
	info := c.info
	if v, err := c.pc.QueryAttribute(packages.SECPKG_ATTR_NEGOTIATION_INFO); err == nil {
		if ni, ok := v.(*packages.NegotiationInfo); ok && ni.PackageInfo.Name != "" {
			info = ni.PackageInfo
		}
	}
	return &Credentials{info: info, pc: pc, use: packages.SECPKG_CRED_OUTBOUND}, nil
}

// WriteCCache writes outbound Kerberos credentials (those of
// [Context.DelegatedCredentials], or Kerberos or Negotiate credentials
// that hold tickets) as an MIT FILE credential cache (version 4): the
// client as the default principal, then its TGT and service tickets with
// their session keys. A child process finds it through
// KRB5CCNAME=FILE:path. The output holds keys: write it to a file only
// its owner reads (os.CreateTemp creates one with mode 0600) and remove
// it when done.
//
// Credentials of other packages give SEC_E_UNSUPPORTED_FUNCTION;
// credentials that hold no ticket yet (a password before the first
// handshake) SEC_E_NO_CREDENTIALS; freed ones SEC_E_INVALID_HANDLE.
func (c *Credentials) WriteCCache(w io.Writer) error {
	const op = "WriteCCache"
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.freed {
		return newError(op, c.info.Name, status.SEC_E_INVALID_HANDLE, errFreedCredentials)
	}
	cw, ok := c.pc.(kerberos.CCacheWriter)
	if !ok {
		return newError(op, c.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	return wrapErr(op, c.info.Name, cw.WriteCCache(w))
}

// authData is what a package's AcquireCredentials gets when c itself is
// the auth data: the package's credentials, which a package that knows
// them copies (Kerberos, and Negotiate through Kerberos). Freed
// credentials are SEC_E_INVALID_HANDLE.
func (c *Credentials) authData() (any, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.freed {
		return nil, status.New("AcquireCredentialsHandle", c.info.Name, status.SEC_E_INVALID_HANDLE, errFreedCredentials)
	}
	return c.pc, nil
}

// logonIDMark sets a bit of LUID.HighPart in every LUID this package
// hands out, so that none is mistaken for the well-known logon sessions
// of Windows (SYSTEM is 0x3e7, with HighPart 0).
const logonIDMark = 0x40000000

// QueryContextLogonID is QueryContextLogonID on the default Registry.
func QueryContextLogonID(phContext *CtxtHandle, pLogonId *LUID) status.Status {
	return defaultRegistry().QueryContextLogonID(phContext, pLogonId)
}

// QueryContextLogonID stores in *pLogonId the LUID of the logon session
// that the established server context *phContext created for its client:
// the value a Windows server reads from the context's access token
// (QuerySecurityContextToken or SECPKG_ATTR_ACCESS_TOKEN, then
// GetTokenInformation with TokenStatistics: AuthenticationId), which has
// no equivalent off Windows. It is a Go-only addition to the flat API.
//
// Passed as pvLogonId to [Registry.AcquireCredentialsHandleW] (or A),
// with SECPKG_CRED_OUTBOUND and no pAuthData, the LUID gives outbound
// credentials of the named package ("Kerberos", or "Negotiate" over
// Kerberos) from what the client delegated, as Windows gives a caller
// with the TCB privilege the credentials of another logon session: the
// flat form of [Context.DelegatedCredentials]. The logon session ends
// with the context: after DeleteSecurityContext the LUID names nothing.
// Any code holding the Registry can use the LUID, as it can the handle.
//
// It returns SEC_E_OK, SEC_E_INVALID_HANDLE (an invalid or client
// context), SEC_E_INVALID_PARAMETER (pLogonId nil) or
// SEC_E_NO_CREDENTIALS (a server context whose handshake has not
// completed).
func (r *Registry) QueryContextLogonID(phContext *CtxtHandle, pLogonId *LUID) status.Status {
	c, err := r.Context(phContext)
	switch {
	case err != nil:
		return status.Code(err)
	case c.client:
		return status.SEC_E_INVALID_HANDLE
	case pLogonId == nil:
		return status.SEC_E_INVALID_PARAMETER
	case !c.Established():
		return status.SEC_E_NO_CREDENTIALS
	}
	// The LUID is the context handle's serial, which the handle table
	// checks and never reuses.
	s := uint64(phContext.Upper)
	*pLogonId = LUID{LowPart: uint32(s), HighPart: int32(uint32(s>>32) | logonIDMark)}
	return status.SEC_E_OK
}

// acquireLogonCredentials is AcquireCredentialsHandle with a pvLogonId
// from QueryContextLogonID: outbound credentials of package pkg from
// what the client of that context delegated.
func (r *Registry) acquireLogonCredentials(ctx context.Context, principal, pkg string, use uint32, logonID *LUID, authData any) (*Credentials, error) {
	const op = "AcquireCredentialsHandle"
	if authData != nil || use != packages.SECPKG_CRED_OUTBOUND {
		// A logon session holds the client's outbound credentials only.
		return nil, newError(op, pkg, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	c := r.logonSession(logonID)
	if c == nil {
		return nil, newError(op, pkg, status.SEC_E_NO_CREDENTIALS, errNoLogonSession)
	}
	dc, err := c.DelegatedCredentials()
	if errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		// Deleted since (through the Go API, or by a concurrent
		// DeleteSecurityContext): its logon session is gone.
		return nil, newError(op, pkg, status.SEC_E_NO_CREDENTIALS, errNoLogonSession)
	}
	if err != nil {
		return nil, err
	}
	defer dc.Free() // the package makes its own copy
	return r.acquireCredentials(ctx, op, principal, pkg, use, dc)
}

// logonSession returns the server context whose logon session logonID
// names, or nil.
func (r *Registry) logonSession(logonID *LUID) *Context {
	if uint32(logonID.HighPart)&logonIDMark == 0 {
		return nil
	}
	serial := uintptr(uint64(uint32(logonID.HighPart)&^logonIDMark)<<32 | uint64(logonID.LowPart))
	if serial == 0 || serial == invalidWord {
		return nil
	}
	t := &r.ctxts
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.slots {
		if s.serial == serial {
			if s.obj.client {
				return nil
			}
			return s.obj
		}
	}
	return nil
}
