package ntlm

import (
	"bytes"
	"crypto/rc4"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// TestKeyStreamRFC6229 checks the first bytes of key stream for two of
// RFC 6229's keys (section 2, offsets 0 and 16).
func TestKeyStreamRFC6229(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"0102030405", "b2396305f03dc027ccc3524a0a1118a8" + "6982944f18fc82d589c403a47a0d0919"},
		{"0102030405060708090a0b0c0d0e0f10", "9ac7cc9a609d1ef7b2932899cde41b97" + "5248c4959014126a6e8a84f11d1a9e1c"},
	} {
		key, _ := hex.DecodeString(tc.key)
		got := make([]byte, 32)
		newKeyStream(key).xor(got)
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("key %s: %x, want %s", tc.key, got, tc.want)
		}
	}
}

// TestKeyStreamAgainstStdlib runs keyStream beside crypto/rc4 over random
// keys and chunks, stepping back and forth in between: every forward
// byte matches crypto/rc4, unxor restores the data and the state, and
// back followed by skip returns to the same state.
func TestKeyStreamAgainstStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		key := make([]byte, 1+rng.IntN(32))
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		ref, _ := rc4.NewCipher(key)
		ks := newKeyStream(key)
		for range 20 {
			plain := make([]byte, rng.IntN(600))
			for i := range plain {
				plain[i] = byte(rng.Uint32())
			}
			want := make([]byte, len(plain))
			ref.XORKeyStream(want, plain)

			before := *ks
			got := bytes.Clone(plain)
			ks.xor(got)
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d: xor differs from crypto/rc4", round)
			}
			after := *ks
			ks.unxor(got)
			if !bytes.Equal(got, plain) || *ks != before {
				t.Fatalf("round %d: unxor of %d bytes did not restore the data and state", round, len(plain))
			}
			ks.skip(uint64(len(plain)))
			if *ks != after {
				t.Fatalf("round %d: skip differs from xor", round)
			}
			n := uint64(rng.IntN(len(plain) + 1))
			ks.back(n)
			ks.skip(n)
			if *ks != after {
				t.Fatalf("round %d: back(%d) then skip did not return", round, n)
			}
			if ks.pos != before.pos+uint64(len(plain)) {
				t.Fatalf("round %d: pos %d, want %d", round, ks.pos, before.pos+uint64(len(plain)))
			}
		}
	}
}

func BenchmarkKeyStream(b *testing.B) {
	buf := make([]byte, 1024)
	b.Run("ours", func(b *testing.B) {
		ks := newKeyStream(make([]byte, 16))
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			ks.xor(buf)
		}
	})
	b.Run("crypto/rc4", func(b *testing.B) {
		c, _ := rc4.NewCipher(make([]byte, 16))
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			c.XORKeyStream(buf, buf)
		}
	})
}
