package negotiate

import (
	"bytes"
	"context"
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// These tests run Negotiate over the real Kerberos package against the
// MIT KDC of scripts/testkdc.sh (realm GOSSPI.TEST), and over NTLM when
// Kerberos cannot be had.

var aliceKrb = &packages.AuthIdentity{User: "alice", Domain: "GOSSPI.TEST", Password: "alice-pw"}

// krbUsers lets the NTLM server accept alice with her Kerberos password,
// so that a fallback to NTLM can complete.
var krbUsers = ntlm.Users{"alice": "alice-pw"}

func kdcPackage(t testing.TB, k *peers.KDC, list string) *Package {
	t.Helper()
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	return New(&Config{Kerberos: kerberos.New(&kerberos.Config{Krb5Conf: conf}), PackageList: list})
}

func kdcPair(t testing.TB, k *peers.KDC, p *Package, target string, creq uint32) (client, server packages.Context) {
	t.Helper()
	ccred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, aliceKrb)
	if err != nil {
		t.Fatal(err)
	}
	scred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND,
		&AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: krbUsers})
	if err != nil {
		t.Fatal(err)
	}
	if client, err = ccred.NewClientContext(target, creq); err != nil {
		t.Fatal(err)
	}
	if server, err = scred.NewServerContext(0); err != nil {
		t.Fatal(err)
	}
	return client, server
}

func TestKDCKerberos(t *testing.T) {
	k := peers.TestKDC(t)
	tests := []struct {
		name string
		req  uint32
	}{
		{"mutual", packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY},
		{"no-mutual", packages.ISC_REQ_CONFIDENTIALITY},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := kdcPair(t, k, kdcPackage(t, k, ""), "HTTP/localhost", tt.req)
			legs := exchange(client, server, nil, nil, nil)
			wantStatuses(t, legs, cont, ok, ok)
			init, err := parseNegTokenInit(legs[0].token)
			if err != nil {
				t.Fatal(err)
			}
			if want := []asn1.ObjectIdentifier{oidMSKRB5, oidKerberos, oidNTLM}; !reflect.DeepEqual(init.mechTypes, want) {
				t.Fatalf("mechTypes %v", init.mechTypes)
			}
			if oid, ok := gssTokenMech(init.mechToken); !ok || !isKerberosOID(oid) {
				t.Fatalf("optimistic token is not Kerberos: %x", init.mechToken[:min(16, len(init.mechToken))])
			}
			r := mustResp(t, legs[1].token)
			mutual := tt.req&packages.ISC_REQ_MUTUAL_AUTH != 0
			if r.state != acceptCompleted || !r.supportedMech.Equal(oidMSKRB5) || (len(r.responseToken) > 0) != mutual {
				t.Fatalf("reply %+v", r)
			}
			checkNegotiated(t, client, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
			checkNegotiated(t, server, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
			v, err := server.QueryAttribute(packages.SECPKG_ATTR_NAMES)
			if err != nil || !strings.HasPrefix(v.(*packages.Names).UserName, "alice@GOSSPI.TEST") {
				t.Fatalf("server NAMES %v %v", v, err)
			}
			if ck, sk := sessionKey(t, client), sessionKey(t, server); len(ck) == 0 || !bytes.Equal(ck, sk) {
				t.Fatalf("session keys differ")
			}
			checkMessages(t, client, server)
		})
	}
}

func isKerberosOID(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(oidKerberos) || oid.Equal(oidMSKRB5)
}

