package schannel

import (
	"sync/atomic"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// session is the record layer of an established context
// (packages.Session). TLS keeps one connection state for both halves:
// post-handshake messages (a KeyUpdate, a renegotiation request,
// close_notify) arrive through DecryptMessage and are answered through
// the handshake calls, and our write key moves only when that answer is
// produced (see the package doc). So the session is a view of the
// context's record state, under the context's I/O lock, rather than a
// copy: its Delete zeroes the TLS 1.3 record keys and ends the record
// layer; the context's Delete ends the rest.
type session struct {
	c       *schannelContext
	deleted atomic.Bool
}

var (
	_ packages.Session = (*session)(nil)
	_ packages.Wrapper = (*session)(nil)
)

// Sizes implements packages.Session: Schannel has no signatures; the
// trailer and block size are those of SECPKG_ATTR_SIZES.
func (s *session) Sizes() packages.SecPkgContext_Sizes {
	if v, err := s.c.query(packages.SECPKG_ATTR_SIZES); err == nil {
		if sz, ok := v.(*packages.SecPkgContext_Sizes); ok && sz != nil {
			return *sz
		}
	}
	return packages.SecPkgContext_Sizes{}
}

// MakeSignature is not offered by Schannel.
func (s *session) MakeSignature(uint32, []secbuffer.Buffer, uint32) error {
	return status.New("MakeSignature", s.c.pkg.name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
}

// VerifySignature is not offered by Schannel.
func (s *session) VerifySignature([]secbuffer.Buffer, uint32) (uint32, error) {
	return 0, status.New("VerifySignature", s.c.pkg.name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
}

// EncryptMessage implements packages.Session: see encryptMessage.
func (s *session) EncryptMessage(qop uint32, msg []secbuffer.Buffer, _ uint32) (status.Status, error) {
	if s.deleted.Load() {
		return status.SEC_E_INVALID_HANDLE, status.New("EncryptMessage", s.c.pkg.name, status.SEC_E_INVALID_HANDLE, nil)
	}
	return s.c.encryptMessage(qop, msg)
}

// DecryptMessage implements packages.Session: see decryptMessage.
func (s *session) DecryptMessage(msg []secbuffer.Buffer, _ uint32) (uint32, status.Status, error) {
	if s.deleted.Load() {
		return 0, status.SEC_E_INVALID_HANDLE, status.New("DecryptMessage", s.c.pkg.name, status.SEC_E_INVALID_HANDLE, nil)
	}
	return s.c.decryptMessage(msg)
}

// Delete implements packages.Session: it ends the record layer and zeroes
// its TLS 1.3 keys.
func (s *session) Delete() {
	if s.deleted.Swap(true) {
		return
	}
	s.c.ioMu.Lock()
	s.c.endRecords()
	s.c.ioMu.Unlock()
}
