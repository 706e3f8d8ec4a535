package kdcinterop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/packages/kerberos"
)

const realmName = "INTEROP.TEST"

// alice's account: the SIDs and groups the KDC is given, which every
// acceptor must read back from her tickets' PACs.
var aliceAccount = kdc.User{RID: 1234, GroupRIDs: []uint32{512, 1111},
	ExtraSIDs: []string{"S-1-5-21-1-2-3-4444", "S-1-18-1"}, FullName: "Alice Interop"}

// enctypes are the KDC's enctypes by MIT name; a service e<N>/localhost
// has a key of enctype N only.
var enctypes = []struct {
	n    int32
	name string
}{
	{kdc.AES256CTSHMACSHA196, "aes256-cts-hmac-sha1-96"},
	{kdc.AES128CTSHMACSHA196, "aes128-cts-hmac-sha1-96"},
	{kdc.AES256CTSHMACSHA384192, "aes256-cts-hmac-sha384-192"},
	{kdc.AES128CTSHMACSHA256128, "aes128-cts-hmac-sha256-128"},
	{kdc.RC4HMAC, "arcfour-hmac"},
}

type realm struct {
	k      *kdc.KDC
	dir    string
	env    []string // KRB5_CONFIG, KRB5CCNAME, KRB5_KTNAME, KRB5RCACHEDIR
	host   *kerberos.Keytab
	ccache string
}

