package negotiate

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// fakes returns a Kerberos and an NTLM stand-in sharing one secret.
func fakes() (krb, nt *fakePkg) {
	return &fakePkg{name: "Kerberos", secret: "s3cret"}, &fakePkg{name: "NTLM", secret: "s3cret"}
}

type side struct {
	pkg  *Package
	auth any
	req  uint32
}

func newCtx(t *testing.T, s side, client bool) packages.Context {
	t.Helper()
	use := uint32(packages.SECPKG_CRED_INBOUND)
	if client {
		use = packages.SECPKG_CRED_OUTBOUND
	}
	cred, err := s.pkg.AcquireCredentials(context.Background(), "", use, s.auth)
	if err != nil {
		t.Fatalf("AcquireCredentials: %v", err)
	}
	var c packages.Context
	if client {
		c, err = cred.NewClientContext("HTTP/web.example.com", s.req)
	} else {
		c, err = cred.NewServerContext(s.req)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type leg struct {
	client bool
	st     status.Status
	err    error
	token  []byte
}

// exchange runs client against server; tamper, if set, may replace the
// token of leg i before the peer sees it. It stops at the first error.
func exchange(client, server packages.Context, cExtra, sExtra []secbuffer.Buffer, tamper func(i int, tok []byte) []byte) []leg {
	var legs []leg
	var tok []byte
	for i := 0; i < 16; i++ {
		isClient := i%2 == 0
		c, extra := server, sExtra
		if isClient {
			c, extra = client, cExtra
		}
		var in []secbuffer.Buffer
		if i > 0 {
			in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: tok})
		}
		in = append(in, extra...)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		st, err := c.Step(context.Background(), in, out)
		tok = out[0].Data
		legs = append(legs, leg{isClient, st, err, append([]byte(nil), tok...)})
		if err != nil || (client.Session() != nil && server.Session() != nil) {
			return legs
		}
		if tamper != nil {
			tok = tamper(i, tok)
		}
	}
	return legs
}

func statuses(legs []leg) string {
	s := ""
	for _, l := range legs {
		who := "S"
		if l.client {
			who = "C"
		}
		s += fmt.Sprintf("%s:%s ", who, l.st.String())
	}
	return s
}

func wantStatuses(t *testing.T, legs []leg, want ...status.Status) {
	t.Helper()
	var got, ws []string
	for _, l := range legs {
		got = append(got, l.st.String())
	}
	for _, w := range want {
		ws = append(ws, w.String())
	}
	if !reflect.DeepEqual(got, ws) {
		t.Fatalf("legs %s; want %v", statuses(legs), ws)
	}
}

func mustResp(t *testing.T, b []byte) *negTokenResp {
	t.Helper()
	r, err := parseNegTokenResp(b)
	if err != nil {
		t.Fatalf("not a NegTokenResp: %v (%x)", err, b)
	}
	return r
}

func checkNegotiated(t *testing.T, c packages.Context, name string, state uint32) {
	t.Helper()
	v, err := c.QueryAttribute(packages.SECPKG_ATTR_NEGOTIATION_INFO)
	if err != nil {
		t.Fatal(err)
	}
	ni := v.(*packages.NegotiationInfo)
	if ni.PackageInfo.Name != name || ni.NegotiationState != state {
		t.Fatalf("NegotiationInfo %q state %d, want %q state %d", ni.PackageInfo.Name, ni.NegotiationState, name, state)
	}
}

// checkMessages signs and seals one message each way.
func checkMessages(t *testing.T, client, server packages.Context) {
	t.Helper()
	for i, pair := range [][2]packages.Context{{client, server}, {server, client}} {
		from, to := pair[0], pair[1]
		msg := []byte(fmt.Sprintf("message %d", i))
		bufs := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_DATA, Data: append([]byte(nil), msg...)},
			{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 128)},
		}
		if err := from.Session().MakeSignature(0, bufs, 0); err != nil {
			t.Fatalf("MakeSignature: %v", err)
		}
		if _, err := to.Session().VerifySignature(bufs, 0); err != nil {
			t.Fatalf("VerifySignature: %v", err)
		}
		bufs[1].Data = make([]byte, 0, 128)
		if _, err := from.Session().EncryptMessage(0, bufs, 0); err != nil {
			t.Fatalf("EncryptMessage: %v", err)
		}
		if bytes.Equal(bufs[0].Data, msg) {
			t.Fatal("EncryptMessage left the data in clear")
		}
		if _, _, err := to.Session().DecryptMessage(bufs, 0); err != nil {
			t.Fatalf("DecryptMessage: %v", err)
		}
		if !bytes.Equal(bufs[0].Data, msg) {
			t.Fatalf("decrypted %q, want %q", bufs[0].Data, msg)
		}
	}
}

