package schannel

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// These tests check the order of our records around a TLS 1.3 KeyUpdate
// the peer sent with update_requested: records sealed before the
// handshake call that returns our KeyUpdate must be under the old key,
// those sealed after it under the new one, so that a caller sending every
// output in the order the calls produced it never sends a record under a
// key the peer does not have yet.

// tlsPeer is crypto/tls on one end of a loopback TCP connection and one of our contexts
// on the other. crypto/tls cannot send a KeyUpdate, so the test seals one
// in the peer's name with the peer's application traffic secret (from its
// KeyLogWriter); the peer only reads after the handshake, so its own
// write state never matters again.
type tlsPeer struct {
	s    *stream
	peer *tls.Conn
	log  *secretLog
	w    *sealer13 // the peer's write direction, as the test forges it

	mu   sync.Mutex
	got  []byte
	err  error
	more chan struct{}
}

func newTLSPeer(t *testing.T, ourClient bool) *tlsPeer {
	t.Helper()
	k := getPKI()
	c1, c2 := tcpPair(t)
	p := New(testConfig())
	// The peer's write secret: a server's when we are the client.
	tp := &tlsPeer{log: newSecretLog(!ourClient, nil), more: make(chan struct{}, 1)}
	var ctx packages.Context
	var err error
	if ourClient {
		cred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_3_CLIENT})
		ctx, err = cred.NewClientContext("localhost", clientReq)
		// No tickets: the peer has sealed no record under its application
		// secret when the test forges its first one.
		tp.peer = tls.Server(c2, &tls.Config{Certificates: []tls.Certificate{k.server}, MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true, KeyLogWriter: tp.log, Time: testConfig().Time})
	} else {
		// Tickets on: our server seals its NewSessionTicket under its
		// application secret during the handshake, and its own records
		// must follow it.
		cred := acquire(t, p, packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}, EnabledProtocols: packages.SP_PROT_TLS1_3_SERVER})
		ctx, err = cred.NewServerContext(serverReq)
		tp.peer = tls.Client(c2, &tls.Config{RootCAs: k.roots, ServerName: "localhost", MinVersion: tls.VersionTLS13, KeyLogWriter: tp.log, Time: testConfig().Time})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctx.Delete)
	hs := make(chan error, 1)
	go func() {
		err := tp.peer.Handshake()
		hs <- err
		if err != nil {
			return
		}
		b := make([]byte, 32<<10)
		for {
			n, err := tp.peer.Read(b)
			tp.mu.Lock()
			tp.got = append(tp.got, b[:n]...)
			tp.err = err
			tp.mu.Unlock()
			select {
			case tp.more <- struct{}{}:
			default:
			}
			if err != nil {
				c2.Close() // our writes fail rather than block
				return
			}
		}
	}()
	tp.s = &stream{t: t, ctx: ctx, conn: c1}
	if err := tp.s.handshake(ourClient); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}
	suite := lookupSuite(tp.peer.ConnectionState().CipherSuite)
	secret := tp.log.take()
	if suite == nil || !suite.tls13 || secret == nil {
		t.Fatalf("no TLS 1.3 application secret from the peer (suite %v)", suite)
	}
	if tp.w, err = newSealer13(suite, secret); err != nil {
		t.Fatal(err)
	}
	return tp
}

// tcpPair returns the two ends of a TCP connection on 127.0.0.1 (a
// net.Pipe has no buffer: a peer failing with an alert to send would
// block).
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, _ := listen(t)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	c1, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2 := <-accepted
	if c2 == nil {
		c1.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return c1, c2
}

