package ntlm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"

	"github.com/gosspi/sspi/internal/testkit"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// curlNegotiate is the 32-byte NEGOTIATE curl 7.88 sends: OEM,
// REQUEST_TARGET, NTLM, ALWAYS_SIGN, ESS; no VERSION.
const curlNegotiate = "4e544c4d53535000010000000682080000000000000000000000000000000000"

var negotiateTests = []struct {
	name    string
	in      string
	wantErr bool
	flags   uint32
	domain  string
}{
	{name: "curl 32 bytes", in: curlNegotiate, flags: 0x00088206},
	{name: "minimal 16 bytes", in: "4e544c4d535350000100000007820000", flags: 0x8207},
	{name: "windows 40 bytes", in: "4e544c4d53535000010000009782088200000000280000000000000028000000a000004c4f00000f", flags: 0x82088297},
	{name: "oem domain", in: "4e544c4d5353500001000000071200000400040020000000000000002400000054455354", flags: 0x1207, domain: "TEST"},
	{name: "version flag without version", in: "4e544c4d53535000010000000782000200000000000000000000000000000000", wantErr: true},
	{name: "16 bytes with version flag", in: "4e544c4d535350000100000007820002", wantErr: true},
	{name: "17 bytes", in: "4e544c4d53535000010000000782000000", wantErr: true},
	{name: "wrong type", in: "4e544c4d535350000200000007820000", wantErr: true},
	{name: "wrong signature", in: "4e544c4d535350010100000007820000", wantErr: true},
	{name: "domain out of bounds", in: "4e544c4d5353500001000000071200000400040020000000000000002400000054", wantErr: true},
	{name: "domain inside header", in: "4e544c4d5353500001000000071200000400040008000000000000002000000054455354", wantErr: true},
}

func TestParseNegotiate(t *testing.T) {
	for _, tt := range negotiateTests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseNegotiate(mustHex(t, tt.in))
			if tt.wantErr {
				if err == nil || m != nil || !errors.Is(err, errMalformed) {
					t.Fatalf("got %+v, %v; want a malformed error", m, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.flags != tt.flags || m.domain != tt.domain {
				t.Errorf("got flags %#x domain %q", m.flags, m.domain)
			}
		})
	}
}

func TestOurNegotiateHasVersion(t *testing.T) {
	c := newClient(New(testConfig()), &identity{user: "u"}, "", 0)
	m := &negotiateMsg{flags: c.requestFlags(), version: ourVersion}
	b := mustMarshal(t, m)
	if len(b) != negotiateLen || m.flags&flagVersion == 0 {
		t.Fatalf("NEGOTIATE is %d bytes with flags %#x; want 40 with VERSION", len(b), m.flags)
	}
	if !bytes.Equal(b[32:40], ourVersion[:]) {
		t.Errorf("VERSION %x", b[32:40])
	}
}

var avTests = []struct {
	name    string
	in      string
	wantErr bool
	n       int
}{
	{name: "eol only", in: "00000000", n: 0},
	{name: "two pairs", in: "02000200410001000200420000000000", n: 2},
	{name: "padding after eol", in: "0000000000000000", n: 0},
	{name: "no eol", in: "0200020041", wantErr: true},
	{name: "overrun", in: "02000a004100", wantErr: true},
	{name: "eol with length", in: "00000200aaaa", wantErr: true},
	{name: "empty", in: "", wantErr: true},
}

func TestParseAVList(t *testing.T) {
	for _, tt := range avTests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := parseAVList(mustHex(t, tt.in))
			if (err != nil) != tt.wantErr || len(l) != tt.n {
				t.Fatalf("got %v, %v", l, err)
			}
		})
	}
}

