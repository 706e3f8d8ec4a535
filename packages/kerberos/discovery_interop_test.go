package kerberos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// TestInteropDNSDiscovery runs Kerberos with no krb5.conf at all
// (KRB5_CONFIG names a missing file, so /etc/krb5.conf is not read
// either): the realm comes from the user's DNS domain or UPN, and the MIT
// test KDC from the SRV records of a dnsmasq on loopback. A decoy SRV
// record of higher priority that points at a dead port checks the
// RFC 2782 order is not followed blindly into a dead end, and an
// Active Directory-style realm found only under _msdcs checks that form.
func TestInteropDNSDiscovery(t *testing.T) {
	k := peers.TestKDC(t)
	dns := peers.StartDNS(t,
		"--host-record=kdc1.gosspi.test,127.0.0.1",
		fmt.Sprintf("--srv-host=_kerberos._udp.gosspi.test,kdc1.gosspi.test,%d,0,100", k.Port),
		fmt.Sprintf("--srv-host=_kerberos._tcp.gosspi.test,kdc1.gosspi.test,%d,0,100", k.Port),
		// Only the AD form for this realm name, pointing at the same KDC
		// (it answers for GOSSPI.TEST only; the lookup is what is checked).
		fmt.Sprintf("--srv-host=_kerberos._tcp.dc._msdcs.ad.gosspi.test,kdc1.gosspi.test,%d,0,100", k.Port),
		// www.gosspi.test is an alias of the host whose service principal
		// exists (HTTP/localhost): dns_canonicalize_hostname's default
		// (true) finds it.
		"--host-record=localhost,127.0.0.1",
		"--cname=www.gosspi.test,localhost",
	)
	t.Setenv("KRB5_CONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("KRB5CCNAME", "FILE:"+filepath.Join(t.TempDir(), "nocc"))
	p := New(&Config{Resolver: dns.Resolver})
	conf, err := p.krb5conf()
	if err != nil || len(conf.Realms) != 0 || conf.LibDefaults.DefaultRealm != "" {
		t.Fatalf("a configuration was read: %+v, %v", conf.Realms, err)
	}
	loc, err := p.LocateKDCs(bg(), "GOSSPI.TEST")
	if err != nil || loc.Source != KDCSourceDNS || len(loc.KDCs) != 2 ||
		loc.KDCs[0] != fmt.Sprintf("udp/kdc1.gosspi.test:%d", k.Port) || loc.KDCs[1] != fmt.Sprintf("tcp/kdc1.gosspi.test:%d", k.Port) {
		t.Fatalf("LocateKDCs = %+v, %v", loc, err)
	}
	loc, err = p.LocateKDCs(bg(), "AD.GOSSPI.TEST")
	if err != nil || loc.Source != KDCSourceMSDCS || len(loc.KDCs) != 1 {
		t.Fatalf("LocateKDCs(AD form) = %+v, %v", loc, err)
	}
	if _, err := p.LocateKDCs(bg(), "NOWHERE.TEST"); err == nil {
		t.Fatal("a realm with no SRV records was located")
	}

	srv, err := New(nil).AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []*packages.AuthIdentity{
		{User: "alice", Domain: "gosspi.test", Password: "alice-pw"},
		{User: "alice@gosspi.test", Password: "alice-pw"},
	} {
		t.Run(id.User+" domain "+id.Domain, func(t *testing.T) {
			cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, id)
			if err != nil {
				t.Fatal(err)
			}
			defer cred.Free()
			for _, target := range []string{"HTTP/localhost", "HTTP@localhost", "HTTP@www.gosspi.test"} {
				c, err := cred.NewClientContext(target, packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_SEQUENCE_DETECT)
				if err != nil {
					t.Fatal(err)
				}
				sc, _ := srv.NewServerContext(0)
				if _, err := testkit.Handshake(bg(), c, sc, nil, nil); err != nil {
					t.Fatalf("%s: %v", target, err)
				}
				exchangeMessages(t, c, sc)
			}
			if cred.UserName() != "alice@GOSSPI.TEST" {
				t.Errorf("UserName = %q", cred.UserName())
			}
		})
	}
	// The SPN form is used as given, as Windows does: no such principal.
	if err := iscError(t, p, bg(), &packages.AuthIdentity{User: "alice@gosspi.test", Password: "alice-pw"}, "HTTP/www.gosspi.test"); !errors.Is(err, status.SEC_E_TARGET_UNKNOWN) {
		t.Errorf("HTTP/www.gosspi.test: %v, want SEC_E_TARGET_UNKNOWN", err)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("KRB5_CONFIG"))); err == nil {
		t.Fatal("KRB5_CONFIG file exists")
	}
}

// TestInteropDeadKDCTiming measures AS+TGS against the test KDC listed
// after a silent one, six times with new credentials each: the first run
// waits one per-attempt timeout (1 s) for the silent KDC, the later ones
// go to the live KDC first because the silent one is remembered.
func TestInteropDeadKDCTiming(t *testing.T) {
	k := peers.TestKDC(t)
	dead := blackHole(t)
	conf := fakeRealmConf(k.Realm, dead, fmt.Sprintf("127.0.0.1:%d", k.Port))
	p := New(&Config{Krb5Conf: conf})
	var took []time.Duration
	for run := range 6 {
		start := time.Now()
		if err := iscError(t, p, bg(), aliceIdentity, "HTTP/localhost"); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		took = append(took, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("AS+TGS with one dead and one live KDC, 6 runs: %v", took)
	if took[0] < 900*time.Millisecond || took[0] > 3*time.Second {
		t.Errorf("first run took %v, want about 1 s", took[0])
	}
	for i, d := range took[1:] {
		// Trying the dead KDC first would cost its full 1 s wait.
		if d > 900*time.Millisecond {
			t.Errorf("run %d took %v: the dead KDC was tried first again", i+1, d)
		}
	}
}
