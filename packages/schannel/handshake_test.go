package schannel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func serverCred(t testing.TB, p *Package, cert tls.Certificate) packages.Credentials {
	return acquire(t, p, packages.SECPKG_CRED_INBOUND, &SCH_CREDENTIALS{Creds: []tls.Certificate{cert}})
}

var validationTests = []struct {
	name   string
	cert   func(*testPKI) tls.Certificate
	target string
	flags  uint32
	creq   uint32
	want   status.Status
}{
	{"valid", func(k *testPKI) tls.Certificate { return k.server }, "localhost", 0, 0, status.SEC_E_OK},
	{"valid-ip", func(k *testPKI) tls.Certificate { return k.server }, "127.0.0.1", 0, 0, status.SEC_E_OK},
	{"untrusted", func(k *testPKI) tls.Certificate { return k.otherCA }, "localhost", 0, 0, status.SEC_E_UNTRUSTED_ROOT},
	{"expired", func(k *testPKI) tls.Certificate { return k.expired }, "localhost", 0, 0, status.SEC_E_CERT_EXPIRED},
	{"wrong-name", func(k *testPKI) tls.Certificate { return k.server }, "www.example.com", 0, 0, status.SEC_E_WRONG_PRINCIPAL},
	{"wrong-usage", func(k *testPKI) tls.Certificate { return k.client }, "alice", 0, 0, status.SEC_E_CERT_WRONG_USAGE},
	{"no-servername-check", func(k *testPKI) tls.Certificate { return k.server }, "www.example.com", packages.SCH_CRED_NO_SERVERNAME_CHECK, 0, status.SEC_E_OK},
	{"manual-cred", func(k *testPKI) tls.Certificate { return k.otherCA }, "www.example.com", packages.SCH_CRED_MANUAL_CRED_VALIDATION, 0, status.SEC_E_OK},
	{"manual-req", func(k *testPKI) tls.Certificate { return k.expired }, "localhost", 0, packages.ISC_REQ_MANUAL_CRED_VALIDATION, status.SEC_E_OK},
	{"deferred", func(k *testPKI) tls.Certificate { return k.expired }, "localhost", packages.SCH_CRED_DEFERRED_CRED_VALIDATION, 0, status.SEC_E_OK},
}

func TestServerValidation(t *testing.T) {
	p := New(testConfig())
	k := getPKI()
	for _, tt := range validationTests {
		for _, vers := range []uint32{packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_3_CLIENT} {
			t.Run(tt.name, func(t *testing.T) {
				ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, Flags: tt.flags, EnabledProtocols: vers})
				client, server := newPair(t, p, ccred, serverCred(t, p, tt.cert(k)), tt.target, clientReq|tt.creq, serverReq)
				err := pump(t, client, server, whole)
				if got := status.Code(err); got != tt.want {
					t.Fatalf("handshake: %v (status %v), want %v", err, got, tt.want)
				}
				if tt.want != status.SEC_E_OK {
					// Sticky: the next call fails the same way.
					out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
					if _, err2 := client.ctx.Step(context.Background(), nil, out); status.Code(err2) != tt.want {
						t.Errorf("after failure: %v", err2)
					}
					// With ISC_REQ_EXTENDED_ERROR the alert came back to be sent.
					last := client.legs[len(client.legs)-1]
					if last != tt.want {
						t.Errorf("last leg %v", last)
					}
					return
				}
				rc, err := client.ctx.QueryAttribute(packages.SECPKG_ATTR_REMOTE_CERT_CONTEXT)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(rc.(*x509.Certificate).Raw, tt.cert(k).Certificate[0]) {
					t.Error("REMOTE_CERT_CONTEXT is not the server certificate")
				}
				if tt.name == "deferred" {
					r, err := client.ctx.QueryAttribute(packages.SECPKG_ATTR_CERT_CHECK_RESULT)
					if err != nil {
						t.Fatal(err)
					}
					if got := r.(*SecPkgContext_CertificateValidationResult).VerifyChainStatus; got != packages.CERT_E_EXPIRED {
						t.Errorf("CERT_CHECK_RESULT = %#x, want CERT_E_EXPIRED", got)
					}
				}
				flags := client.ctx.Flags()
				if manual := tt.flags&packages.SCH_CRED_MANUAL_CRED_VALIDATION != 0 || tt.creq != 0; manual != (flags&packages.ISC_RET_MANUAL_CRED_VALIDATION != 0) {
					t.Errorf("flags %#x", flags)
				}
			})
		}
	}
}

func mutualServer(t testing.TB, p *Package) packages.Credentials {
	k := getPKI()
	return acquire(t, p, packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}, RootStore: k.roots})
}

func hasLeg(legs []status.Status, st status.Status) bool {
	for _, l := range legs {
		if l == st {
			return true
		}
	}
	return false
}