// keyUpdate forges the peer's next KeyUpdate record.
func (tp *tlsPeer) keyUpdate(t *testing.T, requested bool) []byte {
	t.Helper()
	msg := keyUpdateNotRequested
	if requested {
		msg[4] = 1
	}
	rec, err := tp.w.record(recordTypeHandshake, msg[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.w.update(); err != nil {
		t.Fatal(err)
	}
	return rec
}

// waitFor waits until the peer has read want, and fails on anything else.
func (tp *tlsPeer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		tp.mu.Lock()
		got, err := string(tp.got), tp.err
		tp.mu.Unlock()
		if len(got) >= len(want) {
			if got != want {
				t.Fatalf("peer read %q, want %q", got, want)
			}
			return
		}
		if err != nil {
			t.Fatalf("peer read %q, then: %v", got, err)
		}
		select {
		case <-tp.more:
		case <-deadline:
			t.Fatalf("peer read %q, still waiting for %q", got, want)
		}
	}
}

// answer makes the handshake call that takes the bytes DecryptMessage
// returned with SEC_I_RENEGOTIATE and returns its output token.
func answer(ctx packages.Context, extra []byte) ([]byte, error) {
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: extra}, {Type: secbuffer.SECBUFFER_EMPTY}}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	st, err := ctx.Step(context.Background(), in, out)
	if st != status.SEC_E_OK {
		return nil, fmt.Errorf("handshake call after SEC_I_RENEGOTIATE: %v %v", st, err)
	}
	if in[1].Type == secbuffer.SECBUFFER_EXTRA {
		return nil, fmt.Errorf("handshake call left %d bytes of one record", len(in[1].Data))
	}
	return out[0].Data, nil
}

// seal is encrypt for goroutines other than the test's.
func seal(ctx packages.Context, plain []byte) ([]byte, error) {
	buf := make([]byte, 5+len(plain)+17)
	copy(buf[5:], plain)
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: buf[:5]},
		{Type: secbuffer.SECBUFFER_DATA, Data: buf[5 : 5+len(plain)]},
		{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: buf[5+len(plain):]},
		{Type: secbuffer.SECBUFFER_EMPTY},
	}
	if st, err := ctx.Session().EncryptMessage(0, msg, 0); st != status.SEC_E_OK {
		return nil, fmt.Errorf("EncryptMessage: %v %v", st, err)
	}
	if len(msg[0].Data) != 5 || len(msg[2].Data) != 17 {
		return nil, fmt.Errorf("EncryptMessage: header %d, trailer %d bytes", len(msg[0].Data), len(msg[2].Data))
	}
	return buf, nil
}

// isKeyUpdateRecord reports whether rec has the size of a TLS 1.3 record
// holding one unpadded KeyUpdate.
func isKeyUpdateRecord(rec []byte) bool {
	return len(rec) == recordHeaderLen+len(keyUpdateNotRequested)+1+aeadTagLen && rec[0] == recordTypeApplicationData
}

func roleName(ourClient bool) string {
	if ourClient {
		return "our-client"
	}
	return "our-server"
}

// TestKeyUpdateAnswerOrder: a record sealed after DecryptMessage took the
// peer's KeyUpdate but before the handshake call returned ours is under
// the old key; the one after, under the new key. crypto/tls reads all.
func TestKeyUpdateAnswerOrder(t *testing.T) {
	for _, ourClient := range []bool{true, false} {
		t.Run(roleName(ourClient), func(t *testing.T) {
			tp := newTLSPeer(t, ourClient)
			ctx := tp.s.ctx
			tp.s.write([]byte("hello|"))
			tp.waitFor(t, "hello|")

			ku := tp.keyUpdate(t, true)
			r := decrypt(ctx, ku)
			if r.st != status.SEC_I_RENEGOTIATE || !bytes.Equal(r.extra, ku) {
				t.Fatalf("DecryptMessage(KeyUpdate): %v %v, EXTRA %d bytes", r.st, r.err, len(r.extra))
			}
			tp.s.write([]byte("sealed before our KeyUpdate|"))
			out, err := answer(ctx, r.extra)
			if err != nil {
				t.Fatal(err)
			}
			if !isKeyUpdateRecord(out) {
				t.Fatalf("answer is % x, not one KeyUpdate record", out)
			}
			tp.s.send(out)
			tp.s.write([]byte("sealed after it|"))
			tp.waitFor(t, "hello|sealed before our KeyUpdate|sealed after it|")

			// The peer's next records are under its new key; a KeyUpdate
			// without update_requested needs no answer.
			ku = tp.keyUpdate(t, false)
			if r := decrypt(ctx, ku); r.st != status.SEC_I_RENEGOTIATE {
				t.Fatalf("DecryptMessage(KeyUpdate, not requested): %v %v", r.st, r.err)
			}
			if out, err := answer(ctx, nil); err != nil || len(out) != 0 {
				t.Fatalf("answer to an unrequested KeyUpdate: % x %v", out, err)
			}
			tp.s.write([]byte("end"))
			tp.waitFor(t, "hello|sealed before our KeyUpdate|sealed after it|end")
		})
	}
}

