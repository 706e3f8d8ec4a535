package ntlm

import (
	"crypto/des"
	"crypto/md5"
	"encoding"
	"encoding/binary"
	"hash"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/gosspi/sspi/internal/wire"

	//lint:ignore SA1019 MD4 is what the NT hash is (MS-NLMP 3.3.1); x/crypto/md4 is frozen, not broken.
	"golang.org/x/crypto/md4"
)

// The response and key computations of MS-NLMP 3.3 and 3.4.5. The legacy
// algorithms (MD4, DES, RC4, HMAC-MD5) appear because the protocol requires
// them and nowhere else.

// ntowfv1 is NTOWFv1: MD4 of the UTF-16LE password (MS-NLMP 3.3.1).
func ntowfv1(password string) [16]byte {
	var buf [128]byte // a password of up to 64 UTF-16 units stays on the stack
	p := wire.AppendUTF16LE(buf[:0], password)
	h := md4.New()
	h.Write(p)
	var k [16]byte
	h.Sum(k[:0])
	clear(p)
	return k
}

// lmMagic is the plaintext LMOWFv1 encrypts (MS-NLMP 3.3.1).
var lmMagic = []byte("KGS!@#$%")

// lmowfv1 is LMOWFv1: two DES encryptions of "KGS!@#$%" keyed by the
// upper-cased OEM password padded or cut to 14 bytes (MS-NLMP 3.3.1). The
// emulation takes the OEM code page to be Latin-1 and maps other
// characters to '?'.
func lmowfv1(password string) [16]byte {
	var p [14]byte
	i := 0
	for _, r := range strings.ToUpper(password) {
		if i == len(p) {
			break
		}
		if r > 0xff {
			r = '?'
		}
		p[i] = byte(r)
		i++
	}
	var k [16]byte
	desEncrypt7(k[0:8], p[0:7], lmMagic)
	desEncrypt7(k[8:16], p[7:14], lmMagic)
	return k
}

// ntowfv2 is NTOWFv2: HMAC-MD5 keyed by NTOWFv1 over UTF-16LE(UPPER(user)
// ‖ domain), the domain not upper-cased (MS-NLMP 3.3.2). UPPER maps each
// rune with unicode.ToUpper, as strings.ToUpper does.
func ntowfv2(nt [16]byte, user, domain string) [16]byte {
	var buf [256]byte // names of up to 128 UTF-16 units stay on the stack
	p := buf[:0]
	for _, r := range user {
		r = unicode.ToUpper(r)
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			p = binary.LittleEndian.AppendUint16(p, uint16(r1))
			r = r2
		}
		p = binary.LittleEndian.AppendUint16(p, uint16(r))
	}
	p = wire.AppendUTF16LE(p, domain)
	return hmacMD5(nt[:], p)
}

// hmacMD5 returns HMAC-MD5(key, parts...) (RFC 2104, with MD5 from
// crypto/md5). crypto/hmac allocates five objects for each key (its state,
// two MD5 states, ipad and opad), and an NTLM handshake keys five HMACs with
// five different keys; here the state stays on the caller's stack. It is
// checked against crypto/hmac and the RFC 2202 vectors in crypto_test.go.
func hmacMD5(key []byte, parts ...[]byte) [16]byte {
	const blockSize = 64
	var k [blockSize]byte
	if len(key) > blockSize {
		d := md5.Sum(key)
		copy(k[:], d[:])
	} else {
		copy(k[:], key)
	}
	for i := range k {
		k[i] ^= 0x36 // ipad
	}
	h := md5.New()
	h.Write(k[:])
	for _, p := range parts {
		h.Write(p)
	}
	var inner, sum [md5.Size]byte
	h.Sum(inner[:0])
	for i := range k {
		k[i] ^= 0x36 ^ 0x5c // opad
	}
	h.Reset()
	h.Write(k[:])
	h.Write(inner[:])
	h.Sum(sum[:0])
	clear(k[:])
	clear(inner[:])
	return sum
}

