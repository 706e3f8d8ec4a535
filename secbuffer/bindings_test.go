package secbuffer_test

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/secbuffer"
)

// flatten returns the gss_channel_bindings_struct byte string that NTLM
// and Kerberos hash (structures.md §5.2), written independently of
// ChannelBindings.Hash so the two can be checked against each other.
func flatten(cb *secbuffer.ChannelBindings) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, cb.InitiatorAddrType)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cb.InitiatorAddress)))
	b = append(b, cb.InitiatorAddress...)
	b = binary.LittleEndian.AppendUint32(b, cb.AcceptorAddrType)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cb.AcceptorAddress)))
	b = append(b, cb.AcceptorAddress...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cb.ApplicationData)))
	return append(b, cb.ApplicationData...)
}

func vectorHex(t *testing.T, v *testkit.Vector, key string) []byte {
	t.Helper()
	b, err := v.Hex(key)
	if err != nil {
		t.Fatalf("%s: header %q: %v", v.Name, key, err)
	}
	return b
}

func vectorUint32(t *testing.T, v *testkit.Vector, key string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(v.Get(key), 0, 32)
	if err != nil {
		t.Fatalf("%s: header %q: %v", v.Name, key, err)
	}
	return uint32(n)
}

// sameBindings compares two ChannelBindings, treating nil and empty slices
// as equal (the flat form cannot tell them apart).
func sameBindings(a, b *secbuffer.ChannelBindings) bool {
	return a.InitiatorAddrType == b.InitiatorAddrType &&
		a.AcceptorAddrType == b.AcceptorAddrType &&
		bytes.Equal(a.InitiatorAddress, b.InitiatorAddress) &&
		bytes.Equal(a.AcceptorAddress, b.AcceptorAddress) &&
		bytes.Equal(a.ApplicationData, b.ApplicationData)
}

func loadVectors(t testing.TB) []*testkit.Vector {
	t.Helper()
	vs, err := testkit.Vectors("channelbindings")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors in testdata/channelbindings")
	}
	for _, v := range vs {
		if v.Get("source") == "" {
			t.Errorf("%s: no source: header", v.Name)
		}
	}
	return vs
}

// TestChannelBindingsVectors checks Marshal, ParseChannelBindings and Hash
// against the struct-* and malformed-* files of testdata/channelbindings.
func TestChannelBindingsVectors(t *testing.T) {
	n := 0
	for _, v := range loadVectors(t) {
		switch {
		case strings.HasPrefix(v.Name, "struct-"):
			n++
			t.Run(v.Name, func(t *testing.T) { testStructVector(t, v) })
		case strings.HasPrefix(v.Name, "malformed-"):
			n++
			t.Run(v.Name, func(t *testing.T) {
				if v.Get("expect") != "malformed" {
					t.Fatalf("expect = %q, want malformed", v.Get("expect"))
				}
				cb, err := secbuffer.ParseChannelBindings(v.Data)
				if !errors.Is(err, secbuffer.ErrMalformedBindings) {
					t.Errorf("ParseChannelBindings error = %v, want ErrMalformedBindings", err)
				}
				if cb != nil {
					t.Errorf("ParseChannelBindings returned %+v with an error", cb)
				}
			})
		}
	}
	if n < 6 {
		t.Errorf("only %d struct/malformed vectors found", n)
	}
}

func testStructVector(t *testing.T, v *testkit.Vector) {
	if v.Get("expect") != "success" {
		t.Fatalf("expect = %q, want success", v.Get("expect"))
	}
	want := &secbuffer.ChannelBindings{
		InitiatorAddrType: vectorUint32(t, v, "initiator-addrtype"),
		InitiatorAddress:  vectorHex(t, v, "initiator-address"),
		AcceptorAddrType:  vectorUint32(t, v, "acceptor-addrtype"),
		AcceptorAddress:   vectorHex(t, v, "acceptor-address"),
		ApplicationData:   vectorHex(t, v, "application-data"),
	}
	if v.Data == nil {
		t.Fatal("payload is not hex")
	}

	got, err := secbuffer.ParseChannelBindings(v.Data)
	if err != nil {
		t.Fatalf("ParseChannelBindings: %v", err)
	}
	if !sameBindings(got, want) {
		t.Errorf("ParseChannelBindings = %+v, want %+v", got, want)
	}

	wantBlob := v.Data
	if v.Get("marshal") != "" {
		wantBlob = vectorHex(t, v, "marshal")
	}
	if m := want.Marshal(); !bytes.Equal(m, wantBlob) {
		t.Errorf("Marshal = %x, want %x", m, wantBlob)
	}

	flat := vectorHex(t, v, "flattened")
	if f := flatten(want); !bytes.Equal(f, flat) {
		t.Errorf("flattened = %x, want %x", f, flat)
	}
	wantMD5 := vectorHex(t, v, "md5")
	if s := md5.Sum(flat); !bytes.Equal(s[:], wantMD5) {
		t.Fatalf("vector inconsistent: MD5(flattened) = %x, md5 header %x", s, wantMD5)
	}
	if h := want.Hash(); !bytes.Equal(h[:], wantMD5) {
		t.Errorf("Hash = %x, want %x", h, wantMD5)
	}
	if h := got.Hash(); !bytes.Equal(h[:], wantMD5) {
		t.Errorf("Hash of parsed = %x, want %x", h, wantMD5)
	}
}

