package sspi

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Without delegation there is nothing to hand out: a Kerberos logon
// without ISC_REQ_DELEGATE, a package that cannot delegate, a client
// context, a context not yet established or deleted; in the flat API the
// logon session of such a context gives no credentials either, and a
// LUID of no context names nothing.
func TestDelegatedCredentialsNone(t *testing.T) {
	ctx := context.Background()
	m := newPACRealm(t)
	for _, pkg := range []string{"Kerberos", "Negotiate"} {
		s := m.serverContext(t, pkg)
		if _, err := s.DelegatedCredentials(); !errors.Is(err, status.SEC_E_NO_CREDENTIALS) {
			t.Errorf("%s before the handshake: %v", pkg, err)
		}
		if _, err := s.Step(ctx, m.apReq(t, nil)); err != nil || !s.Established() {
			t.Fatalf("%s: %v", pkg, err)
		}
		if _, err := s.DelegatedCredentials(); !errors.Is(err, status.SEC_E_NO_CREDENTIALS) {
			t.Errorf("%s without ISC_REQ_DELEGATE: %v", pkg, err)
		}
		s.Delete()
		if _, err := s.DelegatedCredentials(); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
			t.Errorf("%s after Delete: %v", pkg, err)
		}
	}

	client, server := goPair(t, newFakeRegistry(), "pw")
	if err := goHandshake(ctx, client, server, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := server.DelegatedCredentials(); !errors.Is(err, status.SEC_E_NO_CREDENTIALS) {
		t.Errorf("a package without delegation: %v", err)
	}
	if _, err := client.DelegatedCredentials(); !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
		t.Errorf("client context: %v", err)
	}

	// The flat form.
	cred, err := m.r.AcquireCredentials(ctx, "Kerberos", CredentialsInbound, &kerberos.Keytab{Keytab: m.kt})
	if err != nil {
		t.Fatal(err)
	}
	var hc CredHandle
	hc.Lower, hc.Upper = m.r.creds.add(cred)
	defer m.r.FreeCredentialsHandle(&hc)
	var hs CtxtHandle
	var luid LUID
	if st := m.r.QueryContextLogonID(&hs, &luid); st != SEC_E_INVALID_HANDLE {
		t.Errorf("QueryContextLogonID on no context = %v", st)
	}
	in := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: m.apReq(t, nil)}}}
	out := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}}
	var attr uint32
	if st := m.r.AcceptSecurityContext(&hc, nil, in, 0, SECURITY_NATIVE_DREP, &hs, out, &attr, nil); st != SEC_E_OK {
		t.Fatalf("AcceptSecurityContext = %v", st)
	}
	if st := m.r.QueryContextLogonID(&hs, nil); st != SEC_E_INVALID_PARAMETER {
		t.Errorf("QueryContextLogonID(nil) = %v", st)
	}
	if st := m.r.QueryContextLogonID(&hs, &luid); st != SEC_E_OK || luid.HighPart&logonIDMark == 0 {
		t.Fatalf("QueryContextLogonID = %v, %+v", st, luid)
	}
	kerb := mustUTF16(t, "Kerberos")
	var hd CredHandle
	for _, tt := range []struct {
		name string
		luid *LUID
		use  uint32
		data any
		want status.Status
	}{
		{"nothing-delegated", &luid, SECPKG_CRED_OUTBOUND, nil, SEC_E_NO_CREDENTIALS},
		{"no-such-session", &LUID{LowPart: 1, HighPart: logonIDMark}, SECPKG_CRED_OUTBOUND, nil, SEC_E_NO_CREDENTIALS},
		{"well-known-session", &LUID{LowPart: 0x3e7}, SECPKG_CRED_OUTBOUND, nil, SEC_E_NO_CREDENTIALS},
		{"inbound", &luid, SECPKG_CRED_INBOUND, nil, SEC_E_UNSUPPORTED_FUNCTION},
		{"with-auth-data", &luid, SECPKG_CRED_OUTBOUND, &AuthIdentity{User: "x"}, SEC_E_UNSUPPORTED_FUNCTION},
	} {
		if st := m.r.AcquireCredentialsHandleW(nil, kerb, tt.use, tt.luid, tt.data, 0, 0, &hd, nil); st != tt.want {
			t.Errorf("%s: AcquireCredentialsHandleW = %v, want %v", tt.name, st, tt.want)
		}
	}
	if st := m.r.DeleteSecurityContext(&hs); st != SEC_E_OK {
		t.Fatal(st)
	}
	if st := m.r.AcquireCredentialsHandleW(nil, kerb, SECPKG_CRED_OUTBOUND, &luid, nil, 0, 0, &hd, nil); st != SEC_E_NO_CREDENTIALS {
		t.Errorf("the LUID of a deleted context: %v", st)
	}

	// WriteCCache: credentials of a package without tickets, and freed
	// ones.
	var buf bytes.Buffer
	if err := cred.WriteCCache(&buf); err == nil {
		t.Error("WriteCCache of inbound Kerberos credentials succeeded")
	}
	fc, err := newFakeRegistry().AcquireCredentials(ctx, "Fake", CredentialsOutbound, &AuthIdentity{User: "a", Password: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := fc.WriteCCache(&buf); !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
		t.Errorf("WriteCCache of another package: %v", err)
	}
	fc.Free()
	if err := fc.WriteCCache(&buf); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("WriteCCache after Free: %v", err)
	}
	if _, err := newFakeRegistry().AcquireCredentials(ctx, "Fake", CredentialsOutbound, fc); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("freed credentials as auth data: %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written by failed calls", buf.Len())
	}
}
