package sshgss_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"golang.org/x/crypto/ssh"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/sshgss"
)

// The adapters satisfy x/crypto/ssh's interfaces: this does not compile
// otherwise.
var (
	_ ssh.GSSAPIClient = (*sshgss.Client)(nil)
	_ ssh.GSSAPIServer = (*sshgss.Server)(nil)
)

func TestMain(m *testing.M) { os.Exit(peers.RunTests(m)) }

var bg = context.Background()

// realm is the MIT test KDC with Kerberos and Negotiate over it.
type realm struct {
	kdc *peers.KDC
	reg *sspi.Registry
}

func testRealm(t testing.TB) *realm {
	t.Helper()
	k := peers.TestKDC(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	r := sspi.NewRegistry()
	r.Register(krb)
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb}))
	return &realm{kdc: k, reg: r}
}

func (r *realm) cred(t testing.TB, pkg string, use sspi.CredentialUse, data any) *sspi.Credentials {
	t.Helper()
	c, err := r.reg.AcquireCredentials(bg, pkg, use, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Free)
	return c
}

func (r *realm) alice(t testing.TB) *sspi.Credentials {
	return r.cred(t, "Kerberos", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: "alice", Domain: r.kdc.Realm, Password: "alice-pw"})
}

func (r *realm) keytab() *kerberos.Keytab { return &kerberos.Keytab{Path: r.kdc.ServiceKeytab} }

// login is what the Go ssh server learned from one gssapi-with-mic login.
type login struct {
	principal string // srcName
	user      string // the SSH user name
	delegated bool   // DelegatedCredentials succeeded
	backend   string // the principal HTTP/localhost saw from the delegated credentials
	err       error
}

// goServer is an x/crypto/ssh server on 127.0.0.1 authenticating with
// gssapi-with-mic through sshgss.Server, a new one per connection. Its
// AllowLogin applies auth, and then uses any delegated credentials to
// authenticate to HTTP/localhost (accepted with the realm's keytab), as
// the client. Each session's "exec" request is answered with the login
// it ran under, one field a line.
type goServer struct {
	t      testing.TB
	r      *realm
	cred   *sspi.Credentials
	auth   *sshgss.LocalAuth
	l      net.Listener
	logins chan login
	wg     sync.WaitGroup
}

func startGoServer(t testing.TB, r *realm, serverCred *sspi.Credentials, auth *sshgss.LocalAuth) *goServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &goServer{t: t, r: r, cred: serverCred, auth: auth, l: l, logins: make(chan login, 8)}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	backendCred := r.cred(t, "Kerberos", sspi.CredentialsInbound, r.keytab())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c, hostKey, backendCred)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.wg.Wait()
	})
	return s
}

func (s *goServer) addr() string { return s.l.Addr().String() }

// useDelegated authenticates to HTTP/localhost with dc and returns the
// principal the back end saw.
func useDelegated(dc, backendCred *sspi.Credentials) (string, error) {
	c, err := sspi.NewClientContext(dc, "HTTP/localhost", sspi.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		return "", err
	}
	defer c.Delete()
	b, err := sspi.NewServerContext(backendCred, 0)
	if err != nil {
		return "", err
	}
	defer b.Delete()
	var in []byte
	for i := 0; i < 4 && !(c.Established() && b.Established()); i++ {
		out, err := c.Step(bg, in)
		if err != nil {
			return "", err
		}
		if len(out) > 0 {
			if in, err = b.Step(bg, out); err != nil {
				return "", err
			}
		}
	}
	if !b.Established() {
		return "", errors.New("the back end's context did not complete")
	}
	return b.UserName()
}

