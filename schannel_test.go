package sspi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/schannel"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// tlsNow is the clock of the Schannel tests.
var tlsNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	tlsPKIOnce  sync.Once
	tlsRoots    *x509.CertPool
	tlsServerID tls.Certificate
)

// tlsPKI returns a CA pool and a "localhost" server certificate it issued.
func tlsPKI(t testing.TB) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	tlsPKIOnce.Do(func() {
		ca, err := testkit.NewCA("gosspi root test CA", tlsNow)
		if err != nil {
			panic(err)
		}
		tlsServerID, err = ca.Issue(&x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
			NotBefore: tlsNow.AddDate(0, -1, 0), NotAfter: tlsNow.AddDate(1, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			panic(err)
		}
		tlsRoots = ca.Pool()
	})
	return tlsRoots, tlsServerID
}

// tlsRegistry returns a Registry with a Schannel package on the test PKI.
func tlsRegistry(t testing.TB) *Registry {
	roots, _ := tlsPKI(t)
	r := NewRegistry()
	r.Register(schannel.New(&schannel.Config{Time: func() time.Time { return tlsNow }, Roots: roots}))
	return r
}

const (
	tlsClientReq = ISC_REQ_SEQUENCE_DETECT | ISC_REQ_REPLAY_DETECT | ISC_REQ_CONFIDENTIALITY | ISC_REQ_EXTENDED_ERROR | ISC_REQ_STREAM
	tlsServerReq = ASC_REQ_SEQUENCE_DETECT | ASC_REQ_REPLAY_DETECT | ASC_REQ_CONFIDENTIALITY | ASC_REQ_EXTENDED_ERROR | ASC_REQ_STREAM
)

// tlsPair returns a client and a server Schannel context of r. protocols
// (SP_PROT_* bits, 0 for the defaults) applies to both credentials; the
// server issues no session tickets, so nothing follows its last flight
// but what the test sends.
func tlsPair(t testing.TB, r *Registry, protocols uint32) (client, server *Context) {
	t.Helper()
	_, id := tlsPKI(t)
	ctx := context.Background()
	ccred, err := r.AcquireCredentials(ctx, "Schannel", CredentialsOutbound, &schannel.SCHANNEL_CRED{EnabledProtocols: protocols})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ccred.Free)
	scred, err := r.AcquireCredentials(ctx, "Schannel", CredentialsInbound, &schannel.SCHANNEL_CRED{
		Creds: []tls.Certificate{id}, EnabledProtocols: protocols, Flags: SCH_CRED_DISABLE_RECONNECTS,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(scred.Free)
	if client, err = NewClientContext(ccred, "localhost", tlsClientReq); err != nil {
		t.Fatal(err)
	}
	if server, err = NewServerContext(scred, tlsServerReq); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Delete)
	t.Cleanup(server.Delete)
	return client, server
}

// tlsSeal encrypts plain into one TLS record (EncryptMessage with the
// Schannel buffer layout).
func tlsSeal(t testing.TB, c *Context, plain []byte) []byte {
	t.Helper()
	v, err := c.QueryAttribute(SECPKG_ATTR_STREAM_SIZES)
	if err != nil {
		t.Fatal(err)
	}
	sz := v.(*SecPkgContext_StreamSizes)
	buf := make([]byte, int(sz.Header)+len(plain)+int(sz.Trailer))
	copy(buf[sz.Header:], plain)
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: buf[:sz.Header]},
		{Type: secbuffer.SECBUFFER_DATA, Data: buf[sz.Header : int(sz.Header)+len(plain)]},
		{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: buf[int(sz.Header)+len(plain):]},
		{Type: secbuffer.SECBUFFER_EMPTY},
	}
	if err := c.EncryptMessage(0, msg, 0); err != nil {
		t.Fatal(err)
	}
	var rec []byte
	for _, b := range msg[:3] {
		rec = append(rec, b.Data...)
	}
	return rec
}

// tlsOpen decrypts every whole record of stream and returns the plaintext
// and the bytes of an unfinished record.
func tlsOpen(t testing.TB, c *Context, stream []byte) (plain, rest []byte) {
	t.Helper()
	for len(stream) > 0 {
		msg := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_DATA, Data: append([]byte(nil), stream...)},
			{Type: secbuffer.SECBUFFER_EMPTY}, {Type: secbuffer.SECBUFFER_EMPTY}, {Type: secbuffer.SECBUFFER_EMPTY},
		}
		_, st, err := c.DecryptMessage(msg, 0)
		if status.Code(err) == status.SEC_E_INCOMPLETE_MESSAGE {
			return plain, stream
		}
		if err != nil || st != status.SEC_E_OK {
			t.Fatalf("DecryptMessage: %v %v", st, err)
		}
		plain = append(plain, secbuffer.Find(msg, secbuffer.SECBUFFER_DATA).Data...)
		stream = nil
		if x := secbuffer.Find(msg, secbuffer.SECBUFFER_EXTRA); x != nil {
			stream = x.Data
		}
	}
	return plain, nil
}