// An SPN the KDC does not know: the client drops Kerberos and uses NTLM.
func TestKDCUnknownSPNFallsBackToNTLM(t *testing.T) {
	k := peers.TestKDC(t)
	client, server := kdcPair(t, k, kdcPackage(t, k, ""), "HTTP/nosuch.gosspi.test", packages.ISC_REQ_CONFIDENTIALITY)
	legs := exchange(client, server, nil, nil, nil)
	wantStatuses(t, legs, cont, cont, cont, ok, ok)
	init, err := parseNegTokenInit(legs[0].token)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(init.mechTypes, []asn1.ObjectIdentifier{oidNTLM}) {
		t.Fatalf("mechTypes %v, want NTLM only", init.mechTypes)
	}
	checkNegotiated(t, client, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	checkMessages(t, client, server)
}

// With NTLM forbidden the Kerberos failure comes back.
func TestKDCUnknownSPNNTLMForbidden(t *testing.T) {
	k := peers.TestKDC(t)
	for _, list := range []string{"config", "identity"} {
		t.Run(list, func(t *testing.T) {
			cfgList, id := "", *aliceKrb
			if list == "config" {
				cfgList = "!NTLM"
			} else {
				id.PackageList = "!ntlm"
			}
			p := kdcPackage(t, k, cfgList)
			cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &id)
			if err != nil {
				t.Fatal(err)
			}
			c, err := cred.NewClientContext("HTTP/nosuch.gosspi.test", 0)
			if err != nil {
				t.Fatal(err)
			}
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
			st, err := c.Step(context.Background(), nil, out)
			if err == nil || !st.Failed() || len(out[0].Data) != 0 {
				t.Fatalf("Step: %v %v, %d bytes", st, err, len(out[0].Data))
			}
			t.Logf("Kerberos failure: %v", err)
			if st != status.SEC_E_TARGET_UNKNOWN || !errors.Is(err, status.SEC_E_TARGET_UNKNOWN) || !strings.Contains(err.Error(), "Kerberos") {
				t.Fatalf("error %v is not the Kerberos failure SEC_E_TARGET_UNKNOWN", err)
			}
		})
	}
}

// A KDC that does not answer: a realm whose KDC is a closed port.
func TestNoKDCFallsBackToNTLM(t *testing.T) {
	conf, err := config.NewFromString("[libdefaults]\n default_realm = NOKDC.TEST\n dns_lookup_kdc = false\n dns_lookup_realm = false\n[realms]\n NOKDC.TEST = {\n  kdc = 127.0.0.1:1\n }\n")
	if err != nil {
		t.Fatal(err)
	}
	id := &packages.AuthIdentity{User: "alice", Domain: "NOKDC.TEST", Password: "alice-pw"}
	for _, forbid := range []bool{false, true} {
		list := ""
		if forbid {
			list = "!NTLM"
		}
		p := New(&Config{Kerberos: kerberos.New(&kerberos.Config{Krb5Conf: conf}), PackageList: list})
		ccred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, id)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ccred.NewClientContext("HTTP/web.nokdc.test", 0)
		if err != nil {
			t.Fatal(err)
		}
		if forbid {
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
			st, err := c.Step(context.Background(), nil, out)
			if !errors.Is(err, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) || st != status.SEC_E_NO_AUTHENTICATING_AUTHORITY {
				t.Fatalf("NTLM forbidden: %v %v, want SEC_E_NO_AUTHENTICATING_AUTHORITY", st, err)
			}
			continue
		}
		scred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: krbUsers})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := scred.NewServerContext(0)
		legs := exchange(c, s, nil, nil, nil)
		wantStatuses(t, legs, cont, cont, cont, ok, ok)
		checkNegotiated(t, c, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	}
}

// The server offers NTLM only: it answers the optimistic Kerberos token
// with request-mic and NTLM; both sides then exchange mechListMICs.
func TestKDCServerWithoutKerberos(t *testing.T) {
	k := peers.TestKDC(t)
	ccred, err := kdcPackage(t, k, "").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, aliceKrb)
	if err != nil {
		t.Fatal(err)
	}
	scred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: krbUsers})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ccred.NewClientContext("HTTP/localhost", packages.ISC_REQ_CONFIDENTIALITY)
	s, _ := scred.NewServerContext(0)
	legs := exchange(c, s, nil, nil, nil)
	wantStatuses(t, legs, cont, cont, cont, cont, cont, ok, ok)
	if r := mustResp(t, legs[1].token); r.state != requestMIC || !r.supportedMech.Equal(oidNTLM) {
		t.Fatalf("first reply %+v", r)
	}
	checkNegotiated(t, c, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	checkMessages(t, c, s)
}

