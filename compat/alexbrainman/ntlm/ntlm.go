// Package ntlm is the NTLM security package's API of
// github.com/alexbrainman/sspi/ntlm, over gosspi's NTLM (MS-NLMP NTLMv2).
package ntlm

import (
	"errors"
	"time"
	"unsafe"

	"github.com/alexbrainman/sspi"
	"github.com/alexbrainman/sspi/internal/common"
)

// PackageInfo describes the NTLM package.
var PackageInfo *sspi.PackageInfo

func init() {
	var err error
	if PackageInfo, err = sspi.QueryPackageInfo(sspi.NTLMSP_NAME); err != nil {
		panic("failed to fetch NTLM package info: " + err.Error())
	}
}

func acquire(use uint32, ai *sspi.SEC_WINNT_AUTH_IDENTITY) (*sspi.Credentials, error) {
	return sspi.AcquireCredentials("", sspi.NTLMSP_NAME, use, (*byte)(unsafe.Pointer(ai)))
}

// AcquireCurrentUserCredentials acquires the current user's client
// credentials: the first entry of NTLM_USER_FILE.
func AcquireCurrentUserCredentials() (*sspi.Credentials, error) {
	return acquire(sspi.SECPKG_CRED_OUTBOUND, nil)
}

// AcquireUserCredentials acquires client credentials for username in
// domain with password.
func AcquireUserCredentials(domain, username, password string) (*sspi.Credentials, error) {
	ai, err := common.BuildAuthIdentity(domain, username, password)
	if err != nil {
		return nil, err
	}
	return acquire(sspi.SECPKG_CRED_OUTBOUND, ai)
}

// AcquireServerCredentials acquires server credentials: the users of
// NTLM_USER_FILE.
func AcquireServerCredentials() (*sspi.Credentials, error) {
	return acquire(sspi.SECPKG_CRED_INBOUND, nil)
}

// ClientContext is the client side of an NTLM context.
type ClientContext struct {
	sctxt *sspi.Context
}

// NewClientContext starts a client context and returns the NEGOTIATE
// message.
func NewClientContext(cred *sspi.Credentials) (*ClientContext, []byte, error) {
	c := sspi.NewClientContext(cred, sspi.ISC_REQ_CONNECTION)
	out := make([]byte, PackageInfo.MaxToken)
	done, n, err := common.UpdateContext(c, out, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if done {
		c.Release()
		return nil, nil, errors.New("ntlm authentication should not be completed yet")
	}
	if n == 0 {
		c.Release()
		return nil, nil, errors.New("ntlm token should not be empty")
	}
	return &ClientContext{sctxt: c}, out[:n], nil
}

// Release deletes the context. Release of nil does nothing.
func (c *ClientContext) Release() error {
	if c == nil {
		return nil
	}
	return c.sctxt.Release()
}

// Expiry returns when the context expires.
func (c *ClientContext) Expiry() time.Time { return c.sctxt.Expiry() }

// Update takes the CHALLENGE message and returns the AUTHENTICATE message,
// completing the client side.
func (c *ClientContext) Update(challenge []byte) ([]byte, error) {
	out := make([]byte, PackageInfo.MaxToken)
	done, n, err := common.UpdateContext(c.sctxt, out, challenge, nil)
	if err != nil {
		return nil, err
	}
	if !done {
		return nil, errors.New("ntlm authentication should be completed now")
	}
	if n == 0 {
		return nil, errors.New("ntlm token should not be empty")
	}
	return out[:n], nil
}

// Sizes returns the maximum token, maximum signature, block and security
// trailer sizes.
func (c *ClientContext) Sizes() (uint32, uint32, uint32, uint32, error) { return c.sctxt.Sizes() }

// ServerContext is the server side of an NTLM context.
type ServerContext struct {
	sctxt *sspi.Context
}

// NewServerContext takes the NEGOTIATE message and returns the context
// and the CHALLENGE message.
func NewServerContext(cred *sspi.Credentials, negotiate []byte) (*ServerContext, []byte, error) {
	c := sspi.NewServerContext(cred, sspi.ASC_REQ_CONNECTION)
	out := make([]byte, PackageInfo.MaxToken)
	done, n, err := common.UpdateContext(c, out, negotiate, nil)
	if err != nil {
		return nil, nil, err
	}
	if done {
		c.Release()
		return nil, nil, errors.New("ntlm authentication should not be completed yet")
	}
	if n == 0 {
		c.Release()
		return nil, nil, errors.New("ntlm token should not be empty")
	}
	return &ServerContext{sctxt: c}, out[:n], nil
}

// Release deletes the context. Release of nil does nothing.
func (c *ServerContext) Release() error {
	if c == nil {
		return nil
	}
	return c.sctxt.Release()
}

// Expiry returns when the context expires.
func (c *ServerContext) Expiry() time.Time { return c.sctxt.Expiry() }

// Update takes the AUTHENTICATE message, completing the server side: a
// wrong password is SEC_E_LOGON_DENIED.
func (c *ServerContext) Update(authenticate []byte) error {
	done, n, err := common.UpdateContext(c.sctxt, nil, authenticate, nil)
	if err != nil {
		return err
	}
	if !done {
		return errors.New("ntlm authentication should be completed now")
	}
	if n != 0 {
		return errors.New("ntlm token should be empty now")
	}
	return nil
}

// ImpersonateUser fails off Windows (SEC_E_UNSUPPORTED_FUNCTION).
func (c *ServerContext) ImpersonateUser() error { return c.sctxt.ImpersonateUser() }

// RevertToSelf fails off Windows (SEC_E_UNSUPPORTED_FUNCTION).
func (c *ServerContext) RevertToSelf() error { return c.sctxt.RevertToSelf() }

// Sizes returns the maximum token, maximum signature, block and security
// trailer sizes.
func (c *ServerContext) Sizes() (uint32, uint32, uint32, uint32, error) { return c.sctxt.Sizes() }
