package ntlm

import (
	"sync"
	"sync/atomic"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// ntlmSession is the per-message half of an established context, handed
// over by the handshake (packages.Session). It owns a copy of the
// exported session key and the keys derived from it. The keys are
// derived on the first per-message call, so that contexts that only
// authenticate (HTTP) skip the RC4 key schedules.
type ntlmSession struct {
	flags  uint32 // the negotiated flags; constant
	client bool   // constant

	once     sync.Once
	exported [16]byte // zeroed once derived or deleted; read only inside once
	s        *session // set by once

	deleted atomic.Bool
}

var (
	_ packages.Session = (*ntlmSession)(nil)
	_ packages.Wrapper = (*ntlmSession)(nil)
)

func newNTLMSession(flags uint32, exported [16]byte, client bool) *ntlmSession {
	return &ntlmSession{flags: flags, client: client, exported: exported}
}

// keys returns the derived session, deriving it on first use, or
// SEC_E_INVALID_HANDLE after Delete.
func (n *ntlmSession) keys() (*session, error) {
	n.once.Do(func() {
		n.s = newSession(n.flags, n.exported, n.client)
		clear(n.exported[:])
	})
	if n.deleted.Load() || n.s == nil {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	return n.s, nil
}

// Sizes implements packages.Session.
func (n *ntlmSession) Sizes() packages.SecPkgContext_Sizes { return sizes }

// MakeSignature implements packages.Session. The signature goes into the
// SECBUFFER_TOKEN buffer, whose capacity must be at least 16 bytes; seq is
// ignored: connection-oriented NTLM keeps its own sequence numbers.
func (n *ntlmSession) MakeSignature(qop uint32, msg []secbuffer.Buffer, _ uint32) error {
	s, err := n.keys()
	if err != nil {
		return err
	}
	return s.makeSignature(qop, msg)
}

// VerifySignature implements packages.Session.
func (n *ntlmSession) VerifySignature(msg []secbuffer.Buffer, _ uint32) (uint32, error) {
	s, err := n.keys()
	if err != nil {
		return 0, err
	}
	_, err = s.verify(msg, false)
	return 0, err
}

// EncryptMessage implements packages.Session: the SECBUFFER_DATA buffers
// are sealed in place and the 16-byte signature goes into the
// SECBUFFER_TOKEN buffer. With SECQOP_WRAP_NO_ENCRYPT the data is only
// signed.
func (n *ntlmSession) EncryptMessage(qop uint32, msg []secbuffer.Buffer, _ uint32) (status.Status, error) {
	s, err := n.keys()
	if err != nil {
		return status.Code(err), err
	}
	if err := s.encryptMessage(qop, msg); err != nil {
		return status.Code(err), err
	}
	return status.SEC_E_OK, nil
}

// DecryptMessage implements packages.Session.
func (n *ntlmSession) DecryptMessage(msg []secbuffer.Buffer, _ uint32) (uint32, status.Status, error) {
	s, err := n.keys()
	if err != nil {
		return 0, status.Code(err), err
	}
	qop, err := s.decryptMessage(msg)
	if err != nil {
		return 0, status.Code(err), err
	}
	return qop, status.SEC_E_OK, nil
}

// ResetMICState re-keys the RC4 cipher of one direction of the session:
// the outbound one (MakeSignature, EncryptMessage) after the context
// signed the SPNEGO mechListMIC, the inbound one (VerifySignature,
// DecryptMessage) after it verified the peer's. Sequence numbers are left
// alone. Without extended session security the one RC4 handle the
// directions share is re-keyed. This is the RC4 handling of MS-SPNG
// 3.3.5.1: with key exchange a signature consumes RC4 key stream, and
// Windows, gss-ntlmssp and MIT's SPNEGO start the application's messages
// from a fresh cipher after the mechListMIC. The Negotiate package calls
// it; an application doing its own SPNEGO calls it the same way. It does
// nothing after Delete.
func (n *ntlmSession) ResetMICState(outbound bool) {
	s, err := n.keys()
	if err != nil {
		return
	}
	s.resetRC4(outbound)
}

// Delete implements packages.Session: it zeroes the keys. A call running
// in the other direction fails cleanly.
func (n *ntlmSession) Delete() {
	n.deleted.Store(true)
	n.once.Do(func() {}) // no derivation from now on, and none in the making
	clear(n.exported[:])
	if n.s != nil {
		n.s.clear()
	}
}
