package adtest

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// dcResolver queries the DC's own DNS server, with the DNS search list of
// a host joined to the domain.
type dcResolver struct{ *net.Resolver }

func (dcResolver) SearchDomains() []string { return []string{DNSDomain} }

func newDCResolver(dc *DC) dcResolver {
	addr := net.JoinHostPort(dc.Addr, "53")
	return dcResolver{&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
}

// TestDiscoveryThroughDCDNS: with no krb5.conf at all, the KDC of the
// domain comes from the SRV records of the DC's own DNS server (the
// RFC 4120 and the Active Directory _msdcs forms), the NetBIOS domain
// SAMBA maps to samba.test through the DC locator (the SRV record
// _ldap._tcp.dc._msdcs.samba.test, then the CLDAP LDAP ping), and
// Negotiate runs over Kerberos for SAMBA\alice to a service of the domain.
func TestDiscoveryThroughDCDNS(t *testing.T) {
	dc := Require(t)
	res := newDCResolver(dc)
	ctx := testCtx(t)
	// The DNS service may come up after the KDC and LDAP ports.
	var recs []*net.SRV
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, recs, err = res.LookupSRV(ctx, "kerberos", "tcp", "dc._msdcs."+DNSDomain)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || len(recs) == 0 {
		t.Fatalf("_kerberos._tcp.dc._msdcs.%s: %v, %v\n--- samba's log:\n%s", DNSDomain, recs, err, dc.LogTail(20))
	}
	if got := strings.ToLower(strings.TrimSuffix(recs[0].Target, ".")); got != DCHost || recs[0].Port != 88 {
		t.Errorf("_msdcs KDC record: %s:%d, want %s:88", got, recs[0].Port, DCHost)
	}
	t.Setenv("KRB5_CONFIG", filepath.Join(t.TempDir(), "none"))
	krb := kerberos.New(&kerberos.Config{Resolver: res})

	loc, err := krb.LocateKDCs(ctx, Realm)
	if err != nil || loc.Source != kerberos.KDCSourceDNS || !slices.Contains(loc.KDCs, "udp/"+DCHost+":88") || !slices.Contains(loc.KDCs, "tcp/"+DCHost+":88") {
		t.Fatalf("LocateKDCs(%s) = %+v, %v", Realm, loc, err)
	}
	realm, how, err := krb.MapDomain(ctx, NetBIOSDomain)
	if err != nil || realm != Realm || !strings.Contains(how, "_ldap._tcp.dc._msdcs."+DNSDomain) || !strings.Contains(how, "LDAP ping") {
		t.Fatalf("MapDomain(%s) = %q, %q, %v", NetBIOSDomain, realm, how, err)
	}

	r := sspi.NewRegistry()
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: ntlm.New(nil)}))
	r.Register(krb)
	for _, domain := range []string{NetBIOSDomain, DNSDomain} {
		t.Run(domain, func(t *testing.T) {
			client := acquire(t, r, "Negotiate", "", sspi.CredentialsOutbound, identity(Alice, domain))
			server := serviceCred(t, dc, newRegistry(t, dc, registryOptions{}), "Negotiate", WebService.SPNs[0])
			c, s := contexts(t, client, server, WebService.SPNs[0], kerberosISC, kerberosASC)
			if err := handshake(testCtx(t), c, s); err != nil {
				t.Fatalf("%v\n--- samba's log:\n%s", err, dc.LogTail(10))
			}
			if got := c.NegotiatedPackage(); got != "Kerberos" {
				t.Fatalf("Negotiate chose %q (fallback: %v), want Kerberos", got, c.FallbackReason())
			}
			if name, err := s.UserName(); err != nil || name != Alice.Principal() {
				t.Errorf("server UserName() = %q, %v; want %s", name, err, Alice.Principal())
			}
		})
	}
}

// TestDiscoveryKinitOnly: a user who only ran kinit (a FILE cache; kinit
// itself used the harness's krb5.conf) and has no krb5.conf for the
// library: the default credentials come from KRB5CCNAME, the service
// ticket's KDC from the DC's DNS, and Negotiate runs over Kerberos to a
// service of the domain.
func TestDiscoveryKinitOnly(t *testing.T) {
	dc := Require(t)
	cc, err := dc.Kinit(Alice)
	if err != nil {
		t.Fatal(err)
	}
	server := serviceCred(t, dc, newRegistry(t, dc, registryOptions{}), "Negotiate", WebService.SPNs[0])
	t.Setenv("KRB5_CONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("KRB5CCNAME", "FILE:"+cc)
	krb := kerberos.New(&kerberos.Config{Resolver: newDCResolver(dc), NoCCacheStore: true})
	r := sspi.NewRegistry()
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: ntlm.New(nil)}))
	client := acquire(t, r, "Negotiate", "", sspi.CredentialsOutbound, nil)
	c, s := contexts(t, client, server, WebService.SPNs[0], kerberosISC, kerberosASC)
	if err := handshake(testCtx(t), c, s); err != nil {
		t.Fatalf("%v\n--- samba's log:\n%s", err, dc.LogTail(10))
	}
	if got := c.NegotiatedPackage(); got != "Kerberos" {
		t.Fatalf("Negotiate chose %q (fallback: %v), want Kerberos", got, c.FallbackReason())
	}
	if name, err := s.UserName(); err != nil || name != Alice.Principal() {
		t.Errorf("server UserName() = %q, %v; want %s", name, err, Alice.Principal())
	}
}
