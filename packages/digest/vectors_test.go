package digest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func loadVectors(t testing.TB, mode string) []*testkit.Vector {
	t.Helper()
	vs, err := testkit.Vectors("digest")
	if err != nil {
		t.Fatal(err)
	}
	var out []*testkit.Vector
	for _, v := range vs {
		if v.Get("source") == "" {
			t.Fatalf("%s: no source header", v.Name)
		}
		if v.Get("mode") == mode {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s vectors", mode)
	}
	return out
}

func tokenBuf(p []byte) secbuffer.Buffer {
	return secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: p}
}

func paramBuf(s string) secbuffer.Buffer {
	return secbuffer.Buffer{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(s)}
}

func outBuf() []secbuffer.Buffer {
	return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
}

func newClient(t testing.TB, p *Package, user, pass, target string, req uint32) packages.Context {
	t.Helper()
	cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cred.NewClientContext(target, req)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newServer(t testing.TB, p *Package, store UserStore, principal string, req uint32) packages.Context {
	t.Helper()
	cred, err := p.AcquireCredentials(context.Background(), principal, packages.SECPKG_CRED_INBOUND, store)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cred.NewServerContext(req)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustParams(t testing.TB, s string) *paramSet {
	t.Helper()
	list, err := parseParams(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	ps, err := indexParams(list)
	if err != nil {
		t.Fatalf("index %q: %v", s, err)
	}
	return ps
}

func TestHTTPVectors(t *testing.T) {
	for _, v := range loadVectors(t, "http") {
		t.Run(v.Name, func(t *testing.T) {
			ch, err := parseHTTPChallenge(v.Text)
			if err != nil {
				t.Fatal(err)
			}
			want, err := parseHTTPAuthorization(v.Get("authorization"))
			if v.Get("authorization") != "" && err != nil {
				t.Fatal(err)
			}
			alg := lookupAlgorithm(ch.algorithm)
			dg := newDigester(alg)
			user, pass, method, uri := v.Get("username"), v.Get("password"), v.Get("method"), v.Get("uri")

			// The computations one by one.
			if h := v.Get("ha1"); h != "" {
				if got := dg.baseHA1(user, ch.realm, pass); got != h {
					t.Errorf("H(A1) = %s, want %s", got, h)
				}
			}
			if h := v.Get("ha2"); h != "" {
				if got := dg.ha2(method, uri, "", false); got != h {
					t.Errorf("H(A2) = %s, want %s", got, h)
				}
			}
			if h := v.Get("userhash"); h != "" {
				got := dg.userhash(user, ch.realm)
				if got != h {
					t.Errorf("userhash = %s, want %s", got, h)
				}
				if got == v.Get("not-userhash") {
					t.Errorf("userhash matches the truncated-SHA-512 value of the RFC's erratum")
				}
			}

			// The client context, with the example's cnonce.
			p := New(nil)
			p.testCnonce = v.Get("cnonce")
			c := newClient(t, p, user, pass, uri, packages.ISC_REQ_USE_HTTP_STYLE)
			out := outBuf()
			st, err := c.Step(context.Background(), []secbuffer.Buffer{tokenBuf([]byte(v.Text)), paramBuf(method), paramBuf("")}, out)
			if err != nil || st != status.SEC_E_OK {
				t.Fatalf("ISC = %v, %v", st, err)
			}
			got, err := parseHTTPAuthorization(string(out[0].Data))
			if err != nil {
				t.Fatalf("our Authorization %q: %v", out[0].Data, err)
			}
			if got.response != v.Get("response") {
				t.Errorf("response = %s, want %s", got.response, v.Get("response"))
			}
			if got.response == v.Get("not-response") {
				t.Errorf("response matches the truncated-SHA-512 value of the RFC's erratum")
			}
			if h := v.Get("userhash"); h != "" && (got.username != h || !got.userhash) {
				t.Errorf("username = %q (userhash %v), want the userhash %s", got.username, got.userhash, h)
			}
			if want != nil {
				want.method = got.method
				if want.algorithm == "" {
					want.algorithm = got.algorithm
				}
				if *got != *want {
					t.Errorf("Authorization\n got %+v\nwant %+v", *got, *want)
				}
			}
			if c.Session() == nil || c.Flags()&packages.ISC_RET_USED_HTTP_STYLE == 0 {
				t.Errorf("established %v, flags %#x", c.Session() != nil, c.Flags())
			}

			// The server: the example's nonce is not ours, so the right
			// password yields a stale challenge and the wrong one a denial.
			auth := out[0].Data
			for _, tt := range []struct {
				pass string
				want status.Status
			}{{pass, status.SEC_E_INVALID_TOKEN}, {pass + "x", status.SEC_E_LOGON_DENIED}} {
				sp := New(&Config{Realm: ch.realm, Algorithms: []string{alg.name}})
				s := newServer(t, sp, Users{{Name: user, Password: tt.pass}}, "", ASC_REQ_HTTP|packages.ASC_REQ_INTEGRITY)
				sout := outBuf()
				st, err := s.Step(context.Background(), []secbuffer.Buffer{tokenBuf(auth), paramBuf(method), paramBuf(uri), paramBuf(""), paramBuf("")}, sout)
				if st != tt.want || !errors.Is(err, tt.want) {
					t.Fatalf("ASC with password %q = %v, %v; want %v", tt.pass, st, err, tt.want)
				}
				stale := bytes.Contains(sout[0].Data, []byte("stale=true"))
				if stale != (tt.want == status.SEC_E_INVALID_TOKEN) {
					t.Errorf("stale challenge %v in %q", stale, sout[0].Data)
				}
			}
		})
	}
}

func TestSASLVectors(t *testing.T) {
	for _, v := range loadVectors(t, "sasl") {
		t.Run(v.Name, func(t *testing.T) {
			user, pass, uri := v.Get("username"), v.Get("password"), v.Get("uri")
			ch, err := parseSASLChallenge(v.Text)
			if err != nil {
				t.Fatal(err)
			}
			want, err := parseSASLResponse(v.Get("authorization"))
			if err != nil {
				t.Fatal(err)
			}
			key := saslUserKey(user, ch.realms[0], pass, true)
			ha1 := saslHA1(key, ch.nonce, want.cnonce, "")
			if got := hex.EncodeToString(ha1[:]); got != v.Get("ha1") {
				t.Errorf("HEX(H(A1)) = %s, want %s", got, v.Get("ha1"))
			}

			p := New(nil)
			p.testCnonce = v.Get("cnonce")
			c := newClient(t, p, user, pass, uri, 0)
			out := outBuf()
			if st, err := c.Step(context.Background(), nil, out); st != status.SEC_I_CONTINUE_NEEDED || err != nil || len(out[0].Data) != 0 {
				t.Fatalf("ISC #1 = %v, %v, %q", st, err, out[0].Data)
			}
			out = outBuf()
			st, err := c.Step(context.Background(), []secbuffer.Buffer{tokenBuf([]byte(v.Text))}, out)
			if st != status.SEC_I_CONTINUE_NEEDED || err != nil {
				t.Fatalf("ISC #2 = %v, %v", st, err)
			}
			got, err := parseSASLResponse(string(out[0].Data))
			if err != nil {
				t.Fatalf("our response %q: %v", out[0].Data, err)
			}
			if *got != *want {
				t.Errorf("response\n got %+v\nwant %+v", *got, *want)
			}

			// Our server, with the example's nonce, accepts the RFC's
			// response and answers the RFC's rspauth.
			sp := New(&Config{Realm: ch.realms[0]})
			sp.testNonce = ch.nonce
			s := newServer(t, sp, Users{{Name: user, Password: pass}}, uri, 0)
			sout := outBuf()
			if st, err := s.Step(context.Background(), []secbuffer.Buffer{tokenBuf(nil)}, sout); st != status.SEC_I_CONTINUE_NEEDED || err != nil {
				t.Fatalf("ASC #1 = %v, %v", st, err)
			}
			sout = outBuf()
			st, err = s.Step(context.Background(), []secbuffer.Buffer{tokenBuf([]byte(v.Get("authorization")))}, sout)
			if st != status.SEC_E_OK || err != nil {
				t.Fatalf("ASC #2 = %v, %v", st, err)
			}
			if w := "rspauth=" + v.Get("rspauth"); string(sout[0].Data) != w {
				t.Errorf("rspauth token = %q, want %q", sout[0].Data, w)
			}

			out = outBuf()
			st, err = c.Step(context.Background(), []secbuffer.Buffer{tokenBuf(sout[0].Data)}, out)
			if st != status.SEC_E_OK || err != nil || len(out[0].Data) != 0 {
				t.Fatalf("ISC #3 = %v, %v, %q", st, err, out[0].Data)
			}
			if c.Session() == nil || c.Flags()&packages.ISC_RET_MUTUAL_AUTH == 0 {
				t.Errorf("established %v flags %#x", c.Session() != nil, c.Flags())
			}
		})
	}
}

func TestSecurityLayerVector(t *testing.T) {
	v := loadVectors(t, "seclayer")[0]
	hx := func(k string) []byte {
		t.Helper()
		b, err := v.Hex(k)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", k, err)
		}
		return b
	}
	ha1 := hx("ha1")
	check := func(name string, got []byte) {
		t.Helper()
		if w := hx(name); !bytes.Equal(got, w) {
			t.Errorf("%s = %x, want %x", name, got, w)
		}
	}
	check("kic", deriveKey(ha1, magicSignC2S))
	check("kis", deriveKey(ha1, magicSignS2C))
	for _, n := range []string{"16", "7", "5"} {
		k := map[string]int{"16": 16, "7": 7, "5": 5}[n]
		check("kcc-"+n, deriveKey(ha1[:k], magicSealC2S))
		check("kcs-"+n, deriveKey(ha1[:k], magicSealS2C))
	}
	l, err := newSecurityLayer(ha1, qopAuthInt, nil, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(v.Get("message"))
	tok, err := l.sign([][]byte{msg})
	if err != nil {
		t.Fatal(err)
	}
	check("mac", tok)
	frame := append([]byte{0, 0, 0, byte(len(msg) + len(tok))}, msg...)
	frame = append(frame, tok...)
	if !bytes.Equal(frame, v.Data) {
		t.Errorf("frame = %x, want %x", frame, v.Data)
	}
	// The server side verifies it with the same key.
	sl, err := newSecurityLayer(ha1, qopAuthInt, nil, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := sl.verify([][]byte{msg}, tok); err != nil {
		t.Errorf("server verify: %v", err)
	}
	if !strings.HasPrefix(v.Get("source"), "shared/spec/testvectors.md 3.3") {
		t.Errorf("unexpected source %q", v.Get("source"))
	}
}
