package ntlm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// established returns a client and server that completed a handshake with
// the client request creq.
func established(t testing.TB, ccfg, scfg *Config, creq uint32) (client, server packages.Context) {
	t.Helper()
	p := newPairWith(t, ccfg, scfg, nil, "HTTP/web.example.com", creq, 0)
	if _, err := testkit.Handshake(context.Background(), p.client, p.server, nil, nil); err != nil {
		t.Fatal(err)
	}
	return p.client, p.server
}

func signMsg(t *testing.T, c packages.Context, data string) []secbuffer.Buffer {
	t.Helper()
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_DATA, Data: []byte(data)},
		{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 16)},
	}
	if err := c.Session().MakeSignature(0, msg, 0); err != nil {
		t.Fatal(err)
	}
	return msg
}

func sealMsg(t testing.TB, c packages.Context, data string) []secbuffer.Buffer {
	t.Helper()
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)},
		{Type: secbuffer.SECBUFFER_DATA, Data: []byte(data)},
	}
	if _, err := c.Session().EncryptMessage(0, msg, 0); err != nil {
		t.Fatal(err)
	}
	return msg
}

func cloneMsg(msg []secbuffer.Buffer) []secbuffer.Buffer {
	out := make([]secbuffer.Buffer, len(msg))
	for i, b := range msg {
		out[i] = secbuffer.Buffer{Type: b.Type, Data: bytes.Clone(b.Data)}
	}
	return out
}

func TestSignatureFailures(t *testing.T) {
	for _, mode := range []struct {
		name string
		ccfg func(*Config)
	}{
		{"v2", nil},
		{"v2 no key exch", func(c *Config) { c.DisableKeyExchange = true }},
		{"v1 ESS", func(c *Config) { c.LMCompatibility = AllowNTLMv1 }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ccfg, scfg := testConfig(), testConfig()
			if mode.ccfg != nil {
				mode.ccfg(ccfg)
				mode.ccfg(scfg)
			}
			client, server := established(t, ccfg, scfg, reqSeal)

			// Tampered data: MESSAGE_ALTERED; the stream stays in step.
			m := signMsg(t, client, "hello")
			bad := cloneMsg(m)
			bad[0].Data[0] ^= 1
			if _, err := server.Session().VerifySignature(bad, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
				t.Fatalf("tampered: %v", err)
			}
			m = signMsg(t, client, "next")
			if _, err := server.Session().VerifySignature(m, 0); err != nil {
				t.Fatalf("after tampering: %v", err)
			}
			// Replay: OUT_OF_SEQUENCE, context still usable.
			if _, err := server.Session().VerifySignature(cloneMsg(m), 0); !errors.Is(err, status.SEC_E_OUT_OF_SEQUENCE) {
				t.Fatalf("replay: %v", err)
			}
			// Reorder.
			m1, m2 := signMsg(t, client, "one"), signMsg(t, client, "two")
			if _, err := server.Session().VerifySignature(m2, 0); !errors.Is(err, status.SEC_E_OUT_OF_SEQUENCE) {
				t.Fatalf("reordered: %v", err)
			}
			for _, m := range [][]secbuffer.Buffer{m1, m2} {
				if _, err := server.Session().VerifySignature(m, 0); err != nil {
					t.Fatalf("in order after reorder: %v", err)
				}
			}
			// Sealed and tampered.
			s := sealMsg(t, server, "secret")
			s[1].Data[2] ^= 0x80
			if _, _, err := client.Session().DecryptMessage(s, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
				t.Fatalf("sealed tampered: %v", err)
			}
			s = sealMsg(t, server, "secret 2")
			if _, _, err := client.Session().DecryptMessage(s, 0); err != nil || string(s[1].Data) != "secret 2" {
				t.Fatalf("after sealed tampering: %q %v", s[1].Data, err)
			}
			// Tampered signature.
			s = sealMsg(t, server, "secret 3")
			s[0].Data[5] ^= 1
			if _, _, err := client.Session().DecryptMessage(s, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
				t.Fatalf("signature tampered: %v", err)
			}
		})
	}
}

