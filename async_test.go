package sspi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/packages/schannel"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// toyPackage is a three-message package (client hello, server challenge,
// client proof) whose tokens are deterministic, so async and sync runs can
// be compared byte for byte. onStep, if set, runs at the start of every
// step: tests use it to hold a call while it runs.
//
// kdc, if set, stands for a KDC exchange: AcquireCredentials and Step call
// it with their operation's name and fail with its error.
type toyPackage struct {
	name   string
	onStep func(ctx context.Context)
	kdc    func(ctx context.Context, op string) error
}

var toyExpiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func (p *toyPackage) Info() packages.Info {
	return packages.Info{Name: p.name, Comment: "toy package for async tests", Version: 1, RPCID: 0xFFFF, MaxToken: 256}
}

func (p *toyPackage) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	if p.kdc != nil {
		if err := p.kdc(ctx, "AcquireCredentialsHandle"); err != nil {
			return nil, err
		}
	}
	if authData != nil {
		return nil, status.SEC_E_UNKNOWN_CREDENTIALS
	}
	return &toyCred{p: p, use: use}, nil
}

type toyCred struct {
	p   *toyPackage
	use uint32
}

func (c *toyCred) Use() uint32       { return c.use }
func (c *toyCred) Expiry() time.Time { return toyExpiry }
func (c *toyCred) UserName() string  { return "TOY\\alice" }
func (c *toyCred) Free()             {}
func (c *toyCred) NewClientContext(target string, req uint32) (packages.Context, error) {
	return &toyContext{p: c.p, client: true, target: target, req: req}, nil
}
func (c *toyCred) NewServerContext(req uint32) (packages.Context, error) {
	return &toyContext{p: c.p, req: req}, nil
}

type toyContext struct {
	p      *toyPackage
	client bool
	target string
	req    uint32
	leg    int
	done   bool
	failed error
}

func (c *toyContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	if c.p.onStep != nil {
		c.p.onStep(ctx)
	}
	if c.p.kdc != nil && c.failed == nil {
		op := "AcceptSecurityContext"
		if c.client {
			op = "InitializeSecurityContext"
		}
		if err := c.p.kdc(ctx, op); err != nil {
			c.failed = err
		}
	}
	if c.failed != nil {
		return status.Code(c.failed), c.failed
	}
	var got []byte
	if b := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN); b != nil {
		got = b.Data
	}
	type legSpec struct {
		want, send string
		st         status.Status
	}
	var spec legSpec
	switch {
	case c.client && c.leg == 0:
		spec = legSpec{"", "hello " + c.target, status.SEC_I_CONTINUE_NEEDED}
	case c.client && c.leg == 1:
		spec = legSpec{"challenge", "proof", status.SEC_E_OK}
	case !c.client && c.leg == 0:
		spec = legSpec{"hello ", "challenge", status.SEC_I_CONTINUE_NEEDED}
	case !c.client && c.leg == 1:
		spec = legSpec{"proof", "", status.SEC_E_OK}
	default:
		c.failed = status.SEC_E_OUT_OF_SEQUENCE
		return status.SEC_E_OUT_OF_SEQUENCE, c.failed
	}
	if !bytes.HasPrefix(got, []byte(spec.want)) {
		c.failed = status.SEC_E_INVALID_TOKEN
		return status.SEC_E_INVALID_TOKEN, c.failed
	}
	b := secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
	if st := secbuffer.Set(b, []byte(spec.send), c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0); st != status.SEC_E_OK {
		return st, st
	}
	c.leg++
	c.done = spec.st == status.SEC_E_OK
	return spec.st, nil
}

func (c *toyContext) Session() packages.Session {
	if !c.done {
		return nil
	}
	return c
}
func (c *toyContext) Sizes() packages.SecPkgContext_Sizes { return packages.SecPkgContext_Sizes{} }
func (c *toyContext) Flags() uint32 {
	if c.done {
		return packages.ISC_RET_INTEGRITY | c.req&packages.ISC_REQ_MUTUAL_AUTH
	}
	return 0
}
func (c *toyContext) Expiry() time.Time { return toyExpiry }
func (c *toyContext) QueryAttribute(uint32) (any, error) {
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}
func (c *toyContext) MakeSignature(uint32, []secbuffer.Buffer, uint32) error {
	return status.SEC_E_UNSUPPORTED_FUNCTION
}
func (c *toyContext) VerifySignature([]secbuffer.Buffer, uint32) (uint32, error) {
	return 0, status.SEC_E_UNSUPPORTED_FUNCTION
}
func (c *toyContext) EncryptMessage(uint32, []secbuffer.Buffer, uint32) (status.Status, error) {
	return status.SEC_E_UNSUPPORTED_FUNCTION, status.SEC_E_UNSUPPORTED_FUNCTION
}
func (c *toyContext) DecryptMessage([]secbuffer.Buffer, uint32) (uint32, status.Status, error) {
	return 0, status.SEC_E_UNSUPPORTED_FUNCTION, status.SEC_E_UNSUPPORTED_FUNCTION
}
func (c *toyContext) Delete() {}

// peer is one side of a flat-API handshake under test: its package and
// the auth data its credentials are acquired with.
type peer struct {
	pkg      string
	authData any
}

// handshakeCase is a package to run handshakes with: a registry holding
// it and the two sides.
type handshakeCase struct {
	name           string
	registry       func(t testing.TB) *sspi.Registry
	client, server peer
	// stream marks Schannel: each handshake input carries a
	// SECBUFFER_EMPTY buffer after the token, and the requests are
	// streamClientReq and streamServerReq.
	stream bool
	// target is the target name, when not testTarget.
	target string
}

func (tc handshakeCase) targetName() *uint16 {
	name := tc.target
	if name == "" {
		name = testTarget
	}
	p, _ := sspi.UTF16PtrFromString(name)
	return p
}

func toyCase(onStep func(context.Context)) handshakeCase {
	return handshakeCase{
		name: "toy",
		registry: func(testing.TB) *sspi.Registry {
			r := sspi.NewRegistry()
			r.Register(&toyPackage{name: "Toy", onStep: onStep})
			return r
		},
		client: peer{pkg: "Toy"},
		server: peer{pkg: "Toy"},
	}
}

// stepGate holds the toy package's steps: while it is held, a step that
// starts waits until the gate is released.
type stepGate struct {
	mu sync.Mutex
	ch chan struct{} // closed on release; nil while steps run freely
}

// wait is the toy package's onStep.
func (g *stepGate) wait(context.Context) {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// hold makes the steps that start from now on wait until release.
func (g *stepGate) hold() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.ch = ch
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		if g.ch == ch {
			g.ch = nil
		}
		g.mu.Unlock()
		close(ch)
	}
}

// pass lets the steps that start from now on run freely; steps already
// waiting stay held until release.
func (g *stepGate) pass() {
	g.mu.Lock()
	g.ch = nil
	g.mu.Unlock()
}

// countingReader is a deterministic Rand (0, 1, 2, ...) safe for
// concurrent use.
type countingReader struct {
	mu sync.Mutex
	n  byte
}