// A man in the middle strips Kerberos from the list to force NTLM; the
// client's mechListMIC over its real list gives it away.
func TestKDCDowngradeDetected(t *testing.T) {
	k := peers.TestKDC(t)
	client, server := kdcPair(t, k, kdcPackage(t, k, ""), "HTTP/localhost", 0)
	legs := exchange(client, server, nil, nil, func(i int, tok []byte) []byte {
		if i != 0 {
			return tok
		}
		b, err := (&negTokenInit{mechTypes: []asn1.ObjectIdentifier{oidNTLM}}).marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	last := legs[len(legs)-1]
	if last.client || !errors.Is(last.err, status.SEC_E_MESSAGE_ALTERED) || server.Session() != nil {
		t.Fatalf("legs %s, last error %v: want the server to fail with SEC_E_MESSAGE_ALTERED", statuses(legs), last.err)
	}
}

// A bare Kerberos AP-REQ given to a Negotiate server.
func TestKDCRawKerberosToNegotiateServer(t *testing.T) {
	k := peers.TestKDC(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	kp := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	ccred, err := kp.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, aliceKrb)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ccred.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY)
	if err != nil {
		t.Fatal(err)
	}
	scred, err := New(&Config{Kerberos: kp}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND,
		&AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: krbUsers})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := scred.NewServerContext(0)
	legs := exchange(c, s, nil, nil, nil)
	wantStatuses(t, legs, cont, ok, ok)
	if classifyToken(legs[1].token) != rawKerberos {
		t.Fatalf("server answered %x, want a bare AP-REP", legs[1].token[:min(16, len(legs[1].token))])
	}
	checkNegotiated(t, s, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
	checkMessages(t, c, s)
}

func TestInteropKerberosClientToMIT(t *testing.T) {
	k := peers.TestKDC(t)
	needGSSPeers(t)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5_KTNAME=FILE:" + k.ServiceKeytab, "KRB5RCACHEDIR=" + t.TempDir()}
	peer := startGSSPeer(t, env, "accept", spnegoOID)
	ccred, err := kdcPackage(t, k, "").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, aliceKrb)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ccred.NewClientContext("host/localhost", packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_INTEGRITY)
	if err != nil {
		t.Fatal(err)
	}
	handshakeWithPeer(t, c, peer, true)
	checkNegotiated(t, c, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
	if got := string(unb64(t, peer.call("PEER")[1])); !strings.HasPrefix(got, "alice@GOSSPI.TEST") {
		t.Errorf("peer saw initiator %q", got)
	}
	messagesWithPeer(t, c, peer)
}

func TestInteropMITClientToKerberosServer(t *testing.T) {
	k := peers.TestKDC(t)
	needGSSPeers(t)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + t.TempDir() + "/cc", "KRB5RCACHEDIR=" + t.TempDir()}
	peer := startGSSPeer(t, env, "initiate", spnegoOID, "HTTP@localhost", "alice@GOSSPI.TEST", "alice-pw")
	scred, err := kdcPackage(t, k, "").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND,
		&AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: krbUsers})
	if err != nil {
		t.Fatal(err)
	}
	s, err := scred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_INTEGRITY | packages.ASC_REQ_MUTUAL_AUTH)
	if err != nil {
		t.Fatal(err)
	}
	handshakeWithPeer(t, s, peer, false)
	checkNegotiated(t, s, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
	v, err := s.QueryAttribute(packages.SECPKG_ATTR_NAMES)
	if err != nil || !strings.HasPrefix(v.(*packages.Names).UserName, "alice@GOSSPI.TEST") {
		t.Fatalf("NAMES %v %v", v, err)
	}
	messagesWithPeer(t, s, peer)
}