func TestBufferFlags(t *testing.T) {
	client, server := established(t, testConfig(), testConfig(), reqSeal)
	mk := func() []secbuffer.Buffer {
		return []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_DATA | secbuffer.SECBUFFER_READONLY, Data: []byte("header")},
			{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)},
			{Type: secbuffer.SECBUFFER_DATA, Data: []byte("body")},
			{Type: secbuffer.SECBUFFER_DATA | secbuffer.SECBUFFER_READONLY_WITH_CHECKSUM, Data: []byte("trailer")},
		}
	}
	m := mk()
	if _, err := client.Session().EncryptMessage(0, m, 0); err != nil {
		t.Fatal(err)
	}
	if string(m[0].Data) != "header" || string(m[3].Data) != "trailer" || string(m[2].Data) == "body" {
		t.Fatalf("read-only buffers changed or data not sealed: %q %q %q", m[0].Data, m[2].Data, m[3].Data)
	}
	// A READONLY buffer is not signed: changing it goes unnoticed.
	m[0].Data = []byte("HEADER")
	if _, _, err := server.Session().DecryptMessage(m, 0); err != nil || string(m[2].Data) != "body" {
		t.Fatalf("decrypt: %q %v", m[2].Data, err)
	}
	// A READONLY_WITH_CHECKSUM buffer is signed.
	m = mk()
	if _, err := client.Session().EncryptMessage(0, m, 0); err != nil {
		t.Fatal(err)
	}
	m[3].Data = []byte("TRAILER")
	if _, _, err := server.Session().DecryptMessage(m, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
		t.Fatalf("checksummed buffer changed: %v", err)
	}
}

func TestPaddingBuffer(t *testing.T) {
	client, server := established(t, testConfig(), testConfig(), reqSeal)
	m := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)},
		{Type: secbuffer.SECBUFFER_DATA, Data: []byte("data")},
		{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 8)},
	}
	if _, err := client.Session().EncryptMessage(0, m, 0); err != nil {
		t.Fatal(err)
	}
	if len(m[2].Data) != 0 {
		t.Errorf("PADDING is %d bytes, want 0", len(m[2].Data))
	}
	if _, _, err := server.Session().DecryptMessage(m, 0); err != nil || string(m[1].Data) != "data" {
		t.Fatalf("decrypt: %q %v", m[1].Data, err)
	}
}

func TestWrapNoEncrypt(t *testing.T) {
	client, server := established(t, testConfig(), testConfig(), reqSeal)
	for i := 0; i < 2; i++ {
		m := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("clear")}}
		if _, err := client.Session().EncryptMessage(packages.SECQOP_WRAP_NO_ENCRYPT, m, 0); err != nil {
			t.Fatal(err)
		}
		if string(m[1].Data) != "clear" {
			t.Fatalf("WRAP_NO_ENCRYPT encrypted the data: %x", m[1].Data)
		}
		qop, _, err := server.Session().DecryptMessage(m, 0)
		if err != nil || qop != packages.SECQOP_WRAP_NO_ENCRYPT || string(m[1].Data) != "clear" {
			t.Fatalf("decrypt: qop %#x %q %v", qop, m[1].Data, err)
		}
		s := sealMsg(t, client, "sealed")
		qop, _, err = server.Session().DecryptMessage(s, 0)
		if err != nil || qop != 0 || string(s[1].Data) != "sealed" {
			t.Fatalf("sealed after no-encrypt: qop %#x %q %v", qop, s[1].Data, err)
		}
	}
	if _, err := client.Session().EncryptMessage(0x1234, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}}, 0); !errors.Is(err, status.SEC_E_QOP_NOT_SUPPORTED) {
		t.Errorf("bad qop: %v", err)
	}
}

