package kerberos

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// gateTransport is a Transport that holds every request until release is
// closed (a dead KDC until then), honouring the request's context, and
// then answers with reply.
type gateTransport struct {
	calls   atomic.Int32 // requests received
	active  atomic.Int32 // requests not answered yet
	release chan struct{}
	reply   func(ctx context.Context, realm string, req []byte) ([]byte, error)
}

func newGate(reply func(ctx context.Context, realm string, req []byte) ([]byte, error)) *gateTransport {
	return &gateTransport{release: make(chan struct{}), reply: reply}
}

func (g *gateTransport) RoundTrip(ctx context.Context, realm string, req []byte) ([]byte, error) {
	g.calls.Add(1)
	g.active.Add(1)
	defer g.active.Add(-1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.reply(ctx, realm, req)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// principalUnknown answers every request with a KRB-ERROR.
func principalUnknown(context.Context, string, []byte) ([]byte, error) {
	e := messages.NewKRBError(types.NewPrincipalName(2, "krbtgt/GATE.TEST"), "GATE.TEST", errorcode.KDC_ERR_C_PRINCIPAL_UNKNOWN, "no such client")
	return e.Marshal()
}

// gateCredentials returns password credentials whose KDC is g.
func gateCredentials(t *testing.T, g Transport) packages.Credentials {
	t.Helper()
	conf, err := config.NewFromString("[libdefaults]\n default_realm = GATE.TEST\n")
	if err != nil {
		t.Fatal(err)
	}
	p := New(&Config{Krb5Conf: conf, Transport: g})
	cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// isc starts a context on cred and runs its first step.
func isc(ctx context.Context, cred packages.Credentials) error {
	c, err := cred.NewClientContext("HTTP/localhost", 0)
	if err != nil {
		return err
	}
	defer c.Delete()
	_, err = c.Step(ctx, nil, tokenOut())
	return err
}

// TestKDCWaitOwnDeadline: behind a KDC that does not answer, a second
// context on the same credentials gives up at its own deadline (1 s),
// not when the first caller's exchange ends (as when the credentials'
// lock was held across it).
func TestKDCWaitOwnDeadline(t *testing.T) {
	g := newGate(principalUnknown)
	cred := gateCredentials(t, g)
	defer cred.Free()
	first, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	firstDone := make(chan error, 1)
	go func() { firstDone <- isc(first, cred) }()
	waitFor(t, "the first exchange", func() bool { return g.active.Load() == 1 })

	ctx, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	start := time.Now()
	err := isc(ctx, cred)
	d := time.Since(start)
	if !errors.Is(err, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second caller: %v, want SEC_E_NO_AUTHENTICATING_AUTHORITY and DeadlineExceeded", err)
	}
	if d > 1500*time.Millisecond {
		t.Errorf("second caller with a 1 s deadline returned after %v", d)
	}
	// The first caller is still waiting for its (shared) exchange.
	select {
	case err := <-firstDone:
		t.Fatalf("first caller ended early: %v", err)
	default:
	}
	cancel()
	if err := <-firstDone; !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: %v", err)
	}
	waitFor(t, "the exchange to end once nobody waits", func() bool { return g.active.Load() == 0 })
	if n := g.calls.Load(); n != 1 {
		t.Errorf("%d KDC requests, want 1", n)
	}
}

// TestKDCSingleflight: N contexts starting at once on one credential
// handle cause one KDC exchange, whose answer (here a KRB-ERROR) they
// all get.
func TestKDCSingleflight(t *testing.T) {
	const n = 8
	g := newGate(principalUnknown)
	cred := gateCredentials(t, g)
	defer cred.Free()
	var wg sync.WaitGroup
	errs := make([]error, n)
	var started atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			errs[i] = isc(context.Background(), cred)
		}()
	}
	waitFor(t, "the callers", func() bool { return started.Load() == n && g.active.Load() >= 1 })
	time.Sleep(100 * time.Millisecond) // let every caller reach the wait
	close(g.release)
	wg.Wait()
	for i, err := range errs {
		var ke messages.KRBError
		if !errors.Is(err, status.SEC_E_LOGON_DENIED) || !errors.As(err, &ke) || ke.ErrorCode != errorcode.KDC_ERR_C_PRINCIPAL_UNKNOWN {
			t.Errorf("caller %d: %v, want the KDC's KDC_ERR_C_PRINCIPAL_UNKNOWN", i, err)
		}
	}
	if c := g.calls.Load(); c != 1 {
		t.Errorf("%d callers made %d KDC requests, want 1", n, c)
	}
}

// TestFreeEndsKDCWait: Free while one caller runs an exchange and
// another waits for it returns at once, both callers fail with
// SEC_E_INVALID_HANDLE at once, and the exchange is cancelled.
func TestFreeEndsKDCWait(t *testing.T) {
	g := newGate(principalUnknown)
	cred := gateCredentials(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- isc(ctx, cred) }()
	}
	waitFor(t, "the exchange", func() bool { return g.active.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // the second caller joins the wait
	start := time.Now()
	cred.Free()
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("Free took %v", d)
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
				t.Errorf("waiter: %v, want SEC_E_INVALID_HANDLE", err)
			}
		case <-time.After(time.Second):
			t.Fatal("a waiter still waits 1 s after Free")
		}
	}
	waitFor(t, "the exchange to be cancelled", func() bool { return g.active.Load() == 0 })
	if err := isc(context.Background(), cred); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("after Free: %v", err)
	}
}

// TestKDCSingleflightMIT: with the MIT test KDC behind the gate, N
// contexts on one password credential get their tickets from one AS
// exchange and one TGS exchange, and an acceptor takes every AP-REQ.
func TestKDCSingleflightMIT(t *testing.T) {
	k := peers.TestKDC(t)
	const n = 8
	real := kdcPackage(t, k, nil).transport()
	var asReqs, tgsReqs atomic.Int32
	g := newGate(func(ctx context.Context, realm string, req []byte) ([]byte, error) {
		switch req[0] {
		case 0x6a:
			asReqs.Add(1)
		case 0x6c:
			tgsReqs.Add(1)
		}
		return real.RoundTrip(ctx, realm, req)
	})
	p := kdcPackage(t, k, &Config{Transport: g})
	cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, aliceIdentity)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	srv, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Free()
	var wg sync.WaitGroup
	toks := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := cred.NewClientContext("HTTP/localhost", 0)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Delete()
			out := tokenOut()
			_, errs[i] = c.Step(bg(), nil, out)
			toks[i] = out[0].Data
		}()
	}
	waitFor(t, "the AS exchange", func() bool { return g.active.Load() == 1 })
	time.Sleep(100 * time.Millisecond)
	close(g.release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		sc, _ := srv.NewServerContext(0)
		if _, err := sc.Step(bg(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: toks[i]}}, tokenOut()); err != nil {
			t.Errorf("AP-REQ %d: %v", i, err)
		}
		sc.Delete()
	}
	if a, s := asReqs.Load(), tgsReqs.Load(); a > 2 || s != 1 {
		t.Errorf("%d callers sent %d AS-REQs and %d TGS-REQs, want one exchange each (AS: at most 2 requests, with pre-authentication)", n, a, s)
	}
}
