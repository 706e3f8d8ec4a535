package schannel

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// This file runs the package against OpenSSL's s_server and s_client on
// 127.0.0.1. Without openssl the tests skip, unless SSPI_INTEROP=1.

type pemFiles struct{ ca, serverCert, serverKey, clientCert, clientKey string }

func writePEM(t *testing.T) pemFiles {
	t.Helper()
	k := getPKI()
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, blk := range blocks {
			b = append(b, pem.EncodeToMemory(blk)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func(c tls.Certificate) *pem.Block {
		der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	cert := func(der []byte) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: der} }
	return pemFiles{
		ca:         write("ca.pem", cert(k.caCert.Raw)),
		serverCert: write("server.pem", cert(k.server.Certificate[0])),
		serverKey:  write("server.key", key(k.server)),
		clientCert: write("client.pem", cert(k.client.Certificate[0])),
		clientKey:  write("client.key", key(k.client)),
	}
}

// stream drives a context over a real connection the way an application
// does.
type stream struct {
	t    *testing.T
	ctx  packages.Context
	conn net.Conn
	buf  []byte // received, not yet consumed
}

func (s *stream) fill() {
	s.t.Helper()
	b := make([]byte, 32<<10)
	s.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := s.conn.Read(b)
	if n == 0 && err != nil {
		s.t.Fatalf("read: %v", err)
	}
	s.buf = append(s.buf, b[:n]...)
}

func (s *stream) send(b []byte) {
	s.t.Helper()
	if len(b) == 0 {
		return
	}
	if _, err := s.conn.Write(b); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

// step runs one handshake call on the buffered bytes.
func (s *stream) step(first bool, extraIn ...secbuffer.Buffer) (status.Status, error) {
	var in []secbuffer.Buffer
	if !first || s.ctx == nil {
		in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: s.buf}, {Type: secbuffer.SECBUFFER_EMPTY}}
	}
	in = append(in, extraIn...)
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	st, err := s.ctx.Step(context.Background(), in, out)
	if st == status.SEC_E_INCOMPLETE_MESSAGE {
		return st, nil
	}
	if err != nil {
		s.send(out[0].Data) // an alert, with ISC_REQ_EXTENDED_ERROR
		return st, err
	}
	s.send(out[0].Data)
	var rest []byte
	for _, b := range in {
		if b.Type == secbuffer.SECBUFFER_EXTRA {
			rest = append([]byte(nil), b.Data...)
		}
	}
	s.buf = rest
	return st, nil
}

func (s *stream) handshake(client bool, extraIn ...secbuffer.Buffer) error {
	s.t.Helper()
	first := client
	for {
		if !first && len(s.buf) == 0 {
			s.fill()
		}
		st, err := s.step(first, extraIn...)
		first, extraIn = false, nil
		if err != nil {
			return err
		}
		switch st {
		case status.SEC_E_OK:
			return nil
		case status.SEC_E_INCOMPLETE_MESSAGE:
			s.fill()
		case status.SEC_I_CONTINUE_NEEDED, status.SEC_I_INCOMPLETE_CREDENTIALS:
			if len(s.buf) == 0 && st == status.SEC_I_CONTINUE_NEEDED {
				s.fill()
			}
		default:
			return fmt.Errorf("unexpected %v", st)
		}
	}
}

func (s *stream) write(p []byte) {
	s.t.Helper()
	for len(p) > 0 {
		n := min(len(p), maxPlaintext)
		s.send(encrypt(s.t, s.ctx, p[:n]))
		p = p[n:]
	}
}

