package sspi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// goPair acquires credentials and creates a client and a server context of
// the fake package through the Go API.
func goPair(t *testing.T, r *Registry, clientPassword string) (client, server *Context) {
	t.Helper()
	ctx := context.Background()
	ccred, err := r.AcquireCredentials(ctx, "Fake", CredentialsOutbound, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: clientPassword})
	if err != nil {
		t.Fatal(err)
	}
	scred, err := r.AcquireCredentials(ctx, "fake", CredentialsInbound, NewAuthIdentityW("alice", "EXAMPLE", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ccred.Free(); scred.Free() })
	if client, err = NewClientContext(ccred, "HOST/server", ISC_REQ_CONFIDENTIALITY|ISC_REQ_INTEGRITY); err != nil {
		t.Fatal(err)
	}
	if server, err = NewServerContext(scred, ASC_REQ_CONFIDENTIALITY|ASC_REQ_INTEGRITY); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Delete(); server.Delete() })
	return client, server
}

// goHandshake runs Step on both sides until both are established, with
// extra buffers for each side.
func goHandshake(ctx context.Context, client, server *Context, cExtra, sExtra []secbuffer.Buffer) error {
	var tok []byte
	for i := 0; i < 10; i++ {
		c, extra := client, cExtra
		if i%2 == 1 {
			c, extra = server, sExtra
		}
		var in []secbuffer.Buffer
		if tok != nil || c == server {
			in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: tok})
		}
		out, err := c.StepBuffers(ctx, append(in, extra...))
		if err != nil {
			return err
		}
		tok = out
		if client.Established() && server.Established() {
			return nil
		}
	}
	return errors.New("handshake did not finish")
}

func TestGoAPIHandshake(t *testing.T) {
	r := newFakeRegistry()
	client, server := goPair(t, r, "pw")
	ctx := context.Background()
	out, err := client.Step(ctx, nil)
	if err != nil || string(out) != "NEG" || client.Established() {
		t.Fatalf("client step 1 = %q, %v", out, err)
	}
	out, err = server.Step(ctx, out)
	if err != nil || !bytes.HasPrefix(out, []byte("CHAL")) {
		t.Fatalf("server step 1 = %q, %v", out, err)
	}
	out, err = client.Step(ctx, out)
	if err != nil || !client.Established() {
		t.Fatalf("client step 2 = %v, established %v", err, client.Established())
	}
	if out, err = server.Step(ctx, out); err != nil || len(out) != 0 || !server.Established() {
		t.Fatalf("server step 2 = %q, %v", out, err)
	}

	if name, err := server.UserName(); err != nil || name != `EXAMPLE\alice` {
		t.Errorf("server UserName = %q, %v", name, err)
	}
	ck, err1 := client.SessionKey()
	sk, err2 := server.SessionKey()
	if err1 != nil || err2 != nil || !bytes.Equal(ck, sk) || len(ck) != 16 {
		t.Errorf("session keys %x %x (%v %v)", ck, sk, err1, err2)
	}
	if s, err := client.Sizes(); err != nil || s.MaxSignature != 16 {
		t.Errorf("Sizes = %+v, %v", s, err)
	}
	if got := client.Flags(); got != ISC_REQ_CONFIDENTIALITY|ISC_REQ_INTEGRITY {
		t.Errorf("Flags = %#x", got)
	}
	if client.PackageName() != "Fake" || client.NegotiatedPackage() != "Fake" || !client.IsClient() || server.IsClient() {
		t.Error("package name or side wrong")
	}
	if !client.Expiry().IsZero() {
		t.Error("expiry not 'never'")
	}

	// Signatures, in both directions.
	for _, dir := range []struct{ a, b *Context }{{client, server}, {server, client}} {
		msg := []byte("hello")
		sig, err := dir.a.MakeSignature(msg, 0, 0)
		if err != nil || len(sig) != 16 {
			t.Fatalf("MakeSignature = %x, %v", sig, err)
		}
		if _, err := dir.b.VerifySignature(msg, sig, 0); err != nil {
			t.Fatalf("VerifySignature: %v", err)
		}
		sig2, err := dir.a.MakeSignature(msg, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = dir.b.VerifySignature([]byte("jello"), sig2, 0)
		if !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
			t.Fatalf("VerifySignature(altered) = %v", err)
		}
		var se *status.Error
		if !errors.As(err, &se) || se.Op != "VerifySignature" || se.Package != "Fake" {
			t.Errorf("error = %#v", err)
		}
		if _, err := dir.b.VerifySignature(msg, sig2, 0); err != nil {
			t.Fatalf("VerifySignature after a rejected message: %v", err)
		}
	}

	// Wrap and Unwrap.
	sealed, err := client.Wrap([]byte("secret message"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) || len(sealed) != 16+len("secret message") {
		t.Errorf("sealed = %x", sealed)
	}
	plain, err := server.Unwrap(sealed)
	if err != nil || string(plain) != "secret message" {
		t.Fatalf("Unwrap = %q, %v", plain, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := client.Unwrap(sealed); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
		t.Errorf("Unwrap(tampered) = %v", err)
	}

	// Delete is idempotent; later calls fail with SEC_E_INVALID_HANDLE.
	client.Delete()
	client.Delete()
	if _, err := client.Step(ctx, nil); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("Step after Delete = %v", err)
	}
	if _, err := client.Wrap(nil); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("Wrap after Delete = %v", err)
	}
	if _, err := client.MakeSignature(nil, 0, 0); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("MakeSignature after Delete = %v", err)
	}
	if _, err := client.QueryAttribute(SECPKG_ATTR_NAMES); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("QueryAttribute after Delete = %v", err)
	}
	if client.Established() || client.Flags() != 0 {
		t.Error("deleted context still reports state")
	}
}

