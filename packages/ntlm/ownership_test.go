package ntlm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/wire"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// Tests of issue 13: who owns the key material (item 1), lengths that do
// not fit their fields and the size cap on tokens (item 7), and secrets
// kept out of fmt output (item 9).

// bigChallenge returns the server's CHALLENGE with an extra AV pair of n
// bytes in its TargetInfo.
func bigChallenge(t *testing.T, chal []byte, n int) []byte {
	t.Helper()
	m, err := parseChallenge(chal)
	if err != nil {
		t.Fatal(err)
	}
	m.targetInfo = append(m.targetInfo[:len(m.targetInfo):len(m.targetInfo)], avPair{id: avDNSTreeName, value: bytes.Repeat([]byte{'x', 0}, n/2)})
	b, err := m.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOversizedChallenge: a CHALLENGE whose TargetInfo is near 64 KiB cannot
// give an AUTHENTICATE whose NtChallengeResponse fits its 16-bit length.
// The client refuses it with SEC_E_INVALID_TOKEN, as Windows does, and
// sends nothing; it used to answer SEC_E_OK with a truncated length.
func TestOversizedChallenge(t *testing.T) {
	p := newPair(t, testConfig(), testConfig(), nil, "HTTP/web.example.com", reqSeal, 0)
	neg, _, err := step(p.client, nil, 4096)
	if err != nil {
		t.Fatal(err)
	}
	chal, _, err := step(p.server, neg, 4096)
	if err != nil {
		t.Fatal(err)
	}
	big := bigChallenge(t, chal, 65300) // the TargetInfo field's 16-bit length allows 65535
	if len(big) < 65300 {
		t.Fatalf("CHALLENGE of %d bytes", len(big))
	}
	out, st, err := step(p.client, big, 1<<20)
	if st == status.SEC_E_OK || !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
		t.Fatalf("Step = %v, %v; want SEC_E_INVALID_TOKEN", st, err)
	}
	if len(out) != 0 {
		t.Fatalf("sent %d bytes", len(out))
	}
	if p.client.Session() != nil {
		t.Fatal("established")
	}
}

// TestLargeChallengeUnderCap: a TargetInfo under the cap still gives an
// AUTHENTICATE whose fields are all as long as the builder made them.
func TestLargeChallengeUnderCap(t *testing.T) {
	p := newPair(t, testConfig(), testConfig(), nil, "HTTP/web.example.com", reqSeal, 0)
	neg, _, err := step(p.client, nil, 4096)
	if err != nil {
		t.Fatal(err)
	}
	chal, _, err := step(p.server, neg, 4096)
	if err != nil {
		t.Fatal(err)
	}
	big := bigChallenge(t, chal, 12000)
	auth, st, err := step(p.client, big, 1<<20)
	if err != nil || st != status.SEC_E_OK {
		t.Fatalf("Step = %v, %v", st, err)
	}
	m, err := parseAuthenticate(auth)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ntChallengeResponse) < 12000 || !bytes.Contains(m.ntChallengeResponse, bytes.Repeat([]byte{'x', 0}, 6000)) {
		t.Fatalf("NT response of %d bytes lacks the server's TargetInfo", len(m.ntChallengeResponse))
	}
}

// TestLongUserName: a name too long for its 16-bit field makes the
// AUTHENTICATE builder fail, and Step with it, instead of sending a field
// whose length was cut to 16 bits.
func TestLongUserName(t *testing.T) {
	user := strings.Repeat("u", 33000) // 66000 bytes of UTF-16
	p := newPair(t, testConfig(), testConfig(), &packages.AuthIdentity{User: user, Domain: "EXAMPLE", Password: "pw"}, "", reqSeal, 0)
	neg, _, err := step(p.client, nil, 4096)
	if err != nil {
		t.Fatal(err)
	}
	chal, _, err := step(p.server, neg, 4096)
	if err != nil {
		t.Fatal(err)
	}
	out, st, err := step(p.client, chal, 1<<20)
	if st == status.SEC_E_OK || !errors.Is(err, status.SEC_E_INVALID_TOKEN) || !errors.Is(err, wire.ErrOverflow) {
		t.Fatalf("Step = %v, %v; want SEC_E_INVALID_TOKEN from an overflow", st, err)
	}
	if len(out) != 0 {
		t.Fatalf("sent %d bytes", len(out))
	}
}

