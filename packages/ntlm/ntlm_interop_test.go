package ntlm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Interop with gss-ntlmssp (MIT GSSAPI's NTLM mechanism) through
// python3-gssapi, both directions, with signed and sealed messages.

func requireGSSNTLMSSP(t *testing.T) {
	t.Helper()
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	peers.Require(t, "gss-ntlmssp (apt-get install -y gss-ntlmssp)", peers.HaveGSSNTLMSSP())
}

// userFile writes an NTLM_USER_FILE for alice.
func userFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ntlm_users")
	if err := os.WriteFile(f, []byte("EXAMPLE:alice:Secret1!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func bindingsBuffer(app []byte) []secbuffer.Buffer {
	if app == nil {
		return nil
	}
	cb := &secbuffer.ChannelBindings{ApplicationData: app}
	return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: cb.Marshal()}}
}

var interopBindings = []struct {
	name          string
	peer, ours    []byte
	requireMIC    bool // server with Config.RequireMIC
	wantErr       status.Status
	wantPeerError bool // our client against their server: their error
}{
	{name: "no bindings"},
	// gss-ntlmssp 1.2 sends no MIC and no MsvAvFlags: the default server
	// accepts it (the "no bindings" case), RequireMIC refuses it.
	{name: "no MIC refused with RequireMIC", requireMIC: true, wantErr: status.SEC_E_LOGON_DENIED},
	{name: "bindings", peer: []byte("tls-server-end-point:0123"), ours: []byte("tls-server-end-point:0123")},
	{name: "bindings mismatch", peer: []byte("tls-server-end-point:0123"), ours: []byte("tls-server-end-point:9999"), wantErr: status.SEC_E_BAD_BINDINGS, wantPeerError: true},
}

// TestInteropGSSClient: gss-ntlmssp initiates, our server accepts.
func TestInteropGSSClient(t *testing.T) {
	requireGSSNTLMSSP(t)
	users := userFile(t)
	for _, tc := range interopBindings {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &Config{RequireMIC: tc.requireMIC} // otherwise the defaults
			ctx := context.Background()
			d, err := peers.StartGSS(peers.GSSOptions{
				Role: "initiate", Mech: "ntlm", Target: "HTTP@localhost",
				ChannelBindings: tc.peer, Env: []string{"NTLM_USER_FILE=" + users},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			cred, err := New(cfg).AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND, UserFile(users))
			if err != nil {
				t.Fatal(err)
			}
			server, err := cred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_INTEGRITY)
			if err != nil {
				t.Fatal(err)
			}
			info, err := acceptFromPeer(t, d, server, bindingsBuffer(tc.ours), nil)
			if tc.wantErr != 0 {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n, _ := server.QueryAttribute(packages.SECPKG_ATTR_NAMES)
			if got := n.(*packages.Names).UserName; got != `EXAMPLE\alice` {
				t.Errorf("NAMES %q", got)
			}
			checkSessionKey(t, server, info)
			exchangeWithPeer(t, d, server)
		})
	}
}

