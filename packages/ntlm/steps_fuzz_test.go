package ntlm

import (
	"errors"
	"testing"

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
