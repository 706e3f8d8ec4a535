package kerberos

import (
	"crypto/aes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"slices"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/rfc3962"
)

// RFC 3961 encryption of handshake messages (ticket, authenticator,
// AP-REP, KRB-CRED enc-parts) for the AES enctypes, on the same code as
// the per-message tokens (cfxDir.seal and unseal). gokrb5 derives its keys
// through a bit-by-bit n-fold and allocates at every step; here the
// n-fold of a key usage constant, which depends on no secret, is computed
// once per process, and a derivation of an aes128/aes256 key costs one or
// two AES block encryptions. Other enctypes (RC4, DES3) go through gokrb5.

// errIntegrity reports an enc-part whose checksum does not verify.
var errIntegrity = errors.New("kerberos: integrity check failed")

// nfold returns the n-fold of in to n bytes (RFC 3961 5.1): in is repeated
// up to the least common multiple of both lengths, each repetition rotated
// right by 13 bits more than the one before, and the n-byte blocks of the
// result are added in ones' complement (end-around carry).
func nfold(in []byte, n int) []byte {
	k := len(in)
	l := k * n / gcd(k, n)
	bits := 8 * k
	buf := make([]byte, l)
	for r := 0; r < l/k; r++ {
		rot := (13 * r) % bits
		for j := 0; j < bits; j++ {
			src := (j - rot + bits) % bits
			if in[src/8]>>(7-src%8)&1 != 0 {
				buf[r*k+j/8] |= 1 << (7 - j%8)
			}
		}
	}
	out := make([]byte, n)
	for off := 0; off < l; off += n {
		carry := 0
		for i := n - 1; i >= 0; i-- {
			s := int(out[i]) + int(buf[off+i]) + carry
			out[i], carry = byte(s), s>>8
		}
		for i := n - 1; carry != 0; i = (i + n - 1) % n {
			s := int(out[i]) + carry
			out[i], carry = byte(s), s>>8
		}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// foldedUsages caches the 128-bit n-fold of each key usage constant
// (usage ‖ 0xAA, 0x55 or 0x99): public values, a few dozen at most.
var foldedUsages sync.Map // uint64(usage)<<8 | c → *[16]byte

func foldedUsage(usage uint32, c byte) *[16]byte {
	k := uint64(usage)<<8 | uint64(c)
	if v, ok := foldedUsages.Load(k); ok {
		return v.(*[16]byte)
	}
	var label [5]byte
	binary.BigEndian.PutUint32(label[:], usage)
	label[4] = c
	f := (*[16]byte)(nfold(label[:], 16))
	v, _ := foldedUsages.LoadOrStore(k, f)
	return v.(*[16]byte)
}

// deriveKey returns DK(key, usage ‖ c) of etype (RFC 3961 5.1, RFC 3962
// 4; RFC 8009 through gokrb5). The caller owns and zeroes the result.
func deriveKey(etype int32, key []byte, usage uint32, c byte) ([]byte, error) {
	if (etype == 17 && len(key) == 16) || (etype == 18 && len(key) == 32) {
		blk, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		// DR: E(key, n-fold(constant)), then E of the previous block,
		// until the key length; random-to-key is the identity for AES.
		out := make([]byte, len(key))
		blk.Encrypt(out[:16], foldedUsage(usage, c)[:])
		if len(out) == 32 {
			blk.Encrypt(out[16:], out[:16])
		}
		return out, nil
	}
	et, err := crypto.GetEtype(etype)
	if err != nil {
		return nil, err
	}
	var label [5]byte
	binary.BigEndian.PutUint32(label[:], usage)
	label[4] = c
	return et.DeriveKey(key, label[:])
}

// usageCipher returns the encryption of one key usage: Ke and Ki derived
// from key. It reports ok = false for an enctype without an RFC 4121
// profile here (not AES).
func usageCipher(key types.EncryptionKey, usage uint32) (d *cfxDir, ok bool, err error) {
	hf, h, sha2, err := etypeParams(key.KeyType)
	if err != nil {
		return nil, false, nil
	}
	ke, err := deriveKey(key.KeyType, key.KeyValue, usage, 0xAA)
	if err != nil {
		return nil, true, err
	}
	defer clear(ke)
	ki, err := deriveKey(key.KeyType, key.KeyValue, usage, 0x55)
	if err != nil {
		return nil, true, err
	}
	defer clear(ki)
	blk, err := aes.NewCipher(ke)
	if err != nil {
		return nil, true, err
	}
	return &cfxDir{sha2: sha2, h: h, etype: key.KeyType, cts: rfc3962.New(blk), ki: hmac.New(hf, ki)}, true, nil
}

// encryptEncPart returns the cipher of an EncryptedData holding plain
// under key and usage (RFC 3961 5.3: confounder ‖ plain, encrypted, then
// the truncated HMAC).
func encryptEncPart(key types.EncryptionKey, usage uint32, plain []byte) ([]byte, error) {
	d, ok, err := usageCipher(key, usage)
	if err != nil {
		return nil, err
	}
	if !ok {
		ed, err := crypto.GetEncryptedData(plain, key, usage, 0)
		if err != nil {
			return nil, err
		}
		return ed.Cipher, nil
	}
	out := make([]byte, 16+len(plain)+d.h)
	conf, body := out[:16], out[16:16+len(plain)]
	if _, err := rand.Read(conf); err != nil {
		return nil, err
	}
	copy(body, plain)
	if err := d.seal(conf, []region{{b: body}}, nil, out[16+len(plain):]); err != nil {
		return nil, err
	}
	return out, nil
}

// decryptAES decrypts and verifies cipher under key and usage for an AES
// enctype (ok = false otherwise). The plaintext is a new slice; on failure
// nothing decrypted is left behind.
func decryptAES(key types.EncryptionKey, usage uint32, cipher []byte) (plain []byte, ok bool, err error) {
	d, ok, err := usageCipher(key, usage)
	if !ok || err != nil {
		return nil, ok, err
	}
	if len(cipher) < 16+d.h {
		return nil, true, errShortCipher
	}
	n := len(cipher) - d.h
	buf := slices.Clone(cipher[:n])
	good, err := d.unseal(buf[:16], []region{{b: buf[16:]}}, nil, cipher[n:])
	if err != nil || !good {
		clear(buf)
		if err == nil {
			err = errIntegrity
		}
		return nil, true, err
	}
	return buf[16:], true, nil
}
