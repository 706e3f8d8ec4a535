package sspi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// ex2Literal is a SEC_WINNT_AUTH_IDENTITY_EX2 written out field by field
// from the layout of spec structures.md §6.3: user "al" at 48, domain "EX"
// at 52, packed password credentials "pw" at 56 (a 28-byte header, the
// password at offset 28 of it), no package list, Flags UNICODE.
func ex2Literal() []byte {
	le := binary.LittleEndian
	b := make([]byte, 48)
	le.PutUint32(b[0:], 0x201) // Version
	le.PutUint16(b[4:], 48)    // cbHeaderLength
	le.PutUint32(b[8:], 48+4+4+28+4)
	le.PutUint32(b[12:], 48) // UserOffset
	le.PutUint16(b[16:], 4)  // UserLength (bytes)
	le.PutUint32(b[20:], 52) // DomainOffset
	le.PutUint16(b[24:], 4)
	le.PutUint32(b[28:], 56) // PackedCredentialsOffset
	le.PutUint16(b[32:], 32)
	le.PutUint32(b[36:], SEC_WINNT_AUTH_IDENTITY_UNICODE)
	b = append(b, 'a', 0, 'l', 0, 'E', 0, 'X', 0)
	packed := make([]byte, 28)
	le.PutUint16(packed[0:], 28) // cbHeaderLength
	le.PutUint16(packed[2:], 32) // cbStructureLength
	copy(packed[4:], []byte{0x2f, 0xc3, 0xbf, 0x28, 0xf6, 0x10, 0x38, 0x47, 0x98, 0xd1, 0x1a, 0xc0, 0x61, 0xdf, 0x71, 0x6a})
	le.PutUint32(packed[20:], 28) // CredData.ByteArrayOffset
	le.PutUint16(packed[24:], 4)  // CredData.ByteArrayLength
	b = append(b, packed...)
	return append(b, 'p', 0, 'w', 0)
}

func TestAuthIdentityEX2(t *testing.T) {
	if got := []byte(NewAuthIdentityEX2("al", "EX", "pw", "")); !bytes.Equal(got, ex2Literal()) {
		t.Fatalf("NewAuthIdentityEX2:\n% x\nwant\n% x", got, ex2Literal())
	}
	tests := []struct {
		name string
		in   any
		want AuthIdentity
	}{
		{"literal", SEC_WINNT_AUTH_IDENTITY_EX2(ex2Literal()), AuthIdentity{User: "al", Domain: "EX", Password: "pw"}},
		{"pointer", func() *SEC_WINNT_AUTH_IDENTITY_EX2 {
			a := NewAuthIdentityEX2("bob", "", "pässwörd 🔑", "kerberos,!ntlm")
			return &a
		}(),
			AuthIdentity{User: "bob", Password: "pässwörd 🔑", PackageList: "kerberos,!ntlm"}},
		{"no credentials", func() SEC_WINNT_AUTH_IDENTITY_EX2 {
			a := NewAuthIdentityEX2("carol", "EXAMPLE", "", "")
			binary.LittleEndian.PutUint16(a[32:], 0) // no packed credentials at all
			return a
		}(), AuthIdentity{User: "carol", Domain: "EXAMPLE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := convertAuthData(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := v.(*AuthIdentity); !ok || *got != tt.want {
				t.Fatalf("convertAuthData = %#v, want %#v", v, tt.want)
			}
		})
	}
	if v, err := convertAuthData((*SEC_WINNT_AUTH_IDENTITY_EX2)(nil)); v != nil || err != nil {
		t.Fatalf("nil pointer: %v, %v", v, err)
	}
}

func TestAuthIdentityEX2Rejected(t *testing.T) {
	le := binary.LittleEndian
	mutate := func(f func(b []byte) []byte) SEC_WINNT_AUTH_IDENTITY_EX2 {
		return f(ex2Literal())
	}
	tests := []struct {
		name string
		in   SEC_WINNT_AUTH_IDENTITY_EX2
	}{
		{"empty", nil},
		{"EX version", mutate(func(b []byte) []byte { le.PutUint32(b, 0x200); return b })},
		{"short header", mutate(func(b []byte) []byte { le.PutUint16(b[4:], 40); return b })},
		{"structure longer than the bytes", mutate(func(b []byte) []byte { le.PutUint32(b[8:], uint32(len(b)+1)); return b })},
		{"truncated", mutate(func(b []byte) []byte { return b[:len(b)-1] })},
		{"user past the end", mutate(func(b []byte) []byte { le.PutUint32(b[12:], uint32(len(b)-2)); return b })},
		{"user inside the header", mutate(func(b []byte) []byte { le.PutUint32(b[12:], 8); return b })},
		{"offset overflow", mutate(func(b []byte) []byte { le.PutUint32(b[20:], 0xFFFFFFFF); return b })},
		{"odd user length", mutate(func(b []byte) []byte { le.PutUint16(b[16:], 3); return b })},
		{"ANSI flag", mutate(func(b []byte) []byte { le.PutUint32(b[36:], SEC_WINNT_AUTH_IDENTITY_ANSI); return b })},
		{"packed too short", mutate(func(b []byte) []byte { le.PutUint16(b[32:], 20); return b })},
		{"packed header short", mutate(func(b []byte) []byte { le.PutUint16(b[56:], 20); return b })},
		{"password outside the packed structure", mutate(func(b []byte) []byte { le.PutUint16(b[56+24:], 6); return b })},
		{"certificate credentials", mutate(func(b []byte) []byte {
			copy(b[56+4:], []byte{0xad, 0x69, 0x5f, 0x23, 0xfb, 0x73, 0xbc, 0x4d, 0x82, 0x03, 0x06, 0x29, 0xe7, 0x39, 0x33, 0x9b})
			return b
		})},
	}
	r := ntlmRegistry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := convertAuthData(tt.in)
			if v != nil || !errors.Is(err, status.SEC_E_UNKNOWN_CREDENTIALS) {
				t.Fatalf("convertAuthData = %v, %v; want SEC_E_UNKNOWN_CREDENTIALS", v, err)
			}
			var h CredHandle
			wantStatus(t, "AcquireCredentialsHandleW", r.AcquireCredentialsHandleW(nil, mustUTF16(t, "NTLM"), SECPKG_CRED_OUTBOUND, nil, tt.in, 0, 0, &h, nil), SEC_E_UNKNOWN_CREDENTIALS)
		})
	}
}

