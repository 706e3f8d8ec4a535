package wire

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"testing"
	"unicode/utf16"
)

func TestStringReads(t *testing.T) {
	s := String{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	var (
		u8  uint8
		u16 uint16
		u32 uint32
		u64 uint64
	)
	if !s.ReadUint8(&u8) || u8 != 0x01 {
		t.Fatalf("ReadUint8 = %#x", u8)
	}
	if !s.ReadUint16LE(&u16) || u16 != 0x0302 {
		t.Fatalf("ReadUint16LE = %#x", u16)
	}
	if !s.ReadUint32LE(&u32) || u32 != 0x07060504 {
		t.Fatalf("ReadUint32LE = %#x", u32)
	}
	if !s.ReadUint64LE(&u64) || u64 != 0x0f0e0d0c0b0a0908 {
		t.Fatalf("ReadUint64LE = %#x", u64)
	}
	if !s.Empty() {
		t.Fatalf("%d bytes left", len(s))
	}
	// Every read of an empty or short String fails and moves nothing.
	short := String{1, 2, 3}
	before := short
	if short.ReadUint32LE(&u32) || short.ReadUint64LE(&u64) || short.Skip(4) || short.Skip(-1) ||
		short.CopyBytes(make([]byte, 4)) || short.ReadSignature([]byte{1, 2, 3, 4}) || short.ReadSignature([]byte{1, 9}) {
		t.Fatal("a read past the end succeeded")
	}
	var f Field
	if short.ReadField(&f) {
		t.Fatal("ReadField past the end succeeded")
	}
	var p []byte
	if short.ReadBytes(&p, 4) || short.ReadBytes(&p, -1) {
		t.Fatal("ReadBytes past the end succeeded")
	}
	if !bytes.Equal(short, before) {
		t.Fatal("a failed read moved the String")
	}
	if !short.ReadSignature([]byte{1, 2}) || !short.ReadBytes(&p, 1) || p[0] != 3 || cap(p) != 1 || !short.Empty() {
		t.Fatal("ReadSignature and ReadBytes")
	}
}

func TestReadField(t *testing.T) {
	s := String{0x05, 0x00, 0x06, 0x00, 0x10, 0x20, 0x30, 0x40}
	var f Field
	if !s.ReadField(&f) || f != (Field{Len: 5, MaxLen: 6, Offset: 0x40302010}) {
		t.Fatalf("ReadField = %+v", f)
	}
}

var resolveTests = []struct {
	name   string
	msgLen int
	hdr    int
	off, n uint64
	ok     bool
}{
	{"inside", 20, 8, 8, 12, true},
	{"empty anywhere", 20, 8, math.MaxUint32, 0, true},
	{"empty inside header", 20, 8, 0, 0, true},
	{"overlaps header", 20, 8, 7, 2, false},
	{"past end", 20, 8, 10, 11, false},
	{"offset past end", 20, 8, 21, 1, false},
	{"ends at end", 20, 8, 19, 1, true},
	{"huge offset", 20, 8, math.MaxUint32, 1, false},
	{"huge length", 20, 8, 8, math.MaxUint64, false},
	{"wrapping sum", 20, 8, math.MaxUint64, 2, false},
	{"negative header", 20, -1, 0, 1, false},
}

func TestResolve(t *testing.T) {
	for _, tt := range resolveTests {
		t.Run(tt.name, func(t *testing.T) {
			msg := make([]byte, tt.msgLen)
			for i := range msg {
				msg[i] = byte(i)
			}
			out := []byte{0xff}
			ok := Resolve(msg, tt.hdr, tt.off, tt.n, &out)
			if ok != tt.ok {
				t.Fatalf("Resolve = %v, want %v", ok, tt.ok)
			}
			switch {
			case !ok || tt.n == 0:
				if out != nil {
					t.Fatalf("out = %x, want nil", out)
				}
			case !bytes.Equal(out, msg[tt.off:tt.off+tt.n]) || uint64(cap(out)) != tt.n:
				t.Fatalf("out = %x (cap %d)", out, cap(out))
			}
		})
	}
}

func TestLimit(t *testing.T) {
	if _, err := Limit(make([]byte, 10), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := Limit(make([]byte, 11), 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Limit = %v, want ErrTooLarge", err)
	}
}

func TestBuilderValues(t *testing.T) {
	b := NewBuilder(make([]byte, 3, 64))
	b.AddUint8(1)
	b.AddUint16LE(0x0302)
	b.AddUint32LE(0x07060504)
	b.AddUint64LE(0x0f0e0d0c0b0a0908)
	b.AddBytes([]byte{0x10})
	b.AddZeros(2)
	b.AddLen16(0x1211)
	b.AddLen32(0x16151413)
	m16, m32 := b.Reserve16(), b.Reserve32()
	b.Set16(m16, 0x1817)
	b.Set32(m32, 0x1c1b1a19)
	got, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x10, 0, 0,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c}
	if !bytes.Equal(got, want) {
		t.Fatalf("Bytes:\n% x\nwant\n% x", got, want)
	}
}

func TestBuilderFields(t *testing.T) {
	var b Builder
	b.AddBytes([]byte("HDR"))
	f1, f2, f3 := b.AddField(), b.AddField(), b.AddField()
	b.AddPayload(f2, []byte("second"))
	b.AddPayload(f1, []byte("first"))
	b.SetField(f3, 0, 0)
	msg, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s := String(msg)
	var d [3]Field
	if !s.ReadSignature([]byte("HDR")) || !s.ReadField(&d[0]) || !s.ReadField(&d[1]) || !s.ReadField(&d[2]) {
		t.Fatal("descriptors")
	}
	if d[0] != (Field{5, 5, 33}) || d[1] != (Field{6, 6, 27}) || d[2] != (Field{}) {
		t.Fatalf("descriptors %+v", d)
	}
	var p1, p2, p3 []byte
	if !d[0].Resolve(msg, 27, &p1) || !d[1].Resolve(msg, 27, &p2) || !d[2].Resolve(msg, 27, &p3) {
		t.Fatal("Resolve")
	}
	if string(p1) != "first" || string(p2) != "second" || p3 != nil {
		t.Fatalf("payloads %q %q %q", p1, p2, p3)
	}
}

// TestBuilderOverflow: a length that does not fit its field is an error
// from Bytes, never a truncated value.
func TestBuilderOverflow(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *Builder)
	}{
		{"payload over 64 KiB", func(b *Builder) { b.AddPayload(b.AddField(), make([]byte, 1<<16)) }},
		{"field length", func(b *Builder) { b.SetField(b.AddField(), 1<<16, 0) }},
		{"negative field length", func(b *Builder) { b.SetField(b.AddField(), -1, 0) }},
		{"field offset", func(b *Builder) { b.SetField(b.AddField(), 1, math.MaxUint32+1) }},
		{"len16", func(b *Builder) { b.AddLen16(1 << 16) }},
		{"negative len16", func(b *Builder) { b.AddLen16(-1) }},
		{"len32", func(b *Builder) { b.AddLen32(math.MaxUint32 + 1) }},
		{"set16", func(b *Builder) { b.Set16(b.Reserve16(), 1<<16) }},
		{"set32", func(b *Builder) { b.Set32(b.Reserve32(), math.MaxUint32+1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Builder
			tt.build(&b)
			b.AddUint8(1) // later appends keep the first error
			out, err := b.Bytes()
			if !errors.Is(err, ErrOverflow) || out != nil {
				t.Fatalf("Bytes = %x, %v; want ErrOverflow", out, err)
			}
		})
	}
	var b Builder
	b.AddPayload(b.AddField(), make([]byte, math.MaxUint16))
	if _, err := b.Bytes(); err != nil {
		t.Fatalf("65535-byte payload: %v", err)
	}
}

