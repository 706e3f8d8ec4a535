package digest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

var bg = context.Background()

// clock is a settable Config.Time.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// httpRequest is what the server side of a test sees of one request.
type httpRequest struct {
	method, url string
	body        []byte
}

// serverIn builds the ASC #2 buffers of packages.md 4.3, with the body as a
// hex hash in PKG_PARAMS (hashed with alg) or, when alg is nil, as a DATA
// buffer.
func serverIn(auth []byte, r httpRequest, alg *algorithm) []secbuffer.Buffer {
	he := ""
	bufs := []secbuffer.Buffer{tokenBuf(auth), paramBuf(r.method), paramBuf(r.url)}
	if alg != nil {
		he = newDigester(alg).entityHash(r.body)
		bufs = append(bufs, paramBuf(he), paramBuf(""))
	} else {
		bufs = append(bufs, paramBuf(""), paramBuf(""), secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: r.body})
	}
	return bufs
}

func step(t testing.TB, c packages.Context, in []secbuffer.Buffer, want status.Status) []byte {
	t.Helper()
	out := outBuf()
	st, err := c.Step(bg, in, out)
	if st != want {
		t.Fatalf("Step = %v, %v; want %v", st, err, want)
	}
	if want.Failed() != (err != nil) {
		t.Fatalf("Step status %v with error %v", st, err)
	}
	if err != nil && !errors.Is(err, want) {
		t.Fatalf("error %v does not match %v", err, want)
	}
	return out[0].Data
}

type httpCase struct {
	alg      string
	authInt  bool
	userhash bool
	user     string
}

func httpCases() []httpCase {
	var out []httpCase
	for _, a := range algorithms {
		for _, ai := range []bool{false, true} {
			out = append(out, httpCase{alg: a.name, authInt: ai, user: "Mufasa"})
		}
	}
	out = append(out,
		httpCase{alg: SHA256, userhash: true, user: "Mufasa"},
		httpCase{alg: SHA512_256Ses, userhash: true, authInt: true, user: "Jäsøn Doe"},
		httpCase{alg: MD5Sess, user: "Jäsøn Doe"}, // username*
	)
	return out
}

func (hc httpCase) name() string {
	n := hc.alg
	if hc.authInt {
		n += "/auth-int"
	} else {
		n += "/auth"
	}
	if hc.userhash {
		n += "/userhash"
	}
	if !isASCII(hc.user) {
		n += "/utf8"
	}
	return n
}

