package sspi

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
)

// TestMessageCallsDuringLastStep: message calls made while the last Step
// runs are refused with SEC_E_INVALID_HANDLE by the root, so no package's
// message code reads keys that the handshake is writing (issue: Kerberos
// read its state unlocked while the acceptor's Step wrote it, a data race
// that -race reports). Once established, the same calls work.
func TestMessageCallsDuringLastStep(t *testing.T) {
	m := newPACRealm(t)
	for _, pkg := range []string{"Kerberos", "Negotiate"} {
		for i := 0; i < 20; i++ {
			s := m.serverContext(t, pkg)
			req := m.apReq(t, nil)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var unexpected error
			for _, send := range []bool{true, false} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						msg := []secbuffer.Buffer{
							{Type: secbuffer.SECBUFFER_DATA, Data: []byte("racing the handshake")},
							{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 64)},
						}
						var err error
						if send {
							err = s.MakeSignatureBuffers(0, msg, 0)
						} else {
							_, err = s.VerifySignatureBuffers(msg, 0)
						}
						if err != nil && !errors.Is(err, SEC_E_INVALID_HANDLE) && !errors.Is(err, SEC_E_MESSAGE_ALTERED) &&
							!errors.Is(err, SEC_E_OUT_OF_SEQUENCE) && !errors.Is(err, SEC_E_INVALID_TOKEN) && unexpected == nil && send {
							unexpected = err
						}
					}
				}()
			}
			if _, err := s.Step(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			close(stop)
			wg.Wait()
			if unexpected != nil {
				t.Fatalf("%s: MakeSignature during the handshake: %v", pkg, unexpected)
			}
			if !s.Established() {
				t.Fatal("not established")
			}
			if _, err := s.MakeSignature([]byte("after"), 0, 0); err != nil {
				t.Fatalf("%s: MakeSignature after the handshake: %v", pkg, err)
			}
		}
	}
}

// TestFlatAndGoAgreeOnFreedCredentials: the flat API calls the Go API, so
// credentials freed through the Go API give SEC_E_INVALID_HANDLE to both
// (the flat QueryCredentialsAttributes used to answer SEC_E_OK).
func TestFlatAndGoAgreeOnFreedCredentials(t *testing.T) {
	r := NewRegistry()
	r.Register(ntlm.New(nil))
	pkg, _ := UTF16PtrFromString("NTLM")
	var h CredHandle
	id := NewAuthIdentityW("alice", "EXAMPLE", "Passw0rd!")
	if st := r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, nil, id, 0, 0, &h, nil); st != SEC_E_OK {
		t.Fatal(st)
	}
	var names SecPkgCredentials_NamesW
	if st := r.QueryCredentialsAttributesW(&h, SECPKG_CRED_ATTR_NAMES, &names); st != SEC_E_OK {
		t.Fatalf("before Free: %v", st)
	}
	c, err := r.Credentials(&h)
	if err != nil {
		t.Fatal(err)
	}
	c.Free()
	_, goErr := c.QueryAttribute(SECPKG_CRED_ATTR_NAMES)
	st := r.QueryCredentialsAttributesW(&h, SECPKG_CRED_ATTR_NAMES, &names)
	if !errors.Is(goErr, SEC_E_INVALID_HANDLE) || st != SEC_E_INVALID_HANDLE {
		t.Fatalf("after Free: Go %v, flat %v; want SEC_E_INVALID_HANDLE from both", goErr, st)
	}
}

// schannelHandshake runs a TLS handshake between client and server with
// StepStream.
func schannelHandshake(t *testing.T, client, server *Context) {
	t.Helper()
	ctx := context.Background()
	var tok []byte
	for i := 0; i < 10 && !(client.Established() && server.Established()); i++ {
		c := client
		if i%2 == 1 {
			c = server
		}
		out, _, err := c.StepStream(ctx, tok)
		if err != nil {
			t.Fatalf("leg %d: %v", i, err)
		}
		tok = out
	}
	if !client.Established() || !server.Established() {
		t.Fatal("TLS handshake did not complete")
	}
}

// TestWrapByCapability: Wrap and Unwrap go to the package's own stream
// form (packages.Wrapper), never chosen by package name. Schannel's is
// whole TLS records: a message larger than one record spans several.
// Before, Context.Wrap on Schannel failed with a misleading
// QueryContextAttributes error.
func TestWrapByCapability(t *testing.T) {
	for _, proto := range []uint32{SP_PROT_TLS1_2, SP_PROT_TLS1_3} {
		cc, sc := tlsPair(t, tlsRegistry(t), proto)
		schannelHandshake(t, cc, sc)
		big := bytes.Repeat([]byte("0123456789abcdef"), 2000) // 32000 bytes: two records
		for _, msg := range [][]byte{[]byte("hello over TLS"), big, nil} {
			sealed, err := cc.Wrap(msg)
			if err != nil {
				t.Fatalf("Wrap: %v", err)
			}
			if len(msg) > 0 && bytes.Contains(sealed, msg[:min(len(msg), 16)]) {
				t.Fatal("plaintext in the TLS records")
			}
			plain, err := sc.Unwrap(sealed)
			if err != nil || !bytes.Equal(plain, msg) {
				t.Fatalf("Unwrap: %d bytes, %v; want %d", len(plain), err, len(msg))
			}
		}
		sealed, _ := sc.Wrap([]byte("answer"))
		if _, err := cc.Unwrap(sealed[:len(sealed)-1]); !errors.Is(err, SEC_E_INCOMPLETE_MESSAGE) {
			t.Fatalf("Unwrap of a partial record: %v, want SEC_E_INCOMPLETE_MESSAGE", err)
		}
	}
}
