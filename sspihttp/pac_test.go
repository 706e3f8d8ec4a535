package sspihttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// identityServer serves s in front of a handler that hands each request's
// Identity to the test.
func identityServer(t *testing.T, s *Server) (url string, ids <-chan *Identity) {
	t.Helper()
	if s.ErrorLog == nil {
		s.ErrorLog = nullLogger()
	}
	ch := make(chan *Identity, 8)
	hs := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := IdentityFromContext(r.Context())
		if !ok {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		ch <- id
	})))
	hs.Config.ConnContext = ConnContext
	hs.Start()
	t.Cleanup(hs.Close)
	return strings.Replace(hs.URL, "127.0.0.1", "localhost", 1) + "/", ch
}

// login makes one request as creds with scheme and returns the identity
// the handler saw.
func login(t *testing.T, reg *sspi.Registry, url string, ids <-chan *Identity, scheme string, creds any) *Identity {
	t.Helper()
	tr := &Transport{Registry: reg, Schemes: []string{scheme}, Credentials: creds}
	defer tr.CloseIdleConnections()
	code, body, _ := get(t, &http.Client{Transport: tr}, "GET", url, "")
	if code != http.StatusOK {
		t.Fatalf("%s: status %d %q", scheme, code, body)
	}
	select {
	case id := <-ids:
		return id
	default:
		t.Fatalf("%s: the handler did not run", scheme)
	}
	return nil
}

// Kerberos logins against the MIT KDC, through Negotiate and the bare
// scheme: the identity carries the PAC decoded from alice's ticket. MIT's
// KDC signs a PAC with PAC_CLIENT_INFO but no logon info, so UserSID and
// Groups are what that PAC lists: nothing.
func TestIdentityPACFromMIT(t *testing.T) {
	k := kdc(t)
	reg := testRegistry(t, k)
	url, ids := identityServer(t, &Server{Registry: reg, Schemes: []string{SchemeNegotiate, SchemeKerberos},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: testNTLMUsers},
		Kerberos:  &kerberos.Keytab{Path: k.ServiceKeytab}})
	alice := (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()
	for _, scheme := range []string{SchemeNegotiate, SchemeKerberos} {
		t.Run(scheme, func(t *testing.T) {
			id := login(t, reg, url, ids, scheme, alice)
			if id.Package != "Kerberos" || id.Name != "alice@"+k.Realm {
				t.Fatalf("identity %q via %s", id.Name, id.Package)
			}
			if id.PAC == nil {
				t.Fatal("no PAC in the identity of a Kerberos login")
			}
			if id.PAC.ClientName != "alice" {
				t.Errorf("PAC client name %q, want alice", id.PAC.ClientName)
			}
			if id.UserSID != id.PAC.UserSID || !slices.Equal(id.Groups, id.PAC.GroupSIDs) {
				t.Errorf("identity SIDs %q %q, PAC's %q %q", id.UserSID, id.Groups, id.PAC.UserSID, id.PAC.GroupSIDs)
			}
		})
	}
}

// The SIDs a Windows KDC puts in the logon info (MS-PAC 2.5): a user in
// a domain, its primary group (Domain Users, RID 513) and another.
const (
	testUserSID = "S-1-5-21-1004336348-1177238915-682003330-1105"
)

var testGroupSIDs = []string{
	"S-1-5-21-1004336348-1177238915-682003330-513",
	"S-1-5-21-1004336348-1177238915-682003330-1108",
}

// logonKerberos is the real Kerberos package whose acceptor contexts add
// logon info SIDs to the PAC decoded from the ticket, as if the KDC were
// Active Directory (MIT's puts none). It has no PAC when the ticket had
// none.
type logonKerberos struct{ packages.Package }

func (p logonKerberos) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	c, err := p.Package.AcquireCredentials(ctx, principal, use, authData)
	if err != nil {
		return nil, err
	}
	return logonCred{c}, nil
}

type logonCred struct{ packages.Credentials }

func (c logonCred) NewServerContext(req uint32) (packages.Context, error) {
	sc, err := c.Credentials.NewServerContext(req)
	if err != nil {
		return nil, err
	}
	return logonContext{sc}, nil
}

type logonContext struct{ packages.Context }

func (c logonContext) PAC() *kerberos.PAC {
	pc, ok := c.Context.(kerberos.PACContext)
	if !ok || pc.PAC() == nil {
		return nil
	}
	p := *pc.PAC()
	p.UserSID, p.GroupSIDs = testUserSID, slices.Clone(testGroupSIDs)
	return &p
}

// The identity takes its SIDs from the PAC the context reports, through
// Negotiate and the bare Kerberos scheme.
func TestIdentityPACSIDs(t *testing.T) {
	k := kdc(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	krb := logonKerberos{kerberos.New(&kerberos.Config{Krb5Conf: conf})}
	nt := ntlm.New(nil)
	reg := sspi.NewRegistry()
	reg.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: nt}))
	reg.Register(krb)
	reg.Register(nt)
	url, ids := identityServer(t, &Server{Registry: reg, Schemes: []string{SchemeNegotiate, SchemeKerberos},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: testNTLMUsers},
		Kerberos:  &kerberos.Keytab{Path: k.ServiceKeytab}})
	alice := (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()
	for _, scheme := range []string{SchemeNegotiate, SchemeKerberos} {
		t.Run(scheme, func(t *testing.T) {
			id := login(t, reg, url, ids, scheme, alice)
			if id.Package != "Kerberos" {
				t.Fatalf("package %q", id.Package)
			}
			if id.UserSID != testUserSID {
				t.Errorf("UserSID %q, want %q", id.UserSID, testUserSID)
			}
			if !slices.Equal(id.Groups, testGroupSIDs) {
				t.Errorf("Groups %q, want %q", id.Groups, testGroupSIDs)
			}
			if id.PAC == nil || id.PAC.ClientName != "alice" {
				t.Errorf("PAC %+v", id.PAC)
			}
		})
	}
}

// NTLM, Negotiate over NTLM and Digest identities have no PAC and no SIDs.
func TestIdentityNoPAC(t *testing.T) {
	reg := testRegistry(t, nil)
	url, ids := identityServer(t, &Server{Registry: reg, NTLM: testNTLMUsers,
		Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}, Digest: testDigestUsers})
	for _, tt := range loopbackTests {
		t.Run(tt.name, func(t *testing.T) {
			id := login(t, reg, url, ids, tt.scheme, testIdentity)
			if id.Name != tt.wantName || id.Package != tt.wantPackage {
				t.Fatalf("identity %q via %s", id.Name, id.Package)
			}
			if id.PAC != nil || id.UserSID != "" || id.Groups != nil {
				t.Errorf("%s identity has PAC %v, user SID %q, groups %q", tt.name, id.PAC, id.UserSID, id.Groups)
			}
		})
	}
}
