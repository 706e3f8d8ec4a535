package schannel

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// testNow is the clock of every test context.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type testPKI struct {
	caCert  *x509.Certificate
	caKey   *ecdsa.PrivateKey
	roots   *x509.CertPool
	server  tls.Certificate // localhost, 127.0.0.1
	expired tls.Certificate // localhost, expired at testNow
	client  tls.Certificate // client auth
	otherCA tls.Certificate // self-signed localhost not chaining to caCert
}

var (
	pkiOnce sync.Once
	pki     *testPKI
)

func getPKI() *testPKI {
	pkiOnce.Do(func() {
		ca, err := testkit.NewCA("gosspi test CA", testNow)
		if err != nil {
			panic(err)
		}
		p := &testPKI{caCert: ca.Cert, caKey: ca.Key, roots: ca.Pool()}
		leaf := func(serial int64, cn string, notBefore, notAfter time.Time, usage x509.ExtKeyUsage, ca *testkit.CA) tls.Certificate {
			t := &x509.Certificate{
				SerialNumber: big.NewInt(serial),
				Subject:      pkix.Name{CommonName: cn},
				NotBefore:    notBefore,
				NotAfter:     notAfter,
				KeyUsage:     x509.KeyUsageDigitalSignature,
				ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			}
			if usage == x509.ExtKeyUsageServerAuth {
				t.DNSNames = []string{cn}
				t.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			}
			c, err := ca.Issue(t)
			if err != nil {
				panic(err)
			}
			return c
		}
		p.server = leaf(2, "localhost", testNow.AddDate(0, -1, 0), testNow.AddDate(1, 0, 0), x509.ExtKeyUsageServerAuth, ca)
		p.expired = leaf(3, "localhost", testNow.AddDate(-2, 0, 0), testNow.AddDate(-1, 0, 0), x509.ExtKeyUsageServerAuth, ca)
		p.client = leaf(4, "alice", testNow.AddDate(0, -1, 0), testNow.AddDate(1, 0, 0), x509.ExtKeyUsageClientAuth, ca)
		p.otherCA = leaf(5, "localhost", testNow.AddDate(0, -1, 0), testNow.AddDate(1, 0, 0), x509.ExtKeyUsageServerAuth, nil)
		pki = p
	})
	return pki
}

func testConfig() *Config {
	return &Config{Time: func() time.Time { return testNow }}
}

const (
	clientReq = packages.ISC_REQ_SEQUENCE_DETECT | packages.ISC_REQ_REPLAY_DETECT | packages.ISC_REQ_CONFIDENTIALITY |
		packages.ISC_REQ_EXTENDED_ERROR | packages.ISC_REQ_ALLOCATE_MEMORY | packages.ISC_REQ_STREAM
	serverReq = packages.ASC_REQ_SEQUENCE_DETECT | packages.ASC_REQ_REPLAY_DETECT | packages.ASC_REQ_CONFIDENTIALITY |
		packages.ASC_REQ_EXTENDED_ERROR | packages.ASC_REQ_ALLOCATE_MEMORY | packages.ASC_REQ_STREAM
)

func acquire(t testing.TB, p *Package, use uint32, authData any) packages.Credentials {
	t.Helper()
	c, err := p.AcquireCredentials(context.Background(), "", use, authData)
	if err != nil {
		t.Fatalf("AcquireCredentials: %v", err)
	}
	return c
}

// endpoint is one side of an in-memory connection driven the way Schannel
// callers drive it: bytes arrive in chunks, are accumulated, and EXTRA
// bytes are kept for the next call.
type endpoint struct {
	name   string
	ctx    packages.Context
	client bool
	acc    []byte // received, not consumed
	wire   []byte // sent, not yet delivered to the peer
	done   bool
	calls  int
	alpn   []byte // SEC_APPLICATION_PROTOCOLS for the first call
	legs   []status.Status
}

func (e *endpoint) call(t testing.TB, input []byte, withInput bool) ([]byte, status.Status, []byte, error) {
	t.Helper()
	var in []secbuffer.Buffer
	if withInput {
		in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: input}, secbuffer.Buffer{Type: secbuffer.SECBUFFER_EMPTY})
	}
	if e.calls == 0 && e.alpn != nil {
		in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_APPLICATION_PROTOCOLS, Data: e.alpn})
	}
	e.calls++
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	st, err := e.ctx.Step(context.Background(), in, out)
	var extra []byte
	for _, b := range in {
		if b.Type == secbuffer.SECBUFFER_EXTRA {
			extra = b.Data
		}
	}
	e.legs = append(e.legs, st)
	return out[0].Data, st, extra, err
}

// process calls ISC/ASC on the accumulated bytes until it needs more.
func (e *endpoint) process(t testing.TB, peer *endpoint) error {
	t.Helper()
	for !e.done {
		out, st, extra, err := e.call(t, e.acc, true)
		if st == status.SEC_E_INCOMPLETE_MESSAGE {
			return nil
		}
		if err != nil {
			return err
		}
		e.wire = append(e.wire, out...)
		e.acc = append([]byte(nil), extra...)
		switch st {
		case status.SEC_E_OK:
			e.done = true
			return nil
		case status.SEC_I_INCOMPLETE_CREDENTIALS:
			continue
		case status.SEC_I_CONTINUE_NEEDED:
			if len(e.acc) == 0 {
				return nil
			}
		default:
			t.Fatalf("%s: unexpected status %v", e.name, st)
		}
	}
	return nil
}

