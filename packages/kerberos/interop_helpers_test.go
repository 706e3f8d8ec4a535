package kerberos

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi/internal/peers"
)

// gssDriver runs testdata/gssdriver.py (MIT GSS-API through
// python3-gssapi) as one side of a context.
type gssDriver struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	stder strings.Builder
	last  string // the last command sent, for failure messages
}

func startDriver(t testing.TB, env []string, args ...string) *gssDriver {
	t.Helper()
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	d := &gssDriver{t: t}
	d.cmd = exec.Command(peers.Python, append([]string{filepath.Join("testdata", "gssdriver.py")}, args...)...)
	d.cmd.Env = env
	d.cmd.Stderr = &d.stder
	var err error
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.out = bufio.NewScanner(stdout)
	d.out.Buffer(make([]byte, 1<<20), 1<<24)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.in.Close()
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
	})
	return d
}

// read returns the next line's fields; it fails the test on "ERR".
func (d *gssDriver) read() []string {
	d.t.Helper()
	if !d.out.Scan() {
		d.t.Fatalf("gssdriver ended: %v; stderr: %s", d.out.Err(), d.stder.String())
	}
	f := strings.Fields(d.out.Text())
	if len(f) == 0 {
		d.t.Fatal("gssdriver: empty line")
	}
	if f[0] == "ERR" {
		cmd, _, _ := strings.Cut(d.last, " ")
		d.t.Fatalf("gssdriver, after %s: %s", cmd, d.out.Text())
	}
	return f
}

func (d *gssDriver) send(fields ...string) {
	d.t.Helper()
	d.last = strings.Join(fields, " ")
	if _, err := fmt.Fprintln(d.in, d.last); err != nil {
		d.t.Fatalf("gssdriver write: %v; stderr: %s", err, d.stder.String())
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func hexArg(s string) string { return "cb=" + hex.EncodeToString([]byte(s)) }

// kdcPackage returns a Package configured for the test realm.
func kdcPackage(t testing.TB, k *peers.KDC, cfg *Config) *Package {
	t.Helper()
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Krb5Conf = conf
	return New(&c)
}

// kinit writes a credential cache for alice: with MIT kinit on an MIT
// realm, through this package on the Go KDC.
func kinit(t testing.TB, k *peers.KDC) string {
	t.Helper()
	return k.KinitAlice(t)
}

func bg() context.Context { return context.Background() }
