package schannel

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

func readPEMCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(testkit.Path("schannel", "pkcs12", name))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadCertificates(t *testing.T) {
	leaf := readPEMCert(t, "leaf.pem")
	ca := readPEMCert(t, "ca.pem")
	p12, err := LoadPKCS12(testkit.Path("schannel", "pkcs12", "chain.p12"), "gosspi")
	if err != nil {
		t.Fatalf("LoadPKCS12: %v", err)
	}
	if len(p12.Certificate) != 2 || !bytes.Equal(p12.Certificate[0], leaf.Raw) || !bytes.Equal(p12.Certificate[1], ca.Raw) {
		t.Fatalf("PKCS#12 chain has %d certificates, leaf first: %v", len(p12.Certificate), len(p12.Certificate) > 0 && bytes.Equal(p12.Certificate[0], leaf.Raw))
	}
	if _, err := LoadPKCS12(testkit.Path("schannel", "pkcs12", "chain.p12"), "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	pemCert, err := LoadPEM(testkit.Path("schannel", "pkcs12", "leaf.pem"), testkit.Path("schannel", "pkcs12", "leaf.key"))
	if err != nil || !bytes.Equal(pemCert.Certificate[0], leaf.Raw) {
		t.Fatalf("LoadPEM: %v", err)
	}
	if _, err := LoadPEM(testkit.Path("schannel", "pkcs12", "leaf.pem"), testkit.Path("schannel", "pkcs12", "missing.key")); err == nil {
		t.Fatal("missing key file accepted")
	}

	// A server with the PKCS#12 chain, a client trusting its CA.
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	p := New(&Config{Time: func() time.Time { return leaf.NotBefore.Add(24 * time.Hour) }})
	ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCH_CREDENTIALS{RootStore: roots})
	// Schannel sends the root only with SCH_SEND_ROOT_CERT.
	for _, tt := range []struct {
		flags uint32
		want  [][]byte
	}{{0, [][]byte{leaf.Raw}}, {packages.SCH_SEND_ROOT_CERT, [][]byte{leaf.Raw, ca.Raw}}} {
		scred := acquire(t, p, packages.SECPKG_CRED_INBOUND, &SCH_CREDENTIALS{Creds: []tls.Certificate{p12}, Flags: tt.flags})
		client, server := newPair(t, p, ccred, scred, "localhost", clientReq, serverReq)
		if err := pump(t, client, server, whole); err != nil {
			t.Fatal(err)
		}
		chain, err := client.ctx.QueryAttribute(packages.SECPKG_ATTR_REMOTE_CERT_CHAIN)
		if err != nil || len(chain.([]*x509.Certificate)) != len(tt.want) {
			t.Fatalf("flags %#x: REMOTE_CERT_CHAIN: %v", tt.flags, err)
		}
		rc, _ := client.ctx.QueryAttribute(packages.SECPKG_ATTR_REMOTE_CERTIFICATES)
		var want []byte
		for _, der := range tt.want {
			want = binary.LittleEndian.AppendUint32(want, uint32(len(der)))
			want = append(want, der...)
		}
		if certs := rc.(*SecPkgContext_Certificates); certs.Certificates != uint32(len(tt.want)) || !bytes.Equal(certs.CertificateChain, want) {
			t.Fatalf("flags %#x: REMOTE_CERTIFICATES: %d certificates", tt.flags, certs.Certificates)
		}
	}
}

// TestHandshakeWithData gives the client the server's last flight and the
// first application data in one token: SEC_E_OK with the data as EXTRA.
func TestHandshakeWithData(t *testing.T) {
	k := getPKI()
	for _, vt := range versionTests {
		t.Run(vt.name, func(t *testing.T) {
			p := New(testConfig())
			ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: vt.client})
			client, server := newPair(t, p, ccred, serverCred(t, p, k.server), "localhost", clientReq, serverReq)
			hello, _, _, _ := client.call(t, nil, false)
			flight, _, _, _ := server.call(t, hello, true)
			// The side that finishes first sends its last flight and data
			// together: the TLS 1.2 server (CCS, Finished), the TLS 1.3
			// client (Finished).
			sender, receiver := server, client
			var last []byte
			if vt.want == tls.VersionTLS12 {
				out, st, _, err := client.call(t, flight, true)
				if st != status.SEC_I_CONTINUE_NEEDED {
					t.Fatal(st, err)
				}
				if last, st, _, err = server.call(t, out, true); st != status.SEC_E_OK {
					t.Fatal(st, err)
				}
			} else {
				var st status.Status
				var err error
				if last, st, _, err = client.call(t, flight, true); st != status.SEC_E_OK {
					t.Fatal(st, err)
				}
				sender, receiver = client, server
			}
			data := encrypt(t, sender.ctx, []byte("early words"))
			token := append(append([]byte(nil), last...), data...)
			_, st, extra, err := receiver.call(t, token, true)
			if st != status.SEC_E_OK || err != nil || !bytes.HasSuffix(extra, data) {
				t.Fatalf("last call: %v %v extra %d", st, err, len(extra))
			}
			client = receiver
			plain, left, _ := readAll(t, client, extra)
			if string(plain) != "early words" || len(left) != 0 {
				t.Fatalf("got %q", plain)
			}
		})
	}
}
