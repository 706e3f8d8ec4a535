package digest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// fuzzSeeds are the vector files' messages plus hand-written edge cases:
// quoting, escapes, duplicates, missing and oversized fields.
func fuzzSeeds(f *testing.F) {
	f.Helper()
	for _, mode := range []string{"http", "sasl"} {
		for _, v := range loadVectors(f, mode) {
			f.Add(v.Text)
			f.Add(v.Get("authorization"))
		}
	}
	for _, s := range []string{
		``,
		`,,,`,
		`realm="a\"b\\c", nonce="n", qop="auth,auth-int"`,
		`realm="x", nonce="n", nonce="m"`,
		`realm="x"`,
		`nonce=`,
		`nonce="unterminated`,
		`realm=x nonce=y`,
		`Digest realm="r", nonce="n", algorithm=SHA-512-256-sess, userhash=true, charset=UTF-8`,
		`username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="r", nonce="n", uri="/", response="0", qop=auth, nc=00000001, cnonce="c"`,
		`username="u", username*=UTF-8''u, realm="r", nonce="n", uri="/", response="0"`,
		`username="u", realm="r", nonce="n", uri="/", response="0", qop=auth, nc=0000001g, cnonce="c"`,
		`rspauth=ea40f60335c427b5527b84dbabcdfffd`,
		`realm="a",realm="b",nonce="n",qop="auth-conf",cipher="rc4,3des",maxbuf=1024,algorithm=md5-sess`,
		`nonce="n",algorithm=md5-sess,algorithm=md5-sess`,
		`nonce="n",algorithm=md5-sess,maxbuf=0`,
		`nonce="` + strings.Repeat("x", maxValueLen+1) + `"`,
		strings.Repeat("a=b,", maxParams+1),
		"realm=\"\x01\"",
	} {
		f.Add(s)
	}
}

func FuzzParseParams(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		list, err := parseParams(s)
		if err != nil {
			if list != nil {
				t.Fatal("values returned with an error")
			}
			return
		}
		// Writing the list back and parsing it again gives the same list.
		var w paramWriter
		for _, p := range list {
			w.quoted(p.name, p.value)
		}
		again, err := parseParams(string(w.b))
		if err != nil {
			t.Fatalf("rewritten %q: %v", w.b, err)
		}
		if len(again) != len(list) {
			t.Fatalf("%d params, then %d", len(list), len(again))
		}
		for i := range list {
			if again[i] != list[i] {
				t.Fatalf("param %d: %+v, then %+v", i, list[i], again[i])
			}
		}
	})
}

// roundTrip checks that marshal∘parse is idempotent: what we write from a
// parsed message parses again and writes the same bytes.
func roundTrip[T any](t *testing.T, s string, parse func(string) (*T, error), marshal func(*T) []byte) {
	m, err := parse(s)
	if err != nil {
		if m != nil {
			t.Fatal("values returned with an error")
		}
		return
	}
	b1 := marshal(m)
	m2, err := parse(string(b1))
	if err != nil {
		t.Fatalf("rewritten %q does not parse: %v", b1, err)
	}
	if b2 := marshal(m2); !bytes.Equal(b1, b2) {
		t.Fatalf("not stable:\n%q\n%q", b1, b2)
	}
}

func FuzzHTTPChallenge(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		roundTrip(t, s, parseHTTPChallenge, (*httpChallenge).marshal)
	})
}

func FuzzHTTPAuthorization(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		roundTrip(t, s, parseHTTPAuthorization, (*httpAuthorization).marshal)
	})
}

func FuzzSASLChallenge(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		roundTrip(t, s, parseSASLChallenge, (*saslChallenge).marshal)
	})
}

func FuzzSASLResponse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		roundTrip(t, s, parseSASLResponse, (*saslResponseMsg).marshal)
	})
}

// FuzzContexts feeds arbitrary tokens to every kind of context at every
// leg: no panic, and a failure is a failure status with an error.
func FuzzContexts(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		p := New(nil)
		store := Users{{Name: "chris", Password: "secret"}, {Name: "Mufasa", Password: "Circle of Life"}}
		check := func(st status.Status, err error) {
			if st.Failed() != (err != nil) {
				t.Fatalf("status %v with error %v", st, err)
			}
		}
		in := []secbuffer.Buffer{tokenBuf([]byte(s)), paramBuf("GET"), paramBuf("/"), paramBuf(""), paramBuf("")}
		for _, req := range []uint32{0, packages.ISC_REQ_USE_HTTP_STYLE | packages.ISC_REQ_INTEGRITY} {
			c := newClient(t, p, "Mufasa", "Circle of Life", "/", req)
			check(c.Step(bg, in, outBuf()))
			check(c.Step(bg, in, outBuf()))
		}
		for _, req := range []uint32{packages.ASC_REQ_CONFIDENTIALITY, ASC_REQ_HTTP | packages.ASC_REQ_INTEGRITY} {
			srv := newServer(t, p, store, "", req)
			check(srv.Step(bg, nil, outBuf()))
			check(srv.Step(bg, in, outBuf()))
		}
	})
}