var parseTests = []struct {
	name string
	in   []byte
	ok   bool
}{
	{"nil", nil, false},
	{"31 bytes", make([]byte, 31), false},
	{"32 zero bytes", make([]byte, 32), true},
	{"trailing bytes ignored", append(make([]byte, 32), 1, 2, 3), true},
	{"length without data", func() []byte {
		b := make([]byte, 32)
		b[24] = 1
		b[28] = 32
		return b
	}(), false},
	{"offset inside header", func() []byte {
		b := make([]byte, 34)
		b[24] = 2 // two bytes of application data at offset 0: the header itself
		return b
	}(), true},
	{"huge length", func() []byte {
		b := make([]byte, 40)
		binary.LittleEndian.PutUint32(b[16:], 0xFFFFFFFF)
		binary.LittleEndian.PutUint32(b[20:], 32)
		return b
	}(), false},
}

func TestParseChannelBindings(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			cb, err := secbuffer.ParseChannelBindings(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ParseChannelBindings error = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && cb != nil {
				t.Errorf("non-nil result with an error: %+v", cb)
			}
		})
	}
}

// TestMarshalLayout checks the header the builders' bindings produce: all
// address fields zero and ApplicationDataOffset 32, as Schannel returns.
func TestMarshalLayout(t *testing.T) {
	app := []byte(secbuffer.PrefixTLSUnique + "0123456789ab")
	b := (&secbuffer.ChannelBindings{ApplicationData: app}).Marshal()
	want, err := hex.DecodeString("0000000000000000000000000000000000000000000000001700000020000000")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 32+len(app) {
		t.Fatalf("len = %d, want %d", len(b), 32+len(app))
	}
	if !bytes.Equal(b[:32], want) {
		t.Errorf("header = %x, want %x", b[:32], want)
	}
	if !bytes.Equal(b[32:], app) {
		t.Errorf("data = %q, want %q", b[32:], app)
	}
}

func FuzzParseChannelBindings(f *testing.F) {
	for _, v := range loadVectors(f) {
		if v.Data != nil {
			f.Add(v.Data)
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cb, err := secbuffer.ParseChannelBindings(b)
		if err != nil {
			if cb != nil {
				t.Fatalf("non-nil result %+v with error %v", cb, err)
			}
			if !errors.Is(err, secbuffer.ErrMalformedBindings) {
				t.Fatalf("error %v is not ErrMalformedBindings", err)
			}
			return
		}
		m := cb.Marshal()
		if len(m) > 64<<10 {
			// Fields that shared bytes are laid out apart: the copy may
			// pass the size cap the original met.
			return
		}
		cb2, err := secbuffer.ParseChannelBindings(m)
		if err != nil {
			t.Fatalf("parse(marshal(x)) failed: %v (marshal %x)", err, m)
		}
		if !sameBindings(cb, cb2) {
			t.Fatalf("parse(marshal(x)) = %+v, want %+v", cb2, cb)
		}
		if cb.Hash() != cb2.Hash() {
			t.Fatal("Hash changed across marshal/parse")
		}
		if m2 := cb2.Marshal(); !bytes.Equal(m, m2) {
			t.Fatalf("marshal is not canonical: %x then %x", m, m2)
		}
		// No proper prefix of a marshalled blob parses (every field it
		// names extends to the end or the header is cut).
		for i := 0; i < len(m); i++ {
			if _, err := secbuffer.ParseChannelBindings(m[:i]); err == nil {
				t.Fatalf("prefix of length %d of %x parsed", i, m)
			}
		}
	})
}

func TestBindingsBuffer(t *testing.T) {
	cb := &secbuffer.ChannelBindings{ApplicationData: []byte(secbuffer.PrefixTLSServerEndPoint + "abc")}
	b := cb.Buffer()
	if b.Type != 14 { // SECBUFFER_CHANNEL_BINDINGS, constants.md §4
		t.Errorf("Type = %d, want SECBUFFER_CHANNEL_BINDINGS (14)", b.Type)
	}
	if !bytes.Equal(b.Data, cb.Marshal()) {
		t.Errorf("Data = %x, want %x", b.Data, cb.Marshal())
	}
	bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}, b}
	got := secbuffer.Find(bufs, secbuffer.SECBUFFER_CHANNEL_BINDINGS)
	if got == nil {
		t.Fatal("Find does not see the bindings buffer")
	}
	p, err := secbuffer.ParseChannelBindings(got.Data)
	if err != nil || !sameBindings(p, cb) {
		t.Errorf("ParseChannelBindings = %+v, %v", p, err)
	}
}

// TestParseChannelBindingsSizeCap: a blob over 64 KiB is refused before
// it is read, even when its fields are well formed; up to the cap it
// parses.
func TestParseChannelBindingsSizeCap(t *testing.T) {
	cb := &secbuffer.ChannelBindings{ApplicationData: []byte(secbuffer.PrefixTLSServerEndPoint + "abc")}
	m := cb.Marshal()
	atCap := append(bytes.Clone(m), make([]byte, 64<<10-len(m))...)
	if got, err := secbuffer.ParseChannelBindings(atCap); err != nil || !sameBindings(got, cb) {
		t.Fatalf("64 KiB: %+v, %v", got, err)
	}
	got, err := secbuffer.ParseChannelBindings(append(atCap, 0))
	if !errors.Is(err, secbuffer.ErrMalformedBindings) || got != nil {
		t.Fatalf("64 KiB + 1: %+v, %v; want ErrMalformedBindings", got, err)
	}
}
