package adtest

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
)

// The wire framing of krb5-gss-samples (gss-misc.c): a flag byte, a
// 4-byte big-endian length, the token (PEERS.md).
const (
	gssNOOP        = 0x01
	gssContext     = 0x02
	gssData        = 0x04
	gssMIC         = 0x08
	gssContextNext = 0x10
	gssWrapped     = 0x20
	gssEncrypted   = 0x40
	gssSendMIC     = 0x80
)

func writeGSSSample(w io.Writer, flags byte, tok []byte) error {
	msg := make([]byte, 5+len(tok))
	msg[0] = flags
	binary.BigEndian.PutUint32(msg[1:], uint32(len(tok)))
	copy(msg[5:], tok)
	_, err := w.Write(msg)
	return err
}

func readGSSSample(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("gss sample token of %d bytes", n)
	}
	tok := make([]byte, n)
	_, err := io.ReadFull(r, tok)
	return hdr[0], tok, err
}

// gssClientMessage is what gss-client sends after the context.
const gssClientMessage = "hello from MIT gss-client"

// serveGSSClient is gss-server's side of one gss-client connection, with
// our acceptor s: the context tokens, then the sealed message, answered
// with a MIC over its plaintext.
func serveGSSClient(ctx context.Context, conn net.Conn, s *sspi.Context) error {
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	for !s.Established() {
		flags, tok, err := readGSSSample(br)
		if err != nil {
			return fmt.Errorf("reading a context token: %w", err)
		}
		if flags&gssNOOP != 0 {
			continue
		}
		out, err := s.Step(ctx, tok)
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		if len(out) > 0 {
			if err := writeGSSSample(conn, gssContext, out); err != nil {
				return err
			}
		}
	}
	flags, wrapped, err := readGSSSample(br)
	if err != nil {
		return fmt.Errorf("reading the message: %w", err)
	}
	if flags&gssWrapped == 0 || flags&gssEncrypted == 0 {
		return fmt.Errorf("message flags %#x: not wrapped and encrypted", flags)
	}
	plain, err := s.Unwrap(wrapped)
	if err != nil {
		return fmt.Errorf("Unwrap of gss-client's message: %w", err)
	}
	if string(plain) != gssClientMessage {
		return fmt.Errorf("gss-client's message is %q", plain)
	}
	if flags&gssSendMIC != 0 {
		mic, err := s.MakeSignature(plain, 0, 0)
		if err != nil {
			return err
		}
		if err := writeGSSSample(conn, gssMIC, mic); err != nil {
			return err
		}
	}
	return nil
}

// checkAlice checks a server context that accepted alice's Kerberos
// ticket: the client name, the package and the PAC's user SID.
func checkAlice(t *testing.T, dc *DC, s *sspi.Context) {
	t.Helper()
	if name, err := s.UserName(); err != nil || name != Alice.Principal() {
		t.Errorf("server UserName() = %q, %v; want %s", name, err, Alice.Principal())
	}
	if got := s.NegotiatedPackage(); got != "Kerberos" {
		t.Errorf("NegotiatedPackage() = %q, want Kerberos", got)
	}
	pac, ok := s.PAC()
	if !ok {
		t.Fatal("the ticket's PAC is not available on the server context")
	}
	if want := showSID(t, dc, "user", Alice.Name); pac.UserSID != want {
		t.Errorf("PAC user SID %s, want %s", pac.UserSID, want)
	}
}

// TestMITKinitCCache: MIT kinit gets alice's TGT from the DC; our
// Kerberos client uses that credential cache for a service ticket, and
// our Kerberos and Negotiate acceptors take it.
func TestMITKinitCCache(t *testing.T) {
	dc := Require(t)
	peers.Tool(t, "kinit", "krb5-user")
	cc, err := dc.Kinit(Alice)
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, dc, registryOptions{})
	client := acquire(t, r, "Kerberos", "", sspi.CredentialsOutbound, &kerberos.CCache{Path: cc})
	if got := client.UserName(); got != Alice.Principal() {
		t.Errorf("credentials UserName() = %q, want %s", got, Alice.Principal())
	}
	for _, pkg := range []string{"Kerberos", "Negotiate"} {
		t.Run(pkg, func(t *testing.T) {
			server := serviceCred(t, dc, r, pkg, WebService.SPNs[0])
			c, s := contexts(t, client, server, WebService.SPNs[0], kerberosISC, kerberosASC)
			if err := handshake(testCtx(t), c, s); err != nil {
				t.Fatal(err)
			}
			checkAlice(t, dc, s)
			wantFlags(t, "server", s.Flags(), kerberosASCRet)
			exchangeMessages(t, c, s)
		})
	}
}