func (r *countingReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

var ntlmTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// ntlmCase registers NTLM with a fixed clock, names and random source, so
// that two registries give the same tokens.
var ntlmCase = handshakeCase{
	name: "NTLM",
	registry: func(testing.TB) *sspi.Registry {
		r := sspi.NewRegistry()
		r.Register(deterministicNTLM())
		return r
	},
	client: peer{pkg: "NTLM", authData: &sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"}},
	server: peer{pkg: "NTLM", authData: ntlm.Users{`EXAMPLE\alice`: "Secret1!"}},
}

// deterministicNTLM is NTLM with a fixed clock, names and random source.
func deterministicNTLM() *ntlm.Package {
	return ntlm.New(&ntlm.Config{
		Rand:         &countingReader{},
		Time:         func() time.Time { return ntlmTime },
		Workstation:  "CLIENT",
		ComputerName: "SERVER",
	})
}

// negotiateCase is SPNEGO over deterministic NTLM (Kerberos left out: it
// needs a KDC).
var negotiateCase = handshakeCase{
	name: "Negotiate",
	registry: func(testing.TB) *sspi.Registry {
		r := sspi.NewRegistry()
		r.Register(negotiate.New(&negotiate.Config{NTLM: deterministicNTLM(), PackageList: "NTLM"}))
		return r
	},
	client: peer{pkg: "Negotiate", authData: &sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"}},
	server: peer{pkg: "Negotiate", authData: &negotiate.AuthData{NTLM: ntlm.Users{`EXAMPLE\alice`: "Secret1!"}}},
}

// digestCase is WDigest (SASL DIGEST-MD5) with a fixed clock and random
// source.
var digestCase = handshakeCase{
	name: "WDigest",
	registry: func(testing.TB) *sspi.Registry {
		r := sspi.NewRegistry()
		r.Register(digest.New(&digest.Config{Rand: &countingReader{}, Time: func() time.Time { return ntlmTime }}))
		return r
	},
	client: peer{pkg: "WDigest", authData: &sspi.AuthIdentity{User: "alice", Password: "Secret1!"}},
	server: peer{pkg: "WDigest", authData: digest.Users{{Name: "alice", Password: "Secret1!"}}},
}

// calls returns the handshake calls of tc: the synchronous ones, or,
// when ch and sh are set, the async ones waited for.
func (tc handshakeCase) calls(t testing.TB, r *sspi.Registry, target *uint16, ch, sh *sspi.SspiAsyncContext) (isc, asc handshakeCall) {
	creq, sreq := uint32(clientReq), uint32(serverReq)
	if tc.stream {
		creq, sreq = streamClientReq, streamServerReq
	}
	if ch == nil {
		isc, asc = syncCallsReq(r, target, creq, sreq)
	} else {
		isc, asc = asyncCallsReq(t, r, target, ch, sh, creq, sreq)
	}
	if tc.stream {
		isc, asc = withEmpty(isc), withEmpty(asc)
	}
	return isc, asc
}

// Schannel's handshake requests, and the SECBUFFER_EMPTY buffer its
// handshake input carries after the token (for SECBUFFER_EXTRA).
const (
	streamClientReq = sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_REPLAY_DETECT | sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_STREAM
	streamServerReq = sspi.ASC_REQ_SEQUENCE_DETECT | sspi.ASC_REQ_REPLAY_DETECT | sspi.ASC_REQ_CONFIDENTIALITY | sspi.ASC_REQ_STREAM
)

func withEmpty(call handshakeCall) handshakeCall {
	return func(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32, expiry *sspi.TimeStamp) status.Status {
		if in != nil {
			in.Buffers = append(in.Buffers, secbuffer.Buffer{Type: secbuffer.SECBUFFER_EMPTY})
		}
		return call(cred, ctx, in, newCtx, out, attr, expiry)
	}
}

// schannelCase is TLS between two Schannel contexts, the server holding a
// certificate for testTarget's host from a CA the client trusts. It is
// in the benchmarks only: TLS randomness makes its tokens differ between
// runs.
func schannelCase(t testing.TB) handshakeCase {
	ca, err := testkit.NewCA("async test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(&x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: schannelHost},
		DNSNames:     []string{schannelHost},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	return handshakeCase{
		name: "Schannel",
		registry: func(testing.TB) *sspi.Registry {
			r := sspi.NewRegistry()
			r.Register(schannel.New(nil))
			return r
		},
		client: peer{pkg: "Schannel", authData: &schannel.SCHANNEL_CRED{Version: sspi.SCHANNEL_CRED_VERSION, RootStore: ca.Pool()}},
		server: peer{pkg: "Schannel", authData: &schannel.SCHANNEL_CRED{Version: sspi.SCHANNEL_CRED_VERSION, Creds: []tls.Certificate{leaf}}},
		stream: true,
		target: schannelHost,
	}
}

// schannelHost is the host part of testTarget, the name Schannel checks
// the server certificate against.
const schannelHost = "web.example.com"

// handshakeCases are the packages every async test runs through. Kerberos
// needs a KDC and Schannel certificates: the cmd/sspi demo test runs them
// (when they can run) through the async calls.
func handshakeCases() []handshakeCase {
	return []handshakeCase{toyCase(nil), ntlmCase, negotiateCase, digestCase}
}

const (
	testTarget = "HTTP/web.example.com"
	clientReq  = sspi.ISC_REQ_CONNECTION | sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_CONFIDENTIALITY
	serverReq  = sspi.ASC_REQ_CONNECTION | sspi.ASC_REQ_MUTUAL_AUTH | sspi.ASC_REQ_INTEGRITY | sspi.ASC_REQ_CONFIDENTIALITY
)

func acquire(t testing.TB, r *sspi.Registry, p peer, use uint32) sspi.CredHandle {
	t.Helper()
	pkg, err := sspi.UTF16PtrFromString(p.pkg)
	if err != nil {
		t.Fatal(err)
	}
	var h sspi.CredHandle
	var expiry sspi.TimeStamp
	if st := r.AcquireCredentialsHandleW(nil, pkg, use, nil, p.authData, 0, 0, &h, &expiry); st != sspi.SEC_E_OK {
		t.Fatalf("AcquireCredentialsHandleW(%s): %v", p.pkg, st)
	}
	return h
}

// handshakeCall is one ISC or ASC call with the parameters that change
// between legs.
type handshakeCall func(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32, expiry *sspi.TimeStamp) status.Status

// leg is what one handshake call produced.
type leg struct {
	client bool
	st     status.Status
	attr   uint32
	expiry sspi.TimeStamp
	token  []byte
}

func (l leg) String() string {
	return fmt.Sprintf("client=%v %v attr=%#x expiry=%d token=%x", l.client, l.st, l.attr, l.expiry, l.token)
}

func syncCalls(r *sspi.Registry, target *uint16) (isc, asc handshakeCall) {
	return syncCallsReq(r, target, clientReq, serverReq)
}

func syncCallsReq(r *sspi.Registry, target *uint16, creq, sreq uint32) (isc, asc handshakeCall) {
	isc = func(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32, expiry *sspi.TimeStamp) status.Status {
		return r.InitializeSecurityContextW(cred, ctx, target, creq, 0, sspi.SECURITY_NATIVE_DREP, in, 0, newCtx, out, attr, expiry)
	}
	asc = func(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32, expiry *sspi.TimeStamp) status.Status {
		return r.AcceptSecurityContext(cred, ctx, in, sreq, sspi.SECURITY_NATIVE_DREP, newCtx, out, attr, expiry)
	}
	return isc, asc
}

// asyncCalls issues each call on its side's async context and waits for
// it, reinitialising the async context first as Windows requires.
func asyncCalls(t testing.TB, r *sspi.Registry, target *uint16, ch, sh *sspi.SspiAsyncContext) (isc, asc handshakeCall) {
	return asyncCallsReq(t, r, target, ch, sh, clientReq, serverReq)
}

func asyncCallsReq(t testing.TB, r *sspi.Registry, target *uint16, ch, sh *sspi.SspiAsyncContext, creq, sreq uint32) (isc, asc handshakeCall) {
	wait := func(h *sspi.SspiAsyncContext, queued status.Status) status.Status {
		if queued != sspi.SEC_E_OK {
			return queued
		}
		return h.Wait(context.Background())
	}
	isc = func(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32, expiry *sspi.TimeStamp) status.Status {
		if st := sspi.SspiReinitAsyncContext(ch); st != sspi.STATUS_SUCCESS {
			t.Errorf("SspiReinitAsyncContext = %v", st)
		}
		return wait(ch, r.SspiInitializeSecurityContextAsyncW(ch, cred, ctx, target, creq, 0, sspi.SECURITY_NATIVE_DREP, in, 0, newCtx, out, attr, expiry))
	}
	asc = func(cred *sspi.CredHandle, ctx *sspi.CtxtHandle, in *secbuffer.Desc, newCtx *sspi.CtxtHandle, out *secbuffer.Desc, attr *uint32, expiry *sspi.TimeStamp) status.Status {
		if st := sspi.SspiReinitAsyncContext(sh); st != sspi.STATUS_SUCCESS {
			t.Errorf("SspiReinitAsyncContext = %v", st)
		}
		return wait(sh, r.SspiAcceptSecurityContextAsync(sh, cred, ctx, in, sreq, sspi.SECURITY_NATIVE_DREP, newCtx, out, attr, expiry))
	}
	return isc, asc
}

// runHandshake drives a whole handshake through isc and asc and returns
// the legs and the two context handles.
func runHandshake(t testing.TB, isc, asc handshakeCall, ccred, scred *sspi.CredHandle) (legs []leg, cctx, sctx sspi.CtxtHandle) {
	t.Helper()
	var token []byte
	var cStarted, sStarted, cDone, sDone bool
	for client := true; len(legs) < 16; client = !client {
		var in *secbuffer.Desc
		if token != nil || !client {
			in = &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: token}}}
		}
		out := tokenDesc(tokenCap)
		var l leg
		l.client = client
		if client {
			cur := &cctx
			if !cStarted {
				cur = nil
			}
			l.st = isc(ccred, cur, in, &cctx, &out, &l.attr, &l.expiry)
			cStarted, cDone = true, l.st == sspi.SEC_E_OK
		} else {
			cur := &sctx
			if !sStarted {
				cur = nil
			}
			l.st = asc(scred, cur, in, &sctx, &out, &l.attr, &l.expiry)
			sStarted, sDone = true, l.st == sspi.SEC_E_OK
		}
		l.token = append([]byte(nil), out.Buffers[0].Data...)
		legs = append(legs, l)
		if l.st.Failed() {
			t.Fatalf("leg %d: %v", len(legs), l)
		}
		token = l.token
		if cDone && sDone {
			return legs, cctx, sctx
		}
	}
	t.Fatalf("handshake did not finish: %v", legs)
	return nil, cctx, sctx
}

// Each package's handshake gives the same statuses, attributes, expiries
// and tokens through the async calls as through the synchronous ones.
func TestAsyncHandshakeMatchesSync(t *testing.T) {
	for _, tc := range handshakeCases() {
		t.Run(tc.name, func(t *testing.T) {
			target, err := sspi.UTF16PtrFromString(testTarget)
			if err != nil {
				t.Fatal(err)
			}
			// Each run gets its own registry, so that deterministic
			// packages start from the same random state.
			run := func(r *sspi.Registry, isc, asc handshakeCall) []leg {
				ccred := acquire(t, r, tc.client, sspi.SECPKG_CRED_OUTBOUND)
				scred := acquire(t, r, tc.server, sspi.SECPKG_CRED_INBOUND)
				legs, cctx, sctx := runHandshake(t, isc, asc, &ccred, &scred)
				for _, st := range []status.Status{
					r.DeleteSecurityContext(&cctx), r.DeleteSecurityContext(&sctx),
					r.FreeCredentialsHandle(&ccred), r.FreeCredentialsHandle(&scred),
				} {
					if st != sspi.SEC_E_OK {
						t.Errorf("cleanup: %v", st)
					}
				}
				return legs
			}
			r := tc.registry(t)
			isc, asc := syncCalls(r, target)
			want := run(r, isc, asc)
			ch, sh := sspi.SspiCreateAsyncContext(), sspi.SspiCreateAsyncContext()
			defer sspi.SspiFreeAsyncContext(ch)
			defer sspi.SspiFreeAsyncContext(sh)
			r = tc.registry(t)
			isc, asc = asyncCalls(t, r, target, ch, sh)
			got := run(r, isc, asc)
			if len(got) != len(want) {
				t.Fatalf("async: %d legs, sync %d\nasync: %v\nsync:  %v", len(got), len(want), got, want)
			}
			for i := range want {
				if got[i].String() != want[i].String() {
					t.Errorf("leg %d:\nasync %v\nsync  %v", i, got[i], want[i])
				}
			}
		})
	}
}

// The asynchronous credential calls give what the synchronous ones give.
func TestAsyncCredentials(t *testing.T) {
	r := toyCase(nil).registry(t)
	h := sspi.SspiCreateAsyncContext()
	defer sspi.SspiFreeAsyncContext(h)
	for _, tt := range []struct {
		name     string
		pkg      string
		authData any
		want     status.Status
	}{
		{"ok", "Toy", nil, sspi.SEC_E_OK},
		{"case-insensitive", "tOy", nil, sspi.SEC_E_OK},
		{"unknown package", "Nope", nil, sspi.SEC_E_SECPKG_NOT_FOUND},
		{"bad auth data", "Toy", 42, sspi.SEC_E_UNKNOWN_CREDENTIALS},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var cred sspi.CredHandle
			var expiry sspi.TimeStamp
			pkgW, _ := sspi.UTF16PtrFromString(tt.pkg)
			if st := r.SspiAcquireCredentialsHandleAsyncW(h, nil, pkgW, sspi.SECPKG_CRED_OUTBOUND, nil, tt.authData, 0, 0, &cred, &expiry); st != sspi.SEC_E_OK {
				t.Fatalf("queueing: %v", st)
			}
			if st := h.Wait(context.Background()); st != tt.want {
				t.Fatalf("status %v, want %v", st, tt.want)
			}
			var syncCred sspi.CredHandle
			var syncExpiry sspi.TimeStamp
			if st := r.AcquireCredentialsHandleW(nil, pkgW, sspi.SECPKG_CRED_OUTBOUND, nil, tt.authData, 0, 0, &syncCred, &syncExpiry); st != tt.want {
				t.Fatalf("sync status %v, want %v", st, tt.want)
			}
			if tt.want != sspi.SEC_E_OK {
				return
			}
			if expiry != syncExpiry || expiry.Time() != toyExpiry {
				t.Errorf("expiry %v, sync %v", expiry.Time(), syncExpiry.Time())
			}
			pkgA, _ := sspi.BytePtrFromString(tt.pkg)
			var credA sspi.CredHandle
			sspi.SspiReinitAsyncContext(h)
			if st := r.SspiAcquireCredentialsHandleAsyncA(h, nil, pkgA, sspi.SECPKG_CRED_OUTBOUND, nil, nil, 0, 0, &credA, nil); st != sspi.SEC_E_OK {
				t.Fatalf("queueing A: %v", st)
			}
			if st := h.Wait(context.Background()); st != sspi.SEC_E_OK {
				t.Fatalf("A: %v", st)
			}
			for _, c := range []*sspi.CredHandle{&cred, &credA} {
				sspi.SspiReinitAsyncContext(h)
				if st := r.SspiFreeCredentialsHandleAsync(h, c); st != sspi.SEC_E_OK {
					t.Fatalf("queueing free: %v", st)
				}
				if st := h.Wait(context.Background()); st != sspi.SEC_E_OK {
					t.Errorf("free: %v", st)
				}
				// The handle is gone: the next free fails when queued.
				if st := r.SspiFreeCredentialsHandleAsync(h, c); st != sspi.SEC_E_INVALID_HANDLE {
					t.Errorf("second free: %v", st)
				}
			}
			r.FreeCredentialsHandle(&syncCred)
		})
	}
}

