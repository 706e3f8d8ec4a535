package kerberos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

const testRealm = "TEST.GOSSPI"

// memRealm builds, without a KDC, a service keytab and a client
// credential holding a ticket for HTTP/localhost minted with that keytab.
type memRealm struct {
	p      *Package
	kt     *keytab.Keytab
	client *credentials
	server *credentials
}

func newMemRealm(t testing.TB, etype int32, cfg *Config) *memRealm {
	t.Helper()
	conf := config.New()
	conf.LibDefaults.DefaultRealm = testRealm
	if cfg == nil {
		cfg = &Config{}
	}
	c := *cfg
	c.Krb5Conf = conf
	p := New(&c)
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/localhost", testRealm, "service-password", time.Unix(0, 0), 2, etype); err != nil {
		t.Fatal(err)
	}
	m := &memRealm{p: p, kt: kt}
	m.client = &credentials{p: p, conf: conf, use: packages.SECPKG_CRED_OUTBOUND,
		cname: types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"), crealm: testRealm}
	m.addTicket(t, "HTTP/localhost", etype, c.now(), 10*time.Hour)
	m.server = &credentials{p: p, conf: conf, use: packages.SECPKG_CRED_INBOUND, serviceKT: kt}
	return m
}

// addTicket mints a ticket for service, valid from start for life.
func (m *memRealm) addTicket(t testing.TB, service string, etype int32, start time.Time, life time.Duration) {
	t.Helper()
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, service)
	f := types.NewKrbFlags()
	types.SetFlag(&f, flags.Forwardable)
	tkt, key, err := messages.NewTicket(m.client.cname, testRealm, sname, testRealm, f, m.kt, etype, 2, start, start, start.Add(life), start.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if m.client.tickets == nil {
		m.client.tickets = map[string]*ticket{}
	}
	m.client.tickets[ticketKey(sname, testRealm)] = &ticket{ticket: tkt, key: key, cname: m.client.cname, crealm: testRealm,
		flags: flagsWord(f.Bytes), authTime: start, startTime: start, endTime: start.Add(life)}
}

func cbBuffer(app string) secbuffer.Buffer {
	cb := secbuffer.ChannelBindings{ApplicationData: []byte(app)}
	return secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: cb.Marshal()}
}

func (m *memRealm) contexts(t testing.TB, req uint32) (packages.Context, packages.Context) {
	t.Helper()
	cc, err := m.client.NewClientContext("HTTP/localhost", req)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := m.server.NewServerContext(0)
	if err != nil {
		t.Fatal(err)
	}
	return cc, sc
}

var loopbackTests = []struct {
	name     string
	etype    int32
	req      uint32
	cliCB    string
	srvCB    string
	wantLegs int
}{
	{"aes256-mutual", 18, packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT, "", "", 3},
	{"aes128-mutual", 17, packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_REPLAY_DETECT, "", "", 3},
	{"aes128-sha256", 19, packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT, "", "", 3},
	{"rc4-mutual", 23, packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT, "", "", 3},
	{"rc4-nomutual", 23, packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT, "", "", 2},
	{"aes256-dce", 18, packages.ISC_REQ_USE_DCE_STYLE | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT, "", "", 4},
	{"rc4-dce", 23, packages.ISC_REQ_USE_DCE_STYLE | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT, "", "", 4},
	{"aes256-nomutual", 18, packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_SEQUENCE_DETECT, "", "", 2},
	{"aes256-bindings", 18, packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_REPLAY_DETECT, "tls-server-end-point:abc", "tls-server-end-point:abc", 3},
	{"aes256-client-no-bindings", 18, packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_INTEGRITY | packages.ISC_REQ_SEQUENCE_DETECT, "", "tls-server-end-point:abc", 3},
}

func handshake(t testing.TB, cc, sc packages.Context, cliCB, srvCB string) ([]testkit.Leg, error) {
	t.Helper()
	var ce, se []secbuffer.Buffer
	if cliCB != "" {
		ce = append(ce, cbBuffer(cliCB))
	}
	if srvCB != "" {
		se = append(se, cbBuffer(srvCB))
	}
	return testkit.Handshake(context.Background(), cc, sc, ce, se)
}

