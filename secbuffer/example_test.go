package secbuffer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"net"
	"time"

	"github.com/gosspi/sspi/secbuffer"
)

// This example builds the SEC_CHANNEL_BINDINGS blob of a
// tls-server-end-point binding, the content of the SECBUFFER_CHANNEL_BINDINGS
// buffer an HTTP client passes to InitializeSecurityContext, and the MD5
// that NTLM (MsvAvChannelBindings) and Kerberos (the checksum's Bnd field)
// put on the wire. The "certificate hash" is the 32 bytes 00..1f of the
// spec's vector (testdata/channelbindings/struct-tls-server-end-point-shape.txt).
func ExampleChannelBindings_Marshal() {
	app := []byte(secbuffer.PrefixTLSServerEndPoint)
	for i := 0; i < sha256.Size; i++ {
		app = append(app, byte(i))
	}
	cb := &secbuffer.ChannelBindings{ApplicationData: app}
	blob := cb.Marshal()
	fmt.Printf("header: %x\n", blob[:32])
	fmt.Printf("length: %d\n", len(blob))
	fmt.Printf("hash:   %x\n", cb.Hash())
	// Output:
	// header: 0000000000000000000000000000000000000000000000003500000020000000
	// length: 85
	// hash:   8f1214c9c9cab8dc3bf866da9aba57a7
}

// This example takes the channel bindings of a TLS connection on both
// sides: the client from its connection state, the server from its own
// certificate, which its connection state does not hold.
func ExampleTLSServerEndPoint() {
	cert := exampleCertificate()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	server := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{cert}})
	go func() { _ = server.Handshake() }()
	client := tls.Client(cc, &tls.Config{InsecureSkipVerify: true}) // a test certificate
	if err := client.Handshake(); err != nil {
		log.Fatal(err)
	}

	state := client.ConnectionState()
	clientCB, err := secbuffer.TLSServerEndPoint(&state)
	if err != nil {
		log.Fatal(err)
	}
	serverCB, err := secbuffer.CertificateServerEndPoint(cert.Leaf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q...\n", clientCB.ApplicationData[:len(secbuffer.PrefixTLSServerEndPoint)])
	fmt.Println("same on both sides:", clientCB.Hash() == serverCB.Hash())

	// TLS 1.3 has no tls-unique; tls-exporter takes its place.
	if _, err := secbuffer.TLSUnique(&state); err != nil {
		fmt.Println("tls-unique:", err)
	}
	exp, err := secbuffer.TLSExporter(&state)
	if err != nil {
		log.Fatal(err)
	}
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}, exp.Buffer()}
	fmt.Println("input buffer:", in[1].Type, len(in[1].Data), "bytes")
	// Output:
	// "tls-server-end-point:"...
	// same on both sides: true
	// tls-unique: sspi: TLSUnique: SEC_E_UNSUPPORTED_FUNCTION (0x80090302): secbuffer: tls-unique is not defined for TLS 1.3; use tls-exporter
	// input buffer: 14 77 bytes
}

// exampleCertificate returns a self-signed ECDSA P-256 certificate.
func exampleCertificate() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
