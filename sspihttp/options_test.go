package sspihttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/jcmturner/gokrb5/v8/config"
)

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// sentTokens runs one request through tr against url and returns the
// tokens of the Authorization headers it sent, in order.
func sentTokens(t *testing.T, tr *Transport, url string) (code int, toks [][]byte) {
	t.Helper()
	tr.Trace = func(req *http.Request, _ *http.Response) {
		if _, v, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatalf("token %q: %v", v, err)
			}
			toks = append(toks, b)
		}
	}
	defer tr.CloseIdleConnections()
	code, _, _ = get(t, &http.Client{Transport: tr}, "GET", url, "")
	return code, toks
}

// Transport.NTLM and Transport.Negotiate configure the Transport's own
// packages: the workstation name of its ntlm.Config goes out in the
// AUTHENTICATE (bare and inside SPNEGO), a negotiate.Config refusing NTLM
// refuses it, and the Registry's packages are left as they were.
func TestTransportPackageConfig(t *testing.T) {
	reg := testRegistry(t, nil)
	before, _ := reg.Package("NTLM")
	ts := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeNTLM, SchemeNegotiate},
		NTLM: testNTLMUsers, Negotiate: &negotiate.AuthData{NTLM: testNTLMUsers}})
	ws := utf16le("WS-TRANSPORT")
	for _, scheme := range []string{SchemeNTLM, SchemeNegotiate} {
		tr := &Transport{Registry: reg, Schemes: []string{scheme}, Credentials: testIdentity,
			NTLM: &ntlm.Config{Workstation: "WS-TRANSPORT"}}
		code, toks := sentTokens(t, tr, ts.URL)
		if code != 200 || len(toks) != 2 || !bytes.Contains(toks[1], ws) {
			t.Errorf("%s with ntlm.Config: status %d, %d tokens, workstation sent %v", scheme, code, len(toks),
				len(toks) == 2 && bytes.Contains(toks[1], ws))
		}
		plain := &Transport{Registry: reg, Schemes: []string{scheme}, Credentials: testIdentity}
		code, toks = sentTokens(t, plain, ts.URL)
		if code != 200 || len(toks) != 2 || bytes.Contains(toks[1], ws) {
			t.Errorf("%s on the Registry's packages: status %d, workstation leaked %v", scheme, code, len(toks) == 2 && bytes.Contains(toks[1], ws))
		}
	}
	if after, _ := reg.Package("NTLM"); after != before {
		t.Error("the Registry's NTLM package was replaced")
	}
	// Negotiate's own configuration: without Kerberos, "!NTLM" leaves
	// nothing to offer, and the request is not authenticated.
	tr := &Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, Credentials: testIdentity,
		Negotiate: &negotiate.Config{PackageList: "Kerberos,!NTLM"}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(ts.URL)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("negotiate.Config refusing NTLM still authenticated with NTLM")
		}
	}
}

// Transport.Flags reach the client context: ISC_REQ_CONFIDENTIALITY asks
// NTLM for sealing in the NEGOTIATE.
func TestTransportFlagsNTLM(t *testing.T) {
	reg := testRegistry(t, nil)
	ts := startServer(t, &Server{Registry: reg, Schemes: []string{SchemeNTLM}, NTLM: testNTLMUsers})
	negFlags := func(flags uint32) uint32 {
		code, toks := sentTokens(t, &Transport{Registry: reg, Schemes: []string{SchemeNTLM},
			Credentials: testIdentity, Flags: flags}, ts.URL)
		if code != 200 || len(toks) == 0 || len(toks[0]) < 16 {
			t.Fatalf("flags %#x: status %d", flags, code)
		}
		return binary.LittleEndian.Uint32(toks[0][12:])
	}
	const seal = 0x20
	if f := negFlags(0); f&seal != 0 {
		t.Errorf("NEGOTIATE flags %#x ask for sealing without ISC_REQ_CONFIDENTIALITY", f)
	}
	if f := negFlags(sspi.ISC_REQ_CONFIDENTIALITY); f&seal == 0 {
		t.Errorf("NEGOTIATE flags %#x lack sealing with ISC_REQ_CONFIDENTIALITY", f)
	}
}