// issueFunc issues one asynchronous call on h.
type issueFunc func(h *sspi.SspiAsyncContext) status.Status

// TestAsyncMisuse runs every call of the family against a nil, a freed
// and a busy async context, and against handles that name nothing.
func TestAsyncMisuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		var gate stepGate
		r := toyCase(gate.wait).registry(t)
		ccred := acquire(t, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_OUTBOUND)
		scred := acquire(t, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_INBOUND)
		target, _ := sspi.UTF16PtrFromString(testTarget)
		targetA, _ := sspi.BytePtrFromString(testTarget)
		pkgW, _ := sspi.UTF16PtrFromString("Toy")
		pkgA, _ := sspi.BytePtrFromString("Toy")
		bogusCtx := sspi.CtxtHandle{Lower: 7, Upper: 7}
		bogusCred := sspi.CredHandle{Lower: 7, Upper: 7}

		// A live context for the calls that continue or delete one.
		var liveCtx sspi.CtxtHandle
		liveOut := tokenDesc(256)
		if st := r.InitializeSecurityContextW(&ccred, nil, target, clientReq, 0, 0, nil, 0, &liveCtx, &liveOut, nil, nil); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Fatalf("first leg: %v", st)
		}

		// Each call, with the outputs it would write.
		var newCtx sspi.CtxtHandle
		var newCred sspi.CredHandle
		var attr uint32
		var expiry sspi.TimeStamp
		out := func() *secbuffer.Desc {
			return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 256)}}}
		}
		in := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte("hello x")}}}
		in2 := func() *secbuffer.Desc {
			return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte("challenge")}}}
		}
		calls := []struct {
			name string
			call issueFunc
		}{
			{"AcquireW", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiAcquireCredentialsHandleAsyncW(h, nil, pkgW, sspi.SECPKG_CRED_OUTBOUND, nil, nil, 0, 0, &newCred, &expiry)
			}},
			{"AcquireA", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiAcquireCredentialsHandleAsyncA(h, nil, pkgA, sspi.SECPKG_CRED_OUTBOUND, nil, nil, 0, 0, &newCred, &expiry)
			}},
			{"ISCW", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiInitializeSecurityContextAsyncW(h, &ccred, nil, target, clientReq, 0, 0, nil, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"ISCA", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiInitializeSecurityContextAsyncA(h, &ccred, nil, targetA, clientReq, 0, 0, nil, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"ASC", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiAcceptSecurityContextAsync(h, &scred, nil, in, serverReq, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"FreeCred", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiFreeCredentialsHandleAsync(h, &ccred)
			}},
			{"ISC continuing", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiInitializeSecurityContextAsyncW(h, nil, &liveCtx, target, clientReq, 0, 0, in, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"Delete", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiDeleteSecurityContextAsync(h, &liveCtx)
			}},
		}

		freed := sspi.SspiCreateAsyncContext()
		sspi.SspiFreeAsyncContext(freed)
		busy := sspi.SspiCreateAsyncContext()
		release := gate.hold()
		var busyCtx sspi.CtxtHandle
		if st := r.SspiInitializeSecurityContextAsyncW(busy, &ccred, nil, target, clientReq, 0, 0, nil, 0, &busyCtx, out(), &attr, &expiry); st != sspi.SEC_E_OK {
			t.Fatalf("queueing the busy call: %v", st)
		}
		synctest.Wait()

		for _, h := range []struct {
			name string
			h    *sspi.SspiAsyncContext
		}{{"nil", nil}, {"freed", freed}, {"busy", busy}} {
			for _, c := range calls {
				if st := c.call(h.h); st != sspi.SEC_E_INVALID_HANDLE {
					t.Errorf("%s on %s async context: %v, want SEC_E_INVALID_HANDLE", c.name, h.name, st)
				}
			}
		}
		synctest.Wait()
		if newCtx != (sspi.CtxtHandle{}) || newCred != (sspi.CredHandle{}) || attr != 0 || expiry != 0 {
			t.Error("a refused call wrote its outputs")
		}
		if st := sspi.SspiGetAsyncCallStatus(busy); st != sspi.SEC_I_ASYNC_CALL_PENDING {
			t.Errorf("busy context status %v after refused calls", st)
		}
		// Nothing ran: the client credentials are still there (and the
		// live context is where the first leg left it, checked below).
		if _, err := r.Credentials(&ccred); err != nil {
			t.Errorf("refused FreeCredentialsHandle ran: %v", err)
		}

		// Handles that name nothing: refused at once, the async context
		// stays idle and usable.
		idle := sspi.SspiCreateAsyncContext()
		for _, c := range []struct {
			name string
			call issueFunc
		}{
			{"ISC bogus context", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiInitializeSecurityContextAsyncW(h, &ccred, &bogusCtx, target, clientReq, 0, 0, in, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"ISC bogus credentials", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiInitializeSecurityContextAsyncW(h, &bogusCred, nil, target, clientReq, 0, 0, nil, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"ISC nil credentials", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiInitializeSecurityContextAsyncA(h, nil, nil, targetA, clientReq, 0, 0, nil, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"ASC bogus context", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiAcceptSecurityContextAsync(h, &scred, &bogusCtx, in, serverReq, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"ASC bogus credentials", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiAcceptSecurityContextAsync(h, &bogusCred, nil, in, serverReq, 0, &newCtx, out(), &attr, &expiry)
			}},
			{"free bogus credentials", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiFreeCredentialsHandleAsync(h, &bogusCred)
			}},
			{"free nil credentials", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiFreeCredentialsHandleAsync(h, nil)
			}},
			{"delete bogus context", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiDeleteSecurityContextAsync(h, &bogusCtx)
			}},
			{"delete nil context", func(h *sspi.SspiAsyncContext) status.Status {
				return r.SspiDeleteSecurityContextAsync(h, nil)
			}},
		} {
			if st := c.call(idle); st != sspi.SEC_E_INVALID_HANDLE {
				t.Errorf("%s: %v, want SEC_E_INVALID_HANDLE", c.name, st)
			}
			if st := sspi.SspiGetAsyncCallStatus(idle); st != sspi.SEC_E_OK {
				t.Errorf("%s: idle context status %v", c.name, st)
			}
		}

		// The context-management calls.
		cb := func(*sspi.SspiAsyncContext, any) {}
		for _, h := range []struct {
			name       string
			h          *sspi.SspiAsyncContext
			reinit     sspi.NTSTATUS
			setNotify  status.Status
			callStatus status.Status
		}{
			{"nil", nil, sspi.STATUS_INVALID_HANDLE, sspi.SEC_E_INVALID_HANDLE, sspi.SEC_E_INVALID_HANDLE},
			{"freed", freed, sspi.STATUS_INVALID_HANDLE, sspi.SEC_E_INVALID_HANDLE, sspi.SEC_E_INVALID_HANDLE},
			{"busy", busy, sspi.STATUS_INVALID_DEVICE_STATE, sspi.SEC_E_OK, sspi.SEC_I_ASYNC_CALL_PENDING},
			{"idle", idle, sspi.STATUS_SUCCESS, sspi.SEC_E_OK, sspi.SEC_E_OK},
		} {
			if got := sspi.SspiReinitAsyncContext(h.h); got != h.reinit {
				t.Errorf("SspiReinitAsyncContext(%s) = %v, want %v", h.name, got, h.reinit)
			}
			if got := sspi.SspiAsyncContextRequiresNotify(h.h); got {
				t.Errorf("SspiAsyncContextRequiresNotify(%s) = true before registration", h.name)
			}
			if got := sspi.SspiSetAsyncNotifyCallback(h.h, cb, nil); got != h.setNotify {
				t.Errorf("SspiSetAsyncNotifyCallback(%s) = %v, want %v", h.name, got, h.setNotify)
			}
			if got, want := sspi.SspiAsyncContextRequiresNotify(h.h), h.setNotify == sspi.SEC_E_OK; got != want {
				t.Errorf("SspiAsyncContextRequiresNotify(%s) = %v after registration", h.name, got)
			}
			if got := sspi.SspiGetAsyncCallStatus(h.h); got != h.callStatus {
				t.Errorf("SspiGetAsyncCallStatus(%s) = %v, want %v", h.name, got, h.callStatus)
			}
			select {
			case <-h.h.Done():
				if h.name == "busy" {
					t.Errorf("%s: Done closed", h.name)
				}
			default:
				if h.name != "busy" {
					t.Errorf("%s: Done open", h.name)
				}
			}
		}
		if sspi.SspiSetAsyncNotifyCallback(idle, nil, nil) != sspi.SEC_E_OK || sspi.SspiAsyncContextRequiresNotify(idle) {
			t.Error("a nil callback does not unregister")
		}

		// The busy call completes normally after all that.
		release()
		if st := busy.Wait(context.Background()); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Errorf("busy call: %v", st)
		}
		if !busyCtx.IsValid() || busyCtx == (sspi.CtxtHandle{}) {
			t.Error("busy call wrote no context handle")
		}
		r.DeleteSecurityContext(&busyCtx)
		if st := r.InitializeSecurityContextW(nil, &liveCtx, target, clientReq, 0, 0, in2(), 0, &liveCtx, &liveOut, nil, nil); st != sspi.SEC_E_OK {
			t.Errorf("live context after refused calls: %v", st)
		}
		if st := r.DeleteSecurityContext(&liveCtx); st != sspi.SEC_E_OK {
			t.Errorf("live context after refused calls: %v", st)
		}

		// Double free, free of nil.
		for _, h := range []*sspi.SspiAsyncContext{busy, idle, freed, nil} {
			sspi.SspiFreeAsyncContext(h)
			sspi.SspiFreeAsyncContext(h)
		}
		if st := busy.Wait(context.Background()); st != sspi.SEC_E_INVALID_HANDLE {
			t.Errorf("Wait on freed context: %v", st)
		}
	})
}