// tlsSide is one end of a handshake driven through the Go API the way a
// socket program does: bytes arrive in chunks and are accumulated until
// Step can use them; the unconsumed tail is kept for the next call.
type tlsSide struct {
	name       string
	c          *Context
	acc        []byte // received, not consumed
	wire       []byte // to deliver to the peer
	incomplete int    // Steps that answered SEC_E_INCOMPLETE_MESSAGE
	app        []byte // plaintext received after the handshake
	greeting   string // sent as soon as the handshake completes
}

// receive runs Step on everything received until it needs more bytes.
func (s *tlsSide) receive(t *testing.T, peer *tlsSide) {
	t.Helper()
	for !s.c.Established() && len(s.acc) > 0 {
		out, err := s.c.Step(context.Background(), s.acc)
		var inc *IncompleteMessageError
		if errors.As(err, &inc) {
			if !errors.Is(err, status.SEC_E_INCOMPLETE_MESSAGE) || out != nil {
				t.Fatalf("%s: incomplete message: %v, out %d bytes", s.name, err, len(out))
			}
			if len(s.acc) >= 5 && inc.Missing <= 0 {
				t.Fatalf("%s: %d bytes buffered, SECBUFFER_MISSING %d", s.name, len(s.acc), inc.Missing)
			}
			s.incomplete++
			return
		}
		if err != nil {
			t.Fatalf("%s: Step: %v", s.name, err)
		}
		s.wire = append(s.wire, out...)
		s.acc = append([]byte(nil), s.c.Extra()...)
		if s.c.Established() {
			s.wire = append(s.wire, tlsSeal(t, s.c, []byte(s.greeting))...)
		}
	}
	if s.c.Established() && len(s.acc) > 0 {
		var plain []byte
		plain, s.acc = tlsOpen(t, s.c, s.acc)
		s.app = append(s.app, plain...)
	}
}

// TestSchannelStepStream runs TLS handshakes through Context.Step with the
// peer's bytes delivered in chunks of several sizes. Each side sends
// application data the moment its handshake completes, so the record that
// follows a side's last flight reaches the peer together with it: the peer
// must find it in SECBUFFER_EXTRA (Context.Extra) and decrypt it.
func TestSchannelStepStream(t *testing.T) {
	r := tlsRegistry(t)
	for _, proto := range []struct {
		name string
		bits uint32
	}{{"TLS1.2", SP_PROT_TLS1_2}, {"TLS1.3", SP_PROT_TLS1_3}} {
		for _, chunk := range []int{1, 3, 7, 100, 1 << 20} {
			t.Run(fmt.Sprintf("%s/chunk%d", proto.name, chunk), func(t *testing.T) {
				cc, sc := tlsPair(t, r, proto.bits)
				client := &tlsSide{name: "client", c: cc, greeting: "hello from the client"}
				server := &tlsSide{name: "server", c: sc, greeting: "hello from the server"}
				out, err := cc.Step(context.Background(), nil)
				if err != nil || len(out) == 0 {
					t.Fatalf("first Step: %d bytes, %v", len(out), err)
				}
				client.wire = out
				for i := 0; ; i++ {
					if i > 1<<20 {
						t.Fatal("handshake did not finish")
					}
					from, to := client, server
					if len(client.wire) == 0 {
						from, to = server, client
					}
					if len(from.wire) == 0 {
						break
					}
					n := min(chunk, len(from.wire))
					to.acc = append(to.acc, from.wire[:n]...)
					from.wire = from.wire[n:]
					to.receive(t, from)
				}
				if !cc.Established() || !sc.Established() {
					t.Fatalf("established: client %v, server %v", cc.Established(), sc.Established())
				}
				if string(server.app) != client.greeting || string(client.app) != server.greeting {
					t.Fatalf("application data: server got %q, client got %q", server.app, client.app)
				}
				if chunk < 100 && server.incomplete == 0 {
					t.Error("no SEC_E_INCOMPLETE_MESSAGE with small chunks")
				}
				v, err := cc.QueryAttribute(SECPKG_ATTR_CONNECTION_INFO)
				if err != nil {
					t.Fatal(err)
				}
				wantProto := uint32(SP_PROT_TLS1_2_CLIENT)
				if proto.bits == SP_PROT_TLS1_3 {
					wantProto = SP_PROT_TLS1_3_CLIENT
				}
				if got := v.(*schannel.SecPkgContext_ConnectionInfo).Protocol; got != wantProto {
					t.Errorf("protocol %#x, want %#x", got, wantProto)
				}
			})
		}
	}
}

