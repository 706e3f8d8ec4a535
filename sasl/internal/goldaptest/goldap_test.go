package goldaptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/sasl"
)

// A *sasl.Client is a go-ldap GSSAPIClient: this does not compile
// otherwise.
var _ ldap.GSSAPIClient = (*sasl.Client)(nil)

func TestMain(m *testing.M) { os.Exit(peers.RunTests(m)) }

var bg = context.Background()

type realm struct {
	client, server *sspi.Credentials
	target         string
}

func acquire(t *testing.T, r *sspi.Registry, pkg, target string, client, server any) *realm {
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
	return &realm{client: cc, server: sc, target: target}
}

func ntlmPackage() *ntlm.Package {
	return ntlm.New(&ntlm.Config{ComputerName: "SERVER", DomainName: "EXAMPLE", Workstation: "CLIENT"})
}

// kerberosRealm is the MIT test KDC of internal/peers.
func kerberosRealm(t *testing.T) *realm {
	k := peers.TestKDC(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	r := sspi.NewRegistry()
	r.Register(kerberos.New(&kerberos.Config{Krb5Conf: conf}))
	return acquire(t, r, "Kerberos", "host/localhost",
		&sspi.AuthIdentity{User: "alice", Domain: k.Realm, Password: "alice-pw"},
		&kerberos.Keytab{Path: k.ServiceKeytab})
}

// ntlmRealm is Negotiate limited to NTLM: no KDC needed.
func ntlmRealm(t *testing.T) *realm {
	r := sspi.NewRegistry()
	r.Register(negotiate.New(&negotiate.Config{NTLM: ntlmPackage(), PackageList: "NTLM"}))
	return acquire(t, r, "Negotiate", "ldap/server.example.com",
		&sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"},
		&negotiate.AuthData{NTLM: ntlm.Users{`EXAMPLE\alice`: "Passw0rd!"}})
}

// directory is a one-connection LDAP server over our sasl.Server: SASL
// binds, then adds (it keeps the description added) and searches (it
// returns that description).
type directory struct {
	server *sasl.Server
	conn   *sasl.Conn
	stored []byte
}

func result(id int64, op ber.Tag, code int64, extra ...*ber.Packet) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAPMessage")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "messageID"))
	r := ber.Encode(ber.ClassApplication, ber.TypeConstructed, op, nil, "result")
	r.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, "resultCode"))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	r.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diagnosticMessage"))
	for _, e := range extra {
		r.AppendChild(e)
	}
	p.AppendChild(r)
	return p
}

func (d *directory) send(p *ber.Packet) error {
	_, err := d.conn.Write(p.Bytes())
	return err
}

func (d *directory) serve(raw net.Conn) error {
	d.conn = sasl.NewConn(raw)
	defer d.conn.Close()
	if err := raw.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	for {
		p, err := ber.ReadPacket(d.conn)
		if err != nil {
			return fmt.Errorf("reading a request: %w", err)
		}
		if len(p.Children) < 2 {
			return errors.New("not an LDAPMessage")
		}
		id, _ := p.Children[0].Value.(int64)
		op := p.Children[1]
		switch op.Tag {
		case ldap.ApplicationBindRequest:
			if len(op.Children) < 3 || len(op.Children[2].Children) < 1 {
				return errors.New("not a SASL bind")
			}
			auth := op.Children[2].Children
			if mech := string(auth[0].ByteValue); mech != "GSSAPI" {
				return fmt.Errorf("mechanism %q", mech)
			}
			var creds []byte
			if len(auth) > 1 {
				creds = auth[1].ByteValue
			}
			out, done, err := d.server.Step(bg, creds)
			if err != nil {
				d.send(result(id, ldap.ApplicationBindResponse, ldap.LDAPResultInvalidCredentials))
				return err
			}
			code := int64(ldap.LDAPResultSaslBindInProgress)
			if done {
				code = ldap.LDAPResultSuccess
			}
			var extra []*ber.Packet
			if len(out) > 0 {
				extra = append(extra, ber.NewString(ber.ClassContext, ber.TypePrimitive, 7, string(out), "serverSaslCreds"))
			}
			if err := d.send(result(id, ldap.ApplicationBindResponse, code, extra...)); err != nil {
				return err
			}
			if done {
				// RFC 4513 5.2.1.4: the layer starts after the BindResponse.
				if err := d.conn.Start(d.server.Security()); err != nil {
					return err
				}
			}
		case ldap.ApplicationAddRequest:
			// AddRequest ::= [APPLICATION 8] SEQUENCE { entry, attributes
			// SEQUENCE OF SEQUENCE { type, vals SET OF value } }
			attrs := op.Children[1].Children
			d.stored = attrs[0].Children[1].Children[0].ByteValue
			if err := d.send(result(id, ldap.ApplicationAddResponse, ldap.LDAPResultSuccess)); err != nil {
				return err
			}
		case ldap.ApplicationSearchRequest:
			p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAPMessage")
			p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "messageID"))
			e := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "entry")
			e.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "cn=alice,dc=example", "objectName"))
			attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attributes")
			a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attribute")
			a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "description", "type"))
			vals := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
			vals.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(d.stored), "value"))
			a.AppendChild(vals)
			attrs.AppendChild(a)
			e.AppendChild(attrs)
			p.AppendChild(e)
			if err := d.send(p); err != nil {
				return err
			}
			if err := d.send(result(id, ldap.ApplicationSearchResultDone, ldap.LDAPResultSuccess)); err != nil {
				return err
			}
		case ldap.ApplicationUnbindRequest:
			return nil
		default:
			return fmt.Errorf("operation %d", op.Tag)
		}
	}
}

