package kerberos

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"io"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// RFC 4757 7.2-7.3 per-message tokens for rc4-hmac (enctype 23): the
// RFC 1964 token layout with HMAC-MD5 checksums and RC4 encryption. RC4
// and MD5 appear here only because the protocol requires them.

// rc4Dir holds the keys of one direction, derived once: Ksign, the base
// of Kseq (HMAC(Kss, 0)) and the base of Kcrypt (HMAC(Kss ^ 0xF0, 0)).
type rc4Dir struct {
	initiator bool      // the direction's sender is the initiator
	ksign     hash.Hash // HMAC-MD5 keyed with Ksign
	kseq      hash.Hash // HMAC-MD5 keyed with HMAC(Kss, 0)
	kcrypt    hash.Hash // HMAC-MD5 keyed with HMAC(Kss ^ 0xF0, 0)
	md5       hash.Hash
	sum, key  [16]byte
	seqBuf    [8]byte
	scratch   [4]byte   // the salt or the sequence number being hashed
	rc4       rc4Stream // rekeyed for each SND_SEQ and each message
}

// rc4Stream is the RC4 cipher (RFC 4757 uses it with a fresh 16-byte key
// for every sequence number and every message). crypto/rc4 can only be
// keyed by NewCipher, which allocates, and the message paths allocate
// nothing; this keys a state the direction owns. It is checked against
// crypto/rc4 (TestRC4StreamMatchesStdlib).
type rc4Stream struct {
	s    [256]byte
	i, j uint8
}

// reset keys the stream with key (1 to 256 bytes).
func (c *rc4Stream) reset(key []byte) {
	for i := range c.s {
		c.s[i] = byte(i)
	}
	var j uint8
	for i := range c.s {
		j += c.s[i] + key[i%len(key)]
		c.s[i], c.s[j] = c.s[j], c.s[i]
	}
	c.i, c.j = 0, 0
}

// XORKeyStream sets dst to src XOR the key stream; dst and src may be the
// same slice.
func (c *rc4Stream) XORKeyStream(dst, src []byte) {
	i, j := c.i, c.j
	for k, v := range src {
		i++
		j += c.s[i]
		c.s[i], c.s[j] = c.s[j], c.s[i]
		dst[k] = v ^ c.s[c.s[i]+c.s[j]]
	}
	c.i, c.j = i, j
}

// clear zeroes the key schedule.
func (c *rc4Stream) clear() {
	clear(c.s[:])
	c.i, c.j = 0, 0
}

