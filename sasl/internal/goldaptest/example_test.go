package goldaptest

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/go-ldap/ldap/v3"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/sasl"
)

// This example binds to an LDAP server with go-ldap's GSSAPIBind and the
// Kerberos ticket of the user's credential cache (kinit), with a sealed
// security layer, then searches through it. It needs a KDC and a server,
// so it has no output to check.
func Example_gssapiBind() {
	cred, err := sspi.AcquireCredentials(context.Background(), "Kerberos", sspi.CredentialsOutbound, &kerberos.CCache{})
	if err != nil {
		log.Fatal(err)
	}
	defer cred.Free()
	raw, err := net.Dial("tcp", "ldap.example.com:389")
	if err != nil {
		log.Fatal(err)
	}
	conn := sasl.NewConn(raw) // carries the layer once the bind succeeds
	l := ldap.NewConn(conn, false)
	l.Start()
	defer l.Close()
	if err := l.GSSAPIBind(sasl.NewClient(cred, &sasl.ClientConfig{Conn: conn}), "ldap/ldap.example.com", ""); err != nil {
		log.Fatal(err)
	}
	res, err := l.Search(ldap.NewSearchRequest("dc=example,dc=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, "(uid=alice)", []string{"cn"}, nil))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(res.Entries))
}