// TestKeyUpdateWithWriter: a writer goroutine seals and sends records
// while the peer's KeyUpdates arrive and are answered; it and the
// goroutine answering take one lock around "call and send", as the
// package doc asks. Every record reaches crypto/tls intact.
func TestKeyUpdateWithWriter(t *testing.T) {
	for _, ourClient := range []bool{true, false} {
		t.Run(roleName(ourClient), func(t *testing.T) {
			tp := newTLSPeer(t, ourClient)
			ctx, conn := tp.s.ctx, tp.s.conn
			var mu sync.Mutex // order of the bytes on the wire
			var sent atomic.Int64
			stop := make(chan struct{})
			werr := make(chan error, 1)
			go func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						werr <- nil
						return
					default:
					}
					mu.Lock()
					rec, err := seal(ctx, fmt.Appendf(nil, "%06d|", i))
					if err == nil {
						conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
						_, err = conn.Write(rec)
					}
					mu.Unlock()
					if err != nil {
						werr <- err
						return
					}
					sent.Add(1)
				}
			}()
			for range 5 {
				ku := tp.keyUpdate(t, true)
				r := decrypt(ctx, ku)
				if r.st != status.SEC_I_RENEGOTIATE {
					t.Fatalf("DecryptMessage(KeyUpdate): %v %v", r.st, r.err)
				}
				// Let the writer seal a few records before the answer.
				waitSent(t, &sent, werr)
				mu.Lock()
				out, err := answer(ctx, r.extra)
				if err == nil {
					conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
					_, err = conn.Write(out)
				}
				mu.Unlock()
				if err != nil {
					t.Fatal(err)
				}
				waitSent(t, &sent, werr)
			}
			close(stop)
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for i := range int(sent.Load()) {
				fmt.Fprintf(&want, "%06d|", i)
			}
			tp.waitFor(t, want.String())
		})
	}
}

// waitSent waits until the writer sent three more records, or fails
// with the writer's error.
func waitSent(t *testing.T, sent *atomic.Int64, werr chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n := sent.Load(); sent.Load() < n+3; {
		select {
		case err := <-werr:
			t.Fatalf("writer: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer is stuck")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// startServerLines starts openssl s_server and returns its port, its
// standard input (commands) and the lines it prints (what it received).
func startServerLines(t *testing.T, bin string, args ...string) (int, *bufio.Writer, <-chan string) {
	t.Helper()
	port := freePort(t)
	args = append([]string{"s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port)}, args...)
	cmd, stdin, stdout, stderr := startPiped(t, bin, args)
	lines := make(chan string, 1<<16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
		if t.Failed() {
			t.Logf("s_server stderr:\n%s", stderr.String())
		}
	})
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("s_server did not start: %s", stderr.String())
			}
			if strings.Contains(l, "ACCEPT") {
				return port, bufio.NewWriter(stdin), lines
			}
		case <-timeout:
			t.Fatal("s_server did not start")
		}
	}
}

// command sends one interactive command line to s_server.
func command(t *testing.T, w *bufio.Writer, cmd string) {
	t.Helper()
	if _, err := w.WriteString(cmd + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// waitLines waits until s_server printed each of want, in order, and
// fails on an error line.
func waitLines(t *testing.T, lines <-chan string, want ...string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for len(want) > 0 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("s_server exited; still waiting for %q", want[0])
			}
			if strings.Contains(l, "ERROR") || strings.Contains(strings.ToLower(l), "bad record mac") || strings.Contains(strings.ToLower(l), "decryption failed") {
				t.Fatalf("s_server: %s (waiting for %q)", l, want[0])
			}
			if strings.Contains(l, want[0]) {
				want = want[1:]
			}
		case <-timeout:
			t.Fatalf("s_server did not print %q", want[0])
		}
	}
}

