package sspi

import (
	"errors"
	"strings"
	"testing"
)

// TestAuthIdentityEX2Overflow: a string too long for the structure's
// 16-bit lengths gives no structure at all, never one whose lengths were
// cut to 16 bits; the longest that fit convert back unchanged.
func TestAuthIdentityEX2Overflow(t *testing.T) {
	const maxUnits, maxPassword = 0xFFFF / 2, (0xFFFF - packedHeaderLen) / 2
	tests := []struct {
		name                         string
		user, domain, password, pkgs string
		ok                           bool
	}{
		{"longest user", strings.Repeat("u", maxUnits), "D", "pw", "", true},
		{"longest password", "u", "D", strings.Repeat("p", maxPassword), "", true},
		{"longest package list", "u", "D", "pw", strings.Repeat("k", maxUnits), true},
		{"user too long", strings.Repeat("u", maxUnits+1), "D", "pw", "", false},
		{"domain too long", "u", strings.Repeat("d", maxUnits+1), "pw", "", false},
		{"password too long", "u", "D", strings.Repeat("p", maxPassword+1), "", false},
		{"password of 40000", "u", "D", strings.Repeat("p", 40000), "", false},
		{"package list too long", "u", "D", "pw", strings.Repeat("k", maxUnits+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAuthIdentityEX2(tt.user, tt.domain, tt.password, tt.pkgs)
			if !tt.ok {
				if a != nil {
					t.Fatalf("built %d bytes; want nil", len(a))
				}
				_, err := a.convert()
				if !errors.Is(err, SEC_E_UNKNOWN_CREDENTIALS) {
					t.Fatalf("convert(nil) = %v; want SEC_E_UNKNOWN_CREDENTIALS", err)
				}
				return
			}
			got, err := a.convert()
			if err != nil {
				t.Fatal(err)
			}
			id := got.(*AuthIdentity)
			if id.User != tt.user || id.Domain != tt.domain || id.Password != tt.password || id.PackageList != tt.pkgs {
				t.Fatal("fields do not convert back")
			}
		})
	}
}
