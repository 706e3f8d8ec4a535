package ntlm

// keyStream is RC4, the cipher of NTLM sealing and key exchange (MS-NLMP
// 3.4.3), with what crypto/rc4 lacks: it steps backwards. DecryptMessage
// cannot tell from an NTLM signature whether the data was sealed, so it
// tries the sealed reading and, when that fails, rewinds the key stream
// and tries the signed-only one. With crypto/rc4 that needs a copy of the
// 1 KiB cipher state before every message; here the rare failing reading
// undoes its own steps instead, at the cost of the bytes it consumed.
//
// The state is RC4's permutation s and indices i and j (RFC 6229 gives
// test vectors; rc4_test.go checks this type against crypto/rc4). The
// permutation is held as uint32 so that the loops do no zero-extension.
// pos counts the key stream bytes consumed, less those stepped back.
type keyStream struct {
	s    [256]uint32
	i, j uint8
	pos  uint64
}

// newKeyStream runs RC4's key schedule. The key is 1 to 256 bytes (NTLM's
// sealing keys are 5, 7 or 16).
func newKeyStream(key []byte) *keyStream {
	k := new(keyStream)
	k.init(key)
	return k
}

func (k *keyStream) init(key []byte) {
	if len(key) < 1 || len(key) > 256 {
		panic("ntlm: internal error: RC4 key size")
	}
	for n := range k.s {
		k.s[n] = uint32(n)
	}
	var j uint8
	for n := range k.s {
		j += uint8(k.s[n]) + key[n%len(key)]
		k.s[n], k.s[j] = k.s[j], k.s[n]
	}
	k.i, k.j, k.pos = 0, 0, 0
}

// xor sets buf to buf XOR the next len(buf) bytes of key stream.
func (k *keyStream) xor(buf []byte) {
	i, j := k.i, k.j
	for n, v := range buf {
		i++
		x := k.s[i]
		j += uint8(x)
		y := k.s[j]
		k.s[i], k.s[j] = y, x
		buf[n] = v ^ uint8(k.s[uint8(x+y)])
	}
	k.i, k.j = i, j
	k.pos += uint64(len(buf))
}

// skip consumes n bytes of key stream.
func (k *keyStream) skip(n uint64) {
	i, j := k.i, k.j
	for ; n > 0; n-- {
		i++
		x := k.s[i]
		j += uint8(x)
		k.s[i], k.s[j] = k.s[j], x
		k.pos++
	}
	k.i, k.j = i, j
}

// unxor undoes xor(buf): it steps the key stream back len(buf) bytes,
// XORing each byte of buf, last first, with the key stream byte it had
// been XORed with.
//
// One forward step is: i++; j += s[i]; swap s[i], s[j]; out s[s[i]+s[j]].
// Its output is computed from the state after the step, so going back is:
// out s[s[i]+s[j]]; swap s[i], s[j] (s[i] is then its old value again);
// j -= s[i]; i--.
func (k *keyStream) unxor(buf []byte) {
	i, j := k.i, k.j
	for n := len(buf) - 1; n >= 0; n-- {
		x, y := k.s[i], k.s[j]
		buf[n] ^= uint8(k.s[uint8(x+y)])
		k.s[i], k.s[j] = y, x
		j -= uint8(y)
		i--
	}
	k.i, k.j = i, j
	k.pos -= uint64(len(buf))
}

// back steps the key stream back n bytes.
func (k *keyStream) back(n uint64) {
	i, j := k.i, k.j
	for ; n > 0; n-- {
		x, y := k.s[i], k.s[j]
		k.s[i], k.s[j] = y, x
		j -= uint8(y)
		i--
		k.pos--
	}
	k.i, k.j = i, j
}

// reset zeroes the state.
func (k *keyStream) reset() { *k = keyStream{} }
