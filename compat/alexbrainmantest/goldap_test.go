package alexbrainmantest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/alexbrainman/sspi"
	"github.com/alexbrainman/sspi/kerberos"

	"github.com/gosspi/sspi/internal/peers"
)

// kerbWrapNoEncrypt is KERB_WRAP_NO_ENCRYPT: the QOP of a Kerberos wrap
// token that is signed, not sealed.
const kerbWrapNoEncrypt = 0x80000001

// ldapSSPIClient is what go-ldap's gssapi.SSPIClient (gssapi/sspi.go,
// built on Windows only) does with github.com/alexbrainman/sspi, call for
// call: kerberos.AcquireCurrentUserCredentials or AcquireUserCredentials,
// NewClientContextWithFlags (NewClientContextWithChannelBindings with
// bindings) with integrity, confidentiality and mutual authentication,
// Update and VerifyFlags, then for RFC 4752's last step DecryptMessage
// (the server's token must not be sealed: KERB_WRAP_NO_ENCRYPT) and
// EncryptMessage with KERB_WRAP_NO_ENCRYPT.
type ldapSSPIClient struct {
	creds           *sspi.Credentials
	ctx             *kerberos.ClientContext
	channelBindings []byte
}

func (c *ldapSSPIClient) InitSecContext(target string, token []byte) ([]byte, bool, error) {
	flags := uint32(sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_MUTUAL_AUTH)
	if token == nil {
		var (
			ctx       *kerberos.ClientContext
			completed bool
			output    []byte
			err       error
		)
		if len(c.channelBindings) > 0 {
			ctx, completed, output, err = kerberos.NewClientContextWithChannelBindings(c.creds, target, flags, c.channelBindings)
		} else {
			ctx, completed, output, err = kerberos.NewClientContextWithFlags(c.creds, target, flags)
		}
		if err != nil {
			return nil, false, err
		}
		c.ctx = ctx
		return output, !completed, nil
	}
	completed, output, err := c.ctx.Update(token)
	if err != nil {
		return nil, false, err
	}
	if err := c.ctx.VerifyFlags(); err != nil {
		return nil, false, fmt.Errorf("error verifying flags: %v", err)
	}
	return output, !completed, nil
}

func (c *ldapSSPIClient) NegotiateSaslAuth(token []byte, authzid string) ([]byte, error) {
	qop, payload, err := c.ctx.DecryptMessage(token, 0)
	if err != nil {
		return nil, fmt.Errorf("error decrypting message: %w", err)
	}
	if qop&kerbWrapNoEncrypt == 0 {
		return nil, errors.New("message encrypted")
	}
	if len(payload) != 4 {
		return nil, errors.New("bad server token")
	}
	reply := make([]byte, 4, 4+len(authzid))
	reply[0] = 1 // no security layer, as go-ldap selects
	reply = append(reply, authzid...)
	out, err := c.ctx.EncryptMessage(reply, kerbWrapNoEncrypt, 0)
	if err != nil {
		return nil, fmt.Errorf("error encrypting message: %w", err)
	}
	return out, nil
}

func (c *ldapSSPIClient) Close() error {
	err := c.ctx.Release()
	if err2 := c.creds.Release(); err == nil {
		err = err2
	}
	return err
}

// bindings is SEC_CHANNEL_BINDINGS over application data, as go-ldap
// builds it for LDAPS (header of eight DWORDs, the data after it).
func bindings(app []byte) []byte {
	b := make([]byte, 32+len(app))
	binary.LittleEndian.PutUint32(b[24:], uint32(len(app)))
	binary.LittleEndian.PutUint32(b[28:], 32)
	copy(b[32:], app)
	return b
}

