package kerberos

import (
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// rc4Dir holds the RFC 4757 keys of one direction.
type rc4Dir struct {
	key       []byte
	initiator bool // the direction's sender is the initiator
}

func newRC4Dir(key []byte, initiator bool) *rc4Dir {
	return &rc4Dir{key: append([]byte(nil), key...), initiator: initiator}
}

func (s *session) rc4MakeSignature(tok *secbuffer.Buffer, msg []secbuffer.Buffer) error {
	return status.SEC_E_UNSUPPORTED_FUNCTION
}

func (s *session) rc4VerifySignature(tok *secbuffer.Buffer, msg []secbuffer.Buffer) error {
	return status.SEC_E_UNSUPPORTED_FUNCTION
}

func (s *session) rc4EncryptMessage(qop uint32, tok *secbuffer.Buffer, msg []secbuffer.Buffer) (status.Status, error) {
	return status.SEC_E_UNSUPPORTED_FUNCTION, status.SEC_E_UNSUPPORTED_FUNCTION
}

func (s *session) rc4DecryptMessage(tok *secbuffer.Buffer, msg []secbuffer.Buffer) (uint32, status.Status, error) {
	return 0, status.SEC_E_UNSUPPORTED_FUNCTION, status.SEC_E_UNSUPPORTED_FUNCTION
}

func (s *session) rc4DecryptStream(msg []secbuffer.Buffer, stream *secbuffer.Buffer) (uint32, status.Status, error) {
	return 0, status.SEC_E_UNSUPPORTED_FUNCTION, status.SEC_E_UNSUPPORTED_FUNCTION
}
