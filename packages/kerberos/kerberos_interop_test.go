package kerberos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

var aliceIdentity = &packages.AuthIdentity{User: "alice", Domain: "GOSSPI.TEST", Password: "alice-pw"}

// interopEtypes are the services of the test realm with one enctype each.
var interopEtypes = []struct {
	service string
	etype   int32
}{
	{"e17", 17}, {"e18", 18}, {"e19", 19}, {"e20", 20}, {"e23", 23},
}

// driverMessages exchanges MIC and Wrap tokens between our context c and
// the driver, both ways.
func driverMessages(t *testing.T, c packages.Context, d *gssDriver) {
	t.Helper()
	sz, err := c.QueryAttribute(packages.SECPKG_ATTR_SIZES)
	if err != nil {
		t.Fatal(err)
	}
	sizes := sz.(*packages.SecPkgContext_Sizes)
	for i, msg := range [][]byte{[]byte("hello from gosspi"), bytes.Repeat([]byte("0123456789abcdef"), 300), []byte("x")} {
		for _, qop := range []uint32{0, packages.SECQOP_WRAP_NO_ENCRYPT} {
			// Ours → MIT: the Windows layout joined is a Wrap token.
			data := bytes.Clone(msg)
			w := []secbuffer.Buffer{
				{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.SecurityTrailer)},
				{Type: secbuffer.SECBUFFER_DATA, Data: data},
				{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, sizes.BlockSize)},
			}
			if _, err := c.Session().EncryptMessage(qop, w, 0); err != nil {
				t.Fatalf("EncryptMessage: %v", err)
			}
			wire := append(bytes.Clone(w[0].Data), w[1].Data...)
			wire = append(wire, w[2].Data...)
			if c.Flags()&(packages.ISC_RET_USED_DCE_STYLE|packages.ASC_RET_USED_DCE_STYLE) != 0 {
				// MIT's gss_unwrap rotates by RRC alone; its IOV path has
				// the Windows DCE rotation, with the SSPI TOKEN as header.
				args := []string{"UNWRAPIOV", b64(w[0].Data), b64(w[1].Data)}
				if len(w[2].Data) > 0 {
					args = append(args, b64(w[2].Data))
				}
				d.send(args...)
			} else {
				d.send("UNWRAP", b64(wire))
			}
			f := d.read()
			wantEnc := "1"
			if qop != 0 {
				wantEnc = "0"
			}
			if field(f, 1) != wantEnc || !bytes.Equal(unb64(t, field(f, 2)), msg) {
				t.Fatalf("msg %d qop %#x: MIT unwrap = %v", i, qop, f)
			}
			// MIT → ours, as a stream.
			d.send("WRAP", map[bool]string{true: "1", false: "0"}[qop == 0], b64(msg))
			tok := unb64(t, field(d.read(), 1))
			r := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: tok}, {Type: secbuffer.SECBUFFER_DATA}}
			gotQOP, _, err := c.Session().DecryptMessage(r, 0)
			if err != nil {
				t.Fatalf("msg %d qop %#x: DecryptMessage of MIT's token: %v", i, qop, err)
			}
			if gotQOP != qop || !bytes.Equal(r[1].Data, msg) {
				t.Fatalf("msg %d: DecryptMessage = %q qop %#x", i, r[1].Data, gotQOP)
			}
		}
		// MIC both ways.
		bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: msg}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.MaxSignature)}}
		if err := c.Session().MakeSignature(0, bufs, 0); err != nil {
			t.Fatal(err)
		}
		d.send("VERIFY", b64(msg), b64(bufs[1].Data))
		d.read()
		d.send("MIC", b64(msg))
		mic := unb64(t, field(d.read(), 1))
		bufs = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: msg}, {Type: secbuffer.SECBUFFER_TOKEN, Data: mic}}
		if _, err := c.Session().VerifySignature(bufs, 0); err != nil {
			t.Fatalf("VerifySignature of MIT's MIC: %v", err)
		}
	}
}