// TestSchannelStepStreamExtra checks StepStream's results one call at a
// time: the client's Finished and its first record arrive in one input,
// the server completes, and the record comes back as extra, a sub-slice of
// the input.
func TestSchannelStepStreamExtra(t *testing.T) {
	ctx := context.Background()
	cc, sc := tlsPair(t, tlsRegistry(t), SP_PROT_TLS1_3)
	hello, extra, err := cc.StepStream(ctx, nil)
	if err != nil || extra != nil {
		t.Fatalf("ClientHello: %v, extra %d", err, len(extra))
	}
	// Half a ClientHello: nothing happens yet.
	out, extra, err := sc.StepStream(ctx, hello[:len(hello)/2])
	var inc *IncompleteMessageError
	if !errors.As(err, &inc) || inc.Missing != len(hello)-len(hello)/2 || out != nil || extra != nil {
		t.Fatalf("half ClientHello: out %d, extra %d, %v; want SEC_E_INCOMPLETE_MESSAGE missing %d", len(out), len(extra), err, len(hello)-len(hello)/2)
	}
	if status.Code(err) != status.SEC_E_INCOMPLETE_MESSAGE {
		t.Fatalf("status.Code = %v", status.Code(err))
	}
	flight, extra, err := sc.StepStream(ctx, hello)
	if err != nil || extra != nil || len(flight) == 0 || sc.Established() {
		t.Fatalf("ServerHello: out %d, extra %d, %v", len(flight), len(extra), err)
	}
	fin, extra, err := cc.StepStream(ctx, flight)
	if err != nil || extra != nil || !cc.Established() {
		t.Fatalf("client Finished: %v, extra %d, established %v", err, len(extra), cc.Established())
	}
	rec := tlsSeal(t, cc, []byte("first data"))
	in := append(append([]byte(nil), fin...), rec...)
	out, extra, err = sc.StepStream(ctx, in)
	if err != nil || !sc.Established() || len(out) != 0 {
		t.Fatalf("server last Step: out %d, %v, established %v", len(out), err, sc.Established())
	}
	if !bytes.Equal(extra, rec) || &extra[0] != &in[len(fin)] {
		t.Fatalf("extra: %d bytes, want the %d-byte record at the end of the input", len(extra), len(rec))
	}
	if plain, rest := tlsOpen(t, sc, extra); string(plain) != "first data" || rest != nil {
		t.Fatalf("decrypted %q, rest %d", plain, len(rest))
	}
}

