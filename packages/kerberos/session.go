package kerberos

import (
	"crypto/hmac"
	"encoding/binary"
	"io"
	"sync"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// session is the per-message state of an established context: the key in
// use, the derived keys of each direction and the sequence numbers. The
// send side (MakeSignature, EncryptMessage) and the receive side
// (VerifySignature, DecryptMessage) each have their own lock.
type session struct {
	// constant once built
	initiator      bool
	acceptorSubkey bool
	key            types.EncryptionKey
	checkSeq       bool // replay or sequence detection was negotiated
	dce            bool // DCE style: EC = 16 and rotation by RRC + EC (packages.md 2.7)
	h              int  // checksum length of the CFX enctypes
	rand           io.Reader

	sendMu  sync.Mutex
	send    *cfxDir // guarded by sendMu
	rc4Send *rc4Dir // guarded by sendMu
	sendSeq uint64  // guarded by sendMu

	recvMu  sync.Mutex
	recv    *cfxDir // guarded by recvMu
	rc4Recv *rc4Dir // guarded by recvMu
	recvSeq uint64  // guarded by recvMu

	deleted bool // guarded by both locks
}

// newSession derives the per-message keys of key for one side.
func newSession(key types.EncryptionKey, initiator, acceptorSubkey bool, sendSeq, recvSeq uint32, checkSeq bool, rnd io.Reader) (*session, error) {
	s := &session{
		initiator: initiator, acceptorSubkey: acceptorSubkey, checkSeq: checkSeq, rand: rnd,
		key:     types.EncryptionKey{KeyType: key.KeyType, KeyValue: append([]byte(nil), key.KeyValue...)},
		sendSeq: uint64(sendSeq), recvSeq: uint64(recvSeq),
	}
	if key.KeyType == 23 {
		s.rc4Send = newRC4Dir(key.KeyValue, initiator)
		s.rc4Recv = newRC4Dir(key.KeyValue, !initiator)
		return s, nil
	}
	sendSeal, sendSign := uint32(usageAcceptorSeal), uint32(usageAcceptorSign)
	recvSeal, recvSign := uint32(usageInitiatorSeal), uint32(usageInitiatorSign)
	if initiator {
		sendSeal, sendSign, recvSeal, recvSign = recvSeal, recvSign, sendSeal, sendSign
	}
	var err error
	if s.send, err = newCFXDir(key.KeyType, key.KeyValue, sendSeal, sendSign); err != nil {
		return nil, err
	}
	if s.recv, err = newCFXDir(key.KeyType, key.KeyValue, recvSeal, recvSign); err != nil {
		return nil, err
	}
	s.h = s.send.h
	return s, nil
}

var (
	_ packages.Session = (*session)(nil)
	_ packages.Wrapper = (*session)(nil)
)

// Sizes implements packages.Session.
func (s *session) Sizes() packages.SecPkgContext_Sizes {
	if s.key.KeyType == 23 {
		return packages.SecPkgContext_Sizes{MaxToken: maxToken, MaxSignature: 37, BlockSize: 1, SecurityTrailer: 49}
	}
	h := uint32(s.h)
	return packages.SecPkgContext_Sizes{MaxToken: maxToken, MaxSignature: 16 + h, BlockSize: 1, SecurityTrailer: 64 + h}
}

// sessionKey returns a copy of the session key (SECPKG_ATTR_SESSION_KEY).
func (s *session) sessionKey() []byte {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return append([]byte(nil), s.key.KeyValue...)
}

// Per-message calls. The sequence-number argument is ignored: sessions
// keep their own counters.

// MakeSignature implements packages.Session.
func (s *session) MakeSignature(qop uint32, msg []secbuffer.Buffer, _ uint32) error {
	return s.makeSignature(qop, msg)
}

// VerifySignature implements packages.Session.
func (s *session) VerifySignature(msg []secbuffer.Buffer, _ uint32) (uint32, error) {
	return s.verifySignature(msg)
}

// EncryptMessage implements packages.Session.
func (s *session) EncryptMessage(qop uint32, msg []secbuffer.Buffer, _ uint32) (status.Status, error) {
	return s.encryptMessage(qop, msg)
}

// DecryptMessage implements packages.Session.
func (s *session) DecryptMessage(msg []secbuffer.Buffer, _ uint32) (uint32, status.Status, error) {
	return s.decryptMessage(msg)
}

// Delete implements packages.Session: it zeroes the keys.
func (s *session) Delete() { s.delete() }

func (s *session) delete() {
	s.sendMu.Lock()
	s.recvMu.Lock()
	s.deleted = true
	clear(s.key.KeyValue)
	for _, d := range []*cfxDir{s.send, s.recv} {
		if d != nil {
			clear(d.key)
		}
	}
	for _, d := range []*rc4Dir{s.rc4Send, s.rc4Recv} {
		if d != nil {
			d.rc4.clear()
		}
	}
	s.send, s.recv, s.rc4Send, s.rc4Recv = nil, nil, nil, nil
	s.recvMu.Unlock()
	s.sendMu.Unlock()
}

// ourFlags returns the token flags this side sends.
func (s *session) ourFlags() byte {
	var f byte
	if !s.initiator {
		f |= flagSentByAcceptor
	}
	if s.acceptorSubkey {
		f |= flagAcceptorSubkey
	}
	return f
}

// checkPeerFlags verifies the SentByAcceptor bit of a received token.
func (s *session) checkPeerFlags(f byte) bool {
	return (f&flagSentByAcceptor != 0) == s.initiator
}

// acceptSeq checks a received sequence number when detection is on.
func (s *session) acceptSeq(seq uint64) error {
	if s.checkSeq && seq != s.recvSeq {
		return status.SEC_E_OUT_OF_SEQUENCE
	}
	s.recvSeq = seq + 1
	return nil
}

// signed returns the buffers a checksum covers, in order.
func dataRegions(msg []secbuffer.Buffer, dst []region) []region {
	for i := range msg {
		b := &msg[i]
		if b.BaseType() != secbuffer.SECBUFFER_DATA {
			continue
		}
		if b.Type&secbuffer.SECBUFFER_READONLY_WITH_CHECKSUM != 0 {
			dst = append(dst, region{b: b.Data, signOnly: true})
		} else if b.Type&secbuffer.SECBUFFER_READONLY == 0 {
			dst = append(dst, region{b: b.Data})
		}
	}
	return dst
}

// makeSignature writes a MIC token (RFC 4121 4.2.6.1) over the DATA
// buffers into the TOKEN buffer.
func (s *session) makeSignature(qop uint32, msg []secbuffer.Buffer) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.deleted {
		return status.SEC_E_INVALID_HANDLE
	}
	if qop != 0 {
		return status.SEC_E_QOP_NOT_SUPPORTED
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	if s.rc4Send != nil {
		return s.rc4MakeSignature(tok, msg)
	}
	d := s.send
	if err := d.ready(); err != nil {
		return errorf("MakeSignature", status.SEC_E_INTERNAL_ERROR, err)
	}
	n := 16 + d.h
	if cap(tok.Data) < n {
		return status.SEC_E_BUFFER_TOO_SMALL
	}
	t := tok.Data[:n]
	t[0], t[1], t[2] = 0x04, 0x04, s.ourFlags()
	t[3], t[4], t[5], t[6], t[7] = 0xff, 0xff, 0xff, 0xff, 0xff
	binary.BigEndian.PutUint64(t[8:], s.sendSeq)
	d.kcSign.Reset()
	for i := range msg {
		b := &msg[i]
		if b.BaseType() == secbuffer.SECBUFFER_DATA && b.Signed() {
			d.kcSign.Write(b.Data)
		}
	}
	d.kcSign.Write(t[:16])
	copy(t[16:], d.kcSign.Sum(d.sum[:0]))
	tok.Data = t
	s.sendSeq++
	return nil
}

func (s *session) verifySignature(msg []secbuffer.Buffer) (uint32, error) {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if s.deleted {
		return 0, status.SEC_E_INVALID_HANDLE
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return 0, status.SEC_E_INVALID_TOKEN
	}
	if s.rc4Recv != nil {
		return 0, s.rc4VerifySignature(tok, msg)
	}
	d := s.recv
	if err := d.ready(); err != nil {
		return 0, errorf("VerifySignature", status.SEC_E_INTERNAL_ERROR, err)
	}
	t := tok.Data
	if len(t) < 16+d.h || t[0] != 0x04 || t[1] != 0x04 {
		return 0, status.SEC_E_INVALID_TOKEN
	}
	if !s.checkPeerFlags(t[2]) || t[3]&t[4]&t[5]&t[6]&t[7] != 0xff {
		return 0, status.SEC_E_MESSAGE_ALTERED
	}
	d.kcSign.Reset()
	for i := range msg {
		b := &msg[i]
		if b.BaseType() == secbuffer.SECBUFFER_DATA && b.Signed() {
			d.kcSign.Write(b.Data)
		}
	}
	d.kcSign.Write(t[:16])
	if !hmac.Equal(d.kcSign.Sum(d.sum[:0])[:d.h], t[16:16+d.h]) {
		return 0, status.SEC_E_MESSAGE_ALTERED
	}
	return 0, s.acceptSeq(binary.BigEndian.Uint64(t[8:16]))
}

func putWrapHeader(t []byte, flags byte, ec, rrc uint16, seq uint64) {
	t[0], t[1], t[2], t[3] = 0x05, 0x04, flags, 0xff
	binary.BigEndian.PutUint16(t[4:], ec)
	binary.BigEndian.PutUint16(t[6:], rrc)
	binary.BigEndian.PutUint64(t[8:], seq)
}

// encryptMessage writes a Wrap token in the Windows layout: the TOKEN
// buffer holds the header and the rotated trailer, the DATA buffers are
// encrypted in place, the PADDING buffer stays empty (packages.md 2.7).
func (s *session) encryptMessage(qop uint32, msg []secbuffer.Buffer) (status.Status, error) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.deleted {
		return status.SEC_E_INVALID_HANDLE, status.SEC_E_INVALID_HANDLE
	}
	if qop != 0 && qop != packages.SECQOP_WRAP_NO_ENCRYPT {
		return status.SEC_E_QOP_NOT_SUPPORTED, status.SEC_E_QOP_NOT_SUPPORTED
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
	}
	if pad := secbuffer.Find(msg, secbuffer.SECBUFFER_PADDING); pad != nil {
		pad.Data = pad.Data[:0]
	}
	if s.rc4Send != nil {
		return s.rc4EncryptMessage(qop, tok, msg)
	}
	d := s.send
	if err := d.ready(); err != nil {
		return status.SEC_E_INTERNAL_ERROR, errorf("EncryptMessage", status.SEC_E_INTERNAL_ERROR, err)
	}
	h := d.h
	var rbuf [8]region
	data := dataRegions(msg, rbuf[:0])
	if qop == packages.SECQOP_WRAP_NO_ENCRYPT {
		// RFC 4121 4.2.4: header ‖ plaintext ‖ checksum, rotated by RRC = h
		// so that the checksum sits in the TOKEN (MS-KILE 3.4.5.4.1).
		n := 16 + h
		if cap(tok.Data) < n {
			return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
		}
		t := tok.Data[:n]
		putWrapHeader(t, s.ourFlags(), 0, 0, s.sendSeq)
		d.kcSeal.Reset()
		for _, r := range data {
			d.kcSeal.Write(r.b)
		}
		d.kcSeal.Write(t[:16])
		copy(t[16:], d.kcSeal.Sum(d.sum[:0]))
		putWrapHeader(t, s.ourFlags(), uint16(h), uint16(h), s.sendSeq)
		tok.Data = t
		s.sendSeq++
		return status.SEC_E_OK, nil
	}
	// The trailer is EC filler bytes and the header copy; TOKEN = header ‖
	// trailer ‖ checksum ‖ confounder, the rotation by RRC (+ EC in DCE
	// style) having moved them there.
	ec := 0
	if s.dce {
		ec = 16
	}
	tl := ec + 16
	n := 32 + tl + h
	if cap(tok.Data) < n {
		return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
	}
	t := tok.Data[:n]
	flags := s.ourFlags() | flagSealed
	trailer, cksum, conf := t[16:16+tl], t[16+tl:16+tl+h], t[16+tl+h:n]
	if _, err := io.ReadFull(s.rand, conf); err != nil {
		return status.SEC_E_INTERNAL_ERROR, errorf("EncryptMessage", status.SEC_E_INTERNAL_ERROR, err)
	}
	clear(trailer[:ec]) // filler
	putWrapHeader(trailer[ec:], flags, uint16(ec), 0, s.sendSeq)
	if err := d.seal(conf, data, trailer, cksum); err != nil {
		return status.SEC_E_INTERNAL_ERROR, errorf("EncryptMessage", status.SEC_E_INTERNAL_ERROR, err)
	}
	putWrapHeader(t, flags, uint16(ec), uint16(16+h), s.sendSeq)
	tok.Data = t
	s.sendSeq++
	return status.SEC_E_OK, nil
}

