package sspi

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// gssNTLMPair runs an NTLM handshake through GSSStep with the given
// request flags and returns both sides.
func gssNTLMPair(t *testing.T, creq, sreq uint32) (client, server *Context) {
	t.Helper()
	ctx := context.Background()
	r := ntlmRegistry()
	ccred, err := r.AcquireCredentials(ctx, "NTLM", CredentialsOutbound, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	scred, err := r.AcquireCredentials(ctx, "NTLM", CredentialsInbound, ntlmUsers)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClientContext(ccred, "HOST/server", creq)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServerContext(scred, sreq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(); s.Delete(); ccred.Free(); scred.Free() })
	var tok []byte
	cMore, sMore := true, true
	for i := 0; cMore || sMore; i++ {
		if i > 4 {
			t.Fatal("handshake did not finish")
		}
		if tok, cMore, err = c.GSSStep(ctx, tok); err != nil {
			t.Fatalf("client step %d: %v", i, err)
		}
		if !sMore {
			break
		}
		if tok, sMore, err = s.GSSStep(ctx, tok); err != nil {
			t.Fatalf("server step %d: %v", i, err)
		}
	}
	if cMore || sMore || !c.Established() || !s.Established() {
		t.Fatalf("continue needed: client %v server %v", cMore, sMore)
	}
	return c, s
}

func TestGSSShape(t *testing.T) {
	c, s := gssNTLMPair(t, ISC_REQ_CONFIDENTIALITY|ISC_REQ_INTEGRITY, ASC_REQ_CONFIDENTIALITY|ASC_REQ_INTEGRITY)
	secret := []byte("the data, which must not travel in clear")
	for _, conf := range []bool{true, false} {
		msg, confState, err := c.GSSWrap(secret, conf)
		if err != nil {
			t.Fatal(err)
		}
		if confState != conf {
			t.Errorf("GSSWrap(conf=%v): confState %v", conf, confState)
		}
		if got := bytes.Contains(msg, secret); got == conf {
			t.Errorf("GSSWrap(conf=%v): plaintext in the message %v", conf, got)
		}
		plain, sealed, err := s.GSSUnwrap(msg)
		if err != nil || !bytes.Equal(plain, secret) || sealed != conf {
			t.Fatalf("GSSUnwrap(conf=%v) = %q, %v, %v", conf, plain, sealed, err)
		}
	}
	// A tampered message never opens.
	msg, _, err := c.GSSWrap(secret, true)
	if err != nil {
		t.Fatal(err)
	}
	msg[len(msg)-1] ^= 1
	if _, _, err := s.GSSUnwrap(msg); !errors.Is(err, SEC_E_MESSAGE_ALTERED) {
		t.Errorf("tampered GSSUnwrap: %v", err)
	}

	mic, err := s.GetMIC(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyMIC(secret, mic); err != nil {
		t.Fatalf("VerifyMIC: %v", err)
	}
	mic2, _ := s.GetMIC(secret)
	if err := c.VerifyMIC([]byte("other data"), mic2); !errors.Is(err, SEC_E_MESSAGE_ALTERED) {
		t.Errorf("VerifyMIC over other data: %v", err)
	}

	// NTLM's token has a fixed size, so the limit is exact: limit bytes
	// fit, limit+1 do not.
	for _, size := range []int{16, 17, 100, 4096} {
		limit, err := c.WrapSizeLimit(size, true)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := c.GSSWrap(make([]byte, limit), true)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) > size {
			t.Errorf("WrapSizeLimit(%d) = %d, but the message is %d bytes", size, limit, len(m))
		}
		m, _, _ = c.GSSWrap(make([]byte, limit+1), true)
		if len(m) <= size {
			t.Errorf("WrapSizeLimit(%d) = %d is not the largest: %d bytes fit", size, limit, limit+1)
		}
	}
	if n, _ := c.WrapSizeLimit(3, true); n != 0 {
		t.Errorf("WrapSizeLimit(3) = %d, want 0", n)
	}
}

// TestGSSWrapWithoutConfidentiality: a context that did not negotiate
// confidentiality signs only, and says so, when asked to seal.
func TestGSSWrapWithoutConfidentiality(t *testing.T) {
	c, s := gssNTLMPair(t, ISC_REQ_INTEGRITY, ASC_REQ_INTEGRITY)
	msg, confState, err := c.GSSWrap([]byte("signed only"), true)
	if err != nil || confState {
		t.Fatalf("GSSWrap: confState %v, %v", confState, err)
	}
	if !bytes.Contains(msg, []byte("signed only")) {
		t.Error("the data was sealed")
	}
	plain, sealed, err := s.GSSUnwrap(msg)
	if err != nil || sealed || string(plain) != "signed only" {
		t.Fatalf("GSSUnwrap = %q, %v, %v", plain, sealed, err)
	}
}

func TestGSSBeforeHandshake(t *testing.T) {
	r := ntlmRegistry()
	cred, err := r.AcquireCredentials(context.Background(), "NTLM", CredentialsOutbound, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	c, err := NewClientContext(cred, "HOST/server", ISC_REQ_CONFIDENTIALITY)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	if _, _, err := c.GSSWrap([]byte("x"), true); !errors.Is(err, SEC_E_INVALID_HANDLE) {
		t.Errorf("GSSWrap: %v", err)
	}
	if _, err := c.GetMIC([]byte("x")); err == nil {
		t.Error("GetMIC before the handshake")
	}
	if _, err := c.WrapSizeLimit(100, true); !errors.Is(err, SEC_E_INVALID_HANDLE) {
		t.Errorf("WrapSizeLimit: %v", err)
	}
}

func TestStreamLimit(t *testing.T) {
	// Records of at most 10 plaintext bytes, 5 bytes of overhead each:
	// brute force the largest plaintext that fits.
	wrapped := func(n int) int {
		recs := (n + 9) / 10
		if recs == 0 {
			recs = 1
		}
		return n + 5*recs
	}
	for size := 0; size < 100; size++ {
		want := 0
		for n := 0; n <= size; n++ {
			if wrapped(n) <= size {
				want = n
			}
		}
		if got := streamLimit(size, 5, 10); got != want {
			t.Errorf("streamLimit(%d) = %d, want %d", size, got, want)
		}
	}
}
