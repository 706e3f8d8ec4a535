package adtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
)

// acceptAliceMIT returns our Kerberos acceptor's context for a ticket
// MIT GSSAPI (python3-gssapi, with a TGT from MIT kinit) got from the DC.
func acceptAliceMIT(t *testing.T, dc *DC) *sspi.Context {
	t.Helper()
	peers.Tool(t, "kinit", "krb5-user")
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	cc, err := dc.Kinit(Alice)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	r := newRegistry(t, dc, registryOptions{})
	s, err := sspi.NewServerContext(serviceCred(t, dc, r, "Kerberos", WebService.SPNs[0]), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Delete)
	d, err := peers.StartGSS(peers.GSSOptions{
		Role: "initiate", Mech: "krb5", Target: "HTTP@" + WebHost, Flags: "mutual",
		Env: []string{"KRB5CCNAME=FILE:" + cc},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for {
		tok, established, _, err := d.Next(ctx)
		if err != nil {
			t.Fatalf("MIT initiator: %v", err)
		}
		if established {
			break
		}
		out, err := s.Step(ctx, tok)
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		if len(out) > 0 {
			d.SendToken(out)
		}
	}
	return s
}

// acceptAlicePassword returns our Kerberos acceptor's context for a
// ticket our own client got with alice's password.
func acceptAlicePassword(t *testing.T, dc *DC) *sspi.Context {
	t.Helper()
	r := newRegistry(t, dc, registryOptions{})
	client := acquire(t, r, "Kerberos", "", sspi.CredentialsOutbound, identity(Alice, ""))
	server := serviceCred(t, dc, r, "Kerberos", WebService.SPNs[0])
	c, s := contexts(t, client, server, WebService.SPNs[0], kerberosISC, kerberosASC)
	if err := handshake(testCtx(t), c, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPAC: the PAC our acceptor decodes from alice's ticket (got by MIT
// GSSAPI, and by our own client) names what the directory holds, as
// samba-tool reports it: her SID, name and domain, and exactly her
// domain groups (Domain Users and the harness's two groups).
func TestPAC(t *testing.T) {
	dc := Require(t)

	// What the directory says.
	userSID := showSID(t, dc, "user", Alice.Name)
	if !strings.HasPrefix(userSID, dc.DomainSID+"-") {
		t.Fatalf("alice's SID %s is not in the domain %s", userSID, dc.DomainSID)
	}
	out, err := dc.SambaTool("user", "getgroups", Alice.Name)
	if err != nil {
		t.Fatal(err)
	}
	var wantGroups []string
	for _, g := range strings.Split(strings.TrimSpace(out), "\n") {
		if g = strings.TrimSpace(g); g != "" {
			wantGroups = append(wantGroups, showSID(t, dc, "group", g))
		}
	}
	if !slices.Contains(wantGroups, dc.DomainSID+"-513") || len(wantGroups) != 1+len(Alice.Groups) {
		t.Fatalf("samba-tool user getgroups alice: %q, want Domain Users and %v", out, Alice.Groups)
	}
	for _, g := range Alice.Groups {
		members, err := dc.SambaTool("group", "listmembers", g)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Fields(members), Alice.Name) {
			t.Fatalf("samba-tool group listmembers %s: %q lacks alice", g, members)
		}
	}
	upnOut, err := dc.SambaTool("user", "show", Alice.Name, "--attributes=userPrincipalName")
	if err != nil {
		t.Fatal(err)
	}
	wantUPN := attribute(upnOut, "userPrincipalName")
	slices.Sort(wantGroups)

	for _, tc := range []struct {
		name   string
		accept func(*testing.T, *DC) *sspi.Context
	}{{"MIT", acceptAliceMIT}, {"password", acceptAlicePassword}} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.accept(t, dc)
			pac, ok := s.PAC()
			if !ok {
				t.Fatal("no PAC on the server context")
			}
			if pac.UserSID != userSID {
				t.Errorf("PAC user SID %s, samba-tool says %s", pac.UserSID, userSID)
			}
			if pac.ClientName != Alice.Name {
				t.Errorf("PAC_CLIENT_INFO name %q, want %q", pac.ClientName, Alice.Name)
			}
			li := pac.LogonInfo
			if li == nil {
				t.Fatal("the PAC has no KERB_VALIDATION_INFO")
			}
			if li.EffectiveName != Alice.Name {
				t.Errorf("EffectiveName %q, want %q", li.EffectiveName, Alice.Name)
			}
			if li.LogonDomainName != dc.NetBIOS {
				t.Errorf("LogonDomainName %q, want %q", li.LogonDomainName, dc.NetBIOS)
			}
			if got := li.LogonDomainSID; got != dc.DomainSID {
				t.Errorf("LogonDomainId %s, want %s", got, dc.DomainSID)
			}
			if li.PrimaryGroupID != 513 {
				t.Errorf("PrimaryGroupId %d, want 513", li.PrimaryGroupID)
			}
			// The domain's SIDs among the groups are exactly alice's
			// groups; the others are well-known SIDs the KDC adds
			// (S-1-18-1: authentication authority asserted identity).
			var domainGroups, others []string
			for _, g := range pac.GroupSIDs {
				if strings.HasPrefix(g, dc.DomainSID+"-") {
					domainGroups = append(domainGroups, g)
				} else {
					others = append(others, g)
				}
			}
			slices.Sort(domainGroups)
			if !slices.Equal(domainGroups, wantGroups) {
				t.Errorf("PAC domain groups %v, samba-tool says %v", domainGroups, wantGroups)
			}
			if !slices.Contains(others, "S-1-18-1") {
				t.Errorf("PAC extra SIDs %v lack S-1-18-1 (authentication authority asserted identity)", others)
			}
			checkUPN(t, pac, wantUPN, dc.Realm, userSID)
		})
	}
}

// checkUPN checks the PAC's UPN_DNS_INFO, which Samba always sends in its
// extended form (SAM name and SID), against the directory.
func checkUPN(t *testing.T, pac *sspi.PAC, wantUPN, realm, userSID string) {
	t.Helper()
	if wantUPN == "" {
		t.Fatal("samba-tool shows no userPrincipalName for alice")
	}
	u := pac.UPNDNSInfo
	if u == nil {
		t.Fatalf("PAC.UPNDNSInfo is nil, but the DC sends UPN_DNS_INFO (UPN %q)", wantUPN)
	}
	if !strings.EqualFold(u.UPN, wantUPN) || !strings.EqualFold(u.DNSDomainName, realm) {
		t.Errorf("UPN_DNS_INFO UPN %q, DNS domain %q; want %q, %q", u.UPN, u.DNSDomainName, wantUPN, realm)
	}
	if !u.Extended() || !strings.EqualFold(u.SAMName, Alice.Name) || u.SID != userSID {
		t.Errorf("UPN_DNS_INFO extended %v, SAM name %q, SID %q; want true, %q, %q", u.Extended(), u.SAMName, u.SID, Alice.Name, userSID)
	}
}