// wrapHeader checks the header of a received RFC 4121 4.2.6.2 Wrap token
// t and returns its EC, RRC and sequence number.
func (s *session) wrapHeader(t []byte) (ec, rrc int, seq uint64, st status.Status) {
	if len(t) < 16 || t[0] != 0x05 || t[1] != 0x04 {
		return 0, 0, 0, status.SEC_E_INVALID_TOKEN
	}
	if !s.checkPeerFlags(t[2]) || t[3] != 0xff {
		return 0, 0, 0, status.SEC_E_MESSAGE_ALTERED
	}
	return int(binary.BigEndian.Uint16(t[4:])), int(binary.BigEndian.Uint16(t[6:])), binary.BigEndian.Uint64(t[8:16]), status.SEC_E_OK
}

// decryptMessage reads a Wrap token as TOKEN + DATA (any layout the header
// describes) or as one SECBUFFER_STREAM, whose plaintext the DATA buffer
// then points at.
func (s *session) decryptMessage(msg []secbuffer.Buffer) (uint32, status.Status, error) {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	fail := func(st status.Status) (uint32, status.Status, error) { return 0, st, st }
	if s.deleted {
		return fail(status.SEC_E_INVALID_HANDLE)
	}
	if i := secbuffer.FindIndex(msg, secbuffer.SECBUFFER_STREAM); i >= 0 {
		return s.decryptStream(msg, &msg[i])
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return fail(status.SEC_E_INVALID_TOKEN)
	}
	if s.rc4Recv != nil {
		return s.rc4DecryptMessage(tok, msg)
	}
	d := s.recv
	if err := d.ready(); err != nil {
		return 0, status.SEC_E_INTERNAL_ERROR, errorf("DecryptMessage", status.SEC_E_INTERNAL_ERROR, err)
	}
	h := d.h
	t := tok.Data
	ec, rrc, seq, st := s.wrapHeader(t)
	if st != status.SEC_E_OK {
		return fail(st)
	}
	var rbuf [8]region
	data := dataRegions(msg, rbuf[:0])
	if t[2]&flagSealed == 0 {
		if ec != h || rrc != h || len(t) != 16+h {
			return s.decryptJoined(tok, msg)
		}
		var hdr [16]byte
		copy(hdr[:], t[:16])
		hdr[4], hdr[5], hdr[6], hdr[7] = 0, 0, 0, 0
		d.kcSeal.Reset()
		for _, r := range data {
			d.kcSeal.Write(r.b)
		}
		d.kcSeal.Write(hdr[:])
		if !hmac.Equal(d.kcSeal.Sum(d.sum[:0])[:h], t[16:16+h]) {
			return fail(status.SEC_E_MESSAGE_ALTERED)
		}
		if err := s.acceptSeq(seq); err != nil {
			return fail(status.SEC_E_OUT_OF_SEQUENCE)
		}
		return packages.SECQOP_WRAP_NO_ENCRYPT, status.SEC_E_OK, nil
	}
	tl := ec + 16
	if rrc != 16+h || (ec != 0 && !(s.dce && ec == 16)) || len(t) != 32+tl+h {
		return s.decryptJoined(tok, msg)
	}
	trailer, cksum, conf := t[16:16+tl], t[16+tl:16+tl+h], t[16+tl+h:]
	ok, err := d.unseal(conf, data, trailer, cksum)
	if err != nil || !ok || !headerEqual(trailer[ec:], t[:16]) {
		return fail(status.SEC_E_MESSAGE_ALTERED)
	}
	if err := s.acceptSeq(seq); err != nil {
		return fail(status.SEC_E_OUT_OF_SEQUENCE)
	}
	return 0, status.SEC_E_OK, nil
}

