package schannel_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/schannel"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// selfSigned makes a certificate for localhost.
func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// This example runs a client context against a server context in memory
// the way Schannel callers do: each handshake call gets the received bytes
// in a SECBUFFER_TOKEN followed by a SECBUFFER_EMPTY that may come back as
// SECBUFFER_EXTRA. Then one record goes from the client to the server.
func Example() {
	ctx := context.Background()
	cert := selfSigned()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)

	pkg := schannel.New(nil)
	ccred, err := pkg.AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND, &schannel.SCH_CREDENTIALS{RootStore: roots})
	if err != nil {
		log.Fatal(err)
	}
	scred, err := pkg.AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND, &schannel.SCH_CREDENTIALS{Creds: []tls.Certificate{cert}})
	if err != nil {
		log.Fatal(err)
	}
	const req = packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_STREAM | packages.ISC_REQ_ALLOCATE_MEMORY
	client, _ := ccred.NewClientContext("localhost", req)
	defer client.Delete()
	server, _ := scred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_STREAM | packages.ASC_REQ_ALLOCATE_MEMORY)
	defer server.Delete()

	// step makes one handshake call and returns the token to send and the
	// bytes left over.
	step := func(c packages.Context, received []byte, first bool) (out, extra []byte, st status.Status) {
		var in []secbuffer.Buffer
		if !first {
			in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: received}, {Type: secbuffer.SECBUFFER_EMPTY}}
		}
		o := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
		st, err := c.Step(ctx, in, o)
		if err != nil {
			log.Fatal(err)
		}
		if len(in) > 1 && in[1].Type == secbuffer.SECBUFFER_EXTRA {
			extra = in[1].Data
		}
		return o[0].Data, extra, st
	}
	tok, _, _ := step(client, nil, true)
	for client.Session() == nil || server.Session() == nil {
		tok, _, _ = step(server, tok, false)
		if client.Session() != nil {
			break
		}
		var extra []byte
		tok, extra, _ = step(client, tok, false)
		_ = extra // after SEC_E_OK: TLS 1.3 session tickets, for DecryptMessage
	}
	if len(tok) > 0 && server.Session() == nil {
		step(server, tok, false)
	}
	info, _ := client.QueryAttribute(packages.SECPKG_ATTR_CONNECTION_INFO)
	fmt.Printf("protocol %#x\n", info.(*schannel.SecPkgContext_ConnectionInfo).Protocol)

	// One record: header, data and trailer are contiguous.
	sz, _ := client.QueryAttribute(packages.SECPKG_ATTR_STREAM_SIZES)
	sizes := sz.(*packages.SecPkgContext_StreamSizes)
	msg := []byte("hello, server")
	buf := make([]byte, int(sizes.Header)+len(msg)+int(sizes.Trailer))
	copy(buf[sizes.Header:], msg)
	enc := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: buf[:sizes.Header]},
		{Type: secbuffer.SECBUFFER_DATA, Data: buf[sizes.Header : int(sizes.Header)+len(msg)]},
		{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: buf[int(sizes.Header)+len(msg):]},
		{Type: secbuffer.SECBUFFER_EMPTY},
	}
	if _, err := client.Session().EncryptMessage(0, enc, 0); err != nil {
		log.Fatal(err)
	}
	record := buf[:len(enc[0].Data)+len(enc[1].Data)+len(enc[2].Data)]

	dec := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: record}, {}, {}, {}}
	_, st, err := server.Session().DecryptMessage(dec, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.String(), string(secbuffer.Find(dec, secbuffer.SECBUFFER_DATA).Data))
	// Output:
	// protocol 0x2000
	// SEC_E_OK hello, server
}
