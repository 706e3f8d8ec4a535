package schannel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func bindings(t testing.TB, c packages.Context, attr uint32) []byte {
	t.Helper()
	a, err := c.QueryAttribute(attr)
	if err != nil {
		t.Fatalf("QueryAttribute(%#x): %v", attr, err)
	}
	return a.(*packages.Bindings).Bindings
}

func TestChannelBindings(t *testing.T) {
	k := getPKI()
	sum := sha256.Sum256(k.server.Certificate[0]) // ECDSA with SHA-256 (RFC 5929 §4.1)
	wantEndpoint := (&secbuffer.ChannelBindings{ApplicationData: append([]byte("tls-server-end-point:"), sum[:]...)}).Marshal()
	for _, vt := range versionTests {
		t.Run(vt.name, func(t *testing.T) {
			client, server := established(t, vt.client)
			ce := bindings(t, client.ctx, packages.SECPKG_ATTR_ENDPOINT_BINDINGS)
			se := bindings(t, server.ctx, packages.SECPKG_ATTR_ENDPOINT_BINDINGS)
			if !bytes.Equal(ce, wantEndpoint) || !bytes.Equal(se, wantEndpoint) {
				t.Fatalf("endpoint bindings:\nclient % x\nserver % x\nwant   % x", ce, se, wantEndpoint)
			}
			cu := bindings(t, client.ctx, packages.SECPKG_ATTR_UNIQUE_BINDINGS)
			su := bindings(t, server.ctx, packages.SECPKG_ATTR_UNIQUE_BINDINGS)
			cb, err := secbuffer.ParseChannelBindings(cu)
			if err != nil || !bytes.Equal(cu, su) {
				t.Fatalf("unique bindings differ: % x / % x (%v)", cu, su, err)
			}
			prefix, n := "tls-unique:", 12 // TLS 1.2 Finished verify_data
			if vt.want == tls.VersionTLS13 {
				prefix, n = "tls-exporter:", 32 // RFC 9266
			}
			if !bytes.HasPrefix(cb.ApplicationData, []byte(prefix)) || len(cb.ApplicationData) != len(prefix)+n {
				t.Fatalf("unique bindings %q", cb.ApplicationData)
			}
			// Another connection has other unique bindings.
			c2, _ := established(t, vt.client)
			if bytes.Equal(bindings(t, c2.ctx, packages.SECPKG_ATTR_UNIQUE_BINDINGS), cu) {
				t.Fatal("two connections share unique bindings")
			}
		})
	}
}

// TestNTLMOverTLS runs NTLM inside our TLS connection with the channel
// bindings each side reads from its Schannel context; the NTLM server
// requires them and refuses those of another connection.
func TestNTLMOverTLS(t *testing.T) {
	for _, attr := range []uint32{packages.SECPKG_ATTR_ENDPOINT_BINDINGS, packages.SECPKG_ATTR_UNIQUE_BINDINGS} {
		for _, vt := range versionTests {
			client, server := established(t, vt.client)
			cb := bindings(t, client.ctx, attr)
			sb := bindings(t, server.ctx, attr)
			if err := ntlmOverTLS(t, client, server, cb, sb); err != nil {
				t.Fatalf("%s attr %#x: %v", vt.name, attr, err)
			}
			if attr == packages.SECPKG_ATTR_UNIQUE_BINDINGS {
				// The server's bindings come from another connection.
				c2, s2 := established(t, vt.client)
				_ = c2
				other := bindings(t, s2.ctx, attr)
				err := ntlmOverTLS(t, client, server, cb, other)
				if !errors.Is(err, status.SEC_E_BAD_BINDINGS) {
					t.Fatalf("%s: mismatched bindings: %v", vt.name, err)
				}
			}
		}
	}
}

func ntlmOverTLS(t *testing.T, client, server *endpoint, cb, sb []byte) error {
	t.Helper()
	p := ntlm.New(&ntlm.Config{})
	ccred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	scred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, ntlm.Users{`EXAMPLE\alice`: "Passw0rd!"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ccred.NewClientContext("HTTP/localhost", packages.ISC_REQ_CONFIDENTIALITY|packages.ISC_REQ_INTEGRITY)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Delete()
	ns, err := scred.NewServerContext(packages.ASC_REQ_CONFIDENTIALITY | packages.ASC_REQ_INTEGRITY | packages.ASC_REQ_PROXY_BINDINGS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Delete()
	// tunnel carries a token through the TLS connection.
	tunnel := func(from, to *endpoint, tok []byte) []byte {
		r := decrypt(to.ctx, encrypt(t, from.ctx, tok))
		if r.st != status.SEC_E_OK {
			t.Fatalf("tunnel: %v %v", r.st, r.err)
		}
		return append([]byte(nil), r.data...)
	}
	var tok []byte
	for leg := 0; leg < 6; leg++ {
		var in []secbuffer.Buffer
		if tok != nil {
			in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: tok})
		}
		in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: cb})
		out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		cst, err := nc.Step(context.Background(), in, out)
		if err != nil {
			return err
		}
		if len(out[0].Data) == 0 {
			break
		}
		tok = tunnel(client, server, out[0].Data)
		in = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, {Type: secbuffer.SECBUFFER_CHANNEL_BINDINGS, Data: sb}}
		out = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
		sst, err := ns.Step(context.Background(), in, out)
		if err != nil {
			return err
		}
		if sst == status.SEC_E_OK && cst == status.SEC_E_OK {
			break
		}
		if sst == status.SEC_E_OK {
			if nc.Session() == nil {
				return errors.New("server done before the client")
			}
			break
		}
		tok = tunnel(server, client, out[0].Data)
	}
	if nc.Session() == nil || ns.Session() == nil {
		return errors.New("NTLM did not complete")
	}
	n, err := ns.QueryAttribute(packages.SECPKG_ATTR_NAMES)
	if err != nil || n.(*packages.Names).UserName != `EXAMPLE\alice` {
		t.Fatalf("NTLM server names: %v %v", n, err)
	}
	return nil
}

func TestExportKeyingMaterial(t *testing.T) {
	for _, vt := range versionTests {
		client, server := established(t, vt.client)
		ce, err := client.ctx.(KeyingMaterialExporter).ExportKeyingMaterial("EXPERIMENTAL gosspi", []byte("ctx"), 48)
		if err != nil {
			t.Fatal(err)
		}
		se, err := server.ctx.(KeyingMaterialExporter).ExportKeyingMaterial("EXPERIMENTAL gosspi", []byte("ctx"), 48)
		if err != nil || !bytes.Equal(ce, se) || len(ce) != 48 {
			t.Fatalf("%s: client % x server % x (%v)", vt.name, ce, se, err)
		}
		other, _ := client.ctx.(KeyingMaterialExporter).ExportKeyingMaterial("EXPERIMENTAL gosspi", nil, 48)
		if bytes.Equal(other, ce) {
			t.Fatalf("%s: context ignored", vt.name)
		}
	}
}