var (
	cont = status.SEC_I_CONTINUE_NEEDED
	ok   = status.SEC_E_OK
)

func TestNTLMThroughNegotiate(t *testing.T) {
	krb, nt := fakes()
	krb.acquireErr = status.SEC_E_NO_CREDENTIALS // no Kerberos at all
	p := New(&Config{Kerberos: krb, NTLM: nt})
	client, server := newCtx(t, side{pkg: p}, true), newCtx(t, side{pkg: p}, false)
	checkNegotiated(t, client, "Negotiate", packages.SECPKG_NEGOTIATION_IN_PROGRESS)

	legs := exchange(client, server, nil, nil, nil)
	wantStatuses(t, legs, cont, cont, cont, ok, ok)

	init, err := parseNegTokenInit(legs[0].token)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(init.mechTypes, []asn1.ObjectIdentifier{oidNTLM}) || !bytes.HasPrefix(init.mechToken, ntlmSignature) {
		t.Fatalf("NegTokenInit %v %x", init.mechTypes, init.mechToken)
	}
	r1 := mustResp(t, legs[1].token)
	if r1.state != acceptIncomplete || !r1.supportedMech.Equal(oidNTLM) || !bytes.HasPrefix(r1.responseToken, ntlmSignature) || r1.mechListMIC != nil {
		t.Fatalf("first reply %+v", r1)
	}
	r2 := mustResp(t, legs[2].token)
	if r2.state != negStateAbsent || len(r2.responseToken) == 0 || len(r2.mechListMIC) != 16 {
		t.Fatalf("client AUTHENTICATE leg %+v", r2)
	}
	r3 := mustResp(t, legs[3].token)
	if r3.state != acceptCompleted || r3.responseToken != nil || len(r3.mechListMIC) != 16 {
		t.Fatalf("final reply %+v", r3)
	}
	if len(legs[4].token) != 0 {
		t.Fatalf("client's last leg sent %x", legs[4].token)
	}
	checkNegotiated(t, client, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	checkNegotiated(t, server, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	for _, c := range []packages.Context{client, server} {
		v, err := c.QueryAttribute(packages.SECPKG_ATTR_PACKAGE_INFO)
		if err != nil || v.(*packages.Info).Name != "NTLM" {
			t.Fatalf("PACKAGE_INFO %v %v", v, err)
		}
		v, err = c.QueryAttribute(packages.SECPKG_ATTR_NAMES)
		if err != nil || v.(*packages.Names).UserName != "alice" {
			t.Fatalf("NAMES %v %v", v, err)
		}
	}
	// MS-SPNG 3.3.5.1: each side resets after signing (true) and after
	// verifying (false): the client signs, the server verifies and signs,
	// the client verifies.
	if want := []bool{true, false, true, false}; !reflect.DeepEqual(nt.resets, want) {
		t.Errorf("MIC resets %v, want %v", nt.resets, want)
	}
	checkMessages(t, client, server)
}

func TestKerberosThroughNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		req    uint32
		want   []status.Status
		apRep  bool
		legsOK int
	}{
		{"mutual", packages.ISC_REQ_MUTUAL_AUTH, []status.Status{cont, ok, ok}, true, 3},
		{"no-mutual", 0, []status.Status{cont, ok, ok}, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			krb, nt := fakes()
			p := New(&Config{Kerberos: krb, NTLM: nt})
			client, server := newCtx(t, side{pkg: p, req: tt.req}, true), newCtx(t, side{pkg: p}, false)
			legs := exchange(client, server, nil, nil, nil)
			wantStatuses(t, legs[:2], tt.want[:2]...)
			init, err := parseNegTokenInit(legs[0].token)
			if err != nil {
				t.Fatal(err)
			}
			if want := []asn1.ObjectIdentifier{oidMSKRB5, oidKerberos, oidNTLM}; !reflect.DeepEqual(init.mechTypes, want) {
				t.Fatalf("mechTypes %v, want %v", init.mechTypes, want)
			}
			if oid, ok := gssTokenMech(init.mechToken); !ok || !oid.Equal(oidKerberos) {
				t.Fatalf("optimistic token %x", init.mechToken)
			}
			r := mustResp(t, legs[1].token)
			if r.state != acceptCompleted || !r.supportedMech.Equal(oidMSKRB5) || r.mechListMIC != nil || (r.responseToken != nil) != tt.apRep {
				t.Fatalf("reply %+v", r)
			}
			if server.Session() == nil {
				t.Fatal("server not established")
			}
			if len(legs) == 2 {
				// The client still has to read the reply.
				out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
				st, err := client.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: legs[1].token}}, out)
				if err != nil || st != ok || len(out[0].Data) != 0 {
					t.Fatalf("client last leg %v %v %x", st, err, out[0].Data)
				}
			} else {
				wantStatuses(t, legs, tt.want...)
			}
			checkNegotiated(t, client, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
			checkNegotiated(t, server, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
			checkMessages(t, client, server)
		})
	}
}