// TestTokenSizeCap: every parser, and both acceptor steps and the
// client's second step, refuse a token over maxTokenSize, even one whose
// excess is payload padding they would otherwise ignore.
func TestTokenSizeCap(t *testing.T) {
	p := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
	neg, chal, auth := legs(t, p)
	pad := func(b []byte) []byte { return append(bytes.Clone(b), make([]byte, maxTokenSize+1-len(b))...) }
	for _, tt := range []struct {
		name  string
		parse func([]byte) error
		msg   []byte
	}{
		{"NEGOTIATE", func(b []byte) error { _, err := parseNegotiate(b); return err }, neg},
		{"CHALLENGE", func(b []byte) error { _, err := parseChallenge(b); return err }, chal},
		{"AUTHENTICATE", func(b []byte) error { _, err := parseAuthenticate(b); return err }, auth},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.parse(append(bytes.Clone(tt.msg), make([]byte, maxTokenSize-len(tt.msg))...)); err != nil {
				t.Fatalf("%d bytes: %v", maxTokenSize, err)
			}
			if err := tt.parse(pad(tt.msg)); !errors.Is(err, errMalformed) || !errors.Is(err, wire.ErrTooLarge) {
				t.Fatalf("%d bytes: %v; want ErrTooLarge", maxTokenSize+1, err)
			}
		})
	}
	t.Run("steps", func(t *testing.T) {
		s := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
		if _, _, err := step(s.server, pad(neg), 4096); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
			t.Fatalf("ASC #1: %v", err)
		}
		s = newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
		n, _, _ := step(s.client, nil, 4096)
		c, _, _ := step(s.server, n, 4096)
		if _, _, err := step(s.client, pad(c), 4096); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
			t.Fatalf("ISC #2: %v", err)
		}
		s = newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
		_, _, a := legs(t, s)
		if _, _, err := step(s.server, pad(a), 4096); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
			t.Fatalf("ASC #2: %v", err)
		}
	})
}

// TestFreeCredentialsMidHandshake: freeing the credentials between the
// client's two steps leaves the handshake whole, since the context owns
// copies of the keys. With LM responses the context used to share the
// credentials' LM hash, which Free zeroed, so the AUTHENTICATE carried an
// LM response computed from zeros.
func TestFreeCredentialsMidHandshake(t *testing.T) {
	for _, tt := range []struct {
		name       string
		ccfg, scfg Config
		noESS      bool // the CHALLENGE loses ESS, so that the LM response comes from the LM hash
	}{
		{name: "NTLMv2"},
		{name: "LM", ccfg: Config{LMCompatibility: AllowLM}, scfg: Config{LMCompatibility: AllowNTLMv1}, noESS: true},
		{name: "NTLMv1-ESS", ccfg: Config{LMCompatibility: AllowNTLMv1}, scfg: Config{LMCompatibility: AllowNTLMv1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ccfg, scfg := testConfig(), testConfig()
			ccfg.LMCompatibility, scfg.LMCompatibility = tt.ccfg.LMCompatibility, tt.scfg.LMCompatibility
			ctx := context.Background()
			cc, err := New(ccfg).AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND,
				&packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"})
			if err != nil {
				t.Fatal(err)
			}
			sc, err := New(scfg).AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND, testUsers)
			if err != nil {
				t.Fatal(err)
			}
			client, err := cc.NewClientContext("", reqSeal)
			if err != nil {
				t.Fatal(err)
			}
			server, err := sc.NewServerContext(0)
			if err != nil {
				t.Fatal(err)
			}
			neg, _, err := step(client, nil, 4096)
			if err != nil {
				t.Fatal(err)
			}
			chal, _, err := step(server, neg, 4096)
			if err != nil {
				t.Fatal(err)
			}
			if tt.noESS {
				f := binary.LittleEndian.Uint32(chal[20:])
				binary.LittleEndian.PutUint32(chal[20:], f&^flagExtendedSessionSecurity)
			}
			cc.Free()
			auth, st, err := step(client, chal, 4096)
			if err != nil || st != status.SEC_E_OK {
				t.Fatalf("ISC #2 after Free: %v, %v", st, err)
			}
			if tt.noESS {
				m, err := parseAuthenticate(auth)
				if err != nil {
					t.Fatal(err)
				}
				lm := lmowfv1("Secret1!")
				_, want := v1Responses(ntowfv1("Secret1!"), &lm, [8]byte(chal[24:32]))
				if !bytes.Equal(m.lmChallengeResponse, want) {
					t.Fatal("the LM response is not computed from the user's LM hash")
				}
			}
			if _, st, err := step(server, auth, 0); err != nil || st != status.SEC_E_OK {
				t.Fatalf("ASC #2: %v, %v", st, err)
			}
		})
	}
}

