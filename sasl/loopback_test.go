package sasl

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
)

// Our client against our server in memory, for each mechanism, realm and
// layer, through both client paths, with messages many times the
// receive buffers in both directions.

var layerCases = []struct {
	want   Layer
	gssapi Layer // the layer GSSAPI ends with (the client's choice)
}{
	{LayerNone, LayerNone},
	{LayerIntegrity, LayerIntegrity},
	{LayerConfidentiality, LayerConfidentiality},
}

// spnegoLayer is the layer GSS-SPNEGO ends with for a wanted layer: the
// context flags ClientFlags asks for. Integrity asks for confidentiality
// too when NTLM may run (Negotiate, NTLM).
func spnegoLayer(want Layer, pkg string) Layer {
	if want == LayerIntegrity && mayRunNTLM(pkg) {
		return LayerConfidentiality
	}
	return want
}

func testLoopback(t *testing.T, r *realm, mech Mechanism) {
	for _, lc := range layerCases {
		want := lc.gssapi
		if mech == GSSSPNEGO {
			want = spnegoLayer(lc.want, r.pkg)
		}
		paths := []bool{false}
		if mech == GSSAPI {
			paths = append(paths, true)
		}
		for _, goldap := range paths {
			for _, tcp := range []bool{false, true} {
				name := fmt.Sprintf("%v/goldap=%v/tcp=%v", lc.want, goldap, tcp)
				t.Run(name, func(t *testing.T) {
					s, err := bind(t, r, bindCase{
						mech: mech, goldap: goldap, tcp: tcp,
						// Small buffers: 48 KiB each way is dozens of frames.
						cli: ClientConfig{Layer: lc.want, RequireLayer: true, MaxReceive: 1000, MaxSend: 1200},
						srv: ServerConfig{MaxReceive: 1500, MaxSend: 900},
					})
					if err != nil {
						t.Fatal(err)
					}
					checkSession(t, s, want, r.ntlm)
					pump(t, s, 48<<10, 5000)
					checkWire(t, s, want, r.ntlm)
				})
			}
		}
	}
	t.Run("defaults/1MiB", func(t *testing.T) {
		s, err := bind(t, r, bindCase{mech: mech})
		if err != nil {
			t.Fatal(err)
		}
		checkSession(t, s, spnegoLayer(LayerConfidentiality, r.pkg), r.ntlm)
		pump(t, s, 1<<20, 300<<10)
	})
}

// checkSession checks both sides agree on the layer and the sizes.
func checkSession(t *testing.T, s *session, want Layer, ntlm bool) {
	t.Helper()
	cs, ss := s.client.Security(), s.server.Security()
	if cs == nil || ss == nil {
		t.Fatalf("Security: client %v, server %v", cs, ss)
	}
	if cs.Layer() != want || ss.Layer() != want {
		t.Fatalf("layers: client %v, server %v; want %v", cs.Layer(), ss.Layer(), want)
	}
	conf := want == LayerConfidentiality || (want == LayerIntegrity && ntlm)
	if cs.Confidential() != conf || ss.Confidential() != conf {
		t.Errorf("confidential: client %v, server %v; want %v", cs.Confidential(), ss.Confidential(), conf)
	}
	if want == LayerNone {
		return
	}
	// GSSAPI: each side sends within both advertised sizes (sendLimit).
	both := min(cs.MaxReceive(), ss.MaxReceive())
	if cs.MaxSend() != both && s.client.config.mech() == GSSAPI {
		t.Errorf("client sends %d, server receives %d, client %d", cs.MaxSend(), ss.MaxReceive(), cs.MaxReceive())
	}
	if ss.MaxSend() != both && s.client.config.mech() == GSSAPI {
		t.Errorf("server sends %d, client receives %d, server %d", ss.MaxSend(), cs.MaxReceive(), ss.MaxReceive())
	}
	if !s.cli.Active() || !s.srv.Active() {
		t.Errorf("active: client %v, server %v", s.cli.Active(), s.srv.Active())
	}
	if name, err := s.server.Context().UserName(); err != nil || name == "" {
		t.Errorf("server UserName %q, %v", name, err)
	}
}