func TestFallbackToNTLM(t *testing.T) {
	krb, nt := fakes()
	krb.startErr = status.New("", "Kerberos", status.SEC_E_NO_AUTHENTICATING_AUTHORITY, errors.New("no KDC"))
	p := New(&Config{Kerberos: krb, NTLM: nt})
	client, server := newCtx(t, side{pkg: p}, true), newCtx(t, side{pkg: p}, false)
	legs := exchange(client, server, nil, nil, nil)
	wantStatuses(t, legs, cont, cont, cont, ok, ok)
	init, err := parseNegTokenInit(legs[0].token)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(init.mechTypes, []asn1.ObjectIdentifier{oidNTLM}) {
		t.Fatalf("mechTypes %v: Kerberos not dropped", init.mechTypes)
	}
	checkNegotiated(t, client, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
}

func TestNTLMForbidden(t *testing.T) {
	noKDC := status.New("", "Kerberos", status.SEC_E_NO_AUTHENTICATING_AUTHORITY, errors.New("no KDC"))
	tests := []struct {
		name    string
		config  string
		auth    any
		acquire bool // Kerberos fails when acquiring credentials, not later
	}{
		{"config", "!NTLM", nil, false},
		{"identity", "", &packages.AuthIdentity{User: "alice", Password: "s3cret", PackageList: "!ntlm"}, false},
		{"identity-kerberos-only", "", &packages.AuthIdentity{User: "alice", Password: "s3cret", PackageList: "Kerberos"}, false},
		{"authdata-acquire", "", &AuthData{PackageList: "kerberos,!ntlm"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			krb, nt := fakes()
			if tt.acquire {
				krb.acquireErr = noKDC
			} else {
				krb.startErr = noKDC
			}
			p := New(&Config{Kerberos: krb, NTLM: nt, PackageList: tt.config})
			cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, tt.auth)
			if tt.acquire {
				if !errors.Is(err, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) {
					t.Fatalf("AcquireCredentials: %v, want the Kerberos failure", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := cred.NewClientContext("HTTP/web.example.com", 0)
			if err != nil {
				t.Fatal(err)
			}
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}
			st, err := c.Step(context.Background(), nil, out)
			if st != status.SEC_E_NO_AUTHENTICATING_AUTHORITY || !errors.Is(err, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) {
				t.Fatalf("Step: %v %v, want the Kerberos failure", st, err)
			}
			// Failure is sticky.
			if st2, err2 := c.Step(context.Background(), nil, out); st2 != st || err2 != err {
				t.Fatalf("second Step: %v %v", st2, err2)
			}
		})
	}
}

// The server has no Kerberos: it selects NTLM with request-mic, the
// client drops its optimistic Kerberos context and starts NTLM
// (packages.md 3.6, third exchange).
func TestServerSelectsSecondMech(t *testing.T) {
	krb, nt := fakes()
	cp := New(&Config{Kerberos: krb, NTLM: nt})
	sp := New(&Config{Kerberos: krb, NTLM: nt, PackageList: "NTLM"})
	client, server := newCtx(t, side{pkg: cp}, true), newCtx(t, side{pkg: sp}, false)
	legs := exchange(client, server, nil, nil, nil)
	wantStatuses(t, legs, cont, cont, cont, cont, cont, ok, ok)
	r := mustResp(t, legs[1].token)
	if r.state != requestMIC || !r.supportedMech.Equal(oidNTLM) || r.responseToken != nil {
		t.Fatalf("first reply %+v", r)
	}
	r = mustResp(t, legs[2].token)
	if !bytes.HasPrefix(r.responseToken, ntlmSignature) || r.mechListMIC != nil {
		t.Fatalf("client NEGOTIATE leg %+v", r)
	}
	if r := mustResp(t, legs[4].token); r.mechListMIC == nil {
		t.Fatal("no client mechListMIC")
	}
	if r := mustResp(t, legs[5].token); r.state != acceptCompleted || r.mechListMIC == nil {
		t.Fatalf("final reply %+v", r)
	}
	checkNegotiated(t, client, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	checkMessages(t, client, server)
}

func TestNoCommonMechanism(t *testing.T) {
	krb, nt := fakes()
	krb.acquireErr = status.SEC_E_NO_CREDENTIALS
	cp := New(&Config{Kerberos: krb, NTLM: nt})
	krb2, nt2 := fakes()
	sp := New(&Config{Kerberos: krb2, NTLM: nt2, PackageList: "Kerberos"})
	client, server := newCtx(t, side{pkg: cp}, true), newCtx(t, side{pkg: sp}, false)
	legs := exchange(client, server, nil, nil, nil)
	if len(legs) != 2 || !errors.Is(legs[1].err, status.SEC_E_INVALID_TOKEN) {
		t.Fatalf("legs %s: want the server to fail with SEC_E_INVALID_TOKEN", statuses(legs))
	}
	r := mustResp(t, legs[1].token)
	if r.state != reject {
		t.Fatalf("server token %+v, want reject", r)
	}
	// The client, given the reject, fails with SEC_E_LOGON_DENIED.
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	st, err := client.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: legs[1].token}}, out)
	if st != status.SEC_E_LOGON_DENIED || !errors.Is(err, status.SEC_E_LOGON_DENIED) {
		t.Fatalf("client: %v %v", st, err)
	}
}