func TestClientCertificates(t *testing.T) {
	k := getPKI()
	for _, vers := range []uint32{packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_3_CLIENT} {
		tests := []struct {
			name       string
			cred       *SCHANNEL_CRED
			defaults   bool
			creq       uint32
			wantIncomp bool
			wantCert   bool
		}{
			{"supplied", &SCHANNEL_CRED{Creds: []tls.Certificate{k.client}}, false, 0, false, true},
			{"none", &SCHANNEL_CRED{}, false, 0, true, false},
			{"use-supplied-creds", &SCHANNEL_CRED{}, false, packages.ISC_REQ_USE_SUPPLIED_CREDS, false, false},
			{"default-store", &SCHANNEL_CRED{}, true, 0, false, true},
			{"no-default-creds", &SCHANNEL_CRED{Flags: packages.SCH_CRED_NO_DEFAULT_CREDS}, true, 0, true, false},
		}
		for _, tt := range tests {
			for _, split := range []func(int) int{whole, oneByte} {
				t.Run(tt.name, func(t *testing.T) {
					cfg := testConfig()
					if tt.defaults {
						cfg.DefaultClientCertificates = []tls.Certificate{k.client}
					}
					p := New(cfg)
					cred := *tt.cred
					cred.RootStore, cred.EnabledProtocols = k.roots, vers
					ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &cred)
					client, server := newPair(t, p, ccred, mutualServer(t, p), "localhost", clientReq|tt.creq, serverReq|packages.ASC_REQ_MUTUAL_AUTH)
					if err := pump(t, client, server, split); err != nil {
						t.Fatal(err)
					}
					if got := hasLeg(client.legs, status.SEC_I_INCOMPLETE_CREDENTIALS); got != tt.wantIncomp {
						t.Errorf("SEC_I_INCOMPLETE_CREDENTIALS returned: %v, want %v (legs %v)", got, tt.wantIncomp, client.legs)
					}
					rc, err := server.ctx.QueryAttribute(packages.SECPKG_ATTR_REMOTE_CERT_CONTEXT)
					if tt.wantCert {
						if err != nil || !bytes.Equal(rc.(*x509.Certificate).Raw, k.client.Certificate[0]) {
							t.Fatalf("server REMOTE_CERT_CONTEXT: %v", err)
						}
						lc, err := client.ctx.QueryAttribute(packages.SECPKG_ATTR_LOCAL_CERT_CONTEXT)
						if err != nil || !bytes.Equal(lc.(*x509.Certificate).Raw, k.client.Certificate[0]) {
							t.Fatalf("client LOCAL_CERT_CONTEXT: %v", err)
						}
					} else if err == nil {
						t.Fatal("server has a client certificate")
					}
					if server.ctx.Flags()&packages.ASC_RET_MUTUAL_AUTH == 0 {
						t.Error("ASC_RET_MUTUAL_AUTH not set")
					}
					if tt.wantIncomp {
						il, err := client.ctx.QueryAttribute(packages.SECPKG_ATTR_ISSUER_LIST_EX)
						if err != nil || len(il.(*SecPkgContext_IssuerListInfoEx).Issuers) != 1 ||
							!bytes.Equal(il.(*SecPkgContext_IssuerListInfoEx).Issuers[0], k.caCert.RawSubject) {
							t.Errorf("ISSUER_LIST_EX: %v %v", il, err)
						}
					}
				})
			}
		}
	}
}

// TestIncompleteCredentialsResubmit follows the caller pattern that
// passes the same input again after SEC_I_INCOMPLETE_CREDENTIALS.
func TestIncompleteCredentialsResubmit(t *testing.T) {
	k := getPKI()
	p := New(testConfig())
	ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_2_CLIENT})
	client, server := newPair(t, p, ccred, mutualServer(t, p), "localhost", clientReq, serverReq|packages.ASC_REQ_MUTUAL_AUTH)
	hello, st, _, err := client.call(t, nil, false)
	if err != nil || st != status.SEC_I_CONTINUE_NEEDED {
		t.Fatal(st, err)
	}
	flight, st, _, err := server.call(t, hello, true)
	if err != nil || st != status.SEC_I_CONTINUE_NEEDED {
		t.Fatal(st, err)
	}
	out, st, extra, err := client.call(t, flight, true)
	// crypto/tls asks for the certificate on reading CertificateRequest,
	// so ServerHelloDone comes back as EXTRA.
	if st != status.SEC_I_INCOMPLETE_CREDENTIALS || err != nil || len(out) != 0 || !bytes.HasSuffix(flight, extra) || len(extra) != 9 {
		t.Fatalf("ISC: %v %v out=%d extra=%d", st, err, len(out), len(extra))
	}
	out, st, _, err = client.call(t, flight, true)
	if st != status.SEC_I_CONTINUE_NEEDED || err != nil || len(out) == 0 {
		t.Fatalf("ISC again: %v %v", st, err)
	}
	fin, st, _, err := server.call(t, out, true)
	if st != status.SEC_E_OK || err != nil {
		t.Fatalf("ASC: %v %v", st, err)
	}
	if _, st, _, err = client.call(t, fin, true); st != status.SEC_E_OK {
		t.Fatalf("ISC final: %v %v", st, err)
	}
}