func TestLoopback(t *testing.T) {
	for _, tt := range loopbackTests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemRealm(t, tt.etype, nil)
			cc, sc := m.contexts(t, tt.req)
			legs, err := handshake(t, cc, sc, tt.cliCB, tt.srvCB)
			if err != nil {
				t.Fatal(err)
			}
			if len(legs) != tt.wantLegs {
				t.Fatalf("%d legs, want %d", len(legs), tt.wantLegs)
			}
			if tt.wantLegs >= 3 && legs[0].Status != status.SEC_I_CONTINUE_NEEDED {
				t.Errorf("ISC #1 = %v, want SEC_I_CONTINUE_NEEDED", legs[0].Status)
			}
			if tt.req&packages.ISC_REQ_USE_DCE_STYLE != 0 {
				// Raw AP-REQ, AP-REP, AP-REP (MS-KILE 3.4.5.1).
				if legs[0].Token[0] != 0x6e || legs[1].Token[0] != 0x6f || legs[1].Status != status.SEC_I_CONTINUE_NEEDED || legs[2].Token[0] != 0x6f || legs[2].Status != status.SEC_E_OK {
					t.Errorf("DCE legs: %x %v / %x %v / %x %v", legs[0].Token[0], legs[0].Status, legs[1].Token[0], legs[1].Status, legs[2].Token[0], legs[2].Status)
				}
				if cc.Flags()&packages.ISC_RET_USED_DCE_STYLE == 0 || sc.Flags()&packages.ASC_RET_USED_DCE_STYLE == 0 {
					t.Errorf("flags %#x / %#x lack USED_DCE_STYLE", cc.Flags(), sc.Flags())
				}
			} else if !bytes.HasPrefix(legs[0].Token, []byte{0x60}) || !bytes.Contains(legs[0].Token[:20], append(oidKrb5, 1, 0)) {
				t.Errorf("AP-REQ token not framed: % x", legs[0].Token[:16])
			}
			if tt.req&packages.ISC_REQ_MUTUAL_AUTH != 0 && cc.Flags()&packages.ISC_RET_MUTUAL_AUTH == 0 {
				t.Errorf("client flags %#x lack ISC_RET_MUTUAL_AUTH", cc.Flags())
			}
			if tt.req&packages.ISC_REQ_CONFIDENTIALITY != 0 && sc.Flags()&packages.ASC_RET_CONFIDENTIALITY == 0 {
				t.Errorf("server flags %#x lack ASC_RET_CONFIDENTIALITY", sc.Flags())
			}
			names, err := sc.QueryAttribute(packages.SECPKG_ATTR_NAMES)
			if err != nil || names.(*packages.Names).UserName != "alice@"+testRealm {
				t.Errorf("server NAMES = %v, %v", names, err)
			}
			nn, _ := sc.QueryAttribute(packages.SECPKG_ATTR_NATIVE_NAMES)
			if n := nn.(*packages.NativeNames); n.ServerName != "HTTP/localhost@"+testRealm {
				t.Errorf("NATIVE_NAMES = %+v", n)
			}
			ck, _ := cc.QueryAttribute(packages.SECPKG_ATTR_SESSION_KEY)
			sk, _ := sc.QueryAttribute(packages.SECPKG_ATTR_SESSION_KEY)
			if !bytes.Equal(ck.(*packages.SecPkgContext_SessionKey).SessionKey, sk.(*packages.SecPkgContext_SessionKey).SessionKey) {
				t.Error("client and server session keys differ")
			}
			if got, want := sc.(*serverContext).cbtSignalled, tt.cliCB != ""; got != want {
				t.Errorf("KERB_AP_OPTIONS_CBT seen %v, want %v", got, want)
			}
			exchangeMessages(t, cc, sc)
			exchangeMessages(t, sc, cc)
		})
	}
}