func TestMessageCallErrors(t *testing.T) {
	p := newPair(t, testConfig(), testConfig(), nil, "", reqSign, 0)
	msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}}
	if p.client.Session() != nil {
		t.Error("a session before the handshake")
	}
	if _, err := testkit.Handshake(context.Background(), p.client, p.server, nil, nil); err != nil {
		t.Fatal(err)
	}
	cs := p.client.Session()
	small := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: []byte("x")}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 8)}}
	if err := p.client.Session().MakeSignature(0, small, 0); !errors.Is(err, status.SEC_E_BUFFER_TOO_SMALL) {
		t.Errorf("small token: %v", err)
	}
	if err := p.client.Session().MakeSignature(0, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA}}, 0); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
		t.Errorf("no token: %v", err)
	}
	// A SIGN-only session seals when asked, as Windows' does (Active
	// Directory's LDAP reads SIGN as SEAL), and the peer unseals it.
	sealedMsg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("sealed on a SIGN-only session")}}
	if _, err := p.client.Session().EncryptMessage(0, sealedMsg, 0); err != nil {
		t.Errorf("seal on a SIGN-only session: %v", err)
	} else if bytes.Contains(sealedMsg[1].Data, []byte("SIGN-only")) {
		t.Errorf("data left in clear")
	} else if qop, _, err := p.server.Session().DecryptMessage(sealedMsg, 0); err != nil || qop != 0 || string(sealedMsg[1].Data) != "sealed on a SIGN-only session" {
		t.Errorf("unseal on a SIGN-only session: qop %#x, %q, %v", qop, sealedMsg[1].Data, err)
	}
	if _, err := p.server.Session().VerifySignature([]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 3)}}, 0); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
		t.Errorf("short signature: %v", err)
	}
	p.client.Delete()
	p.client.Delete()
	if p.client.Session() != nil {
		t.Error("a deleted context still hands over a session")
	}
	cs.Delete()
	cs.Delete()
	if err := cs.MakeSignature(0, msg, 0); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("MakeSignature after Delete: %v", err)
	}
	if _, err := p.client.QueryAttribute(packages.SECPKG_ATTR_SESSION_KEY); err == nil {
		t.Error("session key after Delete")
	}
}

// step runs one Step with a token and returns the output token.
func step(c packages.Context, token []byte, capacity int, extra ...secbuffer.Buffer) ([]byte, status.Status, error) {
	var in []secbuffer.Buffer
	if token != nil {
		in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: token})
	}
	in = append(in, extra...)
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, capacity)}}
	st, err := c.Step(context.Background(), in, out)
	return out[0].Data, st, err
}

// legs runs NEGOTIATE and CHALLENGE and returns the three messages, the
// AUTHENTICATE not yet given to the server.
func legs(t *testing.T, p pair) (neg, chal, auth []byte) {
	t.Helper()
	var err error
	if neg, _, err = step(p.client, nil, 4096); err != nil {
		t.Fatal(err)
	}
	if chal, _, err = step(p.server, neg, 4096); err != nil {
		t.Fatal(err)
	}
	if auth, _, err = step(p.client, chal, 4096); err != nil {
		t.Fatal(err)
	}
	return neg, chal, auth
}