// clientToDriver runs our initiator against the MIT acceptor and returns
// the driver's ESTABLISHED line.
func clientToDriver(t *testing.T, c packages.Context, d *gssDriver, cb string) []string {
	t.Helper()
	var in []secbuffer.Buffer
	for {
		if cb != "" {
			in = append(in, cbBuffer(cb))
		}
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
		st, err := c.Step(bg(), in, out)
		if err != nil {
			t.Fatalf("ISC: %v", err)
		}
		if len(out[0].Data) > 0 {
			d.send("TOKEN", b64(out[0].Data))
		}
		if st == status.SEC_E_OK {
			break
		}
		f := d.read()
		if f[0] != "TOKEN" {
			t.Fatalf("driver sent %v, want TOKEN", f)
		}
		in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, field(f, 1))}}
	}
	for {
		f := d.read()
		if f[0] == "ESTABLISHED" {
			return f
		}
	}
}

func TestInteropClientToMIT(t *testing.T) {
	k := peers.TestKDC(t)
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	p := kdcPackage(t, k, nil)
	cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, aliceIdentity)
	if err != nil {
		t.Fatal(err)
	}
	env := append(k.Env(""), "KRB5_KTNAME="+k.ServiceKeytab)
	for _, e := range interopEtypes {
		for _, mode := range []string{"mutual", "nomutual", "bindings", "deleg"} {
			t.Run(fmt.Sprintf("%s-%s", e.service, mode), func(t *testing.T) {
				req := uint32(packages.ISC_REQ_CONFIDENTIALITY | packages.ISC_REQ_INTEGRITY | packages.ISC_REQ_SEQUENCE_DETECT | packages.ISC_REQ_REPLAY_DETECT)
				if mode != "nomutual" {
					req |= packages.ISC_REQ_MUTUAL_AUTH
				}
				args := []string{"accept"}
				cb := ""
				if mode == "bindings" {
					cb = "tls-server-end-point:interop"
					args = append(args, hexArg(cb))
				}
				if mode == "deleg" {
					req |= packages.ISC_REQ_DELEGATE
				}
				d := startDriver(t, env, args...)
				c, err := cred.NewClientContext(e.service+"/localhost", req)
				if err != nil {
					t.Fatal(err)
				}
				f := clientToDriver(t, c, d, cb)
				if field(f, 1) != "alice@GOSSPI.TEST" {
					t.Errorf("MIT acceptor saw %q", field(f, 1))
				}
				ki, _ := c.QueryAttribute(packages.SECPKG_ATTR_KEY_INFO)
				if got := int32(ki.(*packages.KeyInfo).EncryptAlgorithm); got != e.etype {
					t.Errorf("per-message enctype %d, want %d", got, e.etype)
				}
				if mode == "deleg" {
					if field(f, 2) != "1" || c.Flags()&packages.ISC_RET_DELEGATE == 0 {
						t.Fatalf("delegation: MIT got %q, flags %#x", field(f, 2), c.Flags())
					}
					d.send("DELEG", "HTTP@localhost")
					if tok := unb64(t, field(d.read(), 1)); len(tok) == 0 {
						t.Fatal("no AP-REQ from the delegated credential")
					}
				}
				driverMessages(t, c, d)
			})
		}
	}
}