// Calls on one security context run in issue order: a delete queued behind
// a running handshake call waits for it.
func TestAsyncOrderingPerContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		defer sspi.SetAsyncLimits(sspi.AsyncLimits{})
		sspi.SetAsyncLimits(sspi.AsyncLimits{CPU: 4})
		var gate stepGate
		r := toyCase(gate.wait).registry(t)
		ccred := acquire(t, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_OUTBOUND)
		target, _ := sspi.UTF16PtrFromString(testTarget)
		var cctx sspi.CtxtHandle
		out := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 256)}}}
		if st := r.InitializeSecurityContextW(&ccred, nil, target, clientReq, 0, 0, nil, 0, &cctx, out, nil, nil); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Fatalf("first leg: %v", st)
		}

		release := gate.hold()
		isc, del, other := sspi.SspiCreateAsyncContext(), sspi.SspiCreateAsyncContext(), sspi.SspiCreateAsyncContext()
		in := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte("challenge")}}}
		out = &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 256)}}}
		var attr uint32
		if st := r.SspiInitializeSecurityContextAsyncW(isc, nil, &cctx, target, clientReq, 0, 0, in, 0, &cctx, out, &attr, nil); st != sspi.SEC_E_OK {
			t.Fatalf("queueing ISC: %v", st)
		}
		if st := r.SspiDeleteSecurityContextAsync(del, &cctx); st != sspi.SEC_E_OK {
			t.Fatalf("queueing delete: %v", st)
		}
		synctest.Wait()
		if sspi.SspiGetAsyncCallStatus(del) != sspi.SEC_I_ASYNC_CALL_PENDING {
			t.Fatal("delete ran while the handshake call on its context runs")
		}
		// A call on another context is not held up.
		var other2 sspi.CtxtHandle
		gate.pass()
		out2 := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 256)}}}
		if st := r.SspiInitializeSecurityContextAsyncW(other, &ccred, nil, target, clientReq, 0, 0, nil, 0, &other2, out2, nil, nil); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		if st := other.Wait(context.Background()); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Errorf("call on another context: %v", st)
		}
		release()
		if st := isc.Wait(context.Background()); st != sspi.SEC_E_OK || string(out.Buffers[0].Data) != "proof" {
			t.Errorf("ISC: %v %q", st, out.Buffers[0].Data)
		}
		if st := del.Wait(context.Background()); st != sspi.SEC_E_OK {
			t.Errorf("delete: %v", st)
		}
		if st := r.DeleteSecurityContext(&cctx); st != sspi.SEC_E_INVALID_HANDLE {
			t.Errorf("context not deleted: %v", st)
		}
		r.DeleteSecurityContext(&other2)
		for _, h := range []*sspi.SspiAsyncContext{isc, del, other} {
			sspi.SspiFreeAsyncContext(h)
		}
	})
}

// Freeing an async context cancels its call: a queued call never runs, and
// Free waits for a running one, whose callback then never runs.
func TestAsyncFreeCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		var gate stepGate
		var steps atomic.Int32
		r := toyCase(func(ctx context.Context) {
			steps.Add(1)
			gate.wait(ctx)
		}).registry(t)
		ccred := acquire(t, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_OUTBOUND)
		target, _ := sspi.UTF16PtrFromString(testTarget)
		var cctx sspi.CtxtHandle
		newOut := func() *secbuffer.Desc {
			return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 256)}}}
		}
		release := gate.hold()
		running, queued := sspi.SspiCreateAsyncContext(), sspi.SspiCreateAsyncContext()
		var notified atomic.Int32
		for _, h := range []*sspi.SspiAsyncContext{running, queued} {
			sspi.SspiSetAsyncNotifyCallback(h, func(*sspi.SspiAsyncContext, any) { notified.Add(1) }, nil)
		}
		if st := r.SspiInitializeSecurityContextAsyncW(running, &ccred, nil, target, clientReq, 0, 0, nil, 0, &cctx, newOut(), nil, nil); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		synctest.Wait()
		if steps.Load() != 1 {
			t.Fatal("first call not running")
		}

		// Free the running call from another goroutine: it must wait for
		// the step to end.
		freed := make(chan struct{})
		go func() {
			sspi.SspiFreeAsyncContext(running)
			close(freed)
		}()
		synctest.Wait()
		select {
		case <-freed:
			t.Fatal("SspiFreeAsyncContext returned while the call runs")
		default:
		}
		release()
		<-freed
		// The call created a context before Free returned; its handle is
		// written and must be deleted by the caller.
		if st := r.DeleteSecurityContext(&cctx); st != sspi.SEC_E_OK {
			t.Errorf("context created by the freed call: %v", st)
		}
		synctest.Wait()
		if n := notified.Load(); n != 0 {
			t.Errorf("callback ran %d times for a freed call", n)
		}
		if st := sspi.SspiGetAsyncCallStatus(running); st != sspi.SEC_E_INVALID_HANDLE {
			t.Errorf("status of freed context: %v", st)
		}

		// A call queued behind another on the same context never runs.
		var c2 sspi.CtxtHandle
		if st := r.InitializeSecurityContextW(&ccred, nil, target, clientReq, 0, 0, nil, 0, &c2, newOut(), nil, nil); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Fatal(st)
		}
		release = gate.hold()
		blocker := sspi.SspiCreateAsyncContext()
		in := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte("challenge")}}}
		if st := r.SspiInitializeSecurityContextAsyncW(blocker, nil, &c2, target, clientReq, 0, 0, in, 0, &c2, newOut(), nil, nil); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		if st := r.SspiDeleteSecurityContextAsync(queued, &c2); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		synctest.Wait()
		before := steps.Load()
		sspi.SspiFreeAsyncContext(queued)
		release()
		if st := blocker.Wait(context.Background()); st != sspi.SEC_E_OK {
			t.Errorf("blocker: %v", st)
		}
		synctest.Wait()
		if steps.Load() != before {
			t.Error("steps ran after the blocker")
		}
		// The freed delete never ran: the context is still there.
		if st := r.DeleteSecurityContext(&c2); st != sspi.SEC_E_OK {
			t.Errorf("context after the freed delete: %v", st)
		}
		if n := notified.Load(); n != 0 {
			t.Errorf("callback ran %d times", n)
		}
		sspi.SspiFreeAsyncContext(blocker)
	})
}

