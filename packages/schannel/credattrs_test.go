package schannel

import (
	"crypto/tls"
	"errors"
	"reflect"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// TestCredentialsAttributes checks the QueryCredentialsAttributes answers
// against the credential's protocol and cipher restrictions.
func TestCredentialsAttributes(t *testing.T) {
	p := New(testConfig())
	pk := getPKI()
	const (
		rsa, ecdsa, ecdhe = packages.CALG_RSA_SIGN, packages.CALG_ECDSA, packages.CALG_ECDH_EPHEM
		aes128, aes256    = packages.CALG_AES_128, packages.CALG_AES_256
		sha1, sha256      = packages.CALG_SHA1, packages.CALG_SHA_256
		sha384            = packages.CALG_SHA_384
	)
	for _, tt := range []struct {
		name     string
		use      uint32
		authData any
		protos   uint32
		algs     []uint32
		min, max uint32
	}{
		{"client defaults", packages.SECPKG_CRED_OUTBOUND, nil,
			packages.SP_PROT_TLS1_2_CLIENT | packages.SP_PROT_TLS1_3_CLIENT,
			[]uint32{aes128, sha256, ecdhe, rsa, ecdsa, aes256, sha384, sha1}, 128, 256},
		{"server TLS 1.3 only", packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{pk.server}, EnabledProtocols: packages.SP_PROT_TLS1_3_SERVER},
			packages.SP_PROT_TLS1_3_SERVER, []uint32{aes128, sha256, ecdhe, rsa, ecdsa, aes256, sha384}, 128, 256},
		{"client TLS 1.2 AES-128", packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{EnabledProtocols: packages.SP_PROT_TLS1_2_CLIENT, SupportedAlgs: []uint32{aes128}},
			packages.SP_PROT_TLS1_2_CLIENT, []uint32{aes128, sha256, ecdhe, ecdsa, rsa, sha1}, 128, 128},
		{"both, TLS 1.3 and 256-bit TLS 1.2 suites", packages.SECPKG_CRED_BOTH, &SCHANNEL_CRED{Creds: []tls.Certificate{pk.server}, MinimumCipherStrength: 256},
			packages.SP_PROT_TLS1_2 | packages.SP_PROT_TLS1_3, nil, 128, 256},
		{"both, 256-bit TLS 1.2 suites", packages.SECPKG_CRED_BOTH, &SCHANNEL_CRED{Creds: []tls.Certificate{pk.server}, EnabledProtocols: packages.SP_PROT_TLS1_2, MinimumCipherStrength: 256},
			packages.SP_PROT_TLS1_2, []uint32{aes256, sha384, ecdhe, ecdsa, rsa, sha256, sha1}, 256, 256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cred := acquire(t, p, tt.use, tt.authData)
			q, ok := cred.(packages.CredentialsAttributeQuerier)
			if !ok {
				t.Fatal("credentials do not implement packages.CredentialsAttributeQuerier")
			}
			v, err := q.QueryAttribute(packages.SECPKG_ATTR_SUPPORTED_PROTOCOLS)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.(*SecPkgCred_SupportedProtocols).Protocols; got != tt.protos {
				t.Errorf("SUPPORTED_PROTOCOLS %#x, want %#x", got, tt.protos)
			}
			v, err = q.QueryAttribute(packages.SECPKG_ATTR_SUPPORTED_ALGS)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.(*SecPkgCred_SupportedAlgs).SupportedAlgs; tt.algs != nil && !reflect.DeepEqual(got, tt.algs) {
				t.Errorf("SUPPORTED_ALGS %#x, want %#x", got, tt.algs)
			}
			v, err = q.QueryAttribute(packages.SECPKG_ATTR_CIPHER_STRENGTHS)
			if err != nil {
				t.Fatal(err)
			}
			if got := *v.(*SecPkgCred_CipherStrengths); got != (SecPkgCred_CipherStrengths{tt.min, tt.max}) {
				t.Errorf("CIPHER_STRENGTHS %+v, want {%d %d}", got, tt.min, tt.max)
			}
			if _, err := q.QueryAttribute(packages.SECPKG_ATTR_SIZES); !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
				t.Errorf("SECPKG_ATTR_SIZES on credentials: %v", err)
			}
			cred.Free()
			if _, err := q.QueryAttribute(packages.SECPKG_ATTR_SUPPORTED_PROTOCOLS); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
				t.Errorf("after Free: %v", err)
			}
		})
	}
}