// exchangeMessages checks MIC and both Wrap layouts from a to b, and that
// tampering and reordering are caught.
func exchangeMessages(t *testing.T, a, b msgContext) {
	t.Helper()
	sizes := a.Session().Sizes()
	msg := []byte("hello, kerberos world: a message longer than one block")

	// MIC
	sig := make([]byte, 0, sizes.MaxSignature)
	bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: msg}, {Type: secbuffer.SECBUFFER_TOKEN, Data: sig}}
	if err := a.Session().MakeSignature(0, bufs, 0); err != nil {
		t.Fatal(err)
	}
	if len(bufs[1].Data) != int(sizes.MaxSignature) {
		t.Errorf("signature is %d bytes, want %d", len(bufs[1].Data), sizes.MaxSignature)
	}
	if _, err := b.Session().VerifySignature(bufs, 0); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	bad := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: []byte("hellO")}, bufs[1]}
	if _, err := b.Session().VerifySignature(bad, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
		t.Errorf("tampered MIC: %v, want SEC_E_MESSAGE_ALTERED", err)
	}

	// Wrap, Windows layout.
	for _, qop := range []uint32{0, packages.SECQOP_WRAP_NO_ENCRYPT} {
		data := bytes.Clone(msg)
		w := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.SecurityTrailer)},
			{Type: secbuffer.SECBUFFER_DATA, Data: data},
			{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, sizes.BlockSize)},
		}
		if _, err := a.Session().EncryptMessage(qop, w, 0); err != nil {
			t.Fatalf("EncryptMessage(qop %#x): %v", qop, err)
		}
		if qop == 0 && bytes.Equal(data, msg) {
			t.Fatal("data not encrypted in place")
		}
		if qop != 0 && !bytes.Equal(data, msg) {
			t.Fatal("integrity-only wrap changed the data")
		}
		wire := append(append(bytes.Clone(w[0].Data), data...), w[2].Data...)
		r := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: bytes.Clone(w[0].Data)}, {Type: secbuffer.SECBUFFER_DATA, Data: bytes.Clone(data)}, {Type: secbuffer.SECBUFFER_PADDING, Data: bytes.Clone(w[2].Data)}}
		gotQOP, _, err := b.Session().DecryptMessage(r, 0)
		if err != nil {
			t.Fatalf("DecryptMessage(qop %#x): %v", qop, err)
		}
		if gotQOP != qop || !bytes.Equal(r[1].Data, msg) {
			t.Fatalf("DecryptMessage = %q qop %#x", r[1].Data, gotQOP)
		}
		// The same token as one stream (what gss_unwrap reads), replayed:
		// out of sequence.
		s := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: bytes.Clone(wire)}, {Type: secbuffer.SECBUFFER_DATA}}
		if _, _, err := b.Session().DecryptMessage(s, 0); !errors.Is(err, status.SEC_E_OUT_OF_SEQUENCE) {
			t.Errorf("replayed wrap: %v, want SEC_E_OUT_OF_SEQUENCE", err)
		}
	}
	// Stream form, and a tampered token.
	data := bytes.Clone(msg)
	w := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.SecurityTrailer)}, {Type: secbuffer.SECBUFFER_DATA, Data: data}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 1)}}
	if _, err := a.Session().EncryptMessage(0, w, 0); err != nil {
		t.Fatal(err)
	}
	wire := append(append(bytes.Clone(w[0].Data), data...), w[2].Data...)
	tampered := bytes.Clone(wire)
	tampered[len(tampered)-1] ^= 1
	s := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: tampered}, {Type: secbuffer.SECBUFFER_DATA}}
	if _, _, err := b.Session().DecryptMessage(s, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
		t.Errorf("tampered wrap: %v, want SEC_E_MESSAGE_ALTERED", err)
	}
	s = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: bytes.Clone(wire)}, {Type: secbuffer.SECBUFFER_DATA}}
	if _, _, err := b.Session().DecryptMessage(s, 0); err != nil {
		t.Fatalf("stream DecryptMessage: %v", err)
	}
	if !bytes.Equal(s[1].Data, msg) {
		t.Fatalf("stream plaintext = %q", s[1].Data)
	}
	// Reordered: the next two tokens delivered second first.
	var toks [2][]byte
	for i := range toks {
		d := bytes.Clone(msg)
		w := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.SecurityTrailer)}, {Type: secbuffer.SECBUFFER_DATA, Data: d}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 1)}}
		if _, err := a.Session().EncryptMessage(0, w, 0); err != nil {
			t.Fatal(err)
		}
		toks[i] = append(append(bytes.Clone(w[0].Data), d...), w[2].Data...)
	}
	s = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: toks[1]}, {Type: secbuffer.SECBUFFER_DATA}}
	if _, _, err := b.Session().DecryptMessage(s, 0); !errors.Is(err, status.SEC_E_OUT_OF_SEQUENCE) {
		t.Errorf("reordered wrap: %v, want SEC_E_OUT_OF_SEQUENCE", err)
	}
	s = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: toks[0]}, {Type: secbuffer.SECBUFFER_DATA}}
	if _, _, err := b.Session().DecryptMessage(s, 0); err != nil {
		t.Errorf("in-order wrap after a rejected one: %v", err)
	}
}

