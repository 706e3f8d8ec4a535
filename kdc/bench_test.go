package kdc_test

import (
	"context"
	"testing"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/mitkdc"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/sspitest"

	"github.com/jcmturner/gokrb5/v8/config"
)

// BenchmarkHandshakeInProcess is a whole Kerberos logon against the KDC
// in process: AS (two exchanges: pre-authentication required, then with
// PA-ENC-TIMESTAMP), TGS, AP-REQ and AP-REP, with the PAC checked by the
// acceptor.
func BenchmarkHandshakeInProcess(b *testing.B) {
	realm := sspitest.NewRealm(b)
	alice := realm.AddUser(b, "alice", kdc.User{})
	kt := realm.AddService(b, "HTTP/web.sspitest.test")
	server := realm.ServerCredentials(b, "Kerberos", kt)
	b.ReportAllocs()
	for b.Loop() {
		client := realm.Credentials(b, "Kerberos", alice)
		_, s := sspitest.Handshake(b, client, server, "HTTP/web.sspitest.test", sspi.ISC_REQ_MUTUAL_AUTH)
		if _, ok := s.PAC(); !ok {
			b.Fatal("no PAC")
		}
		client.Free()
	}
}

// logon gets a TGT and a service ticket with our client over the network
// (krb5.conf's KDC): the AS+TGS exchanges of one logon.
func logon(b *testing.B, r *sspi.Registry, realm, target string) {
	ctx := context.Background()
	cred, err := r.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsOutbound, &sspi.AuthIdentity{User: "alice", Domain: realm, Password: "alice-pw"})
	if err != nil {
		b.Fatal(err)
	}
	defer cred.Free()
	c, err := sspi.NewClientContext(cred, target, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Delete()
	if _, err := c.Step(ctx, nil); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkVsMIT measures logons (AS with pre-authentication, then TGS)
// on loopback UDP against this KDC and against MIT krb5kdc with the same
// principals (alice, host/localhost), interleaved in one loop: it reports
// the time of a logon against each and the ratio of the rates
// (gosspi/MIT-rate above 1: this KDC serves more logons per second). The
// client is the same for both.
func BenchmarkVsMIT(b *testing.B) {
	if !peers.Interop() {
		b.Skip("SSPI_INTEROP=1 not set: the MIT side needs krb5kdc")
	}
	peers.Require(b, "MIT krb5kdc (apt-get install krb5-kdc krb5-admin-server)", mitkdc.KDCInstalled())
	mit, err := mitkdc.StartKDC()
	if err != nil {
		b.Fatal(err)
	}
	defer mit.Stop()
	mitConf, err := config.Load(mit.Krb5Conf)
	if err != nil && mitConf == nil {
		b.Fatal(err)
	}
	mitReg := sspi.NewRegistry()
	mitReg.Register(kerberos.New(&kerberos.Config{Krb5Conf: mitConf}))

	k, err := kdc.New(kdc.Config{Realm: mit.Realm})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	if err := k.AddUser("alice", "alice-pw", kdc.User{}); err != nil {
		b.Fatal(err)
	}
	if _, err := k.AddService("host/localhost", kdc.Service{}); err != nil {
		b.Fatal(err)
	}
	if _, err := k.Listen("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	ours := sspi.NewRegistry()
	ours.Register(kerberos.New(&kerberos.Config{Krb5Conf: k.Krb5Config()}))

	// Interleaved, so that both KDCs see the same machine load.
	var mitTime, ourTime time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		logon(b, mitReg, mit.Realm, "host/localhost")
		t1 := time.Now()
		logon(b, ours, mit.Realm, "host/localhost")
		t2 := time.Now()
		mitTime += t1.Sub(t0)
		ourTime += t2.Sub(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(mitTime.Nanoseconds())/n, "MIT-ns/logon")
	b.ReportMetric(float64(ourTime.Nanoseconds())/n, "gosspi-ns/logon")
	b.ReportMetric(float64(mitTime)/float64(ourTime), "gosspi/MIT-rate")
}
