// Package kerberos is the Kerberos security package's API of
// github.com/alexbrainman/sspi/kerberos, over gosspi's Kerberos (RFC 4121
// with MIT and Active Directory KDCs).
package kerberos

import (
	"errors"
	"time"
	"unsafe"

	"github.com/alexbrainman/sspi"
	"github.com/alexbrainman/sspi/internal/common"
	gosspi "github.com/gosspi/sspi"
)

// PackageInfo describes the Kerberos package.
var PackageInfo *sspi.PackageInfo

func init() {
	var err error
	if PackageInfo, err = sspi.QueryPackageInfo(sspi.MICROSOFT_KERBEROS_NAME); err != nil {
		panic("failed to fetch Kerberos package info: " + err.Error())
	}
}

func acquire(principal string, use uint32, ai *sspi.SEC_WINNT_AUTH_IDENTITY) (*sspi.Credentials, error) {
	return sspi.AcquireCredentials(principal, sspi.MICROSOFT_KERBEROS_NAME, use, (*byte)(unsafe.Pointer(ai)))
}

// AcquireCurrentUserCredentials acquires the current user's client
// credentials: the credential cache named by KRB5CCNAME (kinit's), then
// the client keytab.
func AcquireCurrentUserCredentials() (*sspi.Credentials, error) {
	return acquire("", sspi.SECPKG_CRED_OUTBOUND, nil)
}

// AcquireUserCredentials acquires client credentials for username in
// domain (the realm) with password, by an AS exchange with the KDC.
func AcquireUserCredentials(domain, username, password string) (*sspi.Credentials, error) {
	ai, err := common.BuildAuthIdentity(domain, username, password)
	if err != nil {
		return nil, err
	}
	return acquire("", sspi.SECPKG_CRED_OUTBOUND, ai)
}

// AcquireServerCredentials acquires server credentials: the keytab named
// by KRB5_KTNAME (or krb5.conf's default). principalName, if not empty,
// is the only service principal accepted.
func AcquireServerCredentials(principalName string) (*sspi.Credentials, error) {
	return acquire(principalName, sspi.SECPKG_CRED_INBOUND, nil)
}

// maxToken is the room offered for each output token.
func maxToken() []byte { return make([]byte, PackageInfo.MaxToken) }

// ClientContext is the client side of a Kerberos context.
type ClientContext struct {
	sctxt      *sspi.Context
	targetName *uint16
	bindings   []byte
}

// NewClientContext starts a client context for targetName (an SPN such
// as "ldap/dc.example.com") asking for a connection, and returns whether
// it is already complete (no mutual authentication) and the AP-REQ token.
func NewClientContext(cred *sspi.Credentials, targetName string) (*ClientContext, bool, []byte, error) {
	return NewClientContextWithFlags(cred, targetName, sspi.ISC_REQ_CONNECTION)
}

// NewClientContextWithFlags is NewClientContext asking for flags
// (ISC_REQ_*).
func NewClientContextWithFlags(cred *sspi.Credentials, targetName string, flags uint32) (*ClientContext, bool, []byte, error) {
	return NewClientContextWithChannelBindings(cred, targetName, flags, nil)
}

// NewClientContextWithChannelBindings is NewClientContextWithFlags with
// channel bindings: channelBindings is a SEC_CHANNEL_BINDINGS structure
// (for example over "tls-server-end-point:" and the certificate hash), or
// nil for none.
func NewClientContextWithChannelBindings(cred *sspi.Credentials, targetName string, flags uint32, channelBindings []byte) (*ClientContext, bool, []byte, error) {
	var tname *uint16
	if targetName != "" {
		var err error
		if tname, err = gosspi.UTF16PtrFromString(targetName); err != nil {
			return nil, false, nil, err
		}
	}
	cc := &ClientContext{sctxt: sspi.NewClientContext(cred, flags), targetName: tname, bindings: append([]byte(nil), channelBindings...)}
	out := maxToken()
	done, n, err := common.UpdateContext(cc.sctxt, out, nil, tname, common.ChannelBindingsBuffer(cc.bindings)...)
	if err != nil {
		return nil, false, nil, err
	}
	if n == 0 {
		cc.sctxt.Release()
		return nil, false, nil, errors.New("kerberos token should not be empty")
	}
	return cc, done, out[:n], nil
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

// Update takes the server's token (the AP-REP) and reports whether the
// context is complete, with any token to send back.
func (c *ClientContext) Update(token []byte) (bool, []byte, error) {
	out := maxToken()
	done, n, err := common.UpdateContext(c.sctxt, out, token, c.targetName, common.ChannelBindingsBuffer(c.bindings)...)
	if err != nil {
		return false, nil, err
	}
	if n == 0 && !done {
		return false, nil, errors.New("kerberos token should not be empty")
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

// EncryptMessage wraps msg (sealing it in place unless qop is
// KERB_WRAP_NO_ENCRYPT, 0x80000001) and returns the token to send.
func (c *ClientContext) EncryptMessage(msg []byte, qop, seqno uint32) ([]byte, error) {
	return common.EncryptMessage(c.sctxt, msg, qop, seqno)
}

// DecryptMessage unwraps a token and returns the QOP (KERB_WRAP_NO_ENCRYPT
// when it was not sealed) and the data.
func (c *ClientContext) DecryptMessage(msg []byte, seqno uint32) (uint32, []byte, error) {
	return common.DecryptMessage(c.sctxt, msg, seqno)
}

// VerifyFlags checks that the requested flags were established.
func (c *ClientContext) VerifyFlags() error { return c.sctxt.VerifyFlags() }

// VerifySelectiveFlags checks that flags were requested and established.
func (c *ClientContext) VerifySelectiveFlags(flags uint32) error {
	return c.sctxt.VerifySelectiveFlags(flags)
}

// ServerContext is the server side of a Kerberos context.
type ServerContext struct {
	sctxt *sspi.Context
}

// NewServerContext accepts the client's first token and returns the
// context, whether it is complete and the token to answer with.
func NewServerContext(cred *sspi.Credentials, token []byte) (*ServerContext, bool, []byte, error) {
	sc := &ServerContext{sctxt: sspi.NewServerContext(cred, sspi.ASC_REQ_CONNECTION)}
	out := maxToken()
	done, n, err := common.UpdateContext(sc.sctxt, out, token, nil)
	if err != nil {
		return nil, false, nil, err
	}
	return sc, done, out[:n], nil
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
func (c *ServerContext) Update(token []byte) (bool, []byte, error) {
	out := maxToken()
	done, n, err := common.UpdateContext(c.sctxt, out, token, nil)
	if err != nil {
		return false, nil, err
	}
	if n == 0 && !done {
		return false, nil, errors.New("kerberos token should not be empty")
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
