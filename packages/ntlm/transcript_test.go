package ntlm

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

var update = flag.Bool("update", false, "record the transcripts in testdata/ntlm/transcripts from the real peers")

// transcriptServerConfig is the deterministic acceptor the transcripts are
// recorded and replayed against: the challenge depends only on Rand and
// Time.
func transcriptServerConfig(now time.Time) *Config {
	return &Config{
		Rand:            &countingReader{},
		Time:            func() time.Time { return now },
		ComputerName:    "SERVER",
		DNSComputerName: "server.example.com",
	}
}

// TestTranscriptGSSClient replays a gss-ntlmssp initiator recorded against
// our acceptor (go test -run TranscriptGSSClient -update re-records it):
// the acceptor must produce the recorded CHALLENGE byte for byte, accept
// the recorded AUTHENTICATE, and read the peer's sealed message and MIC.
func TestTranscriptGSSClient(t *testing.T) {
	path := testkit.Path("ntlm", "transcripts", "gss-ntlmssp-client.txt")
	if *update {
		recordGSSClient(t, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := testkit.ParseVector(filepath.Base(path), b)
	if err != nil {
		t.Fatal(err)
	}
	in := vectorInputs{t, v}
	ns, err := strconv.ParseInt(v.Get("time-unix-nano"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := New(transcriptServerConfig(time.Unix(0, ns).UTC())).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, testUsers)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cred.NewServerContext(0)
	chal, _, err := step(s, in.hex("negotiate"), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if want := in.hex("challenge"); hex.EncodeToString(chal) != hex.EncodeToString(want) {
		t.Fatalf("CHALLENGE differs from the recording:\n got  %x\n want %x", chal, want)
	}
	if _, st, err := step(s, in.hex("authenticate"), 0); err != nil || st != status.SEC_E_OK {
		t.Fatalf("AUTHENTICATE: %v %v", st, err)
	}
	if got := hex.EncodeToString(sessionKey(t, s)); got != v.Get("session-key") {
		t.Errorf("session key %s, peer had %s", got, v.Get("session-key"))
	}
	wrap := in.hex("peer-wrap")
	msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: wrap[:sigLen]}, {Type: secbuffer.SECBUFFER_DATA, Data: wrap[sigLen:]}}
	if _, _, err := s.Session().DecryptMessage(msg, 0); err != nil || string(msg[1].Data) != v.Get("peer-plaintext") {
		t.Fatalf("peer's wrap: %q %v", msg[1].Data, err)
	}
	sig := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: []byte(v.Get("peer-plaintext"))}, {Type: secbuffer.SECBUFFER_TOKEN, Data: in.hex("peer-mic")}}
	if _, err := s.Session().VerifySignature(sig, 0); err != nil {
		t.Fatalf("peer's MIC: %v", err)
	}
}

func recordGSSClient(t *testing.T, path string) {
	t.Helper()
	requireGSSNTLMSSP(t)
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("EXAMPLE:alice:Secret1!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := peers.StartGSS(peers.GSSOptions{Role: "initiate", Mech: "ntlm", Target: "HTTP@localhost", Env: []string{"NTLM_USER_FILE=" + users}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	now := time.Now().Truncate(time.Second).UTC()
	cred, _ := New(transcriptServerConfig(now)).AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND, testUsers)
	s, _ := cred.NewServerContext(0)
	neg, _, _, err := d.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chal, _, err := step(s, neg, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SendToken(chal); err != nil {
		t.Fatal(err)
	}
	auth, _, _, err := d.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, info, err := d.Next(ctx); err != nil {
		t.Fatal(err)
	} else if _, _, err := step(s, auth, 0); err != nil {
		t.Fatal(err)
	} else {
		const plain = "sealed by gss-ntlmssp"
		wrap, _, err := d.Wrap(ctx, []byte(plain), true)
		if err != nil {
			t.Fatal(err)
		}
		mic, err := d.GetMIC(ctx, []byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("source: gss-ntlmssp 1.2.0 (Debian 12) through python3-gssapi 1.8.2 as initiator, against this package's acceptor; recorded by go test -run TranscriptGSSClient -update\n"+
			"time-unix-nano: %d\nnegotiate: %x\nchallenge: %x\nauthenticate: %x\nsession-key: %s\npeer-plaintext: %s\npeer-wrap: %x\npeer-mic: %x\n\n%x\n",
			now.UnixNano(), neg, chal, auth, info["key"], plain, wrap, mic, auth)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
