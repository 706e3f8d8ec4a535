package kerberos

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi/internal/cldap"
	"github.com/gosspi/sspi/packages"
)

// fakeDC answers LDAP pings on 127.0.0.1 as a DC of samba.test (NetBIOS
// SAMBA) would, and counts them.
func fakeDC(t *testing.T) (port string, pings *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	pings = new(atomic.Int32)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pings.Add(1)
			id, ok := cldap.RequestID(buf[:n])
			if !ok {
				continue
			}
			r := &cldap.Response{Opcode: cldap.OpcodeLogonSAMLogonResponseEX, Flags: 0x20,
				DNSForestName: "samba.test", DNSDomainName: "samba.test", DNSHostName: "dc1.samba.test",
				NetBIOSDomain: "SAMBA", NetBIOSComputer: "DC1", NtVersion: 5}
			pc.WriteTo(cldap.EncodeSearchReply(id, cldap.EncodeNetlogon(r)), addr)
		}
	}()
	_, port, _ = net.SplitHostPort(pc.LocalAddr().String())
	return port, pings
}

// TestNetBIOSDomainMapped: SAMBA\alice and AuthIdentity{Domain: "SAMBA"}
// map to the realm SAMBA.TEST through the DC's LDAP ping, as Windows' DC
// locator does; before, the realm was "SAMBA" and no KDC was found.
func TestNetBIOSDomainMapped(t *testing.T) {
	port, pings := fakeDC(t)
	old := ldapPingPort
	ldapPingPort = port
	t.Cleanup(func() { ldapPingPort = old })

	conf, err := config.NewFromString(strings.Join([]string{
		"[libdefaults]", " default_realm = OTHER.TEST",
		"[realms]", " OTHER.TEST = {", "  kdc = 127.0.0.3:88", " }",
		" SAMBA.TEST = {", "  kdc = 127.0.0.1:88", " }",
		"[domain_realm]", " corp = CORP.EXAMPLE",
	}, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(&Config{Krb5Conf: conf})
	for _, tc := range []struct {
		id   *packages.AuthIdentity
		want string
	}{
		{&packages.AuthIdentity{User: "alice", Domain: "SAMBA", Password: "pw"}, "alice@SAMBA.TEST"},
		{&packages.AuthIdentity{User: `SAMBA\alice`, Password: "pw"}, "alice@SAMBA.TEST"},
		{&packages.AuthIdentity{User: "alice", Domain: "samba", Password: "pw"}, "alice@SAMBA.TEST"},
		{&packages.AuthIdentity{User: "alice", Domain: "samba.test", Password: "pw"}, "alice@SAMBA.TEST"},
		{&packages.AuthIdentity{User: "alice", Domain: "CORP", Password: "pw"}, "alice@CORP.EXAMPLE"},
		{&packages.AuthIdentity{User: "alice", Domain: "NOSUCH", Password: "pw"}, "alice@NOSUCH"},
	} {
		cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got := cred.UserName(); got != tc.want {
			t.Errorf("%+v: %q, want %q", *tc.id, got, tc.want)
		}
		cred.Free()
	}
	if n := pings.Load(); n < 1 || n > 2 {
		t.Errorf("%d LDAP pings; want the SAMBA answer remembered and one more for NOSUCH", n)
	}
}
