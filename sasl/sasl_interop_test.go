package sasl

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// Interop with Cyrus SASL 2.1.28 and its GSSAPI plugin over MIT Kerberos
// 1.20, an implementation of both mechanisms nobody here wrote: Cyrus's
// sample server against our client, and OpenLDAP's ldapsearch against
// our server, in the test realm of internal/peers (an ldap/localhost key
// is added for ldapsearch, which asks for that service).

// mit is the MIT side of the realm.
type mit struct {
	kdc    *peers.KDC
	keytab string // ldap/localhost and the realm's services
	ccache string // alice's tickets, from kinit
}

var (
	mitOnce sync.Once
	mitEnv  *mit
	mitErr  error
)

// mitRealm adds ldap/localhost to the shared MIT test KDC (once per test
// binary) with kadmin.local, writes a keytab with it and the other
// services, and gets alice a TGT with kinit.
func mitRealm(t testing.TB) *mit {
	t.Helper()
	k := peers.MITKDC(t)
	kinit := peers.Tool(t, "kinit", "krb5-user")
	kadmin := peers.Tool(t, "kadmin.local", "krb5-admin-server")
	mitOnce.Do(func() {
		m := &mit{kdc: k, keytab: filepath.Join(k.Dir, "sasl.keytab"), ccache: filepath.Join(k.Dir, "sasl.ccache")}
		env := append(k.Env(""), "KRB5_KDC_PROFILE="+filepath.Join(k.Dir, "kdc.conf"))
		for _, q := range []string{
			"addprinc -randkey ldap/localhost",
			"ktadd -norandkey -k " + m.keytab + " ldap/localhost host/localhost",
		} {
			cmd := exec.Command(kadmin, "-r", k.Realm, "-q", q)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				mitErr = fmt.Errorf("kadmin.local %q: %v\n%s", q, err, out)
				return
			}
		}
		cmd := exec.Command(kinit, "alice@"+k.Realm)
		cmd.Env = k.Env(m.ccache)
		cmd.Stdin = strings.NewReader("alice-pw\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			mitErr = fmt.Errorf("kinit: %v\n%s", err, out)
			return
		}
		mitEnv = m
	})
	if mitErr != nil {
		t.Fatal(mitErr)
	}
	return mitEnv
}

// env is the environment of an MIT program of the realm.
func (m *mit) env() []string {
	return append(m.kdc.Env(m.ccache), "KRB5_KTNAME=FILE:"+m.keytab, "LDAPNOINIT=1")
}

// registry returns Kerberos and Negotiate packages using the realm.
func (m *mit) registry(t testing.TB) *sspi.Registry {
	conf, err := config.Load(m.kdc.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	r := sspi.NewRegistry()
	r.Register(krb)
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, NTLM: ntlmPackage()}))
	return r
}

// haveGSSAPIPlugin reports whether Cyrus SASL has its GSSAPI plugin.
func haveGSSAPIPlugin() bool {
	m, _ := filepath.Glob("/usr/lib/*/sasl2/libgssapiv2.so*")
	return len(m) > 0
}

const cyrusGSSAPI = "the Cyrus SASL GSSAPI plugin (apt-get install -y libsasl2-modules-gssapi-mit)"