// desKey spreads a 56-bit key over 8 bytes, 7 bits each, with odd parity
// in the low bit (MS-NLMP 6, "DES": the key is 7 bytes).
func desKey(k7 []byte) []byte {
	k := make([]byte, 8)
	k[0] = k7[0]
	k[1] = k7[0]<<7 | k7[1]>>1
	k[2] = k7[1]<<6 | k7[2]>>2
	k[3] = k7[2]<<5 | k7[3]>>3
	k[4] = k7[3]<<4 | k7[4]>>4
	k[5] = k7[4]<<3 | k7[5]>>5
	k[6] = k7[5]<<2 | k7[6]>>6
	k[7] = k7[6] << 1
	for i, b := range k {
		b &^= 1
		// odd parity over the 7 key bits
		p := b>>1 ^ b>>2 ^ b>>3 ^ b>>4 ^ b>>5 ^ b>>6 ^ b>>7
		k[i] = b | (^p & 1)
	}
	return k
}

// desEncrypt7 writes DES(K7, d8) to dst (single-block ECB).
func desEncrypt7(dst, k7, d8 []byte) {
	c, err := des.NewCipher(desKey(k7))
	if err != nil {
		panic("ntlm: internal error: DES key size") // desKey always returns 8 bytes
	}
	c.Encrypt(dst, d8)
}

// desl is DESL(K, D): D encrypted under the three 7-byte thirds of K, the
// last padded with five zero bytes (MS-NLMP 6).
func desl(k [16]byte, d []byte) []byte {
	var k3 [7]byte
	copy(k3[:], k[14:16])
	out := make([]byte, 24)
	desEncrypt7(out[0:8], k[0:7], d)
	desEncrypt7(out[8:16], k[7:14], d)
	desEncrypt7(out[16:24], k3[:], d)
	return out
}

// v1Responses computes the NTLMv1 responses without extended session
// security (MS-NLMP 3.3.1). lm is nil to send NoLMResponseNTLMv1: the NT
// response then fills the LM field too, as Windows does.
func v1Responses(nt [16]byte, lm *[16]byte, serverChallenge [8]byte) (ntResp, lmResp []byte) {
	ntResp = desl(nt, serverChallenge[:])
	if lm == nil {
		return ntResp, ntResp
	}
	return ntResp, desl(*lm, serverChallenge[:])
}

// v1ESSResponses computes the NTLMv1 responses with extended session
// security, the "NTLM2 session response" (MS-NLMP 3.3.1).
func v1ESSResponses(nt [16]byte, serverChallenge, clientChallenge [8]byte) (ntResp, lmResp []byte) {
	lmResp = make([]byte, 24)
	copy(lmResp, clientChallenge[:])
	h := md5.Sum(append(serverChallenge[:], clientChallenge[:]...))
	return desl(nt, h[:8]), lmResp
}

// v1SessionBaseKey is MD4(NTOWFv1) (MS-NLMP 3.3.1).
func v1SessionBaseKey(nt [16]byte) [16]byte {
	var k [16]byte
	h := md4.New()
	h.Write(nt[:])
	h.Sum(k[:0])
	return k
}

// v2Blob builds the NTLMv2_CLIENT_CHALLENGE "temp" of MS-NLMP 3.3.2:
// 0x01 0x01, Z(6), Time, ClientChallenge, Z(4), AvPairs, Z(4). It fails
// when an AV value is over 65535 bytes.
func v2Blob(timestamp uint64, clientChallenge [8]byte, info avList) ([]byte, error) {
	return appendV2Blob(make([]byte, 0, 28+info.size()+4), timestamp, clientChallenge, info)
}

// appendV2Blob is v2Blob appending to dst.
func appendV2Blob(dst []byte, timestamp uint64, clientChallenge [8]byte, info avList) ([]byte, error) {
	b := wire.NewBuilder(dst[len(dst):])
	b.AddUint8(1)
	b.AddUint8(1)
	b.AddZeros(6)
	b.AddUint64LE(timestamp)
	b.AddBytes(clientChallenge[:])
	b.AddZeros(4)
	info.build(b)
	b.AddZeros(4)
	blob, err := finish(b)
	if err != nil {
		return nil, err
	}
	return append(dst, blob...), nil // in place when blob was built in dst's capacity
}