// read returns the next decrypted bytes, or the informational status that
// ended the stream (SEC_I_CONTEXT_EXPIRED) or a failure.
func (s *stream) read() ([]byte, status.Status, error) {
	s.t.Helper()
	for {
		if len(s.buf) == 0 {
			s.fill()
		}
		r := decrypt(s.ctx, s.buf)
		switch r.st {
		case status.SEC_E_OK:
			s.buf = append([]byte(nil), r.extra...)
			if len(r.data) > 0 {
				return append([]byte(nil), r.data...), r.st, nil
			}
		case status.SEC_E_INCOMPLETE_MESSAGE:
			s.fill()
		case status.SEC_I_RENEGOTIATE:
			s.buf = append([]byte(nil), r.extra...)
			if st, err := s.step(false); err != nil || st != status.SEC_E_OK {
				return nil, st, err
			}
		default:
			s.buf = append([]byte(nil), r.extra...)
			return nil, r.st, r.err
		}
	}
}

// readN reads until n bytes arrived.
func (s *stream) readN(n int) []byte {
	s.t.Helper()
	var got []byte
	for len(got) < n {
		b, st, err := s.read()
		if err != nil || st != status.SEC_E_OK {
			s.t.Fatalf("read after %d of %d bytes: %v %v", len(got), n, st, err)
		}
		got = append(got, b...)
	}
	return got
}