// TestOurClientAgainstCyrusServer: our client authenticates to Cyrus
// SASL's sample server (sasl2-bin) with GSSAPI and GSS-SPNEGO over MIT
// Kerberos, for each security layer the server is limited to. Cyrus
// checks our tokens and our layer choice; the server then sends one
// message through the layer (sasl_encode: a 4-octet length and the
// wrapped message, which we read as a frame) and wants ours back.
func TestOurClientAgainstCyrusServer(t *testing.T) {
	server := peers.Tool(t, "sasl-sample-server", "sasl2-bin")
	stdbuf := peers.Tool(t, "stdbuf", "coreutils")
	peers.Require(t, cyrusGSSAPI, haveGSSAPIPlugin())
	m := mitRealm(t)
	r := m.registry(t)
	tests := []struct {
		mech  Mechanism
		pkg   string
		ssf   string // the server's -b
		want  Layer  // the client's wish
		layer Layer  // what they end with
	}{
		{GSSAPI, "Kerberos", "min=0,max=0", LayerConfidentiality, LayerNone},
		{GSSAPI, "Kerberos", "min=1,max=1", LayerConfidentiality, LayerIntegrity},
		{GSSAPI, "Kerberos", "min=0,max=1000", LayerIntegrity, LayerIntegrity},
		{GSSAPI, "Kerberos", "min=0,max=1000", LayerConfidentiality, LayerConfidentiality},
		{GSSAPI, "Kerberos", "min=0,max=1000", LayerNone, LayerNone},
		{GSSAPI, "Negotiate", "min=0,max=1000", LayerConfidentiality, LayerConfidentiality},
		{GSSSPNEGO, "Negotiate", "min=0,max=1000", LayerNone, LayerNone},
		{GSSSPNEGO, "Kerberos", "min=0,max=1000", LayerIntegrity, LayerIntegrity},
		{GSSSPNEGO, "Negotiate", "min=0,max=1000", LayerConfidentiality, LayerConfidentiality},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s/%v", tt.mech, tt.pkg, tt.ssf, tt.want), func(t *testing.T) {
			cred, err := r.AcquireCredentials(bg, tt.pkg, sspi.CredentialsOutbound,
				&sspi.AuthIdentity{User: "alice", Domain: m.kdc.Realm, Password: "alice-pw"})
			if err != nil {
				t.Fatal(err)
			}
			defer cred.Free()
			// -l: server-send-last, for the last SPNEGO token. stdbuf: the
			// sample server writes through stdio, which a pipe would
			// buffer until exit.
			cmd := exec.Command(stdbuf, "-oL", server, "-m", string(tt.mech), "-s", "ldap", "-d", "localhost", "-b", tt.ssf, "-l")
			cmd.Env = m.env()
			sample := startSample(t, cmd)
			if mechs := sample.recv(); string(mechs) != string(tt.mech) {
				t.Fatalf("mechanisms %q", mechs)
			}
			client := NewClient(cred, &ClientConfig{Mechanism: tt.mech, Layer: tt.want, Target: "ldap/localhost"})
			defer client.DeleteSecContext()
			tok, err := client.Step(bg, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The mechanism name, a NUL and the initial response.
			sample.send(append([]byte(string(tt.mech)+"\x00"), tok...))
			var sec *Security
			for sec == nil {
				challenge := sample.recvOrDone()
				if challenge == nil {
					t.Fatal("no challenge")
				}
				if tt.mech == GSSSPNEGO && sample.negotiated {
					// -l: the server's last token follows "Negotiation complete".
					if sec, err = client.Finish(bg, challenge); err != nil {
						t.Fatalf("Finish: %v\n%s", err, sample.transcript())
					}
					break
				}
				resp, err := client.Step(bg, challenge)
				if err != nil {
					t.Fatalf("Step: %v\n%s", err, sample.transcript())
				}
				sample.send(resp)
				if client.Security() != nil {
					if sec, err = client.Finish(bg, nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			if sec.Layer() != tt.layer {
				t.Fatalf("layer %v, want %v", sec.Layer(), tt.layer)
			}
			got := sample.recv()
			if sec.Layer() != LayerNone {
				if len(got) < 4 || int(binary.BigEndian.Uint32(got)) != len(got)-4 {
					t.Fatalf("server message %x", got)
				}
				if got, err = sec.Unwrap(got[4:]); err != nil {
					t.Fatalf("Unwrap of the server's message: %v", err)
				}
			}
			if string(got) != "srv message 1\x00" {
				t.Fatalf("server message %q", got)
			}
			msg := []byte("client message 1\x00")
			if sec.Layer() != LayerNone {
				if msg, err = sec.appendFrame(nil, msg); err != nil {
					t.Fatal(err)
				}
			}
			sample.send(msg)
			if err := sample.wait(); err != nil {
				t.Fatalf("sample server: %v\n%s", err, sample.transcript())
			}
			out := sample.transcript()
			if !strings.Contains(out, "recieved decoded message 'client message 1'") {
				t.Fatalf("the server did not decode our message:\n%s", out)
			}
			// Cyrus's security strength: 0 for none, 1 for integrity,
			// the key's for confidentiality.
			var ssf int
			if _, err := fmt.Sscanf(out[strings.Index(out, "SSF: "):], "SSF: %d", &ssf); err != nil {
				t.Fatalf("no SSF in the transcript:\n%s", out)
			}
			if (ssf == 0) != (tt.layer == LayerNone) || (ssf == 1) != (tt.layer == LayerIntegrity) {
				t.Errorf("server's SSF %d for %v", ssf, tt.layer)
			}
		})
	}
}

// sampleServer drives Cyrus's sasl-sample-server through its stdin and
// stdout ("S: " and "C: " lines in base64).
type sampleServer struct {
	t          testing.TB
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	lines      *bufio.Scanner
	lines2     []string
	stderr     bytes.Buffer
	negotiated bool // "Negotiation complete" was printed
}

func startSample(t testing.TB, cmd *exec.Cmd) *sampleServer {
	t.Helper()
	s := &sampleServer{t: t, cmd: cmd}
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	t.Cleanup(func() { timer.Stop(); cmd.Process.Kill(); cmd.Wait() })
	s.lines = bufio.NewScanner(stdout)
	s.lines.Buffer(nil, 1<<20)
	return s
}

// recvOrDone returns the next "S: " line decoded, or nil at the end.
func (s *sampleServer) recvOrDone() []byte {
	s.t.Helper()
	for s.lines.Scan() {
		l := s.lines.Text()
		s.lines2 = append(s.lines2, l)
		if l == "Negotiation complete" {
			s.negotiated = true
		}
		if b64, ok := strings.CutPrefix(l, "S: "); ok {
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				s.t.Fatalf("server line %q: %v", l, err)
			}
			return b
		}
	}
	return nil
}

func (s *sampleServer) recv() []byte {
	s.t.Helper()
	b := s.recvOrDone()
	if b == nil {
		s.t.Fatalf("server ended:\n%s", s.transcript())
	}
	return b
}

func (s *sampleServer) send(b []byte) {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.stdin, "C: %s\n", base64.StdEncoding.EncodeToString(b)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sampleServer) wait() error {
	for s.lines.Scan() {
		s.lines2 = append(s.lines2, s.lines.Text())
	}
	return s.cmd.Wait()
}

func (s *sampleServer) transcript() string {
	return strings.Join(s.lines2, "\n") + "\n" + s.stderr.String()
}

// ldapPeer serves one LDAP connection with our server: the bind, then
// searches answered with one large entry through the layer, until the
// unbind.
type ldapPeer struct {
	server  *Server
	mech    Mechanism
	entry   []byte // the value of the entry's description attribute
	rec     *recorder
	request []byte // the last SearchRequest
	srv     *Conn
}

func (lp *ldapPeer) serve(conn net.Conn) error {
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	lp.rec = &recorder{Conn: conn}
	lp.srv = NewConn(lp.rec)
	r := bufio.NewReader(lp.srv)
	if err := serveBind(lp.srv, r, lp.server, lp.mech); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	for {
		msg, err := readMessage(r)
		if err != nil {
			return fmt.Errorf("reading a request: %w", err)
		}
		id, op, _, err := ldapMessage(msg)
		if err != nil {
			return err
		}
		switch op {
		case 0x42: // UnbindRequest
			return nil
		case 0x63: // SearchRequest
			lp.request = msg
			entry := ber(0x30, berInt(0x02, id), ber(0x64, ber(0x04, []byte("cn=alice,dc=example")),
				ber(0x30, ber(0x30, ber(0x04, []byte("description")), ber(0x31, ber(0x04, lp.entry))))))
			done := ber(0x30, berInt(0x02, id), ber(0x65, berInt(0x0a, 0), ber(0x04), ber(0x04)))
			if _, err := lp.srv.Write(append(entry, done...)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("operation %#x", op)
		}
	}
}

// TestLdapsearchAgainstOurServer: OpenLDAP's ldapsearch (Cyrus SASL's
// client and its GSSAPI plugin, MIT Kerberos from kinit) binds to our
// server with GSSAPI and GSS-SPNEGO for each layer, sends a search whose
// filter is larger than our receive buffer (many frames when we
// advertise a small one) and reads back an entry larger than its own
// (many frames our way).
func TestLdapsearchAgainstOurServer(t *testing.T) {
	ldapsearch := peers.Tool(t, "ldapsearch", "ldap-utils")
	peers.Require(t, cyrusGSSAPI, haveGSSAPIPlugin())
	m := mitRealm(t)
	r := m.registry(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 200000/16) // 200 kB of printable text
	filter := bytes.Repeat([]byte("f"), 100000)
	tests := []struct {
		mech   Mechanism
		secops string // ldapsearch -O
		maxRcv int    // our MaxReceive
		layer  Layer
		in     int  // frames at least, from ldapsearch
		out    int  // frames at least, to ldapsearch
		ntlm   bool // NTLM through gss-ntlmssp rather than Kerberos
	}{
		{GSSAPI, "maxssf=0", 0, LayerNone, 0, 0, false},
		{GSSAPI, "minssf=1,maxssf=1", 4096, LayerIntegrity, 25, 1, false},
		{GSSAPI, "minssf=1", 4096, LayerConfidentiality, 25, 1, false},
		{GSSAPI, "minssf=1,maxbufsize=2000", 0, LayerConfidentiality, 1, 100, false},
		{GSSSPNEGO, "maxssf=0", 0, LayerNone, 0, 0, false},
		// MIT's krb5 initiator adds the confidentiality flag to any
		// integrity request (Samba's libads/sasl.c notes it: "some gssapi
		// krb5 mech implementations automaticly add GSS_C_INTEG_FLAG and
		// GSS_C_CONF_FLAG"), so under GSS-SPNEGO both sides seal.
		{GSSSPNEGO, "minssf=1,maxssf=1", 0, LayerConfidentiality, 1, 4, false},
		{GSSSPNEGO, "minssf=1", 0, LayerConfidentiality, 1, 4, false},
		// NTLM inside SPNEGO, through gss-ntlmssp: an independent NTLM
		// sealing our frames and reading ours (the 16-byte signature,
		// then the data). With maxssf=0 ldapsearch fails in its own
		// gss_init_sec_context (GSS_S_UNAVAILABLE) before it sends
		// anything, so only layers are tried.
		{GSSSPNEGO, "minssf=1", 0, LayerConfidentiality, 1, 4, true},
		// Integrity only: gss-ntlmssp negotiates SIGN without SEAL and,
		// as Windows LDAP clients do, seals anyway; the NTLM package
		// seals and unseals a SIGN-only session (Samba's
		// GENSEC_FEATURE_LDAP_STYLE).
		{GSSSPNEGO, "minssf=1,maxssf=1", 0, LayerIntegrity, 1, 4, true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%s", tt.mech, tt.secops)
		if tt.ntlm {
			name += "/NTLM"
		}
		t.Run(name, func(t *testing.T) {
			env := m.env()
			var authData any = &kerberos.Keytab{Path: m.keytab}
			pkg := "Kerberos"
			if tt.mech == GSSSPNEGO {
				pkg, authData = "Negotiate", &negotiate.AuthData{Kerberos: authData}
			}
			if tt.ntlm {
				peers.Require(t, "gss-ntlmssp (apt-get install -y gss-ntlmssp)", peers.HaveGSSNTLMSSP())
				users := filepath.Join(t.TempDir(), "users")
				if err := os.WriteFile(users, []byte(ntlmDomain+":"+ntlmUser+":"+ntlmPassword+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				// No tickets and no client keytab: MIT's SPNEGO offers
				// NTLM only.
				none := filepath.Join(t.TempDir(), "none")
				env = append(env, "NTLM_USER_FILE="+users, "KRB5CCNAME=FILE:"+none, "KRB5_CLIENT_KTNAME=FILE:"+none)
				authData = &negotiate.AuthData{NTLM: ntlm.Users{ntlmDomain + `\` + ntlmUser: ntlmPassword}}
			}
			cred, err := r.AcquireCredentials(bg, pkg, sspi.CredentialsInbound, authData)
			if err != nil {
				t.Fatal(err)
			}
			defer cred.Free()
			srv, err := NewServer(cred, &ServerConfig{Mechanism: tt.mech, MaxReceive: tt.maxRcv})
			if err != nil {
				t.Fatal(err)
			}
			lp := &ldapPeer{server: srv, mech: tt.mech, entry: big}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			done := make(chan error, 1)
			go func() {
				conn, err := l.Accept()
				if err != nil {
					done <- err
					return
				}
				done <- lp.serve(conn)
			}()
			port := l.Addr().(*net.TCPAddr).Port
			cmd := exec.Command(ldapsearch, "-LLL", "-N", "-o", "ldif-wrap=no",
				"-H", fmt.Sprintf("ldap://localhost:%d", port), "-Y", string(tt.mech), "-O", tt.secops,
				"-b", "dc=example", "(cn="+string(filter)+")", "description")
			cmd.Env = env
			out, cmdErr := cmd.CombinedOutput()
			var serveErr error
			select {
			case serveErr = <-done:
			case <-time.After(30 * time.Second):
				serveErr = errors.New("server did not finish")
			}
			if cmdErr != nil || serveErr != nil {
				t.Fatalf("ldapsearch: %v\n%.2000s\nour server: %v (flags %#x)", cmdErr, out, serveErr, srv.Context().Flags())
			}
			if !bytes.Contains(out, append([]byte("description: "), big...)) {
				t.Errorf("ldapsearch did not print the entry:\n%.500s", out)
			}
			if !bytes.Contains(lp.request, filter) {
				t.Error("the search filter did not arrive whole")
			}
			sec := srv.Security()
			if sec.Layer() != tt.layer {
				t.Fatalf("layer %v, want %v", sec.Layer(), tt.layer)
			}
			if name, err := srv.Context().UserName(); err != nil || !strings.Contains(strings.ToLower(name), "alice") {
				t.Errorf("client %q, %v", name, err)
			}
			if tt.layer == LayerNone {
				return
			}
			// On NTLM an integrity layer is sealed too (SIGN read as SEAL).
			if plain := bytes.Contains(lp.rec.written(), big[:1000]); plain != (tt.layer == LayerIntegrity && !tt.ntlm) {
				t.Errorf("our entry in the clear on the wire: %v", plain)
			}
			if strings.Contains(tt.secops, "maxbufsize=2000") && sec.MaxSend() != 2000 {
				t.Errorf("ldapsearch advertised %d bytes, not 2000", sec.MaxSend())
			}
			in, inMax, err := frames(lp.rec.read())
			if err != nil || in < tt.in || inMax > sec.MaxReceive() {
				t.Errorf("from ldapsearch: %d frames (want %d at least), the largest %d bytes (ours %d), %v", in, tt.in, inMax, sec.MaxReceive(), err)
			}
			sent, sentMax, err := frames(lp.rec.written())
			if err != nil || sent < tt.out || sentMax > sec.MaxSend() {
				t.Errorf("to ldapsearch: %d frames (want %d at least), the largest %d bytes (its %d), %v", sent, tt.out, sentMax, sec.MaxSend(), err)
			}
		})
	}
}
