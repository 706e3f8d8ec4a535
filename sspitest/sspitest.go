// Package sspitest sets up a Kerberos realm for tests in one call: a KDC
// of package kdc answering in process, and an sspi.Registry whose
// Kerberos and Negotiate packages use it, so that a test of code built on
// this module (or on Kerberos at all) runs Kerberos with nothing but Go
// installed.
//
//	func TestLogin(t *testing.T) {
//		realm := sspitest.NewRealm(t)
//		alice := realm.AddUser(t, "alice", kdc.User{GroupRIDs: []uint32{512}})
//		server := realm.AddService(t, "HTTP/web.example.test")
//		client := realm.Credentials(t, "Negotiate", alice)
//		...
//	}
package sspitest

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"path/filepath"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// DefaultRealm is the realm [NewRealm] creates.
const DefaultRealm = "SSPITEST.TEST"

// Realm is a test realm: a KDC and a Registry whose Kerberos and
// Negotiate packages talk to it in process.
type Realm struct {
	// KDC is the realm's KDC; add users and services to it directly for
	// options the helpers do not take.
	KDC *kdc.KDC
	// Name is the realm name.
	Name string
	// Kerberos is the Kerberos package configured for the KDC
	// (kerberos.Config.Transport and Krb5Conf).
	Kerberos *kerberos.Package
	// Registry holds Kerberos, Negotiate over it and NTLM.
	Registry *sspi.Registry
}

// NewRealm starts a realm named [DefaultRealm] with the KDC's default
// configuration; t's cleanup stops it.
func NewRealm(t testing.TB) *Realm {
	t.Helper()
	return NewRealmConfig(t, kdc.Config{Realm: DefaultRealm})
}

// NewRealmConfig starts a realm as config describes.
func NewRealmConfig(t testing.TB, config kdc.Config) *Realm {
	t.Helper()
	k, err := kdc.New(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	krb := kerberos.New(&kerberos.Config{Transport: k, Krb5Conf: k.Krb5Config(), Time: config.Time})
	r := sspi.NewRegistry()
	r.Register(krb)
	nt := ntlm.New(nil)
	r.Register(nt)
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: nt}))
	return &Realm{KDC: k, Name: k.Realm(), Kerberos: krb, Registry: r}
}

// AddUser adds a user with a random password and returns its identity
// for AcquireCredentials (user, realm, password).
func (r *Realm) AddUser(t testing.TB, name string, u kdc.User) *sspi.AuthIdentity {
	t.Helper()
	pw := make([]byte, 12)
	rand.Read(pw)
	password := "Pw-" + hex.EncodeToString(pw)
	if err := r.KDC.AddUser(name, password, u); err != nil {
		t.Fatal(err)
	}
	return &sspi.AuthIdentity{User: name, Domain: r.Name, Password: password}
}

// AddService adds a service principal with random keys and returns its
// keytab, auth data for inbound Kerberos credentials.
func (r *Realm) AddService(t testing.TB, spn string) *kerberos.Keytab {
	t.Helper()
	kt, err := r.KDC.AddService(spn, kdc.Service{})
	if err != nil {
		t.Fatal(err)
	}
	return kt
}

// Credentials acquires outbound credentials of pkg ("Kerberos" or
// "Negotiate") for id from r.Registry; t's cleanup frees them.
func (r *Realm) Credentials(t testing.TB, pkg string, id *sspi.AuthIdentity) *sspi.Credentials {
	t.Helper()
	c, err := r.Registry.AcquireCredentials(context.Background(), pkg, sspi.CredentialsOutbound, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Free)
	return c
}

// ServerCredentials acquires inbound credentials of pkg for the service
// keytab kt; t's cleanup frees them.
func (r *Realm) ServerCredentials(t testing.TB, pkg string, kt *kerberos.Keytab) *sspi.Credentials {
	t.Helper()
	var data any = kt
	if pkg == "Negotiate" {
		data = &negotiate.AuthData{Kerberos: kt}
	}
	c, err := r.Registry.AcquireCredentials(context.Background(), pkg, sspi.CredentialsInbound, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Free)
	return c
}

// Listen serves the KDC on 127.0.0.1 (UDP and TCP, a free port) and
// writes a krb5.conf for it in a temporary directory: set KRB5_CONFIG to
// the path returned for MIT tools or libraries in the test.
func (r *Realm) Listen(t testing.TB) (kdc.Addr, string) {
	t.Helper()
	addr, err := r.KDC.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "krb5.conf")
	if err := r.KDC.WriteKrb5Conf(path); err != nil {
		t.Fatal(err)
	}
	return addr, path
}

// Handshake runs a client context for target against a server context
// until both are established, and returns them; t's cleanup deletes
// them.
func Handshake(t testing.TB, client, server *sspi.Credentials, target string, req uint32) (*sspi.Context, *sspi.Context) {
	t.Helper()
	ctx := context.Background()
	c, err := sspi.NewClientContext(client, target, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Delete)
	s, err := sspi.NewServerContext(server, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Delete)
	var tok []byte
	for i := 0; i < 10; i++ {
		out, err := c.Step(ctx, tok)
		if err != nil {
			t.Fatalf("client step: %v", err)
		}
		if c.Established() && len(out) == 0 && s.Established() {
			return c, s
		}
		if len(out) > 0 {
			tok, err = s.Step(ctx, out)
			if err != nil {
				t.Fatalf("server step: %v", err)
			}
		}
		if c.Established() && s.Established() && len(tok) == 0 {
			return c, s
		}
	}
	if !c.Established() || !s.Established() {
		t.Fatal("sspitest: handshake did not complete")
	}
	return c, s
}
