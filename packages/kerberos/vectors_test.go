package kerberos

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func vector(t testing.TB, name string) *testkit.Vector {
	t.Helper()
	b, err := os.ReadFile(testkit.Path("kerberos", name))
	if err != nil {
		t.Fatal(err)
	}
	v, err := testkit.ParseVector(name, b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustHex(t testing.TB, v *testkit.Vector, key string) []byte {
	t.Helper()
	b, err := v.Hex(key)
	if err != nil || len(b) == 0 {
		t.Fatalf("%s: bad %s: %v", v.Name, key, err)
	}
	return b
}

// fixedReader returns its bytes again and again.
type fixedReader []byte

func (f fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = f[i%len(f)]
	}
	return len(p), nil
}

// TestGokrb5Tokens checks integrity-only Wrap and MIC tokens of a peer's
// session: our receiver accepts them, and our sender produces the same
// bytes for the same sequence number.
func TestGokrb5Tokens(t *testing.T) {
	v := vector(t, "cfx-gokrb5-tokens.txt")
	key := types.EncryptionKey{KeyType: 17, KeyValue: mustHex(t, v, "key")}
	for _, line := range strings.Split(v.Text, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		payload, _ := hex.DecodeString(f[2])
		tok, _ := hex.DecodeString(f[3])
		t.Run(f[0]+"-"+f[1], func(t *testing.T) {
			senderIsInitiator := f[1] == "initiator"
			seq := uint32(0x575e85d6)
			if senderIsInitiator {
				seq = 0
			}
			recv, err := newSession(key, !senderIsInitiator, false, 0, seq, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			send, err := newSession(key, senderIsInitiator, false, seq, 0, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			switch f[0] {
			case "mic":
				bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: payload}, {Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}
				if _, err := recv.verifySignature(bufs); err != nil {
					t.Fatalf("verify: %v", err)
				}
				out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: payload}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 64)}}
				if err := send.makeSignature(0, out); err != nil || !bytes.Equal(out[1].Data, tok) {
					t.Fatalf("makeSignature = %x, %v; want %x", out[1].Data, err, tok)
				}
			case "wrap":
				bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: bytes.Clone(tok)}, {Type: secbuffer.SECBUFFER_DATA}}
				qop, _, err := recv.decryptMessage(bufs)
				if err != nil || qop != packages.SECQOP_WRAP_NO_ENCRYPT || !bytes.Equal(bufs[1].Data, payload) {
					t.Fatalf("decrypt = %x qop %#x, %v", bufs[1].Data, qop, err)
				}
				bad := bytes.Clone(tok)
				bad[17] ^= 1
				recv2, _ := newSession(key, !senderIsInitiator, false, 0, seq, true, nil)
				bufs = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: bad}, {Type: secbuffer.SECBUFFER_DATA}}
				if _, _, err := recv2.decryptMessage(bufs); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
					t.Fatalf("tampered: %v", err)
				}
			}
		})
	}
}

func TestWindowsLayoutVector(t *testing.T) {
	for _, name := range []string{"cfx-windows-layout.txt", "cfx-windows-layout-dce.txt"} {
		t.Run(name, func(t *testing.T) { testWindowsLayout(t, name) })
	}
}

func testWindowsLayout(t *testing.T, name string) {
	v := vector(t, name)
	dce := strings.Contains(name, "dce")
	key := types.EncryptionKey{KeyType: 17, KeyValue: mustHex(t, v, "key")}
	plain := mustHex(t, v, "plaintext")
	wantTok, wantData := mustHex(t, v, "token"), mustHex(t, v, "data")
	s, err := newSession(key, true, false, 0, 0, true, fixedReader(mustHex(t, v, "confounder")))
	if err != nil {
		t.Fatal(err)
	}
	s.dce = dce
	data := bytes.Clone(plain)
	bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 76)}, {Type: secbuffer.SECBUFFER_DATA, Data: data}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 1)}}
	if _, err := s.encryptMessage(0, bufs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bufs[0].Data, wantTok) || !bytes.Equal(bufs[1].Data, wantData) || len(bufs[2].Data) != 0 {
		t.Fatalf("EncryptMessage:\n token %x\n  want %x\n data  %x\n  want %x", bufs[0].Data, wantTok, bufs[1].Data, wantData)
	}
	if !bytes.Equal(append(bytes.Clone(wantTok), wantData...), v.Data) {
		t.Fatal("vector file: token ‖ data differs from the full token")
	}
	if !dce {
		mic := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: plain}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 28)}}
		s2, _ := newSession(key, true, false, 0, 0, true, nil)
		if err := s2.makeSignature(0, mic); err != nil || !bytes.Equal(mic[1].Data, mustHex(t, v, "mic")) {
			t.Fatalf("MIC = %x, %v", mic[1].Data, err)
		}
	}
	// The acceptor reads it in both forms.
	for _, form := range []string{"split", "stream"} {
		r, _ := newSession(key, false, false, 0, 0, true, nil)
		r.dce = dce
		var in []secbuffer.Buffer
		if form == "split" {
			in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: bytes.Clone(wantTok)}, {Type: secbuffer.SECBUFFER_DATA, Data: bytes.Clone(wantData)}}
		} else {
			in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: bytes.Clone(v.Data)}, {Type: secbuffer.SECBUFFER_DATA}}
		}
		if _, _, err := r.decryptMessage(in); err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if !bytes.Equal(in[1].Data, plain) {
			t.Fatalf("%s: plaintext %x", form, in[1].Data)
		}
	}
}