// TestHTTPLoopback runs our client against our server for every algorithm
// and qop: challenge, Authorization, Authentication-Info checked by the
// client, a second request with MakeSignature on the same nonce, a third
// checked by VerifySignature, then a replay.
func TestHTTPLoopback(t *testing.T) {
	for _, hc := range httpCases() {
		t.Run(hc.name(), func(t *testing.T) {
			const pass = "Circle of Life"
			sp := New(&Config{Realm: "test@example.org", Algorithms: []string{hc.alg}, UserHash: hc.userhash})
			store := Users{{Name: hc.user, Password: pass}}
			sreq := uint32(ASC_REQ_HTTP)
			creq := uint32(packages.ISC_REQ_USE_HTTP_STYLE | packages.ISC_REQ_MUTUAL_AUTH)
			if hc.authInt {
				sreq |= packages.ASC_REQ_INTEGRITY
				creq |= packages.ISC_REQ_INTEGRITY
			}
			r1 := httpRequest{"POST", "/dir/index.html?x=1", []byte("name=value")}
			s := newServer(t, sp, store, "", sreq)
			ch := step(t, s, nil, status.SEC_I_CONTINUE_NEEDED)
			if bytes.Contains(ch, []byte("userhash=true")) != hc.userhash {
				t.Errorf("challenge %q", ch)
			}

			c := newClient(t, New(nil), hc.user, pass, r1.url, creq)
			he := newDigester(lookupAlgorithm(hc.alg)).entityHash(r1.body)
			auth := step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf(r1.method), paramBuf(he)}, status.SEC_E_OK)
			a, err := parseHTTPAuthorization(string(auth))
			if err != nil {
				t.Fatal(err)
			}
			wantQop := qopAuth
			if hc.authInt {
				wantQop = qopAuthInt
			}
			if a.qop != wantQop || a.nc != "00000001" || a.algorithm != hc.alg || a.userhash != hc.userhash || a.extName != (!hc.userhash && !isASCII(hc.user)) {
				t.Errorf("Authorization %q", auth)
			}

			info := step(t, s, serverIn(auth, r1, lookupAlgorithm(hc.alg)), status.SEC_E_OK)
			if s.Session() == nil {
				t.Fatal("server not established")
			}
			names, err := s.QueryAttribute(packages.SECPKG_ATTR_NAMES)
			if err != nil || names.(*packages.Names).UserName != hc.user {
				t.Errorf("server names = %v, %v", names, err)
			}
			if len(step(t, c, []secbuffer.Buffer{tokenBuf(info)}, status.SEC_E_OK)) != 0 {
				t.Error("output after Authentication-Info")
			}
			if c.Flags()&packages.ISC_RET_MUTUAL_AUTH == 0 {
				t.Errorf("client flags %#x lack MUTUAL_AUTH", c.Flags())
			}

			// Request 2 on the same nonce: MakeSignature, body as DATA.
			r2 := httpRequest{"PUT", "/other", []byte("second body")}
			sig := []secbuffer.Buffer{tokenBuf(nil), paramBuf(r2.method), paramBuf(r2.url), paramBuf(""),
				{Type: secbuffer.SECBUFFER_DATA, Data: r2.body}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, maxToken)}}
			if err := c.Session().MakeSignature(0, sig, 0); err != nil {
				t.Fatal(err)
			}
			auth2 := sig[5].Data
			a2, err := parseHTTPAuthorization(string(auth2))
			if err != nil || a2.nc != "00000002" || a2.nonce != a.nonce || a2.uri != "/other" {
				t.Fatalf("second Authorization %q: %v", auth2, err)
			}
			s2 := newServer(t, sp, store, "", sreq)
			step(t, s2, serverIn(auth2, r2, nil), status.SEC_E_OK)

			// Request 3 checked by VerifySignature on the first context.
			r3 := httpRequest{"GET", "/third", nil}
			sig = []secbuffer.Buffer{tokenBuf(nil), paramBuf(r3.method), paramBuf(r3.url), paramBuf(newDigester(lookupAlgorithm(hc.alg)).entityHash(nil)),
				{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, maxToken)}}
			if err := c.Session().MakeSignature(0, sig, 0); err != nil {
				t.Fatal(err)
			}
			auth3 := sig[4].Data
			if _, err := s.Session().VerifySignature(serverIn(auth3, r3, lookupAlgorithm(hc.alg)), 0); err != nil {
				t.Fatalf("VerifySignature: %v", err)
			}
			// The same request again is a replay.
			_, err = s.Session().VerifySignature(serverIn(auth3, r3, lookupAlgorithm(hc.alg)), 0)
			if !errors.Is(err, status.SEC_E_OUT_OF_SEQUENCE) {
				t.Fatalf("replayed VerifySignature: %v", err)
			}
			s3 := newServer(t, sp, store, "", sreq)
			step(t, s3, serverIn(auth2, r2, nil), status.SEC_E_OUT_OF_SEQUENCE)
		})
	}
}

// TestHTTPHandshakeDriver runs the shared in-memory driver.
func TestHTTPHandshakeDriver(t *testing.T) {
	p := New(nil)
	c := newClient(t, p, "u", "p", "/x", packages.ISC_REQ_USE_HTTP_STYLE)
	s := newServer(t, p, Users{{Name: "u", Password: "p"}}, "", ASC_REQ_HTTP)
	legs, err := testkit.Handshake(bg, c, s,
		[]secbuffer.Buffer{paramBuf("GET"), paramBuf("")},
		[]secbuffer.Buffer{paramBuf("GET"), paramBuf("/x"), paramBuf(""), paramBuf("")})
	if err != nil {
		t.Fatal(err)
	}
	want := []status.Status{status.SEC_I_CONTINUE_NEEDED, status.SEC_I_CONTINUE_NEEDED, status.SEC_E_OK, status.SEC_E_OK}
	if len(legs) != len(want) {
		t.Fatalf("%d legs, want %d", len(legs), len(want))
	}
	for i, l := range legs {
		if l.Status != want[i] {
			t.Errorf("leg %d: %v, want %v", i, l.Status, want[i])
		}
	}
	if !bytes.HasPrefix(legs[3].Token, []byte("qop=auth, rspauth=")) {
		t.Errorf("Authentication-Info %q", legs[3].Token)
	}
}

func TestHTTPCompleteAuthToken(t *testing.T) {
	p := New(nil)
	body := []byte("entity")
	s := newServer(t, p, Users{{Name: "u", Password: "p"}}, "", ASC_REQ_HTTP|packages.ASC_REQ_INTEGRITY)
	ch := step(t, s, nil, status.SEC_I_CONTINUE_NEEDED)
	c := newClient(t, p, "u", "p", "/post", packages.ISC_REQ_USE_HTTP_STYLE|packages.ISC_REQ_INTEGRITY)
	pending := step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf("POST"), paramBuf("")}, status.SEC_I_COMPLETE_NEEDED)
	if c.Session() != nil || bytes.Contains(pending, []byte("response=")) {
		t.Fatalf("pending token %q, established %v", pending, c.Session() != nil)
	}
	if _, err := c.(packages.Completer).CompleteAuthToken(nil); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
		t.Fatalf("CompleteAuthToken without a token buffer: %v", err)
	}
	// The failure is sticky: start again.
	c = newClient(t, p, "u", "p", "/post", packages.ISC_REQ_USE_HTTP_STYLE|packages.ISC_REQ_INTEGRITY)
	pending = step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf("POST"), paramBuf("")}, status.SEC_I_COMPLETE_NEEDED)
	bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: append(make([]byte, 0, maxToken), pending...)},
		paramBuf("POST"), paramBuf("/post"), paramBuf(newDigester(lookupAlgorithm(MD5Sess)).entityHash(body))}
	st, err := c.(packages.Completer).CompleteAuthToken(bufs)
	if st != status.SEC_E_OK || err != nil || c.Session() == nil {
		t.Fatalf("CompleteAuthToken = %v, %v", st, err)
	}
	step(t, s, serverIn(bufs[0].Data, httpRequest{"POST", "/post", body}, nil), status.SEC_E_OK)
}

