package ntlm

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"hash/crc32"
	"sync"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Session security of MS-NLMP 3.4: message signatures (3.4.4) and sealing
// (3.4.3) over SSPI buffer lists (GSS_WrapEx, 3.4.6).

// sigLen is the size of NTLMSSP_MESSAGE_SIGNATURE (MS-NLMP 2.2.2.9).
const sigLen = 16

// halfSession is one direction's state: its sequence number, its signing
// HMAC and its RC4 sealing handle. Without extended session security both
// directions share one halfSession, as Windows and Samba do (one RC4
// handle, one sequence counter).
type halfSession struct {
	mu  sync.Mutex // guards everything below
	seq uint32
	mac *keyedMD5 // HMAC-MD5 keyed by SIGNKEY; nil without ESS
	rc4 *keyStream
	key []byte // the sealing key, for resetRC4
	// scratch space, so that steady-state calls do not allocate
	sum   [md5.Size]byte
	seqLE [4]byte
}

// session is the negotiated session security of an established context.
type session struct {
	flags   uint32 // the AUTHENTICATE NegotiateFlags
	ess     bool   // NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
	keyExch bool   // NTLMSSP_NEGOTIATE_KEY_EXCH: checksums are RC4-encrypted
	sign    bool   // SIGN or SEAL negotiated: real signatures
	seal    bool   // sealing allowed: SIGN or SEAL negotiated (see newSession)
	out, in *halfSession
}

// newSession derives the keys of MS-NLMP 3.4.5 from the exported session
// key for the side given by client.
func newSession(flags uint32, exported [16]byte, client bool) *session {
	s := &session{
		flags:   flags,
		ess:     flags&flagExtendedSessionSecurity != 0,
		keyExch: flags&flagKeyExch != 0,
		sign:    flags&(flagSign|flagSeal) != 0,
		// Sealing needs only the sealing key, which SIGN derives as well
		// (MS-NLMP 3.4.5.3 depends on 128/56 and ESS, not on SEAL).
		// Windows seals on a SIGN-only session when asked (its LDAP
		// client does so, and Active Directory's and Samba's LDAP servers
		// read SIGN as SEAL), so EncryptMessage and DecryptMessage work
		// whenever SIGN or SEAL was negotiated.
		seal: flags&(flagSign|flagSeal) != 0,
	}
	half := func(forClient bool) *halfSession {
		h := &halfSession{}
		k := sealKey(flags, exported, forClient)
		h.rc4, h.key = newKeyStream(k), k
		if s.ess {
			k := signKey(exported, forClient)
			h.mac = newKeyedMD5(k[:])
			clear(k[:])
		}
		return h
	}
	if !s.ess {
		h := half(client)
		s.out, s.in = h, h
		return s
	}
	s.out, s.in = half(client), half(!client)
	return s
}

// clear drops the key material; later calls fail.
func (s *session) clear() {
	for _, h := range []*halfSession{s.out, s.in} {
		if h == nil {
			continue
		}
		h.mu.Lock()
		if h.rc4 != nil {
			h.rc4.reset()
		}
		clear(h.key)
		if h.mac != nil {
			h.mac.clear()
		}
		h.rc4, h.mac, h.key = nil, nil, nil
		h.mu.Unlock()
	}
}