// TestInteropGSSServer: our client initiates, gss-ntlmssp accepts.
func TestInteropGSSServer(t *testing.T) {
	requireGSSNTLMSSP(t)
	users := userFile(t)
	for _, tc := range interopBindings {
		if tc.requireMIC {
			continue // our client always sends a MIC
		}
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d, err := peers.StartGSS(peers.GSSOptions{
				Role: "accept", Mech: "ntlm", ChannelBindings: tc.peer,
				Env: []string{"NTLM_USER_FILE=" + users},
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
			client, err := cred.NewClientContext("HTTP/localhost", reqSeal)
			if err != nil {
				t.Fatal(err)
			}
			auth, info, err := initiateToPeer(t, d, client, bindingsBuffer(tc.ours))
			if tc.wantPeerError {
				if err == nil || auth == nil {
					t.Fatalf("gss-ntlmssp accepted mismatched bindings")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info["peer"] == "" {
				t.Errorf("no peer name in %v", info)
			}
			checkSessionKey(t, client, info)
			exchangeWithPeer(t, d, client)
		})
	}
}

// acceptFromPeer runs the handshake of a peer initiator against server,
// passing extra input buffers to every ASC call and each peer token to
// inspect, if set. It returns the peer's established line, or the first
// error of either side.
func acceptFromPeer(t *testing.T, d *peers.GSSDriver, server packages.Context, extra []secbuffer.Buffer, inspect func([]byte)) (map[string]string, error) {
	t.Helper()
	ctx := context.Background()
	var info map[string]string
	for server.Session() == nil || info == nil {
		tok, done, inf, err := d.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w; stderr: %s", err, d.Stderr())
		}
		if done {
			info = inf
			continue
		}
		if inspect != nil {
			inspect(tok)
		}
		out, _, err := step(server, tok, 4096, extra...)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 {
			if err := d.SendToken(out); err != nil {
				return nil, err
			}
		}
	}
	return info, nil
}

// initiateToPeer runs our client against a peer acceptor, passing extra
// input buffers to ISC #2. It returns our AUTHENTICATE and the peer's
// established line, or the first error of either side.
func initiateToPeer(t *testing.T, d *peers.GSSDriver, client packages.Context, extra []secbuffer.Buffer) ([]byte, map[string]string, error) {
	t.Helper()
	ctx := context.Background()
	neg, _, err := step(client, nil, 4096)
	if err != nil {
		return nil, nil, err
	}
	if err := d.SendToken(neg); err != nil {
		return nil, nil, err
	}
	chal, _, _, err := d.Next(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; stderr: %s", err, d.Stderr())
	}
	auth, st, err := step(client, chal, 4096, extra...)
	if err != nil || st != status.SEC_E_OK {
		return nil, nil, fmt.Errorf("ISC #2: %v: %w", st, err)
	}
	if err := d.SendToken(auth); err != nil {
		return nil, nil, err
	}
	_, done, info, err := d.Next(ctx)
	if err != nil || !done {
		return auth, nil, fmt.Errorf("peer: established %v: %w; stderr: %s", done, err, d.Stderr())
	}
	return auth, info, nil
}

func checkSessionKey(t *testing.T, c packages.Context, info map[string]string) {
	t.Helper()
	if info["key"] == "-" || info["key"] == "" {
		t.Logf("peer does not report its session key")
		return
	}
	want, err := hex.DecodeString(info["key"])
	if err != nil {
		t.Fatal(err)
	}
	if got := sessionKey(t, c); !bytes.Equal(got, want) {
		t.Errorf("session key %x, peer has %x", got, want)
	}
}

// exchangeWithPeer seals and signs in both directions between our context
// and the peer: gss_wrap is signature(16) ‖ sealed data, gss_get_mic the
// 16-byte signature.
func exchangeWithPeer(t *testing.T, d *peers.GSSDriver, ours packages.Context) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		// Peer → us, sealed.
		plain := []byte("from the peer, message " + string(rune('A'+i)))
		tok, enc, err := d.Wrap(ctx, plain, true)
		if err != nil || !enc || len(tok) != sigLen+len(plain) {
			t.Fatalf("peer wrap: %d bytes, encrypted %v, %v", len(tok), enc, err)
		}
		msg := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: tok[:sigLen]},
			{Type: secbuffer.SECBUFFER_DATA, Data: tok[sigLen:]},
		}
		if _, _, err := ours.Session().DecryptMessage(msg, 0); err != nil || !bytes.Equal(msg[1].Data, plain) {
			t.Fatalf("DecryptMessage of the peer's wrap: %q %v", msg[1].Data, err)
		}
		// Us → peer, sealed.
		plain = []byte("from us, message " + string(rune('A'+i)))
		msg = []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, sigLen)},
			{Type: secbuffer.SECBUFFER_DATA, Data: bytes.Clone(plain)},
		}
		if _, err := ours.Session().EncryptMessage(0, msg, 0); err != nil {
			t.Fatal(err)
		}
		got, enc, err := d.Unwrap(ctx, append(msg[0].Data, msg[1].Data...))
		if err != nil || !enc || !bytes.Equal(got, plain) {
			t.Fatalf("peer unwrap of our EncryptMessage: %q %v %v", got, enc, err)
		}
		// Peer → us, signed.
		mic, err := d.GetMIC(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		sig := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: plain}, {Type: secbuffer.SECBUFFER_TOKEN, Data: mic}}
		if _, err := ours.Session().VerifySignature(sig, 0); err != nil {
			t.Fatalf("VerifySignature of the peer's MIC: %v", err)
		}
		// Us → peer, signed.
		sig = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: plain}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, sigLen)}}
		if err := ours.Session().MakeSignature(0, sig, 0); err != nil {
			t.Fatal(err)
		}
		if err := d.VerifyMIC(ctx, plain, sig[1].Data); err != nil {
			t.Fatalf("peer verify of our signature: %v", err)
		}
	}
	// A tampered message from the peer is refused.
	tok, _, err := d.Wrap(ctx, []byte("tamper"), true)
	if err != nil {
		t.Fatal(err)
	}
	tok[len(tok)-1] ^= 1
	msg := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok[:sigLen]}, {Type: secbuffer.SECBUFFER_DATA, Data: tok[sigLen:]}}
	if _, _, err := ours.Session().DecryptMessage(msg, 0); !errors.Is(err, status.SEC_E_MESSAGE_ALTERED) {
		t.Errorf("tampered peer message: %v", err)
	}
}