// The client prefers NTLM, the server has Kerberos only: Kerberos is
// selected with request-mic, and the mechListMIC is exchanged with the
// Kerberos keys (the acceptor subkey) both ways.
func TestKDCKerberosWithMIC(t *testing.T) {
	k := peers.TestKDC(t)
	tests := []struct {
		name string
		req  uint32
		want []status.Status
	}{
		// The acceptor sends AP-REP with its MIC; the initiator's MIC ends
		// the negotiation on both sides, with no further token.
		{"mutual", packages.ISC_REQ_MUTUAL_AUTH | packages.ISC_REQ_CONFIDENTIALITY, []status.Status{cont, cont, cont, cont, ok, ok}},
		{"no-mutual", packages.ISC_REQ_CONFIDENTIALITY, []status.Status{cont, cont, cont, ok, ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, _ := kdcPair(t, k, kdcPackage(t, k, "NTLM,Kerberos"), "HTTP/localhost", tt.req)
			_, server := kdcPair(t, k, kdcPackage(t, k, "Kerberos"), "HTTP/localhost", 0)
			legs := exchange(client, server, nil, nil, nil)
			wantStatuses(t, legs, tt.want...)
			init, err := parseNegTokenInit(legs[0].token)
			if err != nil {
				t.Fatal(err)
			}
			if want := []asn1.ObjectIdentifier{oidNTLM, oidMSKRB5, oidKerberos}; !reflect.DeepEqual(init.mechTypes, want) {
				t.Fatalf("mechTypes %v", init.mechTypes)
			}
			if r := mustResp(t, legs[1].token); r.state != requestMIC || !r.supportedMech.Equal(oidMSKRB5) || r.responseToken != nil {
				t.Fatalf("first reply %+v", r)
			}
			var clientMIC, serverMIC bool
			for _, l := range legs[2:] {
				if len(l.token) == 0 {
					continue
				}
				if r := mustResp(t, l.token); r.mechListMIC != nil {
					if l.client {
						clientMIC = true
					} else {
						serverMIC = true
					}
				}
			}
			if !clientMIC || !serverMIC {
				t.Fatalf("mechListMIC sent by client %v, server %v", clientMIC, serverMIC)
			}
			if last := legs[len(legs)-1]; len(last.token) != 0 {
				t.Fatalf("last leg sent %x", last.token)
			}
			checkNegotiated(t, client, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
			checkNegotiated(t, server, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
			checkMessages(t, client, server)
		})
	}
}

// Our initiator prefers NTLM; MIT's acceptor negotiates Kerberos only, so
// it selects Kerberos and asks for the mechListMIC, which MIT then checks.
func TestInteropKerberosMICWithMIT(t *testing.T) {
	k := peers.TestKDC(t)
	needGSSPeers(t)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5_KTNAME=FILE:" + k.ServiceKeytab, "KRB5RCACHEDIR=" + t.TempDir()}
	peer := startGSSPeer(t, env, "accept", spnegoOID, "1.2.840.113554.1.2.2")
	ccred, err := kdcPackage(t, k, "NTLM,Kerberos").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, aliceKrb)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ccred.NewClientContext("host/localhost", packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_INTEGRITY)
	if err != nil {
		t.Fatal(err)
	}
	handshakeWithPeer(t, c, peer, true)
	checkNegotiated(t, c, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
	if got := string(unb64(t, peer.call("MECH")[1])); got != "1.2.840.113554.1.2.2" {
		t.Errorf("peer mechanism %s", got)
	}
	messagesWithPeer(t, c, peer)
}

// MIT's initiator sends an optimistic Kerberos token; our server offers
// NTLM only, so MIT switches to NTLM (gss-ntlmssp) under request-mic.
func TestInteropMITSwitchesToNTLM(t *testing.T) {
	k := peers.TestKDC(t)
	needGSSPeers(t)
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("GOSSPI.TEST:alice:alice-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + t.TempDir() + "/cc", "KRB5RCACHEDIR=" + t.TempDir(), "NTLM_USER_FILE=" + users}
	peer := startGSSPeer(t, env, "initiate", spnegoOID, "HTTP@localhost", "alice@GOSSPI.TEST", "alice-pw")
	scred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: krbUsers})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := scred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY)
	f := peer.call("STEP -")
	init, err := parseNegTokenInit(unb64(t, f[1]))
	if err != nil {
		t.Fatal(err)
	}
	if len(init.mechTypes) < 2 || !isKerberosOID(init.mechTypes[0]) {
		t.Skipf("MIT did not lead with Kerberos: %v", init.mechTypes)
	}
	// Run the rest from that first token.
	tok := stepOurs(t, s, unb64(t, f[1]))
	if r := mustResp(t, tok); r.state != requestMIC || !r.supportedMech.Equal(oidNTLM) {
		t.Fatalf("our first reply %+v", r)
	}
	for i := 0; i < 6 && s.Session() == nil; i++ {
		f = peer.call("STEP %s", b64(tok))
		if tok = unb64(t, f[1]); len(tok) == 0 {
			break
		}
		tok = stepOurs(t, s, tok)
	}
	f = peer.call("STEP %s", b64(tok))
	if s.Session() == nil || f[2] != "1" {
		t.Fatalf("not established: ours %v, peer %s", s.Session() != nil, f[2])
	}
	checkNegotiated(t, s, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	messagesWithPeer(t, s, peer)
}

// MIT's initiator lists NTLM before Kerberos; our server offers Kerberos
// only, so it selects Kerberos with request-mic and the MICs are checked
// by both.
func TestInteropMITKerberosMICToServer(t *testing.T) {
	k := peers.TestKDC(t)
	needGSSPeers(t)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + t.TempDir() + "/cc", "KRB5RCACHEDIR=" + t.TempDir(), "NTLM_USER_FILE=" + userFile(t)}
	peer := startGSSPeer(t, env, "initiate", spnegoOID, "HTTP@localhost", "alice@GOSSPI.TEST", "alice-pw",
		"1.3.6.1.4.1.311.2.2.10,1.2.840.113554.1.2.2")
	scred, err := kdcPackage(t, k, "Kerberos").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND,
		&AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := scred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_MUTUAL_AUTH)
	f := peer.call("STEP -")
	first := unb64(t, f[1])
	init, err := parseNegTokenInit(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(init.mechTypes) < 2 || !init.mechTypes[0].Equal(oidNTLM) {
		t.Fatalf("MIT listed %v, want NTLM first", init.mechTypes)
	}
	tok := stepOurs(t, s, first)
	if r := mustResp(t, tok); r.state != requestMIC || !isKerberosOID(r.supportedMech) {
		t.Fatalf("our first reply %+v", r)
	}
	peerDone := false
	for i := 0; i < 6 && !(s.Session() != nil && peerDone); i++ {
		f = peer.call("STEP %s", b64(tok))
		tok, peerDone = unb64(t, f[1]), f[2] == "1"
		if len(tok) == 0 {
			break
		}
		tok = stepOurs(t, s, tok)
		if len(tok) == 0 {
			break
		}
	}
	if s.Session() == nil || !peerDone {
		t.Fatalf("not established: ours %v, peer %v", s.Session() != nil, peerDone)
	}
	checkNegotiated(t, s, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
	messagesWithPeer(t, s, peer)
}

// MIT's acceptor negotiates Kerberos only; our client offers NTLM only:
// MIT answers with a reject token and our client fails with
// SEC_E_LOGON_DENIED.
func TestInteropMITRejectsClient(t *testing.T) {
	k := peers.TestKDC(t)
	needGSSPeers(t)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5_KTNAME=FILE:" + k.ServiceKeytab, "KRB5RCACHEDIR=" + t.TempDir()}
	peer := startGSSPeer(t, env, "accept", spnegoOID, krbOnly)
	cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cred.NewClientContext("host/localhost", 0)
	tok := stepOurs(t, c, nil)
	f, err := peer.try("STEP %s", b64(tok))
	if err == nil || len(f) < 2 || f[0] != "ERRTOKEN" {
		t.Fatalf("MIT acceptor: %v, want a failure with a reject token", err)
	}
	t.Logf("MIT: %v", err)
	rejectTok := unb64(t, f[1])
	if r := mustResp(t, rejectTok); r.state != reject {
		t.Fatalf("MIT answered %+v, want reject", r)
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	_, err = c.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: rejectTok}}, out)
	if !errors.Is(err, status.SEC_E_LOGON_DENIED) {
		t.Fatalf("our client: %v, want SEC_E_LOGON_DENIED", err)
	}
}

