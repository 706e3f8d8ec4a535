package mssqlauth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/microsoft/go-mssqldb/integratedauth"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/mssqlauth"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func TestMain(m *testing.M) { os.Exit(peers.RunTests(m)) }

var bg = context.Background()

// registry is a private registry over the test realm (Kerberos, and
// Negotiate over it and NTLM).
func registry(t *testing.T) (*sspi.Registry, *peers.KDC) {
	t.Helper()
	k := peers.TestKDC(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	nt := ntlm.New(&ntlm.Config{ComputerName: "SERVER", DomainName: "EXAMPLE", Workstation: "CLIENT"})
	r := sspi.NewRegistry()
	r.Register(krb)
	r.Register(nt)
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: nt}))
	return r, k
}

// authenticator goes the way go-mssqldb goes for a login: the connection
// string through msdsn.Parse, integratedauth.GetIntegratedAuthenticator,
// then SetChannelBinding when the connection has TLS bindings.
func authenticator(t *testing.T, provider, connStr string, cb *integratedauth.ChannelBindings) integratedauth.IntegratedAuthenticator {
	t.Helper()
	cfg, err := msdsn.Parse(connStr + ";authenticator=" + provider)
	if err != nil {
		t.Fatal(err)
	}
	a, err := integratedauth.GetIntegratedAuthenticator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a == nil {
		t.Fatal("no authenticator")
	}
	t.Cleanup(a.Free)
	if cb != nil {
		epa, ok := a.(integratedauth.AuthenticatorWithEPA)
		if !ok {
			t.Fatal("the authenticator does not take channel bindings")
		}
		epa.SetChannelBinding(cb)
	}
	return a
}

var providerSeq int

// register registers p under a fresh name.
func register(t *testing.T, p *mssqlauth.Provider) string {
	t.Helper()
	providerSeq++
	name := fmt.Sprintf("gosspi-test-%d", providerSeq)
	if err := mssqlauth.Register(name, p); err != nil {
		t.Fatal(err)
	}
	return name
}

