package sasl_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/sasl"
)

// This example runs GSS-SPNEGO between a client and a server in one
// process, NTLM inside SPNEGO, then sends a message through the
// confidentiality layer they agree on. In LDAP each client response
// travels in a BindRequest and each server challenge in a BindResponse.
func Example() {
	ctx := context.Background()
	clientCred, err := sspi.AcquireCredentials(ctx, "Negotiate", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!", PackageList: "NTLM"})
	if err != nil {
		log.Fatal(err)
	}
	defer clientCred.Free()
	serverCred, err := sspi.AcquireCredentials(ctx, "Negotiate", sspi.CredentialsInbound,
		&negotiate.AuthData{NTLM: ntlm.Users{`EXAMPLE\alice`: "Passw0rd!"}, PackageList: "NTLM"})
	if err != nil {
		log.Fatal(err)
	}
	defer serverCred.Free()

	client := sasl.NewClient(clientCred, &sasl.ClientConfig{
		Mechanism: sasl.GSSSPNEGO,
		Target:    "ldap/dc.example.com",
		Layer:     sasl.LayerConfidentiality,
	})
	server, err := sasl.NewServer(serverCred, &sasl.ServerConfig{Mechanism: sasl.GSSSPNEGO})
	if err != nil {
		log.Fatal(err)
	}

	// The exchange.
	var challenge []byte
	for {
		response, err := client.Step(ctx, challenge)
		if err != nil {
			log.Fatal(err)
		}
		out, done, err := server.Step(ctx, response)
		if err != nil {
			log.Fatal(err)
		}
		if done {
			// The success result carries the server's last token.
			if _, err := client.Finish(ctx, out); err != nil {
				log.Fatal(err)
			}
			break
		}
		challenge = out
	}
	user, err := server.Context().UserName()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("authenticated:", user)

	// The layer, on both ends of a connection.
	a, b := net.Pipe()
	clientConn, serverConn := sasl.NewConn(a), sasl.NewConn(b)
	defer clientConn.Close()
	defer serverConn.Close()
	if err := clientConn.Start(client.Security()); err != nil {
		log.Fatal(err)
	}
	if err := serverConn.Start(server.Security()); err != nil {
		log.Fatal(err)
	}
	go clientConn.Write([]byte("sealed search request"))
	msg := make([]byte, len("sealed search request"))
	if _, err := io.ReadFull(serverConn, msg); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v layer: %s\n", server.Security().Layer(), msg)
	// Output:
	// authenticated: EXAMPLE\alice
	// confidentiality layer: sealed search request
}