// decryptJoined handles a TOKEN + DATA pair whose split is not the
// Windows one: the two are joined, read as a stream and the plaintext
// copied back into the single DATA buffer.
func (s *session) decryptJoined(tok *secbuffer.Buffer, msg []secbuffer.Buffer) (uint32, status.Status, error) {
	di := secbuffer.FindIndex(msg, secbuffer.SECBUFFER_DATA)
	if di < 0 || secbuffer.Count(msg, secbuffer.SECBUFFER_DATA) != 1 {
		return 0, status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
	}
	joined := make([]byte, 0, len(tok.Data)+len(msg[di].Data))
	joined = append(append(joined, tok.Data...), msg[di].Data...)
	tmp := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: joined}, {Type: secbuffer.SECBUFFER_DATA}}
	qop, st, err := s.decryptStream(tmp, &tmp[0])
	if err != nil {
		return qop, st, err
	}
	msg[di].Data = append(msg[di].Data[:0], tmp[1].Data...)
	return qop, st, nil
}

// decryptStream unwraps a whole RFC 4121 Wrap token (any RRC) in place.
func (s *session) decryptStream(msg []secbuffer.Buffer, stream *secbuffer.Buffer) (uint32, status.Status, error) {
	fail := func(st status.Status) (uint32, status.Status, error) { return 0, st, st }
	if s.rc4Recv != nil {
		return s.rc4DecryptStream(msg, stream)
	}
	d := s.recv
	if err := d.ready(); err != nil {
		return 0, status.SEC_E_INTERNAL_ERROR, errorf("DecryptMessage", status.SEC_E_INTERNAL_ERROR, err)
	}
	h := d.h
	t := stream.Data
	ec, rrc, seq, st := s.wrapHeader(t)
	if st != status.SEC_E_OK {
		return fail(st)
	}
	body := t[16:]
	if s.dce && t[2]&flagSealed != 0 {
		// Windows rotates sealed tokens by RRC + EC (MIT k5sealv3iov.c).
		rotateLeft(body, rrc+ec)
	} else {
		rotateLeft(body, rrc)
	}
	var plain []byte
	var qop uint32
	if t[2]&flagSealed == 0 {
		if ec != h || len(body) < h {
			return fail(status.SEC_E_INVALID_TOKEN)
		}
		plain = body[:len(body)-h]
		var hdr [16]byte
		copy(hdr[:], t[:16])
		hdr[4], hdr[5], hdr[6], hdr[7] = 0, 0, 0, 0
		d.kcSeal.Reset()
		d.kcSeal.Write(plain)
		d.kcSeal.Write(hdr[:])
		if !hmac.Equal(d.kcSeal.Sum(d.sum[:0])[:h], body[len(body)-h:]) {
			return fail(status.SEC_E_MESSAGE_ALTERED)
		}
		qop = packages.SECQOP_WRAP_NO_ENCRYPT
	} else {
		if len(body) < 32+ec+h {
			return fail(status.SEC_E_INVALID_TOKEN)
		}
		c := body[:len(body)-h]
		conf, trailer := c[:16], c[len(c)-16:]
		mid := []region{{b: c[16 : len(c)-16]}}
		ok, err := d.unseal(conf, mid, trailer, body[len(body)-h:])
		if err != nil || !ok || !headerEqual(trailer, t[:16]) {
			return fail(status.SEC_E_MESSAGE_ALTERED)
		}
		plain = c[16 : len(c)-16-ec]
	}
	if err := s.acceptSeq(seq); err != nil {
		return fail(status.SEC_E_OUT_OF_SEQUENCE)
	}
	if db := secbuffer.Find(msg, secbuffer.SECBUFFER_DATA); db != nil {
		db.Data = plain
	}
	return qop, status.SEC_E_OK, nil
}
