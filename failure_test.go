package sspi

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// TestStepBuffersOutputOnFailure checks that the Go API hands back the
// output token of a failed handshake call: WDigest's acceptor answers an
// expired nonce with SEC_E_CONTEXT_EXPIRED and a stale=true challenge,
// which the client answers with the same credentials.
func TestStepBuffersOutputOnFailure(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := NewRegistry()
	r.Register(digest.New(&digest.Config{
		Time:       func() time.Time { return now },
		NonceKey:   []byte("0123456789abcdef0123456789abcdef"),
		Algorithms: []string{digest.SHA256},
	}))
	ctx := context.Background()
	scred, err := r.AcquireCredentials(ctx, "WDigest", CredentialsInbound, digest.Users{{Name: "alice", Password: "Secret1!"}})
	if err != nil {
		t.Fatal(err)
	}
	defer scred.Free()
	ccred, err := r.AcquireCredentials(ctx, "WDigest", CredentialsOutbound, &AuthIdentity{User: "alice", Password: "Secret1!"})
	if err != nil {
		t.Fatal(err)
	}
	defer ccred.Free()
	param := func(s string) secbuffer.Buffer {
		return secbuffer.Buffer{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(s)}
	}
	serverIn := func(tok []byte) []secbuffer.Buffer {
		return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, param("GET"), param("/x"), param(""), param("")}
	}
	clientIn := func(tok []byte) []secbuffer.Buffer {
		return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, param("GET"), param("")}
	}

	s, err := NewServerContext(scred, digest.ASC_REQ_HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete()
	c, err := NewClientContext(ccred, "/x", ISC_REQ_USE_HTTP_STYLE)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	ch, err := s.StepBuffers(ctx, serverIn(nil))
	if err != nil || len(ch) == 0 {
		t.Fatalf("challenge: %q, %v", ch, err)
	}
	auth, err := c.StepBuffers(ctx, clientIn(ch))
	if err != nil || !c.Established() {
		t.Fatalf("Authorization: %v", err)
	}

	now = now.Add(time.Hour) // the nonce expires
	stale, err := s.StepBuffers(ctx, serverIn(auth))
	if !errors.Is(err, status.SEC_E_CONTEXT_EXPIRED) {
		t.Fatalf("expired nonce: %v, want SEC_E_CONTEXT_EXPIRED", err)
	}
	if !bytes.Contains(stale, []byte("stale=true")) {
		t.Fatalf("output with the failure: %q, want a stale=true challenge", stale)
	}
	auth2, err := c.StepBuffers(ctx, clientIn(stale))
	if err != nil {
		t.Fatalf("answer to the stale challenge: %v", err)
	}
	if out, err := s.StepBuffers(ctx, serverIn(auth2)); err != nil || !s.Established() || !bytes.Contains(out, []byte("rspauth=")) {
		t.Fatalf("after the stale challenge: %q, %v, established %v", out, err, s.Established())
	}
	if name, err := s.UserName(); err != nil || name != "alice" {
		t.Fatalf("UserName = %q, %v", name, err)
	}

	// A failure without output gives none.
	s2, err := NewServerContext(scred, digest.ASC_REQ_HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Delete()
	if out, err := s2.StepBuffers(ctx, serverIn([]byte("garbage"))); err == nil || out != nil {
		t.Fatalf("malformed Authorization: %q, %v", out, err)
	}
}

// TestSchannelAlertOnFailure checks that a failed Schannel handshake step
// made with ISC_REQ_EXTENDED_ERROR returns the TLS alert to send together
// with the error.
func TestSchannelAlertOnFailure(t *testing.T) {
	r := tlsRegistry(t)
	_, id := tlsPKI(t)
	ctx := context.Background()
	ccred, err := r.AcquireCredentials(ctx, "Schannel", CredentialsOutbound, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ccred.Free()
	scred, err := r.AcquireCredentials(ctx, "Schannel", CredentialsInbound, &id)
	if err != nil {
		t.Fatal(err)
	}
	defer scred.Free()
	c, err := NewClientContext(ccred, "not-localhost.example", tlsClientReq)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	s, err := NewServerContext(scred, tlsServerReq)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete()
	hello, err := c.Step(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	flight, err := s.Step(ctx, hello)
	if err != nil {
		t.Fatal(err)
	}
	alert, err := c.Step(ctx, flight)
	if !errors.Is(err, status.SEC_E_WRONG_PRINCIPAL) {
		t.Fatalf("wrong host name: %v, want SEC_E_WRONG_PRINCIPAL", err)
	}
	if len(alert) < 5 || (alert[0] != 21 && alert[0] != 20) { // alert, or TLS 1.3's ChangeCipherSpec then the sealed alert
		t.Fatalf("output with the failure: % x, want the alert records", alert)
	}
	if _, err := s.Step(ctx, alert); err == nil {
		t.Fatal("server accepted the client's alert")
	}
}