func TestInteropMITToServer(t *testing.T) {
	k := peers.TestKDC(t)
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	p := kdcPackage(t, k, nil)
	srv, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	cc := kinit(t, k)
	env := k.Env(cc)
	for _, e := range interopEtypes {
		for _, mode := range []string{"mutual", "nomutual", "bindings", "deleg"} {
			t.Run(fmt.Sprintf("%s-%s", e.service, mode), func(t *testing.T) {
				args := []string{"initiate", e.service + "@localhost", "seq"}
				cb := ""
				switch mode {
				case "nomutual":
					args = append(args, "nomutual")
				case "bindings":
					cb = "tls-server-end-point:interop"
					args = append(args, hexArg(cb))
				case "deleg":
					args = append(args, "deleg")
				}
				d := startDriver(t, env, args...)
				sc, err := srv.NewServerContext(0)
				if err != nil {
					t.Fatal(err)
				}
				f := d.read()
				in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, field(f, 1))}}
				if cb != "" {
					in = append(in, cbBuffer(cb))
				}
				out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
				st, err := sc.Step(bg(), in, out)
				if err != nil || st != status.SEC_E_OK {
					t.Fatalf("ASC: %v %v", st, err)
				}
				if mode == "nomutual" {
					if len(out[0].Data) != 0 {
						t.Errorf("AP-REP sent without mutual authentication")
					}
				} else {
					if len(out[0].Data) == 0 {
						t.Fatal("no AP-REP")
					}
					d.send("TOKEN", b64(out[0].Data))
				}
				if f := d.read(); f[0] != "ESTABLISHED" {
					t.Fatalf("driver: %v", f)
				}
				names, _ := sc.QueryAttribute(packages.SECPKG_ATTR_NAMES)
				if n := names.(*packages.Names).UserName; n != "alice@GOSSPI.TEST" {
					t.Errorf("NAMES = %q", n)
				}
				if pac := sc.(*serverContext).PAC(); pac == nil {
					t.Error("no PAC decoded from the MIT ticket")
				} else if pac.ClientName != "alice" {
					t.Errorf("PAC client name %q", pac.ClientName)
				}
				ki, _ := sc.QueryAttribute(packages.SECPKG_ATTR_KEY_INFO)
				if got := int32(ki.(*packages.KeyInfo).EncryptAlgorithm); got != e.etype {
					t.Errorf("per-message enctype %d, want %d", got, e.etype)
				}
				if mode == "deleg" {
					if sc.Flags()&packages.ASC_RET_DELEGATE == 0 {
						t.Fatalf("flags %#x lack ASC_RET_DELEGATE", sc.Flags())
					}
					dc := sc.(*serverContext).DelegatedCredentials()
					if dc == nil || dc.UserName() != "alice@GOSSPI.TEST" {
						t.Fatalf("delegated credentials %v", dc)
					}
					// A further ISC as alice, to our own acceptor.
					c2, err := dc.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
					if err != nil {
						t.Fatal(err)
					}
					s2, _ := srv.NewServerContext(0)
					if _, err := testkit.Handshake(bg(), c2, s2, nil, nil); err != nil {
						t.Fatalf("ISC with delegated credentials: %v", err)
					}
					n2, _ := s2.QueryAttribute(packages.SECPKG_ATTR_NAMES)
					if n2.(*packages.Names).UserName != "alice@GOSSPI.TEST" {
						t.Errorf("second hop NAMES = %v", n2)
					}
				}
				driverMessages(t, sc, d)
			})
		}
	}
}

