package mssqlauth_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	_ "github.com/microsoft/go-mssqldb" // the "sqlserver" driver
	"github.com/microsoft/go-mssqldb/integratedauth"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/mssqlauth"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// Opening a database with integrated authentication through gosspi: the
// blank import (here a named one) registers the "gosspi" provider, and the
// connection string selects it. Kerberos uses the credential cache kinit
// filled (KRB5CCNAME) and KRB5_CONFIG's realm.
func Example() {
	db, err := sql.Open("sqlserver",
		"sqlserver://sql.example.com?authenticator=gosspi&sspi-package=Kerberos&encrypt=true")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var version string
	if err := db.QueryRowContext(context.Background(), "SELECT @@VERSION").Scan(&version); err != nil {
		log.Fatal(err)
	}
	fmt.Println(version)
}

// The login's token exchange as go-mssqldb runs it, against an acceptor
// in this process standing in for SQL Server: Negotiate selecting NTLM
// (no KDC is needed), with the password from the connection string.
func ExampleAuthenticator() {
	// A provider on a private registry whose Negotiate offers NTLM only,
	// so that nothing looks for a KDC.
	client := sspi.NewRegistry()
	client.Register(negotiate.New(&negotiate.Config{PackageList: "NTLM"}))
	if err := mssqlauth.Register("gosspi-ntlm", &mssqlauth.Provider{Registry: client}); err != nil {
		log.Fatal(err)
	}
	cfg, err := msdsn.Parse(`server=db.example.com;user id=EXAMPLE\alice;password=Passw0rd!;authenticator=gosspi-ntlm`)
	if err != nil {
		log.Fatal(err)
	}
	a, err := integratedauth.GetIntegratedAuthenticator(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Free()

	// The server side: an NTLM user store behind Negotiate.
	srv := sspi.NewRegistry()
	srv.Register(negotiate.New(&negotiate.Config{PackageList: "NTLM"}))
	sc, err := srv.AcquireCredentials(context.Background(), "Negotiate", sspi.CredentialsInbound,
		&negotiate.AuthData{NTLM: ntlm.Users{`EXAMPLE\alice`: "Passw0rd!"}})
	if err != nil {
		log.Fatal(err)
	}
	defer sc.Free()
	server, err := sspi.NewServerContext(sc, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Delete()

	tok, err := a.InitialBytes() // sent in the LOGIN7 packet
	for err == nil && !server.Established() {
		var back []byte
		if back, err = server.Step(context.Background(), tok); err != nil || len(back) == 0 {
			break
		}
		tok, err = a.NextBytes(back) // each SSPI token the server answers with
	}
	if err != nil {
		log.Fatal(err)
	}
	user, err := server.UserName()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.(*mssqlauth.Authenticator).Target(), server.NegotiatedPackage(), user)
	// Output: MSSQLSvc/db.example.com:1433 NTLM EXAMPLE\alice
}