// v2Responses computes the NTLMv2 and LMv2 responses and the session base
// key from NTOWFv2 and the blob (MS-NLMP 3.3.2).
func v2Responses(v2 [16]byte, serverChallenge, clientChallenge [8]byte, blob []byte) (ntResp []byte, lmResp [24]byte, sessionBaseKey [16]byte) {
	ntResp = append(make([]byte, md5.Size, md5.Size+len(blob)), blob...)
	lmResp, sessionBaseKey = v2Sign(v2, serverChallenge, clientChallenge, ntResp)
	return ntResp, lmResp, sessionBaseKey
}

// v2Sign completes an NTLMv2 response built as 16 bytes of room followed
// by the blob: it writes NTProofStr into the room, and returns the LMv2
// response and the session base key (MS-NLMP 3.3.2).
func v2Sign(v2 [16]byte, serverChallenge, clientChallenge [8]byte, ntResp []byte) (lmResp [24]byte, sessionBaseKey [16]byte) {
	proof := hmacMD5(v2[:], serverChallenge[:], ntResp[md5.Size:])
	copy(ntResp, proof[:])
	lm := hmacMD5(v2[:], serverChallenge[:], clientChallenge[:])
	copy(lmResp[:], lm[:])
	copy(lmResp[md5.Size:], clientChallenge[:])
	return lmResp, hmacMD5(v2[:], proof[:])
}

// kxkey is KXKEY (MS-NLMP 3.4.5.1) for NTLMv1. For NTLMv2 the key exchange
// key is the session base key itself. lmowf may be nil when the LM hash is
// unknown; LM_KEY and REQUEST_NON_NT_SESSION_KEY then fall back to the
// session base key (the acceptor never offers them).
func kxkey(flags uint32, sessionBaseKey [16]byte, lmowf *[16]byte, lmResp []byte, serverChallenge [8]byte) [16]byte {
	switch {
	case flags&flagExtendedSessionSecurity != 0:
		var lm8 [8]byte
		copy(lm8[:], lmResp)
		return hmacMD5(sessionBaseKey[:], serverChallenge[:], lm8[:])
	case flags&flagLMKey != 0 && lmowf != nil:
		var k [16]byte
		var lm8 [8]byte
		copy(lm8[:], lmResp)
		desEncrypt7(k[0:8], lmowf[0:7], lm8[:])
		desEncrypt7(k[8:16], []byte{lmowf[7], 0xbd, 0xbd, 0xbd, 0xbd, 0xbd, 0xbd}, lm8[:])
		return k
	case flags&flagRequestNonNTSessionKey != 0 && lmowf != nil:
		var k [16]byte
		copy(k[:8], lmowf[:8])
		return k
	}
	return sessionBaseKey
}

// rc4Once sets dst to RC4(key, src) from a fresh key stream; the cipher
// state lives on the stack and is zeroed.
func rc4Once(key, dst, src []byte) {
	var k keyStream
	k.init(key)
	copy(dst, src)
	k.xor(dst[:len(src)])
	k.reset()
}

// Magic constants of SIGNKEY and SEALKEY, NUL included (MS-NLMP 3.4.5.2-3).
var (
	clientSigningMagic = []byte("session key to client-to-server signing key magic constant\x00")
	serverSigningMagic = []byte("session key to server-to-client signing key magic constant\x00")
	clientSealingMagic = []byte("session key to client-to-server sealing key magic constant\x00")
	serverSealingMagic = []byte("session key to server-to-client sealing key magic constant\x00")
)

// signKey is SIGNKEY (MS-NLMP 3.4.5.2); it exists only with extended
// session security.
func signKey(exported [16]byte, client bool) [16]byte {
	magic := serverSigningMagic
	if client {
		magic = clientSigningMagic
	}
	return md5.Sum(append(exported[:], magic...))
}