func (s *stream) shutdown() {
	s.t.Helper()
	if err := control(s.t, s.ctx, packages.SCHANNEL_SHUTDOWN); err != nil {
		s.t.Fatal(err)
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	if st, err := s.ctx.Step(context.Background(), nil, out); st != status.SEC_E_OK {
		s.t.Fatalf("shutdown: %v %v", st, err)
	}
	s.send(out[0].Data)
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPiped starts bin with args, with pipes to its standard input and
// output; its standard error collects in stderr.
func startPiped(t *testing.T, bin string, args []string) (cmd *exec.Cmd, stdin io.WriteCloser, stdout io.ReadCloser, stderr *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, stdout, stderr
}

// startServer starts openssl s_server and waits until it accepts.
func startServer(t *testing.T, bin string, args ...string) int {
	t.Helper()
	port, _ := startServerStdin(t, bin, args...)
	return port
}

// startServerStdin is startServer that also returns s_server's standard
// input, where it reads its commands.
func startServerStdin(t *testing.T, bin string, args ...string) (int, io.WriteCloser) {
	t.Helper()
	port := freePort(t)
	args = append([]string{"s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port)}, args...)
	cmd, stdin, stdout, stderr := startPiped(t, bin, args)
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("s_server stderr:\n%s", stderr.String())
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), "ACCEPT") {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("s_server did not start: %s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("s_server did not start")
	}
	return port, stdin
}

func dial(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var opensslVersions = []struct {
	name   string
	flag   string
	client uint32
	server uint32
	bit    uint32
	cipher string // OpenSSL cipher list for TLS 1.2; "" = default
}{
	{"TLS1.2", "-tls1_2", packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_2_SERVER, packages.SP_PROT_TLS1_2_CLIENT, ""},
	{"TLS1.2-CBC", "-tls1_2", packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_2_SERVER, packages.SP_PROT_TLS1_2_CLIENT, "ECDHE-ECDSA-AES256-SHA"},
	{"TLS1.2-CHACHA20", "-tls1_2", packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_2_SERVER, packages.SP_PROT_TLS1_2_CLIENT, "ECDHE-ECDSA-CHACHA20-POLY1305"},
	{"TLS1.3", "-tls1_3", packages.SP_PROT_TLS1_3_CLIENT, packages.SP_PROT_TLS1_3_SERVER, packages.SP_PROT_TLS1_3_CLIENT, ""},
}

// cipherArgs returns the -cipher option of a version entry.
func cipherArgs(cipher string) []string {
	if cipher == "" {
		return nil
	}
	return []string{"-cipher", cipher}
}

// TestOpenSSLServer runs our client against openssl s_server -rev, which
// sends each line back reversed.
func TestOpenSSLServer(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	for _, v := range opensslVersions {
		t.Run(v.name, func(t *testing.T) {
			port := startServer(t, bin, append([]string{"-cert", f.serverCert, "-key", f.serverKey, "-CAfile", f.ca, "-Verify", "1",
				"-alpn", "h2,http/1.1", "-rev", v.flag, "-num_tickets", "2"}, cipherArgs(v.cipher)...)...)
			p := New(&Config{})
			cred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, Creds: []tls.Certificate{k.client}, EnabledProtocols: v.client})
			alpn, _ := MarshalApplicationProtocols("h2", "http/1.1")
			run := func(wantResumed bool, line []byte) {
				ctx, err := cred.NewClientContext("localhost", clientReq)
				if err != nil {
					t.Fatal(err)
				}
				defer ctx.Delete()
				s := &stream{t: t, ctx: ctx, conn: dial(t, port)}
				if err := s.handshake(true, secbuffer.Buffer{Type: secbuffer.SECBUFFER_APPLICATION_PROTOCOLS, Data: alpn}); err != nil {
					t.Fatalf("handshake: %v", err)
				}
				ci, _ := ctx.QueryAttribute(packages.SECPKG_ATTR_CONNECTION_INFO)
				if got := ci.(*SecPkgContext_ConnectionInfo).Protocol; got != v.bit {
					t.Errorf("protocol %#x, want %#x", got, v.bit)
				}
				if v.cipher != "" {
					ci, _ := ctx.QueryAttribute(packages.SECPKG_ATTR_CIPHER_INFO)
					if got := UTF16ToString(ci.(*SecPkgContext_CipherInfo).CipherSuiteName[:]); !strings.Contains(got, map[string]string{"ECDHE-ECDSA-AES256-SHA": "AES_256_CBC_SHA", "ECDHE-ECDSA-CHACHA20-POLY1305": "CHACHA20"}[v.cipher]) {
						t.Errorf("cipher suite %s", got)
					}
				}
				ap, _ := ctx.QueryAttribute(packages.SECPKG_ATTR_APPLICATION_PROTOCOL)
				if got := ap.(*SecPkgContext_ApplicationProtocol).Protocol(); got != "h2" {
					t.Errorf("ALPN %q, want h2", got)
				}
				s.write(append(append([]byte(nil), line...), '\n'))
				got := s.readN(len(line) + 1)
				want := []byte(reverse(string(line)) + "\n")
				if !bytes.Equal(got, want) {
					t.Fatalf("echo: got %d bytes %.40q, want %.40q", len(got), got, want)
				}
				si, _ := ctx.QueryAttribute(packages.SECPKG_ATTR_SESSION_INFO)
				if resumed := si.(*SecPkgContext_SessionInfo).Flags&SSL_SESSION_RECONNECT != 0; resumed != wantResumed {
					t.Errorf("resumed %v, want %v", resumed, wantResumed)
				}
				s.shutdown()
			}
			run(false, []byte("hello over schannel"))
			// A 16 KiB line: the answer comes back in full-size records.
			run(true, bytes.Repeat([]byte("0123456789abcdef"), 1024))
		})
	}
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// sClient is a running openssl s_client.
type sClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

func startClient(t *testing.T, bin string, port int, args ...string) *sClient {
	t.Helper()
	args = append([]string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port)}, args...)
	cmd, stdin, stdout, stderr := startPiped(t, bin, args)
	c := &sClient{cmd: cmd, stdin: stdin, lines: make(chan string, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-done
		cmd.Wait()
		if t.Failed() {
			t.Logf("s_client stderr:\n%s", stderr.String())
		}
	})
	return c
}

// waitLine waits for a line of s_client's output that contains want.
func (c *sClient) waitLine(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("s_client exited before printing %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("s_client did not print %q", want)
		}
	}
}

func listen(t *testing.T) (net.Listener, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, l.Addr().(*net.TCPAddr).Port
}

func accept(t *testing.T, l net.Listener, ctx packages.Context) *stream {
	t.Helper()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &stream{t: t, ctx: ctx, conn: conn}
}