// Freeing an async context cancels a call that waits on a KDC through the
// call's context: SspiFreeAsyncContext returns although the KDC never
// answers, the call's goroutine ends, the callback never runs (the spec:
// never let the callback touch a freed context) and the call writes none
// of its outputs. Each case's KDC wait is in a different call.
func TestAsyncFreeCancelsKDCWait(t *testing.T) {
	for _, op := range []string{"AcquireCredentialsHandle", "InitializeSecurityContext", "InitializeSecurityContext (second leg)", "AcceptSecurityContext"} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sspi.UseOwnAsyncEngine(t)
				testFreeCancelsKDCWait(t, op)
			})
		})
	}
}

func testFreeCancelsKDCWait(t *testing.T, op string) {
	waiting := make(chan struct{}, 1)
	var gaveUp atomic.Int32
	var block atomic.Bool
	r := sspi.NewRegistry()
	r.Register(&toyPackage{name: "Kerberos", kdc: func(ctx context.Context, kdcOp string) error {
		if !block.Load() || !strings.HasPrefix(op, kdcOp) {
			return nil
		}
		waiting <- struct{}{}
		<-ctx.Done() // the KDC never answers
		gaveUp.Add(1)
		return status.New(kdcOp, "Kerberos", status.SEC_E_NO_AUTHENTICATING_AUTHORITY, context.Cause(ctx))
	}})
	target, _ := sspi.UTF16PtrFromString(testTarget)
	pkg, _ := sspi.UTF16PtrFromString("Kerberos")

	var cred sspi.CredHandle
	var cctx sspi.CtxtHandle
	use := uint32(sspi.SECPKG_CRED_OUTBOUND)
	if op == "AcceptSecurityContext" {
		use = sspi.SECPKG_CRED_INBOUND
	}
	if op != "AcquireCredentialsHandle" {
		cred = acquire(t, r, peer{pkg: "Kerberos"}, use)
		defer r.FreeCredentialsHandle(&cred)
	}
	if op == "InitializeSecurityContext (second leg)" {
		out := tokenDesc(256)
		if st := r.InitializeSecurityContextW(&cred, nil, target, clientReq, 0, 0, nil, 0, &cctx, &out, nil, nil); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Fatal(st)
		}
		defer func() {
			// The context the cut-short call worked on is failed but
			// still there: its handle must be deleted.
			if st := r.DeleteSecurityContext(&cctx); st != sspi.SEC_E_OK {
				t.Errorf("DeleteSecurityContext after the cancelled leg: %v", st)
			}
		}()
	}

	base := engineGoroutines()
	h := sspi.SspiCreateAsyncContext()
	var callbacks atomic.Int32
	sspi.SspiSetAsyncNotifyCallback(h, func(*sspi.SspiAsyncContext, any) { callbacks.Add(1) }, nil)
	block.Store(true)
	var (
		newCred sspi.CredHandle
		newCtx  sspi.CtxtHandle
		attr    uint32
		expiry  sspi.TimeStamp
		out     = tokenDesc(256)
		queued  status.Status
	)
	in := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte("challenge")}}}
	switch op {
	case "AcquireCredentialsHandle":
		queued = r.SspiAcquireCredentialsHandleAsyncW(h, nil, pkg, sspi.SECPKG_CRED_OUTBOUND, nil, nil, 0, 0, &newCred, &expiry)
	case "InitializeSecurityContext":
		queued = r.SspiInitializeSecurityContextAsyncW(h, &cred, nil, target, clientReq, 0, 0, nil, 0, &newCtx, &out, &attr, &expiry)
	case "InitializeSecurityContext (second leg)":
		queued = r.SspiInitializeSecurityContextAsyncW(h, nil, &cctx, target, clientReq, 0, 0, in, 0, &newCtx, &out, &attr, &expiry)
	case "AcceptSecurityContext":
		in.Buffers[0].Data = []byte("hello " + testTarget)
		queued = r.SspiAcceptSecurityContextAsync(h, &cred, nil, in, serverReq, 0, &newCtx, &out, &attr, &expiry)
	}
	if queued != sspi.SEC_E_OK {
		t.Fatalf("queueing: %v", queued)
	}
	<-waiting
	if st := sspi.SspiGetAsyncCallStatus(h); st != sspi.SEC_I_ASYNC_CALL_PENDING {
		t.Fatalf("status while the KDC is silent: %v", st)
	}
	if got := engineGoroutines(); got != base+1 {
		t.Errorf("%d engine goroutines while one call waits, %d before", got, base)
	}

	// The KDC never answers: Free returns only because the call gives up.
	// (In the bubble, a Free that waited for the KDC would deadlock.)
	sspi.SspiFreeAsyncContext(h)
	if n := gaveUp.Load(); n != 1 {
		t.Errorf("the KDC wait ended %d times, want 1", n)
	}
	// Nothing was written: not before Free returned (the call failed) and
	// not after (the call is over).
	synctest.Wait()
	if newCred != (sspi.CredHandle{}) || newCtx != (sspi.CtxtHandle{}) || attr != 0 || expiry != 0 || len(out.Buffers[0].Data) != 0 {
		t.Errorf("outputs written by the cancelled call: cred %v ctx %v attr %#x expiry %d token %q",
			newCred, newCtx, attr, expiry, out.Buffers[0].Data)
	}
	if n := callbacks.Load(); n != 0 {
		t.Errorf("callback ran %d times for the freed call", n)
	}
	if st := sspi.SspiGetAsyncCallStatus(h); st != sspi.SEC_E_INVALID_HANDLE {
		t.Errorf("status of the freed async context: %v", st)
	}
	if got := engineGoroutines(); got > base {
		t.Errorf("%d engine goroutines after Free, %d before the call", got, base)
	}
}

// The callback runs once per call, after the outputs and the status are
// final, with the registered data; Done is closed by then.
func TestAsyncCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		r := toyCase(nil).registry(t)
		ccred := acquire(t, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_OUTBOUND)
		target, _ := sspi.UTF16PtrFromString(testTarget)
		h := sspi.SspiCreateAsyncContext()
		type seen struct {
			h      *sspi.SspiAsyncContext
			data   any
			st     status.Status
			token  string
			ctx    sspi.CtxtHandle
			attr   uint32
			expiry sspi.TimeStamp
			done   bool
		}
		var mu sync.Mutex
		var calls []seen
		var cctx sspi.CtxtHandle
		var attr uint32
		var expiry sspi.TimeStamp
		out := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 256)}}}
		data := &struct{ n int }{42}
		if st := sspi.SspiSetAsyncNotifyCallback(h, func(hh *sspi.SspiAsyncContext, d any) {
			s := seen{hh, d, sspi.SspiGetAsyncCallStatus(hh), string(out.Buffers[0].Data), cctx, attr, expiry, false}
			select {
			case <-hh.Done():
				s.done = true
			default:
			}
			mu.Lock()
			calls = append(calls, s)
			mu.Unlock()
		}, data); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		if !sspi.SspiAsyncContextRequiresNotify(h) {
			t.Error("SspiAsyncContextRequiresNotify = false with a callback")
		}
		if st := r.SspiInitializeSecurityContextAsyncW(h, &ccred, nil, target, clientReq, 0, 0, nil, 0, &cctx, out, &attr, &expiry); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		<-h.Done()
		synctest.Wait()
		if len(calls) != 1 {
			t.Fatalf("callback ran %d times", len(calls))
		}
		s := calls[0]
		if s.h != h || s.data != any(data) {
			t.Errorf("callback got handle %p data %v", s.h, s.data)
		}
		if s.st != sspi.SEC_I_CONTINUE_NEEDED || s.token != "hello "+testTarget || s.ctx != cctx || !cctx.IsValid() ||
			s.expiry.Time() != toyExpiry || !s.done {
			t.Errorf("callback saw %+v", s)
		}
		r.DeleteSecurityContext(&cctx)
		sspi.SspiFreeAsyncContext(h)
	})
}

