package packages

import (
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// WrapBuffers is the Wrap of packages whose EncryptMessage takes a
// SECBUFFER_TOKEN (the security token, up to SecurityTrailer bytes), the
// SECBUFFER_DATA and a SECBUFFER_PADDING (up to BlockSize bytes): it
// returns token ‖ data ‖ padding, the layout Windows callers (LDAP SASL,
// .NET NegotiateStream) exchange. One allocation: the buffers are laid out
// in place and closed up when the package used less than the maximum.
func WrapBuffers(s Session, qop uint32, plain []byte) ([]byte, error) {
	sz := s.Sizes()
	t, n, p := int(sz.SecurityTrailer), len(plain), int(sz.BlockSize)
	out := make([]byte, t+n+p)
	copy(out[t:], plain)
	bufs := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN, Data: out[:0:t]},
		{Type: secbuffer.SECBUFFER_DATA, Data: out[t : t+n : t+n]},
		{Type: secbuffer.SECBUFFER_PADDING, Data: out[t+n : t+n : t+n+p]},
	}
	if _, err := s.EncryptMessage(qop, bufs, 0); err != nil {
		return nil, err
	}
	msg := out[:0]
	for _, b := range bufs {
		msg = append(msg, b.Data...) // copy handles the overlap
	}
	return msg, nil
}

// UnwrapStream is the Unwrap of packages whose DecryptMessage finds the
// token itself in a SECBUFFER_STREAM and returns the plaintext in the
// SECBUFFER_DATA (Kerberos, Digest). msg is not modified.
func UnwrapStream(s Session, msg []byte) ([]byte, uint32, error) {
	bufs := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_STREAM, Data: append([]byte(nil), msg...)},
		{Type: secbuffer.SECBUFFER_DATA},
	}
	qop, _, err := s.DecryptMessage(bufs, 0)
	if err != nil {
		return nil, 0, err
	}
	return bufs[1].Data, qop, nil
}

// UnwrapFixed is the Unwrap of packages whose token has a fixed size at
// the front of the message (NTLM: the 16-byte signature, then the data).
// A shorter message is SEC_E_INCOMPLETE_MESSAGE. msg is not modified.
func UnwrapFixed(s Session, msg []byte, tokenSize int) ([]byte, uint32, error) {
	if len(msg) < tokenSize {
		return nil, 0, status.SEC_E_INCOMPLETE_MESSAGE
	}
	m := append([]byte(nil), msg...)
	bufs := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN, Data: m[:tokenSize:tokenSize]},
		{Type: secbuffer.SECBUFFER_DATA, Data: m[tokenSize:]},
	}
	qop, _, err := s.DecryptMessage(bufs, 0)
	if err != nil {
		return nil, 0, err
	}
	return bufs[1].Data, qop, nil
}
