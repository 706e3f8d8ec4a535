package alexbrainmantest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexbrainman/sspi/schannel"

	"github.com/gosspi/sspi/internal/peers"
)

// startSServer starts `openssl s_server -www` on a loopback port with a
// fresh self-signed certificate for localhost, limited to TLS version
// flag, and returns its address.
func startSServer(t *testing.T, version string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		peers.Require(t, "openssl (apt-get install -y openssl)", false)
	}
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command("openssl", "s_server", "-accept", addr, "-cert", certFile, "-key", keyFile, version, "-www", "-quiet")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("openssl s_server did not listen: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSchannelClient: the mirror's schannel client (the original's
// example flow: AcquireClientCredentials, NewClientContext, Handshake,
// Write, Read, Shutdown) against OpenSSL's s_server, TLS 1.2 and 1.3.
func TestSchannelClient(t *testing.T) {
	for _, tc := range []struct{ flag, minor string }{{"-tls1_2", "2"}, {"-tls1_3", "3"}} {
		t.Run(tc.flag, func(t *testing.T) {
			addr := startSServer(t, tc.flag)
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			cred, err := schannel.AcquireClientCredentials()
			if err != nil {
				t.Fatal(err)
			}
			defer cred.Release()
			client := schannel.NewClientContext(cred, conn)
			defer client.Release()
			if err := client.Handshake("localhost"); err != nil {
				t.Fatalf("Handshake: %v", err)
			}
			name, major, minor, err := client.ProtocolInfo()
			if err != nil || name != "TLS" || major != 1 || strconv.Itoa(int(minor)) != tc.minor {
				t.Errorf("ProtocolInfo = %q %d.%d, %v", name, major, minor, err)
			}
			if _, err := client.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			page, err := io.ReadAll(client)
			if err != nil && len(page) == 0 {
				t.Fatalf("Read: %v", err)
			}
			if !strings.HasPrefix(string(page), "HTTP/1.0 200 ok") {
				t.Fatalf("s_server answered %.80q", page)
			}
			// s_server -www lists the session: the protocol it negotiated.
			if !strings.Contains(string(page), "TLSv1."+tc.minor) {
				t.Errorf("s_server page does not name TLSv1.%s", tc.minor)
			}
		})
	}
}