// checkWire looks at what each side wrote after the bind: frames no
// larger than the peer's buffer, the plaintext visible only with an
// integrity layer that does not seal.
func checkWire(t *testing.T, s *session, want Layer, ntlm bool) {
	t.Helper()
	for _, side := range []struct {
		name string
		rec  *recorder
		sec  *Security
	}{{"client", s.cliRec, s.client.Security()}, {"server", s.srvRec, s.server.Security()}} {
		if want == LayerNone {
			continue
		}
		n, largest, err := frames(side.rec.written())
		if err != nil {
			t.Fatalf("%s: %v", side.name, err)
		}
		if largest > side.sec.MaxSend() {
			t.Errorf("%s: a frame of %d bytes, peer buffer %d", side.name, largest, side.sec.MaxSend())
		}
		if n < 10 {
			t.Errorf("%s: %d frames for 48 KiB", side.name, n)
		}
	}
}

func TestLoopbackNTLMSPNEGO(t *testing.T) {
	testLoopback(t, ntlmRealm(t), GSSSPNEGO)
}

func TestLoopbackKerberosGSSAPI(t *testing.T) {
	testLoopback(t, kerberosRealm(t, "Kerberos"), GSSAPI)
}

func TestLoopbackKerberosSPNEGO(t *testing.T) {
	r := kerberosRealm(t, "Negotiate")
	testLoopback(t, r, GSSSPNEGO)
	t.Run("negotiated", func(t *testing.T) {
		s, err := bind(t, r, bindCase{mech: GSSSPNEGO})
		if err != nil {
			t.Fatal(err)
		}
		if p := s.client.Context().NegotiatedPackage(); p != "Kerberos" {
			t.Errorf("negotiated %q, want Kerberos", p)
		}
	})
}

// The plaintext of an integrity layer travels in the clear; that of a
// confidentiality layer does not.
func TestIntegrityIsVisible(t *testing.T) {
	r := kerberosRealm(t, "Kerberos")
	marker := bytes.Repeat([]byte("visible plaintext "), 10)
	for _, lc := range []struct {
		layer   Layer
		visible bool
	}{{LayerIntegrity, true}, {LayerConfidentiality, false}} {
		t.Run(lc.layer.String(), func(t *testing.T) {
			s, err := bind(t, r, bindCase{mech: GSSAPI, cli: ClientConfig{Layer: lc.layer, RequireLayer: true}})
			if err != nil {
				t.Fatal(err)
			}
			go s.cli.Write(marker)
			got := make([]byte, len(marker))
			if _, err := io.ReadFull(s.srvR, got); err != nil || !bytes.Equal(got, marker) {
				t.Fatalf("read %q, %v", got, err)
			}
			if bytes.Contains(s.cliRec.written(), marker) != lc.visible {
				t.Errorf("plaintext on the wire: %v, want %v", !lc.visible, lc.visible)
			}
		})
	}
}

