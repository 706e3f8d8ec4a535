package kerberos

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// The krb5-gss-samples wire framing (gss-misc.c): one flag byte, a 4-byte
// big-endian length, the token (PEERS.md).
const (
	tokNOOP        = 0x01
	tokContext     = 0x02
	tokData        = 0x04
	tokMIC         = 0x08
	tokContextNext = 0x10
	tokWrapped     = 0x20
	tokEncrypted   = 0x40
	tokSendMIC     = 0x80
)

func writeSampleToken(w io.Writer, flags byte, tok []byte) error {
	hdr := [5]byte{flags}
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(tok)))
	_, err := w.Write(append(hdr[:], tok...))
	return err
}

func readSampleToken(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	tok := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
	_, err := io.ReadFull(r, tok)
	return hdr[0], tok, err
}

func requireSamples(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"gss-server", "gss-client"} {
		peers.Tool(t, tool, "krb5-gss-samples")
	}
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

// TestInteropGSSServer runs our initiator against MIT's gss-server.
func TestInteropGSSServer(t *testing.T) {
	k := peers.TestKDC(t)
	requireSamples(t)
	port := freePort(t)
	cmd := exec.Command("gss-server", "-port", fmt.Sprint(port), "-once", "-keytab", k.ServiceKeytab, "host@localhost")
	cmd.Env = k.Env("")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var conn net.Conn
	var err error
	for i := 0; i < 50; i++ {
		if conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("gss-server not listening: %v; %s", err, out.String())
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)

	p := kdcPackage(t, k, nil)
	cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, aliceIdentity)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cred.NewClientContext("host@localhost", packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_SEQUENCE_DETECT|packages.ISC_REQ_REPLAY_DETECT)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSampleToken(conn, tokNOOP|tokContextNext, nil); err != nil {
		t.Fatal(err)
	}
	var in []secbuffer.Buffer
	for {
		o := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
		st, err := c.Step(bg(), in, o)
		if err != nil {
			t.Fatalf("ISC: %v; gss-server: %s", err, out.String())
		}
		if len(o[0].Data) > 0 {
			writeSampleToken(conn, tokContext, o[0].Data)
		}
		if st == status.SEC_E_OK {
			break
		}
		_, tok, err := readSampleToken(br)
		if err != nil {
			t.Fatalf("reading the AP-REP: %v; gss-server: %s", err, out.String())
		}
		in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}
	}
	msg := []byte("hello gss-server")
	data := bytes.Clone(msg)
	w := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 76)}, {Type: secbuffer.SECBUFFER_DATA, Data: data}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 1)}}
	if _, err := c.Session().EncryptMessage(0, w, 0); err != nil {
		t.Fatal(err)
	}
	wire := append(append(bytes.Clone(w[0].Data), w[1].Data...), w[2].Data...)
	if err := writeSampleToken(conn, tokData|tokWrapped|tokEncrypted|tokSendMIC, wire); err != nil {
		t.Fatal(err)
	}
	flags, mic, err := readSampleToken(br)
	if err != nil || flags&tokMIC == 0 {
		t.Fatalf("no MIC back (flags %#x): %v; gss-server: %s", flags, err, out.String())
	}
	v := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: msg}, {Type: secbuffer.SECBUFFER_TOKEN, Data: mic}}
	if _, err := c.Session().VerifySignature(v, 0); err != nil {
		t.Fatalf("gss-server's MIC: %v", err)
	}
	writeSampleToken(conn, tokNOOP, nil)
	if err := cmd.Wait(); err != nil {
		t.Logf("gss-server exit: %v", err)
	}
	if !strings.Contains(out.String(), "alice@GOSSPI.TEST") || !strings.Contains(out.String(), "hello gss-server") {
		t.Errorf("gss-server output lacks the client or the message:\n%s", out.String())
	}
}

// TestInteropGSSClient runs MIT's gss-client against our acceptor.
func TestInteropGSSClient(t *testing.T) {
	k := peers.TestKDC(t)
	requireSamples(t)
	p := kdcPackage(t, k, nil)
	srv, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	cc := kinit(t, k)
	cmd := exec.Command("gss-client", "-port", fmt.Sprint(port), "-seq", "localhost", "host@localhost", "hello from gss-client")
	cmd.Env = k.Env(cc)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := l.Accept()
	if err != nil {
		t.Fatalf("gss-client did not connect: %v; %s", err, out.String())
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	sc, _ := srv.NewServerContext(0)
	for sc.Session() == nil {
		flags, tok, err := readSampleToken(br)
		if err != nil {
			t.Fatalf("read: %v; gss-client: %s", err, out.String())
		}
		if flags&tokNOOP != 0 {
			continue
		}
		o := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
		if _, err := sc.Step(bg(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, o); err != nil {
			t.Fatalf("ASC: %v", err)
		}
		if len(o[0].Data) > 0 {
			writeSampleToken(conn, tokContext, o[0].Data)
		}
	}
	flags, wrapped, err := readSampleToken(br)
	if err != nil || flags&tokWrapped == 0 {
		t.Fatalf("no wrapped message (flags %#x): %v; gss-client: %s", flags, err, out.String())
	}
	r := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: wrapped}, {Type: secbuffer.SECBUFFER_DATA}}
	if _, _, err := sc.Session().DecryptMessage(r, 0); err != nil {
		t.Fatalf("DecryptMessage of gss-client's message: %v", err)
	}
	if string(r[1].Data) != "hello from gss-client" {
		t.Fatalf("message %q", r[1].Data)
	}
	m := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: r[1].Data}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 64)}}
	if err := sc.Session().MakeSignature(0, m, 0); err != nil {
		t.Fatal(err)
	}
	writeSampleToken(conn, tokMIC, m[1].Data)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gss-client failed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Signature verified") {
		t.Errorf("gss-client did not verify our MIC:\n%s", out.String())
	}
}