// TestSchannelFlatIncomplete checks SEC_E_INCOMPLETE_MESSAGE through the
// flat API, as Windows behaves: on a first AcceptSecurityContext call no
// handle is created and the caller calls again with phContext nil and all
// the bytes; on a later InitializeSecurityContext call the context stays
// usable.
func TestSchannelFlatIncomplete(t *testing.T) {
	r := tlsRegistry(t)
	_, id := tlsPKI(t)
	var ccred, scred CredHandle
	pkg := mustUTF16(t, "Schannel")
	wantStatus(t, "client credentials", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, nil, nil, 0, 0, &ccred, nil), SEC_E_OK)
	defer r.FreeCredentialsHandle(&ccred)
	wantStatus(t, "server credentials", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_INBOUND, nil,
		&schannel.SCHANNEL_CRED{Creds: []tls.Certificate{id}}, 0, 0, &scred, nil), SEC_E_OK)
	defer r.FreeCredentialsHandle(&scred)

	tokenOut := func() *secbuffer.Desc {
		return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}}
	}
	streamIn := func(b []byte) *secbuffer.Desc {
		return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: b}, {Type: secbuffer.SECBUFFER_EMPTY}}}
	}
	target := mustUTF16(t, "localhost")
	var cctx, sctx CtxtHandle
	out := tokenOut()
	wantStatus(t, "ISC 1", r.InitializeSecurityContextW(&ccred, nil, target, tlsClientReq, 0, 0, nil, 0, &cctx, out, nil, nil), SEC_I_CONTINUE_NEEDED)
	hello := out.Buffers[0].Data

	for _, n := range []int{3, len(hello) - 1} {
		in, out := streamIn(hello[:n]), tokenOut()
		wantStatus(t, fmt.Sprintf("ASC 1 with %d bytes", n), r.AcceptSecurityContext(&scred, nil, in, tlsServerReq, 0, &sctx, out, nil, nil), SEC_E_INCOMPLETE_MESSAGE)
		if sctx != (CtxtHandle{}) {
			t.Fatalf("ASC 1 with %d bytes created handle %v", n, sctx)
		}
		if len(out.Buffers[0].Data) != 0 {
			t.Fatalf("ASC 1 with %d bytes wrote %d output bytes", n, len(out.Buffers[0].Data))
		}
		if n >= 5 {
			if m := in.Buffers[1]; m.Type != secbuffer.SECBUFFER_MISSING || len(m.Data) != len(hello)-n {
				t.Fatalf("ASC 1 with %d bytes: buffer 1 type %d len %d, want SECBUFFER_MISSING %d", n, m.Type, len(m.Data), len(hello)-n)
			}
		}
	}
	out = tokenOut()
	wantStatus(t, "ASC 1 with all bytes", r.AcceptSecurityContext(&scred, nil, streamIn(hello), tlsServerReq, 0, &sctx, out, nil, nil), SEC_I_CONTINUE_NEEDED)
	defer r.DeleteSecurityContext(&sctx)
	defer r.DeleteSecurityContext(&cctx)
	flight := out.Buffers[0].Data

	// The client receives the server's flight in two parts.
	in := streamIn(flight[:len(flight)/3])
	out = tokenOut()
	wantStatus(t, "ISC 2 with part of the flight", r.InitializeSecurityContextW(nil, &cctx, target, tlsClientReq, 0, 0, in, 0, &cctx, out, nil, nil), SEC_E_INCOMPLETE_MESSAGE)
	if in.Buffers[1].Type != secbuffer.SECBUFFER_MISSING {
		t.Fatalf("ISC 2: buffer 1 type %d, want SECBUFFER_MISSING", in.Buffers[1].Type)
	}
	in, out = streamIn(flight), tokenOut()
	wantStatus(t, "ISC 2 with the whole flight", r.InitializeSecurityContextW(nil, &cctx, target, tlsClientReq, 0, 0, in, 0, &cctx, out, nil, nil), SEC_E_OK)
	in = streamIn(out.Buffers[0].Data)
	wantStatus(t, "ASC 2", r.AcceptSecurityContext(nil, &sctx, in, tlsServerReq, 0, &sctx, tokenOut(), nil, nil), SEC_E_OK)
}

// TestSchannelCredentialsAttributes queries Schannel's credential
// attributes through QueryCredentialsAttributesW/A and
// Credentials.QueryAttribute.
func TestSchannelCredentialsAttributes(t *testing.T) {
	r := tlsRegistry(t)
	var h CredHandle
	wantStatus(t, "AcquireCredentialsHandleW", r.AcquireCredentialsHandleW(nil, mustUTF16(t, "Schannel"), SECPKG_CRED_OUTBOUND, nil,
		&schannel.SCHANNEL_CRED{EnabledProtocols: SP_PROT_TLS1_3_CLIENT}, 0, 0, &h, nil), SEC_E_OK)
	defer r.FreeCredentialsHandle(&h)

	var protos schannel.SecPkgCred_SupportedProtocols
	wantStatus(t, "SUPPORTED_PROTOCOLS (W)", r.QueryCredentialsAttributesW(&h, SECPKG_ATTR_SUPPORTED_PROTOCOLS, &protos), SEC_E_OK)
	if protos.Protocols != SP_PROT_TLS1_3_CLIENT {
		t.Errorf("grbitProtocol %#x, want SP_PROT_TLS1_3_CLIENT", protos.Protocols)
	}
	var strengths schannel.SecPkgCred_CipherStrengths
	wantStatus(t, "CIPHER_STRENGTHS (A)", r.QueryCredentialsAttributesA(&h, SECPKG_ATTR_CIPHER_STRENGTHS, &strengths), SEC_E_OK)
	if strengths != (schannel.SecPkgCred_CipherStrengths{MinimumCipherStrength: 128, MaximumCipherStrength: 256}) {
		t.Errorf("CIPHER_STRENGTHS %+v", strengths)
	}
	var algs any
	wantStatus(t, "SUPPORTED_ALGS (*any)", r.QueryCredentialsAttributesW(&h, SECPKG_ATTR_SUPPORTED_ALGS, &algs), SEC_E_OK)
	want := []uint32{CALG_AES_128, CALG_SHA_256, CALG_ECDH_EPHEM, CALG_RSA_SIGN, CALG_ECDSA, CALG_AES_256, CALG_SHA_384}
	if got := algs.(*schannel.SecPkgCred_SupportedAlgs).SupportedAlgs; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SUPPORTED_ALGS %#x, want %#x", got, want)
	}
	wantStatus(t, "wrong buffer type", r.QueryCredentialsAttributesW(&h, SECPKG_ATTR_SUPPORTED_ALGS, &protos), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "unknown attribute", r.QueryCredentialsAttributesW(&h, SECPKG_ATTR_SIZES, &algs), SEC_E_UNSUPPORTED_FUNCTION)

	cred, err := r.Credentials(&h)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cred.QueryAttribute(SECPKG_ATTR_SUPPORTED_PROTOCOLS)
	if err != nil || v.(*schannel.SecPkgCred_SupportedProtocols).Protocols != SP_PROT_TLS1_3_CLIENT {
		t.Fatalf("Credentials.QueryAttribute: %v, %v", v, err)
	}
	if v, err := cred.QueryAttribute(SECPKG_CRED_ATTR_NAMES); err != nil || v.(*packages.Names).UserName != "" {
		t.Fatalf("SECPKG_CRED_ATTR_NAMES: %v, %v", v, err)
	}
	if _, err := cred.QueryAttribute(SECPKG_ATTR_SIZES); !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
		t.Fatalf("SECPKG_ATTR_SIZES: %v", err)
	}
	wantStatus(t, "FreeCredentialsHandle", r.FreeCredentialsHandle(&h), SEC_E_OK)
	if _, err := cred.QueryAttribute(SECPKG_ATTR_SUPPORTED_PROTOCOLS); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Fatalf("after Free: %v", err)
	}
	wantStatus(t, "after Free (W)", r.QueryCredentialsAttributesW(&h, SECPKG_ATTR_SUPPORTED_PROTOCOLS, &protos), SEC_E_INVALID_HANDLE)
}