// Layer choice through the GSSAPI negotiation, on NTLM contexts (GSSAPI
// being Kerberos in RFC 4752, but the negotiation is the mechanism's).
func TestLayerNegotiation(t *testing.T) {
	r := ntlmRealm(t)
	tests := []struct {
		name    string
		offered Layer
		want    Layer
		require bool
		got     Layer
		err     error
	}{
		{"conf offered", allLayers, LayerConfidentiality, false, LayerConfidentiality, nil},
		{"none wanted", allLayers, LayerNone, true, LayerNone, nil},
		{"integrity wanted", allLayers, LayerIntegrity, true, LayerIntegrity, nil},
		{"integrity from conf", LayerNone | LayerConfidentiality, LayerIntegrity, false, LayerConfidentiality, nil},
		{"integrity required, conf offered", LayerConfidentiality, LayerIntegrity, true, LayerConfidentiality, nil},
		{"none wanted, integrity offered", LayerIntegrity | LayerConfidentiality, LayerNone, false, LayerIntegrity, nil},
		{"none required", LayerIntegrity | LayerConfidentiality, LayerNone, true, 0, ErrTooWeak},
		{"conf required", LayerNone | LayerIntegrity, LayerConfidentiality, true, 0, ErrTooWeak},
		{"conf preferred", LayerNone | LayerIntegrity, LayerConfidentiality, false, LayerIntegrity, nil},
		{"only none", LayerNone, LayerConfidentiality, false, LayerNone, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := bind(t, r, bindCase{
				mech: GSSAPI,
				cli:  ClientConfig{Layer: tt.want, RequireLayer: tt.require},
				srv:  ServerConfig{Layers: tt.offered},
			})
			if !errors.Is(err, tt.err) {
				t.Fatalf("bind: %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if got := s.client.Security().Layer(); got != tt.got {
				t.Fatalf("layer %v, want %v", got, tt.got)
			}
			pump(t, s, 10000, 3000)
		})
	}
}

