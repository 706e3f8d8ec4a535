package ntlm

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// fixedTime is the clock of deterministic tests.
var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// countingReader is a deterministic Rand: 0, 1, 2, ...
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func testConfig() *Config {
	return &Config{
		Rand:         &countingReader{},
		Time:         func() time.Time { return fixedTime },
		Workstation:  "CLIENT",
		ComputerName: "SERVER",
	}
}

var testUsers = Users{`EXAMPLE\alice`: "Secret1!", "bob": "hunter2"}

type pair struct {
	client, server packages.Context
	cp, sp         *Package
}

// newPairTB is newPair with defaults, for fuzz targets and benchmarks.
func newPairTB(t testing.TB, ccfg, scfg *Config) pair {
	t.Helper()
	return newPairWith(t, ccfg, scfg, nil, "HTTP/web.example.com", reqSeal, 0)
}

// newPair creates a client for alice and a server knowing testUsers.
func newPair(t *testing.T, ccfg, scfg *Config, cred any, target string, creq, sreq uint32) pair {
	t.Helper()
	return newPairWith(t, ccfg, scfg, cred, target, creq, sreq)
}

func newPairWith(t testing.TB, ccfg, scfg *Config, cred any, target string, creq, sreq uint32) pair {
	t.Helper()
	cp, sp := New(ccfg), New(scfg)
	if cred == nil {
		cred = &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"}
	}
	cc, err := cp.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, cred)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sp.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, testUsers)
	if err != nil {
		t.Fatal(err)
	}
	client, err := cc.NewClientContext(target, creq)
	if err != nil {
		t.Fatal(err)
	}
	server, err := sc.NewServerContext(sreq)
	if err != nil {
		t.Fatal(err)
	}
	return pair{client: client, server: server, cp: cp, sp: sp}
}

func cbBuffer(app string) secbuffer.Buffer {
	cb := &secbuffer.ChannelBindings{ApplicationData: []byte(app)}
	return secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: cb.Marshal()}
}

const (
	reqSign = packages.ISC_REQ_INTEGRITY | packages.ISC_REQ_REPLAY_DETECT | packages.ISC_REQ_SEQUENCE_DETECT
	reqSeal = reqSign | packages.ISC_REQ_CONFIDENTIALITY
)