func (s *goServer) serve(c net.Conn, hostKey ssh.Signer, backendCred *sspi.Credentials) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	gss := sshgss.NewServer(s.cred, nil)
	var got login
	conf := &ssh.ServerConfig{
		GSSAPIWithMICConfig: &ssh.GSSAPIWithMICConfig{
			Server: gss,
			AllowLogin: func(cm ssh.ConnMetadata, principal string) (*ssh.Permissions, error) {
				got = login{principal: principal, user: cm.User()}
				if err := s.auth.Authorize(principal, cm.User()); err != nil {
					got.err = err
					s.logins <- got
					return nil, err
				}
				if principal != gss.Principal() {
					got.err = fmt.Errorf("Principal() = %q", gss.Principal())
				}
				dc, err := gss.DelegatedCredentials()
				if err == nil {
					got.delegated = true
					got.backend, got.err = useDelegated(dc, backendCred)
					dc.Free()
				} else if !errors.Is(err, sspi.SEC_E_NO_CREDENTIALS) {
					got.err = err
				}
				s.logins <- got
				return nil, nil
			},
		},
	}
	conf.AddHostKey(hostKey)
	_, chans, reqs, err := ssh.NewServerConn(c, conf)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for req := range creqs {
				switch req.Type {
				case "exec":
					req.Reply(true, nil)
					fmt.Fprintf(ch, "principal=%s\nuser=%s\ndelegated=%v\nbackend=%s\n", got.principal, got.user, got.delegated, got.backend)
					ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
					return
				case "env", "pty-req":
					req.Reply(true, nil)
				default:
					req.Reply(false, nil)
				}
			}
		}()
	}
}

// runGoClient logs in to addr as user with our Client and runs cmd.
func runGoClient(t testing.TB, addr, user, target string, client *sshgss.Client, cmd string) (string, error) {
	t.Helper()
	conf := &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.GSSAPIWithMICAuthMethod(client, target)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a throwaway host key on loopback
		Timeout:         20 * time.Second,
	}
	conn, err := ssh.Dial("tcp", addr, conf)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		err = errors.New("the command did not finish in 20 s")
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("%v (stderr: %s)", err, stderr.String())
	}
	return stdout.String(), nil
}