func TestMIC(t *testing.T) {
	t.Run("tampered", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
		_, _, auth := legs(t, p)
		auth[micOffset] ^= 1
		if _, _, err := step(p.server, auth, 0); !errors.Is(err, status.SEC_E_LOGON_DENIED) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("flags tampered", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
		_, _, auth := legs(t, p)
		auth[60] &^= flagSeal // drop SEAL: the MIC covers the flags
		if _, _, err := step(p.server, auth, 0); !errors.Is(err, status.SEC_E_LOGON_DENIED) {
			t.Fatalf("got %v", err)
		}
	})
	// A stripped MIC: the MIC field removed, MsvAvFlags still announcing
	// it.
	t.Run("stripped", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
		_, _, auth := legs(t, p)
		m, err := parseAuthenticate(auth)
		if err != nil {
			t.Fatal(err)
		}
		m.hasMIC = false
		_, _, err = step(p.server, mustMarshal(t, m), 0)
		wantDenied(t, err, "announces a MIC")
	})
	// The MIC field kept but zeroed, MsvAvFlags unchanged.
	t.Run("zeroed", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
		_, _, auth := legs(t, p)
		clear(auth[micOffset : micOffset+16])
		_, _, err := step(p.server, auth, 0)
		wantDenied(t, err, "MIC does not match")
	})
	// Clearing the MIC-present bit of MsvAvFlags, with or without the MIC
	// field, changes the NTLMv2 blob and so breaks NTProofStr: a logon
	// failure, not an accepted MIC-less client.
	for _, keepMIC := range []bool{false, true} {
		t.Run(fmt.Sprintf("flag cleared, MIC field kept %v", keepMIC), func(t *testing.T) {
			p := newPair(t, testConfig(), testConfig(), nil, "", reqSeal, 0)
			_, _, auth := legs(t, p)
			m, err := parseAuthenticate(auth)
			if err != nil {
				t.Fatal(err)
			}
			m.ntChallengeResponse = clearMICFlag(t, m.ntChallengeResponse)
			m.hasMIC = keepMIC
			_, _, err = step(p.server, mustMarshal(t, m), 0)
			wantDenied(t, err, "logon failure")
		})
	}
	t.Run("RequireMIC accepts a client that sends one", func(t *testing.T) {
		scfg := testConfig()
		scfg.RequireMIC = true
		p := newPair(t, testConfig(), scfg, nil, "", reqSeal, 0)
		if _, err := testkit.Handshake(context.Background(), p.client, p.server, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("RequireMIC refuses NTLMv1", func(t *testing.T) {
		ccfg, scfg := testConfig(), testConfig()
		ccfg.LMCompatibility, scfg.LMCompatibility = AllowNTLMv1, AllowNTLMv1
		scfg.RequireMIC = true
		p := newPair(t, ccfg, scfg, nil, "", reqSeal, 0)
		_, _, auth := legs(t, p)
		_, _, err := step(p.server, auth, 0)
		wantDenied(t, err, "RequireMIC")
	})
}

// wantDenied checks that err is SEC_E_LOGON_DENIED for the reason given.
func wantDenied(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, status.SEC_E_LOGON_DENIED) {
		t.Fatalf("got %v, want SEC_E_LOGON_DENIED", err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("got %v, want a failure mentioning %q", err, reason)
	}
}

// clearMICFlag returns a copy of an NTLMv2 response whose MsvAvFlags has
// its MIC-present bit cleared, NTProofStr left as it was.
func clearMICFlag(t *testing.T, resp []byte) []byte {
	t.Helper()
	out := bytes.Clone(resp)
	for off := 16 + 28; off+4 <= len(out); {
		id := binary.LittleEndian.Uint16(out[off:])
		n := int(binary.LittleEndian.Uint16(out[off+2:]))
		if id == avEOL {
			break
		}
		if id == avFlags && n == 4 {
			v := binary.LittleEndian.Uint32(out[off+4:])
			if v&avFlagMIC == 0 {
				t.Fatal("MsvAvFlags does not announce a MIC")
			}
			binary.LittleEndian.PutUint32(out[off+4:], v&^avFlagMIC)
			return out
		}
		off += 4 + n
	}
	t.Fatal("no MsvAvFlags in the NTLMv2 response")
	return nil
}

func TestMalformedLegs(t *testing.T) {
	garbage := []byte("NTLMSSP\x00garbage")
	t.Run("ASC #1", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), nil, "", 0, 0)
		for _, tok := range [][]byte{garbage, nil, make([]byte, 100)} {
			p := newPair(t, testConfig(), testConfig(), nil, "", 0, 0)
			if _, _, err := step(p.server, tok, 4096); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
				t.Errorf("token %q: %v", tok, err)
			}
		}
		// An AUTHENTICATE where NEGOTIATE is expected.
		_, _, auth := legs(t, p)
		q := newPair(t, testConfig(), testConfig(), nil, "", 0, 0)
		_, _, err := step(q.server, auth, 4096)
		var ue *unexpectedMessageError
		if !errors.Is(err, status.SEC_E_INVALID_TOKEN) || !errors.As(err, &ue) || ue.got != "AUTHENTICATE_MESSAGE" || ue.expected != "NEGOTIATE_MESSAGE" {
			t.Errorf("AUTHENTICATE at ASC #1: %v", err)
		}
	})
	t.Run("ISC #2", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), nil, "", 0, 0)
		neg, _, _ := step(p.client, nil, 4096)
		chal, _, _ := step(p.server, neg, 4096)
		if _, _, err := step(p.client, chal[:len(chal)-4], 4096); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
			t.Fatalf("truncated CHALLENGE: %v", err)
		}
		// Sticky.
		if _, _, err := step(p.client, chal, 4096); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
			t.Fatalf("after failure: %v", err)
		}
	})
	t.Run("ASC #2", func(t *testing.T) {
		for _, cut := range []int{1, 20, 100} {
			p := newPair(t, testConfig(), testConfig(), nil, "", 0, 0)
			_, _, auth := legs(t, p)
			if _, _, err := step(p.server, auth[:len(auth)-cut], 0); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
				t.Errorf("AUTHENTICATE less %d bytes: %v", cut, err)
			}
		}
	})
	t.Run("no output buffer", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), nil, "", 0, 0)
		if _, err := p.client.Step(context.Background(), nil, nil); !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("buffer too small is not fatal", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), nil, "", 0, 0)
		if _, _, err := step(p.client, nil, 10); !errors.Is(err, status.SEC_E_BUFFER_TOO_SMALL) {
			t.Fatalf("got %v", err)
		}
		neg, st, err := step(p.client, nil, 4096)
		if err != nil || st != status.SEC_I_CONTINUE_NEEDED || len(neg) != negotiateLen {
			t.Fatalf("retry: %d bytes, %v, %v", len(neg), st, err)
		}
		if p.client.Flags()&packages.ISC_RET_CONNECTION == 0 {
			t.Errorf("flags after ISC #1: %#x", p.client.Flags())
		}
	})
}