// resetRC4 re-keys the RC4 handle of one direction from its sealing key,
// leaving the sequence number alone. Without extended session security
// both directions share the handle.
func (s *session) resetRC4(outbound bool) {
	h := s.in
	if outbound {
		h = s.out
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rc4 == nil {
		return
	}
	h.rc4.init(h.key)
}

// checksum computes the 8-byte checksum field of the signature over the
// signed buffers of msg (MS-NLMP 3.4.4): HMAC-MD5(SigningKey, SeqNum ‖
// data)[:8] with ESS, CRC32 without. It does not touch the RC4 state.
func (h *halfSession) checksum(ess bool, msg []secbuffer.Buffer, sum *[8]byte) {
	if ess {
		h.mac.Reset()
		binary.LittleEndian.PutUint32(h.seqLE[:], h.seq)
		h.mac.Write(h.seqLE[:])
		for i := range msg {
			if signed(&msg[i]) {
				h.mac.Write(msg[i].Data)
			}
		}
		h.mac.Sum(&h.sum)
		copy(sum[:], h.sum[:])
		return
	}
	var crc uint32
	for i := range msg {
		if signed(&msg[i]) {
			crc = crc32.Update(crc, crc32.IEEETable, msg[i].Data)
		}
	}
	binary.LittleEndian.PutUint32(sum[:], crc)
}

// finish turns a checksum into the signature, consuming RC4 key stream as
// MS-NLMP 3.4.4 says: with ESS, RC4(checksum) when KEY_EXCH was
// negotiated; without ESS, RandomPad, checksum and sequence number in that
// order, RandomPad then sent as zero (MS-NLMP 3.4.4.1; pyspnego and Windows
// send zero there, the 4.2.2.4 example prints the encrypted value).
func (h *halfSession) finish(s *session, sum *[8]byte, sig []byte) {
	binary.LittleEndian.PutUint32(sig[0:4], 1)
	if s.ess {
		if s.keyExch {
			h.rc4.xor(sum[:])
		}
		copy(sig[4:12], sum[:])
		binary.LittleEndian.PutUint32(sig[12:16], h.seq)
		return
	}
	h.rc4.skip(4) // RandomPad
	copy(sig[8:12], sum[:4])
	h.rc4.xor(sig[8:12])
	binary.LittleEndian.PutUint32(sig[12:16], h.seq)
	h.rc4.xor(sig[12:16])
	binary.LittleEndian.PutUint32(sig[4:8], 0)
}

// signed reports whether a buffer is covered by the signature: DATA buffers
// except those flagged SECBUFFER_READONLY alone. MS-NLMP 3.4.6 words the
// rule as "sign==TRUE for NTLMv1, every buffer for NTLMv2"; SSPI callers
// (DCE/RPC) say which header buffers to sign through
// SECBUFFER_READONLY_WITH_CHECKSUM, so we honour the flags in both modes.
func signed(b *secbuffer.Buffer) bool {
	return b.BaseType() == secbuffer.SECBUFFER_DATA && b.Signed()
}

// sealed reports whether a buffer is encrypted: DATA without READONLY flags.
func sealed(b *secbuffer.Buffer) bool {
	return b.BaseType() == secbuffer.SECBUFFER_DATA && !b.ReadOnly()
}

// sigToken finds the SECBUFFER_TOKEN of msg for an outgoing signature and
// makes it 16 bytes long.
func sigToken(msg []secbuffer.Buffer) (*secbuffer.Buffer, error) {
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return nil, status.SEC_E_INVALID_TOKEN
	}
	if cap(tok.Data) < sigLen {
		return nil, status.SEC_E_BUFFER_TOO_SMALL
	}
	tok.Data = tok.Data[:sigLen]
	return tok, nil
}

// inToken finds the received signature.
func inToken(msg []secbuffer.Buffer) ([]byte, error) {
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil || len(tok.Data) < sigLen {
		return nil, status.SEC_E_INVALID_TOKEN
	}
	return tok.Data[:sigLen], nil
}

// dummySignature is what MakeSignature produces when neither SIGN nor SEAL
// was negotiated but ALWAYS_SIGN was (MS-NLMP 3.4.4.1 and 3.4.4.2).
var dummySignature = [sigLen]byte{1}

// protect signs msg (MakeSignature), or seals and signs it
// (EncryptMessage) when seal.
func (s *session) protect(msg []secbuffer.Buffer, seal bool) error {
	tok, err := sigToken(msg)
	if err != nil {
		return err
	}
	if !s.sign {
		if seal || s.flags&flagAlwaysSign == 0 {
			return status.SEC_E_UNSUPPORTED_FUNCTION
		}
		copy(tok.Data, dummySignature[:])
		return nil
	}
	if seal && !s.seal {
		return status.SEC_E_UNSUPPORTED_FUNCTION
	}
	h := s.out
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rc4 == nil {
		return status.SEC_E_INVALID_HANDLE
	}
	var sum [8]byte
	h.checksum(s.ess, msg, &sum)
	if seal {
		// MS-NLMP 3.4.3: the data is encrypted first, then the checksum
		// with the same key stream. RC4 needs no padding: a
		// SECBUFFER_PADDING buffer comes back empty.
		for i := range msg {
			switch {
			case sealed(&msg[i]):
				h.rc4.xor(msg[i].Data)
			case msg[i].BaseType() == secbuffer.SECBUFFER_PADDING:
				msg[i].Data = msg[i].Data[:0]
			}
		}
	}
	h.finish(s, &sum, tok.Data)
	h.seq++
	return nil
}

