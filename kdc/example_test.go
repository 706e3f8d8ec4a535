package kdc_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/packages/kerberos"
)

// A realm in process: a user and a service, our Kerberos package talking
// to the KDC through its Transport, a handshake, and the SIDs of the PAC
// the acceptor decoded.
func Example() {
	k, err := kdc.New(kdc.Config{Realm: "EXAMPLE.TEST"})
	if err != nil {
		log.Fatal(err)
	}
	defer k.Close()
	if err := k.AddUser("alice", "Passw0rd!", kdc.User{RID: 1105, GroupRIDs: []uint32{512}}); err != nil {
		log.Fatal(err)
	}
	keytab, err := k.AddService("HTTP/web.example.test", kdc.Service{})
	if err != nil {
		log.Fatal(err)
	}

	reg := sspi.NewRegistry()
	reg.Register(kerberos.New(&kerberos.Config{Transport: k, Krb5Conf: k.Krb5Config()}))
	ctx := context.Background()
	client, err := reg.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE.TEST", Password: "Passw0rd!"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Free()
	server, err := reg.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsInbound, keytab)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Free()

	c, _ := sspi.NewClientContext(client, "HTTP/web.example.test", sspi.ISC_REQ_MUTUAL_AUTH)
	defer c.Delete()
	s, _ := sspi.NewServerContext(server, 0)
	defer s.Delete()
	apReq, err := c.Step(ctx, nil) // AS and TGS exchanges with the KDC, then the AP-REQ
	if err != nil {
		log.Fatal(err)
	}
	apRep, err := s.Step(ctx, apReq)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Step(ctx, apRep); err != nil {
		log.Fatal(err)
	}
	name, _ := s.UserName()
	pac, _ := s.PAC()
	domain, _ := k.DomainSID("EXAMPLE.TEST")
	fmt.Println(name)
	fmt.Println(pac.UserSID == domain+"-1105", len(pac.GroupSIDs))
	// Output:
	// alice@EXAMPLE.TEST
	// true 2
}
