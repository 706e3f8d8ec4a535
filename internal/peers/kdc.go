package peers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gosspi/sspi/internal/mitkdc"
)

// KDCEnv is the environment variable that chooses the test realm's KDC:
// "go" for the KDC of package kdc (even where MIT Kerberos is installed),
// "mit" for MIT krb5kdc (a test fails or skips without it), empty for
// MIT krb5kdc when installed and the Go KDC otherwise.
const KDCEnv = "SSPI_TEST_KDC"

// KDC is the test realm of scripts/testkdc.sh: realm GOSSPI.TEST on
// 127.0.0.1 with users alice (password alice-pw) and bob (bob-pw),
// services HTTP/localhost and host/localhost with every enctype, and
// e17/localhost ... e23/localhost with one enctype each; served by MIT
// krb5kdc (package mitkdc) or by the KDC of package kdc, run in a child
// process (internal/gokdc/gokdcd) because the packages under test are
// below package kdc in the import graph.
type KDC struct {
	Dir           string // the realm's folder
	Realm         string
	Port          int    // UDP and TCP on 127.0.0.1
	Krb5Conf      string // krb5.conf with DNS lookups off
	ServiceKeytab string // keys of every service principal
	ClientKeytab  string // alice's keys

	mit *mitkdc.KDC

	mu     sync.Mutex // serialises requests to the child
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
	lines  chan string // the child's answers, after its ready line
	done   chan struct{}
}

// ErrNoKDC reports that MIT krb5kdc is not installed.
var ErrNoKDC = mitkdc.ErrNoKDC

// KDCInstalled reports whether the MIT KDC tools are present.
func KDCInstalled() bool { return mitkdc.KDCInstalled() }

// UseGoKDC reports whether the test realm runs on the Go KDC: when
// SSPI_TEST_KDC=go, or when MIT krb5kdc is not installed and
// SSPI_TEST_KDC is not "mit".
func UseGoKDC() bool {
	switch os.Getenv(KDCEnv) {
	case "go":
		return true
	case "mit":
		return false
	}
	return !KDCInstalled()
}

// MIT reports whether MIT krb5kdc serves the realm (else the Go KDC does).
func (k *KDC) MIT() bool { return k.mit != nil }

// Name names the KDC serving the realm, for messages.
func (k *KDC) Name() string {
	if k.MIT() {
		return "MIT krb5kdc"
	}
	return "the built-in Go KDC"
}

// StartKDC creates a realm in a new temporary folder and starts its KDC,
// chosen as [UseGoKDC] says. Call Stop when done.
func StartKDC() (*KDC, error) {
	if UseGoKDC() {
		return StartGoKDC()
	}
	return StartMITKDC()
}

// StartMITKDC starts the realm on MIT krb5kdc (ErrNoKDC when it is not
// installed).
func StartMITKDC() (*KDC, error) {
	m, err := mitkdc.StartKDC()
	if err != nil {
		return nil, err
	}
	return &KDC{Dir: m.Dir, Realm: m.Realm, Port: m.Port, Krb5Conf: m.Krb5Conf,
		ServiceKeytab: m.ServiceKeytab, ClientKeytab: m.ClientKeytab, mit: m}, nil
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// StartGoKDC starts the realm on the KDC of package kdc, in a child
// process built with the go command.
func StartGoKDC() (*KDC, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("peers: the go command, to build the Go KDC: %w", err)
	}
	dir, err := os.MkdirTemp("", "gosspi-gokdc-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*KDC, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	bin := filepath.Join(dir, "gokdcd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./internal/gokdc/gokdcd")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("peers: building the Go KDC: %v\n%s", err, out))
	}
	realmDir := filepath.Join(dir, "realm")
	if err := os.Mkdir(realmDir, 0o700); err != nil {
		return fail(err)
	}
	k := &KDC{Dir: realmDir, done: make(chan struct{}), lines: make(chan string, 1)}
	k.cmd = exec.Command(bin, realmDir)
	k.cmd.Stderr = os.Stderr
	if k.stdin, err = k.cmd.StdinPipe(); err != nil {
		return fail(err)
	}
	stdout, err := k.cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	k.stdout = bufio.NewScanner(stdout)
	if err := k.cmd.Start(); err != nil {
		return fail(err)
	}
	go func() { k.cmd.Wait(); close(k.done) }()
	ready := make(chan error, 1)
	go func() {
		for k.stdout.Scan() {
			key, v, _ := strings.Cut(k.stdout.Text(), "=")
			switch key {
			case "ready":
				ready <- nil
				for k.stdout.Scan() {
					k.lines <- k.stdout.Text()
				}
				close(k.lines)
				return
			case "KRB5_CONFIG":
				k.Krb5Conf = v
			case "TESTKDC_REALM":
				k.Realm = v
			case "TESTKDC_PORT":
				k.Port, _ = strconv.Atoi(v)
			}
		}
		ready <- errors.New("peers: the Go KDC ended before it was ready")
	}()
	select {
	case err = <-ready:
	case <-time.After(30 * time.Second):
		err = errors.New("peers: the Go KDC did not start within 30 s")
	}
	if err == nil && (k.Krb5Conf == "" || k.Port == 0) {
		err = errors.New("peers: the Go KDC printed no configuration")
	}
	if err != nil {
		k.stop()
		return fail(err)
	}
	k.ServiceKeytab = filepath.Join(realmDir, "service.keytab")
	k.ClientKeytab = filepath.Join(realmDir, "alice.keytab")
	return k, nil
}

