package alexbrainmantest

import (
	"bytes"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/alexbrainman/sspi"
	"github.com/alexbrainman/sspi/kerberos"
	"github.com/alexbrainman/sspi/negotiate"
	"github.com/alexbrainman/sspi/ntlm"

	"github.com/gosspi/sspi/internal/peers"
)

// The mirror's own examples: a client and a server context in one
// process, as the original package's tests run them against the logged-on
// Windows user, here against the MIT realm and NTLM_USER_FILE.

// session is what the negotiate and kerberos contexts of both sides offer
// after the handshake.
type session interface {
	MakeSignature(msg []byte, qop, seqno uint32) ([]byte, error)
	VerifySignature(msg, token []byte, seqno uint32) (uint32, error)
	EncryptMessage(msg []byte, qop, seqno uint32) ([]byte, error)
	DecryptMessage(msg []byte, seqno uint32) (uint32, []byte, error)
	Sizes() (uint32, uint32, uint32, uint32, error)
}

// messages signs and seals from a to b, checks b reads them, and that a
// changed byte is refused.
func messages(t *testing.T, a, b session) {
	t.Helper()
	msg := []byte("hello from the mirror")
	sig, err := a.MakeSignature(msg, 0, 0)
	if err != nil {
		t.Fatalf("MakeSignature: %v", err)
	}
	if _, err := b.VerifySignature(msg, sig, 0); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	bad := append([]byte(nil), msg...)
	bad[0] ^= 1
	sig2, err := a.MakeSignature(msg, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.VerifySignature(bad, sig2, 1); err == nil {
		t.Fatal("VerifySignature accepted a changed message")
	}
	sealed, err := a.EncryptMessage(append([]byte(nil), msg...), 0, 2)
	if err != nil {
		t.Fatalf("EncryptMessage: %v", err)
	}
	if bytes.Contains(sealed, msg) {
		t.Fatal("EncryptMessage left the message in the clear")
	}
	_, plain, err := b.DecryptMessage(sealed, 2)
	if err != nil {
		t.Fatalf("DecryptMessage: %v", err)
	}
	if !bytes.Equal(plain, msg) {
		t.Fatalf("DecryptMessage = %q", plain)
	}
	if _, maxSig, _, _, err := a.Sizes(); err != nil || maxSig == 0 {
		t.Fatalf("Sizes: max signature %d, %v", maxSig, err)
	}
}

// TestNegotiateLoopback: negotiate client and server contexts in one
// process over the realm's Kerberos (the ticket cache and the keytab).
func TestNegotiateLoopback(t *testing.T) {
	needKDC(t)
	if _, err := negotiate.GetPackageInfo(); err != nil {
		t.Fatal(err)
	}
	ccred, err := negotiate.AcquireCurrentUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	defer ccred.Release()
	scred, err := negotiate.AcquireServerCredentials("")
	if err != nil {
		t.Fatal(err)
	}
	defer scred.Release()
	flags := uint32(sspi.ISC_REQ_CONNECTION | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_MUTUAL_AUTH)
	client, tok, err := negotiate.NewClientContextWithFlags(ccred, "HTTP/localhost", flags)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Release()
	server, serverDone, tok, err := negotiate.NewServerContext(scred, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Release()
	clientDone := false
	for i := 0; !clientDone || !serverDone; i++ {
		if i > 4 {
			t.Fatal("too many legs")
		}
		if !clientDone {
			if clientDone, tok, err = client.Update(tok); err != nil {
				t.Fatalf("client Update: %v", err)
			}
		}
		if !serverDone && len(tok) > 0 {
			if serverDone, tok, err = server.Update(tok); err != nil {
				t.Fatalf("server Update: %v", err)
			}
		}
	}
	if err := client.VerifyFlags(); err != nil {
		t.Error(err)
	}
	if name, err := server.GetUsername(); err != nil || name != "alice@"+realm.Realm {
		t.Errorf("GetUsername = %q, %v", name, err)
	}
	if err := server.ImpersonateUser(); !errors.Is(err, syscall.Errno(0x80090302)) {
		t.Errorf("ImpersonateUser = %v, want SEC_E_UNSUPPORTED_FUNCTION", err)
	}
	if client.Expiry().IsZero() {
		t.Error("no expiry")
	}
	messages(t, client, server)
	messages(t, server, client)
}

// TestKerberosLoopback: kerberos client and server contexts in one
// process, with a password (an AS exchange) on the client.
func TestKerberosLoopback(t *testing.T) {
	needKDC(t)
	ccred, err := kerberos.AcquireUserCredentials(realm.Realm, "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer ccred.Release()
	scred, err := kerberos.AcquireServerCredentials("")
	if err != nil {
		t.Fatal(err)
	}
	defer scred.Release()
	client, done, tok, err := kerberos.NewClientContextWithFlags(ccred, "host/localhost",
		sspi.ISC_REQ_CONNECTION|sspi.ISC_REQ_MUTUAL_AUTH|sspi.ISC_REQ_CONFIDENTIALITY|sspi.ISC_REQ_INTEGRITY)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Release()
	if done {
		t.Fatal("mutual authentication finished in one leg")
	}
	server, sdone, tok, err := kerberos.NewServerContext(scred, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Release()
	if !sdone || len(tok) == 0 {
		t.Fatalf("server done %v, AP-REP %d bytes", sdone, len(tok))
	}
	if done, tok, err = client.Update(tok); err != nil || !done || len(tok) != 0 {
		t.Fatalf("client Update: done %v, %d bytes, %v", done, len(tok), err)
	}
	if name, err := server.GetUsername(); err != nil || name != "alice@"+realm.Realm {
		t.Errorf("GetUsername = %q, %v", name, err)
	}
	messages(t, client, server)
	messages(t, server, client)

	// A wrong password is the logon failure Windows reports.
	bad, err := kerberos.AcquireUserCredentials(realm.Realm, "alice", "wrong")
	if err == nil {
		_, _, _, err = kerberos.NewClientContext(bad, "host/localhost")
		bad.Release()
	}
	if !errors.Is(err, sspi.SEC_E_LOGON_DENIED) {
		t.Errorf("wrong password: %v, want SEC_E_LOGON_DENIED", err)
	}
}

// TestNTLMLoopback: ntlm client and server contexts in one process, the
// server's users from NTLM_USER_FILE; a wrong password is refused.
func TestNTLMLoopback(t *testing.T) {
	for _, tc := range []struct {
		password string
		want     error
	}{{"Secret1!", nil}, {"Secret2!", sspi.SEC_E_LOGON_DENIED}} {
		ccred, err := ntlm.AcquireUserCredentials("EXAMPLE", "alice", tc.password)
		if err != nil {
			t.Fatal(err)
		}
		scred, err := ntlm.AcquireServerCredentials()
		if err != nil {
			t.Fatal(err)
		}
		client, negotiateMsg, err := ntlm.NewClientContext(ccred)
		if err != nil {
			t.Fatal(err)
		}
		server, challenge, err := ntlm.NewServerContext(scred, negotiateMsg)
		if err != nil {
			t.Fatal(err)
		}
		authenticate, err := client.Update(challenge)
		if err != nil {
			t.Fatal(err)
		}
		err = server.Update(authenticate)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("password %q: server Update = %v, want %v", tc.password, err, tc.want)
		}
		if tc.want == nil {
			if _, maxSig, _, _, err := server.Sizes(); err != nil || maxSig != 16 {
				t.Errorf("server Sizes: max signature %d, %v", maxSig, err)
			}
		}
		client.Release()
		server.Release()
		ccred.Release()
		scred.Release()
	}
}

// TestNTLMToGSSNTLMSSP: the mirror's ntlm client against gss-ntlmssp's
// acceptor (MIT's NTLM mechanism), with the current user from
// NTLM_USER_FILE and with a password.
func TestNTLMToGSSNTLMSSP(t *testing.T) {
	needPython(t)
	peers.Require(t, "gss-ntlmssp (apt-get install -y gss-ntlmssp)", peers.HaveGSSNTLMSSP())
	for _, current := range []bool{true, false} {
		d, err := peers.StartGSS(peers.GSSOptions{Role: "accept", Mech: "ntlm"})
		if err != nil {
			t.Fatal(err)
		}
		var cred *sspi.Credentials
		if current {
			cred, err = ntlm.AcquireCurrentUserCredentials()
		} else {
			cred, err = ntlm.AcquireUserCredentials("EXAMPLE", "alice", "Secret1!")
		}
		if err != nil {
			t.Fatal(err)
		}
		client, negotiateMsg, err := ntlm.NewClientContext(cred)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SendToken(negotiateMsg); err != nil {
			t.Fatal(err)
		}
		challenge, _, _, err := d.Next(bg)
		if err != nil {
			t.Fatal(err)
		}
		authenticate, err := client.Update(challenge)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SendToken(authenticate); err != nil {
			t.Fatal(err)
		}
		_, done, info, err := d.Next(bg)
		if err != nil || !done {
			t.Fatalf("gss-ntlmssp: done %v, %v", done, err)
		}
		if peer := strings.TrimRight(info["peer"], "\x00"); !strings.EqualFold(peer, `EXAMPLE\alice`) {
			t.Errorf("gss-ntlmssp sees %q", peer)
		}
		client.Release()
		cred.Release()
		d.Close()
	}
}

// TestNegotiateWithMIT: the mirror's negotiate client against MIT's
// SPNEGO acceptor, and its negotiate server against MIT's SPNEGO
// initiator (kinit's ticket cache), with a sealed message each way.
func TestNegotiateWithMIT(t *testing.T) {
	needKDC(t)
	needPython(t)
	t.Run("client", func(t *testing.T) {
		d, err := peers.StartGSS(peers.GSSOptions{Role: "accept", Mech: "spnego", Env: env})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		cred, err := negotiate.AcquireCurrentUserCredentials()
		if err != nil {
			t.Fatal(err)
		}
		defer cred.Release()
		client, tok, err := negotiate.NewClientContextWithFlags(cred, "HTTP/localhost",
			sspi.ISC_REQ_CONNECTION|sspi.ISC_REQ_MUTUAL_AUTH|sspi.ISC_REQ_CONFIDENTIALITY|sspi.ISC_REQ_INTEGRITY)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Release()
		var info map[string]string
		for done := false; !done || info == nil; {
			if len(tok) > 0 {
				if err := d.SendToken(tok); err != nil {
					t.Fatal(err)
				}
			}
			in, fin, inf, err := d.Next(bg)
			if err != nil {
				t.Fatal(err)
			}
			if fin {
				info = inf
				continue
			}
			if done, tok, err = client.Update(in); err != nil {
				t.Fatal(err)
			}
			if done && len(tok) == 0 && info == nil {
				if _, _, info, err = d.Next(bg); err != nil {
					t.Fatal(err)
				}
			}
		}
		if info["peer"] != "alice@"+realm.Realm {
			t.Errorf("MIT sees %q", info["peer"])
		}
		sealed, err := client.EncryptMessage([]byte("to MIT"), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, conf, err := d.Unwrap(bg, sealed); err != nil || string(got) != "to MIT" || !conf {
			t.Fatalf("MIT unwrap: %q sealed %v, %v", got, conf, err)
		}
		back, _, err := d.Wrap(bg, []byte("from MIT"), true)
		if err != nil {
			t.Fatal(err)
		}
		if _, got, err := client.DecryptMessage(back, 0); err != nil || string(got) != "from MIT" {
			t.Fatalf("DecryptMessage: %q, %v", got, err)
		}
	})
	t.Run("server", func(t *testing.T) {
		d, err := peers.StartGSS(peers.GSSOptions{Role: "initiate", Mech: "spnego", Target: "HTTP@localhost", Flags: "mutual,integ,conf", Env: env})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		cred, err := negotiate.AcquireServerCredentials("")
		if err != nil {
			t.Fatal(err)
		}
		defer cred.Release()
		first, _, _, err := d.Next(bg)
		if err != nil {
			t.Fatal(err)
		}
		server, done, tok, err := negotiate.NewServerContext(cred, first)
		if err != nil {
			t.Fatal(err)
		}
		defer server.Release()
		for {
			if len(tok) > 0 {
				if err := d.SendToken(tok); err != nil {
					t.Fatal(err)
				}
			}
			in, fin, _, err := d.Next(bg)
			if err != nil {
				t.Fatal(err)
			}
			if fin {
				break
			}
			if done {
				t.Fatal("MIT sent a token after the server finished")
			}
			if done, tok, err = server.Update(in); err != nil {
				t.Fatal(err)
			}
		}
		if name, err := server.GetUsername(); err != nil || name != "alice@"+realm.Realm {
			t.Errorf("GetUsername = %q, %v", name, err)
		}
		wrapped, _, err := d.Wrap(bg, []byte("from MIT"), true)
		if err != nil {
			t.Fatal(err)
		}
		if _, got, err := server.DecryptMessage(wrapped, 0); err != nil || string(got) != "from MIT" {
			t.Fatalf("DecryptMessage: %q, %v", got, err)
		}
	})
}