func TestTamperedMIC(t *testing.T) {
	tests := []struct {
		name      string
		leg       int // the leg whose mechListMIC is altered
		failsSide bool
	}{
		{"client-mic", 2, false},
		{"server-mic", 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			krb, nt := fakes()
			krb.acquireErr = status.SEC_E_NO_CREDENTIALS
			p := New(&Config{Kerberos: krb, NTLM: nt})
			client, server := newCtx(t, side{pkg: p}, true), newCtx(t, side{pkg: p}, false)
			legs := exchange(client, server, nil, nil, func(i int, tok []byte) []byte {
				if i != tt.leg {
					return tok
				}
				r, err := parseNegTokenResp(tok)
				if err != nil || r.mechListMIC == nil {
					t.Fatalf("leg %d has no mechListMIC", i)
				}
				r.mechListMIC[len(r.mechListMIC)-1] ^= 1
				b, err := r.marshal()
				if err != nil {
					t.Fatal(err)
				}
				return b
			})
			last := legs[len(legs)-1]
			if last.client != tt.failsSide || !errors.Is(last.err, status.SEC_E_MESSAGE_ALTERED) {
				t.Fatalf("legs %s, last error %v: want SEC_E_MESSAGE_ALTERED", statuses(legs), last.err)
			}
			if client.Session() != nil && server.Session() != nil {
				t.Fatal("both sides established")
			}
		})
	}
}

