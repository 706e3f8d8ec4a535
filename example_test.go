package sspi_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
)

// This example runs an NTLM handshake through the flat, Windows-shaped API,
// client and server in one process, then sends a signed and a sealed
// message. The server's user store is an in-memory ntlm.Users; on a real
// server it would be a file (ntlm.UserFile) or a directory lookup.
func ExampleInitializeSecurityContextW() {
	pkg, err := sspi.UTF16PtrFromString("NTLM")
	if err != nil {
		log.Fatal(err)
	}
	target, err := sspi.UTF16PtrFromString("HOST/server.example.com")
	if err != nil {
		log.Fatal(err)
	}
	// check stops on a failure; informational codes are not failures.
	check := func(call string, st sspi.SECURITY_STATUS) sspi.SECURITY_STATUS {
		if st.Failed() {
			log.Fatalf("%s: %v", call, st)
		}
		return st
	}

	var clientCred, serverCred sspi.CredHandle
	id := sspi.NewAuthIdentityW("alice", "EXAMPLE", "Passw0rd!")
	check("AcquireCredentialsHandleW", sspi.AcquireCredentialsHandleW(nil, pkg, sspi.SECPKG_CRED_OUTBOUND, nil, id, 0, 0, &clientCred, nil))
	defer sspi.FreeCredentialsHandle(&clientCred)
	users := ntlm.Users{`EXAMPLE\alice`: "Passw0rd!"}
	check("AcquireCredentialsHandleW", sspi.AcquireCredentialsHandleW(nil, pkg, sspi.SECPKG_CRED_INBOUND, nil, users, 0, 0, &serverCred, nil))
	defer sspi.FreeCredentialsHandle(&serverCred)

	var info *sspi.SecPkgInfoW
	check("QuerySecurityPackageInfoW", sspi.QuerySecurityPackageInfoW(pkg, &info))
	newToken := func() *secbuffer.Desc {
		return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: sspi.SECBUFFER_TOKEN, Data: make([]byte, 0, info.MaxToken)}}}
	}
	tokenIn := func(b []byte) *secbuffer.Desc {
		return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: sspi.SECBUFFER_TOKEN, Data: b}}}
	}

	var client, server sspi.CtxtHandle
	var attr uint32
	req := uint32(sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_CONNECTION)
	areq := uint32(sspi.ASC_REQ_CONFIDENTIALITY | sspi.ASC_REQ_INTEGRITY | sspi.ASC_REQ_CONNECTION)

	negotiate := newToken()
	st := sspi.InitializeSecurityContextW(&clientCred, nil, target, req, 0, sspi.SECURITY_NATIVE_DREP, nil, 0, &client, negotiate, &attr, nil)
	fmt.Println("client:", check("InitializeSecurityContextW", st).String())
	challenge := newToken()
	st = sspi.AcceptSecurityContext(&serverCred, nil, tokenIn(negotiate.Buffers[0].Data), areq, sspi.SECURITY_NATIVE_DREP, &server, challenge, &attr, nil)
	fmt.Println("server:", check("AcceptSecurityContext", st).String())
	authenticate := newToken()
	st = sspi.InitializeSecurityContextW(&clientCred, &client, target, req, 0, sspi.SECURITY_NATIVE_DREP, tokenIn(challenge.Buffers[0].Data), 0, &client, authenticate, &attr, nil)
	fmt.Println("client:", check("InitializeSecurityContextW", st).String())
	st = sspi.AcceptSecurityContext(&serverCred, &server, tokenIn(authenticate.Buffers[0].Data), areq, sspi.SECURITY_NATIVE_DREP, &server, newToken(), &attr, nil)
	fmt.Println("server:", check("AcceptSecurityContext", st).String())
	defer sspi.DeleteSecurityContext(&client)
	defer sspi.DeleteSecurityContext(&server)

	var names sspi.SecPkgContext_NamesW
	check("QueryContextAttributesW", sspi.QueryContextAttributesW(&server, sspi.SECPKG_ATTR_NAMES, &names))
	fmt.Println("authenticated:", sspi.UTF16PtrToString(names.UserName))
	var sizes sspi.SecPkgContext_Sizes
	check("QueryContextAttributesW", sspi.QueryContextAttributesW(&client, sspi.SECPKG_ATTR_SIZES, &sizes))

	// A signed message: DATA plus a TOKEN that receives the signature.
	signed := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
		{Type: sspi.SECBUFFER_DATA, Data: []byte("signed hello")},
		{Type: sspi.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.MaxSignature)},
	}}
	check("MakeSignature", sspi.MakeSignature(&client, 0, signed, 0))
	fmt.Println("verify:", sspi.VerifySignature(&server, signed, 0, nil).String())

	// A sealed message: DATA is encrypted in place, TOKEN gets the trailer.
	sealed := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
		{Type: sspi.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.SecurityTrailer)},
		{Type: sspi.SECBUFFER_DATA, Data: []byte("sealed hello")},
	}}
	check("EncryptMessage", sspi.EncryptMessage(&client, 0, sealed, 0))
	st = sspi.DecryptMessage(&server, sealed, 0, nil)
	fmt.Printf("decrypt: %s %q\n", st.String(), sealed.Buffers[1].Data)
	// Output:
	// client: SEC_I_CONTINUE_NEEDED
	// server: SEC_I_CONTINUE_NEEDED
	// client: SEC_E_OK
	// server: SEC_E_OK
	// authenticated: EXAMPLE\alice
	// verify: SEC_E_OK
	// decrypt: SEC_E_OK "sealed hello"
}

// This example seals a message with the Go API's buffer-list form,
// EncryptMessage, and opens it on the other side; Wrap and Unwrap do the
// same on a single byte slice.
func ExampleContext_EncryptMessage() {
	ctx := context.Background()
	clientCred, err := sspi.AcquireCredentials(ctx, "NTLM", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"})
	if err != nil {
		log.Fatal(err)
	}
	defer clientCred.Free()
	serverCred, err := sspi.AcquireCredentials(ctx, "NTLM", sspi.CredentialsInbound, ntlm.Users{`EXAMPLE\alice`: "Passw0rd!"})
	if err != nil {
		log.Fatal(err)
	}
	defer serverCred.Free()

	client, err := sspi.NewClientContext(clientCred, "HOST/server", sspi.ISC_REQ_CONFIDENTIALITY)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Delete()
	server, err := sspi.NewServerContext(serverCred, sspi.ASC_REQ_CONFIDENTIALITY)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Delete()

	// The handshake: each side's output is the other's input.
	var token []byte
	for !client.Established() || !server.Established() {
		if token, err = client.Step(ctx, token); err != nil {
			log.Fatal(err)
		}
		if len(token) == 0 {
			break
		}
		if token, err = server.Step(ctx, token); err != nil {
			log.Fatal(err)
		}
	}

	sizes, err := client.Sizes()
	if err != nil {
		log.Fatal(err)
	}
	msg := []secbuffer.Buffer{
		{Type: sspi.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.SecurityTrailer)},
		{Type: sspi.SECBUFFER_DATA, Data: []byte("attack at dawn")},
	}
	if err := client.EncryptMessage(0, msg, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Println("trailer bytes:", len(msg[0].Data))

	if _, _, err := server.DecryptMessage(msg, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("plaintext: %s\n", msg[1].Data)

	sealed, err := server.Wrap([]byte("retreat at dusk"))
	if err != nil {
		log.Fatal(err)
	}
	plain, err := client.Unwrap(sealed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("unwrapped: %s\n", plain)
	// Output:
	// trailer bytes: 16
	// plaintext: attack at dawn
	// unwrapped: retreat at dusk
}
