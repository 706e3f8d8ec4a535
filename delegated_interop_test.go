package sspi

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// delegationRealm is the MIT test realm (internal/peers) with a registry
// whose Kerberos and Negotiate use it.
type delegationRealm struct {
	k *peers.KDC
	r *Registry
}

// startDelegationRealm starts a KDC for t and its subtests (the root
// package has no TestMain to share one).
func startDelegationRealm(t *testing.T) *delegationRealm {
	t.Helper()
	peers.Require(t, "MIT Kerberos KDC (apt-get install -y krb5-kdc krb5-admin-server krb5-user)", peers.KDCInstalled())
	k, err := peers.StartKDC()
	if err != nil {
		peers.Require(t, "MIT krb5 test KDC ("+err.Error()+")", false)
	}
	t.Cleanup(k.Stop)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	r := NewRegistry()
	r.Register(krb)
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb}))
	return &delegationRealm{k: k, r: r}
}

// acceptor returns a server context of pkg for the service principal spn.
func (d *delegationRealm) acceptor(t *testing.T, pkg, spn string) *Context {
	t.Helper()
	return keytabAcceptor(t, d.r, pkg, &kerberos.Keytab{Path: d.k.ServiceKeytab, Principal: spn})
}

// aliceCredentials returns outbound credentials of pkg for alice's
// password.
func (d *delegationRealm) aliceCredentials(t *testing.T, pkg string) *Credentials {
	t.Helper()
	cred, err := d.r.AcquireCredentials(context.Background(), pkg, CredentialsOutbound, &AuthIdentity{User: "alice", Domain: d.k.Realm, Password: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cred.Free)
	return cred
}

// secondHop runs a handshake from cred to a new acceptor of pkg for
// host/localhost and checks that it authenticated alice.
func (d *delegationRealm) secondHop(t *testing.T, cred *Credentials, pkg string) {
	t.Helper()
	c, err := NewClientContext(cred, "host/localhost", ISC_REQ_MUTUAL_AUTH|ISC_REQ_CONFIDENTIALITY)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	s := d.acceptor(t, pkg, "host/localhost")
	if err := goHandshake(context.Background(), c, s, nil, nil); err != nil {
		t.Fatalf("second hop: %v", err)
	}
	if name, err := s.UserName(); err != nil || name != "alice@"+d.k.Realm {
		t.Fatalf("second hop authenticated %q, %v", name, err)
	}
	if got := s.NegotiatedPackage(); got != "Kerberos" {
		t.Errorf("second hop over %s", got)
	}
	sealed, err := c.Wrap([]byte("on alice's behalf"))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := s.Unwrap(sealed); err != nil || string(plain) != "on alice's behalf" {
		t.Fatalf("Unwrap: %q, %v", plain, err)
	}
}

// firstHop runs our client as alice with req against an acceptor of pkg
// for HTTP/localhost and returns the established server context.
func (d *delegationRealm) firstHop(t *testing.T, pkg string, req uint32) *Context {
	t.Helper()
	c, err := NewClientContext(d.aliceCredentials(t, pkg), "HTTP/localhost", req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Delete)
	s := d.acceptor(t, pkg, "HTTP/localhost")
	if err := goHandshake(context.Background(), c, s, nil, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// Delegation end to end through the Go API, with the MIT KDC: our client
// delegates (ISC_REQ_DELEGATE, alice's TGT is forwardable) to our
// acceptor, which uses the delegated credentials to get a ticket for
// host/localhost and authenticate as alice to a second acceptor, over
// Kerberos and over Negotiate; the credentials outlive the context that
// handed them out; MIT's tools read them from the credential cache
// WriteCCache writes; and the flat form (QueryContextLogonID, then
// AcquireCredentialsHandle with pvLogonId) gives the same.
func TestDelegationKDC(t *testing.T) {
	d := startDelegationRealm(t)
	const req = ISC_REQ_MUTUAL_AUTH | ISC_REQ_DELEGATE

	t.Run("Kerberos", func(t *testing.T) {
		s := d.firstHop(t, "Kerberos", req)
		if s.Flags()&ASC_RET_DELEGATE == 0 {
			t.Fatalf("flags %#x lack ASC_RET_DELEGATE", s.Flags())
		}
		dc, err := s.DelegatedCredentials()
		if err != nil {
			t.Fatal(err)
		}
		if dc.PackageName() != "Kerberos" || dc.UserName() != "alice@"+d.k.Realm || dc.Use() != CredentialsOutbound || dc.Expiry().IsZero() {
			t.Errorf("delegated credentials: %s %q %v %v", dc.PackageName(), dc.UserName(), dc.Use(), dc.Expiry())
		}
		d.secondHop(t, dc, "Kerberos")
		// The copy outlives the context.
		s.Delete()
		d.secondHop(t, dc, "Negotiate")
		dc.Free()
		if _, err := NewClientContext(dc, "host/localhost", 0); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
			t.Errorf("NewClientContext after Free: %v", err)
		}
	})

	t.Run("Negotiate", func(t *testing.T) {
		s := d.firstHop(t, "Negotiate", req)
		if s.NegotiatedPackage() != "Kerberos" || s.Flags()&ASC_RET_DELEGATE == 0 {
			t.Fatalf("negotiated %s, flags %#x", s.NegotiatedPackage(), s.Flags())
		}
		dc, err := s.DelegatedCredentials()
		if err != nil {
			t.Fatal(err)
		}
		defer dc.Free()
		if dc.PackageName() != "Kerberos" {
			t.Errorf("delegated credentials of %s", dc.PackageName())
		}
		// Negotiate credentials over the delegated Kerberos ones, for
		// SPNEGO peers.
		nc, err := d.r.AcquireCredentials(context.Background(), "Negotiate", CredentialsOutbound, dc)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Free()
		if nc.UserName() != "alice@"+d.k.Realm {
			t.Errorf("Negotiate credentials of %q", nc.UserName())
		}
		d.secondHop(t, nc, "Negotiate")
		var buf bytes.Buffer
		if err := nc.WriteCCache(&buf); err != nil || buf.Len() == 0 {
			t.Errorf("WriteCCache of Negotiate credentials: %v", err)
		}
	})

	t.Run("no-delegation", func(t *testing.T) {
		s := d.firstHop(t, "Negotiate", ISC_REQ_MUTUAL_AUTH)
		if s.Flags()&ASC_RET_DELEGATE != 0 {
			t.Errorf("flags %#x with ASC_RET_DELEGATE", s.Flags())
		}
		if _, err := s.DelegatedCredentials(); !errors.Is(err, status.SEC_E_NO_CREDENTIALS) {
			t.Errorf("DelegatedCredentials: %v", err)
		}
	})

	t.Run("ccache-for-MIT", func(t *testing.T) {
		for _, tool := range []string{"kvno", "klist"} {
			peers.Tool(t, tool, "krb5-user")
		}
		s := d.firstHop(t, "Kerberos", req)
		dc, err := s.DelegatedCredentials()
		if err != nil {
			t.Fatal(err)
		}
		defer dc.Free()
		f, err := os.CreateTemp(t.TempDir(), "krb5cc_")
		if err != nil {
			t.Fatal(err)
		}
		if err := dc.WriteCCache(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(f.Name()); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("ccache mode %v, %v", fi.Mode(), err)
		}
		env := d.k.Env(f.Name())
		// MIT's kvno uses the delegated TGT to get a service ticket.
		kvno := exec.Command("kvno", "host/localhost@"+d.k.Realm)
		kvno.Env = env
		if out, err := kvno.CombinedOutput(); err != nil {
			t.Fatalf("kvno with the written ccache: %v: %s", err, out)
		}
		klist := exec.Command("klist", "-f")
		klist.Env = env
		out, err := klist.CombinedOutput()
		if err != nil {
			t.Fatalf("klist: %v: %s", err, out)
		}
		if !strings.Contains(string(out), "Default principal: alice@"+d.k.Realm) || !strings.Contains(string(out), "krbtgt/"+d.k.Realm) {
			t.Errorf("klist:\n%s", out)
		}
		// Our package reads it back too.
		back, err := d.r.AcquireCredentials(context.Background(), "Kerberos", CredentialsOutbound, &kerberos.CCache{Path: f.Name()})
		if err != nil {
			t.Fatal(err)
		}
		defer back.Free()
		d.secondHop(t, back, "Kerberos")
	})

	t.Run("flat", func(t *testing.T) {
		ctx := context.Background()
		scred, err := d.r.AcquireCredentials(ctx, "Negotiate", CredentialsInbound, &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: d.k.ServiceKeytab, Principal: "HTTP/localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		var hc CredHandle
		hc.Lower, hc.Upper = d.r.creds.add(scred)
		defer d.r.FreeCredentialsHandle(&hc)
		c, err := NewClientContext(d.aliceCredentials(t, "Negotiate"), "HTTP/localhost", req)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Delete()
		var hs CtxtHandle
		var tok []byte
		for i := 0; !c.Established() || i == 0; i++ {
			if tok, err = c.Step(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if len(tok) == 0 {
				break
			}
			in := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}}
			out := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 64<<10)}}}
			var attr uint32
			prev := &hs
			if i == 0 {
				prev = nil
			}
			st := d.r.AcceptSecurityContext(&hc, prev, in, ASC_REQ_MUTUAL_AUTH, SECURITY_NATIVE_DREP, &hs, out, &attr, nil)
			if st.Failed() {
				t.Fatalf("AcceptSecurityContext = %v", st)
			}
			tok = out.Buffers[0].Data
			if st == SEC_E_OK && attr&ASC_RET_DELEGATE == 0 {
				t.Fatalf("attributes %#x lack ASC_RET_DELEGATE", attr)
			}
			if len(tok) == 0 {
				break
			}
		}
		var luid LUID
		if st := d.r.QueryContextLogonID(&hs, &luid); st != SEC_E_OK {
			t.Fatalf("QueryContextLogonID = %v", st)
		}
		var hd CredHandle
		var expiry TimeStamp
		if st := d.r.AcquireCredentialsHandleW(nil, mustUTF16(t, "Negotiate"), SECPKG_CRED_OUTBOUND, &luid, nil, 0, 0, &hd, &expiry); st != SEC_E_OK {
			t.Fatalf("AcquireCredentialsHandleW(pvLogonId) = %v", st)
		}
		defer d.r.FreeCredentialsHandle(&hd)
		dc, err := d.r.Credentials(&hd)
		if err != nil {
			t.Fatal(err)
		}
		if dc.PackageName() != "Negotiate" || dc.UserName() != "alice@"+d.k.Realm || expiry.Time().IsZero() {
			t.Errorf("credentials of the logon session: %s %q %v", dc.PackageName(), dc.UserName(), expiry.Time())
		}
		d.secondHop(t, dc, "Negotiate")
		if st := d.r.DeleteSecurityContext(&hs); st != SEC_E_OK {
			t.Fatal(st)
		}
		if st := d.r.AcquireCredentialsHandleW(nil, mustUTF16(t, "Kerberos"), SECPKG_CRED_OUTBOUND, &luid, nil, 0, 0, &hd, nil); st != SEC_E_NO_CREDENTIALS {
			t.Errorf("after DeleteSecurityContext: %v", st)
		}
		// The credentials acquired before live on.
		d.secondHop(t, dc, "Negotiate")
	})
}