// msgContext is a context that hands over its session.
type msgContext interface {
	Session() packages.Session
}

// sessionPair returns an initiator and an acceptor sharing key, without a
// handshake (gokrb5 cannot mint etype 20 tickets).
func sessionPair(t testing.TB, etype int32, key []byte, acceptorSubkey bool) (*baseContext, *baseContext) {
	t.Helper()
	p := New(nil)
	k := types.EncryptionKey{KeyType: etype, KeyValue: key}
	is, err := newSession(k, true, acceptorSubkey, 7, 1000, true, p.config.rand())
	if err != nil {
		t.Fatal(err)
	}
	as, err := newSession(k, false, acceptorSubkey, 1000, 7, true, p.config.rand())
	if err != nil {
		t.Fatal(err)
	}
	return &baseContext{p: p, state: stateDone, sess: is}, &baseContext{p: p, state: stateDone, sess: as}
}

func TestSessionEnctypes(t *testing.T) {
	for _, etype := range []int32{17, 18, 19, 20, 23} {
		t.Run(fmt.Sprint(etype), func(t *testing.T) {
			key, err := randomKey(New(nil).config.rand(), etype)
			if err != nil {
				t.Fatal(err)
			}
			a, b := sessionPair(t, etype, key.KeyValue, true)
			exchangeMessages(t, a, b)
			exchangeMessages(t, b, a)
		})
	}
}

