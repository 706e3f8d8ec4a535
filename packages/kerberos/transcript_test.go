package kerberos

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
)

var update = flag.Bool("update", false, "re-record testdata/kerberos/transcripts against MIT krb5")

const transcriptFile = "mit-initiator-e18.txt"

var transcriptRand = fixedReader(bytes.Repeat([]byte{0x5a, 0xa5, 0x3c}, 11))

// replayServer is our acceptor as recorded: the service keytab, the clock
// and the random source of the recording.
func replayServer(t testing.TB, kt *keytab.Keytab, now time.Time) packages.Context {
	t.Helper()
	conf := config.New()
	conf.LibDefaults.DefaultRealm = "GOSSPI.TEST"
	p := New(&Config{Krb5Conf: conf, Rand: transcriptRand, Time: func() time.Time { return now }})
	cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Keytab: kt})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := cred.NewServerContext(0)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestTranscriptMITInitiator replays an exchange recorded with MIT's
// initiator (python3-gssapi) against our acceptor: the AP-REQ must verify
// at the recorded time, and MIT's Wrap and MIC tokens, made under the
// acceptor subkey our fixed random source chose, must read back.
func TestTranscriptMITInitiator(t *testing.T) {
	if *update {
		recordTranscript(t)
	}
	v := vector(t, filepath.Join("transcripts", transcriptFile))
	now, err := time.Parse(time.RFC3339Nano, v.Get("time"))
	if err != nil {
		t.Fatal(err)
	}
	ktb := mustHex(t, v, "keytab")
	kt := keytab.New()
	if err := kt.Unmarshal(ktb); err != nil {
		t.Fatal(err)
	}
	plain := mustHex(t, v, "plaintext")
	lines := map[string][]byte{}
	for _, l := range strings.Split(v.Text, "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			b, err := hex.DecodeString(f[1])
			if err != nil {
				t.Fatal(err)
			}
			lines[f[0]] = b
		}
	}
	sc := replayServer(t, kt, now)
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}
	if _, err := sc.Step(bg(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: lines["apreq"]}}, out); err != nil {
		t.Fatalf("recorded AP-REQ: %v", err)
	}
	if names, _ := sc.QueryAttribute(packages.SECPKG_ATTR_NAMES); names.(*packages.Names).UserName != "alice@GOSSPI.TEST" {
		t.Errorf("NAMES = %v", names)
	}
	r := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: lines["wrap"]}, {Type: secbuffer.SECBUFFER_DATA}}
	if _, _, err := sc.Session().DecryptMessage(r, 0); err != nil || !bytes.Equal(r[1].Data, plain) {
		t.Fatalf("recorded Wrap token: %q, %v", r[1].Data, err)
	}
	m := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: plain}, {Type: secbuffer.SECBUFFER_TOKEN, Data: lines["mic"]}}
	if _, err := sc.Session().VerifySignature(m, 0); err != nil {
		t.Fatalf("recorded MIC: %v", err)
	}
	// Out of its time the same AP-REQ fails.
	late := replayServer(t, kt, now.Add(24*time.Hour))
	if _, err := late.Step(bg(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: lines["apreq"]}}, out); err == nil {
		t.Fatal("recorded AP-REQ accepted a day later")
	}
}

// recordTranscript runs MIT's initiator against our acceptor with the
// fixed random source and writes the transcript file.
func recordTranscript(t *testing.T) {
	k := peers.TestKDC(t)
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	kt, err := keytab.Load(k.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	ktb, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	sc := replayServer(t, kt, now)
	d := startDriver(t, k.Env(kinit(t, k)), "initiate", "e18@localhost", "seq")
	apreq := unb64(t, field(d.read(), 1))
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}
	if _, err := sc.Step(bg(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: apreq}}, out); err != nil {
		t.Fatal(err)
	}
	d.send("TOKEN", b64(out[0].Data))
	if f := d.read(); f[0] != "ESTABLISHED" {
		t.Fatalf("driver: %v", f)
	}
	plain := []byte("recorded from MIT krb5")
	d.send("WRAP", "1", b64(plain))
	wrap := unb64(t, field(d.read(), 1))
	d.send("MIC", b64(plain))
	mic := unb64(t, field(d.read(), 1))
	var b strings.Builder
	fmt.Fprintf(&b, "source: recorded from MIT krb5 1.20.1 (python3-gssapi initiator, packages/kerberos/testdata/gssdriver.py) against this package's acceptor in the scripts/testkdc.sh realm; regenerate with: go test ./packages/kerberos -run TestTranscriptMITInitiator -update\n")
	fmt.Fprintf(&b, "time: %s\n", now.Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "plaintext: %x\n", plain)
	fmt.Fprintf(&b, "keytab: %x\n", ktb)
	fmt.Fprintf(&b, "format: the throwaway realm's service keytab; lines are \"token hex\"; the acceptor used Rand = 5aa53c repeated\n\n")
	fmt.Fprintf(&b, "apreq %x\nwrap %x\nmic %x\n", apreq, wrap, mic)
	dir := testkit.Path("kerberos", "transcripts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, transcriptFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
