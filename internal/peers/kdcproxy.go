package peers

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/testkit"
)

// KDCProxy is python3-kdcproxy (an MS-KKDCP server, a WSGI application)
// served over HTTPS on 127.0.0.1 by Python's wsgiref, in front of a KDC.
type KDCProxy struct {
	URL    string       // https://localhost:port/KdcProxy
	Client *http.Client // trusts the proxy's test certificate only
}

// kdcProxyServer serves kdcproxy's WSGI application over TLS; it prints
// its port once listening.
const kdcProxyServer = `
import ssl, sys
from wsgiref.simple_server import make_server, WSGIRequestHandler
import kdcproxy

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

srv = make_server("127.0.0.1", 0, kdcproxy.Application(), handler_class=Quiet)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_port, flush=True)
srv.serve_forever()
`

// StartKDCProxy starts python3-kdcproxy for realm, forwarding to the KDC
// at kdcAddr (host:port, TCP and UDP), and stops it when t ends. It
// skips t (fails it under SSPI_INTEROP=1) when python3-kdcproxy is
// missing.
func StartKDCProxy(t testing.TB, realm, kdcAddr string) *KDCProxy {
	t.Helper()
	Require(t, "python3-kdcproxy (apt-get install -y python3-kdcproxy)",
		exec.Command(Python, "-c", "import kdcproxy").Run() == nil)
	dir := t.TempDir()
	ca, err := testkit.NewCA("gosspi test KDC proxy CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(&x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, conf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "kdcproxy.conf")
	write := func(name string, b []byte) {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	write(conf, fmt.Appendf(nil, "[global]\nuse_dns = false\n\n[%s]\nkerberos = kerberos://%s\n", realm, kdcAddr))

	cmd := exec.Command(Python, "-c", kdcProxyServer, certFile, keyFile)
	cmd.Env = append(os.Environ(), "KDCPROXY_CONFIG="+conf)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	portCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			portCh <- strings.TrimSpace(sc.Text())
		}
		close(portCh)
		for sc.Scan() {
		}
		cmd.Wait()
		close(done)
	}()
	var port string
	select {
	case port = <-portCh:
	case <-time.After(10 * time.Second):
	}
	if port == "" {
		t.Fatalf("kdcproxy server did not start: %s", stderr.String())
	}
	return &KDCProxy{
		URL: "https://localhost:" + port + "/KdcProxy",
		Client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		}},
	}
}
