package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi"
)

// startServeWith runs sspi serve with args, passwords typed as prompt,
// until the test ends; it returns the URL, what parsing wrote to standard
// error, and the server's log.
func startServeWith(t *testing.T, prompt string, args ...string) (url, parseErr string, logs *syncWriter) {
	t.Helper()
	var errBuf bytes.Buffer
	serveStdin = strings.NewReader(prompt)
	defer func() { serveStdin = os.Stdin }()
	o, err := parseServe(args, &errBuf)
	if err != nil {
		t.Fatalf("%v (%s)", err, errBuf.String())
	}
	ready := make(chan string, 1)
	quit := make(chan struct{})
	done := make(chan error, 1)
	var outW syncWriter
	logs = &syncWriter{}
	go func() { done <- o.serve(&outW, logs, func(u string) { ready <- u }, quit) }()
	t.Cleanup(func() {
		close(quit)
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return <-ready, errBuf.String(), logs
}

// The --users file gives the users and their passwords; a failed login
// is logged once with its reason and without the password tried.
func TestServeUsersFile(t *testing.T) {
	os.Unsetenv(serveEnvPassword)
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte("# test users\n\nalice:alice-pw\nGOSSPI\\bob:bob:pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url, parseErr, logs := startServeWith(t, "", "--ntlm", "--digest", "--users", path, "--addr", "127.0.0.1:0")
	if parseErr != "" {
		t.Errorf("stderr %q for a private users file", parseErr)
	}
	for _, c := range []struct{ scheme, user string }{{"--ntlm", "alice:alice-pw"}, {"--digest", "alice:alice-pw"}, {"--ntlm", `GOSSPI\bob:bob:pw`}} {
		code, body, errOut := runCmd(t, "get", c.scheme, "-u", c.user, url)
		if code != exitOK || !strings.HasPrefix(body, "hello ") {
			t.Errorf("get %s -u %s: exit %d, %q %q", c.scheme, c.user, code, body, errOut)
		}
	}
	const wrong = "Wr0ng-pw-serve"
	if code, _, _ := runCmd(t, "get", "--ntlm", "-u", "alice:"+wrong, url); code != exitFailure {
		t.Errorf("wrong password: exit %d", code)
	}
	log := logs.String()
	if n := strings.Count(log, "authentication failed"); n != 1 || !strings.Contains(log, "status=SEC_E_LOGON_DENIED") ||
		!strings.Contains(log, "reason=") || strings.Contains(log, wrong) || strings.Contains(log, "alice-pw") {
		t.Errorf("log:\n%s", log)
	}
}

// A users file others may read gets a warning; a bad line names its
// number, not its text.
func TestServeUsersFileChecks(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("alice:alice-pw\n"), 0o644)
	os.Chmod(open, 0o644)
	var stderr bytes.Buffer
	if _, err := parseServeWith([]string{"--ntlm", "--users", open}, &stderr, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "WARNING") || !strings.Contains(stderr.String(), "readable by others") {
		t.Errorf("no warning for a world-readable users file: %q", stderr.String())
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("alice:alice-pw\nsecretwithoutcolon\n"), 0o600)
	_, err := parseServeWith([]string{"--ntlm", "--users", bad}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), ":2: want user:password") || strings.Contains(err.Error(), "secretwithoutcolon") {
		t.Errorf("bad line: %v", err)
	}
}

// -u user takes its password from SSPI_SERVE_PASSWORD, else from the
// prompt; -u user:password still works, with a warning.
func TestServePasswordSources(t *testing.T) {
	for _, c := range []struct {
		name, env, prompt, user string
		warn                    bool
	}{
		{"environment", "alice-pw", "", "alice", false},
		{"prompt", "", "alice-pw\n", "alice", false},
		{"command line", "", "", "alice:alice-pw", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv(serveEnvPassword, c.env)
			} else {
				os.Unsetenv(serveEnvPassword)
			}
			url, parseErr, _ := startServeWith(t, c.prompt, "--ntlm", "-u", c.user, "--addr", "127.0.0.1:0")
			if warned := strings.Contains(parseErr, "WARNING"); warned != c.warn {
				t.Errorf("stderr %q: warning %v, want %v", parseErr, warned, c.warn)
			}
			if strings.Contains(parseErr, "alice-pw") {
				t.Errorf("stderr shows the password: %q", parseErr)
			}
			if code, body, errOut := runCmd(t, "get", "--ntlm", "-u", "alice:alice-pw", url); code != exitOK {
				t.Errorf("get: exit %d, %q %q", code, body, errOut)
			}
			if code, _, _ := runCmd(t, "get", "--ntlm", "-u", "alice:other", url); code != exitFailure {
				t.Errorf("wrong password: exit %d", code)
			}
		})
	}
}

// sspi serve drops a handshake left after the NTLM CHALLENGE once
// --handshake-timeout passes: the connection is closed and the log says
// why.
func TestServeHandshakeTimeout(t *testing.T) {
	t.Setenv(serveEnvPassword, "alice-pw")
	url, _, logs := startServeWith(t, "", "--ntlm", "-u", "alice", "--addr", "127.0.0.1:0", "--handshake-timeout", "200ms")
	cred, err := sspi.AcquireCredentials(context.Background(), "NTLM", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: "alice", Password: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	cl, err := sspi.NewClientContext(cred, "HTTP/localhost", sspi.ISC_REQ_CONNECTION)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Delete()
	neg, err := cl.Step(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nAuthorization: NTLM "+base64.StdEncoding.EncodeToString(neg)+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("Www-Authenticate"), "NTLM T") {
		t.Fatalf("want a CHALLENGE: %d %v", resp.StatusCode, resp.Header)
	}
	// The server closes the connection after the timeout.
	if n, err := br.ReadByte(); err == nil {
		t.Fatalf("read %q from a connection that should be closed", n)
	}
	if log := logs.String(); !strings.Contains(log, "handshake timed out") {
		t.Errorf("log:\n%s", log)
	}
}
