// Package negotiate is the Negotiate security package's API of
// github.com/alexbrainman/sspi/negotiate, over gosspi's Negotiate (SPNEGO:
// Kerberos first, NTLM when no ticket can be had, as on Windows).
package negotiate

import (
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/alexbrainman/sspi"
	"github.com/alexbrainman/sspi/internal/common"
	gosspi "github.com/gosspi/sspi"
)

// PackageInfo describes the Negotiate package.
//
// Deprecated: use GetPackageInfo.
var PackageInfo *sspi.PackageInfo

func init() {
	PackageInfo, _ = GetPackageInfo()
}

var (
	pkgInfoMu sync.Mutex
	pkgInfo   *sspi.PackageInfo
)

// GetPackageInfo returns the description of the Negotiate package.
func GetPackageInfo() (*sspi.PackageInfo, error) {
	pkgInfoMu.Lock()
	defer pkgInfoMu.Unlock()
	if pkgInfo == nil {
		pi, err := sspi.QueryPackageInfo(sspi.NEGOSSP_NAME)
		if err != nil {
			return nil, err
		}
		pkgInfo = pi
	}
	return pkgInfo, nil
}

func acquire(principal string, use uint32, ai *sspi.SEC_WINNT_AUTH_IDENTITY) (*sspi.Credentials, error) {
	return sspi.AcquireCredentials(principal, sspi.NEGOSSP_NAME, use, (*byte)(unsafe.Pointer(ai)))
}

// AcquireCurrentUserCredentials acquires the current user's client
// credentials: Kerberos from the credential cache named by KRB5CCNAME,
// NTLM from NTLM_USER_FILE.
func AcquireCurrentUserCredentials() (*sspi.Credentials, error) {
	return acquire("", sspi.SECPKG_CRED_OUTBOUND, nil)
}

// AcquireUserCredentials acquires client credentials for username in
// domain with password.
func AcquireUserCredentials(domain, username, password string) (*sspi.Credentials, error) {
	ai, err := common.BuildAuthIdentity(domain, username, password)
	if err != nil {
		return nil, err
	}
	return acquire("", sspi.SECPKG_CRED_OUTBOUND, ai)
}

// AcquireServerCredentials acquires server credentials: the Kerberos
// keytab named by KRB5_KTNAME and the NTLM users of NTLM_USER_FILE.
// principalName, if not empty, is the only Kerberos service principal
// accepted.
func AcquireServerCredentials(principalName string) (*sspi.Credentials, error) {
	return acquire(principalName, sspi.SECPKG_CRED_INBOUND, nil)
}

// maxToken is the room offered for each output token.
func maxToken() ([]byte, error) {
	pi, err := GetPackageInfo()
	if err != nil {
		return nil, err
	}
	return make([]byte, pi.MaxToken), nil
}

// ClientContext is the client side of a Negotiate context.
type ClientContext struct {
	sctxt      *sspi.Context
	targetName *uint16
}

// NewClientContext starts a client context for targetName (an SPN such
// as "HTTP/web.example.com") asking for a connection, and returns the
// first token.
func NewClientContext(cred *sspi.Credentials, targetName string) (cc *ClientContext, outputToken []byte, err error) {
	return NewClientContextWithFlags(cred, targetName, sspi.ISC_REQ_CONNECTION)
}