// TestGoLDAPSSPIClient runs go-ldap's SSPI GSSAPI client sequence against
// MIT's acceptor for host/localhost (python3-gssapi over the realm's
// keytab), as an LDAP server would take it in a SASL GSSAPI bind (RFC
// 4752): the context, then the server's security-layer offer wrapped
// without confidentiality, then the client's choice, which MIT unwraps.
func TestGoLDAPSSPIClient(t *testing.T) {
	needKDC(t)
	needPython(t)
	cert := sha256.Sum256([]byte("LDAPS certificate"))
	cbData := append([]byte("tls-server-end-point:"), cert[:]...)
	for _, tc := range []struct {
		name      string
		user      bool // AcquireUserCredentials instead of the ticket cache
		ours, mit []byte
		wantFail  bool
	}{
		{name: "current user"},
		{name: "user and password", user: true},
		{name: "channel bindings", ours: bindings(cbData), mit: cbData},
		{name: "wrong channel bindings", ours: bindings([]byte("tls-server-end-point:other")), mit: cbData, wantFail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := peers.StartGSS(peers.GSSOptions{
				Role: "accept", Mech: "krb5", ChannelBindings: tc.mit,
				Env: append(env, "KRB5_KTNAME=FILE:"+realm.ServiceKeytab),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var creds *sspi.Credentials
			if tc.user {
				creds, err = kerberos.AcquireUserCredentials(realm.Realm, "alice", "alice-pw")
			} else {
				creds, err = kerberos.AcquireCurrentUserCredentials()
			}
			if err != nil {
				t.Fatal(err)
			}
			c := &ldapSSPIClient{creds: creds, channelBindings: tc.ours}
			defer c.Close()

			// go-ldap's GSSAPIBind: InitSecContext until it needs no more.
			var in []byte
			var info map[string]string
			for leg := 0; ; leg++ {
				out, more, err := c.InitSecContext("host/localhost", in)
				if err != nil {
					if tc.wantFail && leg > 0 {
						return // MIT answered the AP-REQ with a KRB-ERROR
					}
					t.Fatalf("InitSecContext: %v", err)
				}
				if len(out) > 0 {
					if err := d.SendToken(out); err != nil {
						t.Fatal(err)
					}
				}
				if !more {
					break
				}
				if leg > 4 {
					t.Fatal("too many legs")
				}
				tok, done, inf, err := d.Next(bg)
				if err != nil {
					if tc.wantFail {
						return
					}
					t.Fatalf("MIT: %v", err)
				}
				if done {
					info = inf
					if tok, _, _, err = d.Next(bg); err != nil {
						t.Fatal(err)
					}
				}
				in = tok
			}
			if tc.wantFail {
				t.Fatal("MIT accepted other channel bindings")
			}
			if info == nil {
				if _, _, info, err = d.Next(bg); err != nil {
					t.Fatal(err)
				}
			}
			if want := "alice@" + realm.Realm; info["peer"] != want {
				t.Errorf("MIT sees %q, want %q", info["peer"], want)
			}

			// RFC 4752 3.1: the server offers layers (none, integrity,
			// confidentiality) and a 64 KiB maximum, wrapped unsealed.
			offer, conf, err := d.Wrap(bg, []byte{7, 0, 0xff, 0xff}, false)
			if err != nil || conf {
				t.Fatalf("MIT wrap: %v (sealed %v)", err, conf)
			}
			reply, err := c.NegotiateSaslAuth(offer, "dn:uid=alice")
			if err != nil {
				t.Fatal(err)
			}
			got, conf, err := d.Unwrap(bg, reply)
			if err != nil {
				t.Fatalf("MIT unwrap: %v", err)
			}
			if conf {
				t.Error("the client's choice was sealed; RFC 4752 wants it only signed")
			}
			if want := append([]byte{1, 0, 0, 0}, "dn:uid=alice"...); !bytes.Equal(got, want) {
				t.Errorf("MIT unwrapped %q, want %q", got, want)
			}
		})
	}
}

// TestGoLDAPGSSAPIBuildsWithMirror compiles go-ldap's own gssapi package,
// whose SSPI client is built for Windows only, for Windows against the
// mirror: the code go-ldap ships type-checks and links against this API.
func TestGoLDAPGSSAPIBuildsWithMirror(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles go-ldap (-short)")
	}
	cmd := exec.Command("go", "build", "-o", os.DevNull, "github.com/go-ldap/ldap/v3/gssapi")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOOS=windows go build github.com/go-ldap/ldap/v3/gssapi: %v\n%s", err, out)
	}
	list := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/alexbrainman/sspi")
	list.Env = cmd.Env
	dir, err := list.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dir), "compat") {
		t.Fatalf("github.com/alexbrainman/sspi resolved to %s, not the mirror", dir)
	}
}
