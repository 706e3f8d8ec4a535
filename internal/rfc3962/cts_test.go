package rfc3962

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/testkit"
)

type ctsVector struct {
	plain, cipher []byte
}

func loadVectors(t testing.TB) ([]byte, []ctsVector) {
	t.Helper()
	b, err := os.ReadFile(testkit.Path("kerberos", "rfc3962-aes128-cts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := testkit.ParseVector("rfc3962-aes128-cts.txt", b)
	if err != nil {
		t.Fatal(err)
	}
	key, err := v.Hex("key")
	if err != nil {
		t.Fatal(err)
	}
	var out []ctsVector
	for _, line := range strings.Split(v.Text, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		p, err1 := hex.DecodeString(f[0])
		c, err2 := hex.DecodeString(f[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("bad vector line %q", line)
		}
		out = append(out, ctsVector{p, c})
	}
	if len(out) != 6 {
		t.Fatalf("got %d vectors, want 6", len(out))
	}
	return key, out
}

// splits returns ways to cut b into three slices.
func splits(n int) [][2]int {
	return [][2]int{{0, 0}, {16, 16}, {16, n - 16}, {5, n - 3}, {n / 2, n / 2}, {1, 2}}
}

func TestVectors(t *testing.T) {
	key, vecs := loadVectors(t)
	blk, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	c := New(blk)
	for _, v := range vecs {
		for _, s := range splits(len(v.plain)) {
			buf := bytes.Clone(v.plain)
			a, b := s[0], s[1]
			if b < a || b > len(buf) {
				continue
			}
			if err := c.Encrypt(buf[:a], buf[a:b], buf[b:]); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, v.cipher) {
				t.Errorf("len %d split %v: encrypt = %x, want %x", len(v.plain), s, buf, v.cipher)
			}
			if err := c.Decrypt(buf[:a], buf[a:b], buf[b:]); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, v.plain) {
				t.Errorf("len %d split %v: decrypt = %x, want %x", len(v.plain), s, buf, v.plain)
			}
		}
	}
}

func TestRoundTripLengths(t *testing.T) {
	blk, _ := aes.NewCipher(make([]byte, 32))
	c := New(blk)
	for n := 16; n < 100; n++ {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
		}
		x := bytes.Clone(p)
		if err := c.Encrypt(x[:3], x[3:]); err != nil {
			t.Fatal(err)
		}
		if n > 16 && bytes.Equal(x, p) {
			t.Fatalf("n=%d: not encrypted", n)
		}
		x2 := bytes.Clone(p)
		if err := c.Encrypt(x2); err != nil || !bytes.Equal(x, x2) {
			t.Fatalf("n=%d: split changes the result", n)
		}
		if err := c.Decrypt(x[:n-1], x[n-1:]); err != nil || !bytes.Equal(x, p) {
			t.Fatalf("n=%d: round trip failed", n)
		}
	}
	if c.Encrypt(make([]byte, 15)) != ErrShort || c.Decrypt(make([]byte, 3)) != ErrShort {
		t.Fatal("short message accepted")
	}
}

func TestNoAllocs(t *testing.T) {
	blk, _ := aes.NewCipher(make([]byte, 16))
	c := New(blk)
	a, b, d := make([]byte, 16), make([]byte, 1000), make([]byte, 16)
	n := testing.AllocsPerRun(100, func() {
		_ = c.Encrypt(a, b, d)
		_ = c.Decrypt(a, b, d)
	})
	if n != 0 {
		t.Fatalf("%v allocations per run, want 0", n)
	}
}

func BenchmarkEncrypt64K(b *testing.B) {
	blk, _ := aes.NewCipher(make([]byte, 32))
	c := New(blk)
	buf := make([]byte, 65536+32)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Encrypt(buf)
	}
}