var handshakeTests = []struct {
	name         string
	ccfg, scfg   func(c *Config)
	cred         any
	creq, sreq   uint32
	cExtra       []secbuffer.Buffer
	sExtra       []secbuffer.Buffer
	wantErr      status.Status // 0: success
	wantName     string
	wantCRet     uint32
	wantSRet     uint32
	wantKeyExch  bool
	wantESS      bool
	checkSession bool
}{
	{name: "v2 default", wantName: `EXAMPLE\alice`, wantCRet: packages.ISC_RET_CONNECTION, wantSRet: packages.ASC_RET_CONNECTION, wantKeyExch: true, wantESS: true},
	{name: "v2 sign", creq: reqSign, wantName: `EXAMPLE\alice`,
		wantCRet:    packages.ISC_RET_CONNECTION | packages.ISC_RET_INTEGRITY | packages.ISC_RET_REPLAY_DETECT | packages.ISC_RET_SEQUENCE_DETECT,
		wantSRet:    packages.ASC_RET_CONNECTION | packages.ASC_RET_INTEGRITY | packages.ASC_RET_REPLAY_DETECT | packages.ASC_RET_SEQUENCE_DETECT,
		wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "v2 seal", creq: reqSeal, wantName: `EXAMPLE\alice`,
		wantCRet:    packages.ISC_RET_CONNECTION | packages.ISC_RET_INTEGRITY | packages.ISC_RET_REPLAY_DETECT | packages.ISC_RET_SEQUENCE_DETECT | packages.ISC_RET_CONFIDENTIALITY,
		wantSRet:    packages.ASC_RET_CONNECTION | packages.ASC_RET_INTEGRITY | packages.ASC_RET_REPLAY_DETECT | packages.ASC_RET_SEQUENCE_DETECT | packages.ASC_RET_CONFIDENTIALITY,
		wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "v2 seal allocate", creq: reqSeal | packages.ISC_REQ_ALLOCATE_MEMORY, sreq: packages.ASC_REQ_ALLOCATE_MEMORY, wantName: `EXAMPLE\alice`,
		wantCRet:    packages.ISC_RET_CONNECTION | packages.ISC_RET_INTEGRITY | packages.ISC_RET_REPLAY_DETECT | packages.ISC_RET_SEQUENCE_DETECT | packages.ISC_RET_CONFIDENTIALITY | packages.ISC_RET_ALLOCATED_MEMORY,
		wantSRet:    packages.ASC_RET_CONNECTION | packages.ASC_RET_INTEGRITY | packages.ASC_RET_REPLAY_DETECT | packages.ASC_RET_SEQUENCE_DETECT | packages.ASC_RET_CONFIDENTIALITY | packages.ASC_RET_ALLOCATED_MEMORY,
		wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "v2 any-domain user", cred: &packages.AuthIdentity{User: "BOB", Domain: "WHATEVER", Password: "hunter2"}, creq: reqSeal,
		wantName: `WHATEVER\BOB`, wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "nt hash credential", cred: &NTHash{User: "alice", Domain: "example", Hash: ntowfv1("Secret1!")}, creq: reqSeal,
		wantName: `example\alice`, wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "bindings match", creq: reqSeal, cExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")},
		sExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")}, wantName: `EXAMPLE\alice`, wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "bindings mismatch", creq: reqSeal, cExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")},
		sExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:xyz")}, wantErr: status.SEC_E_BAD_BINDINGS},
	{name: "bindings client only", creq: reqSeal, cExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")},
		wantName: `EXAMPLE\alice`, wantKeyExch: true, wantESS: true},
	{name: "bindings server only", creq: reqSeal, sExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")},
		wantName: `EXAMPLE\alice`, wantKeyExch: true, wantESS: true},
	{name: "bindings required absent", scfg: func(c *Config) { c.RequireChannelBindings = true },
		sExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")}, wantErr: status.SEC_E_BAD_BINDINGS},
	{name: "bindings required by ASC_REQ_PROXY_BINDINGS", sreq: packages.ASC_REQ_PROXY_BINDINGS,
		sExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")}, wantErr: status.SEC_E_BAD_BINDINGS},
	{name: "bindings required present", scfg: func(c *Config) { c.RequireChannelBindings = true },
		cExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")},
		sExtra: []secbuffer.Buffer{cbBuffer("tls-server-end-point:abc")}, wantName: `EXAMPLE\alice`, wantKeyExch: true, wantESS: true},
	{name: "anonymous", cred: &packages.AuthIdentity{}, creq: reqSeal, sreq: packages.ASC_REQ_ALLOW_NULL_SESSION,
		wantName: anonymousName, wantKeyExch: true, wantESS: true, checkSession: true,
		wantCRet: packages.ISC_RET_CONNECTION | packages.ISC_RET_INTEGRITY | packages.ISC_RET_REPLAY_DETECT | packages.ISC_RET_SEQUENCE_DETECT | packages.ISC_RET_CONFIDENTIALITY | packages.ISC_RET_NULL_SESSION,
		wantSRet: packages.ASC_RET_CONNECTION | packages.ASC_RET_INTEGRITY | packages.ASC_RET_REPLAY_DETECT | packages.ASC_RET_SEQUENCE_DETECT | packages.ASC_RET_CONFIDENTIALITY | packages.ASC_RET_NULL_SESSION},
	{name: "anonymous by ISC_REQ_NULL_SESSION", creq: reqSign | packages.ISC_REQ_NULL_SESSION, sreq: packages.ASC_REQ_ALLOW_NULL_SESSION,
		wantName: anonymousName, wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "anonymous refused", cred: &packages.AuthIdentity{}, wantErr: status.SEC_E_LOGON_DENIED},
	{name: "wrong password", cred: &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "wrong"}, wantErr: status.SEC_E_LOGON_DENIED},
	{name: "unknown user", cred: &packages.AuthIdentity{User: "mallory", Domain: "EXAMPLE", Password: "x"}, wantErr: status.SEC_E_LOGON_DENIED},
	{name: "wrong domain", cred: &packages.AuthIdentity{User: "alice", Domain: "OTHER", Password: "Secret1!"}, wantErr: status.SEC_E_LOGON_DENIED},
	{name: "v1 refused by default", ccfg: func(c *Config) { c.LMCompatibility = AllowNTLMv1 }, creq: reqSeal, wantErr: status.SEC_E_LOGON_DENIED},
	{name: "v1 ESS allowed", ccfg: func(c *Config) { c.LMCompatibility = AllowNTLMv1 }, scfg: func(c *Config) { c.LMCompatibility = AllowNTLMv1 },
		creq: reqSeal, wantName: `EXAMPLE\alice`, wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "v2 no key exch", ccfg: func(c *Config) { c.DisableKeyExchange = true }, creq: reqSeal,
		wantName: `EXAMPLE\alice`, wantESS: true, checkSession: true},
	{name: "v2 key exch refused by server", scfg: func(c *Config) { c.DisableKeyExchange = true }, creq: reqSign,
		wantName: `EXAMPLE\alice`, wantESS: true, checkSession: true},
	{name: "v1 ESS no key exch", ccfg: func(c *Config) { c.LMCompatibility = AllowNTLMv1; c.DisableKeyExchange = true }, scfg: func(c *Config) { c.LMCompatibility = AllowNTLMv1 },
		creq: reqSeal, wantName: `EXAMPLE\alice`, wantESS: true, checkSession: true},
	{name: "v1 LM allowed", ccfg: func(c *Config) { c.LMCompatibility = AllowLM }, scfg: func(c *Config) { c.LMCompatibility = AllowLM },
		creq: reqSeal, wantName: `EXAMPLE\alice`, wantKeyExch: true, wantESS: true, checkSession: true},
	{name: "v1 wrong password", ccfg: func(c *Config) { c.LMCompatibility = AllowNTLMv1 }, scfg: func(c *Config) { c.LMCompatibility = AllowNTLMv1 },
		cred: &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "nope"}, wantErr: status.SEC_E_LOGON_DENIED},
}