// A man in the middle strips Kerberos from MIT's list (and its optimistic
// AP-REQ) so that our server picks NTLM; MIT's mechListMIC over its real
// list exposes it.
func TestInteropDowngradeFromMITDetected(t *testing.T) {
	k := peers.TestKDC(t)
	needGSSPeers(t)
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("GOSSPI.TEST:alice:alice-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + t.TempDir() + "/cc", "KRB5RCACHEDIR=" + t.TempDir(), "NTLM_USER_FILE=" + users}
	peer := startGSSPeer(t, env, "initiate", spnegoOID, "HTTP@localhost", "alice@GOSSPI.TEST", "alice-pw")
	scred, err := kdcPackage(t, k, "").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND,
		&AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: krbUsers})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := scred.NewServerContext(0)
	f := peer.call("STEP -")
	init, err := parseNegTokenInit(unb64(t, f[1]))
	if err != nil {
		t.Fatal(err)
	}
	if len(init.mechTypes) < 2 || !isKerberosOID(init.mechTypes[0]) {
		t.Fatalf("MIT listed %v, want Kerberos first", init.mechTypes)
	}
	altered, err := (&negTokenInit{mechTypes: []asn1.ObjectIdentifier{oidNTLM}}).marshal()
	if err != nil {
		t.Fatal(err)
	}
	tok := stepOurs(t, s, altered)
	var lastErr error
	for i := 0; i < 6; i++ {
		f, err := peer.try("STEP %s", b64(tok))
		if err != nil {
			t.Fatalf("MIT: %v", err)
		}
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
		_, lastErr = s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, f[1])}}, out)
		if lastErr != nil || s.Session() != nil {
			break
		}
		tok = out[0].Data
	}
	if !errors.Is(lastErr, status.SEC_E_MESSAGE_ALTERED) || s.Session() != nil {
		t.Fatalf("our server: %v (established %v), want SEC_E_MESSAGE_ALTERED", lastErr, s.Session() != nil)
	}
}

