package sshgss_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/sshgss"
)

// Interop with OpenSSH 9.2 and MIT krb5 1.20: our Client against sshd
// with GSSAPIAuthentication, and OpenSSH's ssh -K against a Go server
// using our Server, in the test realm of internal/peers.

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// krb5ConfWith writes a copy of the realm's krb5.conf with extra
// libdefaults relations.
func krb5ConfWith(t testing.TB, r *realm, dir string, libdefaults ...string) string {
	t.Helper()
	b, err := os.ReadFile(r.kdc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	extra := ""
	for _, l := range libdefaults {
		extra += "\t" + l + "\n"
	}
	conf := strings.Replace(string(b), "[libdefaults]\n", "[libdefaults]\n"+extra, 1)
	path := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSSHD runs sshd on 127.0.0.1 with gssapi-with-mic only, the
// realm's host/localhost key, and a k5login directory letting alice log
// in as root. It returns its address and the krb5.conf it uses.
func startSSHD(t *testing.T, r *realm) (addr, krb5conf string) {
	t.Helper()
	sshd := peers.Tool(t, "sshd", "openssh-server")
	keygen := peers.Tool(t, "ssh-keygen", "openssh-client")
	peers.Require(t, "root, to run sshd as root", os.Geteuid() == 0)
	dir := t.TempDir()
	k5 := filepath.Join(dir, "k5login")
	if err := os.Mkdir(k5, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k5, "root"), []byte("alice@"+r.kdc.Realm+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	krb5conf = krb5ConfWith(t, r, dir, "k5login_directory = "+k5)
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation directory
		t.Fatal(err)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile %s/sshd.pid
UsePAM no
PermitRootLogin yes
StrictModes no
PubkeyAuthentication no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
GSSAPIAuthentication yes
GSSAPIStrictAcceptorCheck no
GSSAPICleanupCredentials yes
LogLevel DEBUG1
`, port, hostKey, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	cmd.Env = append(r.kdc.Env(""), "KRB5_CONFIG="+krb5conf, "KRB5_KTNAME=FILE:"+r.kdc.ServiceKeytab)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() || os.Getenv("SSHD_LOG") != "" {
			t.Logf("sshd log:\n%s", log.String())
		}
	})
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, krb5conf
}

// TestClientAgainstOpenSSH: x/crypto/ssh with our Client logs in to
// OpenSSH's sshd as root (alice is in root's .k5login) and runs a
// command. With Delegate, sshd stores the forwarded TGT in the session's
// KRB5CCNAME, and the command uses it to get a service ticket with kvno;
// without, the session has no credentials.
func TestClientAgainstOpenSSH(t *testing.T) {
	r := testRealm(t)
	addr, krb5conf := startSSHD(t, r)
	for _, delegate := range []bool{true, false} {
		t.Run(fmt.Sprintf("delegate=%v", delegate), func(t *testing.T) {
			client := sshgss.NewClient(r.alice(t), &sshgss.ClientConfig{Delegate: delegate})
			cmd := fmt.Sprintf(`echo user=$(id -un); echo ccache=${KRB5CCNAME:-none}; `+
				`KRB5_CONFIG=%s kvno HTTP/localhost@%s 2>&1 | sed 's/^/kvno: /'; KRB5_CONFIG=%[1]s klist 2>&1 | grep 'Default principal' | sed 's/^/klist: /'`,
				krb5conf, r.kdc.Realm)
			out, err := runGoClient(t, addr, "root", "localhost", client, cmd)
			if err != nil {
				t.Fatalf("ssh: %v\n%s", err, out)
			}
			f := fields(out)
			if f["user"] != "root" {
				t.Fatalf("logged in as %q:\n%s", f["user"], out)
			}
			if !delegate {
				if f["ccache"] != "none" || strings.Contains(out, "kvno = ") {
					t.Fatalf("credentials without delegation:\n%s", out)
				}
				return
			}
			if f["ccache"] == "none" {
				t.Fatalf("sshd stored no delegated credentials:\n%s", out)
			}
			if !strings.Contains(out, "kvno: HTTP/localhost@"+r.kdc.Realm+": kvno = ") {
				t.Fatalf("kvno with the delegated TGT failed:\n%s", out)
			}
			if !strings.Contains(out, "klist: Default principal: alice@"+r.kdc.Realm) {
				t.Fatalf("the session's ccache is not alice's:\n%s", out)
			}
		})
	}
	// bob is not in root's .k5login: sshd refuses him.
	t.Run("not-in-k5login", func(t *testing.T) {
		bob := r.cred(t, "Kerberos", sspi.CredentialsOutbound,
			&sspi.AuthIdentity{User: "bob", Domain: r.kdc.Realm, Password: "bob-pw"})
		out, err := runGoClient(t, addr, "root", "localhost", sshgss.NewClient(bob, nil), "id")
		if err == nil {
			t.Fatalf("bob logged in as root: %s", out)
		}
		if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Fatalf("bob: %v", err)
		}
	})
}

// TestOpenSSHClientAgainstServer: OpenSSH's ssh, with a TGT from kinit,
// logs in with gssapi-with-mic to an x/crypto/ssh server using our
// Server. With -K the server gets alice's delegated TGT and uses it for
// a ticket to HTTP/localhost, accepted as alice; with -k nothing is
// delegated.
func TestOpenSSHClientAgainstServer(t *testing.T) {
	sshBin := peers.Tool(t, "ssh", "openssh-client")
	kinit := peers.Tool(t, "kinit", "krb5-user")
	r := testRealm(t)
	dir := t.TempDir()
	ccache := filepath.Join(dir, "ccache")
	cmd := exec.Command(kinit, "-f", "alice@"+r.kdc.Realm)
	cmd.Env = r.kdc.Env(ccache)
	cmd.Stdin = strings.NewReader("alice-pw\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}
	auth := &sshgss.LocalAuth{
		DefaultRealm: r.kdc.Realm,
		Rules:        []string{`RULE:[1:$1@$0](alice@GOSSPI\.TEST)s/@.*/-local/`},
		LookupUser: func(name string) (string, int, error) {
			return dir, os.Getuid(), nil // no .k5login in dir: the rules decide
		},
	}
	srv := startGoServer(t, r, r.cred(t, "Kerberos", sspi.CredentialsInbound, r.keytab()), auth)
	_, port, _ := net.SplitHostPort(srv.addr())
	for _, tt := range []struct {
		flag      string
		user      string
		delegated bool
		ok        bool
	}{
		{"-K", "alice-local", true, true},
		{"-k", "alice-local", false, true},
		{"-K", "root", false, false},
	} {
		t.Run(tt.flag+"/"+tt.user, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, sshBin, "-F", "/dev/null", "-4", tt.flag,
				"-o", "GSSAPIAuthentication=yes", "-o", "PreferredAuthentications=gssapi-with-mic",
				"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
				"-o", "ConnectTimeout=10", "-p", port, "-l", tt.user, "localhost", "id")
			cmd.Env = r.kdc.Env(ccache)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			got := <-srv.logins
			if got.principal != "alice@"+r.kdc.Realm {
				t.Errorf("principal %q", got.principal)
			}
			if !tt.ok {
				if err == nil {
					t.Fatalf("ssh as %s succeeded: %s", tt.user, out)
				}
				if got.err == nil {
					t.Fatal("AllowLogin did not refuse")
				}
				return
			}
			if err != nil {
				t.Fatalf("ssh: %v (server: %v)\n%s", err, got.err, stderr.String())
			}
			if got.err != nil {
				t.Fatalf("server: %v", got.err)
			}
			f := fields(string(out))
			if f["user"] != tt.user || f["principal"] != "alice@"+r.kdc.Realm {
				t.Fatalf("session output %q", out)
			}
			if got.delegated != tt.delegated {
				t.Fatalf("delegated %v with %s", got.delegated, tt.flag)
			}
			if tt.delegated && got.backend != "alice@"+r.kdc.Realm {
				t.Fatalf("the back end saw %q through the delegated credentials", got.backend)
			}
		})
	}
}
