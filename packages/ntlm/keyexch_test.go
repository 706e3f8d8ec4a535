package ntlm

import (
	"bytes"
	"context"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
)

// TestKeyExchangeWithoutIntegrity: a client that asks for no integrity
// (the default of HTTP clients) still negotiates KEY_EXCH, so its
// AUTHENTICATE must carry a 16-byte EncryptedRandomSessionKey (MS-NLMP
// 3.1.5.1.2), and both sides must derive the same exported session key,
// which differs from the key exchange key. Before the fix the key was
// left out whenever SIGN and SEAL were both off: Samba refused the
// message and gss-ntlmssp crashed on it.
func TestKeyExchangeWithoutIntegrity(t *testing.T) {
	for _, req := range []uint32{0, packages.ISC_REQ_CONNECTION, reqSign, reqSeal} {
		p := newPair(t, testConfig(), testConfig(), nil, "HTTP/web.example.com", req, 0)
		_, _, auth := legs(t, p)
		m, err := parseAuthenticate(auth)
		if err != nil {
			t.Fatal(err)
		}
		if m.flags&flagKeyExch == 0 {
			t.Fatalf("req %#x: AUTHENTICATE flags %#x lack KEY_EXCH", req, m.flags)
		}
		if len(m.encryptedRandomSessionKey) != 16 {
			t.Fatalf("req %#x: EncryptedRandomSessionKey is %d bytes, want 16", req, len(m.encryptedRandomSessionKey))
		}
		if _, _, err := step(p.server, auth, 4096); err != nil {
			t.Fatalf("req %#x: server: %v", req, err)
		}
		ck, sk := sessionKey(t, p.client), sessionKey(t, p.server)
		if !bytes.Equal(ck, sk) {
			t.Fatalf("req %#x: session keys differ: client %x, server %x", req, ck, sk)
		}
		if len(ck) != 16 || bytes.Equal(ck, make([]byte, 16)) {
			t.Fatalf("req %#x: session key %x", req, ck)
		}
	}
}

// TestInteropGSSServerNoIntegrity: our client without ISC_REQ_INTEGRITY
// against gss-ntlmssp's acceptor (which crashed on the message the client
// used to send); the session keys agree.
func TestInteropGSSServerNoIntegrity(t *testing.T) {
	requireGSSNTLMSSP(t)
	ctx := context.Background()
	d, err := peers.StartGSS(peers.GSSOptions{
		Role: "accept", Mech: "ntlm",
		Env: []string{"NTLM_USER_FILE=" + userFile(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cred, err := New(nil).AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"})
	if err != nil {
		t.Fatal(err)
	}
	client, err := cred.NewClientContext("HTTP/localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, info, err := initiateToPeer(t, d, client, nil)
	if err != nil {
		t.Fatalf("gss-ntlmssp refused our AUTHENTICATE: %v\n%s", err, d.Stderr())
	}
	if info["key"] == "-" || info["key"] == "" {
		t.Fatalf("the acceptor reports no session key: %v", info)
	}
	checkSessionKey(t, client, info)
}
