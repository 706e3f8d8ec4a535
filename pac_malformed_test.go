package sspi

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// pacRealm is a Kerberos realm without a KDC: a registry with Kerberos
// and Negotiate at a fixed time, the keytab of HTTP/localhost, and
// AP-REQs for tickets minted with it.
type pacRealm struct {
	r    *Registry
	kt   *keytab.Keytab
	key  types.EncryptionKey
	now  time.Time
	usec int
}

const pacTestRealm = "TEST.GOSSPI"

func newPACRealm(t *testing.T) *pacRealm {
	t.Helper()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	conf := config.New()
	conf.LibDefaults.DefaultRealm = pacTestRealm
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf, Time: func() time.Time { return now }})
	r := NewRegistry()
	r.Register(krb)
	r.Register(negotiate.New(&negotiate.Config{Kerberos: krb, PackageList: "Kerberos"}))
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/localhost", pacTestRealm, "service-password", time.Unix(0, 0), 2, 18); err != nil {
		t.Fatal(err)
	}
	key, _, err := kt.GetEncryptionKey(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/localhost"), pacTestRealm, 2, 18)
	if err != nil {
		t.Fatal(err)
	}
	return &pacRealm{r: r, kt: kt, key: key, now: now}
}

// apReq returns an AP-REQ from alice for HTTP/localhost whose ticket
// carries pac (none when nil).
func (m *pacRealm) apReq(t *testing.T, pac []byte) []byte {
	t.Helper()
	alice := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
	session := types.EncryptionKey{KeyType: 18, KeyValue: make([]byte, 32)}
	session.KeyValue[0] = byte(m.usec)
	spec := testkit.TicketSpec{Client: alice, Service: types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/localhost"),
		Realm: pacTestRealm, Key: m.key, KVNO: 2, Session: session, Flags: 0x40000000, Start: m.now, End: m.now.Add(time.Hour)}
	if pac != nil {
		spec.PACs = [][]byte{pac}
	}
	tkt, err := testkit.MintTicket(spec)
	if err != nil {
		t.Fatal(err)
	}
	m.usec++ // a new authenticator each time, for the replay cache
	tok, err := testkit.APReq(tkt, session, alice, pacTestRealm, m.now, m.usec)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// serverContext returns an acceptor of pkg on the realm's keytab.
func (m *pacRealm) serverContext(t *testing.T, pkg string) *Context {
	t.Helper()
	return keytabAcceptor(t, m.r, pkg, &kerberos.Keytab{Keytab: m.kt})
}

// keytabAcceptor returns a server context of pkg ("Kerberos" or
// "Negotiate") on kt, freed and deleted when t ends.
func keytabAcceptor(t *testing.T, r *Registry, pkg string, kt *kerberos.Keytab) *Context {
	t.Helper()
	var data any = kt
	if pkg == "Negotiate" {
		data = &negotiate.AuthData{Kerberos: kt}
	}
	cred, err := r.AcquireCredentials(context.Background(), pkg, CredentialsInbound, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cred.Free)
	s, err := NewServerContext(cred, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Delete)
	return s
}

// A ticket whose PAC does not parse fails AcceptSecurityContext with
// SEC_E_LOGON_DENIED, through Kerberos and Negotiate, as a forged PAC
// does; the cause says what was wrong. Before, such a PAC was dropped
// and the logon succeeded without it.
func TestAcceptMalformedPAC(t *testing.T) {
	m := newPACRealm(t)
	upn := testkit.UPNDNSInfo("alice@test.gosspi", pacTestRealm, kerberos.UPNDNSInfoExtended, "alice", testkit.BinarySID(5, 21, 1, 2, 3, 1105))
	good, err := testkit.SignedPAC(m.key,
		testkit.PACBuffer{Type: testkit.PACClientInfo, Data: testkit.ClientInfo("alice", m.now)},
		testkit.PACBuffer{Type: testkit.PACUPNDNSInfo, Data: upn})
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	spoil := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	// Buffers: 0 client info, 1 UPN_DNS_INFO, 2 server and 3 KDC
	// signature; PAC_INFO_BUFFER i is at 8+16i.
	tests := []struct {
		name string
		pac  []byte
		want error
	}{
		{"truncated-buffer", spoil(func(b []byte) { le.PutUint32(b[8+16+4:], uint32(len(b))) }), kerberos.ErrMalformedPAC},
		{"offset-past-end", spoil(func(b []byte) { le.PutUint64(b[8+16+8:], uint64(len(b))+64) }), kerberos.ErrMalformedPAC},
		{"bad-count", spoil(func(b []byte) { le.PutUint32(b, 0x10000) }), kerberos.ErrMalformedPAC},
		{"short", good[:12], kerberos.ErrMalformedPAC},
		{"forged", spoil(func(b []byte) { b[le.Uint64(b[8+32+8:])+4] ^= 1 }), kerberos.ErrPACSignature},
	}
	for _, pkg := range []string{"Kerberos", "Negotiate"} {
		t.Run(pkg+"/well-formed", func(t *testing.T) {
			s := m.serverContext(t, pkg)
			if _, err := s.Step(context.Background(), m.apReq(t, good)); err != nil || !s.Established() {
				t.Fatalf("Step: %v, established %v", err, s.Established())
			}
			p, ok := s.PAC()
			if !ok || p.UPNDNSInfo == nil {
				t.Fatalf("PAC %+v, %v", p, ok)
			}
			u := p.UPNDNSInfo
			if u.UPN != "alice@test.gosspi" || u.DNSDomainName != pacTestRealm || !u.Extended() || u.SAMName != "alice" || u.SID != "S-1-5-21-1-2-3-1105" {
				t.Errorf("UPN_DNS_INFO %+v", u)
			}
		})
		for _, tt := range tests {
			t.Run(pkg+"/"+tt.name, func(t *testing.T) {
				s := m.serverContext(t, pkg)
				_, err := s.Step(context.Background(), m.apReq(t, tt.pac))
				if !errors.Is(err, status.SEC_E_LOGON_DENIED) {
					t.Fatalf("Step: %v, want SEC_E_LOGON_DENIED", err)
				}
				if !errors.Is(err, tt.want) {
					t.Errorf("cause %v, want %v", err, tt.want)
				}
				if p, ok := s.PAC(); ok || s.Established() {
					t.Errorf("PAC %+v on a failed logon", p)
				}
			})
		}
	}

	// The flat API reports the status alone.
	cred, err := m.r.AcquireCredentials(context.Background(), "Kerberos", CredentialsInbound, &kerberos.Keytab{Keytab: m.kt})
	if err != nil {
		t.Fatal(err)
	}
	var hc CredHandle
	hc.Lower, hc.Upper = m.r.creds.add(cred)
	defer m.r.FreeCredentialsHandle(&hc)
	var hs CtxtHandle
	in := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: m.apReq(t, tests[0].pac)}}}
	out := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 1024)}}}
	var attr uint32
	if st := m.r.AcceptSecurityContext(&hc, nil, in, 0, SECURITY_NATIVE_DREP, &hs, out, &attr, nil); st != SEC_E_LOGON_DENIED {
		t.Errorf("AcceptSecurityContext = %v, want SEC_E_LOGON_DENIED", st)
	}
}