func TestALPN(t *testing.T) {
	k := getPKI()
	p := New(testConfig())
	alpn := func(s ...string) []byte {
		b, err := MarshalApplicationProtocols(s...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		client  []byte
		server  []byte
		want    string
		wantErr status.Status
	}{
		{"match", alpn("h2", "http/1.1"), alpn("http/1.1"), "http/1.1", 0},
		{"server-order", alpn("http/1.1", "h2"), alpn("h2", "http/1.1"), "h2", 0},
		{"client-only", alpn("h2"), nil, "", 0},
		{"none", nil, nil, "", 0},
		{"mismatch", alpn("h2"), alpn("x"), "", status.SEC_E_APPLICATION_PROTOCOL_MISMATCH},
		{"malformed", []byte{9, 0, 0, 0, 2, 0, 0, 0, 5}, nil, "", status.SEC_E_INVALID_TOKEN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots})
			client, server := newPair(t, p, ccred, serverCred(t, p, k.server), "localhost", clientReq, serverReq)
			client.alpn, server.alpn = tt.client, tt.server
			err := pump(t, client, server, whole)
			if tt.wantErr != 0 {
				if status.Code(err) != tt.wantErr {
					t.Fatalf("handshake: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []*endpoint{client, server} {
				a, err := e.ctx.QueryAttribute(packages.SECPKG_ATTR_APPLICATION_PROTOCOL)
				if err != nil {
					t.Fatal(err)
				}
				ap := a.(*SecPkgContext_ApplicationProtocol)
				if ap.Protocol() != tt.want {
					t.Errorf("%s: protocol %q, want %q", e.name, ap.Protocol(), tt.want)
				}
				wantStatus, wantExt := uint32(SecApplicationProtocolNegotiationStatus_None), uint32(0)
				if tt.want != "" {
					wantStatus, wantExt = SecApplicationProtocolNegotiationStatus_Success, SecApplicationProtocolNegotiationExt_ALPN
				}
				if ap.ProtoNegoStatus != wantStatus || ap.ProtoNegoExt != wantExt {
					t.Errorf("%s: status %d ext %d", e.name, ap.ProtoNegoStatus, ap.ProtoNegoExt)
				}
			}
		})
	}
}

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func TestResumption(t *testing.T) {
	k := getPKI()
	for _, vers := range []uint32{packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_3_CLIENT} {
		clock := &testClock{t: testNow}
		p := New(&Config{Time: clock.now})
		scred := serverCred(t, p, k.server)
		newCred := func(flags uint32) packages.Credentials {
			return acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: vers, Flags: flags})
		}
		// connect runs a handshake, reads the tickets and reports whether
		// the session was resumed.
		connect := func(ccred packages.Credentials, target string, before func(c packages.Context)) bool {
			t.Helper()
			client, server := newPair(t, p, ccred, scred, target, clientReq|packages.ISC_REQ_MANUAL_CRED_VALIDATION, serverReq)
			if err := pump(t, client, server, whole); err != nil {
				t.Fatal(err)
			}
			if _, rest, _ := readAll(t, client, client.acc); len(rest) != 0 {
				t.Fatal("bytes left")
			}
			si, err := client.ctx.QueryAttribute(packages.SECPKG_ATTR_SESSION_INFO)
			if err != nil {
				t.Fatal(err)
			}
			ssi, _ := server.ctx.QueryAttribute(packages.SECPKG_ATTR_SESSION_INFO)
			resumed := si.(*SecPkgContext_SessionInfo).Flags&SSL_SESSION_RECONNECT != 0
			if sr := ssi.(*SecPkgContext_SessionInfo).Flags&SSL_SESSION_RECONNECT != 0; sr != resumed {
				t.Fatalf("client resumed %v, server %v", resumed, sr)
			}
			if before != nil {
				before(client.ctx)
			}
			return resumed
		}
		cred := newCred(0)
		steps := []struct {
			name    string
			cred    packages.Credentials
			target  string
			advance time.Duration
			want    bool
		}{
			{"first", cred, "localhost", 0, false},
			{"same", cred, "localhost", 0, true},
			{"other-target", cred, "127.0.0.1", 0, false},
			{"other-credential", newCred(0), "localhost", 0, false},
			{"after-lifespan", cred, "localhost", 10*time.Hour + time.Minute, false},
			{"again", cred, "localhost", 0, true},
		}
		for _, s := range steps {
			clock.t = clock.t.Add(s.advance)
			if got := connect(s.cred, s.target, nil); got != s.want {
				t.Errorf("%#x %s: resumed %v, want %v", vers, s.name, got, s.want)
			}
		}
		// SCHANNEL_SESSION with SSL_SESSION_DISABLE_RECONNECTS drops the entry.
		connect(cred, "localhost", func(c packages.Context) {
			tok := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, packages.SCHANNEL_SESSION), SSL_SESSION_DISABLE_RECONNECTS)
			if err := c.(packages.ControlTokenApplier).ApplyControlToken([]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}); err != nil {
				t.Fatal(err)
			}
		})
		if connect(cred, "localhost", nil) {
			t.Errorf("%#x: resumed after SSL_SESSION_DISABLE_RECONNECTS", vers)
		}
		// The server's lifespan applies to its tickets.
		shortServer := acquire(t, p, packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}, SessionLifespan: 3600 * 1000})
		saved := scred
		scred = shortServer
		connect(cred, "localhost", nil)
		if !connect(cred, "localhost", nil) {
			t.Errorf("%#x: not resumed within the server's lifespan", vers)
		}
		clock.t = clock.t.Add(2 * time.Hour)
		if connect(cred, "localhost", nil) {
			t.Errorf("%#x: resumed after the server's lifespan", vers)
		}
		scred = saved
		off := newCred(packages.SCH_CRED_DISABLE_RECONNECTS)
		connect(off, "localhost", nil)
		if connect(off, "localhost", nil) {
			t.Errorf("%#x: resumed with SCH_CRED_DISABLE_RECONNECTS", vers)
		}
	}
}

func established(t testing.TB, vers uint32) (*endpoint, *endpoint) {
	t.Helper()
	k := getPKI()
	p := New(testConfig())
	ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: vers})
	client, server := newPair(t, p, ccred, serverCred(t, p, k.server), "localhost", clientReq, serverReq)
	if err := pump(t, client, server, whole); err != nil {
		t.Fatal(err)
	}
	if _, rest, _ := readAll(t, client, client.acc); len(rest) != 0 {
		t.Fatal("bytes left after the handshake")
	}
	client.acc = nil
	if len(client.wire) > 0 {
		if _, rest, _ := readAll(t, server, client.wire); len(rest) != 0 {
			t.Fatal("bytes left")
		}
		client.wire = nil
	}
	return client, server
}

