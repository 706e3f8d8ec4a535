package negotiate_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
)

// A Negotiate handshake over NTLM in memory: the client has no Kerberos,
// so it offers NTLM alone; the server's user store is an AuthData for NTLM.
func Example() {
	ctx := context.Background()
	p := negotiate.New(&negotiate.Config{PackageList: "NTLM"})
	ccred, err := p.AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"})
	if err != nil {
		log.Fatal(err)
	}
	scred, err := p.AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND,
		&negotiate.AuthData{NTLM: ntlm.Users{`EXAMPLE\alice`: "Passw0rd!"}})
	if err != nil {
		log.Fatal(err)
	}
	client, _ := ccred.NewClientContext("HTTP/web.example.com", packages.ISC_REQ_CONFIDENTIALITY)
	server, _ := scred.NewServerContext(0)

	var token []byte
	for leg := 0; client.Session() == nil || server.Session() == nil; leg++ {
		c, who := client, "client"
		if leg%2 == 1 {
			c, who = server, "server"
		}
		var in []secbuffer.Buffer
		if leg > 0 {
			in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: token}}
		}
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		st, err := c.Step(ctx, in, out)
		if err != nil {
			log.Fatal(err)
		}
		token = out[0].Data
		fmt.Printf("%s: %v, token %t\n", who, st.String(), len(token) > 0)
	}
	v, _ := server.QueryAttribute(packages.SECPKG_ATTR_NEGOTIATION_INFO)
	ni := v.(*packages.NegotiationInfo)
	n, _ := server.QueryAttribute(packages.SECPKG_ATTR_NAMES)
	fmt.Println(ni.PackageInfo.Name, ni.NegotiationState == packages.SECPKG_NEGOTIATION_COMPLETE, n.(*packages.Names).UserName)
	// Output:
	// client: SEC_I_CONTINUE_NEEDED, token true
	// server: SEC_I_CONTINUE_NEEDED, token true
	// client: SEC_I_CONTINUE_NEEDED, token true
	// server: SEC_E_OK, token true
	// client: SEC_E_OK, token false
	// NTLM true EXAMPLE\alice
}