// reader decrypts what s_server sends on its own goroutine and answers
// every SEC_I_RENEGOTIATE under mu; it reports each KeyUpdate it took on
// keyUpdates before answering, after waiting on hold (if not nil).
type reader struct {
	ctx        packages.Context
	conn       net.Conn
	mu         *sync.Mutex
	keyUpdates chan struct{}
	hold       chan struct{}
	answered   chan struct{} // a KeyUpdate answer was sent
	err        chan error
}

func (r *reader) run() {
	var buf []byte
	b := make([]byte, 32<<10)
	for {
		if len(buf) == 0 {
			n, err := r.conn.Read(b)
			if n == 0 && err != nil {
				r.err <- err
				return
			}
			buf = append(buf, b[:n]...)
		}
		d := decrypt(r.ctx, buf)
		switch d.st {
		case status.SEC_E_OK:
			buf = append([]byte(nil), d.extra...)
		case status.SEC_E_INCOMPLETE_MESSAGE:
			n, err := r.conn.Read(b)
			if n == 0 && err != nil {
				r.err <- err
				return
			}
			buf = append(buf, b[:n]...)
		case status.SEC_I_RENEGOTIATE:
			n, _, _ := nextRecord(d.extra)
			if isKeyUpdateRecord(d.extra[:n]) {
				r.keyUpdates <- struct{}{}
				if r.hold != nil {
					<-r.hold
				}
			}
			r.mu.Lock()
			out, err := answer(r.ctx, d.extra[:n])
			if err == nil {
				_, err = r.conn.Write(out)
			}
			r.mu.Unlock()
			if err != nil {
				r.err <- err
				return
			}
			if isKeyUpdateRecord(d.extra[:n]) && r.answered != nil {
				r.answered <- struct{}{}
			}
			buf = append([]byte(nil), d.extra[n:]...)
		default:
			r.err <- fmt.Errorf("DecryptMessage: %v %v", d.st, d.err)
			return
		}
	}
}

// TestOpenSSLKeyUpdateWhileWriting has s_server send a KeyUpdate asking
// for ours (its "K" command) and our client seal a record between
// DecryptMessage and the handshake call that answers, then one after the
// answer went out. s_server must decrypt both.
func TestOpenSSLKeyUpdateWhileWriting(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	port, stdin, lines := startServerLines(t, bin, "-cert", f.serverCert, "-key", f.serverKey, "-tls1_3")
	p := New(&Config{})
	cred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_3_CLIENT})
	ctx, _ := cred.NewClientContext("localhost", clientReq)
	defer ctx.Delete()
	s := &stream{t: t, ctx: ctx, conn: dial(t, port)}
	if err := s.handshake(true); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	// Seal and send under one lock, as the reader answers.
	send := func(line string) error {
		mu.Lock()
		defer mu.Unlock()
		rec, err := seal(ctx, []byte(line+"\n"))
		if err == nil {
			_, err = s.conn.Write(rec)
		}
		return err
	}
	r := &reader{ctx: ctx, conn: s.conn, mu: &mu, keyUpdates: make(chan struct{}, 16), hold: make(chan struct{}), answered: make(chan struct{}, 16), err: make(chan error, 1)}
	go r.run()
	fail := func(format string, args ...any) {
		t.Helper()
		select {
		case err := <-r.err:
			t.Fatalf(format+" (reader: %v)", append(args, err)...)
		default:
			t.Fatalf(format, args...)
		}
	}
	if err := send("hello"); err != nil {
		t.Fatal(err)
	}
	waitLines(t, lines, "hello")

	// One record sealed while the KeyUpdate waits for its answer.
	command(t, stdin, "K")
	select {
	case <-r.keyUpdates:
	case <-time.After(15 * time.Second):
		fail("no KeyUpdate from s_server")
	}
	if err := send("between"); err != nil {
		t.Fatal(err)
	}
	r.hold <- struct{}{}
	select {
	case <-r.answered:
	case <-time.After(15 * time.Second):
		fail("KeyUpdate not answered")
	}
	if err := send("after"); err != nil {
		t.Fatal(err)
	}
	waitLines(t, lines, "between", "after")
}

