package secbuffer_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// TestTLSExporterOpenSSL checks tls-exporter against OpenSSL's exporter:
// s_client prints the RFC 9266 keying material for our crypto/tls server.
func TestTLSExporterOpenSSL(t *testing.T) {
	openssl := peers.Tool(t, "openssl", "openssl")
	cert := newCert(t, x509.ECDSAWithSHA256)
	for _, v := range []struct{ name, flag string }{{"TLS1.2", "-tls1_2"}, {"TLS1.3", "-tls1_3"}} {
		t.Run(v.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			type result struct {
				cb  *secbuffer.ChannelBindings
				err error
			}
			done := make(chan result, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- result{err: err}
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				if err := tc.Handshake(); err != nil {
					done <- result{err: err}
					return
				}
				st := tc.ConnectionState()
				cb, err := secbuffer.TLSExporter(&st)
				done <- result{cb, err}
				_, _ = io.Copy(io.Discard, tc)
			}()

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", ln.Addr().String(), v.flag,
				"-servername", "localhost", "-keymatexport", secbuffer.TLSExporterLabel, "-keymatexportlen", "32")
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("openssl s_client: %v\n%s", err, out)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
			var km []byte
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if k, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Keying material:"); ok {
					km, err = hex.DecodeString(strings.TrimSpace(k))
					if err != nil {
						t.Fatalf("keying material %q: %v", k, err)
					}
				}
			}
			if len(km) != 32 {
				t.Fatalf("no 32-byte keying material in s_client output:\n%s", out)
			}
			want := append([]byte(secbuffer.PrefixTLSExporter), km...)
			if !bytes.Equal(r.cb.ApplicationData, want) {
				t.Errorf("tls-exporter = %x, OpenSSL says %x", r.cb.ApplicationData, want)
			}
		})
	}
}

// TestTLSExporterWithoutEMS connects to an OpenSSL server with the
// extended master secret switched off: tls-exporter must be refused on
// that TLS 1.2 connection (RFC 9266 §2) while tls-unique still works.
func TestTLSExporterWithoutEMS(t *testing.T) {
	openssl := peers.Tool(t, "openssl", "openssl")
	cert := newCert(t, x509.SHA256WithRSA)
	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	keyFile := filepath.Join(dir, "key.pem")
	confFile := filepath.Join(dir, "openssl.cnf")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	writeFile(t, confFile, []byte(`openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = -ExtendedMasterSecret
`))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // s_server binds it next

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_server", "-accept", addr, "-cert", certFile, "-key", keyFile,
		"-tls1_2", "-naccept", "1", "-www")
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+confFile)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "ACCEPT") {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatalf("openssl s_server did not start: %s", stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	d := &tls.Dialer{Config: &tls.Config{ServerName: "localhost", RootCAs: pool, MaxVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v (%s)", err, stderr.String())
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	if st.Version != tls.VersionTLS12 {
		t.Fatalf("version %x, want TLS 1.2", st.Version)
	}

	cb, err := secbuffer.TLSExporter(&st)
	if cb != nil || status.Code(err) != status.SEC_E_UNSUPPORTED_FUNCTION || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("TLSExporter without EMS = %v, %v; want SEC_E_UNSUPPORTED_FUNCTION", cb, err)
	}
	u, err := secbuffer.TLSUnique(&st)
	if err != nil {
		t.Fatalf("TLSUnique: %v", err)
	}
	if len(u.ApplicationData) != len(secbuffer.PrefixTLSUnique)+12 {
		t.Errorf("tls-unique = %q", u.ApplicationData)
	}
	ep, err := secbuffer.TLSServerEndPoint(&st)
	if err != nil {
		t.Fatal(err)
	}
	want, err := secbuffer.CertificateServerEndPoint(cert.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ep.Marshal(), want.Marshal()) {
		t.Errorf("tls-server-end-point %x, want %x", ep.Marshal(), want.Marshal())
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