// Channel bindings reach the Kerberos context through Negotiate.
func TestKDCKerberosChannelBindings(t *testing.T) {
	k := peers.TestKDC(t)
	cb := secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: (&secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:abc")}).Marshal()}
	other := secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: (&secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:xyz")}).Marshal()}
	p := kdcPackage(t, k, "")
	client, server := kdcPair(t, k, p, "HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
	legs := exchange(client, server, []secbuffer.Buffer{cb}, []secbuffer.Buffer{cb}, nil)
	if last := legs[len(legs)-1]; last.err != nil || server.Session() == nil || client.Session() == nil {
		t.Fatalf("matching bindings: %s %v", statuses(legs), last.err)
	}
	client, server = kdcPair(t, k, p, "HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
	legs = exchange(client, server, []secbuffer.Buffer{cb}, []secbuffer.Buffer{other}, nil)
	last := legs[len(legs)-1]
	if last.client || !errors.Is(last.err, status.SEC_E_BAD_BINDINGS) {
		t.Fatalf("different bindings: %s %v, want SEC_E_BAD_BINDINGS from the server", statuses(legs), last.err)
	}
}

// A DCE-style (three-leg) Kerberos context through Negotiate: the
// mechListMIC is then always exchanged (packages.md 3.4).
func TestKDCDCEStyle(t *testing.T) {
	k := peers.TestKDC(t)
	p := kdcPackage(t, k, "")
	ccred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, aliceKrb)
	if err != nil {
		t.Fatal(err)
	}
	scred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND,
		&AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := ccred.NewClientContext("HTTP/localhost", packages.ISC_REQ_USE_DCE_STYLE|packages.ISC_REQ_CONFIDENTIALITY)
	server, _ := scred.NewServerContext(packages.ASC_REQ_USE_DCE_STYLE)
	legs := exchange(client, server, nil, nil, nil)
	last := legs[len(legs)-1]
	if last.err != nil || client.Session() == nil || server.Session() == nil {
		t.Fatalf("legs %s: %v", statuses(legs), last.err)
	}
	var clientMIC, serverMIC bool
	for _, l := range legs[1:] {
		if len(l.token) == 0 {
			continue
		}
		if r := mustResp(t, l.token); r.mechListMIC != nil {
			clientMIC, serverMIC = clientMIC || l.client, serverMIC || !l.client
		}
	}
	if !clientMIC || !serverMIC {
		t.Fatalf("mechListMIC sent by client %v, server %v (legs %s)", clientMIC, serverMIC, statuses(legs))
	}
	checkNegotiated(t, client, "Kerberos", packages.SECPKG_NEGOTIATION_COMPLETE)
	checkMessages(t, client, server)
}

// Channel bindings through Negotiate over Kerberos, with MIT on the other
// side (the RFC 4121 checksum's Bnd).
func TestInteropChannelBindingsKerberos(t *testing.T) {
	k := peers.TestKDC(t)
	needGSSPeers(t)
	app := []byte("tls-server-end-point:0123456789abcdef")
	cb := secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: (&secbuffer.ChannelBindings{ApplicationData: app}).Marshal()}
	wrong := secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: (&secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:other")}).Marshal()}
	for _, tt := range []struct {
		name    string
		ours    secbuffer.Buffer
		wantErr bool
	}{{"same", cb, false}, {"different", wrong, true}} {
		t.Run("client-"+tt.name, func(t *testing.T) {
			env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5_KTNAME=FILE:" + k.ServiceKeytab, "KRB5RCACHEDIR=" + t.TempDir(), "GSSDRIVER_CB=" + fmt.Sprintf("%x", app)}
			peer := startGSSPeer(t, env, "accept", spnegoOID)
			ccred, err := kdcPackage(t, k, "").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, aliceKrb)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := ccred.NewClientContext("host/localhost", packages.ISC_REQ_MUTUAL_AUTH)
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
			if _, err := c.Step(context.Background(), []secbuffer.Buffer{tt.ours}, out); err != nil {
				t.Fatal(err)
			}
			f, perr := peer.try("STEP %s", b64(out[0].Data))
			if tt.wantErr != (perr != nil) {
				t.Fatalf("MIT acceptor: %v", perr)
			}
			if perr == nil {
				out[0].Data = out[0].Data[:0]
				if _, err := c.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, f[1])}, tt.ours}, out); err != nil || c.Session() == nil {
					t.Fatalf("our client: %v", err)
				}
			}
		})
		t.Run("server-"+tt.name, func(t *testing.T) {
			env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + t.TempDir() + "/cc", "KRB5RCACHEDIR=" + t.TempDir(), "GSSDRIVER_CB=" + fmt.Sprintf("%x", app)}
			peer := startGSSPeer(t, env, "initiate", spnegoOID, "HTTP@localhost", "alice@GOSSPI.TEST", "alice-pw")
			scred, err := kdcPackage(t, k, "").AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND,
				&AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := scred.NewServerContext(0)
			f := peer.call("STEP -")
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
			_, err = s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, f[1])}, tt.ours}, out)
			if tt.wantErr {
				if !errors.Is(err, status.SEC_E_BAD_BINDINGS) {
					t.Fatalf("our server: %v, want SEC_E_BAD_BINDINGS", err)
				}
				return
			}
			if err != nil || s.Session() == nil {
				t.Fatalf("our server: %v", err)
			}
			if f := peer.call("STEP %s", b64(out[0].Data)); f[2] != "1" {
				t.Fatal("MIT initiator not complete")
			}
		})
	}
}
