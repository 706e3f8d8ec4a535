package adtest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// testCtx returns a context that ends with the test (at most a minute).
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// identity is u's password identity in the given domain (Realm when "").
func identity(u User, domain string) *sspi.AuthIdentity {
	if domain == "" {
		domain = Realm
	}
	return &sspi.AuthIdentity{User: u.Name, Domain: domain, Password: u.Password}
}

// registryOptions configure a private registry.
type registryOptions struct {
	tgsEnctypes []int32          // the client's TGS-REQ enctypes; nil: krb5.conf's
	now         func() time.Time // the Kerberos clock; nil: time.Now
}

// newRegistry returns a registry with Kerberos configured from the DC's
// krb5.conf (and opts), Negotiate over that Kerberos and the default NTLM.
func newRegistry(t *testing.T, dc *DC, opts registryOptions) *sspi.Registry {
	t.Helper()
	conf, err := config.Load(dc.Krb5Conf)
	if conf == nil {
		t.Fatalf("load %s: %v", dc.Krb5Conf, err)
	}
	if opts.tgsEnctypes != nil {
		conf.LibDefaults.DefaultTGSEnctypeIDs = opts.tgsEnctypes
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf, Time: opts.now})
	nt := ntlm.New(nil)
	r := sspi.NewRegistry()
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: nt}))
	r.Register(krb)
	r.Register(nt)
	return r
}

// acquire acquires credentials or fails t.
func acquire(t *testing.T, r *sspi.Registry, pkg, principal string, use sspi.CredentialUse, data any) *sspi.Credentials {
	t.Helper()
	cred, err := r.AcquireCredentialsFor(testCtx(t), pkg, principal, use, data)
	if err != nil {
		t.Fatalf("AcquireCredentials(%s, %q): %v", pkg, principal, err)
	}
	t.Cleanup(cred.Free)
	return cred
}

// serviceCred returns inbound credentials of pkg (Kerberos or Negotiate)
// for spn, with the keytab the DC exports for it.
func serviceCred(t *testing.T, dc *DC, r *sspi.Registry, pkg, spn string) *sspi.Credentials {
	t.Helper()
	kt, err := dc.ExportKeytab(spn)
	if err != nil {
		t.Fatal(err)
	}
	var data any = &kerberos.Keytab{Path: kt}
	if pkg == "Negotiate" {
		data = &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: kt}, PackageList: "Kerberos"}
	}
	return acquire(t, r, pkg, spn, sspi.CredentialsInbound, data)
}

// contexts creates a client and a server context, deleted at the end.
func contexts(t *testing.T, client, server *sspi.Credentials, target string, creq, sreq uint32) (*sspi.Context, *sspi.Context) {
	t.Helper()
	c, err := sspi.NewClientContext(client, target, creq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Delete)
	s, err := sspi.NewServerContext(server, sreq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Delete)
	return c, s
}

// handshake runs client and server to completion, at most 6 legs.
func handshake(ctx context.Context, client, server *sspi.Context) error {
	var tok []byte
	var err error
	for leg := 0; leg < 6; leg++ {
		if client.Established() && server.Established() {
			return nil
		}
		if leg%2 == 0 {
			if tok, err = client.Step(ctx, tok); err != nil {
				return fmt.Errorf("client leg %d: %w", leg/2+1, err)
			}
		} else {
			if tok, err = server.Step(ctx, tok); err != nil {
				return fmt.Errorf("server leg %d: %w", leg/2+1, err)
			}
		}
		if len(tok) == 0 && !(client.Established() && server.Established()) {
			return fmt.Errorf("no token after leg %d, client established %v, server established %v", leg+1, client.Established(), server.Established())
		}
	}
	if !client.Established() || !server.Established() {
		return fmt.Errorf("no established context after 6 legs")
	}
	return nil
}

// exchangeMessages seals a message each way with Wrap/Unwrap and signs
// one each way.
func exchangeMessages(t *testing.T, client, server *sspi.Context) {
	t.Helper()
	for i, dir := range []struct {
		name     string
		from, to *sspi.Context
	}{{"client→server", client, server}, {"server→client", server, client}} {
		msg := []byte(fmt.Sprintf("gosspi adtest message %d, %s", i, dir.name))
		sealed, err := dir.from.Wrap(msg)
		if err != nil {
			t.Fatalf("%s Wrap: %v", dir.name, err)
		}
		if bytes.Contains(sealed, msg) {
			t.Errorf("%s: the sealed message holds the plaintext", dir.name)
		}
		plain, err := dir.to.Unwrap(sealed)
		if err != nil {
			t.Fatalf("%s Unwrap: %v", dir.name, err)
		}
		if !bytes.Equal(plain, msg) {
			t.Fatalf("%s: Unwrap gave %q, want %q", dir.name, plain, msg)
		}
		sig, err := dir.from.MakeSignature(msg, 0, 0)
		if err != nil {
			t.Fatalf("%s MakeSignature: %v", dir.name, err)
		}
		if _, err := dir.to.VerifySignature(msg, sig, 0); err != nil {
			t.Fatalf("%s VerifySignature: %v", dir.name, err)
		}
	}
}

// wantFlags fails t unless every bit of want is in got.
func wantFlags(t *testing.T, side string, got, want uint32) {
	t.Helper()
	if got&want != want {
		t.Errorf("%s flags %#x lack %#x", side, got, want&^got)
	}
}

// attribute returns the value of "name: value" in samba-tool's LDIF
// output (the first one).
func attribute(ldif, name string) string {
	for _, l := range strings.Split(ldif, "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// sids caches showSID's answers: each samba-tool run costs about half a
// second.
var sids struct {
	sync.Mutex
	m map[string]string
}

// showSID returns the objectSid of a user or group with samba-tool.
func showSID(t *testing.T, dc *DC, kind, name string) string {
	t.Helper()
	key := kind + "/" + name
	sids.Lock()
	defer sids.Unlock()
	if sid, ok := sids.m[key]; ok {
		return sid
	}
	out, err := dc.SambaTool(kind, "show", name, "--attributes=objectSid")
	if err != nil {
		t.Fatal(err)
	}
	sid := attribute(out, "objectSid")
	if !strings.HasPrefix(sid, "S-1-5-21-") {
		t.Fatalf("samba-tool %s show %s: no objectSid in %q", kind, name, out)
	}
	if sids.m == nil {
		sids.m = map[string]string{}
	}
	sids.m[key] = sid
	return sid
}
