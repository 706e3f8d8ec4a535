package adtest

import (
	"crypto/tls"
	"slices"
	"testing"

	"github.com/gosspi/sspi"
)

// ldapSPN is the SPN of the DC's LDAP server.
const ldapSPN = "ldap/" + DCHost

// tokenGroups reads the root DSE's tokenGroups: the SIDs of the groups
// of the user the connection is bound as.
func tokenGroups(t *testing.T, l *ldapConn) []string {
	t.Helper()
	vals, err := l.searchBase("", "tokenGroups")
	if err != nil {
		t.Fatalf("search of the root DSE: %v", err)
	}
	var sids []string
	for _, v := range vals["tokengroups"] {
		s, err := sidString(v)
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, s)
	}
	return sids
}

// TestLDAPBind: our NTLM, Negotiate-over-NTLM and Negotiate-over-Kerberos
// clients bind to the DC's LDAP server as alice with SASL GSS-SPNEGO
// (NTLM as raw NTLMSSP tokens, as Windows' LDAP client sends it), the
// DC's own NTLMSSP and Kerberos acceptors checking them. Over plain LDAP
// the DC requires signing and sealing, so the clients ask for
// confidentiality and the rest of the connection runs through the SASL
// security layer (Wrap/Unwrap); over LDAPS the DC refuses sign and seal
// (resultCode 53, as Windows does) and the clients ask for neither:
// NTLM with no flags, Negotiate with ISC_REQ_NO_INTEGRITY (without it
// Negotiate asks its mechanism for integrity, as on Windows). A sealed
// (or TLS) search of the root DSE's tokenGroups then shows the DC's view
// of alice's groups.
//
// The NTLM cases without integrity need our NTLM client to send an
// EncryptedRandomSessionKey whenever it sets KEY_EXCH; without it the DC
// refuses the bind with resultCode 49 "data 57".
func TestLDAPBind(t *testing.T) {
	dc := Require(t)
	engineers := showSID(t, dc, "group", GroupEngineers)
	sealed := uint32(sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_CONFIDENTIALITY)
	ntlmOnly := identity(Alice, NetBIOSDomain)
	ntlmOnly.PackageList = "NTLM"
	for _, tc := range []struct {
		name    string
		pkg     string
		id      *sspi.AuthIdentity
		req     uint32
		ldaps   bool
		wantPkg string
	}{
		{"NTLM sealed over LDAP", "NTLM", identity(Alice, NetBIOSDomain), sealed, false, "NTLM"},
		{"Negotiate NTLM sealed over LDAP", "Negotiate", ntlmOnly, sealed, false, "NTLM"},
		{"Negotiate Kerberos sealed over LDAP", "Negotiate", identity(Alice, Realm), sealed, false, "Kerberos"},
		{"NTLM over LDAPS without integrity", "NTLM", identity(Alice, NetBIOSDomain), 0, true, "NTLM"},
		{"Negotiate NTLM over LDAPS without integrity", "Negotiate", ntlmOnly, sspi.ISC_REQ_NO_INTEGRITY, true, "NTLM"},
		{"Negotiate Kerberos over LDAPS without integrity", "Negotiate", identity(Alice, Realm), sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_NO_INTEGRITY, true, "Kerberos"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t, dc, registryOptions{})
			cred := acquire(t, r, tc.pkg, "", sspi.CredentialsOutbound, tc.id)
			c, err := sspi.NewClientContext(cred, ldapSPN, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Delete()
			var conf *tls.Config
			addr := dc.LDAPAddr()
			if tc.ldaps {
				conf, addr = ldapsConfig(t, dc), dc.LDAPSAddr()
			}
			l := dialLDAP(t, addr, conf)
			res, err := l.saslBind(testCtx(t), c, "GSS-SPNEGO", !tc.ldaps)
			if err != nil {
				t.Fatalf("%v\n--- samba's log:\n%s", err, dc.LogTail(6))
			}
			if res.code != ldapSuccess {
				t.Fatalf("bind: %v", res)
			}
			if got := c.NegotiatedPackage(); got != tc.wantPkg {
				t.Errorf("NegotiatedPackage() = %q, want %q", got, tc.wantPkg)
			}
			if groups := tokenGroups(t, l); !slices.Contains(groups, engineers) {
				t.Errorf("tokenGroups %v lack %s (%s): not bound as alice?", groups, engineers, GroupEngineers)
			}
		})
	}
}

// TestLDAPBindRequiresSealing: over plain LDAP the DC refuses a SASL bind
// whose client asked for neither signing nor sealing, with
// strongAuthRequired (8), for NTLM as for Kerberos (through Negotiate
// with ISC_REQ_NO_INTEGRITY).
func TestLDAPBindRequiresSealing(t *testing.T) {
	dc := Require(t)
	for _, tc := range []struct {
		name, pkg string
		id        *sspi.AuthIdentity
		req       uint32
	}{
		{"NTLM", "NTLM", identity(Alice, NetBIOSDomain), 0},
		{"Negotiate Kerberos", "Negotiate", identity(Alice, Realm), sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_NO_INTEGRITY},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t, dc, registryOptions{})
			cred := acquire(t, r, tc.pkg, "", sspi.CredentialsOutbound, tc.id)
			c, err := sspi.NewClientContext(cred, ldapSPN, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Delete()
			l := dialLDAP(t, dc.LDAPAddr(), nil)
			res, err := l.saslBind(testCtx(t), c, "GSS-SPNEGO", false)
			if res == nil {
				t.Fatalf("no BindResponse: %v", err)
			}
			if res.code != ldapStrongAuthRequired {
				t.Errorf("bind without sign or seal: %v, want resultCode %d (strongAuthRequired)", res, ldapStrongAuthRequired)
			}
		})
	}
}