// Many handshakes at once, each driven only by its notify callbacks: every
// callback runs exactly once, every handshake completes, and the engine
// leaves no goroutine behind. The test runs in a synctest bubble, so
// synctest.Wait tells when every goroutine the engine started has ended
// (or is stuck, which the bubble reports as a deadlock).
func TestAsyncManyHandshakes(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 500
	}
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		r := ntlmCase.registry(t)
		ccred := acquire(t, r, ntlmCase.client, sspi.SECPKG_CRED_OUTBOUND)
		scred := acquire(t, r, ntlmCase.server, sspi.SECPKG_CRED_INBOUND)
		defer r.FreeCredentialsHandle(&ccred)
		defer r.FreeCredentialsHandle(&scred)
		target, _ := sspi.UTF16PtrFromString(testTarget)

		base := engineGoroutines()
		hs := make([]*callbackHandshake, n)
		var wg sync.WaitGroup
		wg.Add(n)
		for i := range hs {
			hs[i] = newCallbackHandshake(t, r, &ccred, &scred, target, wg.Done)
		}
		for _, h := range hs {
			h.start()
		}
		wg.Wait()
		synctest.Wait() // every engine goroutine has ended
		if got := engineGoroutines(); got > base {
			t.Errorf("%d engine goroutines after the handshakes, %d before", got, base)
		}
		for i, h := range hs {
			if h.err != nil {
				t.Fatalf("handshake %d: %v", i, h.err)
			}
			// client: ISC, ISC, delete; server: ASC, ASC, delete.
			if c, s := h.clientCalls.Load(), h.serverCalls.Load(); c != 3 || s != 3 {
				t.Fatalf("handshake %d: %d client and %d server callbacks, want 3 and 3", i, c, s)
			}
			sspi.SspiFreeAsyncContext(h.ch)
			sspi.SspiFreeAsyncContext(h.sh)
		}
	})
}

// engineGoroutines counts the goroutines of the async engine in the
// calling test's testing/synctest bubble: those with the engine's run loop
// on their stack. Tests count these rather than runtime.NumGoroutine,
// which also counts the runtime's finalizer and cleanup goroutines while
// they run, at times no test controls, and workers that earlier tests
// outside a bubble left winding down.
func engineGoroutines() int {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, ", synctest bubble ") && strings.Contains(g, "sspi/internal/async.(*Engine).run(") {
			count++
		}
	}
	return count
}

// callbackHandshake is a client and a server driven by notify callbacks:
// each completion issues the next call on the other side.
type callbackHandshake struct {
	r              *sspi.Registry
	ccred, scred   *sspi.CredHandle
	target         *uint16
	ch, sh         *sspi.SspiAsyncContext
	cctx, sctx     sspi.CtxtHandle
	cOut, sOut     secbuffer.Desc
	cIn, sIn       secbuffer.Desc
	cLegs, sLegs   int
	finished       atomic.Int32
	clientCalls    atomic.Int32
	serverCalls    atomic.Int32
	err            error
	done           func()
	t              testing.TB
	clientFinished bool
}

func newCallbackHandshake(t testing.TB, r *sspi.Registry, ccred, scred *sspi.CredHandle, target *uint16, done func()) *callbackHandshake {
	h := &callbackHandshake{r: r, ccred: ccred, scred: scred, target: target, done: done, t: t,
		ch: sspi.SspiCreateAsyncContext(), sh: sspi.SspiCreateAsyncContext()}
	sspi.SspiSetAsyncNotifyCallback(h.ch, h.onClient, "client")
	sspi.SspiSetAsyncNotifyCallback(h.sh, h.onServer, "server")
	return h
}

// tokenCap is the output buffer every handshake test and benchmark offers:
// room for any NTLM token.
const tokenCap = 4096

func tokenDesc(capacity int) secbuffer.Desc {
	return secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, capacity)}}}
}

func (h *callbackHandshake) fail(err error) {
	h.err = err
	h.done()
}

func (h *callbackHandshake) start() {
	h.cOut = tokenDesc(tokenCap)
	if st := h.r.SspiInitializeSecurityContextAsyncW(h.ch, h.ccred, nil, h.target, clientReq, 0, 0, nil, 0, &h.cctx, &h.cOut, nil, nil); st != sspi.SEC_E_OK {
		h.fail(fmt.Errorf("queueing the first ISC: %v", st))
	}
}

// deleted counts the two deletes; the second one ends the handshake.
func (h *callbackHandshake) deleted() {
	if h.finished.Add(1) == 2 {
		h.done()
	}
}

func (h *callbackHandshake) onClient(a *sspi.SspiAsyncContext, data any) {
	h.clientCalls.Add(1)
	if a != h.ch || data != "client" {
		h.fail(fmt.Errorf("client callback got %p %v", a, data))
		return
	}
	st := sspi.SspiGetAsyncCallStatus(a)
	if h.clientFinished {
		if st != sspi.SEC_E_OK {
			h.fail(fmt.Errorf("client delete: %v", st))
			return
		}
		h.deleted()
		return
	}
	h.cLegs++
	switch st {
	case sspi.SEC_I_CONTINUE_NEEDED, sspi.SEC_E_OK:
	default:
		h.fail(fmt.Errorf("client leg %d: %v", h.cLegs, st))
		return
	}
	if st == sspi.SEC_E_OK {
		h.clientFinished = true
	}
	// Hand the token to the server.
	h.sIn = secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: h.cOut.Buffers[0].Data}}}
	h.sOut = tokenDesc(tokenCap)
	var cur *sspi.CtxtHandle
	if h.sLegs > 0 {
		cur = &h.sctx
	}
	sspi.SspiReinitAsyncContext(h.sh)
	if q := h.r.SspiAcceptSecurityContextAsync(h.sh, h.scred, cur, &h.sIn, serverReq, 0, &h.sctx, &h.sOut, nil, nil); q != sspi.SEC_E_OK {
		h.fail(fmt.Errorf("queueing ASC: %v", q))
		return
	}
	if st == sspi.SEC_E_OK {
		// The client is done: delete its context on its own async context.
		sspi.SspiReinitAsyncContext(a)
		if q := h.r.SspiDeleteSecurityContextAsync(a, &h.cctx); q != sspi.SEC_E_OK {
			h.fail(fmt.Errorf("queueing client delete: %v", q))
		}
	}
}

func (h *callbackHandshake) onServer(a *sspi.SspiAsyncContext, data any) {
	h.serverCalls.Add(1)
	if a != h.sh || data != "server" {
		h.fail(fmt.Errorf("server callback got %p %v", a, data))
		return
	}
	st := sspi.SspiGetAsyncCallStatus(a)
	if h.sLegs < 0 { // the delete
		if st != sspi.SEC_E_OK {
			h.fail(fmt.Errorf("server delete: %v", st))
			return
		}
		h.deleted()
		return
	}
	h.sLegs++
	switch st {
	case sspi.SEC_I_CONTINUE_NEEDED:
		h.cIn = secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: h.sOut.Buffers[0].Data}}}
		h.cOut = tokenDesc(tokenCap)
		sspi.SspiReinitAsyncContext(h.ch)
		if q := h.r.SspiInitializeSecurityContextAsyncW(h.ch, nil, &h.cctx, h.target, clientReq, 0, 0, &h.cIn, 0, &h.cctx, &h.cOut, nil, nil); q != sspi.SEC_E_OK {
			h.fail(fmt.Errorf("queueing ISC: %v", q))
		}
	case sspi.SEC_E_OK:
		h.sLegs = -1
		sspi.SspiReinitAsyncContext(a)
		if q := h.r.SspiDeleteSecurityContextAsync(a, &h.sctx); q != sspi.SEC_E_OK {
			h.fail(fmt.Errorf("queueing server delete: %v", q))
		}
	default:
		h.fail(fmt.Errorf("server leg %d: %v", h.sLegs, st))
	}
}

// The bounded-work settings.
func TestAsyncLimits(t *testing.T) {
	defer sspi.SetAsyncLimits(sspi.AsyncLimits{})
	if got := sspi.GetAsyncLimits(); got.CPU != runtime.GOMAXPROCS(0) || got.Network != 64 {
		t.Errorf("default limits %+v", got)
	}
	for _, l := range []sspi.AsyncLimits{
		{CPU: 3, Network: 5},
		{CPU: 1, Network: 1},
	} {
		sspi.SetAsyncLimits(l)
		if got := sspi.GetAsyncLimits(); got != l {
			t.Errorf("limits %+v, want %+v", got, l)
		}
	}
}

// With one CPU slot, a call holding it keeps other CPU-bound calls queued
// (not running, no goroutine each) until it ends.
func TestAsyncCPULimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		defer sspi.SetAsyncLimits(sspi.AsyncLimits{})
		sspi.SetAsyncLimits(sspi.AsyncLimits{CPU: 1})
		var gate stepGate
		release := gate.hold()
		var running, maxRunning atomic.Int32
		r := toyCase(func(ctx context.Context) {
			n := running.Add(1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			gate.wait(ctx)
			running.Add(-1)
		}).registry(t)
		ccred := acquire(t, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_OUTBOUND)
		const n = 20
		base := engineGoroutines()
		hs, ctxs := startClients(t, r, &ccred, n)
		synctest.Wait()
		if got := running.Load(); got != 1 {
			t.Errorf("%d calls running with a CPU limit of 1", got)
		}
		// One goroutine for the running call; none for the queued ones.
		if got := engineGoroutines(); got > base+1 {
			t.Errorf("%d engine goroutines with %d calls queued and one running, %d before", got, n-1, base)
		}
		release()
		finishClients(t, r, hs, ctxs)
		if got := maxRunning.Load(); got != 1 {
			t.Errorf("at most %d calls ran at once, want 1", got)
		}
	})
}

