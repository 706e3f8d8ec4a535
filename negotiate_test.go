package sspi

import (
	"context"
	"testing"

	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// TestNegotiateNTLM runs Negotiate restricted to NTLM (no KDC needed)
// through the Go API and the flat API: the root must report the selected
// package in SECPKG_ATTR_NEGOTIATION_INFO and frame Wrap/Unwrap the NTLM
// way.
func TestNegotiateNTLM(t *testing.T) {
	r := NewRegistry()
	nt := ntlm.New(&ntlm.Config{ComputerName: "SERVER", DomainName: "EXAMPLE", Workstation: "CLIENT"})
	r.Register(negotiate.New(&negotiate.Config{NTLM: nt, PackageList: "NTLM"}))

	ctx := context.Background()
	ccred, err := r.AcquireCredentials(ctx, "Negotiate", CredentialsOutbound, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	defer ccred.Free()
	scred, err := r.AcquireCredentials(ctx, "Negotiate", CredentialsInbound, &negotiate.AuthData{NTLM: ntlmUsers})
	if err != nil {
		t.Fatal(err)
	}
	defer scred.Free()
	c, err := NewClientContext(ccred, "HOST/server", ISC_REQ_CONFIDENTIALITY|ISC_REQ_INTEGRITY|ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServerContext(scred, ASC_REQ_CONFIDENTIALITY|ASC_REQ_INTEGRITY|ASC_REQ_MUTUAL_AUTH)
	if err != nil {
		t.Fatal(err)
	}
	if err := goHandshake(ctx, c, s, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Context{c, s} {
		if x.PackageName() != "Negotiate" || x.NegotiatedPackage() != "NTLM" {
			t.Errorf("package %q, negotiated %q", x.PackageName(), x.NegotiatedPackage())
		}
	}
	sealed, err := c.Wrap([]byte("over negotiate"))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := s.Unwrap(sealed); err != nil || string(plain) != "over negotiate" {
		t.Fatalf("Unwrap = %q, %v", plain, err)
	}

	var h CtxtHandle
	h.Lower, h.Upper = r.ctxts.add(s)
	var ni SecPkgContext_NegotiationInfoW
	wantStatus(t, "NEGOTIATION_INFO", r.QueryContextAttributesW(&h, SECPKG_ATTR_NEGOTIATION_INFO, &ni), SEC_E_OK)
	if ni.PackageInfo == nil || UTF16PtrToString(ni.PackageInfo.Name) != "NTLM" || ni.NegotiationState != SECPKG_NEGOTIATION_COMPLETE {
		t.Errorf("NEGOTIATION_INFO = %+v", ni)
	}
	var names SecPkgContext_NamesW
	wantStatus(t, "NAMES", r.QueryContextAttributesW(&h, SECPKG_ATTR_NAMES, &names), SEC_E_OK)
	if got := UTF16PtrToString(names.UserName); !equalFoldString(got, `EXAMPLE\alice`) {
		t.Errorf("NAMES = %q", got)
	}
	wantStatus(t, "DeleteSecurityContext", r.DeleteSecurityContext(&h), SEC_E_OK)
}