func hmacMD5(key, data []byte) []byte {
	m := hmac.New(md5.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func newRC4Dir(kss []byte, initiator bool) *rc4Dir {
	var zero [4]byte
	local := make([]byte, len(kss))
	for i, b := range kss {
		local[i] = b ^ 0xF0
	}
	return &rc4Dir{
		initiator: initiator,
		ksign:     hmac.New(md5.New, hmacMD5(kss, []byte("signaturekey\x00"))),
		kseq:      hmac.New(md5.New, hmacMD5(kss, zero[:])),
		kcrypt:    hmac.New(md5.New, hmacMD5(local, zero[:])),
		md5:       md5.New(),
	}
}

// Token body sizes after the RFC 1964 framing.
const (
	rc4MICBody  = 24 // TOK_ID, SGN_ALG, filler, SND_SEQ, SGN_CKSUM
	rc4WrapBody = 32 // the same with SEAL_ALG and a confounder
	rc4OIDLen   = 11
)

// rc4FramingLen is the length of "60 len OID" for an inner length n.
func rc4FramingLen(n int) int {
	l := 2 // the tag and a short length, or the count of length bytes
	if n >= 0x80 {
		for m := n; m > 0; m >>= 8 {
			l++
		}
	}
	return l + rc4OIDLen
}

func rc4Frame(dst []byte, inner int) []byte {
	dst = appendDERLength(append(dst, 0x60), inner)
	return append(dst, oidKrb5...)
}

// seqCipher returns RC4 keyed with Kseq = HMAC(HMAC(Kss, 0), SGN_CKSUM).
func (d *rc4Dir) seqCipher(cksum []byte) *rc4Stream {
	d.kseq.Reset()
	d.kseq.Write(cksum)
	d.rc4.reset(d.kseq.Sum(d.key[:0]))
	clear(d.key[:])
	return &d.rc4
}

// dataCipher returns RC4 keyed with Kcrypt = HMAC(HMAC(Kss^F0, 0), seq).
func (d *rc4Dir) dataCipher(seq uint32) *rc4Stream {
	binary.BigEndian.PutUint32(d.scratch[:], seq)
	d.kcrypt.Reset()
	d.kcrypt.Write(d.scratch[:])
	d.rc4.reset(d.kcrypt.Sum(d.key[:0]))
	clear(d.key[:])
	return &d.rc4
}

// sndSeq writes the encrypted SND_SEQ: seq (big-endian) and the direction.
func (d *rc4Dir) sndSeq(dst []byte, seq uint32, cksum []byte) {
	binary.BigEndian.PutUint32(dst, seq)
	dir := byte(0)
	if !d.initiator {
		dir = 0xff
	}
	dst[4], dst[5], dst[6], dst[7] = dir, dir, dir, dir
	d.seqCipher(cksum).XORKeyStream(dst[:8], dst[:8])
}

// readSeq decrypts SND_SEQ and checks the direction bytes.
func (d *rc4Dir) readSeq(enc, cksum []byte) (uint32, bool) {
	b := d.seqBuf[:]
	d.seqCipher(cksum).XORKeyStream(b, enc[:8])
	dir := byte(0)
	if !d.initiator {
		dir = 0xff
	}
	ok := b[4] == dir && b[5] == dir && b[6] == dir && b[7] == dir
	return binary.BigEndian.Uint32(b), ok
}

// startChecksum begins an SGN_CKSUM (RFC 4757 7.2-7.3): MD5 over the key
// usage (15 for a MIC token, 13 for a Wrap token), little-endian, then the
// token header; the caller writes the rest to d.md5.
func (d *rc4Dir) startChecksum(usage uint32, header []byte) {
	d.md5.Reset()
	binary.LittleEndian.PutUint32(d.scratch[:], usage)
	d.md5.Write(d.scratch[:])
	d.md5.Write(header)
}

// writeSigned adds the DATA buffers of msg that are signed, sign-only
// ones included, to the checksum.
func (d *rc4Dir) writeSigned(msg []secbuffer.Buffer) {
	for i := range msg {
		if b := &msg[i]; b.BaseType() == secbuffer.SECBUFFER_DATA && b.Signed() {
			d.md5.Write(b.Data)
		}
	}
}

// checksum ends the SGN_CKSUM: the first 8 bytes of HMAC-MD5(Ksign, MD5).
// It points into d and is valid until the next call.
func (d *rc4Dir) checksum() []byte {
	d.ksign.Reset()
	d.ksign.Write(d.md5.Sum(d.sum[:0]))
	return d.ksign.Sum(d.sum[:0])[:8]
}

func (s *session) rc4MakeSignature(tok *secbuffer.Buffer, msg []secbuffer.Buffer) error {
	d := s.rc4Send
	inner := rc4OIDLen + rc4MICBody
	n := rc4FramingLen(inner) + rc4MICBody
	if cap(tok.Data) < n {
		return status.SEC_E_BUFFER_TOO_SMALL
	}
	t := rc4Frame(tok.Data[:0], inner)
	body := t[len(t) : len(t)+rc4MICBody]
	t = t[:n]
	copy(body, []byte{0x01, 0x01, 0x11, 0x00, 0xff, 0xff, 0xff, 0xff})
	d.startChecksum(15, body[:8])
	d.writeSigned(msg)
	copy(body[16:24], d.checksum())
	d.sndSeq(body[8:16], uint32(s.sendSeq), body[16:24])
	tok.Data = t
	s.sendSeq++
	return nil
}

// rc4Body strips the framing of a received token and checks its id.
func rc4Body(t []byte, tokID byte) ([]byte, bool) {
	_, rest, err := parseFramingPrefix(t)
	if err != nil || len(rest) < 8 || rest[0] != tokID || rest[1] != 0x01 || rest[2] != 0x11 || rest[3] != 0x00 {
		return nil, false
	}
	return rest, true
}

func (s *session) rc4VerifySignature(tok *secbuffer.Buffer, msg []secbuffer.Buffer) error {
	d := s.rc4Recv
	body, ok := rc4Body(tok.Data, 0x01)
	if !ok || len(body) < rc4MICBody {
		return status.SEC_E_INVALID_TOKEN
	}
	if subtle.ConstantTimeCompare(body[4:8], []byte{0xff, 0xff, 0xff, 0xff}) != 1 {
		return status.SEC_E_MESSAGE_ALTERED
	}
	d.startChecksum(15, body[:8])
	d.writeSigned(msg)
	if !hmac.Equal(d.checksum(), body[16:24]) {
		return status.SEC_E_MESSAGE_ALTERED
	}
	seq, ok := d.readSeq(body[8:16], body[16:24])
	if !ok {
		return status.SEC_E_MESSAGE_ALTERED
	}
	return s.acceptSeq(uint64(seq))
}

// rc4EncryptMessage writes the Windows layout: TOKEN = framing ‖ 32-byte
// body, DATA encrypted in place, PADDING = the one pad byte (required:
// RC4-HMAC pads every message with 0x01).
func (s *session) rc4EncryptMessage(qop uint32, tok *secbuffer.Buffer, msg []secbuffer.Buffer) (status.Status, error) {
	d := s.rc4Send
	pad := secbuffer.Find(msg, secbuffer.SECBUFFER_PADDING)
	if pad == nil || cap(pad.Data) < 1 {
		return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
	}
	dataLen := 0
	for i := range msg {
		if msg[i].BaseType() == secbuffer.SECBUFFER_DATA {
			dataLen += len(msg[i].Data)
		}
	}
	inner := rc4OIDLen + rc4WrapBody + dataLen + 1
	if s.dce {
		// MS-KILE 3.4.5.1: in DCE style the framing length leaves out the
		// application data.
		inner = rc4OIDLen + rc4WrapBody
	}
	n := rc4FramingLen(inner) + rc4WrapBody
	if cap(tok.Data) < n {
		return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
	}
	t := rc4Frame(tok.Data[:0], inner)
	body := t[len(t) : len(t)+rc4WrapBody]
	t = t[:n]
	sealAlg := []byte{0x10, 0x00}
	if qop == packages.SECQOP_WRAP_NO_ENCRYPT {
		sealAlg = []byte{0xff, 0xff}
	}
	copy(body, []byte{0x02, 0x01, 0x11, 0x00, sealAlg[0], sealAlg[1], 0xff, 0xff})
	conf := body[24:32]
	if _, err := io.ReadFull(s.rand, conf); err != nil {
		return status.SEC_E_INTERNAL_ERROR, errorf("EncryptMessage", status.SEC_E_INTERNAL_ERROR, err)
	}
	pad.Data = append(pad.Data[:0], 0x01)
	// SGN_CKSUM over confounder ‖ all DATA (sign-only ones included) ‖ pad.
	d.startChecksum(13, body[:8])
	d.md5.Write(conf)
	d.writeSigned(msg)
	d.md5.Write(pad.Data)
	copy(body[16:24], d.checksum())
	seq := uint32(s.sendSeq)
	if qop != packages.SECQOP_WRAP_NO_ENCRYPT {
		c := d.dataCipher(seq)
		c.XORKeyStream(conf, conf)
		for i := range msg {
			if b := &msg[i]; b.BaseType() == secbuffer.SECBUFFER_DATA && b.Type&(secbuffer.SECBUFFER_READONLY|secbuffer.SECBUFFER_READONLY_WITH_CHECKSUM) == 0 {
				c.XORKeyStream(b.Data, b.Data)
			}
		}
		c.XORKeyStream(pad.Data, pad.Data)
	}
	d.sndSeq(body[8:16], seq, body[16:24])
	tok.Data = t
	s.sendSeq++
	return status.SEC_E_OK, nil
}

// rc4Unwrap verifies and decrypts a Wrap token whose body is in body and
// whose data and pad are in data (the last byte being the pad when pad
// is nil).
func (s *session) rc4Unwrap(body []byte, data [][]byte) (uint32, status.Status, error) {
	fail := func(st status.Status) (uint32, status.Status, error) { return 0, st, st }
	d := s.rc4Recv
	if len(body) < rc4WrapBody {
		return fail(status.SEC_E_INVALID_TOKEN)
	}
	sealed := body[4] == 0x10 && body[5] == 0x00
	if !sealed && !(body[4] == 0xff && body[5] == 0xff) || body[6] != 0xff || body[7] != 0xff {
		return fail(status.SEC_E_MESSAGE_ALTERED)
	}
	seq, ok := d.readSeq(body[8:16], body[16:24])
	if !ok {
		return fail(status.SEC_E_MESSAGE_ALTERED)
	}
	conf := body[24:32]
	if sealed {
		c := d.dataCipher(seq)
		c.XORKeyStream(conf, conf)
		for _, p := range data {
			c.XORKeyStream(p, p)
		}
	}
	d.startChecksum(13, body[:8])
	d.md5.Write(conf)
	for _, p := range data {
		d.md5.Write(p)
	}
	// On failure the data goes back to what was received: no
	// unauthenticated (or replayed) plaintext stays in the caller's
	// buffers. The RC4 key stream of seq is the same again.
	restore := func() {
		if sealed {
			c := d.dataCipher(seq)
			c.XORKeyStream(conf, conf)
			for _, p := range data {
				c.XORKeyStream(p, p)
			}
		}
	}
	if !hmac.Equal(d.checksum(), body[16:24]) {
		restore()
		return fail(status.SEC_E_MESSAGE_ALTERED)
	}
	if err := s.acceptSeq(uint64(seq)); err != nil {
		restore()
		return fail(status.SEC_E_OUT_OF_SEQUENCE)
	}
	if sealed {
		return 0, status.SEC_E_OK, nil
	}
	return packages.SECQOP_WRAP_NO_ENCRYPT, status.SEC_E_OK, nil
}

func (s *session) rc4DecryptMessage(tok *secbuffer.Buffer, msg []secbuffer.Buffer) (uint32, status.Status, error) {
	body, ok := rc4Body(tok.Data, 0x02)
	if !ok || len(body) < rc4WrapBody {
		return 0, status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
	}
	var parts [8][]byte
	ps := parts[:0]
	var data *secbuffer.Buffer
	for i := range msg {
		if b := &msg[i]; b.BaseType() == secbuffer.SECBUFFER_DATA {
			ps = append(ps, b.Data)
			data = b
		}
	}
	pad := secbuffer.Find(msg, secbuffer.SECBUFFER_PADDING)
	if pad != nil && len(pad.Data) > 0 {
		ps = append(ps, pad.Data)
	}
	qop, st, err := s.rc4Unwrap(body[:rc4WrapBody], ps)
	if err != nil {
		return qop, st, err
	}
	if (pad == nil || len(pad.Data) == 0) && data != nil && len(data.Data) > 0 {
		data.Data = data.Data[:len(data.Data)-1] // the pad byte came with the data
	}
	return qop, st, nil
}

func (s *session) rc4DecryptStream(msg []secbuffer.Buffer, stream *secbuffer.Buffer) (uint32, status.Status, error) {
	body, ok := rc4Body(stream.Data, 0x02)
	if !ok || len(body) < rc4WrapBody+1 {
		return 0, status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
	}
	payload := body[rc4WrapBody:]
	qop, st, err := s.rc4Unwrap(body[:rc4WrapBody], [][]byte{payload})
	if err != nil {
		return qop, st, err
	}
	padLen := int(payload[len(payload)-1])
	if padLen < 1 || padLen > 8 || padLen > len(payload) {
		return 0, status.SEC_E_MESSAGE_ALTERED, status.SEC_E_MESSAGE_ALTERED
	}
	if db := secbuffer.Find(msg, secbuffer.SECBUFFER_DATA); db != nil {
		db.Data = payload[:len(payload)-padLen]
	}
	return qop, st, nil
}

// parseFramingPrefix reads "60 len OID" and returns the TOK_ID and the
// rest. Unlike parseFraming it allows the DER length to exceed the bytes
// present: SSPI splits an RC4 Wrap token across buffers.
func parseFramingPrefix(b []byte) (uint16, []byte, error) {
	if len(b) < 2 || b[0] != 0x60 {
		return 0, nil, errMalformed
	}
	i := 2
	if b[1] >= 0x80 {
		i += int(b[1] & 0x7f)
	}
	if i > 6 || len(b) < i+len(oidKrb5)+2 {
		return 0, nil, errMalformed
	}
	oid := b[i : i+len(oidKrb5)]
	if string(oid) != string(oidKrb5) && string(oid) != string(oidMSKrb5) {
		return 0, nil, errMalformed
	}
	rest := b[i+len(oidKrb5):]
	return binary.BigEndian.Uint16(rest), rest, nil
}
