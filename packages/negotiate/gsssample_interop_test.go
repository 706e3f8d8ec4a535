package negotiate

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
)

// Interop with MIT's sample programs gss-server and gss-client (package
// krb5-gss-samples), which speak SPNEGO over gss-ntlmssp here. Their wire
// framing (krb5 src/appl/gss-sample/gss-misc.c): one flag byte, a 4-byte
// big-endian length, the token.
const (
	tokNoop        = 0x01
	tokContext     = 0x02
	tokData        = 0x04
	tokMIC         = 0x08
	tokContextNext = 0x10
	tokWrapped     = 0x20
	tokEncrypted   = 0x40
	tokSendMIC     = 0x80
)

func sendSample(w io.Writer, flags byte, tok []byte) error {
	b := make([]byte, 5+len(tok))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(tok)))
	copy(b[5:], tok)
	_, err := w.Write(b)
	return err
}

func recvSample(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("token of %d bytes", n)
	}
	tok := make([]byte, n)
	_, err := io.ReadFull(r, tok)
	return h[0], tok, err
}

func needSamples(t *testing.T) {
	t.Helper()
	needGSSPeers(t)
	peers.Tool(t, "gss-server", "krb5-gss-samples")
	peers.Tool(t, "gss-client", "krb5-gss-samples")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sampleEnv is the environment of the MIT programs: gss-ntlmssp users and
// a krb5.conf without realms, so that Kerberos fails at once.
func sampleEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n dns_lookup_kdc = false\n dns_lookup_realm = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "NTLM_USER_FILE="+userFile(t), "KRB5_CONFIG="+conf,
		"KRB5CCNAME=FILE:"+filepath.Join(dir, "none"), "KRB5_KTNAME=FILE:"+filepath.Join(dir, "none.keytab"))
}

func TestInteropGSSServer(t *testing.T) {
	needSamples(t)
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var log bytes.Buffer
	srv := exec.CommandContext(ctx, "gss-server", "-port", strconv.Itoa(port), "-once", "-verbose", "host@localhost")
	srv.Env = sampleEnv(t)
	srv.Stdout, srv.Stderr = &log, &log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		srv.Wait()
		if t.Failed() {
			t.Logf("gss-server output:\n%s", log.String())
		}
	}()
	var conn net.Conn
	var err error
	for i := 0; i < 400; i++ { // up to 20 s on a loaded machine
		if conn, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("gss-server did not listen: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))

	cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND,
		&packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "Passw0rd"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cred.NewClientContext("host/localhost", packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_INTEGRITY|packages.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		t.Fatal(err)
	}
	if err := sendSample(conn, tokNoop|tokContextNext, nil); err != nil {
		t.Fatal(err)
	}
	var in []byte
	for i := 0; i < 10; i++ {
		out := stepOurs(t, c, in)
		if len(out) > 0 {
			if err := sendSample(conn, tokContext, out); err != nil {
				t.Fatal(err)
			}
		}
		if c.Session() != nil {
			break
		}
		flags, tok, err := recvSample(conn)
		if err != nil || flags&tokContext == 0 {
			t.Fatalf("gss-server context token: flags %#x, %v", flags, err)
		}
		in = tok
	}
	if c.Session() == nil {
		t.Fatal("not established")
	}
	msg := []byte("hello from gosspi")
	bufs := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 16)},
		{Type: secbuffer.SECBUFFER_DATA, Data: append([]byte(nil), msg...)},
	}
	if _, err := c.Session().EncryptMessage(0, bufs, 0); err != nil {
		t.Fatal(err)
	}
	if err := sendSample(conn, tokData|tokWrapped|tokEncrypted|tokSendMIC, append(bufs[0].Data, bufs[1].Data...)); err != nil {
		t.Fatal(err)
	}
	flags, mic, err := recvSample(conn)
	if err != nil || flags&tokMIC == 0 {
		t.Fatalf("gss-server MIC: flags %#x, %v", flags, err)
	}
	if _, err := c.Session().VerifySignature([]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: msg}, {Type: secbuffer.SECBUFFER_TOKEN, Data: mic}}, 0); err != nil {
		t.Fatalf("VerifySignature of gss-server's MIC: %v", err)
	}
	if err := sendSample(conn, tokNoop, nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("gss-server: %v", err)
	}
	if !bytes.Contains(log.Bytes(), msg) || !bytes.Contains(log.Bytes(), []byte(`DOM\alice`)) {
		t.Fatalf("gss-server did not report our message and user:\n%s", log.String())
	}
}

func TestInteropGSSClient(t *testing.T) {
	needSamples(t)
	env := sampleEnv(t)
	var users string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "NTLM_USER_FILE="); ok {
			users = v
		}
	}
	cred, err := New(&Config{PackageList: "NTLM"}).AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, &AuthData{NTLM: ntlm.UserFile(users)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg := "hello from MIT"
	// -q: gss-ntlmssp cannot answer gss_inquire_names_for_mech, which the
	// verbose output needs. -nw: gss-client does not ask for
	// confidentiality, so the NTLM context has no SEAL, yet gss-ntlmssp's
	// gss_wrap seals all the same, which no SSPI DecryptMessage accepts;
	// the message goes in clear and our MIC over it is checked.
	cli := exec.CommandContext(ctx, "gss-client", "-q", "-nw", "-port", strconv.Itoa(port), "-spnego", "-user", "alice@DOM", "-pass", "Passw0rd", "127.0.0.1", "host@localhost", msg)
	cli.Env = env
	var log bytes.Buffer
	cli.Stdout, cli.Stderr = &log, &log
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	var got []byte
	var s packages.Context
	go func() {
		serveErr <- func() error {
			conn, err := l.Accept()
			if err != nil {
				return err
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			if flags, _, err := recvSample(conn); err != nil || flags != tokNoop|tokContextNext {
				return fmt.Errorf("first message: flags %#x, %v", flags, err)
			}
			if s, err = cred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_INTEGRITY); err != nil {
				return err
			}
			for s.Session() == nil {
				flags, tok, err := recvSample(conn)
				if err != nil || flags&tokContext == 0 {
					return fmt.Errorf("context token: flags %#x, %v", flags, err)
				}
				out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1<<16)}}
				if _, err := s.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, out); err != nil {
					return err
				}
				if len(out[0].Data) > 0 {
					if err := sendSample(conn, tokContext, out[0].Data); err != nil {
						return err
					}
				}
			}
			flags, tok, err := recvSample(conn)
			if err != nil || flags&tokData == 0 || flags&tokWrapped != 0 {
				return fmt.Errorf("data message: flags %#x, %d bytes, %v", flags, len(tok), err)
			}
			got = tok
			if flags&tokSendMIC != 0 {
				sig := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: got}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 16)}}
				if err := s.Session().MakeSignature(0, sig, 0); err != nil {
					return err
				}
				if err := sendSample(conn, tokMIC, sig[1].Data); err != nil {
					return err
				}
			}
			if flags, _, err := recvSample(conn); err != nil || flags&tokNoop == 0 {
				return fmt.Errorf("closing message: flags %#x, %v", flags, err)
			}
			return nil
		}()
	}()
	cliErr := cli.Wait()
	if err := <-serveErr; err != nil {
		t.Fatalf("our server: %v\ngss-client output:\n%s", err, log.String())
	}
	if cliErr != nil {
		t.Fatalf("gss-client: %v\n%s", cliErr, log.String())
	}
	if string(got) != msg {
		t.Fatalf("received %q, want %q", got, msg)
	}
	checkNegotiated(t, s, "NTLM", packages.SECPKG_NEGOTIATION_COMPLETE)
}
