package negotiate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Interop with MIT krb5's SPNEGO (through python3-gssapi) over
// gss-ntlmssp: both directions, then signed and sealed messages.

const interopUserLine = "DOM:alice:Passw0rd\n"

// needPeer skips the test when a peer is missing, or fails it when
// SSPI_INTEROP=1.
func needPeer(t *testing.T, what string, ok bool) {
	t.Helper()
	peers.Require(t, what, ok)
}

// needGSSPeers requires python3-gssapi and gss-ntlmssp. The driver is this
// package's own testdata/gssdriver.py rather than internal/peers': the
// tests below need to restrict SPNEGO's mechanisms (gss_set_neg_mechs),
// to step each leg by hand so that tokens can be altered in transit, and
// to see the error token (an SPNEGO reject) a failing step produces.
func needGSSPeers(t *testing.T) {
	t.Helper()
	needPeer(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	needPeer(t, "gss-ntlmssp (apt-get install -y gss-ntlmssp)", peers.HaveGSSNTLMSSP())
}

// userFile writes an NTLM_USER_FILE for the test.
func userFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ntlm_users")
	if err := os.WriteFile(f, []byte(interopUserLine), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// gssPeer is testdata/gssdriver.py run as a subprocess.
type gssPeer struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	log bytes.Buffer
}

func startGSSPeer(t *testing.T, env []string, args ...string) *gssPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, peers.Python, append([]string{filepath.Join("testdata", "gssdriver.py")}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := &gssPeer{t: t, cmd: cmd}
	cmd.Stderr = &p.log
	var err error
	if p.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.in.Close()
		if err := cmd.Wait(); err != nil {
			t.Logf("gssdriver: %v\n%s", err, p.log.String())
		}
		cancel()
	})
	return p
}

func b64(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return base64.StdEncoding.EncodeToString(b)
}

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	if s == "-" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call sends one command and returns the answer's fields, failing the
// test on an ERR or ERRTOKEN answer.
func (p *gssPeer) call(format string, args ...any) []string {
	p.t.Helper()
	f, err := p.try(format, args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return f
}

func (p *gssPeer) try(format string, args ...any) ([]string, error) {
	line := fmt.Sprintf(format, args...)
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		return nil, fmt.Errorf("gssdriver: write: %v\n%s", err, p.log.String())
	}
	ans, err := p.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("gssdriver: read after %q: %v\n%s", strings.Fields(line)[0], err, p.log.String())
	}
	f := strings.Fields(ans)
	switch {
	case len(f) == 0 || f[0] == "ERR":
		return nil, fmt.Errorf("gssdriver: %q: %s", strings.Fields(line)[0], strings.TrimSpace(ans))
	case f[0] == "ERRTOKEN":
		// The fields carry the error token (f[1]) along with the error.
		return f, fmt.Errorf("gssdriver: %q: %s", strings.Fields(line)[0], strings.TrimSpace(ans))
	}
	return f, nil
}

// stepOurs runs one leg of our context.
func stepOurs(t *testing.T, c packages.Context, in []byte) []byte {
	t.Helper()
	var bufs []secbuffer.Buffer
	if in != nil {
		bufs = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: in}}
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
	if _, err := c.Step(context.Background(), bufs, out); err != nil {
		t.Fatalf("our Step: %v", err)
	}
	return out[0].Data
}

// handshakeWithPeer runs our context against the peer until both are
// complete; ourFirst says who sends the first token.
func handshakeWithPeer(t *testing.T, ours packages.Context, peer *gssPeer, ourFirst bool) {
	t.Helper()
	handshakeWithPeerTokens(t, ours, peer, ourFirst)
}

// handshakeWithPeerTokens is handshakeWithPeer returning the tokens each
// side sent, in order.
func handshakeWithPeerTokens(t *testing.T, ours packages.Context, peer *gssPeer, ourFirst bool) (ourToks, peerToks [][]byte) {
	t.Helper()
	var tok []byte
	peerDone := false
	ourTurn := ourFirst
	for i := 0; i < 10; i++ {
		if ourTurn {
			tok = stepOurs(t, ours, tok)
			ourToks = append(ourToks, tok)
		} else {
			f := peer.call("STEP %s", b64(tok))
			tok, peerDone = unb64(t, f[1]), f[2] == "1"
			peerToks = append(peerToks, tok)
		}
		if (ours.Session() != nil && peerDone) || len(tok) == 0 {
			break
		}
		ourTurn = !ourTurn
	}
	if ours.Session() == nil || !peerDone {
		t.Fatalf("handshake did not finish: ours %v, peer %v", ours.Session() != nil, peerDone)
	}
	return ourToks, peerToks
}