// TestAuthIdentityEX2Handshake authenticates with NTLM credentials given
// as a SEC_WINNT_AUTH_IDENTITY_EX2, through the flat API's acquisition and
// the Go API's handshake.
func TestAuthIdentityEX2Handshake(t *testing.T) {
	r := ntlmRegistry()
	ctx := context.Background()
	for _, tt := range []struct {
		password string
		want     status.Status
	}{{"Passw0rd!", SEC_E_OK}, {"wrong", SEC_E_LOGON_DENIED}} {
		var h CredHandle
		wantStatus(t, "AcquireCredentialsHandleW", r.AcquireCredentialsHandleW(nil, mustUTF16(t, "NTLM"), SECPKG_CRED_OUTBOUND, nil,
			NewAuthIdentityEX2("alice", "EXAMPLE", tt.password, ""), 0, 0, &h, nil), SEC_E_OK)
		ccred, err := r.Credentials(&h)
		if err != nil {
			t.Fatal(err)
		}
		if got := ccred.UserName(); got != `EXAMPLE\alice` {
			t.Errorf("UserName %q", got)
		}
		scred, err := r.AcquireCredentials(ctx, "NTLM", CredentialsInbound, ntlmUsers)
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClientContext(ccred, "HOST/server", 0)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewServerContext(scred, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := goHandshake(ctx, c, s, nil, nil); status.Code(err) != tt.want {
			t.Errorf("password %q: handshake %v, want %v", tt.password, err, tt.want)
		}
		c.Delete()
		s.Delete()
		scred.Free()
		r.FreeCredentialsHandle(&h)
	}
}

// principalPackage is the fake package recording the principal of each
// acquisition.
type principalPackage struct {
	*fakePackage
	principals []string
}

func (p *principalPackage) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	p.principals = append(p.principals, principal)
	return p.fakePackage.AcquireCredentials(ctx, principal, use, authData)
}

// TestAcquireCredentialsFor checks that the Go API passes the principal to
// the package as the flat API does, and that AcquireCredentials passes
// none.
func TestAcquireCredentialsFor(t *testing.T) {
	p := &principalPackage{fakePackage: &fakePackage{name: "Fake"}}
	r := NewRegistry()
	r.Register(p)
	ctx := context.Background()
	id := &AuthIdentity{User: "alice", Password: "x"}
	c1, err := r.AcquireCredentialsFor(ctx, "fake", "HTTP/web.example.com", CredentialsInbound, id)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Free()
	c2, err := r.AcquireCredentials(ctx, "Fake", CredentialsInbound, id)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Free()
	var h CredHandle
	wantStatus(t, "AcquireCredentialsHandleW", r.AcquireCredentialsHandleW(mustUTF16(t, "HOST/server"), mustUTF16(t, "Fake"), SECPKG_CRED_INBOUND, nil, id, 0, 0, &h, nil), SEC_E_OK)
	defer r.FreeCredentialsHandle(&h)
	if want := []string{"HTTP/web.example.com", "", "HOST/server"}; fmt.Sprint(p.principals) != fmt.Sprint(want) {
		t.Fatalf("principals %q, want %q", p.principals, want)
	}
	if _, err := r.AcquireCredentialsFor(ctx, "nosuch", "x", CredentialsInbound, id); !errors.Is(err, status.SEC_E_SECPKG_NOT_FOUND) {
		t.Fatalf("unknown package: %v", err)
	}
}

// BenchmarkConvertAuthData measures the conversion of a
// SEC_WINNT_AUTH_IDENTITY_EX2 beside the baseline of a
// SEC_WINNT_AUTH_IDENTITY_W holding the same strings.
func BenchmarkConvertAuthData(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   any
	}{
		{"W", NewAuthIdentityW("alice", "EXAMPLE", "Passw0rd!")},
		{"EX2", NewAuthIdentityEX2("alice", "EXAMPLE", "Passw0rd!", "")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := convertAuthData(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