func control(t testing.TB, c packages.Context, words ...uint32) error {
	t.Helper()
	var tok []byte
	for _, w := range words {
		tok = binary.LittleEndian.AppendUint32(tok, w)
	}
	return c.(packages.ControlTokenApplier).ApplyControlToken([]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}})
}

func TestShutdown(t *testing.T) {
	for _, vers := range []uint32{packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_3_CLIENT} {
		for _, closer := range []string{"client", "server"} {
			t.Run(closer, func(t *testing.T) {
				client, server := established(t, vers)
				a, b := client, server
				if closer == "server" {
					a, b = server, client
				}
				if err := control(t, a.ctx, packages.SCHANNEL_SHUTDOWN); err != nil {
					t.Fatal(err)
				}
				notify, st, _, err := a.call(t, nil, false)
				if st != status.SEC_E_OK || err != nil || len(notify) == 0 || notify[0] != recordTypeAlert && notify[0] != recordTypeApplicationData {
					t.Fatalf("close_notify: %v %v % x", st, err, notify)
				}
				msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: make([]byte, 64)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("x")}, {Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: make([]byte, 64)}, {Type: secbuffer.SECBUFFER_EMPTY}}
				if _, err := a.ctx.Session().EncryptMessage(0, msg, 0); status.Code(err) != status.SEC_E_CONTEXT_EXPIRED {
					t.Fatalf("EncryptMessage after shutdown: %v", err)
				}
				// The peer may still have data in flight before the alert.
				data := encrypt(t, b.ctx, []byte("late"))
				if r := decrypt(a.ctx, data); r.st != status.SEC_E_OK || string(r.data) != "late" {
					t.Fatalf("DecryptMessage after our shutdown: %v %v", r.st, r.err)
				}
				r := decrypt(b.ctx, append(notify, 1, 2, 3))
				if r.st != status.SEC_I_CONTEXT_EXPIRED || r.err != nil || len(r.data) != 0 || !bytes.Equal(r.extra, []byte{1, 2, 3}) {
					t.Fatalf("peer DecryptMessage: %v %v data=%q extra=% x", r.st, r.err, r.data, r.extra)
				}
				if _, err := b.ctx.Session().EncryptMessage(0, msg, 0); status.Code(err) != status.SEC_E_CONTEXT_EXPIRED {
					t.Fatalf("peer EncryptMessage after close_notify: %v", err)
				}
				// The peer answers with its own close_notify.
				if err := control(t, b.ctx, packages.SCHANNEL_ALERT, TLS1_ALERT_WARNING, packages.TLS1_ALERT_CLOSE_NOTIFY); err != nil {
					t.Fatal(err)
				}
				answer, st, _, err := b.call(t, nil, false)
				if st != status.SEC_E_OK || err != nil || len(answer) == 0 {
					t.Fatalf("answer: %v %v", st, err)
				}
				if r := decrypt(a.ctx, answer); r.st != status.SEC_I_CONTEXT_EXPIRED {
					t.Fatalf("DecryptMessage of the answer: %v %v", r.st, r.err)
				}
				if r := decrypt(a.ctx, answer); r.st != status.SEC_E_CONTEXT_EXPIRED {
					t.Fatalf("DecryptMessage after close: %v", r.st)
				}
			})
		}
	}
}

