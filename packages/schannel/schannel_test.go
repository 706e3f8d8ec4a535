package schannel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func TestInfo(t *testing.T) {
	for _, tt := range []struct {
		p    *Package
		name string
	}{{New(nil), "Schannel"}, {NewUnified(nil), "Microsoft Unified Security Protocol Provider"}} {
		got := tt.p.Info()
		want := packages.Info{Name: tt.name, Comment: "Schannel Security Package", Capabilities: 0x004107B3, Version: 1, RPCID: 14, MaxToken: 24576}
		if got != want {
			t.Errorf("Info() = %+v, want %+v", got, want)
		}
	}
}

// newPair returns client and server endpoints over fresh contexts.
func newPair(t testing.TB, p *Package, ccred, scred packages.Credentials, target string, creq, sreq uint32) (*endpoint, *endpoint) {
	t.Helper()
	cc, err := ccred.NewClientContext(target, creq)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scred.NewServerContext(sreq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Delete(); sc.Delete() })
	return &endpoint{name: "client", ctx: cc, client: true}, &endpoint{name: "server", ctx: sc}
}

func protoCred(p *Package, t testing.TB, use, protocols uint32) packages.Credentials {
	k := getPKI()
	cred := &SCHANNEL_CRED{Version: packages.SCHANNEL_CRED_VERSION, RootStore: k.roots, EnabledProtocols: protocols}
	if use == packages.SECPKG_CRED_INBOUND {
		cred.Creds = []tls.Certificate{k.server}
	}
	return acquire(t, p, use, cred)
}

var splits = []struct {
	name  string
	split func(rng *rand.Rand) func(int) int
}{
	{"whole", func(*rand.Rand) func(int) int { return whole }},
	{"one-byte", func(*rand.Rand) func(int) int { return oneByte }},
	{"random", func(rng *rand.Rand) func(int) int { return func(n int) int { return 1 + rng.IntN(n) } }},
}

var versionTests = []struct {
	name     string
	client   uint32
	server   uint32
	want     uint16
	protoBit uint32
}{
	{"TLS1.2", packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_2_SERVER | packages.SP_PROT_TLS1_3_SERVER, tls.VersionTLS12, packages.SP_PROT_TLS1_2_CLIENT},
	{"TLS1.3", 0, 0, tls.VersionTLS13, packages.SP_PROT_TLS1_3_CLIENT},
}

func TestLoopback(t *testing.T) {
	p := New(testConfig())
	for _, vt := range versionTests {
		for _, sp := range splits {
			t.Run(vt.name+"/"+sp.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				ccred := protoCred(p, t, packages.SECPKG_CRED_OUTBOUND, vt.client)
				scred := protoCred(p, t, packages.SECPKG_CRED_INBOUND, vt.server)
				client, server := newPair(t, p, ccred, scred, "localhost", clientReq, serverReq)
				split := sp.split(rng)
				if err := pump(t, client, server, split); err != nil {
					t.Fatalf("handshake: %v", err)
				}
				ci, err := client.ctx.QueryAttribute(packages.SECPKG_ATTR_CONNECTION_INFO)
				if err != nil {
					t.Fatal(err)
				}
				if got := ci.(*SecPkgContext_ConnectionInfo).Protocol; got != vt.protoBit {
					t.Errorf("client protocol = %#x, want %#x", got, vt.protoBit)
				}
				si, _ := server.ctx.QueryAttribute(packages.SECPKG_ATTR_CONNECTION_INFO)
				if got := si.(*SecPkgContext_ConnectionInfo).Protocol; got != vt.protoBit>>1 {
					t.Errorf("server protocol = %#x, want %#x", got, vt.protoBit>>1)
				}
				// Application data both ways, delivered in the same splits,
				// with anything left from the handshake in front.
				for round := 0; round < 3; round++ {
					for _, dir := range []struct{ from, to *endpoint }{{client, server}, {server, client}} {
						msg := bytes.Repeat([]byte{byte(round), 'x'}, 700*(round+1))
						stream := append(append([]byte(nil), dir.from.wire...), encrypt(t, dir.from.ctx, msg)...)
						stream = append(stream, encrypt(t, dir.from.ctx, []byte("second"))...)
						dir.from.wire = nil
						var got []byte
						pending := dir.to.acc
						dir.to.acc = nil
						for len(stream) > 0 {
							n := split(len(stream))
							if n > len(stream) {
								n = len(stream)
							}
							pending = append(pending, stream[:n]...)
							stream = stream[n:]
							var plain []byte
							plain, pending, _ = readAll(t, dir.to, pending)
							got = append(got, plain...)
						}
						if want := append(msg, "second"...); !bytes.Equal(got, want) {
							t.Fatalf("round %d %s->%s: got %d bytes, want %d", round, dir.from.name, dir.to.name, len(got), len(want))
						}
						if len(pending) != 0 {
							t.Fatalf("round %d: %d bytes left", round, len(pending))
						}
					}
				}
			})
		}
	}
}

