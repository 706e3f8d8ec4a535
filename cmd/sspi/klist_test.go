package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

// sspi klist lists a cache MIT kinit and kvno wrote: the same principal
// and service principals as MIT klist, the source of the name, and no
// key material.
func TestKlist(t *testing.T) {
	k := peers.TestKDC(t)
	peers.Tool(t, "kinit", "krb5-user")
	cc := filepath.Join(t.TempDir(), "cc")
	env := k.Env(cc)
	for _, args := range [][]string{{"kinit", "alice"}, {"kvno", "HTTP/localhost"}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader("alice-pw\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	extra := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + cc}
	code, out := runChild(t, extra, "klist")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"Ticket cache: FILE:" + cc + " (KRB5CCNAME)", "Default principal: alice@GOSSPI.TEST",
		"krbtgt/GOSSPI.TEST@GOSSPI.TEST", "HTTP/localhost@GOSSPI.TEST", "FRIA"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "X-CACHECONF:") {
		t.Errorf("configuration entries listed without -C:\n%s", out)
	}
	if code, out := runChild(t, extra, "klist", "-C"); code != exitOK || !strings.Contains(out, "X-CACHECONF:") {
		t.Errorf("-C: exit %d:\n%s", code, out)
	}
	code, out = runChild(t, []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=API:"}, "klist")
	if code != exitFailure || !strings.Contains(out, "KRB5CCNAME=FILE:") {
		t.Errorf("API: exit %d: %s", code, out)
	}
	code, out = runChild(t, []string{"KRB5_CONFIG=" + k.Krb5Conf}, "klist", "-c", "FILE:"+cc+".absent")
	if code != exitFailure || !strings.Contains(out, "not found") {
		t.Errorf("absent cache: exit %d: %s", code, out)
	}
}
