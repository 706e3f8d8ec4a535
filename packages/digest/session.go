package digest

import (
	"sync/atomic"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// session is the per-message half of an established Digest context
// (packages.Session).
//
// On a SASL context it owns the DIGEST-MD5 security layer and its keys
// (none with qop=auth). On an HTTP context there are no keys of their
// own: the per-request calls (the client's MakeSignature, the server's
// VerifySignature) compute and check new Authorization headers from the
// handshake's H(A1) and nonce count, so the session calls back into the
// context, under the context's lock.
type session struct {
	layer   *securityLayer // SASL auth-int or auth-conf; nil otherwise
	http    httpMessages   // HTTP contexts; nil for SASL
	deleted atomic.Bool
}

// httpMessages is the per-request half of an HTTP Digest context.
type httpMessages interface {
	httpMakeSignature(msg []secbuffer.Buffer) error
	httpVerifySignature(msg []secbuffer.Buffer) error
}

var (
	_ packages.Session = (*session)(nil)
	_ packages.Wrapper = (*session)(nil)
)

// Sizes implements packages.Session.
func (s *session) Sizes() packages.SecPkgContext_Sizes {
	if s.http != nil {
		return packages.SecPkgContext_Sizes{MaxToken: maxToken}
	}
	return *s.layer.sizes()
}

// sasl returns the security layer, or the status of a call that cannot
// use one.
func (s *session) sasl() (*securityLayer, error) {
	switch {
	case s.deleted.Load():
		return nil, status.SEC_E_INVALID_HANDLE
	case s.http != nil, s.layer == nil:
		return nil, status.SEC_E_UNSUPPORTED_FUNCTION
	}
	return s.layer, nil
}

// MakeSignature implements packages.Session. On an HTTP context it
// produces the Authorization for a later request on the same nonce
// (packages.md 4.2): msg = [TOKEN (empty, or a new challenge), PKG_PARAMS
// method, PKG_PARAMS URI, PKG_PARAMS H(entity), PADDING (output)]; an
// empty H(entity) means an empty body. On a SASL context it signs (RFC
// 2831 2.3).
func (s *session) MakeSignature(_ uint32, msg []secbuffer.Buffer, _ uint32) error {
	if s.http != nil && !s.deleted.Load() {
		return s.http.httpMakeSignature(msg)
	}
	l, err := s.sasl()
	if err != nil {
		return err
	}
	return l.makeSignature(msg)
}

// VerifySignature implements packages.Session. On an HTTP context it
// checks a later request's Authorization (Microsoft Digest, "Protecting
// Messages"): msg holds the buffers of ASC #2 (TOKEN, PKG_PARAMS method,
// URL, H(entity), realm); a replayed nc gives SEC_E_OUT_OF_SEQUENCE, and
// failures do not end the context. On a SASL context it checks an RFC
// 2831 2.3 MAC.
func (s *session) VerifySignature(msg []secbuffer.Buffer, _ uint32) (uint32, error) {
	if s.http != nil && !s.deleted.Load() {
		return 0, s.http.httpVerifySignature(msg)
	}
	l, err := s.sasl()
	if err != nil {
		return 0, err
	}
	return 0, l.verifySignature(msg)
}

// EncryptMessage implements packages.Session: SASL auth-conf seals,
// auth-int signs (SECQOP_WRAP_NO_ENCRYPT).
func (s *session) EncryptMessage(qop uint32, msg []secbuffer.Buffer, _ uint32) (status.Status, error) {
	l, err := s.sasl()
	if err == nil {
		err = l.encryptMessage(qop, msg)
	}
	return status.Code(err), err
}

// DecryptMessage implements packages.Session.
func (s *session) DecryptMessage(msg []secbuffer.Buffer, _ uint32) (uint32, status.Status, error) {
	l, err := s.sasl()
	var qop uint32
	if err == nil {
		qop, err = l.decryptMessage(msg)
	}
	return qop, status.Code(err), err
}

// Wrap implements packages.Wrapper for the SASL DIGEST-MD5 security layer:
// one message of the layout the package's doc gives.
func (s *session) Wrap(qop uint32, plain []byte) ([]byte, error) {
	return packages.WrapBuffers(s, qop, plain)
}

// Unwrap implements packages.Wrapper.
func (s *session) Unwrap(msg []byte) ([]byte, uint32, error) {
	return packages.UnwrapStream(s, msg)
}

// Delete implements packages.Session: it zeroes the layer's keys.
func (s *session) Delete() {
	s.deleted.Store(true)
	if s.layer != nil {
		s.layer.zero()
	}
}