func TestControlTokens(t *testing.T) {
	client, _ := established(t, 0)
	tests := []struct {
		name  string
		words []uint32
		want  status.Status
	}{
		{"renegotiate", []uint32{packages.SCHANNEL_RENEGOTIATE}, status.SEC_E_UNSUPPORTED_FUNCTION},
		{"fatal-alert", []uint32{packages.SCHANNEL_ALERT, TLS1_ALERT_FATAL, packages.TLS1_ALERT_HANDSHAKE_FAILURE}, status.SEC_E_UNSUPPORTED_FUNCTION},
		{"short-alert", []uint32{packages.SCHANNEL_ALERT, TLS1_ALERT_FATAL}, status.SEC_E_INVALID_TOKEN},
		{"unknown", []uint32{77}, status.SEC_E_INVALID_TOKEN},
		{"empty", nil, status.SEC_E_INVALID_TOKEN},
	}
	for _, tt := range tests {
		if err := control(t, client.ctx, tt.words...); status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestDecryptRecords(t *testing.T) {
	for _, vers := range []uint32{packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_3_CLIENT} {
		client, server := established(t, vers)
		rec := encrypt(t, client.ctx, []byte("hello, world"))
		// Truncated: every prefix is incomplete with the exact count missing.
		for i := 0; i < len(rec); i++ {
			r := decrypt(server.ctx, append([]byte(nil), rec[:i]...))
			want := len(rec) - i
			if i < recordHeaderLen {
				want = recordHeaderLen - i
			}
			if r.st != status.SEC_E_INCOMPLETE_MESSAGE || r.miss != want {
				t.Fatalf("prefix %d: %v missing %d, want %d", i, r.st, r.miss, want)
			}
		}
		// Whole record plus the start of the next one: in place, EXTRA.
		next := encrypt(t, client.ctx, []byte("next"))
		buf := append(append([]byte(nil), rec...), next[:3]...)
		r := decrypt(server.ctx, buf)
		if r.st != status.SEC_E_OK || string(r.data) != "hello, world" || !bytes.Equal(r.extra, next[:3]) {
			t.Fatalf("decrypt: %v %v %q extra % x", r.st, r.err, r.data, r.extra)
		}
		if !overlaps(r.data, buf) {
			t.Fatal("plaintext not inside the input buffer")
		}
		if r := decrypt(server.ctx, next); r.st != status.SEC_E_OK || string(r.data) != "next" {
			t.Fatalf("next: %v", r.st)
		}
		// Corrupted: a flipped ciphertext bit is a decrypt failure, sticky.
		bad := encrypt(t, client.ctx, []byte("secret"))
		bad[len(bad)-3] ^= 0x40
		if r := decrypt(server.ctx, bad); r.st != status.SEC_E_DECRYPT_FAILURE {
			t.Fatalf("corrupted: %v %v", r.st, r.err)
		}
		if r := decrypt(server.ctx, encrypt(t, client.ctx, []byte("x"))); r.st != status.SEC_E_DECRYPT_FAILURE {
			t.Fatalf("after failure: %v", r.st)
		}
		// A header that is not TLS.
		c2, s2 := established(t, vers)
		_ = c2
		if r := decrypt(s2.ctx, []byte{0x99, 3, 3, 0, 1, 0}); r.st != status.SEC_E_ILLEGAL_MESSAGE {
			t.Fatalf("bad header: %v", r.st)
		}
	}
}

func overlaps(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	for i := range b {
		if &b[i] == &a[0] {
			return true
		}
	}
	return false
}

func TestRenegotiationRefused(t *testing.T) {
	client, server := established(t, packages.SP_PROT_TLS1_2_CLIENT)
	// A TLS 1.2 handshake record after the handshake asks for
	// renegotiation; its content is never seen by DecryptMessage.
	rec := encrypt(t, client.ctx, []byte("0123456789abcdef"))
	rec[0] = recordTypeHandshake
	r := decrypt(server.ctx, rec)
	if r.st != status.SEC_I_RENEGOTIATE || !bytes.Equal(r.extra, rec) {
		t.Fatalf("DecryptMessage: %v extra %d", r.st, len(r.extra))
	}
	_, st, _, err := server.call(t, r.extra, true)
	if st != status.SEC_E_ILLEGAL_MESSAGE || !errors.Is(err, status.SEC_E_ILLEGAL_MESSAGE) {
		t.Fatalf("ASC: %v %v", st, err)
	}
	if r := decrypt(server.ctx, encrypt(t, client.ctx, []byte("x"))); r.st != status.SEC_E_ILLEGAL_MESSAGE {
		t.Fatalf("after refusal: %v", r.st)
	}
}

func TestHandshakeInput(t *testing.T) {
	k := getPKI()
	p := New(testConfig())
	ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots})
	client, server := newPair(t, p, ccred, serverCred(t, p, k.server), "localhost", clientReq, serverReq)
	hello, _, _, _ := client.call(t, nil, false)
	// A partial record: nothing consumed, the exact count missing.
	for _, n := range []int{0, 3, recordHeaderLen, len(hello) - 1} {
		in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: hello[:n]}, {Type: secbuffer.SECBUFFER_EMPTY}}
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
		st, err := server.ctx.Step(context.Background(), in, out)
		want := len(hello) - n
		if n < recordHeaderLen {
			want = recordHeaderLen - n
		}
		if st != status.SEC_E_INCOMPLETE_MESSAGE || !errors.Is(err, status.SEC_E_INCOMPLETE_MESSAGE) ||
			in[1].Type != secbuffer.SECBUFFER_MISSING || len(in[1].Data) != want || len(out[0].Data) != 0 {
			t.Fatalf("prefix %d: %v type %d missing %d, want %d", n, st, in[1].Type, len(in[1].Data), want)
		}
	}
	// A too-small output buffer leaves the context usable.
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: hello}, {Type: secbuffer.SECBUFFER_EMPTY}}
	sc, _ := serverCred(t, p, k.server).NewServerContext(serverReq &^ packages.ASC_REQ_ALLOCATE_MEMORY)
	defer sc.Delete()
	small := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 10)}}
	if st, _ := sc.Step(context.Background(), in, small); st != status.SEC_E_BUFFER_TOO_SMALL {
		t.Fatalf("small buffer: %v", st)
	}
	big := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
	if st, err := sc.Step(context.Background(), in, big); st != status.SEC_I_CONTINUE_NEEDED || len(big[0].Data) == 0 {
		t.Fatalf("retry: %v %v", st, err)
	}
	// Garbage instead of a ClientHello.
	gc, _ := serverCred(t, p, k.server).NewServerContext(serverReq)
	defer gc.Delete()
	garbage := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte("GET / HTTP/1.1\r\n\r\n")}, {Type: secbuffer.SECBUFFER_EMPTY}}
	if st, _ := gc.Step(context.Background(), garbage, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}); st != status.SEC_E_ILLEGAL_MESSAGE {
		t.Fatalf("garbage: %v", st)
	}
	// A well-formed record holding a broken handshake message.
	bc, _ := serverCred(t, p, k.server).NewServerContext(serverReq | packages.ASC_REQ_EXTENDED_ERROR)
	defer bc.Delete()
	broken := []byte{recordTypeHandshake, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	st, err := bc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: broken}, {Type: secbuffer.SECBUFFER_EMPTY}}, out)
	if st != status.SEC_E_ILLEGAL_MESSAGE || !errors.Is(err, status.SEC_E_ILLEGAL_MESSAGE) {
		t.Fatalf("broken hello: %v %v", st, err)
	}
	// ASC_REQ_EXTENDED_ERROR: the decode_error alert comes back to be sent.
	if want := []byte{recordTypeAlert, 3, 1, 0, 2, 2, 50}; !bytes.Equal(out[0].Data, want) {
		t.Fatalf("alert % x, want % x", out[0].Data, want)
	}
	// No server certificate.
	nc := acquire(t, p, packages.SECPKG_CRED_INBOUND, nil)
	ns, _ := nc.NewServerContext(serverReq)
	defer ns.Delete()
	if st, _ := ns.Step(context.Background(), in, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}); st != status.SEC_E_NO_CREDENTIALS {
		t.Fatalf("no certificate: %v", st)
	}
}