func TestInteropCredentialSources(t *testing.T) {
	k := peers.TestKDC(t)
	p := kdcPackage(t, k, nil)
	srv, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	cc := kinit(t, k)
	sources := []struct {
		name string
		auth any
		env  map[string]string
	}{
		{"password", aliceIdentity, nil},
		{"user@realm", &packages.AuthIdentity{User: "alice@GOSSPI.TEST", Password: "alice-pw"}, nil},
		{"keytab", &Keytab{Path: k.ClientKeytab}, nil},
		{"kinit-ccache", &CCache{Path: cc}, nil},
		{"default-ccache", nil, map[string]string{"KRB5CCNAME": "FILE:" + cc}},
		{"default-client-keytab", nil, map[string]string{"KRB5CCNAME": "FILE:/nonexistent/cc", "KRB5_CLIENT_KTNAME": k.ClientKeytab}},
	}
	for _, s := range sources {
		t.Run(s.name, func(t *testing.T) {
			for k, v := range s.env {
				t.Setenv(k, v)
			}
			cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, s.auth)
			if err != nil {
				t.Fatal(err)
			}
			if cred.UserName() != "alice@GOSSPI.TEST" {
				t.Errorf("UserName = %q", cred.UserName())
			}
			c, _ := cred.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH|packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_SEQUENCE_DETECT)
			sc, _ := srv.NewServerContext(0)
			if _, err := testkit.Handshake(bg(), c, sc, nil, nil); err != nil {
				t.Fatal(err)
			}
			exchangeMessages(t, c, sc)
		})
	}
	t.Run("host-based-target", func(t *testing.T) {
		cred, _ := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, aliceIdentity)
		for _, target := range []string{"HTTP@localhost", "HTTP/localhost@GOSSPI.TEST"} {
			c, _ := cred.NewClientContext(target, packages.ISC_REQ_MUTUAL_AUTH)
			sc, _ := srv.NewServerContext(0)
			if _, err := testkit.Handshake(bg(), c, sc, nil, nil); err != nil {
				t.Fatalf("%s: %v", target, err)
			}
		}
	})
	t.Run("no-credentials", func(t *testing.T) {
		t.Setenv("KRB5CCNAME", "FILE:/nonexistent/cc")
		t.Setenv("KRB5_CLIENT_KTNAME", "/nonexistent/kt")
		_, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, nil)
		if !errors.Is(err, status.SEC_E_NO_CREDENTIALS) {
			t.Fatalf("err = %v, want SEC_E_NO_CREDENTIALS", err)
		}
	})
}

// iscError runs the first ISC for target with cred and returns its error.
func iscError(t *testing.T, p *Package, ctx context.Context, auth any, target string) error {
	t.Helper()
	cred, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, auth)
	if err != nil {
		return err
	}
	c, err := cred.NewClientContext(target, packages.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		return err
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
	_, err = c.Step(ctx, nil, out)
	return err
}