// TestHTTPNegative covers the server's refusals and the client's answers
// to them.
func TestHTTPNegative(t *testing.T) {
	const pass = "secret"
	store := Users{{Name: "alice", Password: pass}}
	clk := &clock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := &Config{Time: clk.now, NonceKey: []byte("0123456789abcdef0123456789abcdef"), Algorithms: []string{SHA256}}
	r := httpRequest{"POST", "/api", []byte(`{"a":1}`)}

	// authorize runs ASC #1 and ISC, returning the server, client and
	// Authorization.
	authorize := func(t *testing.T, p *Package, clientPass string, authInt bool) (packages.Context, packages.Context, []byte) {
		t.Helper()
		sreq, creq := uint32(ASC_REQ_HTTP), uint32(packages.ISC_REQ_USE_HTTP_STYLE)
		if authInt {
			sreq |= packages.ASC_REQ_INTEGRITY
			creq |= packages.ISC_REQ_INTEGRITY
		}
		s := newServer(t, p, store, "", sreq)
		ch := step(t, s, nil, status.SEC_I_CONTINUE_NEEDED)
		c := newClient(t, New(nil), "alice", clientPass, r.url, creq)
		auth := step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf(r.method), {Type: secbuffer.SECBUFFER_DATA, Data: r.body}}, status.SEC_E_OK)
		return s, c, auth
	}

	t.Run("wrong password", func(t *testing.T) {
		s, c, auth := authorize(t, New(cfg), "wrong", false)
		out := step(t, s, serverIn(auth, r, nil), status.SEC_E_LOGON_DENIED)
		if len(out) != 0 {
			t.Errorf("output %q", out)
		}
		// A new, non-stale challenge tells the client its password failed.
		s2 := newServer(t, New(cfg), store, "", ASC_REQ_HTTP)
		ch := step(t, s2, nil, status.SEC_I_CONTINUE_NEEDED)
		step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf("GET"), paramBuf("")}, status.SEC_E_LOGON_DENIED)
	})
	t.Run("unknown user", func(t *testing.T) {
		s := newServer(t, New(cfg), Users{{Name: "bob", Password: pass}}, "", ASC_REQ_HTTP)
		_, _, auth := authorize(t, New(cfg), pass, false)
		step(t, s, serverIn(auth, r, nil), status.SEC_E_LOGON_DENIED)
	})
	t.Run("replayed nc", func(t *testing.T) {
		p := New(cfg)
		s, _, auth := authorize(t, p, pass, false)
		step(t, s, serverIn(auth, r, nil), status.SEC_E_OK)
		s2 := newServer(t, p, store, "", ASC_REQ_HTTP)
		step(t, s2, serverIn(auth, r, nil), status.SEC_E_OUT_OF_SEQUENCE)
	})
	t.Run("stale nonce", func(t *testing.T) {
		clk := &clock{clk.t}
		cfg := *cfg
		cfg.Time = clk.now
		p := New(&cfg)
		s, c, auth := authorize(t, p, pass, false)
		clk.t = clk.t.Add(6 * time.Minute)
		stale := step(t, s, serverIn(auth, r, nil), status.SEC_E_CONTEXT_EXPIRED)
		if !bytes.Contains(stale, []byte("stale=true")) {
			t.Fatalf("no stale challenge: %q", stale)
		}
		// The stale challenge went back with the failing call only: a
		// next call with no token is an ordinary challenge.
		again := step(t, s, nil, status.SEC_I_CONTINUE_NEEDED)
		if bytes.Contains(again, []byte("stale=true")) {
			t.Fatalf("stale challenge repeated: %q", again)
		}
		// The client answers the stale challenge with the same
		// credentials, and both that context and a new one accept it.
		auth2 := step(t, c, []secbuffer.Buffer{tokenBuf(stale), paramBuf(r.method), {Type: secbuffer.SECBUFFER_DATA, Data: r.body}}, status.SEC_E_OK)
		step(t, s, serverIn(auth2, r, nil), status.SEC_E_OK)
		a2, _ := parseHTTPAuthorization(string(auth2))
		if a2.nc != "00000001" {
			t.Errorf("nc %s after a new nonce", a2.nc)
		}
		c2 := newClient(t, New(nil), "alice", pass, r.url, packages.ISC_REQ_USE_HTTP_STYLE)
		auth3 := step(t, c2, []secbuffer.Buffer{tokenBuf(again), paramBuf(r.method), paramBuf("")}, status.SEC_E_OK)
		s2 := newServer(t, p, store, "", ASC_REQ_HTTP)
		step(t, s2, serverIn(auth3, r, nil), status.SEC_E_OK)
	})
	t.Run("foreign nonce", func(t *testing.T) {
		other := New(&Config{Time: clk.now, NonceKey: []byte("another key, another server....."), Algorithms: []string{SHA256}})
		_, _, auth := authorize(t, other, pass, false)
		s := newServer(t, New(cfg), store, "", ASC_REQ_HTTP)
		out := step(t, s, serverIn(auth, r, nil), status.SEC_E_INVALID_TOKEN)
		if !bytes.Contains(out, []byte("stale=true")) {
			t.Errorf("no stale challenge: %q", out)
		}
	})
	t.Run("tampered opaque", func(t *testing.T) {
		p := New(cfg)
		s, _, auth := authorize(t, p, pass, false)
		a, err := parseHTTPAuthorization(string(auth))
		if err != nil {
			t.Fatal(err)
		}
		a.opaque = "AAAA" + a.opaque[4:]
		step(t, s, serverIn(a.marshal(), r, nil), status.SEC_E_INVALID_TOKEN)
	})
	t.Run("tampered auth-int body", func(t *testing.T) {
		s, _, auth := authorize(t, New(cfg), pass, true)
		bad := r
		bad.body = []byte(`{"a":2}`)
		step(t, s, serverIn(auth, bad, nil), status.SEC_E_LOGON_DENIED)
	})
	t.Run("auth-int H(entity) of the wrong length", func(t *testing.T) {
		s, _, auth := authorize(t, New(cfg), pass, true)
		step(t, s, []secbuffer.Buffer{tokenBuf(auth), paramBuf(r.method), paramBuf(r.url), paramBuf(strings.Repeat("ab", 16))}, status.SEC_E_INVALID_TOKEN)
	})
	t.Run("mismatched uri", func(t *testing.T) {
		s, _, auth := authorize(t, New(cfg), pass, false)
		bad := r
		bad.url = "/admin"
		step(t, s, serverIn(auth, bad, nil), status.SEC_E_INVALID_TOKEN)
	})
	t.Run("wrong method", func(t *testing.T) {
		s, _, auth := authorize(t, New(cfg), pass, false)
		bad := r
		bad.method = "DELETE"
		step(t, s, serverIn(auth, bad, nil), status.SEC_E_LOGON_DENIED)
	})
	t.Run("algorithm not accepted", func(t *testing.T) {
		s, _, auth := authorize(t, New(cfg), pass, false)
		a, _ := parseHTTPAuthorization(string(auth))
		a.algorithm = MD5
		step(t, s, serverIn(a.marshal(), r, nil), status.SEC_E_ALGORITHM_MISMATCH)
	})
	t.Run("bad rspauth", func(t *testing.T) {
		p := New(cfg)
		s, c, auth := authorize(t, p, pass, false)
		info := step(t, s, serverIn(auth, r, nil), status.SEC_E_OK)
		ps := mustParams(t, string(info))
		rsp, _ := ps.get("rspauth")
		forged := bytes.Replace(info, []byte(rsp), []byte(strings.Repeat("0", len(rsp))), 1)
		step(t, c, []secbuffer.Buffer{tokenBuf(forged)}, status.SEC_E_MUTUAL_AUTH_FAILED)
		// Sticky.
		step(t, c, []secbuffer.Buffer{tokenBuf(info)}, status.SEC_E_MUTUAL_AUTH_FAILED)
	})
	t.Run("stored HA1", func(t *testing.T) {
		d := newDigester(lookupAlgorithm(SHA256))
		hstore := Users{{Name: "alice", Realm: "gosspi", HA1: map[string]string{SHA256: d.baseHA1("alice", "gosspi", pass)}}}
		p := New(cfg)
		s := newServer(t, p, hstore, "", ASC_REQ_HTTP)
		ch := step(t, s, nil, status.SEC_I_CONTINUE_NEEDED)
		c := newClient(t, New(nil), "alice", pass, r.url, packages.ISC_REQ_USE_HTTP_STYLE)
		auth := step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf(r.method), paramBuf("")}, status.SEC_E_OK)
		step(t, s, serverIn(auth, r, nil), status.SEC_E_OK)
	})
	t.Run("output too small", func(t *testing.T) {
		s := newServer(t, New(cfg), store, "", ASC_REQ_HTTP)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 8)}}
		if st, err := s.Step(bg, nil, out); st != status.SEC_E_BUFFER_TOO_SMALL || err == nil {
			t.Fatalf("Step = %v, %v", st, err)
		}
		step(t, s, nil, status.SEC_I_CONTINUE_NEEDED) // still usable
	})
}