// ntlmAuthenticate returns the NTLM AUTHENTICATE message among SPNEGO
// tokens: the responseToken of the initiator's second token.
func ntlmAuthenticate(t *testing.T, toks [][]byte) []byte {
	t.Helper()
	for _, tok := range toks {
		r, err := parseNegTokenResp(tok)
		if err == nil && len(r.responseToken) > 12 && bytes.HasPrefix(r.responseToken, ntlmSignature) && r.responseToken[8] == 3 {
			return r.responseToken
		}
	}
	t.Fatal("no NTLM AUTHENTICATE among the tokens")
	return nil
}

// messagesWithPeer exchanges sealed and signed messages both ways. NTLM's
// GSS wrap token is the 16-byte signature followed by the sealed data.
// A Kerberos Wrap token from our EncryptMessage is TOKEN followed by
// DATA; one from the peer goes to DecryptMessage as a SECBUFFER_STREAM.
func messagesWithPeer(t *testing.T, ours packages.Context, peer *gssPeer) {
	t.Helper()
	kerberos := false
	if v, err := ours.QueryAttribute(packages.SECPKG_ATTR_NEGOTIATION_INFO); err == nil {
		kerberos = v.(*packages.NegotiationInfo).PackageInfo.Name == "Kerberos"
	}
	for i := 0; i < 3; i++ {
		msg := []byte(fmt.Sprintf("from gosspi %d", i))
		bufs := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 128)},
			{Type: secbuffer.SECBUFFER_DATA, Data: append([]byte(nil), msg...)},
		}
		if _, err := ours.Session().EncryptMessage(0, bufs, 0); err != nil {
			t.Fatal(err)
		}
		f := peer.call("UNWRAP %s", b64(append(append([]byte(nil), bufs[0].Data...), bufs[1].Data...)))
		if got := unb64(t, f[1]); !bytes.Equal(got, msg) || f[2] != "1" {
			t.Fatalf("peer unwrapped %q conf %s, want %q", got, f[2], msg)
		}

		msg = []byte(fmt.Sprintf("from MIT %d", i))
		f = peer.call("WRAP %s 1", b64(msg))
		wrapped := unb64(t, f[1])
		if len(wrapped) < 16 {
			t.Fatalf("wrap token %x", wrapped)
		}
		bufs = []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: wrapped[:16]},
			{Type: secbuffer.SECBUFFER_DATA, Data: wrapped[16:]},
		}
		if kerberos {
			bufs = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: wrapped}, {Type: secbuffer.SECBUFFER_DATA}}
		}
		if _, _, err := ours.Session().DecryptMessage(bufs, 0); err != nil {
			t.Fatalf("DecryptMessage of the peer's wrap: %v", err)
		}
		if !bytes.Equal(bufs[1].Data, msg) {
			t.Fatalf("decrypted %q, want %q", bufs[1].Data, msg)
		}

		f = peer.call("MIC %s", b64(msg))
		bufs = []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_DATA, Data: msg},
			{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, f[1])},
		}
		if _, err := ours.Session().VerifySignature(bufs, 0); err != nil {
			t.Fatalf("VerifySignature of the peer's MIC: %v", err)
		}
		bufs[1].Data = make([]byte, 0, 128)
		if err := ours.Session().MakeSignature(0, bufs, 0); err != nil {
			t.Fatal(err)
		}
		peer.call("VERIFY %s %s", b64(msg), b64(bufs[1].Data))
	}
}

const spnegoOID = "1.3.6.1.5.5.2"

func TestInteropNTLMClientToMIT(t *testing.T) {
	needGSSPeers(t)
	users := userFile(t)
	peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + users}, "accept", spnegoOID)
	p := New(&Config{PackageList: "NTLM"})
	cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cred.NewClientContext("host/localhost", packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_INTEGRITY|packages.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		t.Fatal(err)
	}
	ourToks, _ := handshakeWithPeerTokens(t, c, peer, true)
	checkNegotiated(t, c, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	// Key exchange on: the mechListMIC consumed RC4 key stream, which
	// both sides reset (MS-SPNG 3.3.5.1) before the messages below.
	if !authenticateKeyExch(t, ntlmAuthenticate(t, ourToks)) {
		t.Fatal("our AUTHENTICATE does not negotiate key exchange")
	}
	if got := string(unb64(t, peer.call("PEER")[1])); !strings.EqualFold(strings.TrimRight(got, "\x00"), `DOM\alice`) {
		t.Errorf("peer saw initiator %q", got)
	}
	if got := string(unb64(t, peer.call("MECH")[1])); got != "1.3.6.1.4.1.311.2.2.10" {
		t.Errorf("peer mechanism %s", got)
	}
	messagesWithPeer(t, c, peer)
}

