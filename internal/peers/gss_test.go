package peers

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestGSSDriverLoopback runs two drivers against each other (gss-ntlmssp
// on both sides) to check the line protocol: context tokens both ways,
// wrap/unwrap and MIC both ways, and an error line for a bad command.
func TestGSSDriverLoopback(t *testing.T) {
	Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", HavePythonGSSAPI())
	Require(t, "gss-ntlmssp (apt-get install -y gss-ntlmssp)", HaveGSSNTLMSSP())
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("EXAMPLE:alice:Secret1!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"NTLM_USER_FILE=" + users}
	ctx := context.Background()
	ini, err := StartGSS(GSSOptions{Role: "initiate", Mech: "ntlm", Target: "HTTP@localhost", Env: env, ChannelBindings: []byte("cb")})
	if err != nil {
		t.Fatal(err)
	}
	defer ini.Close()
	acc, err := StartGSS(GSSOptions{Role: "accept", Mech: "ntlm", Env: env, ChannelBindings: []byte("cb")})
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()

	from, to := ini, acc
	done := map[*GSSDriver]map[string]string{}
	for len(done) < 2 {
		tok, established, info, err := from.Next(ctx)
		if err != nil {
			t.Fatalf("%v; stderr: %s", err, from.Stderr())
		}
		if established {
			done[from] = info
			from, to = to, from
			continue
		}
		if err := to.SendToken(tok); err != nil {
			t.Fatal(err)
		}
		from, to = to, from
	}
	if k := done[ini]["key"]; k == "" || k == "-" || k != done[acc]["key"] {
		t.Errorf("session keys %q and %q", done[ini]["key"], done[acc]["key"])
	}
	for _, pair := range [][2]*GSSDriver{{ini, acc}, {acc, ini}} {
		msg := []byte("line protocol")
		tok, enc, err := pair[0].Wrap(ctx, msg, true)
		if err != nil || !enc {
			t.Fatalf("wrap: %v %v", enc, err)
		}
		got, enc, err := pair[1].Unwrap(ctx, tok)
		if err != nil || !enc || !bytes.Equal(got, msg) {
			t.Fatalf("unwrap: %q %v %v", got, enc, err)
		}
		mic, err := pair[0].GetMIC(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := pair[1].VerifyMIC(ctx, msg, mic); err != nil {
			t.Fatal(err)
		}
		mic[len(mic)-1] ^= 1
		if err := pair[1].VerifyMIC(ctx, msg, mic); err == nil {
			t.Fatal("altered MIC verified")
		}
	}
	if _, err := ini.call(ctx, "nonsense"); err == nil {
		t.Error("unknown command answered ok")
	}
}