// saslPair runs a SASL handshake and returns both established contexts.
func saslPair(t testing.TB, creq, sreq uint32, ciphers []string) (packages.Context, packages.Context) {
	t.Helper()
	p := New(&Config{Realm: "elwood.innosoft.com", Ciphers: ciphers})
	s := newServer(t, p, Users{{Name: "chris", Password: "secret"}}, "imap/elwood.innosoft.com", sreq)
	c := newClient(t, New(&Config{Ciphers: ciphers}), "chris", "secret", "imap/elwood.innosoft.com", creq)
	legs, err := testkit.Handshake(bg, c, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(legs) != 5 || c.Session() == nil || s.Session() == nil {
		t.Fatalf("%d legs, established %v/%v", len(legs), c.Session() != nil, s.Session() != nil)
	}
	return c, s
}

type saslCase struct {
	name       string
	creq, sreq uint32
	cipher     string
	wantFlags  uint32
}

func saslCases() []saslCase {
	cases := []saslCase{
		{name: "auth"},
		{name: "auth-int", creq: packages.ISC_REQ_INTEGRITY, sreq: packages.ASC_REQ_INTEGRITY, wantFlags: packages.ISC_RET_INTEGRITY},
	}
	for _, c := range ciphers {
		cases = append(cases, saslCase{name: "auth-conf/" + c.name, creq: packages.ISC_REQ_CONFIDENTIALITY, sreq: packages.ASC_REQ_CONFIDENTIALITY,
			cipher: c.name, wantFlags: packages.ISC_RET_CONFIDENTIALITY | packages.ISC_RET_INTEGRITY})
	}
	return cases
}

// TestSASLLoopback runs every qop and cipher, then messages both ways with
// each buffer layout.
func TestSASLLoopback(t *testing.T) {
	for _, sc := range saslCases() {
		t.Run(sc.name, func(t *testing.T) {
			var cl []string
			if sc.cipher != "" {
				cl = []string{sc.cipher}
			}
			c, s := saslPair(t, sc.creq, sc.sreq, cl)
			if c.Flags()&sc.wantFlags != sc.wantFlags || c.Flags()&packages.ISC_RET_MUTUAL_AUTH == 0 {
				t.Errorf("client flags %#x, want %#x", c.Flags(), sc.wantFlags)
			}
			ki, err := c.QueryAttribute(packages.SECPKG_ATTR_KEY_INFO)
			if err != nil || ki.(*packages.KeyInfo).EncryptAlgorithmName != sc.cipher {
				t.Errorf("key info %+v, %v", ki, err)
			}
			ck, _ := c.QueryAttribute(packages.SECPKG_ATTR_SESSION_KEY)
			sk, _ := s.QueryAttribute(packages.SECPKG_ATTR_SESSION_KEY)
			if !bytes.Equal(ck.(*packages.SecPkgContext_SessionKey).SessionKey, sk.(*packages.SecPkgContext_SessionKey).SessionKey) {
				t.Error("session keys differ")
			}
			if sc.name == "auth" {
				err := c.Session().MakeSignature(0, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: []byte("x")}, tokenBuf(make([]byte, macLen))}, 0)
				if !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
					t.Errorf("MakeSignature on auth: %v", err)
				}
				return
			}
			for i := 0; i < 3; i++ {
				for _, dir := range []struct {
					name     string
					from, to packages.Context
				}{{"c2s", c, s}, {"s2c", s, c}} {
					msg := []byte(fmt.Sprintf("message %d %s %s", i, dir.name, strings.Repeat("z", i*7)))
					sealRoundTrip(t, dir.from, dir.to, msg, sc.cipher != "", i%2 == 0)
					signRoundTrip(t, dir.from, dir.to, msg)
				}
			}
		})
	}
}