func TestHandshake(t *testing.T) {
	for _, tt := range handshakeTests {
		t.Run(tt.name, func(t *testing.T) {
			ccfg, scfg := testConfig(), testConfig()
			if tt.ccfg != nil {
				tt.ccfg(ccfg)
			}
			if tt.scfg != nil {
				tt.scfg(scfg)
			}
			p := newPair(t, ccfg, scfg, tt.cred, "HTTP/web.example.com", tt.creq, tt.sreq)
			legs, err := testkit.Handshake(context.Background(), p.client, p.server, tt.cExtra, tt.sExtra)
			if tt.wantErr != 0 {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				// Failure is sticky.
				out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
				in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: legs[len(legs)-2].Token}}
				if _, err2 := p.server.Step(context.Background(), in, out); !errors.Is(err2, tt.wantErr) {
					t.Errorf("second call: %v, want the same failure", err2)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(legs) != 4 {
				t.Fatalf("%d legs, want 4", len(legs))
			}
			wantSt := []status.Status{status.SEC_I_CONTINUE_NEEDED, status.SEC_I_CONTINUE_NEEDED, status.SEC_E_OK, status.SEC_E_OK}
			for i, l := range legs {
				if l.Status != wantSt[i] {
					t.Errorf("leg %d status %v, want %v", i, l.Status, wantSt[i])
				}
			}
			if len(legs[0].Token) < negotiateLen || len(legs[3].Token) != 0 {
				t.Errorf("NEGOTIATE %d bytes, final server token %d bytes", len(legs[0].Token), len(legs[3].Token))
			}
			for _, c := range []packages.Context{p.client, p.server} {
				n, err := c.QueryAttribute(packages.SECPKG_ATTR_NAMES)
				if err != nil || n.(*packages.Names).UserName != tt.wantName {
					t.Errorf("NAMES = %v, %v; want %q", n, err, tt.wantName)
				}
			}
			if tt.wantCRet != 0 && p.client.Flags() != tt.wantCRet {
				t.Errorf("client flags %#x, want %#x", p.client.Flags(), tt.wantCRet)
			}
			if tt.wantSRet != 0 && p.server.Flags() != tt.wantSRet {
				t.Errorf("server flags %#x, want %#x", p.server.Flags(), tt.wantSRet)
			}
			ck := sessionKey(t, p.client)
			sk := sessionKey(t, p.server)
			if !bytes.Equal(ck, sk) || len(ck) != 16 {
				t.Errorf("session keys differ: %x %x", ck, sk)
			}
			cs, err := p.client.Session().(*ntlmSession).keys()
			if err != nil {
				t.Fatal(err)
			}
			if cs.keyExch != tt.wantKeyExch || cs.ess != tt.wantESS {
				t.Errorf("keyExch %v ess %v, want %v %v", cs.keyExch, cs.ess, tt.wantKeyExch, tt.wantESS)
			}
			if tt.checkSession {
				exchangeMessages(t, p.client, p.server)
			}
		})
	}
}