func fields(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestLoopback: our Client against our Server inside x/crypto/ssh, with
// and without delegation, with Kerberos and Negotiate server credentials;
// the k5login and auth_to_local decision through LocalAuth; a login
// refused by it fails the SSH authentication.
func TestLoopback(t *testing.T) {
	r := testRealm(t)
	dir := t.TempDir()
	auth := &sshgss.LocalAuth{
		DefaultRealm:     r.kdc.Realm,
		K5LoginDirectory: dir,
		LookupUser: func(name string) (string, int, error) {
			switch name {
			case "alias", "root", "bob":
				return dir, os.Getuid(), nil
			}
			return "", 0, errors.New("no such user")
		},
		Rules: []string{`RULE:[1:$1@$0](alice@.*)s/alice@.*/alias/`, "DEFAULT"},
	}
	if err := os.WriteFile(dir+"/root", []byte("alice@"+r.kdc.Realm+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		pkg       string
		delegate  bool
		user      string
		wantLogin bool
	}{
		{"Kerberos", "Kerberos", false, "alias", true},
		{"Kerberos/delegate", "Kerberos", true, "alias", true},
		{"Negotiate/delegate", "Negotiate", true, "alias", true},
		{"k5login", "Kerberos", true, "root", true},
		{"refused", "Kerberos", false, "bob", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sdata any = r.keytab()
			if tt.pkg == "Negotiate" {
				sdata = &negotiate.AuthData{Kerberos: r.keytab()}
			}
			srv := startGoServer(t, r, r.cred(t, tt.pkg, sspi.CredentialsInbound, sdata), auth)
			client := sshgss.NewClient(r.alice(t), &sshgss.ClientConfig{Delegate: tt.delegate})
			out, err := runGoClient(t, srv.addr(), tt.user, "localhost", client, "id")
			got := <-srv.logins
			if got.principal != "alice@"+r.kdc.Realm {
				t.Errorf("principal %q", got.principal)
			}
			if !tt.wantLogin {
				if err == nil {
					t.Fatalf("login as %s accepted: %q", tt.user, out)
				}
				if got.err == nil {
					t.Fatal("AllowLogin did not refuse")
				}
				return
			}
			if err != nil {
				t.Fatalf("login: %v (server: %v)", err, got.err)
			}
			if got.err != nil {
				t.Fatalf("server: %v", got.err)
			}
			f := fields(out)
			if f["user"] != tt.user || f["principal"] != "alice@"+r.kdc.Realm {
				t.Errorf("session output %q", out)
			}
			if got.delegated != tt.delegate {
				t.Fatalf("delegated %v, want %v", got.delegated, tt.delegate)
			}
			if tt.delegate && got.backend != "alice@"+r.kdc.Realm {
				t.Fatalf("the back end saw %q through the delegated credentials", got.backend)
			}
		})
	}
}

// A MIC over other data than the server's fails the login: the server
// checks the MIC, not only the context. A second exchange while one runs
// fails with ErrBusy; after DeleteSecContext a new one runs.
func TestServerRefusesBadMIC(t *testing.T) {
	r := testRealm(t)
	c := sshgss.NewClient(r.alice(t), nil)
	s := sshgss.NewServer(r.cred(t, "Kerberos", sspi.CredentialsInbound, r.keytab()), nil)
	tok, cont, err := c.InitSecContext("host@localhost", nil, false)
	if err != nil || !cont {
		t.Fatalf("InitSecContext: %v %v", cont, err)
	}
	rep, name, cont, err := s.AcceptSecContext(tok)
	if err != nil || cont || name != "alice@"+r.kdc.Realm {
		t.Fatalf("AcceptSecContext: %q %v %v", name, cont, err)
	}
	if _, cont, err = c.InitSecContext("host@localhost", rep, false); err != nil || cont {
		t.Fatalf("InitSecContext(AP-REP): %v %v", cont, err)
	}
	mic, err := c.GetMIC([]byte("session id and request"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyMIC([]byte("session id and another request"), mic); err == nil {
		t.Fatal("a MIC over other data verified")
	}
	if err := s.VerifyMIC([]byte("session id and request"), mic); err != nil {
		t.Fatalf("VerifyMIC: %v", err)
	}
	if _, err := s.DelegatedCredentials(); !errors.Is(err, sspi.SEC_E_NO_CREDENTIALS) {
		t.Fatalf("DelegatedCredentials without delegation: %v", err)
	}
	// Another exchange on the same Client or Server before the first
	// is deleted: a second connection sharing them.
	if _, _, err := c.InitSecContext("host@localhost", nil, false); !errors.Is(err, sshgss.ErrBusy) {
		t.Fatalf("a second client exchange: %v", err)
	}
	if _, _, _, err := s.AcceptSecContext(tok); !errors.Is(err, sshgss.ErrBusy) {
		t.Fatalf("a second server exchange: %v", err)
	}
	if s.Principal() != "alice@"+r.kdc.Realm {
		t.Fatalf("the refused exchange changed the principal to %q", s.Principal())
	}
	c.DeleteSecContext()
	s.DeleteSecContext()
	if _, err := c.GetMIC([]byte("x")); err == nil {
		t.Fatal("GetMIC after DeleteSecContext")
	}
	if err := s.VerifyMIC([]byte("session id and request"), mic); err == nil {
		t.Fatal("VerifyMIC after DeleteSecContext")
	}
	// After DeleteSecContext both run a new exchange.
	tok, _, err = c.InitSecContext("host@localhost", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, name, _, err = s.AcceptSecContext(tok); err != nil || name != "alice@"+r.kdc.Realm {
		t.Fatalf("second exchange: %q %v", name, err)
	}
	c.DeleteSecContext()
	s.DeleteSecContext()
}

// Negotiate client credentials would send SPNEGO, which gssapi-with-mic
// does not carry: refused up front.
func TestClientNeedsKerberos(t *testing.T) {
	r := testRealm(t)
	cred := r.cred(t, "Negotiate", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: "alice", Domain: r.kdc.Realm, Password: "alice-pw"})
	c := sshgss.NewClient(cred, nil)
	if _, _, err := c.InitSecContext("host@localhost", nil, false); !errors.Is(err, sshgss.ErrNotKerberos) {
		t.Fatalf("Negotiate credentials: %v", err)
	}
}

var _ = io.EOF
