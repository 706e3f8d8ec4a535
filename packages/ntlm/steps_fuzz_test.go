package ntlm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Fuzz targets over whole handshake steps: whatever the peer sends, a
// context answers with a status, never a panic, and never an internal
// error.

// fuzzPair returns a client that sent NEGOTIATE, a server that answered
// it, and the NEGOTIATE and CHALLENGE bytes.
func fuzzPair(t testing.TB) (p pair, neg, chal []byte) {
	scfg := testConfig()
	scfg.LMCompatibility = AllowNTLMv1
	ccfg := testConfig()
	p = newPairTB(t, ccfg, scfg)
	var err error
	if neg, _, err = step(p.client, nil, 4096); err != nil {
		t.Fatal(err)
	}
	if chal, _, err = step(p.server, neg, 4096); err != nil {
		t.Fatal(err)
	}
	return p, neg, chal
}

func checkStepError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	switch st := status.Code(err); st {
	case status.SEC_E_INVALID_TOKEN, status.SEC_E_LOGON_DENIED, status.SEC_E_BAD_BINDINGS, status.SEC_E_UNSUPPORTED_FUNCTION:
	default:
		t.Fatalf("unexpected status %v: %v", st, err)
	}
	var se *status.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v carries no *status.Error", err)
	}
}

func FuzzAccept(f *testing.F) {
	p, _, chal := fuzzPair(f)
	auth, _, err := step(p.client, chal, 4096)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(auth)
	seeds(f, "authenticate")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, _ := fuzzPair(t)
		_, _, err := step(p.server, data, 0)
		checkStepError(t, err)
	})
}

func FuzzInitiate(f *testing.F) {
	_, _, chal := fuzzPair(f)
	f.Add(chal)
	seeds(f, "challenge")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, _ := fuzzPair(t)
		_, _, err := step(p.client, data, 4096)
		checkStepError(t, err)
	})
}

// FuzzDecryptMessage gives the sealing session of an established context
// arbitrary signatures and data, with extended session security (two key
// streams, HMAC checksums) and without it (NTLMv1: one shared key stream,
// CRC32, RandomPad not authenticated). Only the sender's own message may
// decrypt; anything else fails with a status, and a failed sealed reading
// rewinds the key stream without a panic whatever the lengths.
func FuzzDecryptMessage(f *testing.F) {
	const noESS = 0xe2028233 // KEY_EXCH, 128, 56, SEAL, SIGN, no ESS
	modes := []uint32{noESS | flagExtendedSessionSecurity, noESS}
	key := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	seal := func(flags uint32) []secbuffer.Buffer {
		m := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("fuzz seed")}}
		if err := newSession(flags, key, true).encryptMessage(0, m); err != nil {
			f.Fatal(err)
		}
		return m
	}
	for mode, flags := range modes {
		m := seal(flags)
		f.Add(uint8(mode), m[0].Data, m[1].Data, false)
		f.Add(uint8(mode), m[0].Data, m[1].Data, true)
		// A longer token holding the real signature decrypts: the
		// signature is its first 16 bytes (found by this target).
		f.Add(uint8(mode), append(bytes.Clone(m[0].Data), 0, 0), m[1].Data, false)
	}
	f.Fuzz(func(t *testing.T, mode uint8, sig, data []byte, split bool) {
		flags := modes[int(mode)%len(modes)]
		want := seal(flags)
		msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: sig}}
		if split && len(data) > 1 {
			msg = append(msg, secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: data[:len(data)/2]},
				secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: data[len(data)/2:]})
		} else {
			msg = append(msg, secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: data})
		}
		// The sender's message: its data, and its signature as the
		// receiver reads it (the first 16 bytes of the token; RandomPad,
		// bytes 4 to 8, is not checked without ESS).
		w := want[0].Data
		same := len(sig) >= 16 && bytes.Equal(data, want[1].Data) &&
			bytes.Equal(sig[:4], w[:4]) && bytes.Equal(sig[8:16], w[8:16]) &&
			(flags&flagExtendedSessionSecurity == 0 || bytes.Equal(sig[4:8], w[4:8]))
		_, err := newSession(flags, key, false).decryptMessage(msg)
		switch st := status.Code(err); {
		case err == nil && !same:
			t.Fatalf("forged message decrypted: sig %x data %x", sig, data)
		case err == nil:
		case st != status.SEC_E_INVALID_TOKEN && st != status.SEC_E_MESSAGE_ALTERED && st != status.SEC_E_OUT_OF_SEQUENCE:
			t.Fatalf("unexpected status %v: %v", st, err)
		}
	})
}