func sizesOf(t testing.TB, c packages.Context) *packages.SecPkgContext_Sizes {
	t.Helper()
	v, err := c.QueryAttribute(packages.SECPKG_ATTR_SIZES)
	if err != nil {
		t.Fatal(err)
	}
	return v.(*packages.SecPkgContext_Sizes)
}

// seal returns the three buffers EncryptMessage filled.
func seal(t testing.TB, c packages.Context, msg []byte) []secbuffer.Buffer {
	t.Helper()
	sz := sizesOf(t, c)
	bufs := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_DATA, Data: append([]byte(nil), msg...)},
		{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, sz.BlockSize)},
		{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, sz.SecurityTrailer)},
	}
	if st, err := c.Session().EncryptMessage(0, bufs, 0); st != status.SEC_E_OK || err != nil {
		t.Fatalf("EncryptMessage = %v, %v", st, err)
	}
	return bufs
}

func wire(bufs []secbuffer.Buffer) []byte {
	var w []byte
	for _, b := range bufs {
		w = append(w, b.Data...)
	}
	return w
}

func sealRoundTrip(t *testing.T, from, to packages.Context, msg []byte, conf, stream bool) {
	t.Helper()
	bufs := seal(t, from, msg)
	if conf == bytes.Equal(bufs[0].Data, msg) && len(msg) > 0 {
		t.Errorf("sealed data equal to plaintext: %v (conf %v)", bytes.Equal(bufs[0].Data, msg), conf)
	}
	var in []secbuffer.Buffer
	if stream {
		in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: wire(bufs)}, {Type: secbuffer.SECBUFFER_DATA}}
	} else {
		in = bufs
	}
	qop, st, err := to.Session().DecryptMessage(in, 0)
	if st != status.SEC_E_OK || err != nil {
		t.Fatalf("DecryptMessage = %v, %v", st, err)
	}
	data := secbuffer.Find(in, secbuffer.SECBUFFER_DATA)
	if !bytes.Equal(data.Data, msg) {
		t.Fatalf("decrypted %q, want %q", data.Data, msg)
	}
	if wantQop := uint32(packages.SECQOP_WRAP_NO_ENCRYPT); !conf && qop != wantQop || conf && qop != 0 {
		t.Errorf("qop %#x (conf %v)", qop, conf)
	}
}