// verify checks msg: VerifySignature, or DecryptMessage when unseal. It
// returns whether the message had been sealed. Since the NTLM signature
// does not say whether the data was encrypted, DecryptMessage first tries
// the sealed reading and, if the signature does not match, the signed-only
// one (EncryptMessage with SECQOP_WRAP_NO_ENCRYPT).
func (s *session) verify(msg []secbuffer.Buffer, unseal bool) (wasSealed bool, err error) {
	got, err := inToken(msg)
	if err != nil {
		return false, err
	}
	if !s.sign {
		if !unseal && s.flags&flagAlwaysSign != 0 {
			if subtle.ConstantTimeCompare(got, dummySignature[:]) == 1 {
				return false, nil
			}
			return false, status.SEC_E_MESSAGE_ALTERED
		}
		return false, status.SEC_E_UNSUPPORTED_FUNCTION
	}
	h := s.in
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rc4 == nil {
		return false, status.SEC_E_INVALID_HANDLE
	}
	if binary.LittleEndian.Uint32(got[0:4]) != 1 {
		return false, status.SEC_E_MESSAGE_ALTERED
	}
	if s.ess && binary.LittleEndian.Uint32(got[12:16]) != h.seq {
		// The sequence number travels in clear with ESS: a replayed or
		// reordered message is refused before any key stream is used, so
		// the context stays usable.
		return false, status.SEC_E_OUT_OF_SEQUENCE
	}
	var want [sigLen]byte
	if !unseal || !s.seal {
		// VerifySignature, or DecryptMessage of a signed-only message on a
		// context that negotiated no sealing.
		if s.check(h, msg, got, &want) {
			h.seq++
			return false, nil
		}
		return false, s.failure(h, got, &want)
	}
	start := h.rc4.pos
	xorSealed(h.rc4, msg)
	data := h.rc4.pos - start
	if s.check(h, msg, got, &want) {
		h.seq++
		return true, nil
	}
	// Not the sealed form: step the key stream back over the signature
	// and the data, restoring the ciphertext, and try the signed-only
	// form.
	sealedEnd := h.rc4.pos
	h.rc4.back(sealedEnd - start - data)
	for i := len(msg) - 1; i >= 0; i-- {
		if sealed(&msg[i]) {
			h.rc4.unxor(msg[i].Data)
		}
	}
	var plain [sigLen]byte
	if s.check(h, msg, got, &plain) {
		h.seq++
		return false, nil
	}
	// The sender most likely sealed: stay in step with it.
	h.rc4.back(h.rc4.pos - start)
	h.rc4.skip(sealedEnd - start)
	return false, s.failure(h, got, &want)
}

// check computes the expected signature into want and compares it with got
// in constant time. The RandomPad field is ignored without ESS.
func (s *session) check(h *halfSession, msg []secbuffer.Buffer, got []byte, want *[sigLen]byte) bool {
	var sum [8]byte
	h.checksum(s.ess, msg, &sum)
	h.finish(s, &sum, want[:])
	if !s.ess {
		return subtle.ConstantTimeCompare(got[8:16], want[8:16]) == 1
	}
	return subtle.ConstantTimeCompare(got[4:16], want[4:16]) == 1
}

// failure classifies a signature mismatch. The message is consumed either
// way, so the sequence number moves on.
func (s *session) failure(h *halfSession, got []byte, want *[sigLen]byte) error {
	h.seq++
	if !s.ess && subtle.ConstantTimeCompare(got[12:16], want[12:16]) != 1 {
		return status.SEC_E_OUT_OF_SEQUENCE
	}
	return status.SEC_E_MESSAGE_ALTERED
}

func xorSealed(k *keyStream, msg []secbuffer.Buffer) {
	for i := range msg {
		if sealed(&msg[i]) {
			k.xor(msg[i].Data)
		}
	}
}

// makeSignature implements Session.MakeSignature.
func (s *session) makeSignature(qop uint32, msg []secbuffer.Buffer) error {
	if qop != 0 {
		return status.SEC_E_QOP_NOT_SUPPORTED
	}
	return s.protect(msg, false)
}

// encryptMessage implements Session.EncryptMessage.
func (s *session) encryptMessage(qop uint32, msg []secbuffer.Buffer) error {
	switch qop {
	case 0:
		return s.protect(msg, true)
	case packages.SECQOP_WRAP_NO_ENCRYPT:
		return s.protect(msg, false)
	}
	return status.SEC_E_QOP_NOT_SUPPORTED
}

// decryptMessage implements Session.DecryptMessage.
func (s *session) decryptMessage(msg []secbuffer.Buffer) (uint32, error) {
	wasSealed, err := s.verify(msg, true)
	if err != nil {
		return 0, err
	}
	if !wasSealed {
		return packages.SECQOP_WRAP_NO_ENCRYPT, nil
	}
	return 0, nil
}
