package secbuffer_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"

	_ "crypto/sha256"
	_ "crypto/sha512"
)

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

func testRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

// newCert returns a self-signed certificate for "localhost" signed with
// alg by a key of the matching type.
func newCert(t testing.TB, alg x509.SignatureAlgorithm) tls.Certificate {
	t.Helper()
	var key crypto.Signer
	switch alg {
	case x509.SHA1WithRSA, x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
		key = testRSAKey(t)
	case x509.ECDSAWithSHA256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	case x509.ECDSAWithSHA384:
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	case x509.PureEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	default:
		t.Fatalf("newCert: no key type for %v", alg)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(1),
		Subject:            pkix.Name{CommonName: "localhost"},
		DNSNames:           []string{"localhost"},
		NotBefore:          time.Now().Add(-time.Hour),
		NotAfter:           time.Now().Add(time.Hour),
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		SignatureAlgorithm: alg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("CreateCertificate(%v): %v", alg, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SignatureAlgorithm != alg {
		t.Fatalf("certificate signed with %v, want %v", leaf.SignatureAlgorithm, alg)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// handshake connects a crypto/tls client and server over net.Pipe and
// returns both connection states.
func handshake(t *testing.T, cert tls.Certificate, version uint16, cache tls.ClientSessionCache) (client, server tls.ConnectionState) {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	srv := tls.Server(sc, &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   version,
		MaxVersion:   version,
		// A fixed ticket key lets a second handshake resume the first.
		SessionTicketKey: [32]byte{1},
	})
	cli := tls.Client(cc, &tls.Config{
		ServerName: "localhost",
		RootCAs:    pool,
		MinVersion: version,
		MaxVersion: version,
		// A SHA-1 signed certificate does not verify in crypto/tls; the
		// bindings do not depend on verification.
		InsecureSkipVerify: cert.Leaf.SignatureAlgorithm == x509.SHA1WithRSA,
		ClientSessionCache: cache,
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if version == tls.VersionTLS13 {
		// Let the server's NewSessionTicket reach the client cache: write
		// one byte each way.
		go func() {
			var b [1]byte
			if _, err := srv.Read(b[:]); err == nil {
				_, _ = srv.Write(b[:])
			}
		}()
		if _, err := cli.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		var b [1]byte
		if _, err := cli.Read(b[:]); err != nil {
			t.Fatal(err)
		}
	}
	return cli.ConnectionState(), srv.ConnectionState()
}

var endPointTests = []struct {
	alg  x509.SignatureAlgorithm
	hash crypto.Hash
}{
	{x509.SHA256WithRSA, crypto.SHA256},
	{x509.ECDSAWithSHA384, crypto.SHA384},
	{x509.SHA1WithRSA, crypto.SHA256}, // RFC 5929 §4.1: SHA-1 becomes SHA-256
	{x509.PureEd25519, crypto.SHA256}, // this package's decision
	{x509.SHA512WithRSA, crypto.SHA512},
	{x509.SHA384WithRSAPSS, crypto.SHA384},
	{x509.ECDSAWithSHA256, crypto.SHA256},
}

var tlsVersions = []struct {
	name    string
	version uint16
}{
	{"TLS1.2", tls.VersionTLS12},
	{"TLS1.3", tls.VersionTLS13},
}

func TestTLSServerEndPoint(t *testing.T) {
	for _, tt := range endPointTests {
		cert := newCert(t, tt.alg)
		for _, v := range tlsVersions {
			t.Run(tt.alg.String()+"/"+v.name, func(t *testing.T) {
				cs, ss := handshake(t, cert, v.version, nil)
				h := tt.hash.New()
				h.Write(cert.Leaf.Raw)
				want := append([]byte(secbuffer.PrefixTLSServerEndPoint), h.Sum(nil)...)

				got, err := secbuffer.TLSServerEndPoint(&cs)
				if err != nil {
					t.Fatalf("TLSServerEndPoint(client state): %v", err)
				}
				if !bytes.Equal(got.ApplicationData, want) {
					t.Errorf("client ApplicationData = %x, want %x", got.ApplicationData, want)
				}
				if got.InitiatorAddrType != 0 || got.AcceptorAddrType != 0 || got.InitiatorAddress != nil || got.AcceptorAddress != nil {
					t.Errorf("address fields set: %+v", got)
				}
				srv, err := secbuffer.CertificateServerEndPoint(cert.Leaf)
				if err != nil {
					t.Fatalf("CertificateServerEndPoint: %v", err)
				}
				if !bytes.Equal(srv.Marshal(), got.Marshal()) || srv.Hash() != got.Hash() {
					t.Errorf("server bindings %x differ from client bindings %x", srv.Marshal(), got.Marshal())
				}
				if h, err := secbuffer.ServerEndPointHash(cert.Leaf); err != nil || h != tt.hash {
					t.Errorf("ServerEndPointHash = %v, %v; want %v", h, err, tt.hash)
				}

				// The server's own state has no peer certificate (no
				// client authentication).
				_, err = secbuffer.TLSServerEndPoint(&ss)
				if status.Code(err) != status.SEC_E_INVALID_PARAMETER {
					t.Errorf("TLSServerEndPoint(server state) error = %v, want SEC_E_INVALID_PARAMETER", err)
				}
			})
		}
	}
}

// TestCertificateServerEndPointVectors checks the endpoint-* files: real
// certificates made by OpenSSL with hashes computed by OpenSSL.
func TestCertificateServerEndPointVectors(t *testing.T) {
	n := 0
	for _, v := range loadVectors(t) {
		if !strings.HasPrefix(v.Name, "endpoint-") {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			cert, err := x509.ParseCertificate(v.Data)
			if err != nil {
				t.Fatalf("ParseCertificate: %v", err)
			}
			cb, err := secbuffer.CertificateServerEndPoint(cert)
			if want := v.Get("expect"); want != "success" {
				if status.Code(err).String() != want {
					t.Fatalf("error = %v, want %s", err, want)
				}
				if cb != nil {
					t.Errorf("non-nil bindings with an error")
				}
				if want == "SEC_E_UNSUPPORTED_FUNCTION" && !errors.Is(err, errors.ErrUnsupported) {
					t.Errorf("error %v does not match errors.ErrUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CertificateServerEndPoint: %v", err)
			}
			app := vectorHex(t, v, "application-data")
			if !bytes.Equal(cb.ApplicationData, app) {
				t.Errorf("ApplicationData = %x, want %x", cb.ApplicationData, app)
			}
			if f := flatten(cb); !bytes.Equal(f, vectorHex(t, v, "flattened")) {
				t.Errorf("flattened = %x, want %s", f, v.Get("flattened"))
			}
			if h := cb.Hash(); !bytes.Equal(h[:], vectorHex(t, v, "md5")) {
				t.Errorf("Hash = %x, want %s", h, v.Get("md5"))
			}
			m := cb.Marshal()
			if len(m) != 32+len(app) || !bytes.Equal(m[32:], app) {
				t.Fatalf("Marshal = %x", m)
			}
			p, err := secbuffer.ParseChannelBindings(m)
			if err != nil || !sameBindings(p, cb) {
				t.Errorf("ParseChannelBindings(Marshal) = %+v, %v", p, err)
			}
			var h crypto.Hash
			switch v.Get("hash") {
			case "sha256":
				h = crypto.SHA256
			case "sha384":
				h = crypto.SHA384
			case "sha512":
				h = crypto.SHA512
			default:
				t.Fatalf("unknown hash header %q", v.Get("hash"))
			}
			if got, err := secbuffer.ServerEndPointHash(cert); err != nil || got != h {
				t.Errorf("ServerEndPointHash = %v, %v; want %v", got, err, h)
			}
		})
	}
	if n < 6 {
		t.Errorf("only %d endpoint vectors", n)
	}
}

func TestServerEndPointHashUnknown(t *testing.T) {
	for _, alg := range []x509.SignatureAlgorithm{x509.UnknownSignatureAlgorithm, x509.SignatureAlgorithm(1000)} {
		_, err := secbuffer.ServerEndPointHash(&x509.Certificate{SignatureAlgorithm: alg})
		if status.Code(err) != status.SEC_E_UNSUPPORTED_FUNCTION {
			t.Errorf("%v: error = %v, want SEC_E_UNSUPPORTED_FUNCTION", alg, err)
		}
	}
	if _, err := secbuffer.ServerEndPointHash(nil); status.Code(err) != status.SEC_E_INVALID_PARAMETER {
		t.Errorf("nil certificate: error = %v, want SEC_E_INVALID_PARAMETER", err)
	}
	if cb, err := secbuffer.CertificateServerEndPoint(nil); err == nil || cb != nil {
		t.Errorf("CertificateServerEndPoint(nil) = %v, %v", cb, err)
	}
}

func TestTLSUnique(t *testing.T) {
	cert := newCert(t, x509.ECDSAWithSHA256)
	t.Run("TLS1.2", func(t *testing.T) {
		cache := tls.NewLRUClientSessionCache(1)
		cs, ss := handshake(t, cert, tls.VersionTLS12, cache)
		c, err := secbuffer.TLSUnique(&cs)
		if err != nil {
			t.Fatalf("TLSUnique(client): %v", err)
		}
		s, err := secbuffer.TLSUnique(&ss)
		if err != nil {
			t.Fatalf("TLSUnique(server): %v", err)
		}
		// TLS 1.2 Finished verify_data is 12 bytes (RFC 5246 §7.4.9).
		if want := append([]byte(secbuffer.PrefixTLSUnique), cs.TLSUnique...); !bytes.Equal(c.ApplicationData, want) || len(cs.TLSUnique) != 12 {
			t.Errorf("client ApplicationData = %x, want %x (12-byte Finished)", c.ApplicationData, want)
		}
		if !bytes.Equal(c.Marshal(), s.Marshal()) {
			t.Errorf("client %x and server %x bindings differ", c.Marshal(), s.Marshal())
		}

		// A resumed handshake binds to the server's Finished, a new value
		// both sides still agree on.
		cs2, ss2 := handshake(t, cert, tls.VersionTLS12, cache)
		if !cs2.DidResume {
			t.Fatal("second connection did not resume")
		}
		c2, err1 := secbuffer.TLSUnique(&cs2)
		s2, err2 := secbuffer.TLSUnique(&ss2)
		if err1 != nil || err2 != nil {
			t.Fatalf("TLSUnique after resumption: %v, %v", err1, err2)
		}
		if !bytes.Equal(c2.ApplicationData, s2.ApplicationData) {
			t.Errorf("resumed: client %x, server %x", c2.ApplicationData, s2.ApplicationData)
		}
		if bytes.Equal(c2.ApplicationData, c.ApplicationData) {
			t.Error("resumed connection has the same tls-unique as the first")
		}
	})
	t.Run("TLS1.3", func(t *testing.T) {
		cs, ss := handshake(t, cert, tls.VersionTLS13, nil)
		for _, st := range []*tls.ConnectionState{&cs, &ss} {
			cb, err := secbuffer.TLSUnique(st)
			if cb != nil {
				t.Errorf("bindings %+v on TLS 1.3", cb)
			}
			if status.Code(err) != status.SEC_E_UNSUPPORTED_FUNCTION || !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("error = %v, want SEC_E_UNSUPPORTED_FUNCTION", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "sspi: TLSUnique: SEC_E_UNSUPPORTED_FUNCTION (0x80090302): secbuffer: ") {
				t.Errorf("error text %q", err)
			}
		}
	})
}

func TestTLSExporter(t *testing.T) {
	cert := newCert(t, x509.PureEd25519)
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			// crypto/tls always negotiates the extended master secret, so
			// TLS 1.2 qualifies too (RFC 9266 §2).
			cs, ss := handshake(t, cert, v.version, nil)
			c, err := secbuffer.TLSExporter(&cs)
			if err != nil {
				t.Fatalf("TLSExporter(client): %v", err)
			}
			s, err := secbuffer.TLSExporter(&ss)
			if err != nil {
				t.Fatalf("TLSExporter(server): %v", err)
			}
			ekm, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]byte("tls-exporter:"), ekm...); !bytes.Equal(c.ApplicationData, want) {
				t.Errorf("ApplicationData = %x, want %x", c.ApplicationData, want)
			}
			if !bytes.Equal(c.Marshal(), s.Marshal()) {
				t.Errorf("client %x and server %x bindings differ", c.Marshal(), s.Marshal())
			}
			cs2, _ := handshake(t, cert, v.version, nil)
			c2, err := secbuffer.TLSExporter(&cs2)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(c2.ApplicationData, c.ApplicationData) {
				t.Error("two connections have the same tls-exporter value")
			}
		})
	}
}

func TestBuildersIncompleteHandshake(t *testing.T) {
	builders := []struct {
		name string
		f    func(*tls.ConnectionState) (*secbuffer.ChannelBindings, error)
	}{
		{"TLSServerEndPoint", secbuffer.TLSServerEndPoint},
		{"TLSUnique", secbuffer.TLSUnique},
		{"TLSExporter", secbuffer.TLSExporter},
	}
	for _, b := range builders {
		for _, st := range []*tls.ConnectionState{nil, {}} {
			cb, err := b.f(st)
			if cb != nil || status.Code(err) != status.SEC_E_INVALID_PARAMETER {
				t.Errorf("%s(%v) = %v, %v; want SEC_E_INVALID_PARAMETER", b.name, st, cb, err)
			}
		}
	}
}