func signRoundTrip(t *testing.T, from, to packages.Context, msg []byte) {
	t.Helper()
	bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: msg}, tokenBuf(make([]byte, macLen))}
	if err := from.Session().MakeSignature(0, bufs, 0); err != nil {
		t.Fatal(err)
	}
	if tok := bufs[1].Data; len(tok) != macLen || tok[10] != 0 || tok[11] != 1 {
		t.Fatalf("signature %x", tok)
	}
	if _, err := to.Session().VerifySignature(bufs, 0); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
}

// TestSASLTamper: a flipped bit anywhere gives SEC_E_MESSAGE_ALTERED, a
// reordered message SEC_E_OUT_OF_SEQUENCE, and neither disturbs the
// stream: the genuine messages still decrypt in order afterwards.
func TestSASLTamper(t *testing.T) {
	for _, sc := range saslCases()[1:] {
		t.Run(sc.name, func(t *testing.T) {
			var cl []string
			if sc.cipher != "" {
				cl = []string{sc.cipher}
			}
			c, s := saslPair(t, sc.creq, sc.sreq, cl)
			m1, m2 := wire(seal(t, c, []byte("first message"))), wire(seal(t, c, []byte("second message")))
			decrypt := func(w []byte) error {
				_, _, err := s.Session().DecryptMessage([]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: append([]byte(nil), w...)}, {Type: secbuffer.SECBUFFER_DATA}}, 0)
				return err
			}
			for i := 0; i < len(m1)-4; i++ { // the last 4 bytes are the clear sequence number
				bad := append([]byte(nil), m1...)
				bad[i] ^= 0x01
				if err := decrypt(bad); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
					t.Fatalf("flip at %d: %v", i, err)
				}
			}
			if err := decrypt(m1[:len(m1)-1]); err == nil {
				t.Fatal("truncated message accepted")
			}
			if err := decrypt(m2); !errors.Is(err, status.SEC_E_OUT_OF_SEQUENCE) {
				t.Fatalf("reordered: %v", err)
			}
			if err := decrypt(m1); err != nil {
				t.Fatalf("first after tampering: %v", err)
			}
			if err := decrypt(m1); !errors.Is(err, status.SEC_E_OUT_OF_SEQUENCE) {
				t.Fatalf("replayed: %v", err)
			}
			if err := decrypt(m2); err != nil {
				t.Fatalf("second: %v", err)
			}
			// Signatures too.
			b := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: []byte("signed")}, tokenBuf(make([]byte, macLen))}
			if err := s.Session().MakeSignature(0, b, 0); err != nil {
				t.Fatal(err)
			}
			b[0].Data = []byte("signeD")
			if _, err := c.Session().VerifySignature(b, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
				t.Fatalf("altered signature: %v", err)
			}
		})
	}
}