func TestGoAPIErrors(t *testing.T) {
	r := newFakeRegistry()
	ctx := context.Background()

	_, err := r.AcquireCredentials(ctx, "Kerberos", CredentialsOutbound, nil)
	var se *status.Error
	if !errors.Is(err, status.SEC_E_SECPKG_NOT_FOUND) || !errors.As(err, &se) || se.Op != "AcquireCredentialsHandle" {
		t.Errorf("unknown package: %v", err)
	}
	_, err = r.AcquireCredentials(ctx, "Fake", CredentialsOutbound, nil)
	if !errors.Is(err, status.SEC_E_NO_CREDENTIALS) || !errors.As(err, &se) || se.Package != "Fake" {
		t.Errorf("no default credentials: %v", err)
	}
	if err.Error() != "sspi: Fake AcquireCredentialsHandle: SEC_E_NO_CREDENTIALS (0x8009030E): AcquireCredentials: fake: no default credentials" {
		t.Errorf("message = %q", err.Error())
	}

	client, server := goPair(t, r, "wrong")
	err = goHandshake(ctx, client, server, nil, nil)
	if !errors.Is(err, status.SEC_E_LOGON_DENIED) || !errors.As(err, &se) || se.Op != "AcceptSecurityContext" || se.Package != "Fake" {
		t.Fatalf("wrong password: %v", err)
	}
	// Failure is sticky.
	if _, err := server.Step(ctx, []byte("anything")); !errors.Is(err, status.SEC_E_LOGON_DENIED) {
		t.Errorf("step after failure = %v", err)
	}

	// A cancelled context.Context stops the step; errors.Is sees both.
	client2, _ := goPair(t, r, "pw")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = client2.Step(cctx, nil)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, status.SEC_E_INTERNAL_ERROR) {
		t.Errorf("cancelled step = %v", err)
	}

	// Freed credentials create no contexts.
	cred, err := r.AcquireCredentials(ctx, "Fake", CredentialsBoth, &AuthIdentity{User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClientContext(cred, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	cred.Free()
	cred.Free()
	if _, err := NewServerContext(cred, 0); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("context from freed credentials: %v", err)
	}
	if _, err := NewClientContext(nil, "", 0); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("context from nil credentials: %v", err)
	}
	if _, err := c.Step(ctx, nil); err != nil {
		t.Errorf("context after its credentials were freed: %v", err)
	}
	c.Delete()
}

func TestGoAPIChannelBindings(t *testing.T) {
	cb := func(s string) []secbuffer.Buffer {
		b := &secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:" + s)}
		return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: b.Marshal()}}
	}
	tests := []struct {
		name           string
		client, server []secbuffer.Buffer
		want           error
	}{
		{"matching", cb("abc"), cb("abc"), nil},
		{"none", nil, nil, nil},
		{"mismatch", cb("abc"), cb("xyz"), status.SEC_E_BAD_BINDINGS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := goPair(t, newFakeRegistry(), "pw")
			err := goHandshake(context.Background(), client, server, tt.client, tt.server)
			if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("handshake = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestGoAPIStepGrowsBuffer checks that Step retries with a larger buffer
// when a package's cbMaxToken is smaller than its tokens.
func TestGoAPIStepGrowsBuffer(t *testing.T) {
	r := NewRegistry()
	r.Register(&fakePackage{name: "Fake", maxToken: 2})
	client, server := goPair(t, r, "pw")
	if err := goHandshake(context.Background(), client, server, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestGoAPIConcurrentMessages sends in both directions from several
// goroutines at once; run with -race. The fake package numbers messages,
// so each direction is driven by one sender and one receiver in order.
func TestGoAPIConcurrentMessages(t *testing.T) {
	client, server := goPair(t, newFakeRegistry(), "pw")
	if err := goHandshake(context.Background(), client, server, nil, nil); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for _, dir := range []struct{ a, b *Context }{{client, server}, {server, client}} {
		ch := make(chan []byte, n)
		wg.Add(3)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				sealed, err := dir.a.Wrap([]byte(fmt.Sprint(i)))
				if err != nil {
					t.Error(err)
					close(ch)
					return
				}
				ch <- sealed
			}
			close(ch)
		}()
		go func() {
			defer wg.Done()
			i := 0
			for sealed := range ch {
				plain, err := dir.b.Unwrap(sealed)
				if err != nil || string(plain) != fmt.Sprint(i) {
					t.Errorf("message %d: %q, %v", i, plain, err)
					return
				}
				i++
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if _, err := dir.a.QueryAttribute(SECPKG_ATTR_NAMES); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDefaultRegistry(t *testing.T) {
	if a, b := DefaultRegistry(), DefaultRegistry(); a != b {
		t.Fatal("DefaultRegistry is not a singleton")
	}
	var n uint32
	var p *SecPkgInfoW
	wantStatus(t, "EnumerateSecurityPackagesW", EnumerateSecurityPackagesW(&n, &p), SEC_E_OK)
	if int(n) != len(builtinPackages()) {
		t.Errorf("default registry lists %d packages, builtinPackages has %d", n, len(builtinPackages()))
	}
}