// A man in the middle strips Kerberos from the client's list so that NTLM
// is chosen; the mechListMIC, computed over the list the client sent,
// exposes it.
func TestDowngradeDetected(t *testing.T) {
	krb, nt := fakes()
	p := New(&Config{Kerberos: krb, NTLM: nt})
	client, server := newCtx(t, side{pkg: p}, true), newCtx(t, side{pkg: p}, false)
	legs := exchange(client, server, nil, nil, func(i int, tok []byte) []byte {
		if i != 0 {
			return tok
		}
		init, err := parseNegTokenInit(tok)
		if err != nil {
			t.Fatal(err)
		}
		if len(init.mechTypes) != 3 {
			t.Fatalf("client offered %v", init.mechTypes)
		}
		b, err := (&negTokenInit{mechTypes: []asn1.ObjectIdentifier{oidNTLM}}).marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	last := legs[len(legs)-1]
	if last.client || !errors.Is(last.err, status.SEC_E_MESSAGE_ALTERED) {
		t.Fatalf("legs %s, last error %v: want the server to fail with SEC_E_MESSAGE_ALTERED", statuses(legs), last.err)
	}
	if server.Session() != nil {
		t.Fatal("server established over an altered list")
	}
}

func TestRawTokensToServer(t *testing.T) {
	krb, nt := fakes()
	p := New(&Config{Kerberos: krb, NTLM: nt})
	for _, name := range []string{"NTLM", "Kerberos"} {
		t.Run(name, func(t *testing.T) {
			var mp *fakePkg = nt
			if name == "Kerberos" {
				mp = krb
			}
			cred, err := mp.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, nil)
			if err != nil {
				t.Fatal(err)
			}
			client, err := cred.NewClientContext("HTTP/web", packages.ISC_REQ_MUTUAL_AUTH)
			if err != nil {
				t.Fatal(err)
			}
			server := newCtx(t, side{pkg: p}, false)
			legs := exchange(client, server, nil, nil, nil)
			if client.Session() == nil || server.Session() == nil {
				t.Fatalf("legs %s", statuses(legs))
			}
			for _, l := range legs[1:] {
				if !l.client && len(l.token) > 0 && classifyToken(l.token) == rawSPNEGO {
					t.Fatalf("server answered a bare token with SPNEGO: %x", l.token)
				}
			}
			checkNegotiated(t, server, name, packages.SECPKG_NEGOTIATION_COMPLETE)
			checkMessages(t, client, server)
		})
	}
	t.Run("not-offered", func(t *testing.T) {
		sp := New(&Config{Kerberos: krb, NTLM: nt, PackageList: "Kerberos"})
		server := newCtx(t, side{pkg: sp}, false)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 100)}}
		_, err := server.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte("NTLMSSP\x00\x01\x00\x00\x00")}}, out)
		if !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestChannelBindingsPassThrough(t *testing.T) {
	cb := secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: (&secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:x")}).Marshal()}
	other := secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: (&secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:y")}).Marshal()}
	tests := []struct {
		name   string
		c, s   []secbuffer.Buffer
		wantOK bool
	}{
		{"same", []secbuffer.Buffer{cb}, []secbuffer.Buffer{cb}, true},
		{"different", []secbuffer.Buffer{cb}, []secbuffer.Buffer{other}, false},
		{"client-only", []secbuffer.Buffer{cb}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			krb, nt := fakes()
			krb.acquireErr = status.SEC_E_NO_CREDENTIALS
			p := New(&Config{Kerberos: krb, NTLM: nt})
			client, server := newCtx(t, side{pkg: p}, true), newCtx(t, side{pkg: p}, false)
			legs := exchange(client, server, tt.c, tt.s, nil)
			last := legs[len(legs)-1]
			if tt.wantOK != (last.err == nil && server.Session() != nil) {
				t.Fatalf("legs %s, err %v", statuses(legs), last.err)
			}
			if !tt.wantOK && !errors.Is(last.err, status.SEC_E_LOGON_DENIED) {
				t.Fatalf("err %v, want SEC_E_LOGON_DENIED", last.err)
			}
		})
	}
}

func TestBufferTooSmall(t *testing.T) {
	krb, nt := fakes()
	krb.acquireErr = status.SEC_E_NO_CREDENTIALS
	p := New(&Config{Kerberos: krb, NTLM: nt})
	client := newCtx(t, side{pkg: p}, true)
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 8)}}
	st, err := client.Step(context.Background(), nil, out)
	if st != status.SEC_E_BUFFER_TOO_SMALL || !errors.Is(err, status.SEC_E_BUFFER_TOO_SMALL) {
		t.Fatalf("%v %v", st, err)
	}
	out[0].Data = make([]byte, 0, 1024)
	st, err = client.Step(context.Background(), nil, out)
	if st != cont || err != nil {
		t.Fatalf("retry: %v %v", st, err)
	}
	if _, err := parseNegTokenInit(out[0].Data); err != nil {
		t.Fatal(err)
	}
	// With ISC_REQ_ALLOCATE_MEMORY the package allocates.
	client = newCtx(t, side{pkg: p, req: packages.ISC_REQ_ALLOCATE_MEMORY}, true)
	out = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	if st, err := client.Step(context.Background(), nil, out); st != cont || err != nil || len(out[0].Data) == 0 {
		t.Fatalf("allocate: %v %v %d", st, err, len(out[0].Data))
	}
	if client.Flags()&packages.ISC_RET_ALLOCATED_MEMORY == 0 {
		t.Error("ISC_RET_ALLOCATED_MEMORY not reported")
	}
	// No output token buffer at all.
	if _, err := client.Step(context.Background(), nil, nil); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
		t.Errorf("no output buffer: %v", err)
	}
}