func TestCredentials(t *testing.T) {
	k := getPKI()
	p := New(testConfig())
	tests := []struct {
		name string
		use  uint32
		data any
		want status.Status
	}{
		{"nil", packages.SECPKG_CRED_OUTBOUND, nil, 0},
		{"schannel-cred", packages.SECPKG_CRED_BOTH, &SCHANNEL_CRED{Version: packages.SCHANNEL_CRED_VERSION, Creds: []tls.Certificate{k.server}}, 0},
		{"sch-credentials", packages.SECPKG_CRED_INBOUND, SCH_CREDENTIALS{Version: packages.SCH_CREDENTIALS_VERSION, Creds: []tls.Certificate{k.server}}, 0},
		{"tls-certificate", packages.SECPKG_CRED_INBOUND, &k.server, 0},
		{"bad-version", packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{Version: 3}, status.SEC_E_UNKNOWN_CREDENTIALS},
		{"cert-hash-format", packages.SECPKG_CRED_OUTBOUND, &SCH_CREDENTIALS{CredFormat: packages.SCH_CRED_FORMAT_CERT_HASH}, status.SEC_E_UNKNOWN_CREDENTIALS},
		{"no-key", packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{{Certificate: k.server.Certificate}}}, status.SEC_E_NO_CREDENTIALS},
		{"tls10-only", packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{EnabledProtocols: packages.SP_PROT_TLS1_0_CLIENT}, status.SEC_E_ALGORITHM_MISMATCH},
		{"all-disabled", packages.SECPKG_CRED_OUTBOUND, &SCH_CREDENTIALS{TlsParameters: []TLS_PARAMETERS{{DisabledProtocols: packages.SP_PROT_TLS1_2 | packages.SP_PROT_TLS1_3}}}, status.SEC_E_ALGORITHM_MISMATCH},
		{"auth-identity", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "u"}, status.SEC_E_UNKNOWN_CREDENTIALS},
		{"no-use", 0, nil, status.SEC_E_UNKNOWN_CREDENTIALS},
	}
	for _, tt := range tests {
		_, err := p.AcquireCredentials(context.Background(), "", tt.use, tt.data)
		if status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// An outbound credential cannot accept, an inbound one cannot initiate.
	out := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, nil)
	if _, err := out.NewServerContext(0); status.Code(err) != status.SEC_E_NO_CREDENTIALS {
		t.Errorf("server context from outbound credential: %v", err)
	}
	in := acquire(t, p, packages.SECPKG_CRED_INBOUND, &k.server)
	if _, err := in.NewClientContext("x", 0); status.Code(err) != status.SEC_E_NO_CREDENTIALS {
		t.Errorf("client context from inbound credential: %v", err)
	}
	if in.Expiry() != k.server.Leaf.NotAfter {
		t.Errorf("Expiry %v", in.Expiry())
	}
}

// TestProtocolAndCipherLimits checks that credential limits reach the
// negotiated connection.
func TestProtocolAndCipherLimits(t *testing.T) {
	k := getPKI()
	p := New(testConfig())
	tests := []struct {
		name       string
		client     any
		wantVers   uint32
		wantCipher uint32
		wantBits   uint32
	}{
		{"tls12-aes128", &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_2_CLIENT, SupportedAlgs: []uint32{packages.CALG_AES_128}}, packages.SP_PROT_TLS1_2_CLIENT, packages.CALG_AES_128, 128},
		{"tls12-min256", &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: packages.SP_PROT_TLS1_2_CLIENT, MinimumCipherStrength: 256, SupportedAlgs: []uint32{packages.CALG_AES}}, packages.SP_PROT_TLS1_2_CLIENT, packages.CALG_AES_256, 256},
		{"tls12-no-gcm", &SCH_CREDENTIALS{RootStore: k.roots, TlsParameters: []TLS_PARAMETERS{{DisabledProtocols: packages.SP_PROT_TLS1_3, DisabledCrypto: []CRYPTO_SETTINGS{
			{AlgorithmUsage: TlsParametersCngAlgUsageCipher, CngAlgId: "AES", ChainingModes: []string{"ChainingModeGCM"}},
			{AlgorithmUsage: TlsParametersCngAlgUsageCipher, CngAlgId: "CHACHA20_POLY1305"},
			{AlgorithmUsage: TlsParametersCngAlgUsageCipher, CngAlgId: "AES", MinBitLength: 256},
		}}}}, packages.SP_PROT_TLS1_2_CLIENT, packages.CALG_AES_256, 256},
		{"tls13-only", &SCH_CREDENTIALS{RootStore: k.roots, TlsParameters: []TLS_PARAMETERS{{DisabledProtocols: packages.SP_PROT_TLS1_2}}}, packages.SP_PROT_TLS1_3_CLIENT, packages.CALG_AES_128, 128},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, tt.client)
			client, server := newPair(t, p, ccred, serverCred(t, p, k.server), "localhost", clientReq, serverReq)
			if err := pump(t, client, server, whole); err != nil {
				t.Fatal(err)
			}
			a, _ := client.ctx.QueryAttribute(packages.SECPKG_ATTR_CONNECTION_INFO)
			ci := a.(*SecPkgContext_ConnectionInfo)
			if ci.Protocol != tt.wantVers || ci.Cipher != tt.wantCipher || ci.CipherStrength != tt.wantBits {
				t.Errorf("connection info %+v", ci)
			}
			// Whatever the suite, records go through the buffers.
			msg := bytes.Repeat([]byte("z"), 1000)
			r := decrypt(server.ctx, encrypt(t, client.ctx, msg))
			if r.st != status.SEC_E_OK || !bytes.Equal(r.data, msg) {
				t.Errorf("round trip: %v", r.st)
			}
		})
	}
}

