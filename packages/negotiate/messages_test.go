package negotiate

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/status"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseOIDList(t testing.TB, s string) []asn1.ObjectIdentifier {
	t.Helper()
	var out []asn1.ObjectIdentifier
	for _, f := range strings.Fields(s) {
		var oid asn1.ObjectIdentifier
		for _, c := range strings.Split(f, ".") {
			n, err := strconv.Atoi(c)
			if err != nil {
				t.Fatalf("bad OID %q", f)
			}
			oid = append(oid, n)
		}
		out = append(out, oid)
	}
	return out
}

func vectors(t testing.TB) []*testkit.Vector {
	t.Helper()
	vs, err := testkit.Vectors("negotiate")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors in testdata/negotiate")
	}
	return vs
}

// TestVectors parses every file of testdata/negotiate, checks the fields
// its header names, and checks that marshalling gives back the same bytes.
func TestVectors(t *testing.T) {
	for _, v := range vectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			if v.Get("source") == "" {
				t.Fatal("vector without source header")
			}
			init, resp, err := parseNegotiationToken(v.Data)
			if want := v.Get("expect"); want != "success" {
				if err == nil {
					t.Fatalf("parse succeeded, want %s", want)
				}
				if got := status.Code(err).String(); got != want {
					t.Fatalf("status %s, want %s", got, want)
				}
				if init != nil || resp != nil {
					t.Fatal("non-nil result with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var again []byte
			switch v.Get("kind") {
			case "init":
				if init == nil {
					t.Fatal("not a NegTokenInit")
				}
				if want := parseOIDList(t, v.Get("mechtypes")); !reflect.DeepEqual(init.mechTypes, want) {
					t.Errorf("mechTypes %v, want %v", init.mechTypes, want)
				}
				if d := v.Get("mechtypes-der"); d != "" && !bytes.Equal(init.rawMechTypes, mustHex(t, d)) {
					t.Errorf("raw mechTypes %x, want %s", init.rawMechTypes, d)
				}
				if p := v.Get("mechtoken-prefix"); p != "" && !bytes.HasPrefix(init.mechToken, mustHex(t, p)) {
					t.Errorf("mechToken %x, want prefix %s", init.mechToken, p)
				}
				if h := v.Get("hintname"); h != "" {
					if init.negHints == nil || init.negHints.hintName == nil || *init.negHints.hintName != h {
						t.Errorf("negHints %+v, want hint name %q", init.negHints, h)
					}
				}
				again, err = init.marshal()
			case "resp":
				if resp == nil {
					t.Fatal("not a NegTokenResp")
				}
				if got, want := resp.state.String(), v.Get("negstate"); want != "" && got != want {
					t.Errorf("negState %s, want %s", got, want)
				}
				if s := v.Get("supportedmech"); s != "" {
					if want := parseOIDList(t, s)[0]; !resp.supportedMech.Equal(want) {
						t.Errorf("supportedMech %v, want %v", resp.supportedMech, want)
					}
				}
				if p := v.Get("responsetoken-prefix"); p != "" && !bytes.HasPrefix(resp.responseToken, mustHex(t, p)) {
					t.Errorf("responseToken %x, want prefix %s", resp.responseToken, p)
				}
				if m := v.Get("mechlistmic"); m != "" && !bytes.Equal(resp.mechListMIC, mustHex(t, m)) {
					t.Errorf("mechListMIC %x, want %s", resp.mechListMIC, m)
				}
				again, err = resp.marshal()
			default:
				t.Fatalf("unknown kind %q", v.Get("kind"))
			}
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.Equal(again, v.Data) {
				t.Errorf("marshal gives\n%x\nwant\n%x", again, v.Data)
			}
		})
	}
}

// TestMarshalFixed checks encodings built by this package against bytes
// written out from packages.md 3.1 and 3.2.
func TestMarshalFixed(t *testing.T) {
	tests := []struct {
		name string
		m    interface{ marshal() ([]byte, error) }
		want string
	}{
		{
			name: "init-ntlm-token",
			m:    &negTokenInit{mechTypes: []asn1.ObjectIdentifier{oidNTLM}, mechToken: []byte{1, 2}},
			want: "6022 06062b0601050502 a018 3016 a00e 300c 060a2b06010401823702020a a204 0402 0102",
		},
		{
			name: "init-krb-mic",
			m:    &negTokenInit{mechTypes: []asn1.ObjectIdentifier{oidMSKRB5, oidKerberos}, mechListMIC: []byte{}},
			want: "602a 06062b0601050502 a020 301e a018 3016 06092a864882f712010202 06092a864886f712010202 a302 0400",
		},
		{
			name: "init-reqflags",
			m:    &negTokenInit{mechTypes: []asn1.ObjectIdentifier{oidNTLM}, reqFlags: &asn1.BitString{Bytes: []byte{0x60}, BitLength: 3}},
			want: "6022 06062b0601050502 a018 3016 a00e 300c 060a2b06010401823702020a a104 0302 0560",
		},
		{
			name: "resp-completed",
			m:    &negTokenResp{state: acceptCompleted},
			want: "a107 3005 a003 0a0100",
		},
		{
			name: "resp-incomplete-mech-token",
			m:    &negTokenResp{state: acceptIncomplete, supportedMech: oidKerberos, responseToken: []byte{0xaa}},
			want: "a119 3017 a003 0a0101 a10b 06092a864886f712010202 a203 0401aa",
		},
		{
			name: "resp-initiator-mic-only",
			m:    &negTokenResp{mechListMIC: []byte{9, 9}},
			want: "a108 3006 a304 04020909",
		},
		{
			name: "resp-empty",
			m:    &negTokenResp{},
			want: "a102 3000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.marshal()
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("got  %x\nwant %x", got, want)
			}
		})
	}
}