func TestInteropMITClientToNTLMServer(t *testing.T) {
	needGSSPeers(t)
	users := userFile(t)
	peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + users}, "initiate", spnegoOID, "host@localhost", "alice@DOM", "Passw0rd")
	p := New(&Config{PackageList: "NTLM"})
	cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: ntlm.UserFile(users)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := cred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_INTEGRITY)
	if err != nil {
		t.Fatal(err)
	}
	_, peerToks := handshakeWithPeerTokens(t, s, peer, false)
	checkNegotiated(t, s, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
	if !authenticateKeyExch(t, ntlmAuthenticate(t, peerToks)) {
		t.Fatal("the peer's AUTHENTICATE does not negotiate key exchange")
	}
	v, err := s.QueryAttribute(packages.SECPKG_ATTR_NAMES)
	if err != nil || !strings.EqualFold(v.(*packages.Names).UserName, `DOM\alice`) {
		t.Fatalf("NAMES %v %v", v, err)
	}
	messagesWithPeer(t, s, peer)
}

// TestInteropNTLMWithoutReset shows what the RC4 reset after the
// mechListMIC is for: an NTLM context that does not reset (ResetMICState
// hidden), with key exchange, cannot exchange a first sealed message with
// MIT's SPNEGO over gss-ntlmssp, in either direction.
func TestInteropNTLMWithoutReset(t *testing.T) {
	needGSSPeers(t)
	users := userFile(t)
	t.Run("our client", func(t *testing.T) {
		peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + users}, "accept", spnegoOID)
		cred, err := New(&Config{PackageList: "NTLM", NTLM: noReset{ntlm.New(nil)}}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
			&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := cred.NewClientContext("host/localhost", packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_INTEGRITY)
		if err != nil {
			t.Fatal(err)
		}
		handshakeWithPeer(t, c, peer, true)
		msg := []byte("sealed without the reset")
		bufs := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 16)},
			{Type: secbuffer.SECBUFFER_DATA, Data: append([]byte(nil), msg...)},
		}
		if _, err := c.Session().EncryptMessage(0, bufs, 0); err != nil {
			t.Fatal(err)
		}
		f, err := peer.try("UNWRAP %s", b64(append(append([]byte(nil), bufs[0].Data...), bufs[1].Data...)))
		if err == nil {
			t.Fatalf("the peer unwrapped %q from a context that kept its RC4 state", unb64(t, f[1]))
		}
		if !strings.Contains(err.Error(), "Major (393216)") { // GSS_S_BAD_SIG
			t.Fatalf("peer: %v, want GSS_S_BAD_SIG", err)
		}
	})
	t.Run("our server", func(t *testing.T) {
		peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + users}, "initiate", spnegoOID, "host@localhost", "alice@DOM", "Passw0rd")
		cred, err := New(&Config{PackageList: "NTLM", NTLM: noReset{ntlm.New(nil)}}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: ntlm.UserFile(users)})
		if err != nil {
			t.Fatal(err)
		}
		s, err := cred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_INTEGRITY)
		if err != nil {
			t.Fatal(err)
		}
		handshakeWithPeer(t, s, peer, false)
		wrapped := unb64(t, peer.call("WRAP %s 1", b64([]byte("from MIT")))[1])
		if len(wrapped) < 16 {
			t.Fatalf("wrap token %x", wrapped)
		}
		bufs := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: wrapped[:16]},
			{Type: secbuffer.SECBUFFER_DATA, Data: wrapped[16:]},
		}
		if _, _, err := s.Session().DecryptMessage(bufs, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
			t.Fatalf("DecryptMessage: %v, want SEC_E_MESSAGE_ALTERED", err)
		}
	})
}

// ntlmOnly and krbOnly restrict what a MIT peer's SPNEGO negotiates.
const (
	ntlmOnly = "1.3.6.1.4.1.311.2.2.10"
	krbOnly  = "1.2.840.113554.1.2.2"
)

// Our server offers Kerberos only; MIT offers NTLM only: we reject, and
// MIT fails on our reject token.
func TestInteropServerRejectsMIT(t *testing.T) {
	needGSSPeers(t)
	users := userFile(t)
	peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + users}, "initiate", spnegoOID, "host@localhost", "alice@DOM", "Passw0rd", ntlmOnly)
	krb, nt := fakes()
	cred, err := New(&Config{Kerberos: krb, NTLM: nt, PackageList: "Kerberos"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cred.NewServerContext(0)
	f := peer.call("STEP -")
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	_, err = s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, f[1])}}, out)
	if !errors.Is(err, status.SEC_E_INVALID_TOKEN) {
		t.Fatalf("our server: %v, want SEC_E_INVALID_TOKEN", err)
	}
	if r := mustResp(t, out[0].Data); r.state != reject {
		t.Fatalf("our token %+v, want reject", r)
	}
	if _, err := peer.try("STEP %s", b64(out[0].Data)); err == nil {
		t.Fatal("MIT accepted our reject token")
	}
}

