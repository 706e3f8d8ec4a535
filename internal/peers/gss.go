package peers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Interop reports whether interop tests must run: SSPI_INTEROP=1, as CI
// sets it. Then a missing peer fails the test instead of skipping it.
func Interop() bool { return os.Getenv("SSPI_INTEROP") == "1" }

// Require skips t (or fails it when [Interop] is true) unless ok, saying
// what is missing: for example
//
//	peers.Require(t, "gss-ntlmssp (apt-get install -y gss-ntlmssp)", peers.HaveGSSNTLMSSP())
func Require(t testing.TB, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if Interop() {
		t.Fatalf("interop peer missing: %s (SSPI_INTEROP=1)", what)
	}
	t.Skipf("interop peer missing: %s; set SSPI_INTEROP=1 to make this a failure", what)
}

// Python is Debian's interpreter, the one python3-gssapi is installed for.
const Python = "/usr/bin/python3"

// HavePythonGSSAPI reports whether /usr/bin/python3 can import gssapi.
func HavePythonGSSAPI() bool {
	return exec.Command(Python, "-c", "import gssapi").Run() == nil
}

// HaveGSSNTLMSSP reports whether MIT GSSAPI has the gss-ntlmssp mechanism.
func HaveGSSNTLMSSP() bool {
	matches, _ := filepath.Glob("/etc/gss/mech.d/*")
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil && bytes.Contains(b, []byte("1.3.6.1.4.1.311.2.2.10")) {
			return true
		}
	}
	return false
}

// DriverScript returns the path of gssdriver.py.
func DriverScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "gssdriver.py")
}

// GSSOptions configures a [GSSDriver]: see the command line documented at
// the top of gssdriver.py.
type GSSOptions struct {
	Role     string // "initiate" or "accept"
	Mech     string // "ntlm", "krb5" or "spnego"
	Target   string // "service@host" (or a user or principal name, see NameType)
	NameType string // "hostbased" (default), "user" or "principal"
	User     string // initiator: acquire credentials with this user and Password
	Password string
	// ChannelBindings, if non-nil, is the application data of the channel
	// bindings the peer uses.
	ChannelBindings []byte
	// Flags is the initiator's comma list (mutual, delegate, replay,
	// sequence, integ, conf, anonymous); empty means the script's default.
	Flags string
	// Env is added to the environment: NTLM_USER_FILE, KRB5_CONFIG,
	// KRB5CCNAME, KRB5_KTNAME, ...
	Env []string
	// Timeout bounds each exchange with the driver; zero means 20 s.
	Timeout time.Duration
}