func TestBeforeEstablished(t *testing.T) {
	krb, nt := fakes()
	p := New(&Config{Kerberos: krb, NTLM: nt})
	c := newCtx(t, side{pkg: p}, true)
	if c.Session() != nil {
		t.Error("a session before the handshake")
	}
	v, err := c.QueryAttribute(packages.SECPKG_ATTR_SIZES)
	if err != nil || v.(*packages.SecPkgContext_Sizes).MaxToken != 48256 {
		t.Errorf("SIZES before selection: %v %v", v, err)
	}
	if _, err := c.QueryAttribute(packages.SECPKG_ATTR_SESSION_KEY); !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
		t.Errorf("SESSION_KEY before selection: %v", err)
	}
}

func TestServerFirstNegTokenInit2(t *testing.T) {
	krb, nt := fakes()
	p := New(&Config{Kerberos: krb, NTLM: nt})
	server := newCtx(t, side{pkg: p}, false)
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}
	st, err := server.Step(context.Background(), nil, out)
	if st != cont || err != nil {
		t.Fatalf("%v %v", st, err)
	}
	init, err := parseNegTokenInit(out[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if init.negHints == nil || init.negHints.hintName == nil || *init.negHints.hintName != negHintName {
		t.Fatalf("negHints %+v", init.negHints)
	}
	if want := []asn1.ObjectIdentifier{oidMSKRB5, oidKerberos, oidNTLM}; !reflect.DeepEqual(init.mechTypes, want) {
		t.Fatalf("mechTypes %v", init.mechTypes)
	}
	// The client's NegTokenInit then runs as usual.
	client := newCtx(t, side{pkg: p, req: packages.ISC_REQ_MUTUAL_AUTH}, true)
	cout := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}
	if _, err := client.Step(context.Background(), nil, cout); err != nil {
		t.Fatal(err)
	}
	out[0].Data = out[0].Data[:0]
	if st, err := server.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: cout[0].Data}}, out); st != ok || err != nil {
		t.Fatalf("%v %v", st, err)
	}
}

