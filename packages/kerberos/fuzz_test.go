package kerberos

import (
	"bytes"
	"context"
	"testing"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
)

// fuzzRealm is one in-memory realm shared by the fuzz targets, with a
// recorded AP-REQ and AP-REP as seeds.
func fuzzSeeds(f *testing.F) (*memRealm, []testkit.Leg) {
	m := newMemRealm(f, 18, nil)
	cc, sc := m.contexts(f, packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_DELEGATE)
	legs, err := handshake(f, cc, sc, "", "")
	if err != nil {
		f.Fatal(err)
	}
	return m, legs
}

func FuzzAcceptToken(f *testing.F) {
	m, legs := fuzzSeeds(f)
	f.Add(legs[0].Token)
	f.Add(legs[0].Token[17:])
	f.Add([]byte{0x60, 0x03, 0x06, 0x01, 0x00})
	// The authenticators accepted in this process: the handshake above
	// accepted legs[0]'s. The realm's keys are fixed, so a token from the
	// handshake of another fuzz process (the seeds) may be accepted once;
	// no authenticator may be accepted twice, whatever is changed around
	// it (ap-options, framing and the ticket's clear fields are not
	// integrity protected).
	seen := map[string]bool{authenticatorOf(legs[0].Token): true}
	f.Fuzz(func(t *testing.T, tok []byte) {
		sc, _ := m.server.NewServerContext(packages.ASC_REQ_EXTENDED_ERROR)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}
		st, err := sc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, out)
		if err == nil {
			a := authenticatorOf(tok)
			if a == "" {
				t.Fatalf("accepted a %d-byte token that is no AP-REQ: %x", len(tok), tok)
			}
			if seen[a] {
				t.Fatalf("a replayed authenticator was accepted (%v): %x", st, tok)
			}
			seen[a] = true
		}
		if err != nil && st.Succeeded() {
			t.Fatalf("error %v with success status %v", err, st)
		}
	})
}

// authenticatorOf returns the authenticator ciphertext of an AP-REQ token
// (framed or bare), "" if tok is none.
func authenticatorOf(tok []byte) string {
	if _, msg, err := parseFraming(tok); err == nil {
		tok = msg
	}
	var req messages.APReq
	if err := req.Unmarshal(tok); err != nil {
		return ""
	}
	return string(req.EncryptedAuthenticator.Cipher)
}

func FuzzAPRep(f *testing.F) {
	m, legs := fuzzSeeds(f)
	f.Add(legs[1].Token)
	f.Add(legs[1].Token[17:])
	f.Fuzz(func(t *testing.T, tok []byte) {
		cc, _ := m.client.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		if _, err := cc.Step(context.Background(), nil, out); err != nil {
			t.Fatal(err)
		}
		_, err := cc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, nil)
		if err == nil {
			t.Fatalf("AP-REP for another authenticator accepted: %x", tok)
		}
	})
}

func FuzzFraming(f *testing.F) {
	f.Add(frameToken(tokAPReq, []byte{0x6e, 0x00}))
	f.Add(frameToken(tokAPRep, bytes.Repeat([]byte{1}, 300)))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, msg, err := parseFraming(b)
		if err != nil {
			if id != 0 || msg != nil {
				t.Fatal("values returned with an error")
			}
			return
		}
		again := frameToken(id, msg)
		id2, msg2, err := parseFraming(again)
		if err != nil || id2 != id || !bytes.Equal(msg2, msg) {
			t.Fatalf("round trip: %v", err)
		}
		if len(b) > 1 {
			if _, _, err := parseFraming(b[:len(b)-1]); err == nil {
				t.Fatal("a proper prefix parsed")
			}
		}
	})
}

func FuzzChecksum(f *testing.F) {
	f.Add((&gssChecksum{flags: 0x3e}).marshal())
	f.Add((&gssChecksum{flags: gssDeleg | gssMutual, deleg: []byte("krb-cred")}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseGSSChecksum(b)
		if err != nil {
			if c != nil {
				t.Fatal("value returned with an error")
			}
			return
		}
		c2, err := parseGSSChecksum(c.marshal())
		if err != nil || c2.flags != c.flags || c2.bnd != c.bnd || !bytes.Equal(c2.deleg, c.deleg) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzUnwrap feeds arbitrary Wrap and MIC tokens to a session, in the
// stream form and split after the Windows header.
func FuzzUnwrap(f *testing.F) {
	key := types.EncryptionKey{KeyType: 17, KeyValue: bytes.Repeat([]byte{7}, 16)}
	snd, err := newSession(key, true, false, 0, 0, true, fixedReader{1, 2, 3})
	if err != nil {
		f.Fatal(err)
	}
	for _, qop := range []uint32{0, packages.SECQOP_WRAP_NO_ENCRYPT} {
		bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 76)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("fuzz seed data")}}
		if _, err := snd.encryptMessage(qop, bufs); err != nil {
			f.Fatal(err)
		}
		f.Add(append(bufs[0].Data, bufs[1].Data...), len(bufs[0].Data))
	}
	mic := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: []byte("m")}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 28)}}
	if err := snd.makeSignature(0, mic); err != nil {
		f.Fatal(err)
	}
	f.Add(mic[1].Data, 28)
	f.Fuzz(func(t *testing.T, tok []byte, split int) {
		for _, dce := range []bool{false, true} {
			rcv, _ := newSession(key, false, false, 0, 0, false, nil)
			rcv.dce = dce
			checkReceived(t, receiveAll(rcv, tok, split), "fuzz seed data", "m")
		}
	})
}