// TestOpenSSLClient runs our server against openssl s_client.
func TestOpenSSLClient(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	for _, v := range opensslVersions {
		t.Run(v.name, func(t *testing.T) {
			p := New(&Config{})
			cred := acquire(t, p, packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}, RootStore: k.roots, EnabledProtocols: v.server})
			alpn, _ := MarshalApplicationProtocols("http/1.1")
			sess := filepath.Join(t.TempDir(), "sess.pem")
			for i, sessArg := range []string{"-sess_out", "-sess_in"} {
				l, port := listen(t)
				c := startClient(t, bin, port, append([]string{"-CAfile", f.ca, "-verify_return_error", "-servername", "localhost",
					"-alpn", "h2,http/1.1", v.flag, "-cert", f.clientCert, "-key", f.clientKey, sessArg, sess}, cipherArgs(v.cipher)...)...)
				ctx, err := cred.NewServerContext(serverReq | packages.ASC_REQ_MUTUAL_AUTH)
				if err != nil {
					t.Fatal(err)
				}
				defer ctx.Delete()
				s := accept(t, l, ctx)
				if err := s.handshake(false, secbuffer.Buffer{Type: secbuffer.SECBUFFER_APPLICATION_PROTOCOLS, Data: alpn}); err != nil {
					t.Fatalf("handshake: %v", err)
				}
				ap, _ := ctx.QueryAttribute(packages.SECPKG_ATTR_APPLICATION_PROTOCOL)
				if got := ap.(*SecPkgContext_ApplicationProtocol).Protocol(); got != "http/1.1" {
					t.Errorf("ALPN %q", got)
				}
				rc, err := ctx.QueryAttribute(packages.SECPKG_ATTR_REMOTE_CERT_CONTEXT)
				if err != nil || !bytes.Equal(rc.(*x509.Certificate).Raw, k.client.Certificate[0]) {
					t.Errorf("client certificate: %v", err)
				}
				si, _ := ctx.QueryAttribute(packages.SECPKG_ATTR_SESSION_INFO)
				if resumed := si.(*SecPkgContext_SessionInfo).Flags&SSL_SESSION_RECONNECT != 0; resumed != (i == 1) {
					t.Errorf("connection %d: resumed %v", i, resumed)
				}
				// Client to server.
				if _, err := io.WriteString(c.stdin, "ping from openssl\n"); err != nil {
					t.Fatal(err)
				}
				if got := s.readN(len("ping from openssl\n")); string(got) != "ping from openssl\n" {
					t.Fatalf("got %q", got)
				}
				// A full 16 KiB record to the client.
				big := bytes.Repeat([]byte("p"), maxPlaintext-1)
				s.write(append(big, '\n'))
				// (s_client may print its own text before the data.)
				if l := c.waitLine(t, "ppppp"); !strings.HasSuffix(l, string(big)) || strings.Count(l, "p") != len(big) {
					t.Fatalf("s_client printed %d bytes", len(l))
				}
				if i == 0 {
					// s_client closes on end of input: its close_notify
					// ends our stream.
					c.stdin.Close()
					for {
						b, st, err := s.read()
						if err != nil {
							t.Fatalf("read: %v", err)
						}
						if st == status.SEC_I_CONTEXT_EXPIRED {
							break
						}
						if len(b) == 0 {
							t.Fatalf("status %v", st)
						}
					}
					s.shutdown()
				} else {
					// We close first.
					s.shutdown()
					c.waitLine(t, "closed")
				}
			}
		})
	}
}

// TestOpenSSLRenegotiation checks that a client-initiated TLS 1.2
// renegotiation is refused with an alert.
func TestOpenSSLRenegotiation(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	p := New(&Config{})
	cred := acquire(t, p, packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}, EnabledProtocols: packages.SP_PROT_TLS1_2_SERVER})
	l, port := listen(t)
	c := startClient(t, bin, port, "-CAfile", f.ca, "-servername", "localhost", "-tls1_2")
	ctx, _ := cred.NewServerContext(serverReq)
	defer ctx.Delete()
	s := accept(t, l, ctx)
	if err := s.handshake(false); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c.stdin, "R\n")
	_, st, err := s.read()
	if st != status.SEC_E_ILLEGAL_MESSAGE || err == nil {
		t.Fatalf("renegotiation: %v %v", st, err)
	}
}