// TestStepStreamNonStream runs an NTLM handshake through StepStream: a
// package without stream semantics ignores the EMPTY buffer, consumes its
// input whole and leaves no extra.
func TestStepStreamNonStream(t *testing.T) {
	r := ntlmRegistry()
	ctx := context.Background()
	ccred, err := r.AcquireCredentials(ctx, "NTLM", CredentialsOutbound, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	defer ccred.Free()
	scred, err := r.AcquireCredentials(ctx, "NTLM", CredentialsInbound, ntlmUsers)
	if err != nil {
		t.Fatal(err)
	}
	defer scred.Free()
	c, err := NewClientContext(ccred, "HOST/server", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	s, err := NewServerContext(scred, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete()
	var tok []byte
	for i, side := range []*Context{c, s, c, s} {
		if side.Established() {
			break
		}
		out, extra, err := side.StepStream(ctx, tok)
		if err != nil || extra != nil {
			t.Fatalf("leg %d: %v, extra %d bytes", i+1, err, len(extra))
		}
		tok = out
	}
	if !c.Established() || !s.Established() {
		t.Fatalf("established: client %v, server %v", c.Established(), s.Established())
	}
	if name, err := s.UserName(); err != nil || name != `EXAMPLE\alice` {
		t.Fatalf("UserName = %q, %v", name, err)
	}
}

// BenchmarkSchannelHandshake measures a TLS 1.3 handshake through
// Context.Step (TOKEN and EMPTY buffers, extra kept) beside the baseline of
// StepBuffers with a TOKEN buffer alone, each input delivered whole.
func BenchmarkSchannelHandshake(b *testing.B) {
	r := tlsRegistry(b)
	ctx := context.Background()
	run := func(b *testing.B, step func(c *Context, in []byte) ([]byte, error)) {
		b.ReportAllocs()
		for b.Loop() {
			c, s := tlsPair(b, r, SP_PROT_TLS1_3)
			var tok []byte
			for i, side := range []*Context{c, s, c, s} {
				out, err := step(side, tok)
				if err != nil {
					b.Fatalf("leg %d: %v", i+1, err)
				}
				tok = out
			}
			if !c.Established() || !s.Established() {
				b.Fatal("not established")
			}
			c.Delete()
			s.Delete()
		}
	}
	b.Run("StepBuffers-token-only", func(b *testing.B) {
		run(b, func(c *Context, in []byte) ([]byte, error) {
			var bufs []secbuffer.Buffer
			if in != nil || !c.IsClient() {
				bufs = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: in}}
			}
			return c.StepBuffers(ctx, bufs)
		})
	})
	b.Run("Step", func(b *testing.B) {
		run(b, func(c *Context, in []byte) ([]byte, error) { return c.Step(ctx, in) })
	})
}