// FuzzRoundTrip builds a message of a header and up to eight payload
// fields cut from data, appended in reverse order, and parses it back:
// every field must resolve to the bytes it was built from, and the
// builder must refuse exactly the payloads over 65535 bytes.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("abcdefgh"), []byte{1, 2, 3}, uint8(2))
	f.Add([]byte{}, []byte{0, 0, 0}, uint8(0))
	f.Add(make([]byte, 300), []byte{255, 255, 255, 255}, uint8(255))
	f.Fuzz(func(t *testing.T, data, cuts []byte, scale uint8) {
		if len(cuts) > 8 {
			cuts = cuts[:8]
		}
		// Each cut takes cut*scale bytes from data, repeating data when it
		// runs short, so that payloads can pass the 16-bit limit.
		payloads := make([][]byte, len(cuts))
		for i, c := range cuts {
			n := int(c) * int(scale)
			p := make([]byte, n)
			for j := range p {
				if len(data) > 0 {
					p[j] = data[(i+j)%len(data)]
				}
			}
			payloads[i] = p
		}
		sig := []byte("SIG\x00")
		var b Builder
		b.AddBytes(sig)
		b.AddLen16(len(payloads))
		marks := make([]FieldMark, len(payloads))
		for i := range payloads {
			marks[i] = b.AddField()
		}
		hdr := b.Len()
		tooLong := false
		for i := len(payloads) - 1; i >= 0; i-- {
			b.AddPayload(marks[i], payloads[i])
			tooLong = tooLong || len(payloads[i]) > math.MaxUint16
		}
		msg, err := b.Bytes()
		if tooLong {
			if !errors.Is(err, ErrOverflow) || msg != nil {
				t.Fatalf("payload over 65535 bytes: Bytes = %d bytes, %v", len(msg), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		s := String(msg)
		var n uint16
		if !s.ReadSignature(sig) || !s.ReadUint16LE(&n) || int(n) != len(payloads) {
			t.Fatal("header does not read back")
		}
		for i := range payloads {
			var fd Field
			var p []byte
			if !s.ReadField(&fd) || !fd.Resolve(msg, hdr, &p) {
				t.Fatalf("field %d does not resolve", i)
			}
			if !bytes.Equal(p, payloads[i]) || int(fd.MaxLen) != len(payloads[i]) {
				t.Fatalf("field %d = %x, built from %x", i, p, payloads[i])
			}
		}
	})
}

// FuzzResolve reads field descriptors from arbitrary bytes and resolves
// them against the whole input: it must never panic, and a field must
// resolve exactly when its bytes lie between hdr and the end (checked in
// arbitrary precision), to exactly those bytes.
func FuzzResolve(f *testing.F) {
	f.Add([]byte("\x04\x00\x04\x00\x10\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xffpayload!"), uint16(16))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, msg []byte, hdr uint16) {
		s := String(msg)
		for {
			var fd Field
			if !s.ReadField(&fd) {
				break
			}
			var p []byte
			ok := fd.Resolve(msg, int(hdr), &p)
			end := new(big.Int).Add(big.NewInt(int64(fd.Offset)), big.NewInt(int64(fd.Len)))
			want := fd.Len == 0 || (uint64(fd.Offset) >= uint64(hdr) && end.Cmp(big.NewInt(int64(len(msg)))) <= 0)
			if ok != want {
				t.Fatalf("Resolve(%+v, hdr %d, len %d) = %v, want %v", fd, hdr, len(msg), ok, want)
			}
			if ok && fd.Len > 0 && !bytes.Equal(p, msg[fd.Offset:end.Int64()]) {
				t.Fatalf("Resolve(%+v) = %x", fd, p)
			}
			if (!ok || fd.Len == 0) && p != nil {
				t.Fatal("a failed or empty field resolved to bytes")
			}
		}
	})
}

func TestAppendUTF16LE(t *testing.T) {
	for _, s := range []string{"", "abc", "pässwörd", "🔑 key", "bad \xff utf-8", "\U0010FFFF"} {
		var want []byte
		for _, u := range utf16.Encode([]rune(s)) {
			want = append(want, byte(u), byte(u>>8))
		}
		if got := AppendUTF16LE([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Errorf("AppendUTF16LE(%q) = % x, want % x", s, got[1:], want)
		}
	}
}
