package ntlm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// mechListMIC stands for the DER MechTypeList SPNEGO signs.
const mechListMIC = "\x30\x0c\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"

// exchangeMIC does what SPNEGO does at the end of an NTLM handshake: the
// client signs the mechListMIC and the server verifies it, then the server
// signs its own and the client verifies it; with reset, each side calls
// ResetMICState after each of those.
func exchangeMIC(t *testing.T, client, server packages.Context, reset bool) {
	t.Helper()
	pass := func(from, to packages.Context) {
		t.Helper()
		msg := signMsg(t, from, mechListMIC)
		if reset {
			from.Session().(interface{ ResetMICState(bool) }).ResetMICState(true)
		}
		if _, err := to.Session().VerifySignature(msg, 0); err != nil {
			t.Fatalf("mechListMIC: %v", err)
		}
		if reset {
			to.Session().(interface{ ResetMICState(bool) }).ResetMICState(false)
		}
	}
	pass(client, server)
	pass(server, client)
}

// TestResetMICState: with key exchange a signature consumes RC4 key
// stream; after the mechListMIC and ResetMICState the first sealed message
// of each direction is sealed with fresh RC4 state (the same ciphertext as
// on a context that signed nothing) while its sequence number moves on.
func TestResetMICState(t *testing.T) {
	const text = "first sealed message"
	for _, tc := range []struct {
		name    string
		noKeyEx bool
	}{
		{"key exchange", false},
		{"no key exchange", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := func() *Config {
				c := testConfig()
				c.DisableKeyExchange = tc.noKeyEx
				return c
			}
			c1, s1 := established(t, cfg(), cfg(), reqSeal)
			if kx := c1.(*clientContext).sessFlags&flagKeyExch != 0; kx == tc.noKeyEx {
				t.Fatalf("KEY_EXCH negotiated: %v", kx)
			}
			exchangeMIC(t, c1, s1, true)
			// A twin pair, the same handshake (fixed Rand and Time), that
			// exchanged no mechListMIC.
			c0, s0 := established(t, cfg(), cfg(), reqSeal)
			for _, dir := range []struct {
				name            string
				from, to, fresh packages.Context
			}{
				{"client to server", c1, s1, c0},
				{"server to client", s1, c1, s0},
			} {
				got := sealMsg(t, dir.from, text)
				want := sealMsg(t, dir.fresh, text)
				if !bytes.Equal(got[1].Data, want[1].Data) {
					t.Errorf("%s: sealed %x, want %x as from fresh RC4 state", dir.name, got[1].Data, want[1].Data)
				}
				if seq := binary.LittleEndian.Uint32(got[0].Data[12:]); seq != 1 {
					t.Errorf("%s: sequence number %d, want 1 (the mechListMIC was 0)", dir.name, seq)
				}
				if _, _, err := dir.to.Session().DecryptMessage(got, 0); err != nil || string(got[1].Data) != text {
					t.Fatalf("%s: DecryptMessage %q: %v", dir.name, got[1].Data, err)
				}
				// And the stream goes on from there.
				next := sealMsg(t, dir.from, "second")
				if _, _, err := dir.to.Session().DecryptMessage(next, 0); err != nil || string(next[1].Data) != "second" {
					t.Fatalf("%s: second message %q: %v", dir.name, next[1].Data, err)
				}
			}
		})
	}
}

// TestResetMICStateOneSided shows the reset matters with key exchange: a
// peer that re-keys against one that does not cannot read its first sealed
// message.
func TestResetMICStateOneSided(t *testing.T) {
	client, server := established(t, testConfig(), testConfig(), reqSeal)
	msg := signMsg(t, client, mechListMIC) // no reset on the client
	if _, err := server.Session().VerifySignature(msg, 0); err != nil {
		t.Fatal(err)
	}
	server.Session().(*ntlmSession).ResetMICState(false)
	sealed := sealMsg(t, client, "hello")
	if _, _, err := server.Session().DecryptMessage(sealed, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
		t.Fatalf("got %v, want SEC_E_MESSAGE_ALTERED", err)
	}
}

// TestResetMICStateDirections: a reset touches only the direction named.
func TestResetMICStateDirections(t *testing.T) {
	client, server := established(t, testConfig(), testConfig(), reqSeal)
	// The client re-keys its inbound cipher, which has not been used: no
	// change; its outbound stream, used once, carries on.
	first := sealMsg(t, client, "one")
	client.Session().(*ntlmSession).ResetMICState(false)
	if _, _, err := server.Session().DecryptMessage(first, 0); err != nil {
		t.Fatal(err)
	}
	second := sealMsg(t, client, "two")
	if _, _, err := server.Session().DecryptMessage(second, 0); err != nil || string(second[1].Data) != "two" {
		t.Fatalf("outbound stream reset by an inbound reset: %q %v", second[1].Data, err)
	}
	reply := sealMsg(t, server, "three")
	if _, _, err := client.Session().DecryptMessage(reply, 0); err != nil || string(reply[1].Data) != "three" {
		t.Fatalf("reply: %q %v", reply[1].Data, err)
	}
}

// TestResetMICStateWithoutESS: without extended session security both
// directions share one RC4 handle, which the reset re-keys.
func TestResetMICStateWithoutESS(t *testing.T) {
	const flags = 0xe2028233 // KEY_EXCH, SEAL, SIGN, no ESS
	key := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	c, s := newSession(flags, key, true), newSession(flags, key, false)
	sig := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte(mechListMIC)}}
	if err := c.makeSignature(0, sig); err != nil {
		t.Fatal(err)
	}
	c.resetRC4(true)
	if _, err := s.verify(sig, false); err != nil {
		t.Fatal(err)
	}
	s.resetRC4(false)
	seal := func(sess *session) []secbuffer.Buffer {
		t.Helper()
		msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("sealed")}}
		if err := sess.encryptMessage(0, msg); err != nil {
			t.Fatal(err)
		}
		return msg
	}
	sig = seal(c)
	want := seal(newSession(flags, key, true))
	if !bytes.Equal(sig[1].Data, want[1].Data) {
		t.Errorf("sealed %x, want %x from fresh RC4 state", sig[1].Data, want[1].Data)
	}
	if qop, err := s.decryptMessage(sig); err != nil || qop != 0 || string(sig[1].Data) != "sealed" {
		t.Fatalf("decrypt %q: %#x %v", sig[1].Data, qop, err)
	}
}

// TestResetMICStateAfterDelete: no session exists before the handshake
// completes; after the session's Delete the call does nothing, and does
// not panic.
func TestResetMICStateAfterDelete(t *testing.T) {
	p := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
	if p.client.Session() != nil || p.server.Session() != nil {
		t.Fatal("a session before the handshake")
	}
	if _, err := testkit.Handshake(context.Background(), p.client, p.server, nil, nil); err != nil {
		t.Fatal(err)
	}
	s := p.client.Session().(*ntlmSession)
	p.client.Delete()
	s.Delete()
	s.ResetMICState(true)
	if err := s.MakeSignature(0, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}}, 0); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Fatalf("after Delete: %v", err)
	}
}
