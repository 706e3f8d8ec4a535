package sspi

import (
	"context"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

// pacPackage is the fake package whose acceptor contexts implement
// kerberos.PACContext, answering pac.
type pacPackage struct {
	*fakePackage
	pac *PAC
}

func (p *pacPackage) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	c, err := p.fakePackage.AcquireCredentials(ctx, principal, use, authData)
	if err != nil {
		return nil, err
	}
	return &pacCred{Credentials: c, pac: p.pac}, nil
}

type pacCred struct {
	packages.Credentials
	pac *PAC
}

func (c *pacCred) NewServerContext(req uint32) (packages.Context, error) {
	sc, err := c.Credentials.NewServerContext(req)
	if err != nil {
		return nil, err
	}
	return &pacContext{Context: sc, pac: c.pac}, nil
}

type pacContext struct {
	packages.Context
	pac *PAC
}

func (c *pacContext) PAC() *kerberos.PAC { return c.pac }

func TestContextPAC(t *testing.T) {
	want := &PAC{UserSID: "S-1-5-21-1-2-3-1105", GroupSIDs: []string{"S-1-5-21-1-2-3-513", "S-1-5-32-545"}, ClientName: "alice"}
	tests := []struct {
		name string
		pac  *PAC
	}{
		{"with-PAC", want},
		{"ticket-without-PAC", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry()
			r.Register(&pacPackage{fakePackage: &fakePackage{name: "Fake"}, pac: tt.pac})
			client, server := goPair(t, r, "pw")
			if p, ok := server.PAC(); ok || p != nil {
				t.Fatalf("PAC before the handshake = %v, %v", p, ok)
			}
			if err := goHandshake(context.Background(), client, server, nil, nil); err != nil {
				t.Fatal(err)
			}
			p, ok := server.PAC()
			if ok != (tt.pac != nil) || p != tt.pac {
				t.Fatalf("PAC = %+v, %v; want %+v", p, ok, tt.pac)
			}
			if p, ok := client.PAC(); ok || p != nil {
				t.Errorf("client PAC = %v, %v", p, ok)
			}
			server.Delete()
			if p, ok := server.PAC(); ok || p != nil {
				t.Errorf("PAC after Delete = %v, %v", p, ok)
			}
		})
	}
}

// Contexts of packages without a PAC report none: the fake package, and
// Negotiate over the real NTLM.
func TestContextPACNone(t *testing.T) {
	client, server := goPair(t, newFakeRegistry(), "pw")
	if err := goHandshake(context.Background(), client, server, nil, nil); err != nil {
		t.Fatal(err)
	}
	if p, ok := server.PAC(); ok || p != nil {
		t.Errorf("fake package PAC = %v, %v", p, ok)
	}

	r := NewRegistry()
	r.Register(negotiate.New(&negotiate.Config{NTLM: ntlm.New(nil), PackageList: "NTLM"}))
	ctx := context.Background()
	ccred, err := r.AcquireCredentials(ctx, "Negotiate", CredentialsOutbound, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	defer ccred.Free()
	scred, err := r.AcquireCredentials(ctx, "Negotiate", CredentialsInbound, &negotiate.AuthData{NTLM: ntlmUsers})
	if err != nil {
		t.Fatal(err)
	}
	defer scred.Free()
	c, err := NewClientContext(ccred, "HOST/server", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	s, err := NewServerContext(scred, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete()
	if err := goHandshake(ctx, c, s, nil, nil); err != nil {
		t.Fatal(err)
	}
	if s.NegotiatedPackage() != "NTLM" {
		t.Fatalf("negotiated %q", s.NegotiatedPackage())
	}
	if p, ok := s.PAC(); ok || p != nil {
		t.Errorf("Negotiate-NTLM PAC = %v, %v", p, ok)
	}
}