func TestGoroutinesEnd(t *testing.T) {
	p := New(testConfig())
	before := runtime.NumGoroutine()
	ccred := protoCred(p, t, packages.SECPKG_CRED_OUTBOUND, 0)
	scred := protoCred(p, t, packages.SECPKG_CRED_INBOUND, 0)
	for i := 0; i < 5; i++ {
		// Complete handshakes.
		fullHandshake(t, ccred, scred)
		// Handshakes abandoned half way.
		cc, _ := ccred.NewClientContext("localhost", clientReq)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
		if st, err := cc.Step(context.Background(), nil, out); st != status.SEC_I_CONTINUE_NEEDED {
			t.Fatalf("ISC: %v %v", st, err)
		}
		sc, _ := scred.NewServerContext(serverReq)
		in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out[0].Data}, {Type: secbuffer.SECBUFFER_EMPTY}}
		out2 := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
		if st, err := sc.Step(context.Background(), in, out2); st != status.SEC_I_CONTINUE_NEEDED {
			t.Fatalf("ASC: %v %v", st, err)
		}
		cc.Delete()
		sc.Delete()
		cc.Delete() // idempotent
		// Failed handshakes: an untrusted server, then garbage mid-way.
		untrusted := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: x509.NewCertPool()})
		cc, _ = untrusted.NewClientContext("localhost", clientReq)
		sc, _ = scred.NewServerContext(serverReq)
		if err := pump(t, &endpoint{name: "client", ctx: cc, client: true}, &endpoint{name: "server", ctx: sc}, whole); status.Code(err) != status.SEC_E_UNTRUSTED_ROOT {
			t.Fatalf("untrusted: %v", err)
		}
		cc.Delete()
		sc.Delete()
		cc, _ = ccred.NewClientContext("localhost", clientReq)
		out = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
		cc.Step(context.Background(), nil, out)
		bad := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte{22, 3, 3, 0, 4, 2, 0, 0, 0, 0x99, 0}}, {Type: secbuffer.SECBUFFER_EMPTY}}
		if st, _ := cc.Step(context.Background(), bad, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}); st != status.SEC_E_ILLEGAL_MESSAGE {
			t.Fatalf("garbage: %v", st)
		}
	}
	// Goroutines exit before Delete returns; allow the runtime's own.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

func TestStatusIsError(t *testing.T) {
	p := New(testConfig())
	ccred := protoCred(p, t, packages.SECPKG_CRED_OUTBOUND, 0)
	cc, _ := ccred.NewClientContext("localhost", clientReq)
	defer cc.Delete()
	s := &session{c: cc.(*schannelContext)}
	err := s.MakeSignature(0, nil, 0)
	if !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
		t.Fatalf("MakeSignature: %v", err)
	}
	if _, err := s.VerifySignature(nil, 0); !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
		t.Fatalf("VerifySignature: %v", err)
	}
}
