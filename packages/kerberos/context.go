package kerberos

import (
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// baseContext is what client and server contexts share once the
// handshake has produced a session. Handshake fields are guarded by the
// root's serialisation of Step; the session has its own locks.
type baseContext struct {
	p     *Package
	cred  *credentials
	req   uint32
	state int
	err   error // sticky failure

	flags      uint32   // ISC_RET_* or ASC_RET_*
	sess       *session // built by the last leg; owned by the context until handedOver
	handedOver bool     // Session returned sess: its caller owns it now
	clientName string   // user@REALM
	serverName string   // service/host@REALM
	start      time.Time
	expiry     time.Time
}

const (
	stateStart = iota
	stateWaitAPRep
	statePendingAPRep // acceptor: AP-REP built, waiting for a large enough buffer
	stateDone
	stateFailed
)

func (c *baseContext) Flags() uint32     { return c.flags }
func (c *baseContext) Expiry() time.Time { return c.expiry }

// Session implements packages.Context: once the handshake is done, the
// caller takes the session and owns it.
func (c *baseContext) Session() packages.Session {
	if c.state != stateDone {
		return nil
	}
	c.handedOver = true
	return c.sess
}

// dropSession deletes a session the context still owns.
func (c *baseContext) dropSession() {
	if c.sess != nil && !c.handedOver {
		c.sess.delete()
	}
}

// fail makes err sticky and returns its status.
func (c *baseContext) fail(op string, st status.Status, cause error) (status.Status, error) {
	var err error
	if se, ok := cause.(*status.Error); ok {
		err, st = se, se.Status
	} else {
		err = errorf(op, st, cause)
	}
	c.dropSession()
	c.state = stateFailed
	c.err = err
	return st, err
}

func (c *baseContext) QueryAttribute(attr uint32) (any, error) {
	if c.state != stateDone {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	switch attr {
	case packages.SECPKG_ATTR_SIZES:
		sz := c.sess.Sizes()
		return &sz, nil
	case packages.SECPKG_ATTR_NAMES:
		return &packages.Names{UserName: c.clientName}, nil
	case packages.SECPKG_ATTR_NATIVE_NAMES:
		return &packages.NativeNames{ClientName: c.clientName, ServerName: c.serverName}, nil
	case packages.SECPKG_ATTR_LIFESPAN:
		return &packages.SecPkgContext_Lifespan{Start: packages.NewTimeStamp(c.start), Expiry: packages.NewTimeStamp(c.expiry)}, nil
	case packages.SECPKG_ATTR_FLAGS:
		return &packages.SecPkgContext_Flags{Flags: c.flags}, nil
	case packages.SECPKG_ATTR_SESSION_KEY:
		return &packages.SecPkgContext_SessionKey{SessionKey: c.sess.sessionKey()}, nil
	case packages.SECPKG_ATTR_PACKAGE_INFO:
		info := c.p.Info()
		return &info, nil
	case packages.SECPKG_ATTR_KEY_INFO:
		return keyInfo(c.sess.key.KeyType), nil
	}
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}

// keyInfo describes the per-message algorithms of etype.
func keyInfo(etype int32) *packages.KeyInfo {
	switch etype {
	case 17:
		return &packages.KeyInfo{SignatureAlgorithmName: "HMAC-SHA1-96-AES128", EncryptAlgorithmName: "AES-128-CTS-HMAC-SHA1-96", KeySize: 128, SignatureAlgorithm: 15, EncryptAlgorithm: 17}
	case 18:
		return &packages.KeyInfo{SignatureAlgorithmName: "HMAC-SHA1-96-AES256", EncryptAlgorithmName: "AES-256-CTS-HMAC-SHA1-96", KeySize: 256, SignatureAlgorithm: 16, EncryptAlgorithm: 18}
	case 19:
		return &packages.KeyInfo{SignatureAlgorithmName: "HMAC-SHA256-128-AES128", EncryptAlgorithmName: "AES-128-CTS-HMAC-SHA256-128", KeySize: 128, SignatureAlgorithm: 19, EncryptAlgorithm: 19}
	case 20:
		return &packages.KeyInfo{SignatureAlgorithmName: "HMAC-SHA384-192-AES256", EncryptAlgorithmName: "AES-256-CTS-HMAC-SHA384-192", KeySize: 256, SignatureAlgorithm: 20, EncryptAlgorithm: 20}
	}
	return &packages.KeyInfo{SignatureAlgorithmName: "HMAC-MD5", EncryptAlgorithmName: "RSADSI RC4-HMAC", KeySize: 128, SignatureAlgorithm: 0xFFFFFF76, EncryptAlgorithm: 23}
}

// Delete implements packages.Context. A session already handed over is
// its owner's to delete.
func (c *baseContext) Delete() {
	c.dropSession()
	if c.state != stateFailed {
		c.state = stateFailed
		c.err = status.SEC_E_INVALID_HANDLE
	}
}

// bindingsHash returns the MD5 of the SECBUFFER_CHANNEL_BINDINGS buffer in
// bufs, and whether there was one.
func bindingsHash(bufs []secbuffer.Buffer) ([16]byte, bool, error) {
	b := secbuffer.Find(bufs, secbuffer.SECBUFFER_CHANNEL_BINDINGS)
	if b == nil {
		return [16]byte{}, false, nil
	}
	cb, err := secbuffer.ParseChannelBindings(b.Data)
	if err != nil {
		return [16]byte{}, false, err
	}
	return cb.Hash(), true, nil
}

// outputToken returns the SECBUFFER_TOKEN output buffer.
func outputToken(out []secbuffer.Buffer) *secbuffer.Buffer {
	return secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
}