// Against the MIT KDC: Transport.Kerberos gives the Transport a krb5.conf
// the Registry's Kerberos lacks (Negotiate then picks Kerberos, not
// NTLM), and Flags with ISC_REQ_DELEGATE delegates: the server's context
// reports ASC_RET_DELEGATE, and ISC_REQ_MUTUAL_AUTH checks its proof.
func TestTransportKerberosConfigAndDelegation(t *testing.T) {
	k := peers.TestKDC(t)
	kdcReg := testRegistry(t, k)
	url, ids := identityServer(t, &Server{Registry: kdcReg, Schemes: []string{SchemeNegotiate},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}, NTLM: testNTLMUsers}})
	alice := (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()
	reg := testRegistry(t, nil) // its Kerberos knows no KDC
	run := func(tr *Transport) *Identity {
		t.Helper()
		defer tr.CloseIdleConnections()
		code, body, _ := get(t, &http.Client{Transport: tr}, "GET", url, "")
		if code != 200 {
			t.Fatalf("status %d %q", code, body)
		}
		return <-ids
	}
	id := run(&Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, Credentials: alice})
	if id.Package != "NTLM" {
		t.Fatalf("without a krb5.conf: package %s, want the NTLM fallback", id.Package)
	}
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	id = run(&Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, Credentials: alice,
		Kerberos: &kerberos.Config{Krb5Conf: conf}})
	if id.Package != "Kerberos" || id.Flags&sspi.ASC_RET_DELEGATE != 0 {
		t.Fatalf("with kerberos.Config: package %s flags %#x", id.Package, id.Flags)
	}
	id = run(&Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, Credentials: alice,
		Kerberos: &kerberos.Config{Krb5Conf: conf}, Flags: sspi.ISC_REQ_DELEGATE | sspi.ISC_REQ_MUTUAL_AUTH})
	if id.Package != "Kerberos" || id.Flags&sspi.ASC_RET_DELEGATE == 0 || id.Flags&sspi.ASC_RET_MUTUAL_AUTH == 0 {
		t.Fatalf("with ISC_REQ_DELEGATE|ISC_REQ_MUTUAL_AUTH: package %s flags %#x", id.Package, id.Flags)
	}
}

// A handler gets the credentials a Kerberos client delegated and uses
// them: the back-end service sees the client, not the server; without
// ISC_REQ_DELEGATE there are none.
func TestIdentityDelegatedCredentials(t *testing.T) {
	k := peers.TestKDC(t)
	reg := testRegistry(t, k)
	backCred, err := reg.AcquireCredentials(context.Background(), "Kerberos", sspi.CredentialsInbound, &kerberos.Keytab{Path: k.ServiceKeytab})
	if err != nil {
		t.Fatal(err)
	}
	defer backCred.Free()
	type result struct {
		user string
		err  error
	}
	results := make(chan result, 1)
	s := &Server{Registry: reg, Schemes: []string{SchemeNegotiate}, ErrorLog: nullLogger(),
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}}}
	hs := httptest.NewUnstartedServer(s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := IdentityFromContext(r.Context())
		cred, err := id.DelegatedCredentials()
		if err != nil {
			results <- result{err: err}
			return
		}
		defer cred.Free()
		// Log in to a back end as the client.
		c, err := sspi.NewClientContext(cred, "HTTP/localhost", sspi.ISC_REQ_MUTUAL_AUTH)
		if err != nil {
			results <- result{err: err}
			return
		}
		defer c.Delete()
		b, err := sspi.NewServerContext(backCred, 0)
		if err != nil {
			results <- result{err: err}
			return
		}
		defer b.Delete()
		var tok []byte
		for !c.Established() || !b.Established() {
			if tok, err = c.Step(r.Context(), tok); err != nil {
				break
			}
			if b.Established() {
				break
			}
			if tok, err = b.Step(r.Context(), tok); err != nil {
				break
			}
		}
		if err != nil {
			results <- result{err: err}
			return
		}
		user, err := b.UserName()
		results <- result{user: user, err: err}
	})))
	hs.Config.ConnContext = ConnContext
	hs.Start()
	defer hs.Close()
	url := strings.Replace(hs.URL, "127.0.0.1", "localhost", 1) + "/"
	alice := (&kerberosIdentity{"alice", k.Realm, "alice-pw"}).authIdentity()
	for _, delegate := range []bool{true, false} {
		tr := &Transport{Registry: reg, Schemes: []string{SchemeNegotiate}, Credentials: alice}
		if delegate {
			tr.Flags = sspi.ISC_REQ_DELEGATE
		}
		code, body, _ := get(t, &http.Client{Transport: tr}, "GET", url, "")
		tr.CloseIdleConnections()
		if code != 200 {
			t.Fatalf("delegate %v: status %d %q", delegate, code, body)
		}
		r := <-results
		switch {
		case delegate && (r.err != nil || r.user != "alice@"+k.Realm):
			t.Errorf("delegated: the back end saw %q, %v", r.user, r.err)
		case !delegate && !errors.Is(r.err, sspi.SEC_E_NO_CREDENTIALS):
			t.Errorf("not delegated: %q, %v; want SEC_E_NO_CREDENTIALS", r.user, r.err)
		}
	}
}
