package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// KCMSocketName is the name Heimdal's kcm gives its socket in /run.
const KCMSocketName = ".heim_org.h5l.kcm-socket"

// KCM starts Heimdal's kcm daemon (package heimdal-kcm) for the test and
// returns the path of its UNIX socket, for krb5.conf's kcm_socket. kcm
// ignores its --socket-path flag and always listens on
// /var/run/.heim_org.h5l.kcm-socket, so it runs in a private mount
// namespace (unshare, as root) where a folder of t.TempDir is mounted on
// /run: the socket appears in that folder and nothing outside it is
// touched. The daemon is killed when t ends. Without kcm, unshare or the
// right to mount, KCM skips t (fails it when [Interop] is true).
func KCM(t testing.TB) string {
	t.Helper()
	kcm := Tool(t, "kcm", "heimdal-kcm")
	unshare := Tool(t, "unshare", "util-linux")
	Require(t, "root, to mount /run in a private namespace for kcm", os.Geteuid() == 0)
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /run && exec "$2"`, "sh", dir, kcm)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		Require(t, "kcm in a private mount namespace ("+err.Error()+")", false)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	sock := filepath.Join(dir, KCMSocketName)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return sock
		}
		select {
		case <-done:
			Require(t, "kcm in a private mount namespace (exited: "+out.String()+")", false)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kcm: no socket at %s after 10 s: %s", sock, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