// A server-first NegTokenInit2 that lists NTLM only: the client does not
// try Kerberos.
func TestClientUsesServerHints(t *testing.T) {
	krb, nt := fakes()
	cp := New(&Config{Kerberos: krb, NTLM: nt})
	sp := New(&Config{Kerberos: krb, NTLM: nt, PackageList: "NTLM"})
	client, server := newCtx(t, side{pkg: cp}, true), newCtx(t, side{pkg: sp}, false)
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}
	if _, err := server.Step(context.Background(), nil, out); err != nil {
		t.Fatal(err)
	}
	hint := append([]byte(nil), out[0].Data...)
	cout := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}
	if _, err := client.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: hint}}, cout); err != nil {
		t.Fatal(err)
	}
	init, err := parseNegTokenInit(cout[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(init.mechTypes, []asn1.ObjectIdentifier{oidNTLM}) {
		t.Fatalf("mechTypes %v, want NTLM only", init.mechTypes)
	}
	// The rest of the handshake goes as usual.
	tok := cout[0].Data
	for i, c := range []packages.Context{server, client, server, client} {
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		if _, err := c.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, out); err != nil {
			t.Fatalf("leg %d: %v", i, err)
		}
		tok = out[0].Data
	}
	if client.Session() == nil || server.Session() == nil {
		t.Fatal("not established")
	}
}

// The mechanism's error token (a KRB-ERROR) reaches the client inside the
// reject, and the client reports the mechanism's failure.
func TestMechanismErrorToken(t *testing.T) {
	krb, nt := fakes()
	p := New(&Config{Kerberos: krb, NTLM: nt})
	client := newCtx(t, side{pkg: p, req: packages.ISC_REQ_MUTUAL_AUTH, auth: &packages.AuthIdentity{User: "alice", Password: "wrong"}}, true)
	server := newCtx(t, side{pkg: p}, false)
	legs := exchange(client, server, nil, nil, nil)
	last := legs[len(legs)-1]
	if len(legs) != 2 || !errors.Is(last.err, status.SEC_E_LOGON_DENIED) {
		t.Fatalf("legs %s: %v", statuses(legs), last.err)
	}
	r := mustResp(t, last.token)
	if body, ok := fakeKrbBody(r.responseToken); r.state != reject || !ok || string(body) != "ERR" {
		t.Fatalf("server token %+v, want reject with the error token", r)
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	_, err := client.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: last.token}}, out)
	if !errors.Is(err, errFakeKrbError) {
		t.Fatalf("client: %v, want the mechanism's own failure", err)
	}

	// A bare Kerberos token: the error token comes back bare.
	cred, err := krb.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := cred.NewClientContext("HTTP/x", packages.ISC_REQ_MUTUAL_AUTH)
	server = newCtx(t, side{pkg: p}, false)
	legs = exchange(raw, server, nil, nil, nil)
	last = legs[len(legs)-1]
	if body, ok := fakeKrbBody(last.token); !errors.Is(last.err, status.SEC_E_LOGON_DENIED) || !ok || string(body) != "ERR" {
		t.Fatalf("bare: %v, token %x", last.err, last.token)
	}
}

func TestWrongPassword(t *testing.T) {
	krb, nt := fakes()
	krb.acquireErr = status.SEC_E_NO_CREDENTIALS
	p := New(&Config{Kerberos: krb, NTLM: nt})
	client := newCtx(t, side{pkg: p, auth: &packages.AuthIdentity{User: "alice", Password: "wrong"}}, true)
	server := newCtx(t, side{pkg: p}, false)
	legs := exchange(client, server, nil, nil, nil)
	last := legs[len(legs)-1]
	if last.client || !errors.Is(last.err, status.SEC_E_LOGON_DENIED) {
		t.Fatalf("legs %s, err %v", statuses(legs), last.err)
	}
	if r := mustResp(t, last.token); r.state != reject {
		t.Fatalf("server token %+v, want reject", r)
	}
}

func TestPackageInfo(t *testing.T) {
	i := New(nil).Info()
	want := packages.Info{Name: "Negotiate", Comment: "Microsoft Package Negotiator", Capabilities: 0x00883BB3, Version: 1, RPCID: 9, MaxToken: 48256}
	if i != want {
		t.Fatalf("Info %+v, want %+v", i, want)
	}
}