func TestInteropKDCErrors(t *testing.T) {
	k := peers.TestKDC(t)
	p := kdcPackage(t, k, nil)
	t.Run("wrong-password", func(t *testing.T) {
		err := iscError(t, p, bg(), &packages.AuthIdentity{User: "alice", Domain: "GOSSPI.TEST", Password: "wrong"}, "HTTP/localhost")
		if !errors.Is(err, status.SEC_E_LOGON_DENIED) {
			t.Fatalf("err = %v, want SEC_E_LOGON_DENIED", err)
		}
		var ke messages.KRBError
		if !errors.As(err, &ke) || ke.ErrorCode != errorcode.KDC_ERR_PREAUTH_FAILED {
			t.Errorf("KRB-ERROR not reachable: %v (code %d)", err, ke.ErrorCode)
		}
	})
	t.Run("unknown-user", func(t *testing.T) {
		err := iscError(t, p, bg(), &packages.AuthIdentity{User: "mallory", Domain: "GOSSPI.TEST", Password: "x"}, "HTTP/localhost")
		if !errors.Is(err, status.SEC_E_LOGON_DENIED) {
			t.Fatalf("err = %v, want SEC_E_LOGON_DENIED", err)
		}
	})
	t.Run("unknown-service", func(t *testing.T) {
		err := iscError(t, p, bg(), aliceIdentity, "HTTP/nowhere.gosspi.test")
		if !errors.Is(err, status.SEC_E_TARGET_UNKNOWN) {
			t.Fatalf("err = %v, want SEC_E_TARGET_UNKNOWN", err)
		}
	})
	t.Run("clock-skew", func(t *testing.T) {
		skewed := kdcPackage(t, k, &Config{Time: func() time.Time { return time.Now().Add(time.Hour) }})
		err := iscError(t, skewed, bg(), aliceIdentity, "HTTP/localhost")
		if !errors.Is(err, status.SEC_E_TIME_SKEW) {
			t.Fatalf("err = %v, want SEC_E_TIME_SKEW", err)
		}
	})
	t.Run("no-kdc", func(t *testing.T) {
		dead := kdcPackage(t, k, &Config{Transport: deadTransport{}})
		err := iscError(t, dead, bg(), aliceIdentity, "HTTP/localhost")
		if !errors.Is(err, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) || !errors.Is(err, ErrNoKDC) {
			t.Fatalf("err = %v, want SEC_E_NO_AUTHENTICATING_AUTHORITY", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg())
		cancel()
		err := iscError(t, p, ctx, aliceIdentity, "HTTP/localhost")
		if !errors.Is(err, context.Canceled) || !errors.Is(err, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

type deadTransport struct{}

func (deadTransport) RoundTrip(ctx context.Context, realm string, req []byte) ([]byte, error) {
	return nil, errors.New("connection refused")
}

// countingTransport records the requests it forwards.
type countingTransport struct {
	next Transport
	n    int
}

func (c *countingTransport) RoundTrip(ctx context.Context, realm string, req []byte) ([]byte, error) {
	c.n++
	return c.next.RoundTrip(ctx, realm, req)
}

func TestInteropTransport(t *testing.T) {
	k := peers.TestKDC(t)
	for _, udp := range []bool{false, true} {
		t.Run(fmt.Sprintf("udp=%v", udp), func(t *testing.T) {
			p := kdcPackage(t, k, nil)
			conf, _ := p.krb5conf()
			if udp {
				conf.LibDefaults.UDPPreferenceLimit = 1465
			}
			ct := &countingTransport{next: &netTransport{p: p}}
			p.config.Transport = ct
			err := iscError(t, p, bg(), aliceIdentity, "HTTP/localhost")
			if err != nil {
				t.Fatal(err)
			}
			// AS-REQ without and with pre-authentication, then TGS-REQ.
			if ct.n != 3 {
				t.Errorf("%d KDC requests, want 3", ct.n)
			}
		})
	}
}

func TestInteropDCE(t *testing.T) {
	k := peers.TestKDC(t)
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	p := kdcPackage(t, k, nil)
	cli, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_OUTBOUND, aliceIdentity)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := p.AcquireCredentials(bg(), "", packages.SECPKG_CRED_INBOUND, &Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	cc := kinit(t, k)
	for _, e := range []string{"e17", "e18", "e23"} {
		t.Run(e+"-client", func(t *testing.T) {
			d := startDriver(t, append(k.Env(""), "KRB5_KTNAME="+k.ServiceKeytab), "accept")
			c, err := cli.NewClientContext(e+"/localhost", packages.ISC_REQ_USE_DCE_STYLE|packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_SEQUENCE_DETECT)
			if err != nil {
				t.Fatal(err)
			}
			clientToDriver(t, c, d, "")
			driverMessages(t, c, d)
		})
		t.Run(e+"-server", func(t *testing.T) {
			d := startDriver(t, k.Env(cc), "initiate", e+"@localhost", "dce", "seq")
			sc, _ := srv.NewServerContext(0)
			for {
				f := d.read()
				if f[0] == "ESTABLISHED" {
					break
				}
				in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: unb64(t, field(f, 1))}}
				out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
				if _, err := sc.Step(bg(), in, out); err != nil {
					t.Fatalf("ASC: %v", err)
				}
				if len(out[0].Data) > 0 {
					d.send("TOKEN", b64(out[0].Data))
				}
			}
			if sc.Session() == nil || sc.Flags()&packages.ASC_RET_USED_DCE_STYLE == 0 {
				t.Fatalf("established %v flags %#x", sc.Session() != nil, sc.Flags())
			}
			driverMessages(t, sc, d)
		})
	}
}

func TestInteropKRB5ConfigEnv(t *testing.T) {
	k := peers.TestKDC(t)
	t.Setenv("KRB5_CONFIG", "/nonexistent/krb5.conf:"+k.Krb5Conf)
	p := New(nil)
	conf, err := p.krb5conf()
	if err != nil || conf.LibDefaults.DefaultRealm != "GOSSPI.TEST" {
		t.Fatalf("krb5.conf from KRB5_CONFIG: realm %q, %v", conf.LibDefaults.DefaultRealm, err)
	}
	if err := iscError(t, p, bg(), &packages.AuthIdentity{User: "alice", Password: "alice-pw"}, "HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
}
