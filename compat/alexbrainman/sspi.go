package sspi

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"

	gosspi "github.com/gosspi/sspi"
)

// PackageInfo describes a security package.
type PackageInfo struct {
	Capabilities uint32
	Version      uint16
	RPCID        uint16
	MaxToken     uint32
	Name         string
	Comment      string
}

// QueryPackageInfo returns the description of the package pkgname.
func QueryPackageInfo(pkgname string) (*PackageInfo, error) {
	name, err := gosspi.UTF16PtrFromString(pkgname)
	if err != nil {
		return nil, err
	}
	var pi *SecPkgInfo
	if ret := QuerySecurityPackageInfo(name, &pi); ret != SEC_E_OK {
		return nil, ret
	}
	return &PackageInfo{
		Capabilities: pi.Capabilities,
		Version:      pi.Version,
		RPCID:        pi.RPCID,
		MaxToken:     pi.MaxToken,
		Name:         gosspi.UTF16PtrToString(pi.Name),
		Comment:      gosspi.UTF16PtrToString(pi.Comment),
	}, nil
}

// Credentials is a credentials handle and its expiry.
type Credentials struct {
	Handle CredHandle
	expiry Filetime
}

// AcquireCredentials acquires credentials of package pkgname for creduse
// (SECPKG_CRED_INBOUND, _OUTBOUND or _BOTH). principal "" passes no
// principal name; authdata is nil (the package's default credentials) or
// points to a SEC_WINNT_AUTH_IDENTITY.
func AcquireCredentials(principal string, pkgname string, creduse uint32, authdata *byte) (*Credentials, error) {
	var p *uint16
	if principal != "" {
		var err error
		if p, err = gosspi.UTF16PtrFromString(principal); err != nil {
			return nil, err
		}
	}
	name, err := gosspi.UTF16PtrFromString(pkgname)
	if err != nil {
		return nil, err
	}
	c := new(Credentials)
	if ret := AcquireCredentialsHandle(p, name, creduse, nil, authdata, 0, 0, &c.Handle, &c.expiry); ret != SEC_E_OK {
		return nil, ret
	}
	return c, nil
}

// Release frees the credentials handle. Release of nil does nothing.
func (c *Credentials) Release() error {
	if c == nil {
		return nil
	}
	if ret := FreeCredentialsHandle(&c.Handle); ret != SEC_E_OK {
		return ret
	}
	return nil
}

// Expiry returns when the credentials expire.
func (c *Credentials) Expiry() time.Time { return time.Unix(0, c.expiry.Nanoseconds()) }

// Context is a security context: the handle, the flags requested and the
// flags the last step established.
type Context struct {
	Cred             *Credentials
	Handle           *CtxtHandle
	handle           CtxtHandle
	client           bool
	expiry           Filetime
	RequestedFlags   uint32
	EstablishedFlags uint32
}

// NewClientContext returns a client context over cred asking for flags
// (ISC_REQ_*); Update runs its steps.
func NewClientContext(cred *Credentials, flags uint32) *Context {
	return &Context{Cred: cred, client: true, RequestedFlags: flags}
}

// NewServerContext returns a server context over cred asking for flags
// (ASC_REQ_*); Update runs its steps.
func NewServerContext(cred *Credentials, flags uint32) *Context {
	return &Context{Cred: cred, RequestedFlags: flags}
}

// Update runs one step: InitializeSecurityContext for a client (with
// target name targname), AcceptSecurityContext for a server, with the
// peer's buffers in and room for the answer in out.
func (c *Context) Update(targname *uint16, out, in *SecBufferDesc) syscall.Errno {
	var cred *CredHandle
	if c.Cred != nil {
		cred = &c.Cred.Handle
	}
	prev := c.Handle
	if c.Handle == nil {
		c.Handle = &c.handle
	}
	if c.client {
		return InitializeSecurityContext(cred, prev, targname, c.RequestedFlags, 0, SECURITY_NATIVE_DREP,
			in, 0, c.Handle, out, &c.EstablishedFlags, &c.expiry)
	}
	return AcceptSecurityContext(cred, prev, in, c.RequestedFlags, SECURITY_NATIVE_DREP,
		c.Handle, out, &c.EstablishedFlags, &c.expiry)
}

// Release deletes the context. Release of nil does nothing.
func (c *Context) Release() error {
	if c == nil {
		return nil
	}
	if ret := DeleteSecurityContext(c.Handle); ret != SEC_E_OK {
		return ret
	}
	return nil
}

// Expiry returns when the context expires.
func (c *Context) Expiry() time.Time { return time.Unix(0, c.expiry.Nanoseconds()) }

// ImpersonateUser is ImpersonateSecurityContext; off Windows it fails with
// SEC_E_UNSUPPORTED_FUNCTION.
func (c *Context) ImpersonateUser() error {
	if ret := ImpersonateSecurityContext(c.Handle); ret != SEC_E_OK {
		return ret
	}
	return nil
}

// RevertToSelf is RevertSecurityContext; off Windows it fails with
// SEC_E_UNSUPPORTED_FUNCTION.
func (c *Context) RevertToSelf() error {
	if ret := RevertSecurityContext(c.Handle); ret != SEC_E_OK {
		return ret
	}
	return nil
}

// Sizes returns SECPKG_ATTR_SIZES: the maximum token, the maximum
// signature, the block size and the security trailer size.
func (c *Context) Sizes() (uint32, uint32, uint32, uint32, error) {
	var s _SecPkgContext_Sizes
	if ret := QueryContextAttributes(c.Handle, _SECPKG_ATTR_SIZES, (*byte)(unsafe.Pointer(&s))); ret != SEC_E_OK {
		return 0, 0, 0, 0, ret
	}
	return s.MaxToken, s.MaxSignature, s.BlockSize, s.SecurityTrailer, nil
}

// VerifyFlags checks that every requested flag was established.
func (c *Context) VerifyFlags() error { return c.VerifySelectiveFlags(c.RequestedFlags) }

// VerifySelectiveFlags checks that flags were all requested and all
// established.
func (c *Context) VerifySelectiveFlags(flags uint32) error {
	if missing := flags &^ c.RequestedFlags; missing != 0 {
		return fmt.Errorf("sspi: invalid flags check: desired=%b requested=%b missing=%b extra=%b",
			flags, c.RequestedFlags, missing, c.RequestedFlags&^flags)
	}
	if missing := flags &^ c.EstablishedFlags; missing != 0 {
		return fmt.Errorf("sspi: invalid flags: desired=%b established=%b missing=%b extra=%b",
			flags, c.EstablishedFlags, missing, c.EstablishedFlags&^flags)
	}
	return nil
}

// NewSecBufferDesc returns a SecBufferDesc over b, which must not be
// empty.
func NewSecBufferDesc(b []SecBuffer) *SecBufferDesc {
	return &SecBufferDesc{Version: SECBUFFER_VERSION, BuffersCount: uint32(len(b)), Buffers: &b[0]}
}