// TestMITGSSClient: MIT's gss-client, with the TGT MIT kinit got from the
// DC, authenticates to our acceptors (raw krb5 to Kerberos and to
// Negotiate, SPNEGO to Negotiate) for HTTP@web.samba.test, sends a sealed
// message and verifies our MIC over it.
func TestMITGSSClient(t *testing.T) {
	dc := Require(t)
	peers.Tool(t, "kinit", "krb5-user")
	gssClient := peers.Tool(t, "gss-client", "krb5-gss-samples")
	cc, err := dc.Kinit(Alice)
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, dc, registryOptions{})
	for _, tc := range []struct {
		name, pkg string
		spnego    bool
	}{
		{"krb5-Kerberos", "Kerberos", false},
		{"krb5-Negotiate", "Negotiate", false},
		{"spnego-Negotiate", "Negotiate", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server := serviceCred(t, dc, r, tc.pkg, WebService.SPNs[0])
			s, err := sspi.NewServerContext(server, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Delete()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			args := []string{"-port", fmt.Sprint(l.Addr().(*net.TCPAddr).Port), "-seq"}
			if tc.spnego {
				args = append(args, "-spnego")
			}
			args = append(args, WebHost, "HTTP@"+WebHost, gssClientMessage)
			cmd := exec.Command(gssClient, args...)
			cmd.Env = append(os.Environ(), "KRB5CCNAME=FILE:"+cc)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			l.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
			conn, err := l.Accept()
			if err != nil {
				t.Fatalf("gss-client did not connect: %v\n%s", err, out.String())
			}
			defer conn.Close()
			if err := serveGSSClient(testCtx(t), conn, s); err != nil {
				t.Fatalf("%v\n--- gss-client:\n%s", err, out.String())
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("gss-client: %v\n%s", err, out.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("gss-client did not finish\n%s", out.String())
			}
			if !strings.Contains(out.String(), "Signature verified") {
				t.Errorf("gss-client did not verify our MIC:\n%s", out.String())
			}
			checkAlice(t, dc, s)
		})
	}
}

// TestMITPythonGSSAPI: MIT GSSAPI through python3-gssapi (the
// internal/peers driver), with the TGT from MIT kinit, initiates SPNEGO
// and raw krb5 contexts to our Negotiate and Kerberos acceptors; messages
// are sealed both ways.
func TestMITPythonGSSAPI(t *testing.T) {
	dc := Require(t)
	peers.Tool(t, "kinit", "krb5-user")
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	cc, err := dc.Kinit(Alice)
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, dc, registryOptions{})
	for _, tc := range []struct{ mech, pkg string }{{"krb5", "Kerberos"}, {"spnego", "Negotiate"}} {
		t.Run(tc.mech+"-"+tc.pkg, func(t *testing.T) {
			ctx := testCtx(t)
			server := serviceCred(t, dc, r, tc.pkg, WebService.SPNs[0])
			s, err := sspi.NewServerContext(server, kerberosASC)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Delete()
			d, err := peers.StartGSS(peers.GSSOptions{
				Role: "initiate", Mech: tc.mech, Target: "HTTP@" + WebHost,
				Flags: "mutual,integ,conf,replay,sequence",
				Env:   []string{"KRB5CCNAME=FILE:" + cc},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for {
				tok, established, info, err := d.Next(ctx)
				if err != nil {
					t.Fatalf("MIT initiator: %v", err)
				}
				if established {
					t.Logf("MIT initiator established: %v", info)
					break
				}
				out, err := s.Step(ctx, tok)
				if err != nil {
					t.Fatalf("accept: %v", err)
				}
				if len(out) > 0 {
					if err := d.SendToken(out); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !s.Established() {
				t.Fatal("the MIT initiator is established, our acceptor is not")
			}
			checkAlice(t, dc, s)
			msg := []byte("sealed by MIT, opened by gosspi")
			tok, enc, err := d.Wrap(ctx, msg, true)
			if err != nil || !enc {
				t.Fatalf("MIT wrap: %v (encrypted %v)", err, enc)
			}
			if plain, err := s.Unwrap(tok); err != nil || string(plain) != string(msg) {
				t.Fatalf("our Unwrap: %q, %v", plain, err)
			}
			msg = []byte("sealed by gosspi, opened by MIT")
			sealed, err := s.Wrap(msg)
			if err != nil {
				t.Fatal(err)
			}
			if plain, enc, err := d.Unwrap(ctx, sealed); err != nil || !enc || string(plain) != string(msg) {
				t.Fatalf("MIT unwrap: %q, encrypted %v, %v", plain, enc, err)
			}
		})
	}
}
