package kerberos

import (
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"

	"github.com/jcmturner/gokrb5/v8/crypto"

	"github.com/gosspi/sspi/internal/rfc3962"
)

// RFC 4121 per-message tokens for the AES enctypes, with every key derived
// once per context.

// Key usages of RFC 4121 2.
const (
	usageAcceptorSeal  = 22
	usageAcceptorSign  = 23
	usageInitiatorSeal = 24
	usageInitiatorSign = 25
)

// Token flags of RFC 4121 4.2.2.
const (
	flagSentByAcceptor = 0x01
	flagSealed         = 0x02
	flagAcceptorSubkey = 0x04
)

// cfxDir holds the derived keys of one direction (our sending usages or
// the peer's) and scratch space, so that a token costs no allocation. The
// keys are derived on the direction's first token (a context used only to
// authenticate never pays for them). Its users serialise on the session's
// send or receive lock.
type cfxDir struct {
	sha2 bool
	h    int // checksum length

	// until derive runs
	etype                int32
	key                  []byte
	sealUsage, signUsage uint32
	err                  error

	cts    *rfc3962.Cipher // Ke of the seal usage
	ki     hash.Hash       // HMAC with Ki of the seal usage
	kcSeal hash.Hash       // HMAC with Kc of the seal usage (integrity-only Wrap)
	kcSign hash.Hash       // HMAC with Kc of the sign usage (MIC)
	sum    [64]byte
	zero   [16]byte
	parts  [16][]byte
}

// etypeParams returns the hash and checksum length of an AES enctype.
func etypeParams(etype int32) (func() hash.Hash, int, bool, error) {
	switch etype {
	case 17, 18:
		return sha1.New, 12, false, nil
	case 19:
		return sha256.New, 16, true, nil
	case 20:
		return sha512.New384, 24, true, nil
	}
	return nil, 0, false, fmt.Errorf("kerberos: enctype %d has no RFC 4121 profile here", etype)
}

// newCFXDir prepares a direction whose keys are Ke, Ki and Kc of
// sealUsage and Kc of signUsage.
func newCFXDir(etype int32, key []byte, sealUsage, signUsage uint32) (*cfxDir, error) {
	_, h, sha2, err := etypeParams(etype)
	if err != nil {
		return nil, err
	}
	if _, err := crypto.GetEtype(etype); err != nil {
		return nil, err
	}
	return &cfxDir{sha2: sha2, h: h, etype: etype, key: append([]byte(nil), key...), sealUsage: sealUsage, signUsage: signUsage}, nil
}

// ready derives the keys on first use and reports a derivation failure.
func (d *cfxDir) ready() error {
	if d.cts != nil || d.err != nil {
		return d.err
	}
	d.err = d.derive()
	return d.err
}

func (d *cfxDir) derive() error {
	hf, _, _, err := etypeParams(d.etype)
	if err != nil {
		return err
	}
	key, sealUsage, signUsage := d.key, d.sealUsage, d.signUsage
	derive := func(usage uint32, c byte) ([]byte, error) { return deriveKey(d.etype, key, usage, c) }
	ke, err := derive(sealUsage, 0xAA)
	if err != nil {
		return err
	}
	ki, err := derive(sealUsage, 0x55)
	if err != nil {
		return err
	}
	kcSeal, err := derive(sealUsage, 0x99)
	if err != nil {
		return err
	}
	kcSign, err := derive(signUsage, 0x99)
	if err != nil {
		return err
	}
	blk, err := aes.NewCipher(ke)
	if err != nil {
		return err
	}
	d.ki, d.kcSeal, d.kcSign = hmac.New(hf, ki), hmac.New(hf, kcSeal), hmac.New(hf, kcSign)
	d.cts = rfc3962.New(blk)
	clear(ke)
	clear(ki)
	clear(kcSeal)
	clear(kcSign)
	clear(d.key)
	d.key = nil
	return nil
}

// region is one piece of a Wrap token's plaintext: encrypted unless
// signOnly (SECBUFFER_READONLY_WITH_CHECKSUM data, which is only covered by
// the checksum).
type region struct {
	b        []byte
	signOnly bool
}

// seal encrypts conf ‖ data ‖ trailer in place (RFC 3961/8009 encryption
// with the confounder already in conf) and writes the checksum to cksum.
func (d *cfxDir) seal(conf []byte, data []region, trailer, cksum []byte) error {
	parts := d.encParts(conf, data, trailer)
	if !d.sha2 {
		// RFC 3961 5.3: HMAC over the plaintext, including sign-only data.
		d.ki.Reset()
		d.ki.Write(conf)
		for _, r := range data {
			d.ki.Write(r.b)
		}
		d.ki.Write(trailer)
		if err := d.cts.Encrypt(parts...); err != nil {
			return err
		}
		copy(cksum, d.ki.Sum(d.sum[:0]))
		return nil
	}
	// RFC 8009 5: HMAC over the zero IV and the ciphertext.
	if err := d.cts.Encrypt(parts...); err != nil {
		return err
	}
	d.ki.Reset()
	d.ki.Write(d.zero[:])
	d.ki.Write(conf)
	for _, r := range data {
		d.ki.Write(r.b)
	}
	d.ki.Write(trailer)
	copy(cksum, d.ki.Sum(d.sum[:0]))
	return nil
}

// unseal reverses seal and checks the checksum in constant time.
func (d *cfxDir) unseal(conf []byte, data []region, trailer, cksum []byte) (bool, error) {
	parts := d.encParts(conf, data, trailer)
	if d.sha2 {
		d.ki.Reset()
		d.ki.Write(d.zero[:])
		d.ki.Write(conf)
		for _, r := range data {
			d.ki.Write(r.b)
		}
		d.ki.Write(trailer)
		ok := hmac.Equal(d.ki.Sum(d.sum[:0])[:d.h], cksum)
		if !ok {
			return false, nil
		}
		return true, d.cts.Decrypt(parts...)
	}
	if err := d.cts.Decrypt(parts...); err != nil {
		return false, err
	}
	d.ki.Reset()
	d.ki.Write(conf)
	for _, r := range data {
		d.ki.Write(r.b)
	}
	d.ki.Write(trailer)
	if !hmac.Equal(d.ki.Sum(d.sum[:0])[:d.h], cksum) {
		// RFC 3961 checks the plaintext, so it was decrypted in place
		// first. Leave no unauthenticated plaintext in the caller's
		// buffers: CBC-CTS with a zero IV is deterministic, so
		// encrypting again restores the ciphertext (zeroed if that
		// fails).
		if err := d.cts.Encrypt(parts...); err != nil {
			for _, p := range parts {
				clear(p)
			}
		}
		return false, nil
	}
	return true, nil
}

func (d *cfxDir) encParts(conf []byte, data []region, trailer []byte) [][]byte {
	parts := d.parts[:0]
	parts = append(parts, conf)
	for _, r := range data {
		if !r.signOnly {
			parts = append(parts, r.b)
		}
	}
	return append(parts, trailer)
}

// rotateLeft rotates b left by n bytes in place (undoing RFC 4121's RRC).
func rotateLeft(b []byte, n int) {
	if len(b) == 0 {
		return
	}
	n %= len(b)
	if n == 0 {
		return
	}
	reverse(b[:n])
	reverse(b[n:])
	reverse(b)
}

func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

// headerEqual compares two Wrap headers, ignoring RRC (bytes 6-7).
func headerEqual(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a[:6], b[:6])&subtle.ConstantTimeCompare(a[8:16], b[8:16]) == 1
}