func TestSASLNegative(t *testing.T) {
	p := New(&Config{Realm: "r"})
	store := Users{{Name: "u", Password: "pw"}}
	run := func(t *testing.T, clientPass, target, principal string, want status.Status) {
		t.Helper()
		s := newServer(t, p, store, principal, 0)
		c := newClient(t, New(nil), "u", clientPass, target, 0)
		step(t, c, nil, status.SEC_I_CONTINUE_NEEDED)
		ch := step(t, s, []secbuffer.Buffer{tokenBuf(nil)}, status.SEC_I_CONTINUE_NEEDED)
		resp := step(t, c, []secbuffer.Buffer{tokenBuf(ch)}, status.SEC_I_CONTINUE_NEEDED)
		step(t, s, []secbuffer.Buffer{tokenBuf(resp)}, want)
	}
	t.Run("wrong password", func(t *testing.T) { run(t, "nope", "ldap/dc1", "", status.SEC_E_LOGON_DENIED) })
	t.Run("wrong digest-uri", func(t *testing.T) { run(t, "pw", "ldap/dc2", "ldap/DC1", status.SEC_E_WRONG_PRINCIPAL) })
	t.Run("digest-uri host case", func(t *testing.T) { run(t, "pw", "ldap/dc1", "ldap/DC1", status.SEC_E_OK) })
	t.Run("bad rspauth", func(t *testing.T) {
		c := newClient(t, New(nil), "u", "pw", "ldap/dc1", 0)
		s := newServer(t, p, store, "", 0)
		ch := step(t, s, []secbuffer.Buffer{tokenBuf(nil)}, status.SEC_I_CONTINUE_NEEDED)
		step(t, c, []secbuffer.Buffer{tokenBuf(ch)}, status.SEC_I_CONTINUE_NEEDED)
		step(t, c, []secbuffer.Buffer{tokenBuf([]byte("rspauth=" + strings.Repeat("0", 32)))}, status.SEC_E_MUTUAL_AUTH_FAILED)
	})
	t.Run("replayed response", func(t *testing.T) {
		s := newServer(t, p, store, "", 0)
		c := newClient(t, New(nil), "u", "pw", "ldap/dc1", 0)
		ch := step(t, s, []secbuffer.Buffer{tokenBuf(nil)}, status.SEC_I_CONTINUE_NEEDED)
		resp := step(t, c, []secbuffer.Buffer{tokenBuf(ch)}, status.SEC_I_CONTINUE_NEEDED)
		step(t, s, []secbuffer.Buffer{tokenBuf(resp)}, status.SEC_E_OK)
		// Another server context issues another nonce.
		s2 := newServer(t, p, store, "", 0)
		step(t, s2, []secbuffer.Buffer{tokenBuf(nil)}, status.SEC_I_CONTINUE_NEEDED)
		step(t, s2, []secbuffer.Buffer{tokenBuf(resp)}, status.SEC_E_INVALID_TOKEN)
	})
	t.Run("confidentiality not offered", func(t *testing.T) {
		// The client asks for auth-conf, the server offers auth only: the
		// client settles for auth and says so in its flags.
		s := newServer(t, p, store, "", 0)
		c := newClient(t, New(nil), "u", "pw", "ldap/dc1", packages.ISC_REQ_CONFIDENTIALITY)
		if _, err := testkit.Handshake(bg, c, s, nil, nil); err != nil {
			t.Fatal(err)
		}
		if c.Flags()&packages.ISC_RET_CONFIDENTIALITY != 0 {
			t.Errorf("flags %#x", c.Flags())
		}
		if _, err := c.Session().EncryptMessage(0, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: []byte("x")}, tokenBuf(make([]byte, 16))}, 0); !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
			t.Errorf("EncryptMessage on auth: %v", err)
		}
	})
	t.Run("per-message before the handshake", func(t *testing.T) {
		c := newClient(t, New(nil), "u", "pw", "ldap/dc1", 0)
		if c.Session() != nil {
			t.Error("a session before the handshake")
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		if _, err := p.AcquireCredentials(bg, "", packages.SECPKG_CRED_OUTBOUND, nil); !errors.Is(err, status.SEC_E_NO_CREDENTIALS) {
			t.Errorf("nil auth data: %v", err)
		}
		if _, err := p.AcquireCredentials(bg, "", packages.SECPKG_CRED_OUTBOUND, 42); !errors.Is(err, status.SEC_E_UNKNOWN_CREDENTIALS) {
			t.Errorf("int auth data: %v", err)
		}
	})
}

func TestInfo(t *testing.T) {
	want := packages.Info{Name: "WDigest", Comment: "Digest Authentication for Windows", Capabilities: 0x00800304, Version: 1, RPCID: 21, MaxToken: 4096}
	if got := New(nil).Info(); got != want {
		t.Errorf("Info = %+v, want %+v", got, want)
	}
}