// TestGSSAPIBind: go-ldap v3's GSSAPIBind with our client, against our
// server, for each layer: go-ldap drives the RFC 4752 exchange and calls
// DeleteSecContext; the Conn installs the layer after the BindResponse;
// an add and a search larger than both receive buffers then go through
// it as many frames, and the layer ends with the connection.
func TestGSSAPIBind(t *testing.T) {
	for _, rc := range []struct {
		name  string
		realm func(*testing.T) *realm
	}{{"Kerberos", kerberosRealm}, {"NTLM", ntlmRealm}} {
		for _, layer := range []sasl.Layer{sasl.LayerNone, sasl.LayerIntegrity, sasl.LayerConfidentiality} {
			t.Run(rc.name+"/"+layer.String(), func(t *testing.T) {
				r := rc.realm(t)
				testGSSAPIBind(t, r, layer)
			})
		}
	}
}

func testGSSAPIBind(t *testing.T, r *realm, layer sasl.Layer) {
	srv, err := sasl.NewServer(r.server, &sasl.ServerConfig{MaxReceive: 4096})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := &directory{server: srv}
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		done <- dir.serve(c)
	}()

	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn := sasl.NewConn(raw)
	lc := ldap.NewConn(conn, false)
	lc.Start()
	client := sasl.NewClient(r.client, &sasl.ClientConfig{Layer: layer, RequireLayer: true, MaxReceive: 3000, Conn: conn})
	if err := lc.GSSAPIBind(client, r.target, ""); err != nil {
		lc.Close()
		t.Fatalf("GSSAPIBind: %v (server: %v)", err, <-done)
	}
	sec := client.Security()
	if sec == nil || sec.Layer() != layer {
		t.Fatalf("client layer %v, want %v", sec, layer)
	}
	if got := conn.Active(); got != (layer != sasl.LayerNone) {
		t.Errorf("Conn active %v after the bind", got)
	}

	big := bytes.Repeat([]byte("0123456789"), 10000) // 100 kB: dozens of frames each way
	add := ldap.NewAddRequest("cn=alice,dc=example", nil)
	add.Attribute("description", []string{string(big)})
	if err := lc.Add(add); err != nil {
		t.Fatalf("Add: %v", err)
	}
	res, err := lc.Search(ldap.NewSearchRequest("dc=example", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, "(cn=alice)", []string{"description"}, nil))
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("description") != string(big) {
		t.Fatalf("search returned %d entries", len(res.Entries))
	}
	if !bytes.Equal(dir.stored, big) {
		t.Fatal("the server stored something else")
	}
	if ss := srv.Security(); ss.Layer() != layer {
		t.Errorf("server layer %v", ss.Layer())
	}
	// Within the server's 4096 and the client's own 3000 (as Samba
	// requires: the package doc, Framing).
	if layer != sasl.LayerNone && sec.MaxSend() != 3000 {
		t.Errorf("client sends frames of %d bytes, want 3000 (server 4096, client 3000)", sec.MaxSend())
	}
	if err := lc.Unbind(); err != nil {
		t.Fatal(err)
	}
	lc.Close()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	if layer != sasl.LayerNone {
		if _, err := sec.Wrap([]byte("x")); err == nil {
			t.Error("the context outlived the connection")
		}
	}
}
