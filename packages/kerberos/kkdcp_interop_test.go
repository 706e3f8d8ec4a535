package kerberos

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// TestInteropKDCProxy gets a TGT and a service ticket through
// python3-kdcproxy (MS-KKDCP over HTTPS) in front of the MIT test KDC,
// the realm's only KDC entry being the proxy's URL as MIT writes it.
func TestInteropKDCProxy(t *testing.T) {
	k := peers.TestKDC(t)
	proxy := peers.StartKDCProxy(t, k.Realm, fmt.Sprintf("127.0.0.1:%d", k.Port))
	conf := config.New()
	conf.LibDefaults.DefaultRealm = k.Realm
	conf.LibDefaults.DNSLookupKDC = false
	conf.Realms = []config.Realm{{Realm: k.Realm, KDC: []string{proxy.URL}}}
	p := New(&Config{Krb5Conf: conf, KDCProxyClient: proxy.Client})
	loc, err := p.LocateKDCs(bg(), k.Realm)
	if err != nil || len(loc.KDCs) != 1 || loc.KDCs[0] != proxy.URL {
		t.Fatalf("LocateKDCs = %+v, %v", loc, err)
	}
	srv, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	ct := &countingTransport{next: p.transport()}
	cfg := p.config
	cfg.Transport = ct
	counted := New(&cfg)
	cred, err := counted.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, aliceIdentity)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	c, _ := cred.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_SEQUENCE_DETECT)
	sc, _ := srv.NewServerContext(0)
	if _, err := testkit.Handshake(bg(), c, sc, nil, nil); err != nil {
		t.Fatal(err)
	}
	exchangeMessages(t, c, sc)
	if n := ct.n; n < 3 {
		t.Errorf("%d KDC requests through the proxy, want AS, AS with pre-authentication and TGS", n)
	}
	// A wrong password through the proxy is the KDC's answer, mapped.
	if err := iscError(t, p, bg(), &packages.AuthIdentity{User: "alice", Password: "wrong"}, "HTTP/localhost"); !errors.Is(err, status.SEC_E_LOGON_DENIED) {
		t.Fatalf("wrong password through the proxy: %v, want SEC_E_LOGON_DENIED", err)
	}
}