// TestHTTPRFC2069 answers a challenge without qop in the RFC 2069 form:
// no qop, nc or cnonce, response = H(H(A1) ":" nonce ":" H(A2)).
func TestHTTPRFC2069(t *testing.T) {
	c := newClient(t, New(nil), "Mufasa", "CircleOfLife", "/dir/index.html", packages.ISC_REQ_USE_HTTP_STYLE)
	ch := `realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	auth := step(t, c, []secbuffer.Buffer{tokenBuf([]byte(ch)), paramBuf("GET"), paramBuf("")}, status.SEC_E_OK)
	a, err := parseHTTPAuthorization(string(auth))
	if err != nil {
		t.Fatal(err)
	}
	d := newDigester(lookupAlgorithm(MD5))
	want := d.hexOf(d.baseHA1("Mufasa", "testrealm@host.com", "CircleOfLife"), "dcd98b7102dd2f0e8b11d0f600bfb0c093", d.hexOf("GET", "/dir/index.html"))
	if a.qop != "" || a.nc != "" || a.cnonce != "" || a.response != want || bytes.Contains(auth, []byte("nc=")) {
		t.Errorf("Authorization %q, want response %s", auth, want)
	}
}

// TestSASLAuthzID: an authorization identity enters A1 on both sides.
func TestSASLAuthzID(t *testing.T) {
	p := New(&Config{Realm: "r"})
	s := newServer(t, p, Users{{Name: "u", Password: "pw"}}, "", packages.ASC_REQ_INTEGRITY)
	cred, err := New(nil).AcquireCredentials(bg, "", packages.SECPKG_CRED_OUTBOUND, &Identity{User: "u", Password: "pw", AuthzID: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cred.NewClientContext("ldap/dc1", packages.ISC_REQ_INTEGRITY)
	if err != nil {
		t.Fatal(err)
	}
	legs, err := testkit.Handshake(bg, c, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(legs[2].Token, []byte(`authzid="admin"`)) {
		t.Errorf("response %q", legs[2].Token)
	}
	signRoundTrip(t, c, s, []byte("as admin"))
}

func TestProxyBindingsRefused(t *testing.T) {
	p := New(nil)
	s := newServer(t, p, Users{{Name: "u", Password: "p"}}, "", ASC_REQ_HTTP|packages.ASC_REQ_PROXY_BINDINGS)
	ch := step(t, s, nil, status.SEC_I_CONTINUE_NEEDED)
	c := newClient(t, p, "u", "p", "/", packages.ISC_REQ_USE_HTTP_STYLE)
	auth := step(t, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf("GET"), paramBuf("")}, status.SEC_E_OK)
	step(t, s, []secbuffer.Buffer{tokenBuf(auth), paramBuf("GET"), paramBuf("/")}, status.SEC_E_BAD_BINDINGS)
}

// TestSASLMaxbuf: the server's maxbuf bounds what the client may send.
func TestSASLMaxbuf(t *testing.T) {
	sp := New(&Config{Realm: "r", MaxBuffer: 64})
	s := newServer(t, sp, Users{{Name: "u", Password: "pw"}}, "", packages.ASC_REQ_CONFIDENTIALITY)
	c := newClient(t, New(nil), "u", "pw", "ldap/dc1", packages.ISC_REQ_CONFIDENTIALITY)
	legs, err := testkit.Handshake(bg, c, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(legs[1].Token, []byte("maxbuf=64")) {
		t.Fatalf("challenge %q", legs[1].Token)
	}
	bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: make([]byte, 49)}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 1)}, tokenBuf(make([]byte, macLen))}
	if _, err := c.Session().EncryptMessage(0, bufs, 0); !errors.Is(err, status.SEC_E_BUFFER_TOO_SMALL) {
		t.Fatalf("49+16 bytes to a 64-byte maxbuf: %v", err)
	}
	sealRoundTrip(t, c, s, make([]byte, 48), true, true)
	// The server may send up to the client's 65536.
	sealRoundTrip(t, s, c, make([]byte, 4096), true, false)
}

// TestSASLConcurrent seals and opens in both directions at once, one
// sender and one receiver per direction, as the contract allows.
func TestSASLConcurrent(t *testing.T) {
	c, s := saslPair(t, packages.ISC_REQ_CONFIDENTIALITY, packages.ASC_REQ_CONFIDENTIALITY, []string{"3des"})
	const n = 50
	errs := make(chan error, 2)
	for _, dir := range []struct{ from, to packages.Context }{{c, s}, {s, c}} {
		ch := make(chan []byte, n)
		go func() {
			for i := 0; i < n; i++ {
				msg := []byte(fmt.Sprintf("message %d", i))
				bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: msg}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 8)}, tokenBuf(make([]byte, macLen))}
				if _, err := dir.from.Session().EncryptMessage(0, bufs, 0); err != nil {
					close(ch)
					return
				}
				ch <- wire(bufs)
			}
			close(ch)
		}()
		go func() {
			i := 0
			for w := range ch {
				bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: w}, {Type: secbuffer.SECBUFFER_DATA}}
				if _, _, err := dir.to.Session().DecryptMessage(bufs, 0); err != nil {
					errs <- err
					return
				}
				if want := fmt.Sprintf("message %d", i); string(bufs[1].Data) != want {
					errs <- fmt.Errorf("got %q, want %q", bufs[1].Data, want)
					return
				}
				i++
			}
			if i != n {
				errs <- fmt.Errorf("%d messages", i)
				return
			}
			errs <- nil
		}()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
