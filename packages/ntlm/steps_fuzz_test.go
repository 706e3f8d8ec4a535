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

// FuzzDecryptMessage gives an established sealing context arbitrary
// signatures and data, in the key-exchange (ESS) and the NTLMv1 (shared
// key stream) modes. Only the untouched message may decrypt; anything
// else fails with a status, and the failed sealed reading rewinds the key
// stream without a panic whatever the lengths.
func FuzzDecryptMessage(f *testing.F) {
	v1 := func() *Config {
		c := testConfig()
		c.LMCompatibility = AllowNTLMv1
		return c
	}
	modes := []struct{ ccfg, scfg func() *Config }{{testConfig, testConfig}, {v1, v1}}
	for mode := range modes {
		client, _ := established(f, modes[mode].ccfg(), modes[mode].scfg(), reqSeal)
		m := sealMsg(f, client, "fuzz seed")
		f.Add(uint8(mode), m[0].Data, m[1].Data, false)
		f.Add(uint8(mode), m[0].Data, m[1].Data, true)
	}
	f.Fuzz(func(t *testing.T, mode uint8, sig, data []byte, split bool) {
		md := modes[int(mode)%len(modes)]
		client, server := established(t, md.ccfg(), md.scfg(), reqSeal)
		want := sealMsg(t, client, "fuzz seed")
		msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: sig}}
		if split && len(data) > 1 {
			msg = append(msg, secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: data[:len(data)/2]},
				secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: data[len(data)/2:]})
		} else {
			msg = append(msg, secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: data})
		}
		same := bytes.Equal(sig, want[0].Data) && bytes.Equal(data, want[1].Data)
		_, st, err := server.DecryptMessage(msg, 0)
		switch {
		case err == nil && !same:
			t.Fatalf("forged message decrypted: sig %x data %x", sig, data)
		case err != nil && st.Succeeded():
			t.Fatalf("error %v with status %v", err, st)
		case err != nil:
			switch st {
			case status.SEC_E_INVALID_TOKEN, status.SEC_E_MESSAGE_ALTERED, status.SEC_E_OUT_OF_SEQUENCE:
			default:
				t.Fatalf("unexpected status %v: %v", st, err)
			}
		}
	})
}