// pump runs the handshake; split returns the size of the next chunk to
// deliver out of n pending bytes.
// fullHandshake runs one complete handshake between new contexts from
// ccred and scred, then deletes both.
func fullHandshake(t testing.TB, ccred, scred packages.Credentials) {
	t.Helper()
	cc, _ := ccred.NewClientContext("localhost", clientReq)
	sc, _ := scred.NewServerContext(serverReq)
	if err := pump(t, &endpoint{name: "client", ctx: cc, client: true}, &endpoint{name: "server", ctx: sc}, whole); err != nil {
		t.Fatal(err)
	}
	cc.Delete()
	sc.Delete()
}

func pump(t testing.TB, client, server *endpoint, split func(n int) int) error {
	t.Helper()
	out, st, _, err := client.call(t, nil, false)
	if err != nil {
		return err
	}
	if st != status.SEC_I_CONTINUE_NEEDED {
		t.Fatalf("first ISC: %v", st)
	}
	client.wire = out
	for i := 0; i < 1_000_000; i++ {
		var from, to *endpoint
		switch {
		case len(client.wire) > 0:
			from, to = client, server
		case len(server.wire) > 0:
			from, to = server, client
		default:
			if client.done && server.done {
				return nil
			}
			t.Fatalf("handshake stalled: client done=%v server done=%v", client.done, server.done)
		}
		n := split(len(from.wire))
		if n < 1 {
			n = 1
		}
		if n > len(from.wire) {
			n = len(from.wire)
		}
		to.acc = append(to.acc, from.wire[:n]...)
		from.wire = from.wire[n:]
		if to.done {
			continue // application data: stays in acc
		}
		if err := to.process(t, from); err != nil {
			return err
		}
	}
	t.Fatal("handshake did not finish")
	return nil
}

func whole(n int) int   { return n }
func oneByte(n int) int { return 1 }

// encrypt seals plain with EncryptMessage and returns the record.
func encrypt(t testing.TB, c packages.Context, plain []byte) []byte {
	t.Helper()
	szA, err := c.QueryAttribute(packages.SECPKG_ATTR_STREAM_SIZES)
	if err != nil {
		t.Fatalf("STREAM_SIZES: %v", err)
	}
	sz := szA.(*packages.SecPkgContext_StreamSizes)
	buf := make([]byte, int(sz.Header)+len(plain)+int(sz.Trailer))
	copy(buf[sz.Header:], plain)
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: buf[:sz.Header]},
		{Type: secbuffer.SECBUFFER_DATA, Data: buf[sz.Header : int(sz.Header)+len(plain)]},
		{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: buf[int(sz.Header)+len(plain):]},
		{Type: secbuffer.SECBUFFER_EMPTY},
	}
	if st, err := c.Session().EncryptMessage(0, msg, 0); err != nil || st != status.SEC_E_OK {
		t.Fatalf("EncryptMessage: %v %v", st, err)
	}
	var rec []byte
	for _, b := range msg[:3] {
		rec = append(rec, b.Data...)
	}
	return rec
}

// decryptResult is one DecryptMessage outcome.
type decryptResult struct {
	st    status.Status
	err   error
	data  []byte
	extra []byte
	miss  int
}

func decrypt(c packages.Context, in []byte) decryptResult {
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_DATA, Data: in},
		{Type: secbuffer.SECBUFFER_EMPTY},
		{Type: secbuffer.SECBUFFER_EMPTY},
		{Type: secbuffer.SECBUFFER_EMPTY},
	}
	_, st, err := c.Session().DecryptMessage(msg, 0)
	r := decryptResult{st: st, err: err, miss: -1}
	for _, b := range msg {
		switch b.Type {
		case secbuffer.SECBUFFER_DATA:
			if st != status.SEC_E_INCOMPLETE_MESSAGE {
				r.data = b.Data
			}
		case secbuffer.SECBUFFER_EXTRA:
			r.extra = b.Data
		case secbuffer.SECBUFFER_MISSING:
			r.miss = len(b.Data)
		}
	}
	return r
}

// readAll decrypts every record in stream the way an application does:
// post-handshake messages go to the handshake call (SEC_I_RENEGOTIATE),
// partial records wait. It returns the plaintext, the bytes left over and
// the last informational status.
func readAll(t testing.TB, e *endpoint, stream []byte) ([]byte, []byte, status.Status) {
	t.Helper()
	var plain []byte
	last := status.SEC_E_OK
	for len(stream) > 0 {
		r := decrypt(e.ctx, stream)
		switch r.st {
		case status.SEC_E_OK:
			plain = append(plain, r.data...)
			stream = r.extra
		case status.SEC_E_INCOMPLETE_MESSAGE:
			return plain, stream, last
		case status.SEC_I_RENEGOTIATE:
			last = r.st
			out, st, extra, err := e.call(t, r.extra, true)
			if err != nil || st != status.SEC_E_OK {
				t.Fatalf("%s: handshake call after SEC_I_RENEGOTIATE: %v %v", e.name, st, err)
			}
			e.wire = append(e.wire, out...)
			stream = extra
		case status.SEC_I_CONTEXT_EXPIRED:
			return plain, r.extra, r.st
		default:
			t.Fatalf("%s: DecryptMessage: %v %v", e.name, r.st, r.err)
		}
	}
	return plain, nil, last
}