func TestMarshalInvalid(t *testing.T) {
	if _, err := (&negTokenResp{state: requestMIC + 1}).marshal(); err == nil {
		t.Error("negState out of range marshalled")
	}
	if _, err := (&negTokenInit{mechTypes: []asn1.ObjectIdentifier{{5}}}).marshal(); err == nil {
		t.Error("invalid OID marshalled")
	}
}

func TestMechTypesDER(t *testing.T) {
	got, err := marshalMechTypes([]asn1.ObjectIdentifier{oidMSKRB5, oidKerberos, oidNTLM})
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "3022 06092a864882f712010202 06092a864886f712010202 060a2b06010401823702020a")
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func TestOIDEncodings(t *testing.T) {
	// packages.md 3.1 and testvectors.md 7.
	tests := []struct {
		oid  asn1.ObjectIdentifier
		want string
	}{
		{oidSPNEGO, "06062b0601050502"},
		{oidKerberos, "06092a864886f712010202"},
		{oidMSKRB5, "06092a864882f712010202"},
		{oidKRB5U2U, "060a2a864886f71201020203"},
		{oidNTLM, "060a2b06010401823702020a"},
		{oidNegoEx, "060a2b06010401823702021e"},
		{oidIAKERB, "06062b0601050205"},
	}
	for _, tt := range tests {
		b, err := asn1.Marshal(tt.oid)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != tt.want {
			t.Errorf("%s (%s): %s, want %s", tt.oid, mechName(tt.oid), got, tt.want)
		}
	}
}

func TestClassifyToken(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want rawMech
	}{
		{"ntlm", "4e544c4d5353500001000000", rawNTLM},
		{"spnego-framed", "600a06062b0601050502a000", rawSPNEGO},
		{"spnego-bare-init", "a0023000", rawSPNEGO},
		{"spnego-bare-resp", "a1023000", rawSPNEGO},
		{"kerberos", "600d06092a864886f7120102020100", rawKerberos},
		{"ms-kerberos", "600d06092a864882f7120102020100", rawKerberos},
		{"other-oid", "600806062b0601050205", rawUnknown},
		{"garbage", "0102", rawUnknown},
		{"empty", "", rawUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyToken(mustHex(t, tt.in)); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestPrefixes checks that no proper prefix of a valid token parses.
func TestPrefixes(t *testing.T) {
	for _, v := range vectors(t) {
		if v.Get("expect") != "success" {
			continue
		}
		for i := 0; i < len(v.Data); i++ {
			if _, _, err := parseNegotiationToken(v.Data[:i]); err == nil {
				t.Errorf("%s: prefix of %d bytes parsed", v.Name, i)
			}
		}
	}
}

func TestParseErrorsCarryStatus(t *testing.T) {
	_, err := parseNegTokenResp(mustHex(t, "a1073005a0030a0104"))
	if !errors.Is(err, status.SEC_E_INVALID_TOKEN) || !errors.Is(err, errInvalidToken) {
		t.Fatalf("err %v: want SEC_E_INVALID_TOKEN wrapping errInvalidToken", err)
	}
	if _, err := parseNegTokenResp(mustHex(t, "600a06062b0601050502a0023000")); err == nil {
		t.Error("NegTokenInit accepted as NegTokenResp")
	}
	if _, err := parseNegTokenInit(mustHex(t, "a1023000")); err == nil {
		t.Error("NegTokenResp accepted as NegTokenInit")
	}
}

func TestParseExtensions(t *testing.T) {
	// RFC 4178 4.2.2 has an extension marker: a later unknown field [5]
	// is skipped, one out of order is not.
	resp, err := parseNegTokenResp(mustHex(t, "a10c 300a a0030a0100 a5030401ff"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.state != acceptCompleted {
		t.Fatalf("negState %s", resp.state)
	}
	if _, err := parseNegTokenResp(mustHex(t, "a10c 300a a5030401ff a0030a0100")); err == nil {
		t.Fatal("out-of-order fields parsed")
	}
}

func FuzzNegTokenInit(f *testing.F) { fuzzRoundTrip(f, parseNegTokenInit) }

func FuzzNegTokenResp(f *testing.F) { fuzzRoundTrip(f, parseNegTokenResp) }

// fuzzRoundTrip seeds f with the SPNEGO vectors and checks that parse
// either fails with SEC_E_INVALID_TOKEN and a nil result, or returns a
// token that marshals and parses back to the same value.
func fuzzRoundTrip[M interface {
	comparable
	marshal() ([]byte, error)
}](f *testing.F, parse func([]byte) (M, error)) {
	f.Helper()
	for _, v := range vectors(f) {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parse(b)
		if err != nil {
			var none M
			if m != none {
				t.Fatal("non-nil result with an error")
			}
			if status.Code(err) != status.SEC_E_INVALID_TOKEN {
				t.Fatalf("status %v", status.Code(err))
			}
			return
		}
		enc, err := m.marshal()
		if err != nil {
			t.Fatalf("marshal of a parsed token: %v", err)
		}
		m2, err := parse(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip:\n%+v\n%+v", m, m2)
		}
	})
}