// TestPostHandshakeTickets follows TLS 1.3 NewSessionTicket records
// through DecryptMessage (SEC_I_RENEGOTIATE) and both caller patterns of
// the following handshake call.
func TestPostHandshakeTickets(t *testing.T) {
	k := getPKI()
	for _, pattern := range []string{"extra-as-token", "empty-input"} {
		t.Run(pattern, func(t *testing.T) {
			p := New(testConfig())
			ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots})
			client, server := newPair(t, p, ccred, serverCred(t, p, k.server), "localhost", clientReq, serverReq)
			if err := pump(t, client, server, whole); err != nil {
				t.Fatal(err)
			}
			// The server's tickets came with its flight and were left over.
			stream := append(append([]byte(nil), client.acc...), encrypt(t, server.ctx, []byte("data"))...)
			if len(client.acc) == 0 {
				t.Fatal("no tickets after the handshake")
			}
			cache := ccred.(*credentials).cache
			before := cache.len()
			r := decrypt(client.ctx, stream)
			if r.st != status.SEC_I_RENEGOTIATE || !bytes.Equal(r.extra, stream) || r.data != nil {
				t.Fatalf("DecryptMessage: %v data %q extra %d/%d", r.st, r.data, len(r.extra), len(stream))
			}
			var rest []byte
			if pattern == "extra-as-token" {
				out, st, extra, err := client.call(t, r.extra, true)
				if st != status.SEC_E_OK || err != nil || len(out) != 0 || len(extra) >= len(stream) {
					t.Fatalf("ISC: %v %v out %d extra %d", st, err, len(out), len(extra))
				}
				rest = extra
			} else {
				out, st, _, err := client.call(t, nil, false)
				if st != status.SEC_E_OK || err != nil || len(out) != 0 {
					t.Fatalf("ISC: %v %v", st, err)
				}
				// The ticket record is skipped when it comes back.
				r := decrypt(client.ctx, stream)
				if r.st != status.SEC_E_OK || len(r.data) != 0 {
					t.Fatalf("DecryptMessage again: %v", r.st)
				}
				rest = r.extra
			}
			plain, left, _ := readAll(t, client, rest)
			if string(plain) != "data" || len(left) != 0 {
				t.Fatalf("data %q left %d", plain, len(left))
			}
			if cache.len() != before+1 {
				t.Fatalf("session cache %d -> %d entries", before, cache.len())
			}
		})
	}
}

func TestStreamSizes(t *testing.T) {
	tests := []struct {
		vers   uint32
		algs   []uint32
		header uint32
		trail  uint32
		block  uint32
	}{
		{packages.SP_PROT_TLS1_3_CLIENT, nil, 5, 17, 1},
		{packages.SP_PROT_TLS1_2_CLIENT, []uint32{packages.CALG_AES_128}, 13, 16, 1},
	}
	k := getPKI()
	for _, tt := range tests {
		p := New(testConfig())
		ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: tt.vers, SupportedAlgs: tt.algs})
		client, server := newPair(t, p, ccred, serverCred(t, p, k.server), "localhost", clientReq, serverReq)
		if err := pump(t, client, server, whole); err != nil {
			t.Fatal(err)
		}
		for _, e := range []*endpoint{client, server} {
			a, err := e.ctx.QueryAttribute(packages.SECPKG_ATTR_STREAM_SIZES)
			if err != nil {
				t.Fatal(err)
			}
			want := packages.SecPkgContext_StreamSizes{Header: tt.header, Trailer: tt.trail, MaximumMessage: 16384, Buffers: 4, BlockSize: tt.block}
			if got := *a.(*packages.SecPkgContext_StreamSizes); got != want {
				t.Errorf("%#x %s: %+v, want %+v", tt.vers, e.name, got, want)
			}
		}
		// A full record: exactly header + 16384 + trailer bytes.
		rec := encrypt(t, client.ctx, make([]byte, 16384))
		if len(rec) != int(tt.header+16384+tt.trail) {
			t.Errorf("record of %d bytes", len(rec))
		}
		// More than cbMaximumMessage is refused.
		msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: make([]byte, 64)}, {Type: secbuffer.SECBUFFER_DATA, Data: make([]byte, 16385)}, {Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: make([]byte, 64)}}
		if _, err := client.ctx.Session().EncryptMessage(0, msg, 0); status.Code(err) != status.SEC_E_INVALID_PARAMETER {
			t.Errorf("16385 bytes: %v", err)
		}
		// Header or trailer too small.
		msg = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: make([]byte, tt.header-1)}, {Type: secbuffer.SECBUFFER_DATA, Data: make([]byte, 10)}, {Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: make([]byte, 64)}}
		if _, err := client.ctx.Session().EncryptMessage(0, msg, 0); status.Code(err) != status.SEC_E_BUFFER_TOO_SMALL {
			t.Errorf("small header: %v", err)
		}
		cx, _ := client.ctx.QueryAttribute(packages.SECPKG_ATTR_CONNECTION_INFO_EX)
		if ex := cx.(*SecPkgContext_ConnectionInfoEx); UTF16ToString(ex.Cipher[:]) != "AES" || ex.Version != 1 || ex.Protocol != tt.vers {
			t.Errorf("connection info ex %+v", ex)
		}
		ci, _ := client.ctx.QueryAttribute(packages.SECPKG_ATTR_CIPHER_INFO)
		info := ci.(*SecPkgContext_CipherInfo)
		if name := UTF16ToString(info.CipherSuiteName[:]); name == "" || UTF16ToString(info.Cipher[:]) != "AES" || info.Version != 1 {
			t.Errorf("cipher info %q %q", name, UTF16ToString(info.Cipher[:]))
		}
	}
}