// TestContextDropsKeys: the client context's copy of the user's keys is
// zeroed when the handshake ends (completed or failed) and on Delete, and
// the session keys on Delete; the credentials' own on Free.
func TestContextDropsKeys(t *testing.T) {
	zero := func(id *identity) bool { return id.nt == [16]byte{} && id.v2 == [16]byte{} && id.lm == [16]byte{} }
	cfg := testConfig()
	cfg.LMCompatibility = AllowLM // so that there is an LM hash too
	newClientOf := func(t *testing.T) (*credentials, *clientContext) {
		cc, err := New(cfg).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
			&packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := cc.NewClientContext("", reqSeal)
		if err != nil {
			t.Fatal(err)
		}
		return cc.(*credentials), c.(*clientContext)
	}
	t.Run("Delete mid-handshake", func(t *testing.T) {
		_, c := newClientOf(t)
		if _, _, err := step(c, nil, 4096); err != nil {
			t.Fatal(err)
		}
		if zero(&c.id) || !c.id.hasLM {
			t.Fatal("the context has no keys to run ISC #2 with")
		}
		c.Delete()
		if !zero(&c.id) {
			t.Fatal("Delete left the NT hash, NTOWFv2 or LM hash in the context")
		}
	})
	t.Run("completed", func(t *testing.T) {
		cred, c := newClientOf(t)
		scfg := testConfig()
		scfg.LMCompatibility = AllowNTLMv1
		s := newPair(t, testConfig(), scfg, nil, "", reqSeal, 0).server
		neg, _, _ := step(c, nil, 4096)
		chal, _, _ := step(s, neg, 4096)
		auth, _, err := step(c, chal, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if !zero(&c.id) || c.transcript != nil {
			t.Fatal("the completed handshake kept the user's keys or its messages")
		}
		if _, _, err := step(s, auth, 0); err != nil {
			t.Fatal(err)
		}
		sc := s.(*serverContext)
		if sc.transcript != nil {
			t.Fatal("the server kept the handshake's messages")
		}
		n := c.Session().(*ntlmSession)
		ks, err := n.keys() // derive the session keys
		if err != nil {
			t.Fatal(err)
		}
		if c.exported == [16]byte{} || ks.out.key == nil || ks.out.mac == nil {
			t.Fatal("no session keys")
		}
		key, mac := ks.out.key, ks.in.mac
		c.Delete()
		if c.exported != [16]byte{} {
			t.Fatal("the handshake's Delete left the exported session key")
		}
		if ks.out.rc4 == nil {
			t.Fatal("the handshake's Delete reached into the session it handed over")
		}
		n.Delete()
		if !bytes.Equal(key, make([]byte, len(key))) || ks.out.rc4 != nil {
			t.Fatal("the session's Delete left session keys")
		}
		if mac.innerState != [md5StateLen]byte{} || mac.outerState != [md5StateLen]byte{} {
			t.Fatal("Delete left the signing key's HMAC state")
		}
		if zero(cred.id) {
			t.Fatal("the context's Delete zeroed the credentials' keys")
		}
		id := cred.id
		cred.Free()
		if !zero(id) {
			t.Fatal("Free left keys in the credentials")
		}
	})
	t.Run("failed", func(t *testing.T) {
		_, c := newClientOf(t)
		if _, _, err := step(c, nil, 4096); err != nil {
			t.Fatal(err)
		}
		if _, _, err := step(c, []byte("not a CHALLENGE"), 4096); err == nil {
			t.Fatal("bad CHALLENGE accepted")
		}
		if !zero(&c.id) {
			t.Fatal("a failed handshake kept the user's keys")
		}
	})
}

// TestSecretsRedacted prints every NTLM value that holds a password, hash
// or key with each fmt verb and checks that no secret shows.
func TestSecretsRedacted(t *testing.T) {
	nt := ntowfv1("Secret1!")
	hash := &NTHash{User: "alice", Domain: "EXAMPLE", Hash: nt}
	cfg := testConfig()
	cfg.Users = testUsers
	pkg := New(cfg)
	cc, err := pkg.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, hash)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := pkg.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
	legs(t, p)
	client := p.client.(*clientContext)
	mid, err := cc.NewClientContext("", reqSeal) // keys still held
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"Secret1!", "hunter2"}
	for _, k := range [][16]byte{nt, client.exported, mid.(*clientContext).id.v2} {
		secrets = append(secrets, fmt.Sprintf("%x", k[:]), fmt.Sprintf("%X", k[:]), fmt.Sprint(k[:]), fmt.Sprint(k), fmt.Sprintf("%#v", k), fmt.Sprintf("%q", k[:]))
	}
	values := []struct {
		name string
		v    any
	}{
		{"Users", testUsers},
		{"*Users", &testUsers},
		{"NTHash", *hash},
		{"*NTHash", hash},
		{"Package", pkg},
		{"Config", *cfg},
		{"client credentials", cc},
		{"server credentials", sc},
		{"established context", p.client},
		{"context mid-handshake", mid},
		{"in a struct", struct{ U Users }{testUsers}},
		{"in a slice", []any{testUsers, hash}},
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			out := fmt.Sprintf(verb, v.v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s printed with %s shows a secret (%q): %s", v.name, verb, s, out)
				}
			}
		}
	}
	if out := fmt.Sprint(testUsers); !strings.Contains(out, `EXAMPLE\alice`) || !strings.Contains(out, redacted) {
		t.Errorf("Users prints as %s; want the names with the passwords redacted", out)
	}
}