// TestInteropCurl: curl --ntlm against an HTTP server on 127.0.0.1 that
// authenticates with our server context, one context per connection.
func TestInteropCurl(t *testing.T) {
	peers.Tool(t, "curl", "curl")
	for _, tc := range []struct {
		name       string
		user       string
		requireMIC bool
		wantCode   string
	}{
		{"good password", `EXAMPLE\alice:Secret1!`, false, "200"},
		{"bad password", `EXAMPLE\alice:wrong`, false, "401"},
		{"no MIC refused with RequireMIC", `EXAMPLE\alice:Secret1!`, true, "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// curl sends no MIC: the default server (New(nil), as the
			// sspi root registers it) accepts it.
			pkg := New(nil)
			if tc.requireMIC {
				pkg = New(&Config{RequireMIC: true})
			}
			cred, err := pkg.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, testUsers)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			conns := map[string]packages.Context{}
			var authed string
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "NTLM ")
				if !ok {
					w.Header().Set("WWW-Authenticate", "NTLM")
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				in, err := base64.StdEncoding.DecodeString(tok)
				if err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				sc := conns[r.RemoteAddr]
				if sc == nil {
					sc, _ = cred.NewServerContext(0)
					conns[r.RemoteAddr] = sc
				}
				out, st, err := step(sc, in, 4096)
				if err != nil {
					delete(conns, r.RemoteAddr)
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				if st == status.SEC_I_CONTINUE_NEEDED {
					w.Header().Set("WWW-Authenticate", "NTLM "+base64.StdEncoding.EncodeToString(out))
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				n, _ := sc.QueryAttribute(packages.SECPKG_ATTR_NAMES)
				authed = n.(*packages.Names).UserName
				w.Write([]byte("hello " + authed))
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			go srv.Serve(ln)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "curl", "-s", "--http1.1", "--ntlm", "-u", tc.user,
				"-o", "-", "-w", "\n%{http_code}", "http://"+ln.Addr().String()+"/").CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v: %s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if code := lines[len(lines)-1]; code != tc.wantCode {
				t.Fatalf("HTTP %s, want %s; output %q", code, tc.wantCode, out)
			}
			if tc.wantCode == "200" && authed != `EXAMPLE\alice` {
				t.Errorf("authenticated as %q", authed)
			}
		})
	}
}

// TestInteropNTLMv1: NTLMv1 with extended session security against
// gss-ntlmssp, both directions, when both sides allow it (gss-ntlmssp
// through LM_COMPAT_LEVEL, ours through Config.LMCompatibility).
func TestInteropNTLMv1(t *testing.T) {
	requireGSSNTLMSSP(t)
	users := userFile(t)
	ctx := context.Background()
	for _, tc := range []struct {
		level   string
		wantESS bool
	}{{"1", true}, {"0", false}} {
		t.Run("their client LM_COMPAT_LEVEL="+tc.level, func(t *testing.T) {
			testGSSClientNTLMv1(t, users, tc.level, tc.wantESS)
		})
	}
	t.Run("our client", func(t *testing.T) {
		d, err := peers.StartGSS(peers.GSSOptions{Role: "accept", Mech: "ntlm", Env: []string{"NTLM_USER_FILE=" + users, "LM_COMPAT_LEVEL=1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		cred, err := New(&Config{LMCompatibility: AllowNTLMv1}).AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND,
			&packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"})
		if err != nil {
			t.Fatal(err)
		}
		client, _ := cred.NewClientContext("HTTP/localhost", reqSeal)
		auth, info, err := initiateToPeer(t, d, client, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := parseAuthenticate(auth); err != nil || len(m.ntChallengeResponse) != 24 {
			t.Fatalf("not an NTLMv1 response: %v", err)
		}
		checkSessionKey(t, client, info)
		exchangeWithPeer(t, d, client)
	})
}

// testGSSClientNTLMv1 runs a gss-ntlmssp initiator at the given
// LM_COMPAT_LEVEL against our acceptor allowing NTLMv1.
func testGSSClientNTLMv1(t *testing.T, users, level string, wantESS bool) {
	t.Helper()
	ctx := context.Background()
	d, err := peers.StartGSS(peers.GSSOptions{
		Role: "initiate", Mech: "ntlm", Target: "HTTP@localhost",
		Env: []string{"NTLM_USER_FILE=" + users, "LM_COMPAT_LEVEL=" + level},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cred, err := New(&Config{LMCompatibility: AllowNTLMv1}).AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND, UserFile(users))
	if err != nil {
		t.Fatal(err)
	}
	server, _ := cred.NewServerContext(0)
	info, err := acceptFromPeer(t, d, server, nil, func(tok []byte) {
		if m, err := parseAuthenticate(tok); err == nil && len(m.ntChallengeResponse) != 24 {
			t.Fatalf("gss-ntlmssp sent a %d-byte NT response, not NTLMv1", len(m.ntChallengeResponse))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := server.Session().(*ntlmSession).keys(); s == nil || s.ess != wantESS {
		t.Errorf("extended session security: want %v", wantESS)
	}
	checkSessionKey(t, server, info)
	exchangeWithPeer(t, d, server)
}