// TestOpenSSLKeyUpdateWriterGoroutine: a writer goroutine seals and sends
// lines while s_server sends five KeyUpdates asking for ours, answered by
// the reading goroutine under the writer's lock.
func TestOpenSSLKeyUpdateWriterGoroutine(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	port, stdin, lines := startServerLines(t, bin, "-cert", f.serverCert, "-key", f.serverKey, "-tls1_3")
	p := New(&Config{})
	cred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_3_CLIENT})
	ctx, _ := cred.NewClientContext("localhost", clientReq)
	defer ctx.Delete()
	s := &stream{t: t, ctx: ctx, conn: dial(t, port)}
	if err := s.handshake(true); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	r := &reader{ctx: ctx, conn: s.conn, mu: &mu, keyUpdates: make(chan struct{}, 16), err: make(chan error, 1)}
	go r.run()
	var sent atomic.Int64
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				werr <- nil
				return
			default:
			}
			mu.Lock()
			rec, err := seal(ctx, fmt.Appendf(nil, "w%06d\n", i))
			if err == nil {
				_, err = s.conn.Write(rec)
			}
			mu.Unlock()
			if err != nil {
				werr <- err
				return
			}
			sent.Add(1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	for range 5 {
		command(t, stdin, "K")
		select {
		case <-r.keyUpdates:
		case err := <-r.err:
			t.Fatalf("reader: %v", err)
		case <-time.After(15 * time.Second):
			t.Fatal("no KeyUpdate from s_server")
		}
		time.Sleep(30 * time.Millisecond)
	}
	close(stop)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	n := int(sent.Load())
	if n < 20 {
		t.Fatalf("the writer sent only %d lines", n)
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("w%06d", i)
	}
	waitLines(t, lines, want...)
}

// TestOpenSSLTLS13Suites runs each TLS 1.3 cipher suite (our records are
// sealed by record13.go, with SHA-256 or SHA-384 key derivation and
// AES-GCM or ChaCha20-Poly1305) both ways: our client against s_server
// through one KeyUpdate each way, our server against s_client, whose
// session ticket our server seals during the handshake.
func TestOpenSSLTLS13Suites(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	for _, suite := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run(suite+"/our-client", func(t *testing.T) {
			port, stdin, lines := startServerLines(t, bin, "-cert", f.serverCert, "-key", f.serverKey, "-tls1_3", "-ciphersuites", suite)
			cred := acquire(t, New(&Config{}), packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_3_CLIENT})
			ctx, _ := cred.NewClientContext("localhost", clientReq)
			defer ctx.Delete()
			s := &stream{t: t, ctx: ctx, conn: dial(t, port)}
			if err := s.handshake(true); err != nil {
				t.Fatal(err)
			}
			checkSuite(t, ctx, suite)
			var mu sync.Mutex
			r := &reader{ctx: ctx, conn: s.conn, mu: &mu, keyUpdates: make(chan struct{}, 16), answered: make(chan struct{}, 16), err: make(chan error, 1)}
			go r.run()
			send := func(line string) {
				mu.Lock()
				defer mu.Unlock()
				rec, err := seal(ctx, []byte(line+"\n"))
				if err == nil {
					_, err = s.conn.Write(rec)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			send("first record")
			waitLines(t, lines, "first record")
			command(t, stdin, "K")
			select {
			case <-r.answered:
			case err := <-r.err:
				t.Fatalf("reader: %v", err)
			case <-time.After(15 * time.Second):
				t.Fatal("no KeyUpdate from s_server")
			}
			send("under the next key")
			waitLines(t, lines, "under the next key")
		})
		t.Run(suite+"/our-server", func(t *testing.T) {
			cred := acquire(t, New(&Config{}), packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}, EnabledProtocols: packages.SP_PROT_TLS1_3_SERVER})
			l, port := listen(t)
			c := startClient(t, bin, port, "-CAfile", f.ca, "-servername", "localhost", "-tls1_3", "-ciphersuites", suite)
			ctx, _ := cred.NewServerContext(serverReq)
			defer ctx.Delete()
			s := accept(t, l, ctx)
			if err := s.handshake(false); err != nil {
				t.Fatal(err)
			}
			checkSuite(t, ctx, suite)
			s.write([]byte("from our server\n"))
			c.waitLine(t, "from our server")
			if _, err := io.WriteString(c.stdin, "from s_client\n"); err != nil {
				t.Fatal(err)
			}
			if got := s.readN(len("from s_client\n")); string(got) != "from s_client\n" {
				t.Fatalf("got %q", got)
			}
			s.shutdown()
			c.waitLine(t, "closed")
		})
	}
}

