package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"golang.org/x/term"
)

// serveStdin is where a password prompt reads from; tests replace it.
var serveStdin io.Reader = os.Stdin

// maxUsersFile bounds the size of a --users file.
const maxUsersFile = 1 << 20

// promptPassword returns a function asking for a user's password: on the
// terminal without echo when standard input is one, else as a line of
// standard input.
func promptPassword(stderr io.Writer) func(user string) (string, error) {
	var in *bufio.Reader
	return func(user string) (string, error) {
		fmt.Fprintf(stderr, "Password for %s: ", user)
		if f, ok := serveStdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return "", fmt.Errorf("reading the password of %s: %w", user, err)
			}
			return string(b), nil
		}
		if in == nil {
			in = bufio.NewReader(serveStdin)
		}
		line, err := in.ReadString('\n')
		fmt.Fprintln(stderr)
		if err != nil && line == "" {
			return "", fmt.Errorf("no password for %s on standard input (set %s or use --users FILE)", user, serveEnvPassword)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}

// readUsersFile reads a --users file: one user:password per line, blank
// lines and lines starting with # skipped. A file that others may read
// gets a warning.
func readUsersFile(path string, stderr io.Writer) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "sspi serve: WARNING: %s is readable by others (mode %v); chmod 600 it\n", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxUsersFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxUsersFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxUsersFile)
	}
	var users []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			// The line is not echoed: it may hold a password.
			return nil, fmt.Errorf("%s:%d: want user:password", path, i+1)
		}
		users = append(users, line)
	}
	if len(users) == 0 {
		return nil, errors.New(path + ": no user:password line")
	}
	return users, nil
}
