package adtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Main runs the tests of m with the DC and returns the exit code, for the
// package's TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(adtest.Main(m)) }
//
// Outside the namespace it re-executes the test binary inside a new one
// (see the package documentation) and returns that run's exit code; when
// it cannot (Samba missing, not root, no namespaces) it runs the tests
// here, where [Require] skips or fails them. Inside the namespace it
// starts the DC, runs the tests and stops the DC.
func Main(m *testing.M) int {
	if dir := os.Getenv(envChild); dir != "" {
		return runInNamespace(m, dir)
	}
	if listing() {
		unavailable = "only listing tests"
		return m.Run()
	}
	t, err := findTools()
	if err != nil {
		unavailable = err.Error()
		return m.Run()
	}
	if err := checkNamespaces(t); err != nil {
		unavailable = err.Error()
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "gosspi-adtest-")
	if err != nil {
		unavailable = err.Error()
		return m.Run()
	}
	code := reexec(t, dir)
	if os.Getenv(envKeep) == "1" {
		fmt.Fprintf(os.Stderr, "adtest: %s=1: the DC's folder %s is kept\n", envKeep, dir)
	} else {
		os.RemoveAll(dir)
	}
	return code
}

// listing reports whether the binary only lists tests (go test -list).
func listing() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.list") || strings.HasPrefix(a, "--test.list") {
			return true
		}
	}
	return false
}

// unshareArgs are the namespaces of the run: network (only loopback),
// mount (private /etc/hosts, /etc/resolv.conf and /proc), UTS (host name)
// and PID. The test binary is PID 1 of the new PID namespace, so every
// process left in it (samba and its children) is killed when the test
// binary exits, however it exits; --kill-child does the same when unshare
// itself is killed.
var unshareArgs = []string{"--net", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc"}

// checkNamespaces runs true in the namespaces the run needs.
func checkNamespaces(t tools) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, t.unshare, append(append([]string(nil), unshareArgs...), "true")...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cannot create namespaces (unshare %s true: %v: %s)", strings.Join(unshareArgs, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// reexec runs this test binary, with the same arguments, inside new
// namespaces, and returns its exit code.
func reexec(t tools, dir string) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "adtest: %v\n", err)
		return 1
	}
	args := append(append(append([]string(nil), unshareArgs...), "--", exe), os.Args[1:]...)
	cmd := exec.Command(t.unshare, args...)
	cmd.Env = append(os.Environ(), envChild+"="+dir, envOuterNS+"="+namespaceIDs())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if os.Getenv(envShell) != "" {
		cmd.Stdin = os.Stdin
	}
	cmd.SysProcAttr = parentDeathAttr()
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "adtest: the test binary in the namespace failed: %v\n", err)
	return 1
}

// runInNamespace is Main inside the namespace. The DC starts when the
// first test calls Require (so a run whose -run pattern selects no test
// of the package provisions nothing), or at once in shell mode.
func runInNamespace(m *testing.M, dir string) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	childDir = dir
	unavailable = ""
	var code int
	if shell := os.Getenv(envShell); shell != "" {
		code = runShell(startDC(), shell)
	} else {
		code = m.Run()
	}
	if theDC != nil {
		theDC.stop()
	}
	killNamespace()
	return code
}

var (
	childDir  string    // the DC's folder, inside the namespace
	startOnce sync.Once // starts the DC
)

// startDC starts the DC once, inside the namespace, and returns it (nil
// when it did not start; unavailable then says why).
func startDC() *DC {
	startOnce.Do(func() {
		if childDir == "" {
			return
		}
		t0 := time.Now()
		dc, err := start(childDir, os.Getenv(envOuterNS))
		if err != nil {
			unavailable = "the DC did not start: " + err.Error()
			fmt.Fprintf(os.Stderr, "adtest: %s\n", unavailable)
			return
		}
		theDC = dc
		if testing.Verbose() || os.Getenv(envShell) != "" {
			fmt.Fprintf(os.Stderr, "adtest: Samba AD DC %s (%s) up in %v (%s), folder %s\n", dc.Host, dc.Realm, time.Since(t0).Round(time.Millisecond), dc.timing, dc.Dir)
		}
	})
	return theDC
}

// runShell runs command with sh -c next to the DC, with its standard
// streams, and returns its exit code.
func runShell(dc *DC, command string) int {
	if dc == nil {
		return 1
	}
	fmt.Fprintf(os.Stderr, "adtest: the DC is up (%s, %s); KRB5_CONFIG=%s, smb.conf %s, LDAPS CA %s\n"+
		"adtest: users %s/%s, Administrator/%s; samba's log: %s\n",
		dc.Host, dc.Addr, dc.Krb5Conf, dc.SMBConf, dc.CAFile, Alice.Name, Alice.Password, AdminPassword, dc.logPath)
	cmd := exec.Command("sh", "-c", command)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "ADTEST_SMBCONF="+dc.SMBConf, "ADTEST_CAFILE="+dc.CAFile, "ADTEST_DIR="+dc.Dir)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "adtest: %s: %v\n", command, err)
	return 1
}