func TestConcurrentDirections(t *testing.T) {
	client, server := established(t, testConfig(), testConfig(), reqSeal)
	const n = 200
	c2s := make(chan []secbuffer.Buffer, n)
	s2c := make(chan []secbuffer.Buffer, n)
	var wg sync.WaitGroup
	wg.Add(4)
	send := func(from packages.Context, ch chan []secbuffer.Buffer) {
		defer wg.Done()
		for i := 0; i < n; i++ {
			ch <- sealMsg(t, from, "payload")
		}
		close(ch)
	}
	recv := func(to packages.Context, ch chan []secbuffer.Buffer) {
		defer wg.Done()
		for m := range ch {
			if _, _, err := to.Session().DecryptMessage(m, 0); err != nil || string(m[1].Data) != "payload" {
				t.Errorf("decrypt: %v", err)
				return
			}
		}
	}
	go send(client, c2s)
	go send(server, s2c)
	go recv(server, c2s)
	go recv(client, s2c)
	wg.Wait()
}

func TestAttributes(t *testing.T) {
	client, server := established(t, testConfig(), testConfig(), reqSeal)
	sz, err := client.QueryAttribute(packages.SECPKG_ATTR_SIZES)
	if err != nil || *sz.(*packages.SecPkgContext_Sizes) != (packages.SecPkgContext_Sizes{MaxToken: 2888, MaxSignature: 16, SecurityTrailer: 16}) {
		t.Errorf("SIZES %+v %v", sz, err)
	}
	nn, err := server.QueryAttribute(packages.SECPKG_ATTR_NATIVE_NAMES)
	if err != nil || *nn.(*packages.NativeNames) != (packages.NativeNames{ClientName: `EXAMPLE\alice`, ServerName: "HTTP/web.example.com"}) {
		t.Errorf("server NATIVE_NAMES %+v %v", nn, err)
	}
	ki, err := client.QueryAttribute(packages.SECPKG_ATTR_KEY_INFO)
	if err != nil || ki.(*packages.KeyInfo).KeySize != 128 || ki.(*packages.KeyInfo).SignatureAlgorithmName != "HMAC-MD5" {
		t.Errorf("KEY_INFO %+v %v", ki, err)
	}
	ni, err := client.QueryAttribute(packages.SECPKG_ATTR_NEGOTIATION_INFO)
	if err != nil || ni.(*packages.NegotiationInfo).PackageInfo.Name != "NTLM" || ni.(*packages.NegotiationInfo).NegotiationState != packages.SECPKG_NEGOTIATION_COMPLETE {
		t.Errorf("NEGOTIATION_INFO %+v %v", ni, err)
	}
	ls, err := server.QueryAttribute(packages.SECPKG_ATTR_LIFESPAN)
	if err != nil || ls.(*packages.SecPkgContext_Lifespan).Expiry != packages.TimeStampNever || ls.(*packages.SecPkgContext_Lifespan).Start.Time() != fixedTime {
		t.Errorf("LIFESPAN %+v %v", ls, err)
	}
	fl, err := server.QueryAttribute(packages.SECPKG_ATTR_FLAGS)
	if err != nil || fl.(*packages.SecPkgContext_Flags).Flags != server.Flags() {
		t.Errorf("FLAGS %+v %v", fl, err)
	}
	if _, err := client.QueryAttribute(0xdead); !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
		t.Errorf("unknown attribute: %v", err)
	}
	if New(nil).Info() != (packages.Info{Name: "NTLM", Comment: "NTLM Security Package", Capabilities: 0x00882B37, Version: 1, RPCID: 10, MaxToken: 2888}) {
		t.Errorf("Info %+v", New(nil).Info())
	}
}

func TestUserFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "users")
	content := "# test users\nEXAMPLE:alice:Secret1!\n:bob:pw:with:colons\n" +
		`OTHER\carol:1000:AAD3B435B51404EEAAD3B435B51404EE:` + hexNT("carolpw") + ":[U          ]:LCT-00000000:\n"
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NTLM_USER_FILE", f)
	for _, tc := range []struct {
		principal string
		wantName  string
		wantErr   bool
	}{
		{"", `EXAMPLE\alice`, false},
		{"bob", "bob", false},
		{`OTHER\carol`, `OTHER\carol`, false},
		{"carol@OTHER", `OTHER\carol`, false},
		{"dave", "", true},
	} {
		t.Run("client "+tc.principal, func(t *testing.T) {
			p := New(testConfig())
			cred, err := p.AcquireCredentials(context.Background(), tc.principal, packages.SECPKG_CRED_OUTBOUND, nil)
			if tc.wantErr {
				if !errors.Is(err, status.SEC_E_NO_CREDENTIALS) {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cred.UserName() != tc.wantName {
				t.Fatalf("user %q", cred.UserName())
			}
			// The server reads the same file.
			scred, err := New(testConfig()).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, nil)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := cred.NewClientContext("", 0)
			s, _ := scred.NewServerContext(0)
			if _, err := testkit.Handshake(context.Background(), c, s, nil, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("bad password via file store", func(t *testing.T) {
		p := newPair(t, testConfig(), testConfig(), &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "x"}, "", 0, 0)
		scred, _ := New(testConfig()).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, UserFile(f))
		s, _ := scred.NewServerContext(0)
		if _, err := testkit.Handshake(context.Background(), p.client, s, nil, nil); !errors.Is(err, status.SEC_E_LOGON_DENIED) {
			t.Fatalf("got %v", err)
		}
	})
}

func hexNT(pw string) string {
	h := ntowfv1(pw)
	const digits = "0123456789ABCDEF"
	var b []byte
	for _, c := range h {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}

func TestLookupFunc(t *testing.T) {
	failing := errors.New("directory down")
	for _, tc := range []struct {
		name string
		fn   LookupFunc
		want status.Status
	}{
		{"ok", func(_ context.Context, d, u string) ([16]byte, error) { return ntowfv1("Secret1!"), nil }, 0},
		{"unknown", func(context.Context, string, string) ([16]byte, error) { return [16]byte{}, ErrUnknownUser }, status.SEC_E_LOGON_DENIED},
		{"error", func(context.Context, string, string) ([16]byte, error) { return [16]byte{}, failing }, status.SEC_E_INTERNAL_ERROR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := New(testConfig())
			cred, _ := cp.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"})
			scred, err := New(testConfig()).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, tc.fn)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := cred.NewClientContext("", 0)
			s, _ := scred.NewServerContext(0)
			_, err = testkit.Handshake(context.Background(), c, s, nil, nil)
			if tc.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == status.SEC_E_INTERNAL_ERROR && !errors.Is(err, failing) {
				t.Errorf("cause lost: %v", err)
			}
		})
	}
}

// TestGoNTLMSSPClient runs go-ntlmssp, an independent client, against our
// server. go-ntlmssp computes no MIC and its MsvAvFlags says so: the
// default server accepts it, as Windows does; RequireMIC refuses it.
func TestGoNTLMSSPClient(t *testing.T) {
	for _, tc := range []struct {
		name       string
		user       string
		dflt       bool // New(nil), the package the sspi root registers
		requireMIC bool
		wantErr    status.Status
		wantName   string
	}{
		{"accepted", `EXAMPLE\alice`, false, false, 0, `EXAMPLE\alice`},
		{"no domain", "bob", false, false, 0, "bob"},
		{"accepted by the default package", `EXAMPLE\alice`, true, false, 0, `EXAMPLE\alice`},
		{"refused with RequireMIC", `EXAMPLE\alice`, false, true, status.SEC_E_LOGON_DENIED, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkg := New(nil)
			if !tc.dflt {
				scfg := testConfig()
				scfg.RequireMIC = tc.requireMIC
				pkg = New(scfg)
			}
			scred, err := pkg.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, testUsers)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := scred.NewServerContext(0)
			neg, err := ntlmssp.NewNegotiateMessage("", "")
			if err != nil {
				t.Fatal(err)
			}
			chal, st, err := step(s, neg, 4096)
			if err != nil || st != status.SEC_I_CONTINUE_NEEDED {
				t.Fatalf("ASC #1: %v %v", st, err)
			}
			pw := testUsers[`EXAMPLE\alice`]
			if tc.user == "bob" {
				pw = testUsers["bob"]
			}
			auth, err := ntlmssp.NewAuthenticateMessage(chal, tc.user, pw, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m, err := parseAuthenticate(auth); err != nil || m.hasMIC {
				t.Fatalf("go-ntlmssp AUTHENTICATE: MIC field %v, %v", m != nil && m.hasMIC, err)
			}
			_, st, err = step(s, auth, 0)
			if tc.wantErr != 0 {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || st != status.SEC_E_OK {
				t.Fatalf("ASC #2: %v %v", st, err)
			}
			n, _ := s.QueryAttribute(packages.SECPKG_ATTR_NAMES)
			if n.(*packages.Names).UserName != tc.wantName {
				t.Errorf("NAMES %q", n.(*packages.Names).UserName)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		scred, _ := New(testConfig()).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, testUsers)
		s, _ := scred.NewServerContext(0)
		neg, _ := ntlmssp.NewNegotiateMessage("", "")
		chal, _, err := step(s, neg, 4096)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := ntlmssp.NewAuthenticateMessage(chal, `EXAMPLE\alice`, "bad", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := step(s, auth, 0); !errors.Is(err, status.SEC_E_LOGON_DENIED) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCredentialUse(t *testing.T) {
	t.Setenv("NTLM_USER_FILE", "")
	ctx := context.Background()
	p := New(testConfig())
	id := &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"}
	for _, tc := range []struct {
		name       string
		use        uint32
		authData   any
		wantErr    status.Status
		client, sv bool // which contexts can be created
	}{
		{"outbound identity", packages.SECPKG_CRED_OUTBOUND, id, 0, true, false},
		{"outbound nothing", packages.SECPKG_CRED_OUTBOUND, nil, status.SEC_E_NO_CREDENTIALS, false, false},
		{"inbound store", packages.SECPKG_CRED_INBOUND, testUsers, 0, false, true},
		{"inbound nothing", packages.SECPKG_CRED_INBOUND, nil, status.SEC_E_NO_CREDENTIALS, false, false},
		{"both identity", packages.SECPKG_CRED_BOTH, id, 0, true, false},
		{"both store", packages.SECPKG_CRED_BOTH, testUsers, 0, false, true},
		{"outbound store", packages.SECPKG_CRED_OUTBOUND, testUsers, status.SEC_E_UNKNOWN_CREDENTIALS, false, false},
		{"unknown type", packages.SECPKG_CRED_OUTBOUND, 42, status.SEC_E_UNKNOWN_CREDENTIALS, false, false},
		{"bad use", 0, id, status.SEC_E_INVALID_PARAMETER, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := p.AcquireCredentials(ctx, "", tc.use, tc.authData)
			if tc.wantErr != 0 {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cred.NewClientContext("", 0); (err == nil) != tc.client {
				t.Errorf("NewClientContext: %v", err)
			}
			if _, err := cred.NewServerContext(0); (err == nil) != tc.sv {
				t.Errorf("NewServerContext: %v", err)
			}
			if _, err := cred.NewClientContext("", packages.ISC_REQ_DATAGRAM); tc.client && !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
				t.Errorf("datagram client: %v", err)
			}
			if _, err := cred.NewServerContext(packages.ASC_REQ_DATAGRAM); tc.sv && !errors.Is(err, status.SEC_E_UNSUPPORTED_FUNCTION) {
				t.Errorf("datagram server: %v", err)
			}
			cred.Free()
			if _, err := cred.NewClientContext("", 0); err == nil {
				t.Error("NewClientContext after Free")
			}
		})
	}
}

// TestCurlNegotiate: the server answers curl's 32-byte OEM NEGOTIATE with
// an OEM CHALLENGE that keeps ESS.
func TestCurlNegotiate(t *testing.T) {
	p := newPair(t, testConfig(), testConfig(), nil, "", 0, 0)
	chal, st, err := step(p.server, mustHex(t, curlNegotiate), 4096)
	if err != nil || st != status.SEC_I_CONTINUE_NEEDED {
		t.Fatalf("%v %v", st, err)
	}
	m, err := parseChallenge(chal)
	if err != nil {
		t.Fatal(err)
	}
	if m.flags&flagOEM == 0 || m.flags&flagUnicode != 0 || m.flags&flagExtendedSessionSecurity == 0 || m.flags&flagKeyExch != 0 {
		t.Errorf("CHALLENGE flags %#x", m.flags)
	}
	if m.targetName != "SERVER" {
		t.Errorf("target name %q", m.targetName)
	}
}

// TestSessionWithoutESS exercises NTLMv1 session security (no extended
// session security: CRC32 checksums, one RC4 state and one sequence counter
// shared by both directions) between two sessions built from one key.
func TestSessionWithoutESS(t *testing.T) {
	for _, flags := range []uint32{0xe2028233, 0x82028233 | flagLMKey, 0x02028233 | flagLMKey} {
		t.Run(fmt.Sprintf("%08x", flags), func(t *testing.T) {
			key := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
			c, s := newSession(flags, key, true), newSession(flags, key, false)
			if c.out != c.in {
				t.Fatal("directions do not share their state without ESS")
			}
			send := func(from, to *session, text string, seal bool, qop uint32) {
				t.Helper()
				msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte(text)}}
				var err error
				if seal {
					err = from.encryptMessage(qop, msg)
				} else {
					err = from.makeSignature(0, msg)
				}
				if err != nil {
					t.Fatal(err)
				}
				if binary.LittleEndian.Uint32(msg[0].Data[4:8]) != 0 {
					t.Errorf("RandomPad %x, want zero", msg[0].Data[4:8])
				}
				if seal {
					got, err := to.decryptMessage(msg)
					if err != nil || got != qop || string(msg[1].Data) != text {
						t.Fatalf("decrypt %q: qop %#x %v", msg[1].Data, got, err)
					}
				} else if _, err := to.verify(msg, false); err != nil {
					t.Fatal(err)
				}
			}
			send(c, s, "c2s signed", false, 0)
			send(s, c, "s2c signed", false, 0)
			send(c, s, "c2s sealed", true, 0)
			send(s, c, "s2c sealed", true, 0)
			send(c, s, "c2s clear", true, packages.SECQOP_WRAP_NO_ENCRYPT)
			send(s, c, "s2c sealed again", true, 0)
			// A replay is caught through the encrypted sequence number.
			msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("x")}}
			if err := c.makeSignature(0, msg); err != nil {
				t.Fatal(err)
			}
			if _, err := s.verify(msg, false); err != nil {
				t.Fatal(err)
			}
			if _, err := s.verify(msg, false); err == nil {
				t.Fatal("replayed message verified")
			}
		})
	}
}