func TestHandshakeFailures(t *testing.T) {
	mutual := uint32(packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY)
	t.Run("mismatched-bindings", func(t *testing.T) {
		m := newMemRealm(t, 18, nil)
		cc, sc := m.contexts(t, mutual)
		_, err := handshake(t, cc, sc, "tls-server-end-point:one", "tls-server-end-point:two")
		if !errors.Is(err, status.SEC_E_BAD_BINDINGS) {
			t.Fatalf("err = %v, want SEC_E_BAD_BINDINGS", err)
		}
	})
	t.Run("required-bindings-missing", func(t *testing.T) {
		m := newMemRealm(t, 18, &Config{RequireChannelBindings: true})
		cc, sc := m.contexts(t, mutual)
		_, err := handshake(t, cc, sc, "", "tls-server-end-point:two")
		if !errors.Is(err, status.SEC_E_BAD_BINDINGS) {
			t.Fatalf("err = %v, want SEC_E_BAD_BINDINGS", err)
		}
	})
	t.Run("replayed-ap-req", func(t *testing.T) {
		m := newMemRealm(t, 18, nil)
		cc, sc := m.contexts(t, mutual)
		legs, err := handshake(t, cc, sc, "", "")
		if err != nil {
			t.Fatal(err)
		}
		sc2, _ := m.server.NewServerContext(0)
		_, err = sc2.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: legs[0].Token}}, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}})
		if !errors.Is(err, status.SEC_E_LOGON_DENIED) {
			t.Fatalf("replay: err = %v, want SEC_E_LOGON_DENIED", err)
		}
	})
	t.Run("tampered-ap-req", func(t *testing.T) {
		m := newMemRealm(t, 18, nil)
		cc, _ := m.contexts(t, mutual)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		if _, err := cc.Step(context.Background(), nil, out); err != nil {
			t.Fatal(err)
		}
		tok := out[0].Data
		for _, off := range []int{len(tok) - 5, len(tok) / 2, len(tok) - 60} {
			bad := bytes.Clone(tok)
			bad[off] ^= 0x40
			sc, _ := m.server.NewServerContext(0)
			st, err := sc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: bad}}, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}})
			if err == nil || (st != status.SEC_E_LOGON_DENIED && st != status.SEC_E_INVALID_TOKEN) {
				t.Errorf("byte %d flipped: %v, %v", off, st, err)
			}
		}
	})
	t.Run("wrong-service-key", func(t *testing.T) {
		m := newMemRealm(t, 18, nil)
		other := keytab.New()
		if err := other.AddEntry("HTTP/localhost", testRealm, "another-password", time.Unix(0, 0), 2, 18); err != nil {
			t.Fatal(err)
		}
		m.server.serviceKT = other
		cc, sc := m.contexts(t, mutual)
		if _, err := handshake(t, cc, sc, "", ""); !errors.Is(err, status.SEC_E_LOGON_DENIED) {
			t.Fatalf("err = %v, want SEC_E_LOGON_DENIED", err)
		}
	})
	t.Run("clock-skew", func(t *testing.T) {
		m := newMemRealm(t, 18, nil)
		cc, _ := m.contexts(t, mutual)
		skewed := New(&Config{Krb5Conf: m.p.config.Krb5Conf, Time: func() time.Time { return time.Now().Add(10 * time.Minute) }})
		srv := &credentials{p: skewed, conf: m.server.conf, use: packages.SECPKG_CRED_INBOUND, serviceKT: m.kt}
		sc, _ := srv.NewServerContext(0)
		if _, err := handshake(t, cc, sc, "", ""); !errors.Is(err, status.SEC_E_TIME_SKEW) {
			t.Fatalf("err = %v, want SEC_E_TIME_SKEW", err)
		}
	})
	t.Run("expired-ticket", func(t *testing.T) {
		m := newMemRealm(t, 18, nil)
		m.addTicket(t, "HTTP/localhost", 18, time.Now().Add(-11*time.Hour), 10*time.Hour)
		// The client refuses to send an expired ticket...
		cc, sc := m.contexts(t, mutual)
		if _, err := handshake(t, cc, sc, "", ""); err == nil {
			t.Fatal("expired ticket accepted by the client")
		}
		// ... and a server does not take one a skewed client sent.
		m.p.config.Time = func() time.Time { return time.Now().Add(-3 * time.Hour) }
		cc, _ = m.contexts(t, mutual)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		if _, err := cc.Step(context.Background(), nil, out); err != nil {
			t.Fatal(err)
		}
		m.p.config.Time = nil
		sc, _ = m.server.NewServerContext(0)
		_, err := sc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out[0].Data}}, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}})
		if !errors.Is(err, status.SEC_E_CONTEXT_EXPIRED) && !errors.Is(err, status.SEC_E_TIME_SKEW) {
			t.Fatalf("err = %v, want SEC_E_CONTEXT_EXPIRED", err)
		}
	})
	t.Run("forged-ap-rep", func(t *testing.T) {
		m := newMemRealm(t, 18, nil)
		cc, _ := m.contexts(t, mutual)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		if _, err := cc.Step(context.Background(), nil, out); err != nil {
			t.Fatal(err)
		}
		// An AP-REP from another context (another session key) is forged
		// for this one.
		m2 := newMemRealm(t, 18, nil)
		cc2, sc2 := m2.contexts(t, mutual)
		legs, err := handshake(t, cc2, sc2, "", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = cc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: legs[1].Token}}, nil)
		if !errors.Is(err, status.SEC_E_MUTUAL_AUTH_FAILED) {
			t.Fatalf("forged AP-REP: %v, want SEC_E_MUTUAL_AUTH_FAILED", err)
		}
		if cc.Session() != nil {
			t.Fatal("context established after a forged AP-REP")
		}
		if _, err2 := cc.Step(context.Background(), nil, nil); !errors.Is(err2, status.SEC_E_MUTUAL_AUTH_FAILED) {
			t.Errorf("failure not sticky: %v", err2)
		}
	})
}