func sessionKey(t *testing.T, c packages.Context) []byte {
	t.Helper()
	v, err := c.QueryAttribute(packages.SECPKG_ATTR_SESSION_KEY)
	if err != nil {
		t.Fatal(err)
	}
	return v.(*packages.SecPkgContext_SessionKey).SessionKey
}

// exchangeMessages signs, seals and verifies in both directions.
func exchangeMessages(t *testing.T, client, server packages.Context) {
	t.Helper()
	sealing := client.Flags()&packages.ISC_RET_CONFIDENTIALITY != 0
	for i := 0; i < 3; i++ {
		for _, dir := range []struct {
			name     string
			from, to packages.Context
		}{{"c2s", client, server}, {"s2c", server, client}} {
			plain := []byte("message " + dir.name + string(rune('0'+i)))
			msg := []secbuffer.Buffer{
				{Type: secbuffer.SECBUFFER_DATA, Data: bytes.Clone(plain)},
				{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)},
			}
			if err := dir.from.Session().MakeSignature(0, msg, 0); err != nil {
				t.Fatalf("%s MakeSignature: %v", dir.name, err)
			}
			if _, err := dir.to.Session().VerifySignature(msg, 0); err != nil {
				t.Fatalf("%s VerifySignature: %v", dir.name, err)
			}
			if !sealing {
				continue
			}
			msg = []secbuffer.Buffer{
				{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)},
				{Type: secbuffer.SECBUFFER_DATA, Data: bytes.Clone(plain)},
			}
			if _, err := dir.from.Session().EncryptMessage(0, msg, 0); err != nil {
				t.Fatalf("%s EncryptMessage: %v", dir.name, err)
			}
			if bytes.Equal(msg[1].Data, plain) {
				t.Fatalf("%s: data not encrypted", dir.name)
			}
			qop, _, err := dir.to.Session().DecryptMessage(msg, 0)
			if err != nil || qop != 0 {
				t.Fatalf("%s DecryptMessage: qop %#x, %v", dir.name, qop, err)
			}
			if !bytes.Equal(msg[1].Data, plain) {
				t.Fatalf("%s: got %q, want %q", dir.name, msg[1].Data, plain)
			}
		}
	}
}
