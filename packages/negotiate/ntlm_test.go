package negotiate

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// These tests run Negotiate over the real NTLM package, in memory.

var testUsers = ntlm.Users{`DOM\alice`: "Passw0rd"}

func ntlmPair(t testing.TB, config *Config, creq, sreq uint32) (client, server packages.Context) {
	t.Helper()
	p := New(config)
	ccred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	scred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: testUsers})
	if err != nil {
		t.Fatal(err)
	}
	if client, err = ccred.NewClientContext("HTTP/web.example.com", creq); err != nil {
		t.Fatal(err)
	}
	if server, err = scred.NewServerContext(sreq); err != nil {
		t.Fatal(err)
	}
	return client, server
}

func sessionKey(t *testing.T, c packages.Context) []byte {
	t.Helper()
	v, err := c.QueryAttribute(packages.SECPKG_ATTR_SESSION_KEY)
	if err != nil {
		t.Fatal(err)
	}
	return v.(*packages.SecPkgContext_SessionKey).SessionKey
}

func TestRealNTLM(t *testing.T) {
	tests := []struct {
		name    string
		config  *Config
		keyExch bool // NTLMSSP_NEGOTIATE_KEY_EXCH expected in AUTHENTICATE
	}{
		{"default", &Config{PackageList: "NTLM"}, true},
		{"no-key-exchange", &Config{PackageList: "NTLM", NTLM: ntlm.New(&ntlm.Config{DisableKeyExchange: true})}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := uint32(packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_INTEGRITY | packages.ISC_REQ_MUTUAL_AUTH)
			client, server := ntlmPair(t, tt.config, req, packages.ASC_REQ_CONFIDENTIALITY|packages.ASC_REQ_INTEGRITY)
			legs := exchange(client, server, nil, nil, nil)
			wantStatuses(t, legs, cont, cont, cont, ok, ok)
			r := mustResp(t, legs[2].token)
			if len(r.mechListMIC) != 16 {
				t.Fatalf("client mechListMIC %x", r.mechListMIC)
			}
			if got := authenticateKeyExch(t, r.responseToken); got != tt.keyExch {
				t.Fatalf("AUTHENTICATE KEY_EXCH %v, want %v", got, tt.keyExch)
			}
			if r := mustResp(t, legs[3].token); r.state != acceptCompleted || len(r.mechListMIC) != 16 {
				t.Fatalf("server final %+v", r)
			}
			v, err := server.QueryAttribute(packages.SECPKG_ATTR_NAMES)
			if err != nil || v.(*packages.Names).UserName != `DOM\alice` {
				t.Fatalf("server NAMES %v %v", v, err)
			}
			if ck, sk := sessionKey(t, client), sessionKey(t, server); len(ck) != 16 || !bytes.Equal(ck, sk) {
				t.Fatalf("session keys %x / %x", ck, sk)
			}
			checkNegotiated(t, client, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
			checkNegotiated(t, server, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
			v, err = client.QueryAttribute(packages.SECPKG_ATTR_SIZES)
			if err != nil || v.(*packages.SecPkgContext_Sizes).MaxSignature != 16 {
				t.Fatalf("SIZES %v %v", v, err)
			}
			if client.Flags()&packages.ISC_RET_CONFIDENTIALITY == 0 {
				t.Errorf("client flags %#x lack confidentiality", client.Flags())
			}
			checkMessages(t, client, server)
			checkMessages(t, client, server)
		})
	}
}

// authenticateKeyExch reports whether an NTLM AUTHENTICATE message
// negotiates key exchange: NTLMSSP_NEGOTIATE_KEY_EXCH in its flags (offset
// 60) and a 16-byte EncryptedRandomSessionKey (MS-NLMP 2.2.1.3).
func authenticateKeyExch(t *testing.T, auth []byte) bool {
	t.Helper()
	if len(auth) < 64 || !bytes.HasPrefix(auth, ntlmSignature) || binary.LittleEndian.Uint32(auth[8:]) != 3 {
		t.Fatalf("not an AUTHENTICATE message: %x", auth)
	}
	flag := binary.LittleEndian.Uint32(auth[60:])&0x40000000 != 0
	keyLen := binary.LittleEndian.Uint16(auth[52:])
	if flag != (keyLen == 16) {
		t.Fatalf("KEY_EXCH %v with an EncryptedRandomSessionKey of %d bytes", flag, keyLen)
	}
	return flag
}

// fixedRand is a deterministic random source: 0, 1, 2, ...
type fixedRand struct{ n byte }

func (r *fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// deterministicNTLM returns an NTLM package whose handshakes are the same
// every time: fixed randomness and clock.
func deterministicNTLM() *ntlm.Package {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return ntlm.New(&ntlm.Config{Rand: &fixedRand{}, Time: func() time.Time { return now }, Workstation: "CLIENT", ComputerName: "SERVER"})
}

// TestRealNTLMSealAfterMIC: with key exchange, each side resets the RC4
// state of the direction its mechListMIC used (MS-SPNG 3.3.5.1), so the
// first messages after the SPNEGO handshake are sealed exactly as by bare
// NTLM contexts that never signed anything, while their sequence numbers
// count the mechListMIC.
func TestRealNTLMSealAfterMIC(t *testing.T) {
	req := uint32(packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_INTEGRITY)
	sreq := uint32(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_INTEGRITY)
	client, server := ntlmPair(t, &Config{PackageList: "NTLM", NTLM: deterministicNTLM()}, req, sreq)
	legs := exchange(client, server, nil, nil, nil)
	wantStatuses(t, legs, cont, cont, cont, ok, ok)
	if !authenticateKeyExch(t, mustResp(t, legs[2].token).responseToken) {
		t.Fatal("no key exchange")
	}

	// The same handshake without SPNEGO, hence without mechListMIC.
	np := deterministicNTLM()
	ccred, err := np.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	scred, err := np.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, testUsers)
	if err != nil {
		t.Fatal(err)
	}
	bareClient, _ := ccred.NewClientContext("HTTP/web.example.com", req)
	bareServer, _ := scred.NewServerContext(sreq)
	if _, err := testkit.Handshake(context.Background(), bareClient, bareServer, nil, nil); err != nil {
		t.Fatal(err)
	}
	if ck, bk := sessionKey(t, client), sessionKey(t, bareClient); !bytes.Equal(ck, bk) {
		t.Fatalf("session keys differ: %x / %x", ck, bk)
	}

	seal := func(c packages.Context, text string) []secbuffer.Buffer {
		t.Helper()
		msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte(text)}}
		if _, err := c.Session().EncryptMessage(0, msg, 0); err != nil {
			t.Fatal(err)
		}
		return msg
	}
	for _, dir := range []struct {
		name           string
		from, to, bare packages.Context
	}{
		{"client to server", client, server, bareClient},
		{"server to client", server, client, bareServer},
	} {
		for i, text := range []string{"first sealed message", "second"} {
			got, want := seal(dir.from, text), seal(dir.bare, text)
			if !bytes.Equal(got[1].Data, want[1].Data) {
				t.Errorf("%s, message %d: sealed %x, want %x (fresh RC4 state)", dir.name, i, got[1].Data, want[1].Data)
			}
			if seq := binary.LittleEndian.Uint32(got[0].Data[12:]); seq != uint32(i+1) {
				t.Errorf("%s, message %d: sequence number %d, want %d", dir.name, i, seq, i+1)
			}
			if _, _, err := dir.to.Session().DecryptMessage(got, 0); err != nil || string(got[1].Data) != text {
				t.Fatalf("%s, message %d: DecryptMessage %q: %v", dir.name, i, got[1].Data, err)
			}
		}
	}
}