// startClients issues a first InitializeSecurityContext call with cred on
// each of n new async contexts. Nobody waits for them: those that may
// start do so at once.
func startClients(t *testing.T, r *sspi.Registry, cred *sspi.CredHandle, n int) ([]*sspi.SspiAsyncContext, []sspi.CtxtHandle) {
	t.Helper()
	target, _ := sspi.UTF16PtrFromString(testTarget)
	hs := make([]*sspi.SspiAsyncContext, n)
	ctxs := make([]sspi.CtxtHandle, n)
	for i := range hs {
		hs[i] = sspi.SspiCreateAsyncContext()
		out := tokenDesc(256)
		if st := r.SspiInitializeSecurityContextAsyncW(hs[i], cred, nil, target, clientReq, 0, 0, nil, 0, &ctxs[i], &out, nil, nil); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
	}
	return hs, ctxs
}

// finishClients waits for the calls of startClients, each of which must
// return SEC_I_CONTINUE_NEEDED, then deletes their contexts and frees
// the async contexts.
func finishClients(t *testing.T, r *sspi.Registry, hs []*sspi.SspiAsyncContext, ctxs []sspi.CtxtHandle) {
	t.Helper()
	for i, h := range hs {
		if st := h.Wait(context.Background()); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Errorf("call %d: %v", i, st)
		}
		r.DeleteSecurityContext(&ctxs[i])
		sspi.SspiFreeAsyncContext(h)
	}
}

// benchCases are the handshake cases of the benchmarks: those of the
// tests, and Schannel.
func benchCases(b *testing.B) []handshakeCase {
	return append(handshakeCases(), schannelCase(b))
}

// benchSetup is what a handshake benchmark of one case needs: its
// registry, both credentials, and the handshake calls, synchronous
// (calls[0]) and async, each waited for (calls[1]).
type benchSetup struct {
	r            *sspi.Registry
	ccred, scred sspi.CredHandle
	calls        [2]struct{ isc, asc handshakeCall }
}

func newBenchSetup(b *testing.B, tc handshakeCase) *benchSetup {
	s := &benchSetup{r: tc.registry(b)}
	target := tc.targetName()
	s.ccred = acquire(b, s.r, tc.client, sspi.SECPKG_CRED_OUTBOUND)
	s.scred = acquire(b, s.r, tc.server, sspi.SECPKG_CRED_INBOUND)
	ch, sh := sspi.SspiCreateAsyncContext(), sspi.SspiCreateAsyncContext()
	b.Cleanup(func() {
		sspi.SspiFreeAsyncContext(ch)
		sspi.SspiFreeAsyncContext(sh)
	})
	s.calls[0].isc, s.calls[0].asc = tc.calls(b, s.r, target, nil, nil)
	s.calls[1].isc, s.calls[1].asc = tc.calls(b, s.r, target, ch, sh)
	return s
}

// handshake runs one whole handshake through calls[k] and deletes both
// contexts.
func (s *benchSetup) handshake(b *testing.B, k int) {
	_, cctx, sctx := runHandshake(b, s.calls[k].isc, s.calls[k].asc, &s.ccred, &s.scred)
	s.r.DeleteSecurityContext(&cctx)
	s.r.DeleteSecurityContext(&sctx)
}

func benchmarkHandshake(b *testing.B, async bool) {
	k := 0
	if async {
		k = 1
	}
	for _, tc := range benchCases(b) {
		b.Run(tc.name, func(b *testing.B) {
			s := newBenchSetup(b, tc)
			b.ReportAllocs()
			for b.Loop() {
				s.handshake(b, k)
			}
		})
	}
}

// BenchmarkHandshakeAsyncRatio runs the handshake of each package through
// the synchronous calls and through the async calls (each waited for) in
// alternating batches, so that both see the same machine load. It reports
// the mean time of each (ns/sync, ns/async) and, as ratio, the median
// over the pairs of adjacent batches of async time ÷ sync time: a burst of
// load from elsewhere slows one pair, not the result. ns/op is per pair.
func BenchmarkHandshakeAsyncRatio(b *testing.B) {
	for _, tc := range benchCases(b) {
		b.Run(tc.name, func(b *testing.B) {
			s := newBenchSetup(b, tc)
			const batch = 4
			var spent [2]time.Duration
			var ratios []float64
			b.ReportAllocs()
			first := 0
			for b.Loop() {
				var pair [2]time.Duration
				for k := range 2 {
					k := (k + first) % 2
					t0 := time.Now()
					for range batch {
						s.handshake(b, k)
					}
					pair[k] = time.Since(t0)
					spent[k] += pair[k]
				}
				ratios = append(ratios, float64(pair[1])/float64(pair[0]))
				first ^= 1
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(spent[0].Nanoseconds())/n, "ns/sync")
			b.ReportMetric(float64(spent[1].Nanoseconds())/n, "ns/async")
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "ratio")
		})
	}
}

// BenchmarkHandshakeSync is the baseline for BenchmarkHandshakeAsync: the
// same handshake through the synchronous calls.
func BenchmarkHandshakeSync(b *testing.B) { benchmarkHandshake(b, false) }

// BenchmarkHandshakeAsync runs each leg through the async calls and waits
// for it.
func BenchmarkHandshakeAsync(b *testing.B) { benchmarkHandshake(b, true) }

// BenchmarkAsyncPendingCall measures what a queued call holds: each
// iteration queues a DeleteSecurityContext behind a held call on the same
// context; B/op and allocs/op are per pending call (the async context
// included).
func BenchmarkAsyncPendingCall(b *testing.B) {
	var gate stepGate
	r := toyCase(gate.wait).registry(b)
	ccred := acquire(b, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_OUTBOUND)
	target, _ := sspi.UTF16PtrFromString(testTarget)
	var cctx sspi.CtxtHandle
	out := tokenDesc(256)
	if st := r.InitializeSecurityContextW(&ccred, nil, target, clientReq, 0, 0, nil, 0, &cctx, &out, nil, nil); st != sspi.SEC_I_CONTINUE_NEEDED {
		b.Fatal(st)
	}
	release := gate.hold()
	blocker := sspi.SspiCreateAsyncContext()
	in := secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte("challenge")}}}
	out = tokenDesc(256)
	if st := r.SspiInitializeSecurityContextAsyncW(blocker, nil, &cctx, target, clientReq, 0, 0, &in, 0, &cctx, &out, nil, nil); st != sspi.SEC_E_OK {
		b.Fatal(st)
	}
	hs := make([]*sspi.SspiAsyncContext, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h := sspi.SspiCreateAsyncContext()
		if st := r.SspiDeleteSecurityContextAsync(h, &cctx); st != sspi.SEC_E_OK {
			b.Fatal(st)
		}
		hs = append(hs, h)
	}
	b.StopTimer()
	release()
	blocker.Wait(context.Background())
	for _, h := range hs {
		h.Wait(context.Background())
		sspi.SspiFreeAsyncContext(h)
	}
	sspi.SspiFreeAsyncContext(blocker)
}

// BenchmarkHandshakeSyncParallel is the baseline for
// BenchmarkHandshakeAsyncParallel: NTLM handshakes through the synchronous
// calls on GOMAXPROCS goroutines.
func BenchmarkHandshakeSyncParallel(b *testing.B) {
	r := ntlmCase.registry(b)
	target, _ := sspi.UTF16PtrFromString(testTarget)
	ccred := acquire(b, r, ntlmCase.client, sspi.SECPKG_CRED_OUTBOUND)
	scred := acquire(b, r, ntlmCase.server, sspi.SECPKG_CRED_INBOUND)
	isc, asc := syncCalls(r, target)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, cctx, sctx := runHandshake(b, isc, asc, &ccred, &scred)
			r.DeleteSecurityContext(&cctx)
			r.DeleteSecurityContext(&sctx)
		}
	})
}

// BenchmarkHandshakeAsyncParallel runs b.N NTLM handshakes, 64 at a time,
// each driven by its notify callbacks, the way a server would use the
// engine.
func BenchmarkHandshakeAsyncParallel(b *testing.B) {
	const inFlight = 64
	r := ntlmCase.registry(b)
	target, _ := sspi.UTF16PtrFromString(testTarget)
	ccred := acquire(b, r, ntlmCase.client, sspi.SECPKG_CRED_OUTBOUND)
	scred := acquire(b, r, ntlmCase.server, sspi.SECPKG_CRED_INBOUND)
	b.ReportAllocs()
	slots := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	var failed atomic.Pointer[callbackHandshake]
	for range b.N {
		slots <- struct{}{}
		wg.Add(1)
		var h *callbackHandshake
		h = newCallbackHandshake(b, r, &ccred, &scred, target, func() {
			if h.err != nil {
				failed.Store(h)
			}
			sspi.SspiFreeAsyncContext(h.ch)
			sspi.SspiFreeAsyncContext(h.sh)
			<-slots
			wg.Done()
		})
		h.start()
	}
	wg.Wait()
	if h := failed.Load(); h != nil {
		b.Fatal(h.err)
	}
}

