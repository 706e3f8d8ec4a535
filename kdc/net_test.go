package kdc_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/sspitest"
)

// The KDC on 127.0.0.1: our client reaches it through krb5.conf alone,
// over UDP and, with udp_preference_limit = 1, over TCP; the keytab file
// written for the service is the one the acceptor uses.
func TestListenUDPTCP(t *testing.T) {
	k, err := kdc.New(kdc.Config{Realm: "NET.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.AddUser("bob", "bob-pw", kdc.User{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("host/srv.net.test", kdc.Service{}); err != nil {
		t.Fatal(err)
	}
	addr, err := k.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if addr.UDP == "" || addr.TCP == "" || !strings.HasPrefix(addr.UDP, "127.0.0.1:") {
		t.Fatalf("addr %+v", addr)
	}
	dir := t.TempDir()
	ktPath := filepath.Join(dir, "service.keytab")
	if err := k.WriteKeytab(ktPath, "host/srv.net.test"); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "krb5.conf")
	if err := k.WriteKrb5Conf(confPath); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(confPath)
	if !strings.Contains(string(text), "kdc = "+addr.UDP) || !strings.Contains(string(text), "default_realm = NET.TEST") {
		t.Fatalf("krb5.conf:\n%s", text)
	}
	kt, err := keytab.Load(ktPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tcp := range []bool{false, true} {
		conf, err := config.Load(confPath)
		if err != nil && conf == nil {
			t.Fatal(err)
		}
		if tcp {
			conf.LibDefaults.UDPPreferenceLimit = 1
		}
		krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
		r := sspi.NewRegistry()
		r.Register(krb)
		client, err := r.AcquireCredentials(context.Background(), "Kerberos", sspi.CredentialsOutbound,
			&sspi.AuthIdentity{User: "bob", Domain: "NET.TEST", Password: "bob-pw"})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Free()
		server, err := r.AcquireCredentials(context.Background(), "Kerberos", sspi.CredentialsInbound, &kerberos.Keytab{Keytab: kt})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Free()
		_, s := sspitest.Handshake(t, client, server, "host/srv.net.test", sspi.ISC_REQ_MUTUAL_AUTH)
		if pac, ok := s.PAC(); !ok || pac.ClientName != "bob" {
			t.Fatalf("tcp=%v: PAC %+v", tcp, pac)
		}
	}
}
