package adtest

import (
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
// The NetBIOS case fails until the client maps SAMBA to samba.test (a
// CLDAP NetLogon ping to the DC): today it falls back to NTLM.
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
