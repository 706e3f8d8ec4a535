package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// KCMSocketName is the name KCM daemons give their socket in /run.
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
	return startKCM(t, Tool(t, "kcm", "heimdal-kcm"), nil)
}

// SSSDKCM starts sssd's KCM responder (package sssd-kcm, the default
// credential cache of Fedora and RHEL) for the test and returns the path
// of its socket. As [KCM] does, it runs in a private mount namespace
// with folders of t.TempDir mounted on /run (where it makes its socket
// when no systemd socket is handed to it) and on /var/lib/sss/secrets
// (its database).
func SSSDKCM(t testing.TB) string {
	t.Helper()
	const path = "/usr/libexec/sssd/sssd_kcm"
	if _, err := os.Stat(path); err != nil {
		Require(t, path+" (apt-get install -y sssd-kcm)", false)
	}
	return startKCM(t, path, []string{"/var/lib/sss/secrets"}, "--uid", "0", "--gid", "0", "--logger=stderr")
}

// startKCM runs daemon in a private mount namespace with a new folder
// mounted on /run and on each of the binds, and waits for its socket.
func startKCM(t testing.TB, daemon string, binds []string, args ...string) string {
	unshare := Tool(t, "unshare", "util-linux")
	Require(t, "root, to mount /run in a private namespace for "+filepath.Base(daemon), os.Geteuid() == 0)
	tmp := t.TempDir()
	run := filepath.Join(tmp, "run")
	script := `mount --bind "$1" /run`
	shArgs := []string{"sh", run}
	for i, b := range binds {
		d := filepath.Join(tmp, "bind"+string(rune('0'+i)))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		shArgs = append(shArgs, d, b)
		script += ` && mount --bind "$` + string(rune('2'+2*i)) + `" "$` + string(rune('3'+2*i)) + `"`
	}
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	script += ` && shift ` + string(rune('1'+2*len(binds))) + ` && exec "$@"`
	shArgs = append(append(shArgs, daemon), args...)
	out := &syncBuffer{}
	cmd := exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "sh", "-c", script}, shArgs...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		Require(t, filepath.Base(daemon)+" in a private mount namespace ("+err.Error()+")", false)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	sock := filepath.Join(run, KCMSocketName)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return sock
		}
		select {
		case <-done:
			Require(t, filepath.Base(daemon)+" in a private mount namespace (exited: "+out.String()+")", false)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no socket at %s after 10 s: %s", daemon, sock, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