// received is what receiveAll got through: the plaintext of each message
// that decrypted, and the data of each MIC that verified.
type received struct {
	plain, signed [][]byte
}

// checkReceived is the oracle of the unwrap fuzz targets: the only
// messages the key has made are the seeds, so anything that decrypts or
// verifies must carry exactly a seed's data (a token may still be
// re-encoded: RRC rotation is not protected).
func checkReceived(t *testing.T, r received, wrapped, signed string) {
	t.Helper()
	for _, p := range r.plain {
		if string(p) != wrapped {
			t.Fatalf("a forged token decrypted to %q", p)
		}
	}
	for _, d := range r.signed {
		if string(d) != signed && string(d) != wrapped {
			t.Fatalf("a forged MIC verified over %q", d)
		}
	}
}

// receiveAll hands tok to rcv every way a receiver reads a token: as one
// SECBUFFER_STREAM and, when split falls inside it, as a Wrap TOKEN + DATA
// pair and as MIC DATA + TOKEN cut at split.
func receiveAll(rcv *session, tok []byte, split int) (r received) {
	s := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: bytes.Clone(tok)}, {Type: secbuffer.SECBUFFER_DATA}}
	if _, _, err := rcv.decryptMessage(s); err == nil {
		r.plain = append(r.plain, bytes.Clone(s[1].Data))
	}
	if split >= 0 && split <= len(tok) {
		w := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: bytes.Clone(tok[:split])}, {Type: secbuffer.SECBUFFER_DATA, Data: bytes.Clone(tok[split:])}}
		if _, _, err := rcv.decryptMessage(w); err == nil {
			r.plain = append(r.plain, bytes.Clone(w[1].Data))
		}
		m := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: tok[split:]}, {Type: secbuffer.SECBUFFER_TOKEN, Data: tok[:split]}}
		if _, err := rcv.verifySignature(m); err == nil {
			r.signed = append(r.signed, bytes.Clone(tok[split:]))
		}
	}
	return r
}

func FuzzPAC(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 16, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	// A buffer count far beyond the data (gokrb5's own PAC parser
	// allocates for it and runs out of memory).
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 6, 0, 0, 0, 16, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0})
	key := types.EncryptionKey{KeyType: 18, KeyValue: make([]byte, 32)}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePAC(b, key)
		if err == nil && p == nil {
			t.Fatal("nil PAC without an error")
		}
	})
}

// FuzzUnwrapRC4 feeds arbitrary RFC 4757 tokens to an rc4-hmac session.
func FuzzUnwrapRC4(f *testing.F) {
	key := types.EncryptionKey{KeyType: 23, KeyValue: bytes.Repeat([]byte{9}, 16)}
	snd, err := newSession(key, true, false, 0, 0, true, fixedReader{4, 5, 6})
	if err != nil {
		f.Fatal(err)
	}
	for _, qop := range []uint32{0, packages.SECQOP_WRAP_NO_ENCRYPT} {
		bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 64)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("rc4 fuzz seed")}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 1)}}
		if _, err := snd.encryptMessage(qop, bufs); err != nil {
			f.Fatal(err)
		}
		f.Add(append(append(bufs[0].Data, bufs[1].Data...), bufs[2].Data...), len(bufs[0].Data))
	}
	mic := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: []byte("m")}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 64)}}
	if err := snd.makeSignature(0, mic); err != nil {
		f.Fatal(err)
	}
	f.Add(mic[1].Data, len(mic[1].Data))
	f.Fuzz(func(t *testing.T, tok []byte, split int) {
		rcv, _ := newSession(key, false, false, 0, 0, false, nil)
		checkReceived(t, receiveAll(rcv, tok, split), "rc4 fuzz seed", "m")
	})
}

// FuzzThirdLeg feeds arbitrary tokens to a DCE-style acceptor waiting for
// the client's AP-REP.
func FuzzThirdLeg(f *testing.F) {
	m := newMemRealm(f, 18, nil)
	cc, sc := m.contexts(f, packages.ISC_REQ_USE_DCE_STYLE)
	legs, err := handshake(f, cc, sc, "", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(legs[2].Token)
	f.Add(legs[1].Token)
	// An AP-REP whose enc-part is one byte: gokrb5's decryption slices
	// it before checking its length.
	if short, err := marshalAPRep(18, []byte{0}); err == nil {
		f.Add(frameToken(tokAPRep, short))
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		c, _ := m.client.NewClientContext("HTTP/localhost", packages.ISC_REQ_USE_DCE_STYLE)
		s, _ := m.server.NewServerContext(0)
		buf := func() []secbuffer.Buffer {
			return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		}
		o1 := buf()
		if _, err := c.Step(context.Background(), nil, o1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: o1[0].Data}}, buf()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, buf()); err == nil {
			t.Fatal("third leg of another context accepted")
		}
	})
}
