package sasl

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// DefaultMaxReceive is the default receive buffer size: the largest
// wrapped message this side accepts and, with GSSAPI, advertises. It is
// the largest size the 3-octet field of RFC 4752 can carry, so that
// peers that cannot advertise theirs (GSS-SPNEGO: Samba sends frames up
// to its own limits) are not refused.
const DefaultMaxReceive = 1<<24 - 1

// DefaultMaxSend is the default largest wrapped message sent under
// GSS-SPNEGO, where the peer advertises no size: 64 KiB, the receive
// buffer of OpenLDAP and Cyrus SASL (sasl-secprops maxbufsize) and of
// Samba (gensec_gssapi "max wrap buf size").
const DefaultMaxSend = 65536

// Security is an established SASL security layer: a context, the layer
// in force and the buffer sizes of both sides. It wraps and unwraps the
// tokens that RFC 4422 3.7 frames; [Conn] does the framing over a
// net.Conn.
//
// A Security is safe for concurrent use: one goroutine may wrap while
// another unwraps. Tokens are sequenced, so each direction's tokens must
// be unwrapped in the order they were wrapped, each exactly once.
type Security struct {
	// constant
	ctx     *sspi.Context
	layer   Layer
	ntlm    bool   // NTLM layout: the 16-byte signature, then the data
	qop     uint32 // EncryptMessage qop: 0 seals, SECQOP_WRAP_NO_ENCRYPT signs
	sealed  bool   // received frames must have been encrypted
	trailer int    // SecPkgContext_Sizes.cbSecurityTrailer
	block   int    // SecPkgContext_Sizes.cbBlockSize
	maxSend int    // the peer's receive buffer: the largest token sent
	maxRecv int    // ours: the largest token accepted
	maxText int    // the largest plaintext whose token fits maxSend

	closeOnce sync.Once
}

// newSecurity sets up the layer on an established context. maxSend and
// maxRecv are the largest wrapped messages the peer and this side accept.
func newSecurity(c *sspi.Context, layer Layer, maxSend, maxRecv int) (*Security, error) {
	s := &Security{ctx: c, layer: layer, maxSend: maxSend, maxRecv: maxRecv}
	if layer == LayerNone {
		return s, nil
	}
	if !c.Established() {
		return nil, fmt.Errorf("%w: the context is not established", ErrProtocol)
	}
	sizes, err := c.Sizes()
	if err != nil {
		return nil, err
	}
	s.trailer, s.block = int(sizes.SecurityTrailer), int(sizes.BlockSize)
	s.ntlm = runsNTLM(c)
	// NTLM over LDAP: integrity is sealed too (see ClientFlags).
	s.sealed = layer == LayerConfidentiality || s.ntlm
	if !s.sealed {
		s.qop = sspi.SECQOP_WRAP_NO_ENCRYPT
	}
	// The wrap overhead is at most the trailer and one block of padding
	// (EncryptMessage's TOKEN and PADDING buffers).
	s.maxText = maxSend - s.trailer - s.block
	if s.maxText < 1 {
		return nil, fmt.Errorf("%w: the peer's buffer of %d bytes cannot hold a wrapped message (overhead %d)", ErrTooWeak, maxSend, s.trailer+s.block)
	}
	if maxRecv < 1 {
		return nil, fmt.Errorf("%w: a receive buffer of %d bytes", ErrTooWeak, maxRecv)
	}
	return s, nil
}

// Layer returns the layer in force.
func (s *Security) Layer() Layer { return s.layer }

// Confidential reports whether messages are encrypted: with
// LayerConfidentiality, and with LayerIntegrity on NTLM, which LDAP peers
// seal (see [ClientFlags]).
func (s *Security) Confidential() bool { return s.layer != LayerNone && s.sealed }

// Context returns the security context; it stays owned by s.
func (s *Security) Context() *sspi.Context { return s.ctx }

// MaxSend returns the largest wrapped message this side sends: the
// peer's receive buffer size, and with GSSAPI no more than this side's
// own (see [ClientConfig.MaxReceive]).
func (s *Security) MaxSend() int { return s.maxSend }

// MaxReceive returns this side's receive buffer size: the largest wrapped
// message accepted.
func (s *Security) MaxReceive() int { return s.maxRecv }

// MaxPlaintext returns the largest plaintext that one wrapped message
// sent to the peer can carry (gss_wrap_size_limit): [Conn] splits larger
// writes into messages of at most this size.
func (s *Security) MaxPlaintext() int { return s.maxText }

