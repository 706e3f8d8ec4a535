package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/kerberos"
)

// sspi kdc serves a realm from flags: the krb5.conf and keytab it prints
// let our client authenticate to the service it created, over the
// network; it stops when told to.
func TestKDCCommand(t *testing.T) {
	stop := make(chan struct{})
	kdcStop = stop
	defer func() { kdcStop = nil }()
	dir := t.TempDir()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runKDC([]string{"-realm", "CLI.TEST", "-user", "alice:alice-pw", "-service", "HTTP/localhost", "-dir", dir}, pw, io.Discard)
		pw.Close()
	}()
	lines := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		lines[k] = v
		if k == "export" {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if lines["krb5.conf"] != filepath.Join(dir, "krb5.conf") || lines["realm"] != "CLI.TEST" || !strings.HasPrefix(lines["kdc"], "udp 127.0.0.1:") {
		t.Fatalf("output %q", lines)
	}
	spn, ktPath, _ := strings.Cut(lines["keytab"], " ")
	if spn != "HTTP/localhost" {
		t.Fatalf("keytab line %q", lines["keytab"])
	}
	conf, err := config.Load(lines["krb5.conf"])
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	kt, err := keytab.Load(ktPath)
	if err != nil {
		t.Fatal(err)
	}
	r := sspi.NewRegistry()
	r.Register(kerberos.New(&kerberos.Config{Krb5Conf: conf}))
	ctx := context.Background()
	client, err := r.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsOutbound, &sspi.AuthIdentity{User: "alice", Password: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Free()
	server, err := r.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsInbound, &kerberos.Keytab{Keytab: kt})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Free()
	c, _ := sspi.NewClientContext(client, "HTTP/localhost", 0)
	defer c.Delete()
	s, _ := sspi.NewServerContext(server, 0)
	defer s.Delete()
	tok, err := c.Step(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Step(ctx, tok); err != nil || !s.Established() {
		t.Fatalf("accept: %v", err)
	}
	if name, _ := s.UserName(); name != "alice@CLI.TEST" {
		t.Fatalf("client %q", name)
	}
	close(stop)
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sspi kdc did not stop")
	}
	if _, err := os.Stat(ktPath); err != nil {
		t.Fatal(err)
	}
}