// tamperMIC flips a bit of the mechListMIC of a NegTokenResp.
func tamperMIC(t *testing.T, tok []byte) []byte {
	t.Helper()
	r := mustResp(t, tok)
	if len(r.mechListMIC) == 0 {
		t.Fatal("no mechListMIC to alter")
	}
	r.mechListMIC[len(r.mechListMIC)/2] ^= 0x01
	b, err := r.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A mechListMIC altered on its way from MIT to our server.
func TestInteropTamperedMICFromMIT(t *testing.T) {
	needGSSPeers(t)
	users := userFile(t)
	peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + users}, "initiate", spnegoOID, "host@localhost", "alice@DOM", "Passw0rd", ntlmOnly)
	cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: ntlm.UserFile(users)})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := cred.NewServerContext(0)
	f := peer.call("STEP -")
	tok := stepOurs(t, s, unb64(t, f[1]))
	f = peer.call("STEP %s", b64(tok)) // AUTHENTICATE with the MIC
	bad := tamperMIC(t, unb64(t, f[1]))
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	_, err = s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: bad}}, out)
	if !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) || s.Session() != nil {
		t.Fatalf("our server: %v, want SEC_E_MESSAGE_ALTERED", err)
	}
}

// A mechListMIC altered on its way from our client to MIT.
func TestInteropTamperedMICToMIT(t *testing.T) {
	needGSSPeers(t)
	peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + userFile(t)}, "accept", spnegoOID)
	cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := cred.NewClientContext("host/localhost", 0)
	tok := stepOurs(t, c, nil)
	f := peer.call("STEP %s", b64(tok))
	tok = stepOurs(t, c, unb64(t, f[1])) // AUTHENTICATE with our MIC
	if _, err := peer.try("STEP %s", b64(tamperMIC(t, tok))); err == nil {
		t.Fatal("MIT accepted an altered mechListMIC")
	}
}

// Channel bindings given to Negotiate reach NTLM's MsvAvChannelBindings,
// which gss-ntlmssp checks, and the other way round.
func TestInteropChannelBindingsNTLM(t *testing.T) {
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
			users := userFile(t)
			peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + users, "GSSDRIVER_CB=" + fmt.Sprintf("%x", app)}, "accept", spnegoOID)
			cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
				&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := cred.NewClientContext("host/localhost", packages.ISC_REQ_CONFIDENTIALITY)
			var tok []byte
			var perr error
			for i := 0; i < 3 && perr == nil; i++ {
				in := []secbuffer.Buffer{tt.ours}
				if tok != nil {
					in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: tok})
				}
				out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
				if _, err := c.Step(context.Background(), in, out); err != nil {
					t.Fatalf("our client: %v", err)
				}
				if c.Session() != nil {
					break
				}
				var f []string
				if f, perr = peer.try("STEP %s", b64(out[0].Data)); perr == nil {
					tok = unb64(t, f[1])
				}
			}
			if tt.wantErr != (perr != nil) || tt.wantErr == (c.Session() != nil) {
				t.Fatalf("MIT acceptor: %v, our client established %v", perr, c.Session() != nil)
			}
		})
		t.Run("server-"+tt.name, func(t *testing.T) {
			users := userFile(t)
			peer := startGSSPeer(t, []string{"NTLM_USER_FILE=" + users, "GSSDRIVER_CB=" + fmt.Sprintf("%x", app)}, "initiate", spnegoOID, "host@localhost", "alice@DOM", "Passw0rd")
			cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: ntlm.UserFile(users)})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := cred.NewServerContext(0)
			f := peer.call("STEP -")
			var err2 error
			for i := 0; i < 3; i++ {
				out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
				_, err2 = s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, f[1])}, tt.ours}, out)
				if err2 != nil || s.Session() != nil {
					break
				}
				f = peer.call("STEP %s", b64(out[0].Data))
			}
			if tt.wantErr {
				if !errors.Is(err2, status.SEC_E_BAD_BINDINGS) {
					t.Fatalf("our server: %v, want SEC_E_BAD_BINDINGS", err2)
				}
			} else if err2 != nil || s.Session() == nil {
				t.Fatalf("our server: %v", err2)
			}
		})
	}
}
