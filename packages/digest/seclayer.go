package digest

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Quality-of-protection values (RFC 2831 2.1.1 qop-options).
const (
	qopAuth     = "auth"
	qopAuthInt  = "auth-int"
	qopAuthConf = "auth-conf"
)

// macLen is the size of the security-layer trailer: 10-byte HMAC, 2-byte
// message type 0x0001 and 4-byte sequence number (RFC 2831 2.3, 2.4).
const macLen = 16

// cipherSpec is one RFC 2831 2.4 cipher. keyLen is n, the number of H(A1)
// bytes the sealing key is derived from.
type cipherSpec struct {
	name   string
	keyLen int
	block  bool // des or 3des: CBC with 8-byte blocks
	triple bool
	bits   uint32
}

// ciphers in the order a client prefers them.
var ciphers = []*cipherSpec{
	{name: "rc4", keyLen: 16, bits: 128},
	{name: "3des", keyLen: 16, block: true, triple: true, bits: 112},
	{name: "rc4-56", keyLen: 7, bits: 56},
	{name: "des", keyLen: 16, block: true, bits: 56},
	{name: "rc4-40", keyLen: 5, bits: 40},
}

func lookupCipher(name string) *cipherSpec {
	for _, c := range ciphers {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Magic constants of RFC 2831 2.3 and 2.4 (no terminating NUL).
const (
	magicSignC2S = "Digest session key to client-to-server signing key magic constant"
	magicSignS2C = "Digest session key to server-to-client signing key magic constant"
	magicSealC2S = "Digest H(A1) to client-to-server sealing key magic constant"
	magicSealS2C = "Digest H(A1) to server-to-client sealing key magic constant"
)

// deriveKey is MD5(secret | magic).
func deriveKey(secret []byte, magic string) []byte {
	h := md5.New()
	h.Write(secret)
	h.Write([]byte(magic))
	return h.Sum(nil)
}

// expandDESKey spreads 56 key bits over 8 bytes, leaving the low bit of
// each byte for parity, which crypto/des ignores (RFC 2831 2.4: "the first
// 7 bytes of Kc").
func expandDESKey(k []byte) []byte {
	out := make([]byte, 8)
	out[0] = k[0]
	for i := 1; i < 7; i++ {
		out[i] = k[i-1]<<(8-uint(i)) | k[i]>>uint(i)
	}
	out[7] = k[6] << 1
	for i := range out {
		// Odd parity in the low bit.
		b := out[i] &^ 1
		p := b ^ b>>4
		p ^= p >> 2
		p ^= p >> 1
		out[i] = b | (^p & 1)
	}
	return out
}

// halfLayer is the state of one direction. Its mutex is the direction's
// lock: one sender and one receiver may work at the same time.
type halfLayer struct {
	mu     sync.Mutex
	ki     []byte       // integrity key (Kic or Kis)
	seq    uint32       // next sequence number
	stream *rc4.Cipher  // rc4 ciphers: one keystream for the context's life
	block  cipher.Block // des, 3des
	iv     [8]byte      // CBC chaining value across messages
}

// securityLayer is the SASL DIGEST-MD5 integrity and confidentiality layer.
type securityLayer struct {
	qop        string
	cipher     *cipherSpec // nil unless auth-conf
	peerMaxbuf uint32      // largest message the peer accepts; 0 = no limit
	send, recv halfLayer
}

// newSecurityLayer derives the keys from ha1 (raw H(A1)) for the side
// given by client.
func newSecurityLayer(ha1 []byte, qop string, cs *cipherSpec, client bool, peerMaxbuf uint32) (*securityLayer, error) {
	l := &securityLayer{qop: qop, cipher: cs, peerMaxbuf: peerMaxbuf}
	kic, kis := deriveKey(ha1, magicSignC2S), deriveKey(ha1, magicSignS2C)
	if client {
		l.send.ki, l.recv.ki = kic, kis
	} else {
		l.send.ki, l.recv.ki = kis, kic
	}
	if qop != qopAuthConf {
		return l, nil
	}
	kcc, kcs := deriveKey(ha1[:cs.keyLen], magicSealC2S), deriveKey(ha1[:cs.keyLen], magicSealS2C)
	sendKey, recvKey := kcc, kcs
	if !client {
		sendKey, recvKey = kcs, kcc
	}
	for _, d := range []struct {
		h   *halfLayer
		key []byte
	}{{&l.send, sendKey}, {&l.recv, recvKey}} {
		if err := d.h.initCipher(cs, d.key); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// zero drops the keys of both directions; later calls find no cipher and
// no integrity key and fail.
func (l *securityLayer) zero() {
	for _, h := range []*halfLayer{&l.send, &l.recv} {
		h.mu.Lock()
		clear(h.ki)
		if h.stream != nil {
			*h.stream = rc4.Cipher{} // the key schedule lives in the struct
		}
		h.ki, h.stream, h.block = nil, nil, nil
		clear(h.iv[:])
		h.mu.Unlock()
	}
}

func (h *halfLayer) initCipher(cs *cipherSpec, kc []byte) error {
	if !cs.block {
		c, err := rc4.NewCipher(kc)
		if err != nil {
			return err
		}
		h.stream = c
		return nil
	}
	copy(h.iv[:], kc[8:16])
	if cs.triple {
		// Two-key EDE: K1, K2, K1.
		k1, k2 := expandDESKey(kc[0:7]), expandDESKey(kc[7:14])
		key := append(append(append([]byte{}, k1...), k2...), k1...)
		b, err := des.NewTripleDESCipher(key)
		if err != nil {
			return err
		}
		h.block = b
		return nil
	}
	b, err := des.NewCipher(expandDESKey(kc[0:7]))
	if err != nil {
		return err
	}
	h.block = b
	return nil
}

// mac10 is HMAC-MD5(ki, seq | msg...)[0..9].
func mac10(ki []byte, seq uint32, msgs ...[]byte) []byte {
	m := hmac.New(md5.New, ki)
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], seq)
	m.Write(s[:])
	for _, p := range msgs {
		m.Write(p)
	}
	return m.Sum(nil)[:10]
}

// trailer writes 00 01 | seq into t (6 bytes).
func trailer(t []byte, seq uint32) {
	t[0], t[1] = 0, 1
	binary.BigEndian.PutUint32(t[2:6], seq)
}

// checkTrailer validates the message type and sequence number of a
// received trailer. A wrong number is SEC_E_OUT_OF_SEQUENCE (packages.md
// 0.1 rule 7), anything else malformed SEC_E_MESSAGE_ALTERED.
func checkTrailer(t []byte, want uint32) error {
	if t[0] != 0 || t[1] != 1 {
		return status.SEC_E_MESSAGE_ALTERED
	}
	if binary.BigEndian.Uint32(t[2:6]) != want {
		return status.SEC_E_OUT_OF_SEQUENCE
	}
	return nil
}

// sign computes the 16-byte integrity trailer over msgs and advances the
// send sequence number.
func (l *securityLayer) sign(msgs [][]byte) ([]byte, error) {
	h := &l.send
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ki == nil {
		return nil, status.SEC_E_INVALID_HANDLE // deleted
	}
	tok := make([]byte, macLen)
	copy(tok, mac10(h.ki, h.seq, msgs...))
	trailer(tok[10:], h.seq)
	h.seq++
	return tok, nil
}

// verify checks an integrity trailer over msgs.
func (l *securityLayer) verify(msgs [][]byte, tok []byte) error {
	if len(tok) != macLen {
		return status.SEC_E_MESSAGE_ALTERED
	}
	h := &l.recv
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ki == nil {
		return status.SEC_E_INVALID_HANDLE // deleted
	}
	if err := checkTrailer(tok[10:], h.seq); err != nil {
		return err
	}
	if !hmac.Equal(tok[:10], mac10(h.ki, h.seq, msgs...)) {
		return status.SEC_E_MESSAGE_ALTERED
	}
	h.seq++
	return nil
}

// padLen is the block-cipher padding for a message of n bytes: 1..8 bytes
// so that n + pad + 10 is a multiple of 8 (RFC 2831 2.4).
func padLen(n int) int { return 8 - (n+10)%8 }

// seal encrypts msg in place and returns the padding ciphertext and the
// 16-byte token (encrypted MAC tail | 00 01 | seq).
func (l *securityLayer) seal(msg []byte) (pad, tok []byte, err error) {
	h := &l.send
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ki == nil {
		return nil, nil, status.SEC_E_INVALID_HANDLE // deleted
	}
	mac := mac10(h.ki, h.seq, msg)
	tok = make([]byte, macLen)
	if h.stream != nil {
		h.stream.XORKeyStream(msg, msg)
		h.stream.XORKeyStream(tok[:10], mac)
	} else {
		p := padLen(len(msg))
		buf := make([]byte, 0, len(msg)+p+10)
		buf = append(buf, msg...)
		for i := 0; i < p; i++ {
			buf = append(buf, byte(p))
		}
		buf = append(buf, mac...)
		cipher.NewCBCEncrypter(h.block, h.iv[:]).CryptBlocks(buf, buf)
		copy(h.iv[:], buf[len(buf)-8:])
		copy(msg, buf)
		pad = buf[len(msg) : len(msg)+p]
		copy(tok, buf[len(msg)+p:])
	}
	trailer(tok[10:], h.seq)
	h.seq++
	return pad, tok, nil
}

var errSealed = errors.New("digest: sealed message fails its integrity check")

// unseal decrypts ct (message | padding | 10-byte MAC, all encrypted) in
// place, checks t (00 01 | seq) and returns the plaintext message, a prefix
// of ct. On failure the receive state is left unchanged.
func (l *securityLayer) unseal(ct, t []byte) ([]byte, error) {
	h := &l.recv
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ki == nil {
		return nil, status.SEC_E_INVALID_HANDLE // deleted
	}
	if len(t) != 6 {
		return nil, status.SEC_E_MESSAGE_ALTERED
	}
	if err := checkTrailer(t, h.seq); err != nil {
		return nil, err
	}
	var msg, mac []byte
	ok := true
	if h.stream != nil {
		if len(ct) < 10 {
			return nil, status.SEC_E_MESSAGE_ALTERED
		}
		saved := *h.stream
		h.stream.XORKeyStream(ct, ct)
		msg, mac = ct[:len(ct)-10], ct[len(ct)-10:]
		if !hmac.Equal(mac, mac10(h.ki, h.seq, msg)) {
			*h.stream = saved
			return nil, status.New("DecryptMessage", pkgName, status.SEC_E_MESSAGE_ALTERED, errSealed)
		}
	} else {
		if len(ct) < 16 || len(ct)%8 != 0 {
			return nil, status.SEC_E_MESSAGE_ALTERED
		}
		var next [8]byte
		copy(next[:], ct[len(ct)-8:])
		cipher.NewCBCDecrypter(h.block, h.iv[:]).CryptBlocks(ct, ct)
		mac = ct[len(ct)-10:]
		p := int(ct[len(ct)-11])
		if p < 1 || p > 8 {
			ok, p = false, 1
		}
		for i := 0; i < p; i++ {
			if ct[len(ct)-11-i] != byte(p) {
				ok = false
			}
		}
		msg = ct[:len(ct)-10-p]
		if !hmac.Equal(mac, mac10(h.ki, h.seq, msg)) || !ok {
			return nil, status.New("DecryptMessage", pkgName, status.SEC_E_MESSAGE_ALTERED, errSealed)
		}
		h.iv = next
	}
	h.seq++
	return msg, nil
}

// SSPI mapping of the security layer (packages.md 4.6).

func (l *securityLayer) makeSignature(msg []secbuffer.Buffer) error {
	if l.qop != qopAuthInt && l.qop != qopAuthConf {
		return status.SEC_E_UNSUPPORTED_FUNCTION
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	if !secbuffer.Fits(tok, macLen, false) {
		return status.SEC_E_BUFFER_TOO_SMALL
	}
	t, err := l.sign(signedData(msg))
	if err != nil {
		return err
	}
	secbuffer.Set(tok, t, false)
	return nil
}

func (l *securityLayer) verifySignature(msg []secbuffer.Buffer) error {
	if l.qop != qopAuthInt && l.qop != qopAuthConf {
		return status.SEC_E_UNSUPPORTED_FUNCTION
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	return l.verify(signedData(msg), tok.Data)
}

// signedData lists the DATA buffers a signature covers, in order.
func signedData(msg []secbuffer.Buffer) [][]byte {
	var out [][]byte
	for i := range msg {
		if msg[i].BaseType() == secbuffer.SECBUFFER_DATA && msg[i].Signed() {
			out = append(out, msg[i].Data)
		}
	}
	return out
}

// encryptMessage: [DATA, PADDING, TOKEN] → DATA ciphertext in place,
// PADDING the padding ciphertext (empty for rc4), TOKEN the 16-byte trailer.
// On an auth-int context, or with SECQOP_WRAP_NO_ENCRYPT, the message is
// only signed: DATA unchanged, PADDING empty, TOKEN the MAC.
func (l *securityLayer) encryptMessage(qop uint32, msg []secbuffer.Buffer) error {
	if l.qop != qopAuthInt && l.qop != qopAuthConf {
		return status.SEC_E_UNSUPPORTED_FUNCTION
	}
	if secbuffer.Count(msg, secbuffer.SECBUFFER_DATA) != 1 {
		return status.SEC_E_INVALID_TOKEN
	}
	data := secbuffer.Find(msg, secbuffer.SECBUFFER_DATA)
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	padBuf := secbuffer.Find(msg, secbuffer.SECBUFFER_PADDING)
	if tok == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	if !secbuffer.Fits(tok, macLen, false) {
		return status.SEC_E_BUFFER_TOO_SMALL
	}
	signOnly := l.qop == qopAuthInt
	if qop == packages.SECQOP_WRAP_NO_ENCRYPT {
		if !signOnly {
			// Every auth-conf message is sealed (RFC 2831 2.4); the
			// receiver could not tell a signed-only one apart.
			return status.SEC_E_QOP_NOT_SUPPORTED
		}
	} else if qop != 0 {
		return status.SEC_E_QOP_NOT_SUPPORTED
	}
	pad := 0
	if !signOnly && l.cipher.block {
		pad = padLen(len(data.Data))
		if padBuf == nil || !secbuffer.Fits(padBuf, pad, false) {
			return status.SEC_E_BUFFER_TOO_SMALL
		}
	}
	if l.peerMaxbuf != 0 && uint64(len(data.Data))+uint64(pad)+macLen > uint64(l.peerMaxbuf) {
		return status.SEC_E_BUFFER_TOO_SMALL
	}
	if signOnly {
		t, err := l.sign([][]byte{data.Data})
		if err != nil {
			return err
		}
		secbuffer.Set(tok, t, false)
		if padBuf != nil {
			padBuf.Data = padBuf.Data[:0]
		}
		return nil
	}
	p, t, err := l.seal(data.Data)
	if err != nil {
		return err
	}
	secbuffer.Set(tok, t, false)
	if padBuf != nil {
		secbuffer.Set(padBuf, p, false)
	}
	return nil
}

// decryptMessage accepts [STREAM, DATA] (the whole message in STREAM; DATA
// receives the plaintext, a slice of STREAM) or [DATA, PADDING, TOKEN] as
// encryptMessage produced them.
func (l *securityLayer) decryptMessage(msg []secbuffer.Buffer) (uint32, error) {
	if l.qop != qopAuthInt && l.qop != qopAuthConf {
		return 0, status.SEC_E_UNSUPPORTED_FUNCTION
	}
	data := secbuffer.Find(msg, secbuffer.SECBUFFER_DATA)
	if stream := secbuffer.Find(msg, secbuffer.SECBUFFER_STREAM); stream != nil {
		s := stream.Data
		if len(s) < macLen {
			return 0, status.SEC_E_INCOMPLETE_MESSAGE
		}
		var plain []byte
		if l.qop == qopAuthInt {
			body := s[:len(s)-macLen]
			if err := l.verify([][]byte{body}, s[len(s)-macLen:]); err != nil {
				return 0, err
			}
			plain = body
		} else {
			var err error
			if plain, err = l.unseal(s[:len(s)-6], s[len(s)-6:]); err != nil {
				return 0, err
			}
		}
		if data != nil {
			data.Data = plain
		}
		if l.qop == qopAuthInt {
			return packages.SECQOP_WRAP_NO_ENCRYPT, nil
		}
		return 0, nil
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if data == nil || tok == nil || len(tok.Data) != macLen {
		return 0, status.SEC_E_INVALID_TOKEN
	}
	if l.qop == qopAuthInt {
		if err := l.verify([][]byte{data.Data}, tok.Data); err != nil {
			return 0, err
		}
		return packages.SECQOP_WRAP_NO_ENCRYPT, nil
	}
	padBuf := secbuffer.Find(msg, secbuffer.SECBUFFER_PADDING)
	var pad []byte
	if padBuf != nil {
		pad = padBuf.Data
	}
	ct := make([]byte, 0, len(data.Data)+len(pad)+10)
	ct = append(append(append(ct, data.Data...), pad...), tok.Data[:10]...)
	plain, err := l.unseal(ct, tok.Data[10:])
	if err != nil {
		return 0, err
	}
	n := copy(data.Data, plain)
	data.Data = data.Data[:n]
	if padBuf != nil {
		padBuf.Data = padBuf.Data[:0]
	}
	return 0, nil
}

func (l *securityLayer) sizes() *packages.SecPkgContext_Sizes {
	s := &packages.SecPkgContext_Sizes{MaxToken: maxToken, MaxSignature: macLen, BlockSize: 1, SecurityTrailer: macLen}
	if l != nil && l.cipher != nil && l.cipher.block {
		s.BlockSize = 8
	}
	return s
}