// TestOpenSSLKeyUpdate has s_client send a TLS 1.3 KeyUpdate asking for
// ours: DecryptMessage reports SEC_I_RENEGOTIATE, AcceptSecurityContext
// returns our KeyUpdate, and traffic goes on under the new keys.
func TestOpenSSLKeyUpdate(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	p := New(&Config{})
	cred := acquire(t, p, packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}})
	l, port := listen(t)
	c := startClient(t, bin, port, "-CAfile", f.ca, "-servername", "localhost", "-tls1_3")
	ctx, _ := cred.NewServerContext(serverReq)
	defer ctx.Delete()
	s := accept(t, l, ctx)
	if err := s.handshake(false); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c.stdin, "K\n")
	// The KeyUpdate record: SEC_I_RENEGOTIATE, then ASC with its bytes
	// returns our KeyUpdate.
	for {
		if len(s.buf) == 0 {
			s.fill()
		}
		r := decrypt(ctx, s.buf)
		if r.st == status.SEC_E_INCOMPLETE_MESSAGE {
			s.fill()
			continue
		}
		if r.st == status.SEC_E_OK && len(r.data) == 0 {
			s.buf = append([]byte(nil), r.extra...)
			continue
		}
		if r.st != status.SEC_I_RENEGOTIATE {
			t.Fatalf("DecryptMessage: %v %v %q", r.st, r.err, r.data)
		}
		s.buf = append([]byte(nil), r.extra...)
		in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: s.buf}, {Type: secbuffer.SECBUFFER_EMPTY}}
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
		if st, err := ctx.Step(context.Background(), in, out); st != status.SEC_E_OK {
			t.Fatalf("ASC: %v %v", st, err)
		}
		if len(out[0].Data) == 0 {
			t.Fatal("no KeyUpdate in answer")
		}
		s.send(out[0].Data)
		s.buf = nil
		if in[1].Type == secbuffer.SECBUFFER_EXTRA {
			s.buf = append([]byte(nil), in[1].Data...)
		}
		break
	}
	io.WriteString(c.stdin, "after update\n")
	if got := s.readN(len("after update\n")); string(got) != "after update\n" {
		t.Fatalf("got %q", got)
	}
	s.write([]byte("pong under new keys\n"))
	c.waitLine(t, "pong under new keys")
	s.shutdown()
}

// TestOpenSSLServerRenegotiation has s_server send a TLS 1.2 HelloRequest:
// DecryptMessage reports SEC_I_RENEGOTIATE and the handshake call that
// takes it refuses with an alert.
func TestOpenSSLServerRenegotiation(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	port, stdin := startServerStdin(t, bin, "-cert", f.serverCert, "-key", f.serverKey, "-tls1_2")
	p := New(&Config{})
	cred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_2_CLIENT})
	ctx, _ := cred.NewClientContext("localhost", clientReq)
	defer ctx.Delete()
	s := &stream{t: t, ctx: ctx, conn: dial(t, port)}
	if err := s.handshake(true); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "r\n")
	for {
		if len(s.buf) == 0 {
			s.fill()
		}
		r := decrypt(ctx, s.buf)
		if r.st == status.SEC_E_INCOMPLETE_MESSAGE {
			s.fill()
			continue
		}
		if r.st != status.SEC_I_RENEGOTIATE {
			t.Fatalf("DecryptMessage: %v %v", r.st, r.err)
		}
		s.buf = append([]byte(nil), r.extra...)
		break
	}
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: s.buf}, {Type: secbuffer.SECBUFFER_EMPTY}}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	st, err := ctx.Step(context.Background(), in, out)
	if st != status.SEC_E_ILLEGAL_MESSAGE || err == nil || len(out[0].Data) == 0 || out[0].Data[0] != recordTypeAlert {
		t.Fatalf("ISC: %v %v alert % x", st, err, out[0].Data)
	}
}
