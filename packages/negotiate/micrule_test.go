package negotiate

import (
	"context"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/status"
)

// realNTLMPair returns Negotiate client and server contexts over the real
// NTLM package, the client offering Kerberos (a fake that yields a token)
// first when withKerberos is set.
func realNTLMPair(t *testing.T, creq uint32, withKerberos bool) (client, server packages.Context) {
	t.Helper()
	var krb packages.Package
	if withKerberos {
		krb, _ = fakes()
	}
	cp := New(&Config{Kerberos: krb, NTLM: ntlm.New(nil)})
	if !withKerberos {
		cp = New(&Config{PackageList: "NTLM", NTLM: ntlm.New(nil)})
	}
	sp := New(&Config{PackageList: "NTLM", NTLM: ntlm.New(nil)})
	client = newCtx(t, side{pkg: cp, req: creq, auth: &packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"}}, true)
	server = newCtx(t, side{pkg: sp, auth: &AuthData{NTLM: testUsers}}, false)
	return client, server
}

// TestNTLMWithoutIntegrityNoMIC: with ISC_REQ_NO_INTEGRITY the NTLM
// context negotiates no SIGN, so no mechListMIC is used in either
// direction (RFC 4178 5: a mechanism without integrity protection uses
// none), and a server that completes without one, as Samba does, is
// accepted. Before the fix the client required the server's MIC for any
// NTLM context and failed with SEC_E_MESSAGE_ALTERED.
func TestNTLMWithoutIntegrityNoMIC(t *testing.T) {
	client, server := realNTLMPair(t, packages.ISC_REQ_NO_INTEGRITY, false)
	legs := exchange(client, server, nil, nil, nil)
	wantStatuses(t, legs, cont, cont, cont, ok, ok)
	for i := 2; i <= 3; i++ {
		if r := mustResp(t, legs[i].token); r.mechListMIC != nil {
			t.Errorf("leg %d carries a mechListMIC without integrity", i)
		}
	}
	if f := client.Flags(); f&packages.ISC_RET_INTEGRITY != 0 {
		t.Errorf("client flags %#x report integrity", f)
	}
	// The server of the Samba case: it completes without a MIC although
	// the client's AUTHENTICATE carries an NTLM MIC.
	client, server = realNTLMPair(t, packages.ISC_REQ_NO_INTEGRITY, false)
	legs = exchange(client, server, nil, nil, func(i int, tok []byte) []byte {
		if i != 3 {
			return tok
		}
		r := mustResp(t, tok)
		r.mechListMIC = nil
		b, err := r.marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	wantStatuses(t, legs, cont, cont, cont, ok, ok)
}

// TestDowngradeStrippedMIC is the attack of an on-path rewriter: the
// client offers [Kerberos, NTLM] with a Kerberos token; the attacker
// rewrites the NegTokenInit to [NTLM] with no token (so the server sees
// its first choice taken and asks for no MIC) and strips the client's
// mechListMIC from the AUTHENTICATE leg. The server must refuse, as
// Windows acceptors do when the NTLM AUTHENTICATE carries a MIC; before
// the fix it completed and only the client noticed.
func TestDowngradeStrippedMIC(t *testing.T) {
	client, server := realNTLMPair(t, packages.ISC_REQ_CONNECTION, true)
	legs := exchange(client, server, nil, nil, func(i int, tok []byte) []byte {
		switch i {
		case 0:
			init, err := parseNegTokenInit(tok)
			if err != nil {
				t.Fatal(err)
			}
			if len(init.mechTypes) != 3 || len(init.mechToken) == 0 {
				t.Fatalf("client offered %v", init.mechTypes)
			}
			b, err := (&negTokenInit{mechTypes: []asn1.ObjectIdentifier{oidNTLM}}).marshal()
			if err != nil {
				t.Fatal(err)
			}
			return b
		case 4: // the client's AUTHENTICATE with its mechListMIC
			r := mustResp(t, tok)
			if r.mechListMIC == nil {
				t.Fatal("the client sent no mechListMIC with AUTHENTICATE")
			}
			r.mechListMIC = nil
			b, err := r.marshal()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		return tok
	})
	last := legs[len(legs)-1]
	if last.client || !errors.Is(last.err, status.SEC_E_MESSAGE_ALTERED) {
		t.Fatalf("legs %s, last error %v: want the server to fail with SEC_E_MESSAGE_ALTERED", statuses(legs), last.err)
	}
	if server.Session() != nil {
		t.Fatal("server established after the mechListMIC was stripped")
	}
}

// TestInteropNTLMWithoutIntegrity: our client with ISC_REQ_NO_INTEGRITY
// (no SIGN) against MIT's SPNEGO acceptor over gss-ntlmssp: both sides
// complete with no mechListMIC, as RFC 4178 5 wants for a mechanism
// without integrity.
func TestInteropNTLMWithoutIntegrity(t *testing.T) {
	needGSSPeers(t)
	peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + userFile(t)}, "accept", spnegoOID)
	cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cred.NewClientContext("host/localhost", packages.ISC_REQ_NO_INTEGRITY)
	if err != nil {
		t.Fatal(err)
	}
	ourToks, peerToks := handshakeWithPeerTokens(t, c, peer, true)
	for i, tok := range append(ourToks[1:], peerToks...) {
		if len(tok) == 0 {
			continue
		}
		if r, err := parseNegTokenResp(tok); err == nil && r.mechListMIC != nil {
			t.Errorf("token %d carries a mechListMIC without integrity", i)
		}
	}
	if f := c.Flags(); f&packages.ISC_RET_INTEGRITY != 0 {
		t.Errorf("flags %#x report integrity", f)
	}
}
