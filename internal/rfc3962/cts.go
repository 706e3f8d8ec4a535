// Package rfc3962 implements the cipher mode of the AES Kerberos enctypes:
// CBC with ciphertext stealing and a zero IV, in the variant of RFC 3962
// section 5 (the last two blocks are always swapped, also when the
// message is a whole number of blocks; a single block is plain CBC).
// RFC 8009 uses the same mode.
//
// [Encrypt] and [Decrypt] work in place on a message split over several
// slices (a GSS Wrap token's confounder, the caller's data buffer and the
// trailing header copy), so that a Kerberos per-message operation needs no
// copy and no allocation. gokrb5 has the mode too, but it allocates on
// every call.
package rfc3962

import (
	"crypto/cipher"
	"crypto/subtle"
	"errors"
)

// BlockSize is the AES block size.
const BlockSize = 16

// ErrShort is returned for a message shorter than one block.
var ErrShort = errors.New("rfc3962: message shorter than one block")

// message is a sequence of slices read as one contiguous byte string.
type message [][]byte

func (m message) len() int {
	n := 0
	for _, p := range m {
		n += len(p)
	}
	return n
}

// run returns the longest run of whole blocks starting at off, ending
// before limit, that lies in one slice; nil when the block at off
// straddles two slices.
func (m message) run(off, limit int) []byte {
	for _, p := range m {
		if off < len(p) {
			n := min(len(p)-off, limit-off) / BlockSize * BlockSize
			if n == 0 {
				return nil
			}
			return p[off : off+n : off+n]
		}
		off -= len(p)
		limit -= len(p)
	}
	return nil
}

// read copies len(dst) bytes starting at off into dst.
func (m message) read(off int, dst []byte) {
	for _, p := range m {
		if len(dst) == 0 {
			return
		}
		if off >= len(p) {
			off -= len(p)
			continue
		}
		n := copy(dst, p[off:])
		dst = dst[n:]
		off = 0
	}
}

// write copies src to the bytes starting at off.
func (m message) write(off int, src []byte) {
	for _, p := range m {
		if len(src) == 0 {
			return
		}
		if off >= len(p) {
			off -= len(p)
			continue
		}
		n := copy(p[off:], src)
		src = src[n:]
		off = 0
	}
}

// Cipher is AES-CTS under one key. Its methods keep their temporaries in
// the Cipher so that they do not allocate; a Cipher is therefore not safe
// for concurrent use.
type Cipher struct {
	b        cipher.Block
	enc, dec cipher.BlockMode // CBC over runs inside one slice
	encIV    ivSetter
	decIV    ivSetter
	// scratch space, reused by every call
	buf, t, out           [2 * BlockSize]byte
	prev, save, d, ca, pc [BlockSize]byte
}

// ivSetter is implemented by the standard library's CBC modes.
type ivSetter interface{ SetIV([]byte) }

// New returns a Cipher using the AES block cipher b.
func New(b cipher.Block) *Cipher {
	c := &Cipher{b: b}
	var zero [BlockSize]byte
	enc, dec := cipher.NewCBCEncrypter(b, zero[:]), cipher.NewCBCDecrypter(b, zero[:])
	ei, ok1 := enc.(ivSetter)
	di, ok2 := dec.(ivSetter)
	if ok1 && ok2 {
		c.enc, c.dec, c.encIV, c.decIV = enc, dec, ei, di
	}
	return c
}

// split measures m and handles the lengths the mode treats apart: shorter
// than a block is ErrShort, and a single block is crypt alone (CBC with a
// zero IV). For a longer message it returns n and the offset of the last
// two blocks, which ciphertext stealing swaps.
func (c *Cipher) split(m message, crypt func(dst, src []byte)) (n, last2 int, err error) {
	n = m.len()
	if n < BlockSize {
		return n, 0, ErrShort
	}
	if n == BlockSize {
		p := c.buf[:BlockSize]
		m.read(0, p)
		crypt(p, p)
		m.write(0, p)
		return n, 0, nil
	}
	return n, ((n+BlockSize-1)/BlockSize - 2) * BlockSize, nil
}

// Encrypt encrypts the concatenation of parts in place with AES-CTS and a
// zero IV. The message must be at least one block long.
func (c *Cipher) Encrypt(parts ...[]byte) error {
	m := message(parts)
	n, last2, err := c.split(m, c.b.Encrypt)
	if n <= BlockSize {
		return err
	}
	b := c.b
	buf := c.buf[:]
	prev := c.prev[:]
	clear(prev)
	for off := 0; off < last2; {
		if r := m.run(off, last2); r != nil && c.enc != nil {
			c.encIV.SetIV(prev)
			c.enc.CryptBlocks(r, r)
			copy(prev, r[len(r)-BlockSize:])
			off += len(r)
			continue
		}
		p := buf[:BlockSize]
		m.read(off, p)
		subtle.XORBytes(p, p, prev)
		b.Encrypt(p, p)
		m.write(off, p)
		copy(prev, p)
		off += BlockSize
	}
	// The last two blocks: 17 to 32 bytes, the final one zero-padded.
	tl := n - last2
	t := c.t[:]
	clear(t)
	m.read(last2, t[:tl])
	subtle.XORBytes(t[:BlockSize], t[:BlockSize], prev)
	b.Encrypt(t[:BlockSize], t[:BlockSize])
	subtle.XORBytes(t[BlockSize:], t[BlockSize:], t[:BlockSize])
	b.Encrypt(t[BlockSize:], t[BlockSize:])
	copy(buf[:BlockSize], t[BlockSize:])
	copy(buf[BlockSize:tl], t[:tl-BlockSize])
	m.write(last2, buf[:tl])
	return nil
}

// Decrypt decrypts the concatenation of parts in place; it reverses
// [Cipher.Encrypt].
func (c *Cipher) Decrypt(parts ...[]byte) error {
	m := message(parts)
	n, last2, err := c.split(m, c.b.Decrypt)
	if n <= BlockSize {
		return err
	}
	b := c.b
	buf := c.buf[:]
	tl := n - last2
	// The tail first: it needs the ciphertext block before it, which the
	// in-place decryption of the regular blocks overwrites.
	prevC := c.pc[:]
	clear(prevC)
	if last2 > 0 {
		m.read(last2-BlockSize, prevC)
	}
	d, ca, out := c.d[:], c.ca[:], c.out[:]
	m.read(last2, buf[:tl]) // Cb | Ca truncated
	b.Decrypt(d, buf[:BlockSize])
	r := tl - BlockSize
	copy(ca, buf[BlockSize:tl])
	copy(ca[r:], d[r:])
	subtle.XORBytes(out[BlockSize:tl], d[:r], ca[:r])
	b.Decrypt(out[:BlockSize], ca)
	subtle.XORBytes(out[:BlockSize], out[:BlockSize], prevC)
	prev, save := c.prev[:], c.save[:]
	clear(prev)
	for off := 0; off < last2; {
		if r := m.run(off, last2); r != nil && c.dec != nil {
			copy(save, r[len(r)-BlockSize:])
			c.decIV.SetIV(prev)
			c.dec.CryptBlocks(r, r)
			copy(prev, save)
			off += len(r)
			continue
		}
		p := buf[:BlockSize]
		m.read(off, p)
		copy(save, p)
		b.Decrypt(p, p)
		subtle.XORBytes(p, p, prev)
		m.write(off, p)
		copy(prev, save)
		off += BlockSize
	}
	m.write(last2, out[:tl])
	return nil
}