func TestMain(m *testing.M) {
	code := peers.RunTests(m)
	if code != 0 {
		fmt.Println("kerberos tests failed")
	}
	os.Exit(code)
}

func TestExtendedErrorToken(t *testing.T) {
	m := newMemRealm(t, 18, &Config{RequireChannelBindings: true})
	cc, _ := m.contexts(t, packages.ISC_REQ_MUTUAL_AUTH)
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	if _, err := cc.Step(context.Background(), nil, out); err != nil {
		t.Fatal(err)
	}
	sc, _ := m.server.NewServerContext(packages.ASC_REQ_EXTENDED_ERROR)
	sout := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out[0].Data}, cbBuffer("tls-server-end-point:x")}
	if _, err := sc.Step(context.Background(), in, sout); !errors.Is(err, status.SEC_E_BAD_BINDINGS) {
		t.Fatalf("ASC: %v", err)
	}
	id, _, err := parseFraming(sout[0].Data)
	if err != nil || id != tokKRBError {
		t.Fatalf("no framed KRB-ERROR token: %v %#x", err, id)
	}
	// The client maps the KRB-ERROR (KRB_AP_ERR_BADADDR) to a failure and
	// keeps the KRB-ERROR reachable.
	_, err = cc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: sout[0].Data}}, nil)
	var ke messages.KRBError
	if err == nil || !errors.As(err, &ke) || ke.ErrorCode != 38 {
		t.Fatalf("client: %v (code %d)", err, ke.ErrorCode)
	}
	if status.Code(err).Succeeded() {
		t.Fatalf("client status %v", status.Code(err))
	}
}

func TestAttributes(t *testing.T) {
	m := newMemRealm(t, 18, nil)
	cc, sc := m.contexts(t, packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_ALLOCATE_MEMORY)
	if _, err := cc.QueryAttribute(packages.SECPKG_ATTR_SIZES); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("SIZES before the handshake: %v", err)
	}
	if cc.Session() != nil {
		t.Error("a session before the handshake")
	}
	if _, err := handshake(t, cc, sc, "", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []packages.Context{cc, sc} {
		sz, err := c.QueryAttribute(packages.SECPKG_ATTR_SIZES)
		if err != nil {
			t.Fatal(err)
		}
		want := packages.SecPkgContext_Sizes{MaxToken: 48000, MaxSignature: 28, BlockSize: 1, SecurityTrailer: 76}
		if *sz.(*packages.SecPkgContext_Sizes) != want {
			t.Errorf("sizes %+v, want %+v", sz, want)
		}
		ls, _ := c.QueryAttribute(packages.SECPKG_ATTR_LIFESPAN)
		if l := ls.(*packages.SecPkgContext_Lifespan); l.Expiry.Time().Sub(c.Expiry()).Abs() > time.Second || c.Expiry().Before(time.Now()) {
			t.Errorf("lifespan %v / expiry %v", l.Expiry.Time(), c.Expiry())
		}
	}
	if cc.Flags()&packages.ISC_RET_ALLOCATED_MEMORY == 0 {
		t.Errorf("client flags %#x lack ISC_RET_ALLOCATED_MEMORY", cc.Flags())
	}
	info := m.p.Info()
	if info.Name != "Kerberos" || info.Comment != "Microsoft Kerberos V1.0" || info.Capabilities != 0x008F3BBF || info.RPCID != 16 || info.MaxToken != 48000 || info.Version != 1 {
		t.Errorf("Info = %+v", info)
	}
	cs := cc.Session()
	cc.Delete()
	cc.Delete()
	if cc.Session() != nil {
		t.Error("a deleted context still hands over a session")
	}
	cs.Delete()
	cs.Delete()
	if err := cs.MakeSignature(0, nil, 0); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("MakeSignature after Delete: %v", err)
	}
}