// checkSuite fails unless ctx negotiated the TLS 1.3 suite named.
func checkSuite(t *testing.T, ctx packages.Context, name string) {
	t.Helper()
	c := ctx.(*schannelContext)
	if got := tls.CipherSuiteName(c.cs.CipherSuite); got != name {
		t.Fatalf("negotiated %s, want %s", got, name)
	}
}

// TestRecordKeysNotPrinted: the TLS 1.3 write state and the key-log
// catcher print no secret with any verb, and Delete zeroes the secret.
func TestRecordKeysNotPrinted(t *testing.T) {
	client, _ := established(t, packages.SP_PROT_TLS1_3_CLIENT)
	c := client.ctx.(*schannelContext)
	w := c.w13
	if w == nil {
		t.Fatal("no TLS 1.3 sealer")
	}
	secret := w.secret
	hexSecret := fmt.Sprintf("%x", secret)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		for _, v := range []any{w, *w, c.keyLog} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, hexSecret) || strings.Contains(out, fmt.Sprint(secret)) {
				t.Fatalf("%s prints the secret: %s", verb, out)
			}
		}
	}
	client.ctx.Delete()
	if !bytes.Equal(secret, make([]byte, len(secret))) {
		t.Fatal("Delete left the traffic secret in memory")
	}
}

// TestOpenSSLRecordPadding: OpenSSL pads every TLS 1.3 record it sends
// (-record_padding), application data, tickets and KeyUpdates alike; we
// open them ourselves and must strip the padding (RFC 8446 §5.4).
func TestOpenSSLRecordPadding(t *testing.T) {
	bin := peers.Tool(t, "openssl", "openssl")
	f := writePEM(t)
	k := getPKI()
	t.Run("our-client", func(t *testing.T) {
		port, stdin, lines := startServerLines(t, bin, "-cert", f.serverCert, "-key", f.serverKey, "-tls1_3", "-record_padding", "512")
		cred := acquire(t, New(&Config{}), packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_3_CLIENT})
		ctx, _ := cred.NewClientContext("localhost", clientReq)
		defer ctx.Delete()
		s := &stream{t: t, ctx: ctx, conn: dial(t, port)}
		if err := s.handshake(true); err != nil {
			t.Fatal(err)
		}
		s.write([]byte("before\n"))
		waitLines(t, lines, "before")
		command(t, stdin, "K")
		time.Sleep(200 * time.Millisecond) // s_server drops the rest of a read holding a command
		command(t, stdin, "padded from s_server")
		if got := s.readN(len("padded from s_server\n")); string(got) != "padded from s_server\n" {
			t.Fatalf("got %q", got)
		}
		s.write([]byte("after\n"))
		waitLines(t, lines, "after")
	})
	t.Run("our-server", func(t *testing.T) {
		cred := acquire(t, New(&Config{}), packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}, EnabledProtocols: packages.SP_PROT_TLS1_3_SERVER})
		l, port := listen(t)
		c := startClient(t, bin, port, "-CAfile", f.ca, "-servername", "localhost", "-tls1_3", "-record_padding", "512")
		ctx, _ := cred.NewServerContext(serverReq)
		defer ctx.Delete()
		s := accept(t, l, ctx)
		if err := s.handshake(false); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c.stdin, "K\n"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // s_client drops the rest of a read holding a command
		if _, err := io.WriteString(c.stdin, "padded from s_client\n"); err != nil {
			t.Fatal(err)
		}
		if got := s.readN(len("padded from s_client\n")); string(got) != "padded from s_client\n" {
			t.Fatalf("got %q", got)
		}
		s.write([]byte("from our server\n"))
		c.waitLine(t, "from our server")
	})
}
