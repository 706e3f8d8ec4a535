package sspi

import (
	"context"
	"sync"
	"time"

	"github.com/gosspi/sspi/internal/async"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// CredentialUse is fCredentialUse of AcquireCredentialsHandle: whether
// the credentials accept (server), initiate (client) or both.
type CredentialUse uint32

// Credential uses (SECPKG_CRED_INBOUND, SECPKG_CRED_OUTBOUND,
// SECPKG_CRED_BOTH).
const (
	CredentialsInbound  CredentialUse = packages.SECPKG_CRED_INBOUND
	CredentialsOutbound CredentialUse = packages.SECPKG_CRED_OUTBOUND
	CredentialsBoth     CredentialUse = packages.SECPKG_CRED_BOTH
)

// Credentials are credentials acquired from a security package: what a
// CredHandle names in the flat API. Create them with [AcquireCredentials]
// or [Registry.AcquireCredentials] and release them with Free.
//
// Credentials are safe for concurrent use; several contexts may be created
// from them at once.
type Credentials struct {
	// constant
	info packages.Info
	pc   packages.Credentials
	use  uint32

	mu    sync.RWMutex // guards freed; held for reading while a context is created
	freed bool

	asyncKey async.Key // orders SspiFreeCredentialsHandleAsync calls
}

// AcquireCredentials acquires credentials of the package named pkg from the
// default Registry; see [Registry.AcquireCredentials].
func AcquireCredentials(ctx context.Context, pkg string, use CredentialUse, authData any) (*Credentials, error) {
	return defaultRegistry().AcquireCredentials(ctx, pkg, use, authData)
}

// AcquireCredentials is AcquireCredentialsHandle in Go form. pkg names the
// package ("Negotiate", "NTLM", ...; compared case-insensitively). authData
// is nil for the package's default credentials, an [*AuthIdentity] (Go
// strings), a [*SEC_WINNT_AUTH_IDENTITY_W] or _A, a
// [*SEC_WINNT_AUTH_IDENTITY_EXW] or _EXA, a [SEC_WINNT_AUTH_IDENTITY_EX2]
// with password credentials, a value of the package's own credential
// type, passed through unchanged, or outbound [*Credentials] to copy
// (those of [Context.DelegatedCredentials]: Kerberos and Negotiate take
// Kerberos ones). Most packages check passwords
// only during the handshake, so a wrong password is reported by
// [Context.Step], as on Windows.
//
// Errors are *status.Error values: errors.Is(err, status.SEC_E_SECPKG_NOT_FOUND)
// and errors.Is(err, status.SEC_E_UNKNOWN_CREDENTIALS) are the usual ones.
func (r *Registry) AcquireCredentials(ctx context.Context, pkg string, use CredentialUse, authData any) (*Credentials, error) {
	return r.acquireCredentials(ctx, "AcquireCredentialsHandle", "", pkg, uint32(use), authData)
}

// AcquireCredentialsFor acquires credentials of the package named pkg
// for principal from the default Registry; see
// [Registry.AcquireCredentialsFor].
func AcquireCredentialsFor(ctx context.Context, pkg, principal string, use CredentialUse, authData any) (*Credentials, error) {
	return defaultRegistry().AcquireCredentialsFor(ctx, pkg, principal, use, authData)
}

// AcquireCredentialsFor is [Registry.AcquireCredentials] with the
// pszPrincipal of AcquireCredentialsHandle: the principal whose
// credentials are wanted. Its meaning is the package's: for Kerberos
// inbound credentials it is the service principal the acceptor answers
// for ("HTTP/web.example.com"; tickets for any other service are refused
// with SEC_E_WRONG_PRINCIPAL), for Kerberos outbound credentials the
// client principal to take from the keytab or cache. "" is
// AcquireCredentials.
func (r *Registry) AcquireCredentialsFor(ctx context.Context, pkg, principal string, use CredentialUse, authData any) (*Credentials, error) {
	return r.acquireCredentials(ctx, "AcquireCredentialsHandle", principal, pkg, uint32(use), authData)
}

// acquireCredentials is the core of AcquireCredentials and
// AcquireCredentialsHandleW/A.
func (r *Registry) acquireCredentials(ctx context.Context, op, principal, pkg string, use uint32, authData any) (*Credentials, error) {
	reg, err := r.lookup(pkg)
	if err != nil {
		return nil, wrapErr(op, pkg, err)
	}
	name := reg.info.Name
	if use&packages.SECPKG_CRED_BOTH == 0 {
		return nil, newError(op, name, status.SEC_E_INVALID_PARAMETER, errInvalidUse)
	}
	data, err := convertAuthData(authData)
	if err != nil {
		return nil, wrapErr(op, name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, status.New(op, name, status.SEC_E_INTERNAL_ERROR, err)
	}
	pc, err := reg.pkg.AcquireCredentials(ctx, principal, use, data)
	if err != nil {
		return nil, wrapErr(op, name, err)
	}
	if pc == nil {
		return nil, status.New(op, name, status.SEC_E_INTERNAL_ERROR, errNilResult)
	}
	return &Credentials{info: reg.info, pc: pc, use: use}, nil
}

// PackageName returns the name of the package the credentials belong to.
func (c *Credentials) PackageName() string { return c.info.Name }

// PackageInfo returns the SecPkgInfo values of the credentials' package.
func (c *Credentials) PackageInfo() packages.Info { return c.info }

// Use returns the SECPKG_CRED_* use the credentials were acquired for.
func (c *Credentials) Use() CredentialUse { return CredentialUse(c.use) }

// Expiry returns when the credentials expire; the zero Time means never.
func (c *Credentials) Expiry() time.Time { return c.pc.Expiry() }

// UserName returns the user the credentials stand for (DOMAIN\user or
// user@REALM), or "" for none: SECPKG_CRED_ATTR_NAMES.
func (c *Credentials) UserName() string { return c.pc.UserName() }

// QueryAttribute is QueryCredentialsAttributes in Go form: for
// SECPKG_CRED_ATTR_NAMES it returns a *packages.Names with
// [Credentials.UserName]; other attributes go to the package (Schannel:
// SECPKG_ATTR_SUPPORTED_PROTOCOLS, SECPKG_ATTR_SUPPORTED_ALGS and
// SECPKG_ATTR_CIPHER_STRENGTHS, answered with its SecPkgCred_* types). An
// attribute the package lacks gives SEC_E_UNSUPPORTED_FUNCTION; freed
// credentials, SEC_E_INVALID_HANDLE.
func (c *Credentials) QueryAttribute(attr uint32) (any, error) {
	const op = "QueryCredentialsAttributes"
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.freed {
		return nil, newError(op, c.info.Name, status.SEC_E_INVALID_HANDLE, errFreedCredentials)
	}
	if attr == packages.SECPKG_CRED_ATTR_NAMES {
		return &packages.Names{UserName: c.pc.UserName()}, nil
	}
	q, ok := c.pc.(packages.CredentialsAttributeQuerier)
	if !ok {
		return nil, newError(op, c.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	v, err := q.QueryAttribute(attr)
	if err == nil && v == nil {
		err = newError(op, c.info.Name, status.SEC_E_INTERNAL_ERROR, errNilResult)
	}
	if err != nil {
		return nil, wrapErr(op, c.info.Name, err)
	}
	return v, nil
}

// Free releases the credentials and zeroes their secrets
// (FreeCredentialsHandle). Contexts already created from them stay usable;
// creating a new one fails with SEC_E_INVALID_HANDLE. Free is idempotent.
func (c *Credentials) Free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.freed {
		return
	}
	c.freed = true
	c.pc.Free()
}

// NewClientContext creates the client side of a security context from
// cred, for the service target (an SPN such as "HTTP/web.example.com" for
// Kerberos and Negotiate, a host name for Schannel) with ISC_REQ_* flags
// req. No token is produced until the first [Context.Step].
func NewClientContext(cred *Credentials, target string, req uint32) (*Context, error) {
	return cred.newContext("InitializeSecurityContext", true, target, req)
}

// NewServerContext creates the server side of a security context from
// cred with ASC_REQ_* flags req. Its first [Context.Step] takes the
// client's first token.
func NewServerContext(cred *Credentials, req uint32) (*Context, error) {
	return cred.newContext("AcceptSecurityContext", false, "", req)
}

func (c *Credentials) newContext(op string, client bool, target string, req uint32) (*Context, error) {
	if c == nil {
		return nil, status.New(op, "", status.SEC_E_INVALID_HANDLE, errNilCredentials)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.freed {
		return nil, status.New(op, c.info.Name, status.SEC_E_INVALID_HANDLE, errFreedCredentials)
	}
	var pc packages.Context
	var err error
	if client {
		pc, err = c.pc.NewClientContext(target, req)
	} else {
		pc, err = c.pc.NewServerContext(req)
	}
	if err != nil {
		return nil, wrapErr(op, c.info.Name, err)
	}
	if pc == nil {
		return nil, status.New(op, c.info.Name, status.SEC_E_INTERNAL_ERROR, errNilResult)
	}
	return newContext(c.info, pc, client, req), nil
}