// sealKey is SEALKEY (MS-NLMP 3.4.5.3). With extended session security the
// key is MD5 of a 16, 7 or 5-byte prefix of the exported key (128, 56,
// 40-bit) and the direction's constant. Without it, LM_KEY or DATAGRAM
// weaken the key to 8 bytes (7 + 0xa0 with 56, else 5 + 0xe5 0x38 0xb0);
// otherwise the exported key is used as is.
func sealKey(flags uint32, exported [16]byte, client bool) []byte {
	if flags&flagExtendedSessionSecurity != 0 {
		base := exported[:]
		switch {
		case flags&flag128 != 0:
		case flags&flag56 != 0:
			base = exported[:7]
		default:
			base = exported[:5]
		}
		magic := serverSealingMagic
		if client {
			magic = clientSealingMagic
		}
		k := md5.Sum(append(append([]byte(nil), base...), magic...))
		return k[:]
	}
	if flags&(flagLMKey|flagDatagram) != 0 {
		if flags&flag56 != 0 {
			return append(append([]byte(nil), exported[:7]...), 0xa0)
		}
		return append(append([]byte(nil), exported[:5]...), 0xe5, 0x38, 0xb0)
	}
	return append([]byte(nil), exported[:]...)
}

// computeMIC is the MIC of MS-NLMP 3.1.5.1.2: HMAC-MD5 keyed by the
// exported session key over the three messages as sent, the AUTHENTICATE
// one with its MIC field zeroed. transcript is NEGOTIATE ‖ CHALLENGE.
func computeMIC(exported [16]byte, transcript, authenticate []byte) [16]byte {
	var zero [micLen]byte
	return hmacMD5(exported[:], transcript, authenticate[:micOffset], zero[:], authenticate[micOffset+micLen:])
}

// keyedMD5 is HMAC-MD5 under one key, for the many messages of a
// session (MS-NLMP 3.4.4: the signing key). Like crypto/hmac it keeps the
// MD5 states that follow the key's inner and outer pads, so that a message
// costs no more than with crypto/hmac; unlike crypto/hmac it owns those
// key-derived states, and clear zeroes them when the session ends. It is
// not safe for concurrent use (each halfSession's lock guards one).
type keyedMD5 struct {
	h            hash.Hash // crypto/md5
	inner, outer []byte    // the marshalled MD5 states after the inner and outer pads; alias the arrays below
	innerState   [md5StateLen]byte
	outerState   [md5StateLen]byte
	tmp          [md5.Size]byte
}

// md5StateLen is room for crypto/md5's marshalled state (92 bytes in Go
// 1.26: magic, state, buffer, length).
const md5StateLen = 128

func newKeyedMD5(key []byte) *keyedMD5 {
	m := &keyedMD5{h: md5.New()}
	var pad [64]byte
	if len(key) > len(pad) {
		d := md5.Sum(key)
		copy(pad[:], d[:])
	} else {
		copy(pad[:], key)
	}
	state := func(dst []byte, x byte) []byte {
		for i := range pad {
			pad[i] ^= x
		}
		m.h.Reset()
		m.h.Write(pad[:])
		b, err := m.h.(encoding.BinaryAppender).AppendBinary(dst[:0])
		if err != nil || len(b) > len(dst) || &b[0] != &dst[0] {
			panic("ntlm: internal error: crypto/md5 state does not fit") // a Go release changed its size
		}
		return b
	}
	m.inner = state(m.innerState[:], 0x36)
	m.outer = state(m.outerState[:], 0x36^0x5c)
	clear(pad[:])
	m.h.Reset()
	return m
}

// Reset starts a new message.
func (m *keyedMD5) Reset() { m.restore(m.inner) }

func (m *keyedMD5) restore(state []byte) {
	if err := m.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		panic("ntlm: internal error: crypto/md5 refuses its own state")
	}
}

// Write adds p to the message.
func (m *keyedMD5) Write(p []byte) { m.h.Write(p) }

// Sum writes the HMAC of the message into out.
func (m *keyedMD5) Sum(out *[md5.Size]byte) {
	m.h.Sum(m.tmp[:0])
	m.restore(m.outer)
	m.h.Write(m.tmp[:])
	m.h.Sum(out[:0])
	clear(m.tmp[:])
}

// clear zeroes the key-derived states; m must not be used afterwards.
func (m *keyedMD5) clear() {
	clear(m.innerState[:])
	clear(m.outerState[:])
	m.h.Reset()
}
