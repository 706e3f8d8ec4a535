package sasl

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
)

func TestMain(m *testing.M) { os.Exit(peers.RunTests(m)) }

var bg = context.Background()

// realm is a pair of credentials that can authenticate to each other.
type realm struct {
	client, server *sspi.Credentials
	target         string // the service the client asks for
	pkg            string // the client credentials' package
	ntlm           bool   // the contexts will run NTLM
}

const (
	ntlmUser, ntlmDomain, ntlmPassword = "alice", "EXAMPLE", "Passw0rd!"
)

func ntlmPackage() *ntlm.Package {
	return ntlm.New(&ntlm.Config{ComputerName: "SERVER", DomainName: ntlmDomain, Workstation: "CLIENT"})
}

// ntlmRealm is Negotiate limited to NTLM: GSS-SPNEGO as Samba and Active
// Directory run it when Kerberos is not available.
func ntlmRealm(t testing.TB) *realm {
	t.Helper()
	r := sspi.NewRegistry()
	r.Register(negotiate.New(&negotiate.Config{NTLM: ntlmPackage(), PackageList: "NTLM"}))
	return acquire(t, r, "Negotiate", "ldap/server.example.com",
		&sspi.AuthIdentity{User: ntlmUser, Domain: ntlmDomain, Password: ntlmPassword},
		&negotiate.AuthData{NTLM: ntlm.Users{ntlmDomain + `\` + ntlmUser: ntlmPassword}}, true)
}

// kerberosRealm uses the MIT test KDC of internal/peers: pkg is
// "Kerberos" or "Negotiate" (which selects Kerberos).
func kerberosRealm(t testing.TB, pkg string) *realm {
	t.Helper()
	k := peers.TestKDC(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	r := sspi.NewRegistry()
	r.Register(krb)
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: ntlmPackage()}))
	var server any = &kerberos.Keytab{Path: k.ServiceKeytab}
	if pkg == "Negotiate" {
		server = &negotiate.AuthData{Kerberos: server}
	}
	return acquire(t, r, pkg, "host/localhost",
		&sspi.AuthIdentity{User: "alice", Domain: k.Realm, Password: "alice-pw"}, server, false)
}

func acquire(t testing.TB, r *sspi.Registry, pkg, target string, client, server any, ntlm bool) *realm {
	t.Helper()
	cc, err := r.AcquireCredentials(bg, pkg, sspi.CredentialsOutbound, client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Free)
	sc, err := r.AcquireCredentials(bg, pkg, sspi.CredentialsInbound, server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.Free)
	return &realm{client: cc, server: sc, target: target, pkg: pkg, ntlm: ntlm}
}

// recorder keeps a copy of what a net.Conn writes and reads.
type recorder struct {
	net.Conn
	mu      sync.Mutex
	out, in bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.in.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

func (r *recorder) read() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.in.Bytes())
}

// frames parses what a side sent or received: LDAP messages in the clear
// (the bind), then RFC 4422 frames. It returns their number and the
// largest frame's length.
func frames(wire []byte) (n, largest int, err error) {
	for len(wire) > 0 && wire[0] == 0x30 {
		_, _, rest, err := berNext(wire)
		if err != nil {
			break
		}
		wire = rest
	}
	for len(wire) > 0 {
		if len(wire) < 4 {
			return n, largest, fmt.Errorf("%d stray bytes", len(wire))
		}
		k := int(wire[0])<<24 | int(wire[1])<<16 | int(wire[2])<<8 | int(wire[3])
		if k > len(wire)-4 {
			return n, largest, fmt.Errorf("a frame of %d bytes, %d left", k, len(wire)-4)
		}
		wire = wire[4+k:]
		n++
		largest = max(largest, k)
	}
	return n, largest, nil
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.out.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *recorder) written() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.out.Bytes())
}

// connPair returns two connected net.Conns: net.Pipe, or loopback TCP.
func connPair(t testing.TB, tcp bool) (net.Conn, net.Conn) {
	t.Helper()
	if !tcp {
		a, b := net.Pipe()
		return a, b
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	if b == nil {
		t.Fatal("accept failed")
	}
	return a, b
}

// serveBind answers SASL BindRequests on conn with srv until the bind
// ends, then installs the layer, as an LDAP server does: the successful
// BindResponse goes out in the clear, then Start.
func serveBind(conn *Conn, r *bufio.Reader, srv *Server, mech Mechanism) error {
	for {
		msg, err := readMessage(r)
		if err != nil {
			return fmt.Errorf("reading a BindRequest: %w", err)
		}
		id, m, creds, err := parseBindRequest(msg)
		if err != nil {
			return err
		}
		if m != string(mech) {
			return fmt.Errorf("mechanism %q", m)
		}
		out, done, err := srv.Step(bg, creds)
		if err != nil {
			code := 49 // invalidCredentials
			if errors.Is(err, ErrTooWeak) {
				code = 8 // strongerAuthRequired
			}
			conn.Write(bindResponse(id, code, nil))
			return err
		}
		if !done {
			if _, err := conn.Write(bindResponse(id, 14, out)); err != nil { // saslBindInProgress
				return err
			}
			continue
		}
		var final []byte
		if len(out) > 0 {
			final = out
		}
		if _, err := conn.Write(bindResponse(id, 0, final)); err != nil {
			return err
		}
		return conn.Start(srv.Security())
	}
}

// goldapBind is go-ldap v3.4.15's GSSAPIBindRequestWithAPOptions and
// saslBindTokenExchange, step for step, over conn: the client's Conn
// must install the layer by itself.
func goldapBind(conn *Conn, r *bufio.Reader, cli *Client, spn, authzid string) (err error) {
	defer cli.DeleteSecContext()
	var reqToken, recvToken []byte
	needInit := true
	for id := 1; ; id++ {
		if needInit {
			reqToken, needInit, err = cli.InitSecContextWithOptions(spn, recvToken, []int{})
		} else {
			reqToken, err = cli.NegotiateSaslAuth(recvToken, authzid)
		}
		if err != nil {
			return err
		}
		var creds []byte
		if len(reqToken) > 0 {
			creds = reqToken
		}
		if _, err := conn.Write(bindRequest(id, "GSSAPI", creds)); err != nil {
			return err
		}
		msg, err := readMessage(r)
		if err != nil {
			return err
		}
		_, code, sc, err := parseBindResponse(msg)
		if err != nil {
			return err
		}
		switch code {
		case 14:
			recvToken = sc
		case 0:
			recvToken = nil
		default:
			return fmt.Errorf("bind result %d", code)
		}
		if !needInit && len(recvToken) == 0 {
			return nil
		}
	}
}

// stepBind is a client using Step and Finish.
func stepBind(conn *Conn, r *bufio.Reader, cli *Client, mech Mechanism) error {
	var challenge []byte
	for id := 1; ; id++ {
		resp, err := cli.Step(bg, challenge)
		if err != nil {
			return err
		}
		if resp == nil {
			resp = []byte{}
		}
		if _, err := conn.Write(bindRequest(id, string(mech), resp)); err != nil {
			return err
		}
		msg, err := readMessage(r)
		if err != nil {
			return err
		}
		_, code, sc, err := parseBindResponse(msg)
		if err != nil {
			return err
		}
		switch code {
		case 14:
			challenge = sc
		case 0:
			_, err := cli.Finish(bg, sc)
			return err
		default:
			return fmt.Errorf("bind result %d", code)
		}
	}
}

// session is both ends of a bound connection.
type session struct {
	cli, srv       *Conn
	cliR, srvR     *bufio.Reader
	client         *Client
	server         *Server
	cliRec, srvRec *recorder
}

type bindCase struct {
	mech   Mechanism
	goldap bool // the client takes go-ldap's path
	tcp    bool
	cli    ClientConfig
	srv    ServerConfig
}

// bind runs a SASL bind between r's credentials over a fresh connection.
func bind(t testing.TB, r *realm, bc bindCase) (*session, error) {
	t.Helper()
	a, b := connPair(t, bc.tcp)
	s := &session{cliRec: &recorder{Conn: a}, srvRec: &recorder{Conn: b}}
	s.cli, s.srv = NewConn(s.cliRec), NewConn(s.srvRec)
	t.Cleanup(func() { s.cli.Close(); s.srv.Close() })
	s.cliR, s.srvR = bufio.NewReader(s.cli), bufio.NewReader(s.srv)
	cc := bc.cli
	cc.Mechanism, cc.Conn = bc.mech, s.cli
	if !bc.goldap {
		cc.Target = r.target
	}
	s.client = NewClient(r.client, &cc)
	sc := bc.srv
	sc.Mechanism = bc.mech
	var err error
	if s.server, err = NewServer(r.server, &sc); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serveBind(s.srv, s.srvR, s.server, bc.mech) }()
	if bc.goldap {
		err = goldapBind(s.cli, s.cliR, s.client, r.target, bc.cli.AuthzID)
	} else {
		err = stepBind(s.cli, s.cliR, s.client, bc.mech)
	}
	if err != nil {
		s.cli.Close()
		<-done
		return nil, err
	}
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		err = errors.New("server did not finish")
	}
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return s, nil
}

// pump sends n random bytes each way at once, in writes of w bytes, and
// checks what arrives.
func pump(t testing.TB, s *session, n, w int) {
	t.Helper()
	up, down := make([]byte, n), make([]byte, n)
	rand.Read(up)
	rand.Read(down)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	send := func(c *Conn, data []byte) {
		defer wg.Done()
		for len(data) > 0 {
			k := min(w, len(data))
			if _, err := c.Write(data[:k]); err != nil {
				errs <- fmt.Errorf("write: %w", err)
				return
			}
			data = data[k:]
		}
	}
	recv := func(r io.Reader, want []byte) {
		defer wg.Done()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil {
			errs <- fmt.Errorf("read: %w", err)
			return
		}
		if !bytes.Equal(got, want) {
			errs <- errors.New("received data differs from what was sent")
		}
	}
	wg.Add(4)
	go send(s.cli, up)
	go send(s.srv, down)
	go recv(s.srvR, up)
	go recv(s.cliR, down)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
