package negotiate

import (
	"context"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
)

// pacPkg is a fake Kerberos whose acceptor contexts carry a PAC.
type pacPkg struct {
	*fakePkg
	pac *kerberos.PAC
}

func (p *pacPkg) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	c, err := p.fakePkg.AcquireCredentials(ctx, principal, use, authData)
	if err != nil {
		return nil, err
	}
	return &pacCred{Credentials: c, pac: p.pac}, nil
}

type pacCred struct {
	packages.Credentials
	pac *kerberos.PAC
}

func (c *pacCred) NewServerContext(req uint32) (packages.Context, error) {
	sc, err := c.Credentials.NewServerContext(req)
	if err != nil {
		return nil, err
	}
	return &pacCtx{Context: sc, pac: c.pac}, nil
}

type pacCtx struct {
	packages.Context
	pac *kerberos.PAC
}

func (c *pacCtx) PAC() *kerberos.PAC { return c.pac }

// Negotiate's acceptor forwards the mechanism's PAC once established,
// and has none for NTLM.
func TestPACForwarded(t *testing.T) {
	want := &kerberos.PAC{UserSID: "S-1-5-21-1-2-3-1105", GroupSIDs: []string{"S-1-5-21-1-2-3-513"}}
	krb, nt := fakes()
	tests := []struct {
		name    string
		config  *Config
		wantPAC *kerberos.PAC
	}{
		{"Kerberos", &Config{Kerberos: &pacPkg{fakePkg: krb, pac: want}, NTLM: nt}, want},
		{"Kerberos-without-PAC", &Config{Kerberos: krb, NTLM: nt}, nil},
		{"NTLM", &Config{Kerberos: &pacPkg{fakePkg: krb, pac: want}, NTLM: nt, PackageList: "NTLM"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(tt.config)
			client := newCtx(t, side{pkg: p, req: packages.ISC_REQ_MUTUAL_AUTH}, true)
			server := newCtx(t, side{pkg: p}, false)
			sp, ok := server.(kerberos.PACContext)
			if !ok {
				t.Fatal("the Negotiate acceptor does not implement kerberos.PACContext")
			}
			if _, ok := client.(kerberos.PACContext); ok {
				t.Error("the Negotiate initiator implements kerberos.PACContext")
			}
			if got := sp.PAC(); got != nil {
				t.Fatalf("PAC before the handshake: %+v", got)
			}
			legs := exchange(client, server, nil, nil, nil)
			if server.Session() == nil {
				t.Fatalf("server not established: %s", statuses(legs))
			}
			if got := server.(kerberos.PACContext).PAC(); got != tt.wantPAC {
				t.Fatalf("PAC %+v, want %+v", got, tt.wantPAC)
			}
		})
	}
}

// With the real Kerberos package and the MIT KDC: the acceptor's PAC is
// the one Kerberos decoded from the ticket; after a fallback to NTLM
// there is none.
func TestKDCPAC(t *testing.T) {
	k := peers.TestKDC(t)
	tests := []struct {
		name, target, mech string
		wantPAC            bool
	}{
		{"Kerberos", "HTTP/localhost", "Kerberos", true},
		{"NTLM-fallback", "HTTP/nosuch.gosspi.test", "NTLM", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := kdcPair(t, k, kdcPackage(t, k, ""), tt.target, packages.ISC_REQ_MUTUAL_AUTH)
			legs := exchange(client, server, nil, nil, nil)
			if server.Session() == nil {
				t.Fatalf("server not established: %s", statuses(legs))
			}
			checkNegotiated(t, server, tt.mech, packages.SECPKG_NEGOTIATION_COMPLETE)
			pac := server.(kerberos.PACContext).PAC()
			if !tt.wantPAC {
				if pac != nil {
					t.Fatalf("PAC %+v over %s", pac, tt.mech)
				}
				return
			}
			if pac == nil {
				t.Fatal("no PAC from the MIT ticket through Negotiate")
			}
			if pac.ClientName != "alice" {
				t.Errorf("PAC client name %q, want alice", pac.ClientName)
			}
		})
	}
}

// Delegation through Negotiate: with ISC_REQ_DELEGATE the acceptor hands
// out alice's forwarded TGT, usable for a second hop; without it, and
// after a fallback to NTLM, there is nothing.
func TestKDCDelegatedCredentials(t *testing.T) {
	k := peers.TestKDC(t)
	tests := []struct {
		name, target string
		req          uint32
		want         bool
	}{
		{"delegate", "HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_DELEGATE, true},
		{"no-delegate", "HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH, false},
		{"NTLM-fallback", "HTTP/nosuch.gosspi.test", packages.ISC_REQ_DELEGATE, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := kdcPackage(t, k, "")
			client, server := kdcPair(t, k, p, tt.target, tt.req)
			dc, ok := server.(kerberos.DelegatedCredentialer)
			if !ok {
				t.Fatal("the Negotiate acceptor does not implement kerberos.DelegatedCredentialer")
			}
			if dc.DelegatedCredentials() != nil {
				t.Fatal("delegated credentials before the handshake")
			}
			legs := exchange(client, server, nil, nil, nil)
			if server.Session() == nil {
				t.Fatalf("server not established: %s", statuses(legs))
			}
			cred := dc.DelegatedCredentials()
			if (cred != nil) != tt.want || (server.Flags()&packages.ASC_RET_DELEGATE != 0) != tt.want {
				t.Fatalf("delegated credentials %v, flags %#x; want delegation %v", cred, server.Flags(), tt.want)
			}
			if !tt.want {
				return
			}
			if cred.UserName() != "alice@"+k.Realm {
				t.Fatalf("delegated user %q", cred.UserName())
			}
			// The second hop, straight to Kerberos as alice.
			c2, err := cred.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
			if err != nil {
				t.Fatal(err)
			}
			_, s2 := kdcPair(t, k, p, "HTTP/localhost", 0)
			legs = exchange(c2, s2, nil, nil, nil)
			if s2.Session() == nil {
				t.Fatalf("second hop: %s", statuses(legs))
			}
			n, err := s2.QueryAttribute(packages.SECPKG_ATTR_NAMES)
			if err != nil || n.(*packages.Names).UserName != "alice@"+k.Realm {
				t.Fatalf("second hop NAMES %v %v", n, err)
			}
		})
	}
}