func TestBeforeHandshake(t *testing.T) {
	p := New(testConfig())
	ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, nil)
	cc, _ := ccred.NewClientContext("localhost", clientReq)
	defer cc.Delete()
	if _, err := cc.QueryAttribute(packages.SECPKG_ATTR_STREAM_SIZES); status.Code(err) != status.SEC_E_INVALID_HANDLE {
		t.Errorf("STREAM_SIZES: %v", err)
	}
	if cc.Session() != nil {
		t.Error("a session before the handshake")
	}
	if _, err := cc.Step(context.Background(), nil, nil); status.Code(err) != status.SEC_E_INVALID_TOKEN {
		t.Errorf("no output buffer: %v", err)
	}
	cc.Delete()
	if _, err := cc.Step(context.Background(), nil, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}); status.Code(err) != status.SEC_E_INVALID_HANDLE {
		t.Errorf("after Delete: %v", err)
	}
}

func TestCancel(t *testing.T) {
	k := getPKI()
	p := New(testConfig())
	ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots})
	cc, _ := ccred.NewClientContext("localhost", clientReq)
	defer cc.Delete()
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	if st, err := cc.Step(context.Background(), nil, out); st != status.SEC_I_CONTINUE_NEEDED {
		t.Fatal(st, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte{22, 3, 3, 0, 1, 2}}, {Type: secbuffer.SECBUFFER_EMPTY}}
	st, err := cc.Step(ctx, in, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}})
	if st != status.SEC_E_INTERNAL_ERROR || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v %v", st, err)
	}
	// The context is dead.
	if _, err := cc.Step(context.Background(), in, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestRequestFlagsBuffer(t *testing.T) {
	k := getPKI()
	p := New(testConfig())
	flags := func(f uint64) secbuffer.Buffer {
		return secbuffer.Buffer{Type: secbuffer.SECBUFFER_FLAGS, Data: binary.LittleEndian.AppendUint64(nil, f)}
	}
	tests := []struct {
		name string
		buf  secbuffer.Buffer
		want status.Status
	}{
		{"deferred", flags(packages.ISC_REQ_DEFERRED_CRED_VALIDATION), status.SEC_E_OK},
		{"messages", flags(packages.ISC_REQ_MESSAGES), status.SEC_E_UNSUPPORTED_FUNCTION},
		{"low-bits", flags(packages.ISC_REQ_CONFIDENTIALITY), status.SEC_E_INVALID_PARAMETER},
		{"short", secbuffer.Buffer{Type: secbuffer.SECBUFFER_FLAGS, Data: []byte{0, 0, 0, 0}}, status.SEC_E_INVALID_PARAMETER},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ccred := acquire(t, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots})
			client, server := newPair(t, p, ccred, serverCred(t, p, k.expired), "localhost", clientReq, serverReq)
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
			st, err := client.ctx.Step(context.Background(), []secbuffer.Buffer{tt.buf}, out)
			if tt.want != status.SEC_E_OK {
				if st != tt.want || status.Code(err) != tt.want {
					t.Fatalf("%v %v, want %v", st, err, tt.want)
				}
				return
			}
			// An expired server certificate does not fail the handshake;
			// the result is in CERT_CHECK_RESULT.
			client.calls = 1
			client.wire = out[0].Data
			for len(client.wire) > 0 || len(server.wire) > 0 {
				if len(client.wire) > 0 {
					server.acc, client.wire = append(server.acc, client.wire...), nil
					if err := server.process(t, client); err != nil {
						t.Fatal(err)
					}
				} else {
					client.acc, server.wire = append(client.acc, server.wire...), nil
					if err := client.process(t, server); err != nil {
						t.Fatal(err)
					}
				}
			}
			if client.ctx.Session() == nil {
				t.Fatal("not established")
			}
			r, _ := client.ctx.QueryAttribute(packages.SECPKG_ATTR_CERT_CHECK_RESULT)
			if got := r.(*SecPkgContext_CertificateValidationResult); got.VerifyChainStatus != packages.CERT_E_EXPIRED || got.ChainErrorStatus != CERT_TRUST_IS_NOT_TIME_VALID {
				t.Fatalf("CERT_CHECK_RESULT %+v", got)
			}
		})
	}
}