// NewClientContextWithFlags is NewClientContext asking for flags
// (ISC_REQ_*).
func NewClientContextWithFlags(cred *sspi.Credentials, targetName string, flags uint32) (cc *ClientContext, outputToken []byte, err error) {
	var tname *uint16
	if targetName != "" {
		if tname, err = gosspi.UTF16PtrFromString(targetName); err != nil {
			return nil, nil, err
		}
	}
	out, err := maxToken()
	if err != nil {
		return nil, nil, err
	}
	c := sspi.NewClientContext(cred, flags)
	done, n, err := common.UpdateContext(c, out, nil, tname)
	if err != nil {
		return nil, nil, err
	}
	if done {
		c.Release()
		return nil, nil, errors.New("negotiate authentication should not be completed yet")
	}
	if n == 0 {
		c.Release()
		return nil, nil, errors.New("negotiate token should not be empty")
	}
	return &ClientContext{sctxt: c, targetName: tname}, out[:n], nil
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

// Update takes the server's token and reports whether the client side is
// complete, with any token to send back.
func (c *ClientContext) Update(token []byte) (authCompleted bool, outputToken []byte, err error) {
	out, err := maxToken()
	if err != nil {
		return false, nil, err
	}
	done, n, err := common.UpdateContext(c.sctxt, out, token, c.targetName)
	if err != nil {
		return false, nil, err
	}
	if n == 0 && !done {
		return false, nil, errors.New("negotiate token should not be empty")
	}
	return done, out[:n], nil
}

// Sizes returns the maximum token, maximum signature, block and security
// trailer sizes.
func (c *ClientContext) Sizes() (uint32, uint32, uint32, uint32, error) { return c.sctxt.Sizes() }

// MakeSignature returns a MIC token over msg.
func (c *ClientContext) MakeSignature(msg []byte, qop, seqno uint32) ([]byte, error) {
	return common.MakeSignature(c.sctxt, msg, qop, seqno)
}

// VerifySignature checks a MIC token over msg and returns the QOP.
func (c *ClientContext) VerifySignature(msg, token []byte, seqno uint32) (uint32, error) {
	return common.VerifySignature(c.sctxt, msg, token, seqno)
}

// EncryptMessage wraps msg (sealing it in place) and returns the token to send.
func (c *ClientContext) EncryptMessage(msg []byte, qop, seqno uint32) ([]byte, error) {
	return common.EncryptMessage(c.sctxt, msg, qop, seqno)
}

// DecryptMessage unwraps a token and returns the QOP and the data.
func (c *ClientContext) DecryptMessage(msg []byte, seqno uint32) (uint32, []byte, error) {
	return common.DecryptMessage(c.sctxt, msg, seqno)
}

// VerifyFlags checks that the requested flags were established.
func (c *ClientContext) VerifyFlags() error { return c.sctxt.VerifyFlags() }

// VerifySelectiveFlags checks that flags were requested and established.
func (c *ClientContext) VerifySelectiveFlags(flags uint32) error {
	return c.sctxt.VerifySelectiveFlags(flags)
}

// ServerContext is the server side of a Negotiate context.
type ServerContext struct {
	sctxt *sspi.Context
}

// NewServerContext accepts the client's first token and returns the
// context, whether it is complete and the token to answer with.
func NewServerContext(cred *sspi.Credentials, token []byte) (sc *ServerContext, authDone bool, outputToken []byte, err error) {
	out, err := maxToken()
	if err != nil {
		return nil, false, nil, err
	}
	c := sspi.NewServerContext(cred, sspi.ASC_REQ_CONNECTION)
	done, n, err := common.UpdateContext(c, out, token, nil)
	if err != nil {
		return nil, false, nil, err
	}
	return &ServerContext{sctxt: c}, done, out[:n], nil
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

// Update takes the client's next token and reports whether the context is
// complete, with any token to answer with.
func (c *ServerContext) Update(token []byte) (authCompleted bool, outputToken []byte, err error) {
	out, err := maxToken()
	if err != nil {
		return false, nil, err
	}
	done, n, err := common.UpdateContext(c.sctxt, out, token, nil)
	if err != nil {
		return false, nil, err
	}
	if n == 0 && !done {
		return false, nil, errors.New("negotiate token should not be empty")
	}
	return done, out[:n], nil
}

// GetUsername returns the client's principal name.
func (c *ServerContext) GetUsername() (string, error) { return common.ClientName(c.sctxt) }

// ImpersonateUser fails off Windows (SEC_E_UNSUPPORTED_FUNCTION).
func (c *ServerContext) ImpersonateUser() error { return c.sctxt.ImpersonateUser() }

// RevertToSelf fails off Windows (SEC_E_UNSUPPORTED_FUNCTION).
func (c *ServerContext) RevertToSelf() error { return c.sctxt.RevertToSelf() }

// Sizes returns the maximum token, maximum signature, block and security
// trailer sizes.
func (c *ServerContext) Sizes() (uint32, uint32, uint32, uint32, error) { return c.sctxt.Sizes() }

// MakeSignature returns a MIC token over msg.
func (c *ServerContext) MakeSignature(msg []byte, qop, seqno uint32) ([]byte, error) {
	return common.MakeSignature(c.sctxt, msg, qop, seqno)
}

// VerifySignature checks a MIC token over msg and returns the QOP.
func (c *ServerContext) VerifySignature(msg, token []byte, seqno uint32) (uint32, error) {
	return common.VerifySignature(c.sctxt, msg, token, seqno)
}

// EncryptMessage wraps msg and returns the token to send.
func (c *ServerContext) EncryptMessage(msg []byte, qop, seqno uint32) ([]byte, error) {
	return common.EncryptMessage(c.sctxt, msg, qop, seqno)
}

// DecryptMessage unwraps a token and returns the QOP and the data.
func (c *ServerContext) DecryptMessage(msg []byte, seqno uint32) (uint32, []byte, error) {
	return common.DecryptMessage(c.sctxt, msg, seqno)
}