// BenchmarkHandshakeInFlight compares two ways of keeping 64 NTLM
// handshakes in flight: each driven by its notify callbacks through the
// async calls (every completion issues the next call, and a finished
// handshake starts the next one), and 64 plain goroutines each running
// handshakes through the synchronous calls. Batches of 256 handshakes
// alternate between the two, so that both see the same machine load. It
// reports the mean time per handshake of each (ns/async, ns/goroutines)
// and, as ratio, the median over the pairs of adjacent batches of the
// async throughput ÷ the goroutines' throughput (above 1: the async calls
// do more handshakes per second). ns/op is per pair of batches.
func BenchmarkHandshakeInFlight(b *testing.B) {
	const inFlight, batch = 64, 256
	r := ntlmCase.registry(b)
	target, _ := sspi.UTF16PtrFromString(testTarget)
	ccred := acquire(b, r, ntlmCase.client, sspi.SECPKG_CRED_OUTBOUND)
	scred := acquire(b, r, ntlmCase.server, sspi.SECPKG_CRED_INBOUND)
	isc, asc := syncCalls(r, target)

	goroutines := func() {
		var next atomic.Int32
		var wg sync.WaitGroup
		for range inFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= batch {
					_, cctx, sctx := runHandshake(b, isc, asc, &ccred, &scred)
					r.DeleteSecurityContext(&cctx)
					r.DeleteSecurityContext(&sctx)
				}
			}()
		}
		wg.Wait()
	}
	var failed atomic.Pointer[callbackHandshake]
	callbacks := func() {
		var next atomic.Int32
		var wg sync.WaitGroup
		var startOne func()
		startOne = func() {
			var h *callbackHandshake
			h = newCallbackHandshake(b, r, &ccred, &scred, target, func() {
				if h.err != nil {
					failed.Store(h)
				}
				sspi.SspiFreeAsyncContext(h.ch)
				sspi.SspiFreeAsyncContext(h.sh)
				if next.Add(1) <= batch {
					startOne()
				} else {
					wg.Done()
				}
			})
			h.start()
		}
		wg.Add(inFlight)
		for range inFlight {
			next.Add(1)
			startOne()
		}
		wg.Wait()
	}

	runs := [2]func(){callbacks, goroutines}
	var spent [2]time.Duration
	var ratios []float64
	b.ReportAllocs()
	first := 0
	for b.Loop() {
		var pair [2]time.Duration
		for k := range 2 {
			k := (k + first) % 2
			t0 := time.Now()
			runs[k]()
			pair[k] = time.Since(t0)
			spent[k] += pair[k]
		}
		ratios = append(ratios, float64(pair[1])/float64(pair[0]))
		first ^= 1
	}
	if h := failed.Load(); h != nil {
		b.Fatal(h.err)
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(spent[0].Nanoseconds())/n, "ns/async")
	b.ReportMetric(float64(spent[1].Nanoseconds())/n, "ns/goroutines")
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
}

// A call that waits on a KDC, and says so as Kerberos does, counts against
// the network allowance while it waits: with that allowance used up, local
// NTLM handshakes still run. The package's name plays no part.
func TestAsyncSlowKDCDoesNotStarveLocal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		defer sspi.SetAsyncLimits(sspi.AsyncLimits{})
		sspi.SetAsyncLimits(sspi.AsyncLimits{CPU: 1, Network: 1})
		kdc := make(chan struct{})
		var kdcWaits atomic.Int32
		r := ntlmCase.registry(t)
		r.Register(&toyPackage{name: "SlowKDC", onStep: func(ctx context.Context) {
			done := packages.NetworkBound(ctx) // as a provider does: through the contract
			kdcWaits.Add(1)
			<-kdc // the KDC does not answer
			done()
		}})
		kcred := acquire(t, r, peer{pkg: "SlowKDC"}, sspi.SECPKG_CRED_OUTBOUND)
		target, _ := sspi.UTF16PtrFromString(testTarget)
		const slow = 3
		hs, ctxs := startClients(t, r, &kcred, slow)
		synctest.Wait()
		if n := kdcWaits.Load(); n != 1 {
			t.Fatalf("%d calls waiting on the KDC with a network allowance of 1", n)
		}

		// A whole NTLM handshake goes through meanwhile.
		ccred := acquire(t, r, ntlmCase.client, sspi.SECPKG_CRED_OUTBOUND)
		scred := acquire(t, r, ntlmCase.server, sspi.SECPKG_CRED_INBOUND)
		ch, sh := sspi.SspiCreateAsyncContext(), sspi.SspiCreateAsyncContext()
		isc, asc := asyncCalls(t, r, target, ch, sh)
		legs, cctx, sctx := runHandshake(t, isc, asc, &ccred, &scred)
		if last := legs[len(legs)-1]; last.st != sspi.SEC_E_OK {
			t.Errorf("NTLM handshake ended with %v", last.st)
		}
		for i, h := range hs {
			if st := sspi.SspiGetAsyncCallStatus(h); st != sspi.SEC_I_ASYNC_CALL_PENDING {
				t.Errorf("KDC call %d: %v before the KDC answered", i, st)
			}
		}

		close(kdc)
		finishClients(t, r, hs, ctxs)
		for _, c := range []*sspi.CtxtHandle{&cctx, &sctx} {
			r.DeleteSecurityContext(c)
		}
		sspi.SspiFreeAsyncContext(ch)
		sspi.SspiFreeAsyncContext(sh)
	})
}

// A package that panics fails its call with SEC_E_INTERNAL_ERROR, and a
// callback that panics is recovered: the engine goes on.
func TestAsyncPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		var panicking atomic.Bool
		r := toyCase(func(context.Context) {
			if panicking.Load() {
				panic("toy: bug")
			}
		}).registry(t)
		ccred := acquire(t, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_OUTBOUND)
		target, _ := sspi.UTF16PtrFromString(testTarget)
		h := sspi.SspiCreateAsyncContext()
		defer sspi.SspiFreeAsyncContext(h)
		var callbacks atomic.Int32
		sspi.SspiSetAsyncNotifyCallback(h, func(*sspi.SspiAsyncContext, any) {
			callbacks.Add(1)
			panic("callback bug")
		}, nil)

		var cctx sspi.CtxtHandle
		panicking.Store(true)
		out := tokenDesc(256)
		if st := r.SspiInitializeSecurityContextAsyncW(h, &ccred, nil, target, clientReq, 0, 0, nil, 0, &cctx, &out, nil, nil); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		if st := h.Wait(context.Background()); st != sspi.SEC_E_INTERNAL_ERROR {
			t.Errorf("panicking package: %v, want SEC_E_INTERNAL_ERROR", st)
		}
		panicking.Store(false)
		sspi.SspiReinitAsyncContext(h)
		out = tokenDesc(256)
		if st := r.SspiInitializeSecurityContextAsyncW(h, &ccred, nil, target, clientReq, 0, 0, nil, 0, &cctx, &out, nil, nil); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		if st := h.Wait(context.Background()); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Errorf("call after the panics: %v", st)
		}
		synctest.Wait()
		if n := callbacks.Load(); n != 2 {
			t.Errorf("%d callbacks, want 2", n)
		}
		r.DeleteSecurityContext(&cctx)
	})
}

// A call starts as soon as it may run, although nobody waits for it,
// polls its status or has registered a callback.
func TestAsyncEagerStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sspi.UseOwnAsyncEngine(t)
		var steps atomic.Int32
		r := toyCase(func(context.Context) { steps.Add(1) }).registry(t)
		ccred := acquire(t, r, peer{pkg: "Toy"}, sspi.SECPKG_CRED_OUTBOUND)
		target, _ := sspi.UTF16PtrFromString(testTarget)
		h := sspi.SspiCreateAsyncContext()
		defer sspi.SspiFreeAsyncContext(h)
		var cctx sspi.CtxtHandle
		out := tokenDesc(256)
		if st := r.SspiInitializeSecurityContextAsyncW(h, &ccred, nil, target, clientReq, 0, 0, nil, 0, &cctx, &out, nil, nil); st != sspi.SEC_E_OK {
			t.Fatal(st)
		}
		defer r.DeleteSecurityContext(&cctx)
		synctest.Wait() // in the bubble, no time passes: nothing but the call can run it
		if steps.Load() != 1 {
			t.Fatal("a call nobody waits for did not start")
		}
		if st := sspi.SspiGetAsyncCallStatus(h); st != sspi.SEC_I_CONTINUE_NEEDED {
			t.Errorf("status %v", st)
		}
	})
}

// Many goroutines drive handshakes of every package at once, each leg
// issued and then waited for, while other calls take the CPU slots; every
// handshake gives what the synchronous calls give.
func TestAsyncConcurrentWaiters(t *testing.T) {
	for _, tc := range handshakeCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.registry(t)
			target := tc.targetName()
			ccred := acquire(t, r, tc.client, sspi.SECPKG_CRED_OUTBOUND)
			scred := acquire(t, r, tc.server, sspi.SECPKG_CRED_INBOUND)
			isc, asc := tc.calls(t, r, target, nil, nil)
			want, cctx, sctx := runHandshake(t, isc, asc, &ccred, &scred)
			r.DeleteSecurityContext(&cctx)
			r.DeleteSecurityContext(&sctx)
			const goroutines, each = 16, 10
			var wg sync.WaitGroup
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ch, sh := sspi.SspiCreateAsyncContext(), sspi.SspiCreateAsyncContext()
					defer sspi.SspiFreeAsyncContext(ch)
					defer sspi.SspiFreeAsyncContext(sh)
					isc, asc := tc.calls(t, r, target, ch, sh)
					for range each {
						got, cctx, sctx := runHandshake(t, isc, asc, &ccred, &scred)
						if len(got) != len(want) {
							t.Errorf("%d legs, want %d", len(got), len(want))
						}
						for i := range min(len(got), len(want)) {
							if got[i].st != want[i].st || got[i].attr != want[i].attr {
								t.Errorf("leg %d: %v, want %v", i, got[i], want[i])
							}
						}
						r.DeleteSecurityContext(&cctx)
						r.DeleteSecurityContext(&sctx)
					}
				}()
			}
			wg.Wait()
		})
	}
}
