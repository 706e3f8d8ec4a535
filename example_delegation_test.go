package sspi_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/exec"

	"github.com/gosspi/sspi"
)

// This example is the server side of delegation: after accepting a client
// that asked for ISC_REQ_DELEGATE, the server authenticates as that
// client to a back-end service, and runs a child process (an MIT
// Kerberos tool) with the client's credentials in a credential cache.
// It needs a KDC, so it has no output to check.
func ExampleContext_DelegatedCredentials() {
	ctx := context.Background()
	var server *sspi.Context // established by Step with the client's tokens

	dc, err := server.DelegatedCredentials()
	if errors.Is(err, sspi.SEC_E_NO_CREDENTIALS) {
		log.Print("the client delegated nothing")
		return
	} else if err != nil {
		log.Fatal(err)
	}
	defer dc.Free() // zeroes the copy's keys

	// As the client, to another service.
	backend, err := sspi.NewClientContext(dc, "HTTP/backend.example.com", sspi.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Delete()
	token, err := backend.Step(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	_ = token // send it to the back end, and so on

	// As the client, in a child process.
	f, err := os.CreateTemp("", "krb5cc_") // mode 0600
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	if err := dc.WriteCCache(f); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("klist")
	cmd.Env = append(os.Environ(), "KRB5CCNAME=FILE:"+f.Name())
	if err := cmd.Run(); err != nil {
		log.Fatal(err)
	}
}