// Close deletes the context (DeleteSecurityContext). It is idempotent.
func (s *Security) Close() {
	s.closeOnce.Do(s.ctx.Delete)
}

// Wrap protects plain as one message (GSS_Wrap): sealed or signed as the
// layer says, in the layout the peer unwraps. Keep plain within
// MaxPlaintext when the message goes to the peer in one frame. plain is
// not modified. On LayerNone, Wrap fails.
func (s *Security) Wrap(plain []byte) ([]byte, error) {
	if s.layer == LayerNone {
		return nil, fmt.Errorf("%w: no security layer", ErrProtocol)
	}
	return s.appendToken(nil, plain)
}

// Unwrap verifies and opens one message made by the peer's Wrap
// (GSS_Unwrap) and returns its plaintext. It fails, returning no
// plaintext, when the message does not verify, is replayed or out of
// order, is over MaxReceive, or was only signed on a layer whose
// messages must be encrypted. token is not modified.
func (s *Security) Unwrap(token []byte) ([]byte, error) {
	if s.layer == LayerNone {
		return nil, fmt.Errorf("%w: no security layer", ErrProtocol)
	}
	if len(token) > s.maxRecv {
		return nil, ErrFrameTooLarge
	}
	return s.open(append([]byte(nil), token...))
}

// appendFrame appends to dst one RFC 4422 3.7 frame, the 4-octet length
// in network order and the wrapped plain.
func (s *Security) appendFrame(dst, plain []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst, err := s.appendToken(dst, plain)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start - 4
	if n > s.maxSend {
		return dst[:start], ErrFrameTooLarge
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}

// appendToken appends the wrapped plain to dst: EncryptMessage on a
// TOKEN, DATA and PADDING laid out in place, closed up afterwards. For
// Kerberos TOKEN‖DATA is an RFC 4121 4.2.6.2 Wrap token (with RRC), for
// NTLM the MS-NLMP 2.2.2.9 signature followed by the data, the layout
// Samba's and Windows' LDAP clients send (Samba ntlmssp_wrap).
func (s *Security) appendToken(dst, plain []byte) ([]byte, error) {
	start, t, n, p := len(dst), s.trailer, len(plain), s.block
	dst = slices.Grow(dst, t+n+p)[:start+t+n+p]
	buf := dst[start:]
	copy(buf[t:], plain)
	bufs := [3]secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN, Data: buf[:0:t]},
		{Type: secbuffer.SECBUFFER_DATA, Data: buf[t : t+n : t+n]},
		{Type: secbuffer.SECBUFFER_PADDING, Data: buf[t+n : t+n : t+n+p]},
	}
	if err := s.ctx.EncryptMessage(s.qop, bufs[:], 0); err != nil {
		clear(buf)
		return dst[:start], fmt.Errorf("sasl: wrapping: %w", err)
	}
	w := start
	for _, b := range bufs {
		w += copy(dst[w:], b.Data) // moves left: copy handles the overlap
	}
	return dst[:w], nil
}

// open unwraps token in place and returns the plaintext, a sub-slice of
// token.
func (s *Security) open(token []byte) ([]byte, error) {
	var bufs [2]secbuffer.Buffer
	if s.ntlm {
		// MS-NLMP: the fixed-size signature first (Samba ntlmssp_unwrap).
		if len(token) < s.trailer {
			return nil, fmt.Errorf("sasl: unwrapping: %w", status.SEC_E_INVALID_TOKEN)
		}
		bufs = [2]secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: token[:s.trailer:s.trailer]},
			{Type: secbuffer.SECBUFFER_DATA, Data: token[s.trailer:]},
		}
	} else {
		// Kerberos finds the token's parts itself (any RRC).
		bufs = [2]secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_STREAM, Data: token},
			{Type: secbuffer.SECBUFFER_DATA},
		}
	}
	qop, st, err := s.ctx.DecryptMessage(bufs[:], 0)
	if err == nil && st != status.SEC_E_OK {
		err = st
	}
	if err != nil {
		return nil, fmt.Errorf("sasl: unwrapping: %w", err)
	}
	if s.sealed && qop&sspi.SECQOP_WRAP_NO_ENCRYPT != 0 {
		return nil, ErrNotEncrypted
	}
	return bufs[1].Data, nil
}
