package sspihttp

import (
	"encoding/base64"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
)

// downgrader is an on-path attacker between an HTTP client and server: it
// rewrites the client's first SPNEGO NegTokenInit to offer NTLM alone,
// with no mechanism token, and strips the mechListMIC from every later
// NegTokenResp of the client.
type downgrader struct {
	base      http.RoundTripper
	rewritten atomic.Int32
	stripped  atomic.Int32
}

var spnegoOID = []byte{0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}

func (d *downgrader) RoundTrip(req *http.Request) (*http.Response, error) {
	h := req.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Negotiate "); ok {
		raw, err := base64.StdEncoding.DecodeString(tok)
		if err == nil {
			switch {
			case len(raw) > 0 && raw[0] == 0x60:
				raw = ntlmOnlyInit()
				d.rewritten.Add(1)
			case len(raw) > 0 && raw[0] == 0xa1:
				if s, ok := stripMechListMIC(raw); ok {
					raw = s
					d.stripped.Add(1)
				}
			}
			req = req.Clone(req.Context())
			req.Header.Set("Authorization", "Negotiate "+base64.StdEncoding.EncodeToString(raw))
		}
	}
	return d.base.RoundTrip(req)
}

// ntlmOnlyInit is a NegTokenInit offering [NTLM] with no mechToken.
func ntlmOnlyInit() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0x20|0x40), func(b *cryptobyte.Builder) { // [APPLICATION 0]
		b.AddBytes(spnegoOID)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier([]int{1, 3, 6, 1, 4, 1, 311, 2, 2, 10})
					})
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// stripMechListMIC removes the [3] mechListMIC of a NegTokenResp.
func stripMechListMIC(tok []byte) ([]byte, bool) {
	s := cryptobyte.String(tok)
	var resp, seq cryptobyte.String
	if !s.ReadASN1(&resp, cbasn1.Tag(1).Constructed().ContextSpecific()) || !resp.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, false
	}
	found := false
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for !seq.Empty() {
				var el cryptobyte.String
				var tag cbasn1.Tag
				if !seq.ReadAnyASN1Element(&el, &tag) {
					return
				}
				if tag == cbasn1.Tag(3).Constructed().ContextSpecific() {
					found = true
					continue
				}
				b.AddBytes(el)
			}
		})
	})
	out, err := b.Bytes()
	return out, err == nil && found
}

// TestDowngradeAttackThroughHTTP: a client offering [Kerberos, NTLM] with a
// Kerberos token, through an attacker who rewrites the offer to [NTLM] and
// strips the client's mechListMIC. The server must not serve the request:
// the NTLM AUTHENTICATE carries a MIC, so the mechListMIC is mandatory
// (as Windows acceptors require). Before the fix the middleware served the
// request as alice.
func TestDowngradeAttackThroughHTTP(t *testing.T) {
	k := peers.TestKDC(t)
	reg := testRegistry(t, k)
	ts := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeNegotiate},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: testNTLMUsers}})
	url := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1) + "/krb"
	id := &kerberosIdentity{User: "alice", Realm: k.Realm, Password: "alice-pw"}

	// Without the attacker, Kerberos is chosen.
	tr := &Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, Credentials: id.authIdentity()}
	code, body, _ := get(t, &http.Client{Transport: tr}, "GET", url, "")
	tr.CloseIdleConnections()
	if code != 200 || !strings.Contains(body, "/Kerberos") {
		t.Fatalf("without the attacker: %d %q", code, body)
	}
	before := ts.requests.Load()

	mitm := &downgrader{base: http.DefaultTransport}
	tr = &Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, Credentials: id.authIdentity(), Base: mitm}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err == nil {
		resp.Body.Close()
	}
	if mitm.rewritten.Load() == 0 || mitm.stripped.Load() == 0 {
		t.Fatalf("the attack did not run: %d offers rewritten, %d MICs stripped", mitm.rewritten.Load(), mitm.stripped.Load())
	}
	if n := ts.requests.Load() - before; n != 0 {
		t.Fatalf("the server served %d request(s) after the downgrade (last identity %+v)", n, ts.last.Load())
	}
	if err == nil && resp.StatusCode == 200 {
		t.Fatalf("the client got 200 through the attacker")
	}
}