func TestTargetNames(t *testing.T) {
	conf := config.New()
	conf.LibDefaults.DefaultRealm = "DEF.REALM"
	conf.DomainRealm[".example.com"] = "EXAMPLE.COM"
	conf.DomainRealm["host.other.org"] = "OTHER.ORG"
	tests := []struct {
		target, want, realm string
		ntype               int32
	}{
		{"HTTP/web.example.com", "HTTP/web.example.com", "EXAMPLE.COM", nametype.KRB_NT_SRV_INST},
		{"HTTP/web.example.com@X.Y", "HTTP/web.example.com", "X.Y", nametype.KRB_NT_SRV_INST},
		{"HTTP/host.other.org:8080", "HTTP/host.other.org:8080", "OTHER.ORG", nametype.KRB_NT_SRV_INST},
		{"host@web.example.com", "host/web.example.com", "EXAMPLE.COM", nametype.KRB_NT_SRV_HST},
		{"HTTP/unknown.net", "HTTP/unknown.net", "DEF.REALM", nametype.KRB_NT_SRV_INST},
		{"alice@DEF.REALM", "alice", "DEF.REALM", nametype.KRB_NT_PRINCIPAL},
		{"bob", "bob", "DEF.REALM", nametype.KRB_NT_PRINCIPAL},
	}
	for _, tt := range tests {
		pn, realm, err := parseTarget(conf, tt.target)
		if err != nil || pn.PrincipalNameString() != tt.want || realm != tt.realm || pn.NameType != tt.ntype {
			t.Errorf("%q: %v@%s (%d), %v; want %s@%s (%d)", tt.target, pn.PrincipalNameString(), realm, pn.NameType, err, tt.want, tt.realm, tt.ntype)
		}
	}
	for _, bad := range []string{"", "@X", "HTTP//host", "/host"} {
		if _, _, err := parseTarget(conf, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBufferTooSmall(t *testing.T) {
	m := newMemRealm(t, 18, nil)
	cc, sc := m.contexts(t, packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_SEQUENCE_DETECT)
	small := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 10)}}
	if st, err := cc.Step(context.Background(), nil, small); st != status.SEC_E_BUFFER_TOO_SMALL || err == nil {
		t.Fatalf("ISC with a small buffer: %v %v", st, err)
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	if st, err := cc.Step(context.Background(), nil, out); st != status.SEC_I_CONTINUE_NEEDED {
		t.Fatalf("ISC retry: %v %v", st, err)
	}
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out[0].Data}}
	small = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 10)}}
	if st, err := sc.Step(context.Background(), in, small); st != status.SEC_E_BUFFER_TOO_SMALL || err == nil {
		t.Fatalf("ASC with a small buffer: %v %v", st, err)
	}
	sout := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	if st, err := sc.Step(context.Background(), in, sout); st != status.SEC_E_OK {
		t.Fatalf("ASC retry: %v %v", st, err)
	}
	if st, err := cc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: sout[0].Data}}, nil); st != status.SEC_E_OK {
		t.Fatalf("ISC #2: %v %v", st, err)
	}
	exchangeMessages(t, cc, sc)
}

// TestConcurrentContexts runs handshakes and messages from one pair of
// credentials on many goroutines (run with -race).
func TestConcurrentContexts(t *testing.T) {
	m := newMemRealm(t, 18, nil)
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		go func() {
			cc, err := m.client.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY)
			if err != nil {
				errs <- err
				return
			}
			sc, _ := m.server.NewServerContext(0)
			if _, err := testkit.Handshake(context.Background(), cc, sc, nil, nil); err != nil {
				errs <- err
				return
			}
			// One sender and one receiver per direction at once. The
			// sessions are taken first: Session is a handshake call,
			// made by one goroutine.
			cs, ss := cc.Session(), sc.Session()
			done := make(chan error, 2)
			for _, pair := range [][2]packages.Session{{cs, ss}, {ss, cs}} {
				go func(a, b packages.Session) {
					for j := 0; j < 20; j++ {
						d := []byte("concurrent message")
						w := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 76)}, {Type: secbuffer.SECBUFFER_DATA, Data: d}}
						if _, err := a.EncryptMessage(0, w, 0); err != nil {
							done <- err
							return
						}
						if _, _, err := b.DecryptMessage(w, 0); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}(pair[0], pair[1])
			}
			if err := errors.Join(<-done, <-done); err != nil {
				errs <- err
				return
			}
			errs <- nil
		}()
	}
	for i := 0; i < 16; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