// noReset hides the sessions' ResetMICState: an NTLM that leaves its RC4
// state as the mechListMIC left it.
type noReset struct{ packages.Package }

type noResetSession struct{ packages.Session }

func (c noResetCtx) Session() packages.Session {
	s := c.Context.Session()
	if s == nil {
		return nil
	}
	return noResetSession{s}
}

type noResetCred struct{ packages.Credentials }

type noResetCtx struct{ packages.Context }

func (p noReset) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	c, err := p.Package.AcquireCredentials(ctx, principal, use, authData)
	if err != nil {
		return nil, err
	}
	return noResetCred{c}, nil
}

func (c noResetCred) NewClientContext(target string, req uint32) (packages.Context, error) {
	x, err := c.Credentials.NewClientContext(target, req)
	if err != nil {
		return nil, err
	}
	return noResetCtx{x}, nil
}

func (c noResetCred) NewServerContext(req uint32) (packages.Context, error) {
	x, err := c.Credentials.NewServerContext(req)
	if err != nil {
		return nil, err
	}
	return noResetCtx{x}, nil
}

// TestRealNTLMResetNeeded: with key exchange, a server that resets its RC4
// state after the mechListMIC cannot read a client that does not (the
// mismatch seen against gss-ntlmssp without the reset); with both
// resetting, or neither, it can.
func TestRealNTLMResetNeeded(t *testing.T) {
	for _, tc := range []struct {
		name                string
		clientNTLM, srvNTLM packages.Package
		wantErr             status.Status
	}{
		{"both reset", ntlm.New(nil), ntlm.New(nil), 0},
		{"client does not reset", noReset{ntlm.New(nil)}, ntlm.New(nil), status.SEC_E_MESSAGE_ALTERED},
		{"neither resets", noReset{ntlm.New(nil)}, noReset{ntlm.New(nil)}, 0},
		{"client does not reset, no key exchange", noReset{ntlm.New(&ntlm.Config{DisableKeyExchange: true})}, ntlm.New(&ntlm.Config{DisableKeyExchange: true}), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccred, err := New(&Config{PackageList: "NTLM", NTLM: tc.clientNTLM}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
				&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
			if err != nil {
				t.Fatal(err)
			}
			scred, err := New(&Config{PackageList: "NTLM", NTLM: tc.srvNTLM}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: testUsers})
			if err != nil {
				t.Fatal(err)
			}
			client, _ := ccred.NewClientContext("HTTP/web.example.com", packages.ISC_REQ_CONFIDENTIALITY)
			server, _ := scred.NewServerContext(0)
			legs := exchange(client, server, nil, nil, nil)
			wantStatuses(t, legs, cont, cont, cont, ok, ok)
			msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("hello")}}
			if _, err := client.Session().EncryptMessage(0, msg, 0); err != nil {
				t.Fatal(err)
			}
			_, _, err = server.Session().DecryptMessage(msg, 0)
			if tc.wantErr != 0 {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("DecryptMessage: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(msg[1].Data) != "hello" {
				t.Fatalf("DecryptMessage %q: %v", msg[1].Data, err)
			}
		})
	}
}