// The authorization identity reaches the server, through both paths.
func TestAuthzID(t *testing.T) {
	r := ntlmRealm(t)
	for _, goldap := range []bool{false, true} {
		s, err := bind(t, r, bindCase{mech: GSSAPI, goldap: goldap, cli: ClientConfig{AuthzID: "dn:cn=alice,dc=example,dc=com"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.server.AuthzID(); got != "dn:cn=alice,dc=example,dc=com" {
			t.Errorf("goldap=%v: AuthzID %q", goldap, got)
		}
	}
}

// A GSS-SPNEGO server that requires protection refuses a client that
// asks for none, as a DC requiring LDAP signing does.
func TestSPNEGORequireProtection(t *testing.T) {
	r := ntlmRealm(t)
	_, err := bind(t, r, bindCase{
		mech: GSSSPNEGO,
		cli:  ClientConfig{Layer: LayerNone},
		srv:  ServerConfig{Layers: LayerIntegrity | LayerConfidentiality},
	})
	if err == nil {
		t.Fatal("bind succeeded")
	}
}

// rawSession is a bound NTLM confidentiality session whose server side
// reads from a pipe the test writes to directly.
func TestTamperedFrames(t *testing.T) {
	r := ntlmRealm(t)
	tests := []struct {
		name   string
		mangle func(frames [][]byte) []byte
		err    error
	}{
		{"flipped ciphertext", func(f [][]byte) []byte { f[0][len(f[0])-1] ^= 1; return join(f) }, nil},
		{"flipped signature", func(f [][]byte) []byte { f[0][6] ^= 0x80; return join(f) }, nil},
		{"replayed", func(f [][]byte) []byte { return join([][]byte{f[0], f[0]}) }, nil},
		{"reordered", func(f [][]byte) []byte { return join([][]byte{f[1], f[0]}) }, nil},
		{"oversized", func(f [][]byte) []byte { return []byte{0, 1, 0, 0, 1, 2, 3} }, ErrFrameTooLarge},
		{"empty frame", func(f [][]byte) []byte { return []byte{0, 0, 0, 0} }, nil},
		{"truncated", func(f [][]byte) []byte { return f[0][:len(f[0])-3] }, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := bind(t, r, bindCase{mech: GSSSPNEGO, srv: ServerConfig{MaxReceive: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			// Two frames made by the client's Security, not sent.
			sec := s.client.Security()
			var frames [][]byte
			for _, m := range []string{"first message", "second message"} {
				f, err := sec.appendFrame(nil, []byte(m))
				if err != nil {
					t.Fatal(err)
				}
				frames = append(frames, f)
			}
			wire := tt.mangle(frames)
			go func() {
				s.cli.NetConn().Write(wire)
				s.cli.NetConn().Close()
			}()
			got, err := io.ReadAll(s.srv)
			if len(got) > 0 && !bytes.HasPrefix([]byte("first message"), got) {
				t.Errorf("read %q from a tampered stream", got)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v, want %v", err, tt.err)
			}
			// The error is final.
			if _, err2 := s.srv.Read(make([]byte, 10)); err2 == nil {
				t.Error("Read after an error succeeded")
			}
		})
	}
}

func join(frames [][]byte) []byte { return bytes.Join(frames, nil) }

// A signed-only frame on a confidentiality layer is refused (a downgrade),
// though it verifies.
func TestSignedFrameOnConfidentialLayer(t *testing.T) {
	r := kerberosRealm(t, "Kerberos")
	s, err := bind(t, r, bindCase{mech: GSSAPI})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := negotiationSecurity(s.client.Context())
	if err != nil {
		t.Fatal(err)
	}
	frame, err := signed.appendFrame(nil, []byte("signed only"))
	if err != nil {
		t.Fatal(err)
	}
	go s.cli.NetConn().Write(frame)
	if _, err := s.srv.Read(make([]byte, 100)); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("Read: %v, want ErrNotEncrypted", err)
	}
}

// go-ldap calls DeleteSecContext right after the bind: the layer lives
// on in the Conn until it is closed.
func TestLayerOutlivesDeleteSecContext(t *testing.T) {
	r := ntlmRealm(t)
	s, err := bind(t, r, bindCase{mech: GSSAPI, goldap: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.client.DeleteSecContext(); err != nil {
		t.Fatal(err)
	}
	pump(t, s, 5000, 5000)
	s.cli.Close()
	if _, err := s.client.Security().Wrap([]byte("x")); err == nil {
		t.Error("Wrap after Conn.Close succeeded")
	}
}

// A bind the server refuses after NegotiateSaslAuth armed the Conn leaves
// it in the clear, and DeleteSecContext releases the context.
func TestFailedBindLeavesConnClear(t *testing.T) {
	r := ntlmRealm(t)
	a, b := connPair(t, false)
	cli := NewConn(a)
	defer cli.Close()
	defer b.Close()
	client := NewClient(r.client, &ClientConfig{Conn: cli})
	server, err := NewServer(r.server, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	srv := NewConn(b)
	srvR := bufio.NewReader(srv)
	go func() {
		for {
			msg, err := readMessage(srvR)
			if err != nil {
				return
			}
			id, _, creds, _ := parseBindRequest(msg)
			out, done, err := server.Step(bg, creds)
			switch {
			case err != nil:
				srv.Write(bindResponse(id, 49, nil))
				return
			case done:
				// Refuse the authorization identity.
				srv.Write(bindResponse(id, 50, nil)) // insufficientAccessRights
				srv.Write([]byte("clear text after the failed bind\n"))
				return
			default:
				srv.Write(bindResponse(id, 14, out))
			}
		}
	}()
	cliR := bufio.NewReader(cli)
	err = goldapBind(cli, cliR, client, r.target, "dn:cn=someone-else")
	if err == nil {
		t.Fatal("bind succeeded")
	}
	if cli.Active() || cli.Security() != nil {
		t.Fatal("the layer is installed after a failed bind")
	}
	if line, err := cliR.ReadString('\n'); err != nil || line != "clear text after the failed bind\n" {
		t.Errorf("after the failed bind: %q, %v", line, err)
	}
	if _, err := client.Security().Wrap([]byte("x")); err == nil {
		t.Error("the context survived DeleteSecContext after a failed bind")
	}
}

func TestConnRandomWrites(t *testing.T) {
	r := ntlmRealm(t)
	s, err := bind(t, r, bindCase{mech: GSSSPNEGO, cli: ClientConfig{MaxSend: 700}, srv: ServerConfig{MaxSend: 700}})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 100000)
	rand.Read(data)
	go func() {
		for rest := data; len(rest) > 0; {
			var b [1]byte
			rand.Read(b[:])
			k := min(len(rest), int(b[0])*10+1)
			s.cli.Write(rest[:k])
			rest = rest[k:]
		}
	}()
	got := make([]byte, 0, len(data))
	buf := make([]byte, 333)
	for len(got) < len(data) {
		n, err := s.srv.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
}

// go-ldap reads its connection in a goroutine of its own that always
// waits in Read, also while NegotiateSaslAuth arms the Conn: the
// BindResponse that ends the bind, and the frames after it, arrive in a
// Read that began in the clear. This test's client reads that way.
func TestReaderGoroutine(t *testing.T) {
	r := ntlmRealm(t)
	for _, layer := range []Layer{LayerNone, LayerIntegrity, LayerConfidentiality} {
		t.Run(layer.String(), func(t *testing.T) {
			a, b := connPair(t, true)
			cli, srv := NewConn(a), NewConn(b)
			defer cli.Close()
			defer srv.Close()
			client := NewClient(r.client, &ClientConfig{Layer: layer, RequireLayer: true, Conn: cli, MaxReceive: 2000})
			server, err := NewServer(r.server, &ServerConfig{MaxReceive: 3000})
			if err != nil {
				t.Fatal(err)
			}
			srvR := bufio.NewReader(srv)
			served := make(chan error, 1)
			go func() { served <- serveBind(srv, srvR, server, GSSAPI) }()
			// The reader goroutine: every LDAP message the client gets.
			msgs := make(chan []byte, 10)
			go func() {
				defer close(msgs)
				cr := bufio.NewReader(cli)
				for {
					msg, err := readMessage(cr)
					if err != nil {
						return
					}
					msgs <- msg
				}
			}()
			var reqToken, recvToken []byte
			needInit := true
			for id := 1; ; id++ {
				if needInit {
					reqToken, needInit, err = client.InitSecContext(r.target, recvToken)
				} else {
					reqToken, err = client.NegotiateSaslAuth(recvToken, "")
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := cli.Write(bindRequest(id, "GSSAPI", reqToken)); err != nil {
					t.Fatal(err)
				}
				_, code, sc, err := parseBindResponse(<-msgs)
				if err != nil || (code != 0 && code != 14) {
					t.Fatalf("bind result %d, %v", code, err)
				}
				recvToken = sc
				if !needInit && code == 0 {
					break
				}
			}
			client.DeleteSecContext()
			if err := <-served; err != nil {
				t.Fatal(err)
			}
			if cli.Active() != (layer != LayerNone) {
				t.Fatalf("client Conn active: %v", cli.Active())
			}
			// A large request and a large answer, LDAP-shaped.
			big := make([]byte, 50000)
			rand.Read(big)
			req := ber(0x30, berInt(0x02, 9), ber(0x68, ber(0x04, big)))
			go cli.Write(req)
			got, err := readMessage(srvR)
			if err != nil || !bytes.Equal(got, req) {
				t.Fatalf("server read %d bytes, %v", len(got), err)
			}
			resp := ber(0x30, berInt(0x02, 9), ber(0x69, ber(0x04, big[:40000])))
			go srv.Write(resp)
			if got := <-msgs; !bytes.Equal(got, resp) {
				t.Fatalf("client read %d bytes", len(got))
			}
		})
	}
}

// InitSecContext reports needContinue until the context is established,
// for either mechanism.
func TestInitSecContextNeedContinue(t *testing.T) {
	r := ntlmRealm(t)
	for _, mech := range []Mechanism{GSSAPI, GSSSPNEGO} {
		t.Run(string(mech), func(t *testing.T) {
			client := NewClient(r.client, &ClientConfig{Mechanism: mech})
			defer client.DeleteSecContext()
			server, err := NewServer(r.server, &ServerConfig{Mechanism: mech})
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			var in []byte
			for legs := 0; ; legs++ {
				out, more, err := client.InitSecContext(r.target, in)
				if err != nil {
					t.Fatal(err)
				}
				if more != !client.Context().Established() {
					t.Fatalf("leg %d: needContinue %v, established %v", legs, more, client.Context().Established())
				}
				if !more {
					break
				}
				if in, _, err = server.Step(bg, out); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