func TestParseAuthenticateLayouts(t *testing.T) {
	base := &authenticateMsg{
		lmChallengeResponse: make([]byte, 24), ntChallengeResponse: make([]byte, 60),
		user: "u", domain: "d", workstation: "w", flags: flagUnicode,
	}
	for _, tc := range []struct {
		name         string
		version, mic bool
		wantLen      int
	}{{"64", false, false, 64}, {"72", true, false, 72}, {"88", true, true, 88}} {
		t.Run(tc.name, func(t *testing.T) {
			m := *base
			m.hasVersion, m.hasMIC = tc.version, tc.mic
			if tc.mic {
				m.mic[0] = 0xaa
			}
			b := mustMarshal(t, &m)
			got, err := parseAuthenticate(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.headerLen() != tc.wantLen || !got.equal(&m) {
				t.Errorf("header %d, equal %v", got.headerLen(), got.equal(&m))
			}
		})
	}
}

// seeds adds the message vectors of testdata/ntlm of one kind, and the
// messages of that kind in the recorded transcripts.
func seeds(f *testing.F, kind string) {
	vs, err := testkit.Vectors("ntlm")
	if err != nil {
		f.Fatal(err)
	}
	ts, err := testkit.Vectors(filepath.Join("ntlm", "transcripts"))
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range vs {
		if v.Get("kind") == kind {
			f.Add(v.Data)
		}
	}
	for _, v := range ts {
		if b, err := v.Hex(kind); err == nil && len(b) > 0 {
			f.Add(b)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, tt := range negotiateTests {
		f.Add(mustHex(f, tt.in))
	}
	c := newClient(New(testConfig()), &identity{user: "u"}, "", reqSeal)
	f.Add(mustMarshal(f, &negotiateMsg{flags: c.requestFlags(), version: ourVersion}))
	seeds(f, "negotiate")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseNegotiate(data)
		if err != nil {
			if m != nil {
				t.Fatal("non-nil message with an error")
			}
			return
		}
		b := mustMarshal(t, m)
		m2, err := parseNegotiate(b)
		if err != nil || *m2 != *m {
			t.Fatalf("round trip: %+v, %v; want %+v", m2, err, m)
		}
		for i := 0; i < len(b); i++ {
			if i == negotiateMinLen {
				continue // the 16-byte legacy form is a valid message of its own
			}
			if _, err := parseNegotiate(b[:i]); err == nil {
				t.Fatalf("prefix of %d bytes parses", i)
			}
		}
	})
}

func FuzzChallenge(f *testing.F) {
	seeds(f, "challenge")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseChallenge(data)
		if err != nil {
			if m != nil {
				t.Fatal("non-nil message with an error")
			}
			return
		}
		b := mustMarshal(t, m)
		m2, err := parseChallenge(b)
		if err != nil || !m2.equal(m) {
			t.Fatalf("round trip: %+v, %v; want %+v", m2, err, m)
		}
		for i := 0; i < len(b); i++ {
			if _, err := parseChallenge(b[:i]); err == nil {
				t.Fatalf("prefix of %d bytes parses", i)
			}
		}
	})
}

func FuzzAuthenticate(f *testing.F) {
	seeds(f, "authenticate")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseAuthenticate(data)
		if err != nil {
			if m != nil {
				t.Fatal("non-nil message with an error")
			}
			return
		}
		b := mustMarshal(t, m)
		if len(b) > maxTokenSize {
			// Fields that share bytes are laid out apart: the copy may
			// pass the cap the original met.
			return
		}
		m2, err := parseAuthenticate(b)
		if err != nil || !m2.equal(m) {
			t.Fatalf("round trip: %+v, %v; want %+v", m2, err, m)
		}
		for i := 0; i < len(b); i++ {
			if _, err := parseAuthenticate(b[:i]); err == nil {
				t.Fatalf("prefix of %d bytes parses", i)
			}
		}
	})
}

func FuzzAVList(f *testing.F) {
	for _, tt := range avTests {
		f.Add(mustHex(f, tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseAVList(data)
		if err != nil {
			if l != nil {
				t.Fatal("non-nil list with an error")
			}
			return
		}
		l2, err := parseAVList(mustMarshal(t, l))
		if err != nil || !l2.equal(l) {
			t.Fatalf("round trip: %v, %v", l2, err)
		}
	})
}

// mustMarshal marshals m, which must not fail.
func mustMarshal(t testing.TB, m interface{ marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