func TestRealNTLMTestkitHandshake(t *testing.T) {
	client, server := ntlmPair(t, &Config{PackageList: "NTLM"}, packages.ISC_REQ_CONFIDENTIALITY, 0)
	legs, err := testkit.Handshake(context.Background(), client, server, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(legs) != 5 {
		t.Fatalf("%d legs", len(legs))
	}
}

func TestRealNTLMChannelBindings(t *testing.T) {
	cb := secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: (&secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:abc")}).Marshal()}
	other := secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: (&secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:xyz")}).Marshal()}
	client, server := ntlmPair(t, &Config{PackageList: "NTLM"}, 0, 0)
	legs := exchange(client, server, []secbuffer.Buffer{cb}, []secbuffer.Buffer{cb}, nil)
	if last := legs[len(legs)-1]; last.err != nil || server.Session() == nil {
		t.Fatalf("matching bindings: %s %v", statuses(legs), last.err)
	}
	client, server = ntlmPair(t, &Config{PackageList: "NTLM"}, 0, 0)
	legs = exchange(client, server, []secbuffer.Buffer{cb}, []secbuffer.Buffer{other}, nil)
	if last := legs[len(legs)-1]; last.client || !errors.Is(last.err, status.SEC_E_BAD_BINDINGS) {
		t.Fatalf("different bindings: %s %v", statuses(legs), last.err)
	}
}

func TestRealNTLMTamperedMIC(t *testing.T) {
	client, server := ntlmPair(t, &Config{PackageList: "NTLM"}, 0, 0)
	legs := exchange(client, server, nil, nil, func(i int, tok []byte) []byte {
		if i != 2 {
			return tok
		}
		r, err := parseNegTokenResp(tok)
		if err != nil || len(r.mechListMIC) != 16 {
			t.Fatalf("leg 2: %v", err)
		}
		r.mechListMIC[4] ^= 0x80
		b, err := r.marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	last := legs[len(legs)-1]
	if last.client || !errors.Is(last.err, status.SEC_E_MESSAGE_ALTERED) {
		t.Fatalf("%s %v", statuses(legs), last.err)
	}
}

func TestRealNTLMWrongPassword(t *testing.T) {
	p := New(&Config{PackageList: "NTLM"})
	ccred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	scred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: testUsers})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := ccred.NewClientContext("HTTP/x", 0)
	server, _ := scred.NewServerContext(0)
	legs := exchange(client, server, nil, nil, nil)
	last := legs[len(legs)-1]
	if last.client || !errors.Is(last.err, status.SEC_E_LOGON_DENIED) {
		t.Fatalf("%s %v", statuses(legs), last.err)
	}
}

// A bare NTLM exchange given to a Negotiate server, as HTTP clients that
// send "Negotiate <raw NTLM>" do.
func TestRealNTLMRawToNegotiateServer(t *testing.T) {
	np := ntlm.New(nil)
	ccred, err := np.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ccred.NewClientContext("HTTP/x", packages.ISC_REQ_CONFIDENTIALITY)
	if err != nil {
		t.Fatal(err)
	}
	scred, err := New(nil).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: testUsers})
	if err != nil {
		t.Fatal(err)
	}
	server, _ := scred.NewServerContext(0)
	legs := exchange(client, server, nil, nil, nil)
	wantStatuses(t, legs, cont, cont, ok, ok)
	if !bytes.HasPrefix(legs[1].token, ntlmSignature) {
		t.Fatalf("server answered %x, want a bare CHALLENGE", legs[1].token)
	}
	checkNegotiated(t, server, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	checkMessages(t, client, server)
}

func benchHandshake(b *testing.B, newPair func() (packages.Context, packages.Context)) {
	b.ReportAllocs()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		c, s := newPair()
		if _, err := testkit.Handshake(ctx, c, s, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshake compares a Negotiate handshake over NTLM with a bare
// NTLM handshake, measured in the same run.
func BenchmarkHandshake(b *testing.B) {
	b.Run("baseline-NTLM", func(b *testing.B) {
		p := ntlm.New(nil)
		cc, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
			&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
		if err != nil {
			b.Fatal(err)
		}
		sc, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, testUsers)
		if err != nil {
			b.Fatal(err)
		}
		benchHandshake(b, func() (packages.Context, packages.Context) {
			c, _ := cc.NewClientContext("HTTP/web", 0)
			s, _ := sc.NewServerContext(0)
			return c, s
		})
	})
	b.Run("Negotiate-NTLM", func(b *testing.B) {
		p := New(&Config{PackageList: "NTLM"})
		cc, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
			&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
		if err != nil {
			b.Fatal(err)
		}
		sc, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: testUsers})
		if err != nil {
			b.Fatal(err)
		}
		benchHandshake(b, func() (packages.Context, packages.Context) {
			c, _ := cc.NewClientContext("HTTP/web", 0)
			s, _ := sc.NewServerContext(0)
			return c, s
		})
	})
}

// BenchmarkSeal compares EncryptMessage through Negotiate with the bare
// NTLM context underneath it.
func BenchmarkSeal(b *testing.B) {
	c, s := ntlmPair(b, &Config{PackageList: "NTLM"}, packages.ISC_REQ_CONFIDENTIALITY, 0)
	if _, err := testkit.Handshake(context.Background(), c, s, nil, nil); err != nil {
		b.Fatal(err)
	}
	inner := c.(*clientContext).inner
	data := make([]byte, 1024)
	sig := make([]byte, 16)
	for _, bc := range []struct {
		name string
		ctx  packages.Context
	}{{"baseline-NTLM", inner}, {"Negotiate-NTLM", c}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: sig}, {Type: secbuffer.SECBUFFER_DATA, Data: data}}
			for i := 0; i < b.N; i++ {
				msg[0].Data = sig[:16]
				if _, err := bc.ctx.Session().EncryptMessage(0, msg, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