// MIT as the delegating client: python3-gssapi (internal/peers) with a
// kinit ccache and the delegate flag, over krb5 and SPNEGO, to our
// acceptor, which then authenticates as alice to a second acceptor with
// the forwarded TGT.
func TestDelegationFromMIT(t *testing.T) {
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	d := startDelegationRealm(t)
	peers.Tool(t, "kinit", "krb5-user")
	cc := filepath.Join(t.TempDir(), "ccache")
	kinit := exec.Command("kinit", "-f", "alice")
	kinit.Env = d.k.Env(cc)
	kinit.Stdin = strings.NewReader("alice-pw\n")
	if out, err := kinit.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v: %s", err, out)
	}
	for _, tt := range []struct{ mech, pkg string }{{"krb5", "Kerberos"}, {"spnego", "Negotiate"}} {
		t.Run(tt.pkg, func(t *testing.T) {
			ctx := context.Background()
			g, err := peers.StartGSS(peers.GSSOptions{Role: "initiate", Mech: tt.mech, Target: "HTTP@localhost",
				Flags: "mutual,delegate", Env: d.k.Env(cc)})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			s := d.acceptor(t, tt.pkg, "HTTP/localhost")
			for i := 0; i < 6; i++ {
				tok, established, _, err := g.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if established {
					break
				}
				out, err := s.Step(ctx, tok)
				if err != nil {
					t.Fatalf("Step: %v", err)
				}
				if len(out) > 0 {
					if err := g.SendToken(out); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !s.Established() || s.Flags()&ASC_RET_DELEGATE == 0 {
				t.Fatalf("established %v, flags %#x", s.Established(), s.Flags())
			}
			dc, err := s.DelegatedCredentials()
			if err != nil {
				t.Fatal(err)
			}
			defer dc.Free()
			if dc.UserName() != "alice@"+d.k.Realm {
				t.Errorf("delegated user %q", dc.UserName())
			}
			d.secondHop(t, dc, tt.pkg)
		})
	}
}