// GSSDriver is a running gssdriver.py: one MIT GSSAPI context in another
// process. It is not safe for concurrent use.
type GSSDriver struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string
	stderr  *syncBuffer
	timeout time.Duration
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartGSS starts the driver; Close stops it.
func StartGSS(o GSSOptions) (*GSSDriver, error) {
	args := []string{DriverScript(), "--role", o.Role, "--mech", o.Mech}
	if o.Target != "" {
		args = append(args, "--target", o.Target)
	}
	if o.NameType != "" {
		args = append(args, "--name-type", o.NameType)
	}
	if o.User != "" {
		args = append(args, "--user", o.User, "--password", o.Password)
	}
	if o.ChannelBindings != nil {
		args = append(args, "--cb-app-data", hex.EncodeToString(o.ChannelBindings))
	}
	if o.Flags != "" {
		args = append(args, "--flags", o.Flags)
	}
	cmd := exec.Command(Python, args...)
	cmd.Env = append(os.Environ(), o.Env...)
	d := &GSSDriver{cmd: cmd, lines: make(chan string, 16), stderr: &syncBuffer{}, timeout: o.Timeout}
	if d.timeout == 0 {
		d.timeout = 20 * time.Second
	}
	cmd.Stderr = d.stderr
	var err error
	if d.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("peers: start gssdriver: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	return d, nil
}

// Close stops the driver and waits for it.
func (d *GSSDriver) Close() {
	fmt.Fprintln(d.stdin, "quit")
	d.stdin.Close()
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}

// Stderr returns what the driver wrote to its standard error so far.
func (d *GSSDriver) Stderr() string { return d.stderr.String() }

// ReadLine returns the next line of the driver split into fields, waiting
// at most the timeout.
func (d *GSSDriver) ReadLine(ctx context.Context) ([]string, error) {
	t := time.NewTimer(d.timeout)
	defer t.Stop()
	select {
	case l, ok := <-d.lines:
		if !ok {
			return nil, fmt.Errorf("peers: gssdriver exited; stderr: %s", d.Stderr())
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			return nil, fmt.Errorf("peers: empty line from gssdriver")
		}
		if f[0] == "error" {
			return f, fmt.Errorf("peers: gssdriver: %s", l)
		}
		return f, nil
	case <-t.C:
		return nil, fmt.Errorf("peers: gssdriver did not answer in %v; stderr: %s", d.timeout, d.Stderr())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send writes one command line.
func (d *GSSDriver) Send(fields ...string) error {
	_, err := fmt.Fprintln(d.stdin, strings.Join(fields, " "))
	return err
}

// SendToken passes a context token from the peer.
func (d *GSSDriver) SendToken(tok []byte) error {
	return d.Send("token", base64.StdEncoding.EncodeToString(tok))
}

// Next reads the driver's next handshake line: a token (established
// false) or the established line, whose key=value fields are returned.
func (d *GSSDriver) Next(ctx context.Context) (tok []byte, established bool, info map[string]string, err error) {
	f, err := d.ReadLine(ctx)
	if err != nil {
		return nil, false, nil, err
	}
	switch f[0] {
	case "token":
		if len(f) != 2 {
			return nil, false, nil, fmt.Errorf("peers: bad token line %q", f)
		}
		tok, err = base64.StdEncoding.DecodeString(f[1])
		return tok, false, nil, err
	case "established":
		info = map[string]string{}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			info[k] = v
		}
		return nil, true, info, nil
	}
	return nil, false, nil, fmt.Errorf("peers: unexpected line %q", f)
}

// call sends a command and returns the fields of its "ok" answer.
func (d *GSSDriver) call(ctx context.Context, fields ...string) ([]string, error) {
	if err := d.Send(fields...); err != nil {
		return nil, err
	}
	f, err := d.ReadLine(ctx)
	if err != nil {
		return nil, err
	}
	if f[0] != "ok" {
		return nil, fmt.Errorf("peers: unexpected answer %q", f)
	}
	return f[1:], nil
}

func b64(p []byte) string { return base64.StdEncoding.EncodeToString(p) }

// Wrap is gss_wrap: it returns the token and whether it was encrypted.
func (d *GSSDriver) Wrap(ctx context.Context, msg []byte, encrypt bool) ([]byte, bool, error) {
	e := "0"
	if encrypt {
		e = "1"
	}
	f, err := d.call(ctx, "wrap", e, b64(msg))
	if err != nil || len(f) != 2 {
		return nil, false, fmt.Errorf("peers: wrap: %v %q", err, f)
	}
	tok, err := base64.StdEncoding.DecodeString(f[0])
	return tok, f[1] == "1", err
}

// Unwrap is gss_unwrap: it returns the message and whether it had been
// encrypted.
func (d *GSSDriver) Unwrap(ctx context.Context, tok []byte) ([]byte, bool, error) {
	f, err := d.call(ctx, "unwrap", b64(tok))
	if err != nil || len(f) != 2 {
		return nil, false, fmt.Errorf("peers: unwrap: %v %q", err, f)
	}
	msg, err := base64.StdEncoding.DecodeString(f[0])
	return msg, f[1] == "1", err
}

// GetMIC is gss_get_mic.
func (d *GSSDriver) GetMIC(ctx context.Context, msg []byte) ([]byte, error) {
	f, err := d.call(ctx, "get_signature", b64(msg))
	if err != nil || len(f) != 1 {
		return nil, fmt.Errorf("peers: get_signature: %v %q", err, f)
	}
	return base64.StdEncoding.DecodeString(f[0])
}

// VerifyMIC is gss_verify_mic.
func (d *GSSDriver) VerifyMIC(ctx context.Context, msg, mic []byte) error {
	_, err := d.call(ctx, "verify_signature", b64(msg), b64(mic))
	return err
}