// Kinit writes a TGT for user (a user of the realm, with its password) to
// the FILE credential cache ccache: with MIT kinit on an MIT realm, and
// through this module's Kerberos package on the Go KDC (so that no MIT
// tool is needed). The TGT is forwardable, as the realm's krb5.conf asks.
func (k *KDC) Kinit(user, password, ccache string) error {
	if k.MIT() {
		kinit, err := exec.LookPath("kinit")
		if err != nil {
			return fmt.Errorf("peers: MIT kinit (apt-get install -y krb5-user): %w", err)
		}
		cmd := exec.Command(kinit, "-f", user+"@"+k.Realm)
		cmd.Env = k.Env(ccache)
		cmd.Stdin = strings.NewReader(password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("kinit: %v: %s", err, out)
		}
		return nil
	}
	if strings.ContainsAny(user+password+ccache, " \t\n") {
		return errors.New("peers: Kinit arguments with spaces")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := fmt.Fprintf(k.stdin, "kinit %s %s %s\n", user, password, ccache); err != nil {
		return fmt.Errorf("peers: the Go KDC: %w", err)
	}
	select {
	case l, ok := <-k.lines:
		if !ok {
			return errors.New("peers: the Go KDC ended")
		}
		if l != "ok" {
			return fmt.Errorf("peers: Go KDC kinit %s: %s", user, strings.TrimPrefix(l, "error "))
		}
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("peers: the Go KDC did not answer kinit within 30 s")
	}
}

// Env returns the environment for MIT tools using this realm (KRB5_CONFIG
// and a private credential cache and replay cache location).
func (k *KDC) Env(ccache string) []string {
	env := append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf, "KRB5RCACHEDIR="+k.Dir)
	if ccache != "" {
		env = append(env, "KRB5CCNAME=FILE:"+ccache)
	}
	return env
}

func (k *KDC) stop() {
	if k.cmd == nil {
		return
	}
	k.stdin.Close()
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		k.cmd.Process.Kill()
		<-k.done
	}
	k.cmd = nil
}

// Stop stops the KDC and removes its folder. It is idempotent.
func (k *KDC) Stop() {
	if k == nil {
		return
	}
	if k.mit != nil {
		k.mit.Stop()
		return
	}
	k.stop()
	if k.Dir != "" {
		os.RemoveAll(filepath.Dir(k.Dir))
		k.Dir = ""
	}
}

var (
	sharedOnce sync.Once
	shared     *KDC
	sharedErr  error

	sharedMITOnce sync.Once
	sharedMIT     *KDC
	sharedMITErr  error
)

// SharedKDC starts one KDC per test binary on first use, chosen as
// [UseGoKDC] says; the TestMain that uses it calls StopSharedKDC at the
// end.
func SharedKDC() (*KDC, error) {
	sharedOnce.Do(func() {
		if !UseGoKDC() {
			// One MIT realm per binary serves both TestKDC and MITKDC.
			shared, sharedErr = sharedMITKDC()
			return
		}
		shared, sharedErr = StartGoKDC()
	})
	return shared, sharedErr
}

func sharedMITKDC() (*KDC, error) {
	sharedMITOnce.Do(func() { sharedMIT, sharedMITErr = StartMITKDC() })
	return sharedMIT, sharedMITErr
}

// StopSharedKDC stops the KDCs SharedKDC and MITKDC started, if any.
func StopSharedKDC() {
	if shared != nil {
		shared.Stop()
	}
	if sharedMIT != nil {
		sharedMIT.Stop()
	}
}
