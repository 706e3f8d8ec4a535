package adtest

import (
	"errors"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// TestNegotiateChoosesKerberos: Negotiate with alice's password picks
// Kerberos for HTTP/web.samba.test when her domain is given by its DNS
// name, and also by its NetBIOS name, which Windows maps to the DNS
// domain through the DC locator. The acceptor offers both Kerberos (the
// exported keytab) and NTLM (alice's password), so that a fallback to
// NTLM completes and shows up as the wrong package rather than as a
// failed handshake.
//
// The NetBIOS case needs the client to map SAMBA to samba.test through
// the DC locator's LDAP ping (packages/kerberos/domain.go); it fell back
// to NTLM before.
func TestNegotiateChoosesKerberos(t *testing.T) {
	dc := Require(t)
	spn := WebService.SPNs[0]
	kt, err := dc.ExportKeytab(spn)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, domain string }{
		{"DNS domain", Realm},
		{"NetBIOS domain", NetBIOSDomain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t, dc, registryOptions{})
			client := acquire(t, r, "Negotiate", "", sspi.CredentialsOutbound, identity(Alice, tc.domain))
			server := acquire(t, r, "Negotiate", "", sspi.CredentialsInbound, &negotiate.AuthData{
				Kerberos: &kerberos.Keytab{Path: kt},
				NTLM:     ntlm.Users{NetBIOSDomain + `\` + Alice.Name: Alice.Password},
			})
			c, s := contexts(t, client, server, spn, kerberosISC, kerberosASC)
			if err := handshake(testCtx(t), c, s); err != nil {
				t.Fatal(err)
			}
			if got := c.NegotiatedPackage(); got != "Kerberos" {
				t.Errorf("client NegotiatedPackage() = %q, want Kerberos (Domain %q)", got, tc.domain)
			}
			if got := s.NegotiatedPackage(); got != "Kerberos" {
				t.Fatalf("server NegotiatedPackage() = %q, want Kerberos (Domain %q)", got, tc.domain)
			}
			checkAlice(t, dc, s)
			wantFlags(t, "client", c.Flags(), kerberosISCRet)
			exchangeMessages(t, c, s)
		})
	}
}

// TestNegotiateFallbackVisible: for a target the KDC has no SPN for,
// Negotiate falls back to NTLM, as Windows does, and says why
// (Context.FallbackReason carries the KDC's SEC_E_TARGET_UNKNOWN); with
// the package list "!NTLM" the client refuses the fallback and fails with
// that status instead.
func TestNegotiateFallbackVisible(t *testing.T) {
	dc := Require(t)
	const target = "HTTP/nospn.samba.test"
	r := newRegistry(t, dc, registryOptions{})
	server := acquire(t, r, "Negotiate", "", sspi.CredentialsInbound, &negotiate.AuthData{
		NTLM: ntlm.Users{NetBIOSDomain + `\` + Alice.Name: Alice.Password},
	})

	client := acquire(t, r, "Negotiate", "", sspi.CredentialsOutbound, identity(Alice, NetBIOSDomain))
	c, s := contexts(t, client, server, target, 0, 0)
	if err := handshake(testCtx(t), c, s); err != nil {
		t.Fatal(err)
	}
	if got := c.NegotiatedPackage(); got != "NTLM" {
		t.Fatalf("NegotiatedPackage() = %q, want NTLM", got)
	}
	if reason := c.FallbackReason(); !errors.Is(reason, sspi.SEC_E_TARGET_UNKNOWN) {
		t.Fatalf("FallbackReason() = %v, want the KDC's SEC_E_TARGET_UNKNOWN", reason)
	}

	id := identity(Alice, NetBIOSDomain)
	id.PackageList = "!NTLM"
	refusing := acquire(t, r, "Negotiate", "", sspi.CredentialsOutbound, id)
	c2, err := sspi.NewClientContext(refusing, target, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Delete()
	if _, err := c2.Step(testCtx(t), nil); !errors.Is(err, sspi.SEC_E_TARGET_UNKNOWN) {
		t.Fatalf("with !NTLM: %v, want SEC_E_TARGET_UNKNOWN", err)
	}
}