// newRealm starts a KDC of package kdc on 127.0.0.1 with every enctype
// (rc4-hmac too, so allow_weak_crypto in its krb5.conf), alice, and
// services host/localhost (ok-as-delegate), HTTP/localhost and
// e<N>/localhost, all in one keytab for MIT's acceptors.
func newRealm(t *testing.T) *realm {
	t.Helper()
	if !peers.Interop() {
		t.Skip("SSPI_INTEROP=1 not set: MIT Kerberos clients and servers against the Go KDC are interop tests " +
			"(they need krb5-user, krb5-gss-samples and python3-gssapi)")
	}
	k, err := kdc.New(kdc.Config{Realm: realmName, Enctypes: append(slices.Clone(kdc.DefaultEnctypes), kdc.RC4HMAC)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	if err := k.AddUser("alice", "alice-pw", aliceAccount); err != nil {
		t.Fatal(err)
	}
	r := &realm{k: k, dir: t.TempDir()}
	if r.host, err = k.AddService("host/localhost", kdc.Service{OKAsDelegate: true}); err != nil {
		t.Fatal(err)
	}
	services := []string{"host/localhost", "HTTP/localhost"}
	if _, err := k.AddService("HTTP/localhost", kdc.Service{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range enctypes {
		s := fmt.Sprintf("e%d/localhost", e.n)
		if _, err := k.AddService(s, kdc.Service{Enctypes: []int32{e.n}}); err != nil {
			t.Fatal(err)
		}
		services = append(services, s)
	}
	if _, err := k.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	keytab := filepath.Join(r.dir, "services.keytab")
	if err := k.WriteKeytab(keytab, services...); err != nil {
		t.Fatal(err)
	}
	// The KDC's krb5.conf ends with its [domain_realm] section.
	conf := filepath.Join(r.dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte(k.Krb5Conf()+"\tlocalhost = "+realmName+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.ccache = filepath.Join(r.dir, "ccache")
	r.env = append(os.Environ(), "KRB5_CONFIG="+conf, "KRB5CCNAME=FILE:"+r.ccache,
		"KRB5_KTNAME=FILE:"+keytab, "KRB5RCACHEDIR="+r.dir, "KRB5_TRACE=/dev/null")
	return r
}

// run runs an MIT tool in the realm's environment, bounded in time.
func (r *realm) run(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = r.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kinit gets alice a TGT with MIT kinit and flags (-f forwardable, -F
// not), and returns klist -f -e's listing of the cache.
func (r *realm) kinit(t *testing.T, flag string) string {
	t.Helper()
	kinit := peers.Tool(t, "kinit", "krb5-user")
	klist := peers.Tool(t, "klist", "krb5-user")
	if out, err := r.run(t, "alice-pw\n", kinit, flag, "alice@"+realmName); err != nil {
		t.Fatalf("kinit %s: %v\n%s", flag, err, out)
	}
	out, err := r.run(t, "", klist, "-f", "-e")
	if err != nil {
		t.Fatalf("klist: %v\n%s", err, out)
	}
	return out
}

// entry returns the klist -f -e lines of service's ticket.
func entry(t *testing.T, klist, service string) string {
	t.Helper()
	i := strings.Index(klist, service+"\n")
	if i < 0 {
		t.Fatalf("klist lacks %s:\n%s", service, klist)
	}
	rest := klist[i+len(service)+1:]
	lines := strings.SplitN(rest, "\n", 3)
	return strings.Join(lines[:min(2, len(lines))], "\n")
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

// gssSample runs MIT gss-server (one connection, the realm's keytab)
// and gss-client with clientArgs against it, and returns the server's
// output.
func (r *realm) gssSample(t *testing.T, clientArgs ...string) string {
	t.Helper()
	server := peers.Tool(t, "gss-server", "krb5-gss-samples")
	client := peers.Tool(t, "gss-client", "krb5-gss-samples")
	port := fmt.Sprint(freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, server, "-port", port, "-once", "-verbose", "host@localhost")
	srv.Env = r.env
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var out string
	var err error
	for range 50 { // until gss-server listens
		out, err = r.run(t, "", client, append(append([]string{"-port", port}, clientArgs...), "localhost", "host@localhost", "hello from gss-client")...)
		if err == nil || !strings.Contains(out, "Connection refused") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		srv.Process.Kill()
		srv.Wait()
		t.Fatalf("gss-client %v: %v\n%s\ngss-server:\n%s", clientArgs, err, out, srvOut.String())
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("gss-server: %v\n%s", err, srvOut.String())
	}
	return srvOut.String()
}

// MIT kinit -f gets a forwardable TGT from the KDC, and MIT gss-client -d
// delegates it to MIT gss-server (both on the KDC's tickets), which reads
// the PAC as authenticated; with kinit -F the TGT is not forwardable and
// nothing is delegated.
func TestGSSSampleDelegation(t *testing.T) {
	r := newRealm(t)
	list := r.kinit(t, "-f")
	if e := entry(t, list, "krbtgt/"+realmName+"@"+realmName); !strings.Contains(e, "Flags: F") {
		t.Fatalf("kinit -f: TGT not forwardable:\n%s", list)
	}
	out := r.gssSample(t, "-d")
	for _, want := range []string{"context flag: GSS_C_DELEG_FLAG", "context flag: GSS_C_MUTUAL_FLAG",
		"Attribute urn:mspac:logon-info Authenticated Complete", `Accepted connection: "alice@INTEROP.TEST"`,
		`Received message: "hello from gss-client"`} {
		if !strings.Contains(out, want) {
			t.Errorf("gss-server output lacks %q:\n%s", want, out)
		}
	}

	list = r.kinit(t, "-F")
	if e := entry(t, list, "krbtgt/"+realmName+"@"+realmName); strings.Contains(e, "Flags: F") {
		t.Fatalf("kinit -F: TGT forwardable:\n%s", list)
	}
	out = r.gssSample(t, "-d")
	if strings.Contains(out, "GSS_C_DELEG_FLAG") || !strings.Contains(out, `Accepted connection: "alice@INTEROP.TEST"`) {
		t.Errorf("gss-client -d with a TGT that is not forwardable:\n%s", out)
	}
}

// result is one line of testdata/mitgss.py.
type result struct {
	Target    string
	Mech      string
	Token     string
	Initiator string
	Flags     uint32
	Attrs     map[string][2]any
	Delegated bool
	Second    *result
	Error     string
}

// mitgss runs testdata/mitgss.py (python3-gssapi, MIT's GSSAPI on both
// sides) in the realm's environment.
func (r *realm) mitgss(t *testing.T, args ...string) []result {
	t.Helper()
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
	out, err := r.run(t, "", peers.Python, append([]string{filepath.Join("testdata", "mitgss.py")}, args...)...)
	var res []result
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var x result
		if json.Unmarshal([]byte(line), &x) != nil {
			t.Fatalf("mitgss %v: %v\n%s", args, err, out)
		}
		if x.Error != "" {
			t.Errorf("mitgss %s: %s", x.Target, x.Error)
		}
		res = append(res, x)
	}
	if err != nil {
		t.Fatalf("mitgss %v: %v\n%s", args, err, out)
	}
	return res
}

// pacAttr returns MIT's name attribute a (hex value, authenticated).
func pacAttr(t *testing.T, x result, a string) ([]byte, bool) {
	t.Helper()
	v, ok := x.Attrs[a]
	if !ok {
		t.Fatalf("%s: MIT's acceptor has no %s attribute (has %v)", x.Target, a, x.Attrs)
	}
	s, _ := v[0].(string)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := v[1].(bool)
	return b, auth
}

// python3-gssapi on both sides, with tickets the KDC issued: MIT's
// initiator (the ccache of MIT kinit -f) to MIT's acceptor for a service
// of each enctype, sealed messages both ways, klist -e showing each
// ticket in its service's enctype; delegation to host/localhost, whose
// acceptor uses the forwarded TGT for a ticket to HTTP/localhost; SPNEGO;
// and an initiator with a password (MIT's own AS exchange).
func TestPythonGSSAPI(t *testing.T) {
	r := newRealm(t)
	r.kinit(t, "-f")
	targets := []string{"host@localhost"}
	for _, e := range enctypes {
		targets = append(targets, fmt.Sprintf("e%d@localhost", e.n))
	}
	res := r.mitgss(t, append([]string{"--delegate", "--delegate-to", "HTTP@localhost"}, targets...)...)
	for _, x := range res {
		if x.Initiator != "alice@"+realmName {
			t.Errorf("%s: acceptor saw %q", x.Target, x.Initiator)
		}
		if _, auth := pacAttr(t, x, "urn:mspac:logon-info"); !auth {
			t.Errorf("%s: MIT's acceptor did not authenticate the PAC", x.Target)
		}
	}
	host := res[0]
	if !host.Delegated || host.Second == nil {
		t.Fatalf("host@localhost: no delegated credentials: %+v", host)
	}
	if host.Second.Initiator != "alice@"+realmName {
		t.Errorf("with the delegated TGT: acceptor saw %q", host.Second.Initiator)
	}
	if _, auth := pacAttr(t, *host.Second, "urn:mspac:logon-info"); !auth {
		t.Error("with the delegated TGT: PAC not authenticated")
	}
	list, err := r.run(t, "", peers.Tool(t, "klist", "krb5-user"), "-e")
	if err != nil {
		t.Fatalf("klist: %v\n%s", err, list)
	}
	for _, e := range enctypes {
		svc := fmt.Sprintf("e%d/localhost@%s", e.n, realmName)
		// klist marks rc4 "DEPRECATED:".
		want := regexp.MustCompile(`Etype \(skey, tkt\): (DEPRECATED:)?` + e.name + `, (DEPRECATED:)?` + e.name + `\b`)
		if got := entry(t, list, svc); !want.MatchString(got) {
			t.Errorf("%s: %q, want %s", svc, got, e.name)
		}
	}

	for _, x := range r.mitgss(t, "--mech", "spnego", "host@localhost") {
		// The first token is an SPNEGO NegTokenInit (OID 1.3.6.1.5.5.2);
		// the mechanism negotiated, krb5.
		tok, _ := base64.StdEncoding.DecodeString(x.Token)
		if len(tok) < 16 || !bytes.Contains(tok[:16], []byte{6, 6, 0x2b, 6, 1, 5, 5, 2}) || !strings.Contains(x.Mech, "1.2.840.113554.1.2.2") ||
			x.Initiator != "alice@"+realmName {
			t.Errorf("SPNEGO: token %x..., mech %s, initiator %q", tok[:min(12, len(tok))], x.Mech, x.Initiator)
		}
	}
	for _, x := range r.mitgss(t, "--user", "alice@"+realmName, "--password", "alice-pw", "HTTP@localhost") {
		if x.Initiator != "alice@"+realmName {
			t.Errorf("password: initiator %q", x.Initiator)
		}
	}
}

// pacAttrNames are MIT's names of PAC buffer types; the others are
// "urn:mspac:<type>".
var pacAttrNames = map[uint32]string{1: "logon-info", 10: "client-info", 12: "upn-dns-info",
	6: "server-checksum", 7: "privsvr-checksum"}

// One ticket MIT's client got from the KDC (MIT kinit, then python3-gssapi's
// TGS exchange), read by two acceptors: MIT's (through the urn:mspac:
// name attributes, the PAC verified) and this module's. Every PAC buffer
// is the same bytes on both sides, and ours decodes the SIDs and groups
// the KDC was given.
func TestPACBothAcceptors(t *testing.T) {
	r := newRealm(t)
	r.kinit(t, "-f")
	res := r.mitgss(t, "host@localhost")
	mit := res[0]
	token, err := base64.StdEncoding.DecodeString(mit.Token)
	if err != nil {
		t.Fatal(err)
	}

	reg := sspi.NewRegistry()
	reg.Register(kerberos.New(&kerberos.Config{Krb5Conf: r.k.Krb5Config()}))
	ctx := context.Background()
	cred, err := reg.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsInbound, r.host)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	s, err := sspi.NewServerContext(cred, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete()
	if _, err := s.Step(ctx, token); err != nil || !s.Established() {
		t.Fatalf("our acceptor, MIT's token: %v (established %v)", err, s.Established())
	}
	pac, ok := s.PAC()
	if !ok {
		t.Fatal("our acceptor read no PAC")
	}

	sid, err := r.k.UserSID("alice")
	if err != nil {
		t.Fatal(err)
	}
	domain := sid[:strings.LastIndex(sid, "-")]
	if pac.UserSID != sid || !strings.HasSuffix(sid, "-1234") || pac.ClientName != "alice" {
		t.Errorf("PAC user %s (%s), want alice %s", pac.UserSID, pac.ClientName, sid)
	}
	for _, g := range append([]string{domain + "-513", domain + "-512", domain + "-1111"}, aliceAccount.ExtraSIDs...) {
		if !slices.Contains(pac.GroupSIDs, g) {
			t.Errorf("PAC groups %v lack %s", pac.GroupSIDs, g)
		}
	}
	if pac.LogonInfo == nil || pac.UPNDNSInfo == nil {
		t.Fatalf("PAC without logon info or UPN_DNS_INFO: %+v", pac)
	}

	seen := 0
	for _, b := range pac.Buffers {
		name := pacAttrNames[b.Type]
		if name == "" {
			name = fmt.Sprint(b.Type)
		}
		v, auth := pacAttr(t, mit, "urn:mspac:"+name)
		if !auth {
			t.Errorf("MIT: urn:mspac:%s not authenticated", name)
		}
		if !bytes.Equal(v, b.Data) {
			t.Errorf("PAC buffer %d (%s): MIT read %x, we read %x", b.Type, name, v, b.Data)
		}
		seen++
	}
	// MIT lists "urn:mspac:" (the whole PAC) besides one per buffer.
	if seen < 5 || seen != len(mit.Attrs)-1 {
		t.Errorf("%d PAC buffers on our side, MIT's attributes %d: %v", seen, len(mit.Attrs), mit.Attrs)
	}
}