func TestFilterMechs(t *testing.T) {
	krb, nt := fakes()
	all := New(&Config{Kerberos: krb, NTLM: nt}).mechs
	tests := []struct {
		list string
		want []string
	}{
		{"", []string{"Kerberos", "NTLM"}},
		{"!ntlm", []string{"Kerberos"}},
		{"!Kerberos", []string{"NTLM"}},
		{"NTLM,Kerberos", []string{"NTLM", "Kerberos"}},
		{"kerberos, !kerberos", nil},
		{"Negotiate", nil},
		{" ntlm ", []string{"NTLM"}},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range filterMechs(all, tt.list) {
			got = append(got, m.name)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: %v, want %v", tt.list, got, tt.want)
		}
	}
}

// FuzzAcceptToken gives arbitrary first and second tokens to a server
// context: it must fail cleanly (a failure status, no panic) or go on.
func FuzzAcceptToken(f *testing.F) {
	for _, v := range vectors(f) {
		f.Add(v.Data, []byte(nil))
	}
	f.Add([]byte("NTLMSSP\x00\x01clientnc"), []byte("NTLMSSP\x00\x03"))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		krb, nt := fakes()
		p := New(&Config{Kerberos: krb, NTLM: nt})
		cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := cred.NewServerContext(0)
		for _, tok := range [][]byte{first, second} {
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
			st, err := s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, out)
			if (err != nil) != st.Failed() {
				t.Fatalf("status %v with error %v", st, err)
			}
			if err != nil || s.Session() != nil {
				return
			}
		}
	})
}

// FuzzInitiateReply gives an arbitrary reply to a client context that
// sent its NegTokenInit.
func FuzzInitiateReply(f *testing.F) {
	for _, v := range vectors(f) {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, reply []byte) {
		krb, nt := fakes()
		p := New(&Config{Kerberos: krb, NTLM: nt})
		cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := cred.NewClientContext("HTTP/x", packages.ISC_REQ_MUTUAL_AUTH)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		if _, err := c.Step(context.Background(), nil, out); err != nil {
			t.Fatal(err)
		}
		out[0].Data = out[0].Data[:0]
		st, err := c.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: reply}}, out)
		if (err != nil) != st.Failed() {
			t.Fatalf("status %v with error %v", st, err)
		}
	})
}

// A Windows acceptor may add a mechListMIC to its accept-completed reply
// for Kerberos even when Kerberos was the client's first choice
// (packages.md 3.4): the client checks it and sends nothing back.
func TestClientAcceptsOptionalKerberosMIC(t *testing.T) {
	for _, tamper := range []bool{false, true} {
		krb, nt := fakes()
		p := New(&Config{Kerberos: krb, NTLM: nt})
		client := newCtx(t, side{pkg: p, req: packages.ISC_REQ_MUTUAL_AUTH}, true)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		if _, err := client.Step(context.Background(), nil, out); err != nil {
			t.Fatal(err)
		}
		init, err := parseNegTokenInit(out[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		// Play the acceptor by hand with the bare Kerberos stand-in.
		scred, _ := krb.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, nil)
		sk, _ := scred.NewServerContext(0)
		sout := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
		if _, err := sk.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: init.mechToken}}, sout); err != nil {
			t.Fatal(err)
		}
		mic := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: init.rawMechTypes}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 64)}}
		if err := sk.Session().MakeSignature(0, mic, 0); err != nil {
			t.Fatal(err)
		}
		if tamper {
			mic[1].Data[0] ^= 1
		}
		reply, err := (&negTokenResp{state: acceptCompleted, supportedMech: oidMSKRB5, responseToken: sout[0].Data, mechListMIC: mic[1].Data}).marshal()
		if err != nil {
			t.Fatal(err)
		}
		out[0].Data = out[0].Data[:0]
		st, err := client.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: reply}}, out)
		if tamper {
			if !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
				t.Fatalf("tampered MIC: %v %v", st, err)
			}
			continue
		}
		if err != nil || st != ok || client.Session() == nil || len(out[0].Data) != 0 {
			t.Fatalf("client: %v %v, %d bytes", st, err, len(out[0].Data))
		}
	}
}