// loginToPeer runs the login's token exchange against a gssdriver
// acceptor, as go-mssqldb relays SSPI tokens to SQL Server, and returns the
// acceptor's established line.
func loginToPeer(t *testing.T, d *peers.GSSDriver, a integratedauth.IntegratedAuthenticator) (map[string]string, error) {
	t.Helper()
	tok, err := a.InitialBytes()
	if err != nil {
		return nil, err
	}
	for range 8 {
		if len(tok) > 0 {
			if err := d.SendToken(tok); err != nil {
				return nil, err
			}
		}
		in, done, info, err := d.Next(bg)
		if err != nil {
			return nil, fmt.Errorf("%w; stderr: %s", err, d.Stderr())
		}
		if done {
			return info, nil
		}
		if tok, err = a.NextBytes(in); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("handshake did not finish in 8 legs")
}

// exchange proves both ends hold the same keys: a message sealed by our
// context opens at the peer, and the reverse.
func exchange(t *testing.T, d *peers.GSSDriver, c *sspi.Context) {
	t.Helper()
	msg := []byte("SELECT @@VERSION")
	sealed, confState, err := c.GSSWrap(msg, true)
	if err != nil || !confState {
		t.Fatalf("GSSWrap: sealed %v, %v", confState, err)
	}
	got, conf, err := d.Unwrap(bg, sealed)
	if err != nil {
		t.Fatalf("peer unwrap: %v", err)
	}
	if !bytes.Equal(got, msg) || !conf {
		t.Fatalf("peer unwrapped %q (encrypted %v)", got, conf)
	}
	back, _, err := d.Wrap(bg, []byte("row 1"), true)
	if err != nil {
		t.Fatal(err)
	}
	plain, confidential, err := c.GSSUnwrap(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != "row 1" || !confidential {
		t.Fatalf("GSSUnwrap = %q (sealed %v)", plain, confidential)
	}
}

func context_(t *testing.T, a integratedauth.IntegratedAuthenticator) *sspi.Context {
	t.Helper()
	ma, ok := a.(*mssqlauth.Authenticator)
	if !ok {
		t.Fatalf("authenticator is a %T", a)
	}
	if ma.Context() == nil || !ma.Context().Established() {
		t.Fatal("context not established")
	}
	return ma.Context()
}

func serverEndPoint() *integratedauth.ChannelBindings {
	h := sha256.Sum256([]byte("a server certificate"))
	return &integratedauth.ChannelBindings{
		Type:            integratedauth.ChannelBindingsTypeTLSServerEndPoint,
		ApplicationData: append([]byte(integratedauth.TLS_SERVER_END_POINT_PREFIX), h[:]...),
	}
}

// TestMITAcceptor: our authenticator logs in to MIT's acceptor (python3-gssapi
// over the test realm's keytab) with Kerberos and with Negotiate, with and
// without channel bindings; bindings that differ from the acceptor's fail.
func TestMITAcceptor(t *testing.T) {
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	r, k := registry(t)
	name := register(t, &mssqlauth.Provider{Registry: r})
	cb := serverEndPoint()
	other, err := integratedauth.GenerateCBTFromTLSUnique([]byte("another TLS connection"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, pkg, mech string
		ours            *integratedauth.ChannelBindings
		peer            []byte
		wantFail        bool
	}{
		{name: "Kerberos", pkg: "Kerberos", mech: "krb5"},
		{name: "Kerberos/bindings", pkg: "Kerberos", mech: "krb5", ours: cb, peer: cb.ApplicationData},
		{name: "Kerberos/empty bindings", pkg: "Kerberos", mech: "krb5", ours: integratedauth.EmptyChannelBindings},
		{name: "Kerberos/wrong bindings", pkg: "Kerberos", mech: "krb5", ours: other, peer: cb.ApplicationData, wantFail: true},
		{name: "Negotiate", pkg: "Negotiate", mech: "spnego"},
		{name: "Negotiate/bindings", pkg: "Negotiate", mech: "spnego", ours: cb, peer: cb.ApplicationData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := peers.StartGSS(peers.GSSOptions{
				Role: "accept", Mech: tc.mech, ChannelBindings: tc.peer,
				Env: append(k.Env(""), "KRB5_KTNAME=FILE:"+k.ServiceKeytab),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			a := authenticator(t, name, "server=localhost;user id=alice@"+k.Realm+
				";password=alice-pw;ServerSPN=host/localhost;sspi-package="+tc.pkg, tc.ours)
			info, err := loginToPeer(t, d, a)
			if tc.wantFail {
				if err == nil {
					t.Fatal("MIT accepted a login with other channel bindings")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := "alice@" + k.Realm; info["peer"] != want {
				t.Errorf("acceptor saw %q, want %q", info["peer"], want)
			}
			c := context_(t, a)
			if got := c.NegotiatedPackage(); got != "Kerberos" {
				t.Errorf("negotiated %q", got)
			}
			exchange(t, d, c)
		})
	}
}

// TestNTLMAcceptor: our authenticator logs in with NTLM, alone and inside
// Negotiate, to gss-ntlmssp, which checks the channel bindings.
func TestNTLMAcceptor(t *testing.T) {
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	peers.Require(t, "gss-ntlmssp (apt-get install -y gss-ntlmssp)", peers.HaveGSSNTLMSSP())
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("EXAMPLE:alice:Secret1!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := sspi.NewRegistry()
	nt := ntlm.New(&ntlm.Config{Workstation: "CLIENT"})
	r.Register(nt)
	r.Register(negotiate.New(&negotiate.Config{NTLM: nt, PackageList: "NTLM"}))
	name := register(t, &mssqlauth.Provider{Registry: r})
	cb := serverEndPoint()
	for _, tc := range []struct {
		name, pkg, mech, password string
		ours                      *integratedauth.ChannelBindings
		peer                      []byte
		wantFail                  bool
	}{
		{name: "NTLM", pkg: "NTLM", mech: "ntlm", password: "Secret1!"},
		{name: "NTLM/bindings", pkg: "NTLM", mech: "ntlm", password: "Secret1!", ours: cb, peer: cb.ApplicationData},
		{name: "NTLM/wrong bindings", pkg: "NTLM", mech: "ntlm", password: "Secret1!", ours: serverEndPointOf("other"), peer: cb.ApplicationData, wantFail: true},
		{name: "NTLM/wrong password", pkg: "NTLM", mech: "ntlm", password: "Secret2!", wantFail: true},
		{name: "Negotiate", pkg: "Negotiate", mech: "spnego", password: "Secret1!", ours: cb, peer: cb.ApplicationData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := peers.StartGSS(peers.GSSOptions{
				Role: "accept", Mech: tc.mech, ChannelBindings: tc.peer,
				Env: []string{"NTLM_USER_FILE=" + users},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			a := authenticator(t, name, `server=db.example.com;port=1433;user id=EXAMPLE\alice;password=`+tc.password+
				";sspi-package="+tc.pkg, tc.ours)
			if got := a.(*mssqlauth.Authenticator).Target(); got != "MSSQLSvc/db.example.com:1433" {
				t.Errorf("target %q", got)
			}
			info, err := loginToPeer(t, d, a)
			if tc.wantFail {
				if err == nil {
					t.Fatal("gss-ntlmssp accepted the login")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// gss-ntlmssp's display name ends with the NUL of its C string.
			if peer := strings.TrimRight(info["peer"], "\x00"); !strings.EqualFold(peer, `EXAMPLE\alice`) {
				t.Errorf("acceptor saw %q", info["peer"])
			}
			c := context_(t, a)
			if got := c.NegotiatedPackage(); got != "NTLM" {
				t.Errorf("negotiated %q", got)
			}
			exchange(t, d, c)
		})
	}
}

func serverEndPointOf(s string) *integratedauth.ChannelBindings {
	h := sha256.Sum256([]byte(s))
	return &integratedauth.ChannelBindings{
		Type:            integratedauth.ChannelBindingsTypeTLSServerEndPoint,
		ApplicationData: append([]byte(integratedauth.TLS_SERVER_END_POINT_PREFIX), h[:]...),
	}
}

// TestOurAcceptor: the authenticator against our own acceptor (the role
// SQL Server plays), over Kerberos from the MIT realm and over NTLM,
// with bindings checked on the server side.
func TestOurAcceptor(t *testing.T) {
	r, k := registry(t)
	name := register(t, &mssqlauth.Provider{Registry: r})
	cb := serverEndPoint()
	for _, tc := range []struct {
		name, pkg, user, password, target string
		server                            any
		serverCB                          *integratedauth.ChannelBindings
		wantUser                          string
		wantErr                           status.Status
	}{
		{name: "Kerberos", pkg: "Kerberos", user: "alice@" + k.Realm, password: "alice-pw", target: "HTTP/localhost",
			server: &kerberos.Keytab{Path: k.ServiceKeytab}, serverCB: cb, wantUser: "alice@" + k.Realm},
		{name: "Kerberos/wrong bindings", pkg: "Kerberos", user: "alice@" + k.Realm, password: "alice-pw", target: "HTTP/localhost",
			server: &kerberos.Keytab{Path: k.ServiceKeytab}, serverCB: serverEndPointOf("other"), wantErr: status.SEC_E_BAD_BINDINGS},
		{name: "Negotiate/NTLM", pkg: "Negotiate", user: `EXAMPLE\bob`, password: "Pw0rd!", target: "MSSQLSvc/nokdc.example.com:1433",
			server: &negotiate.AuthData{NTLM: ntlm.Users{`EXAMPLE\bob`: "Pw0rd!"}, PackageList: "NTLM"}, serverCB: cb, wantUser: `EXAMPLE\bob`},
		{name: "Negotiate/NTLM wrong password", pkg: "Negotiate", user: `EXAMPLE\bob`, password: "nope", target: "MSSQLSvc/nokdc.example.com:1433",
			server: &negotiate.AuthData{NTLM: ntlm.Users{`EXAMPLE\bob`: "Pw0rd!"}, PackageList: "NTLM"}, wantErr: status.SEC_E_LOGON_DENIED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := r.AcquireCredentials(bg, tc.pkg, sspi.CredentialsInbound, tc.server)
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Free()
			server, err := sspi.NewServerContext(sc, sspi.ASC_REQ_MUTUAL_AUTH|sspi.ASC_REQ_CONFIDENTIALITY)
			if err != nil {
				t.Fatal(err)
			}
			defer server.Delete()
			a := authenticator(t, name, "server=localhost;user id="+tc.user+";password="+tc.password+
				";ServerSPN="+tc.target+";sspi-package="+tc.pkg, cb)
			var bindings []byte
			if tc.serverCB != nil {
				bindings = tc.serverCB.AsSSPI_SEC_CHANNEL_BINDINGS().ToBytes()
			}
			err = loginToServer(a, server, bindings)
			if tc.wantErr != 0 {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := server.UserName(); err != nil || !strings.EqualFold(got, tc.wantUser) {
				t.Errorf("server sees %q (%v), want %q", got, err, tc.wantUser)
			}
			c := context_(t, a)
			sealed, err := c.Wrap([]byte("login ack"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := server.Unwrap(sealed); err != nil || string(got) != "login ack" {
				t.Fatalf("server unwrapped %q, %v", got, err)
			}
		})
	}
}

// loginToServer relays tokens between the authenticator and server, the
// server taking the SEC_CHANNEL_BINDINGS bytes as Windows' does.
func loginToServer(a integratedauth.IntegratedAuthenticator, server *sspi.Context, bindings []byte) error {
	tok, err := a.InitialBytes()
	if err != nil {
		return err
	}
	for range 8 {
		in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}
		if bindings != nil {
			in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: bindings})
		}
		back, err := server.StepBuffers(bg, in)
		if err != nil {
			return err
		}
		if server.Established() && len(back) == 0 {
			return nil
		}
		if tok, err = a.NextBytes(back); err != nil {
			return err
		}
		if server.Established() {
			if len(tok) != 0 {
				return errors.New("client token after the server finished")
			}
			return nil
		}
	}
	return errors.New("handshake did not finish in 8 legs")
}

// TestProviderErrors: a bad package parameter fails, and the default
// provider is registered under ProviderName.
func TestProviderErrors(t *testing.T) {
	cfg, err := msdsn.Parse("server=localhost;authenticator=" + mssqlauth.ProviderName + ";sspi-package=Digest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := integratedauth.GetIntegratedAuthenticator(cfg); err == nil {
		t.Fatal("sspi-package=Digest accepted")
	}
	cfg, err = msdsn.Parse(`server=sql.example.com\PROD;authenticator=` + mssqlauth.ProviderName)
	if err != nil {
		t.Fatal(err)
	}
	a, err := integratedauth.GetIntegratedAuthenticator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Free()
	if got := a.(*mssqlauth.Authenticator).Target(); got != "MSSQLSvc/sql.example.com:PROD" {
		t.Errorf("target %q", got)
	}
	if _, err := a.NextBytes([]byte{1}); err == nil {
		t.Error("NextBytes before InitialBytes succeeded")
	}
	if err := mssqlauth.Register("x", nil); err == nil {
		t.Error("nil provider registered")
	}
}
