package kerberos

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	krbcreds "github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// mintTGT returns a forwarded TGT for alice sealed with a krbtgt key
// added to the realm's keytab.
func (m *memRealm) mintTGT(t testing.TB) *ticket {
	t.Helper()
	if err := m.kt.AddEntry("krbtgt/"+testRealm, testRealm, "krbtgt-password", time.Unix(0, 0), 1, 18); err != nil {
		t.Fatal(err)
	}
	start := m.p.config.now().Truncate(time.Second)
	sname := types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", testRealm}}
	f := types.NewKrbFlags()
	types.SetFlag(&f, flags.Forwardable)
	types.SetFlag(&f, flags.Forwarded)
	tkt, key, err := messages.NewTicket(m.client.cname, testRealm, sname, testRealm, f, m.kt, 18, 1, start, start, start.Add(8*time.Hour), start.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &ticket{ticket: tkt, key: key, cname: m.client.cname, crealm: testRealm, flags: flagsWord(f.Bytes),
		authTime: start, startTime: start, endTime: start.Add(8 * time.Hour), renewTill: start.Add(24 * time.Hour)}
}

// delegatingAPReq returns an AP-REQ for HTTP/localhost whose
// authenticator checksum delegates tgt in a KRB-CRED under the session
// key (RFC 4121 4.1.1), as an initiator with ISC_REQ_DELEGATE sends it.
func (m *memRealm) delegatingAPReq(t testing.TB, tgt *ticket) []byte {
	t.Helper()
	svc := m.client.tickets[ticketKey(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/localhost"), testRealm)]
	now := m.p.config.now()
	tder, err := tgt.ticket.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := marshalEncKrbCredPart(&credInfo{t: tgt, srealm: testRealm, sname: tgt.ticket.SName}, now)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := crypto.GetEncryptedData(plain, svc.key, keyusage.KRB_CRED_ENCPART, 0)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := marshalKRBCred(tder, ed.EType, ed.Cipher)
	if err != nil {
		t.Fatal(err)
	}
	ck := gssChecksum{flags: gssDeleg | gssMutual, deleg: kc}
	auth := types.Authenticator{AVNO: 5, CRealm: testRealm, CName: m.client.cname,
		Cksum: types.Checksum{CksumType: cksumTypeGSS, Checksum: ck.marshal()},
		CTime: now.Truncate(time.Second), Cusec: now.Nanosecond() / 1000, SeqNumber: 7}
	req, err := messages.NewAPReq(svc.ticket, svc.key, auth)
	if err != nil {
		t.Fatal(err)
	}
	der, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return frameToken(tokAPReq, der)
}

func allZero(b []byte) bool { return len(b) > 0 && bytes.Count(b, []byte{0}) == len(b) }

// The acceptor keeps the delegated TGT; each DelegatedCredentials call
// hands out a copy with keys of its own: freeing a copy zeroes that copy
// only, deleting the context zeroes the context's and leaves the copies
// usable, and nothing is handed out after Delete.
func TestDelegatedCredentialsOwnership(t *testing.T) {
	m := newMemRealm(t, 18, nil)
	tgt := m.mintTGT(t)
	want := bytes.Clone(tgt.key.KeyValue)
	sc, err := m.server.NewServerContext(0)
	if err != nil {
		t.Fatal(err)
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
	st, err := sc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: m.delegatingAPReq(t, tgt)}}, out)
	if err != nil || st != status.SEC_E_OK {
		t.Fatalf("ASC: %v %v", st, err)
	}
	if sc.Flags()&packages.ASC_RET_DELEGATE == 0 {
		t.Fatalf("flags %#x lack ASC_RET_DELEGATE", sc.Flags())
	}
	dc := sc.(DelegatedCredentialer)
	owned := sc.(*serverContext).delegated.tgt.key.KeyValue
	d1, ok := dc.DelegatedCredentials().(*credentials)
	if !ok {
		t.Fatal("no delegated credentials")
	}
	d2 := dc.DelegatedCredentials().(*credentials)
	for _, d := range []*credentials{d1, d2} {
		k := d.tgt.key.KeyValue
		if !bytes.Equal(k, want) || &k[0] == &owned[0] {
			t.Fatal("a copy does not hold its own copy of the TGT key")
		}
		if d.UserName() != "alice@"+testRealm || d.Use() != packages.SECPKG_CRED_OUTBOUND || !d.delegated {
			t.Errorf("copy: user %q use %d", d.UserName(), d.Use())
		}
	}
	if &d1.tgt.key.KeyValue[0] == &d2.tgt.key.KeyValue[0] {
		t.Fatal("two copies share the TGT key")
	}

	k1 := d1.tgt.key.KeyValue
	d1.Free()
	if !allZero(k1) || allZero(owned) || allZero(d2.tgt.key.KeyValue) {
		t.Fatal("Free of a copy: its key not zeroed, or another's zeroed")
	}
	sc.Delete()
	if !allZero(owned) {
		t.Error("Delete left the context's delegated TGT key")
	}
	if !bytes.Equal(d2.tgt.key.KeyValue, want) {
		t.Error("Delete zeroed a copy handed out before")
	}
	if d := dc.DelegatedCredentials(); d != nil {
		t.Errorf("delegated credentials after Delete: %v", d)
	}

	// A copy passed back as auth data gives another copy.
	d3, err := m.p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, d2)
	if err != nil {
		t.Fatal(err)
	}
	k3 := d3.(*credentials).tgt.key.KeyValue
	if !bytes.Equal(k3, want) || &k3[0] == &d2.tgt.key.KeyValue[0] || d3.UserName() != "alice@"+testRealm {
		t.Error("AcquireCredentials with delegated credentials: not an independent copy")
	}
	if _, err := m.p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, d1); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("AcquireCredentials with freed credentials: %v", err)
	}
	if _, err := m.p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, d2); err == nil {
		t.Error("inbound credentials from delegated ones")
	}
}

// WriteCCache writes a FILE credential cache that gokrb5's reader and
// our own CCache auth data read back: the default principal, the TGT
// with its key, times and flags.
func TestWriteCCache(t *testing.T) {
	m := newMemRealm(t, 18, nil)
	tgt := m.mintTGT(t)
	c := &credentials{p: m.p, conf: m.client.conf, use: packages.SECPKG_CRED_OUTBOUND, cname: m.client.cname, crealm: testRealm, tgt: tgt,
		tickets: map[string]*ticket{"HTTP/localhost@" + testRealm: m.client.tickets["HTTP/localhost@"+testRealm]}}
	var buf bytes.Buffer
	if err := c.WriteCCache(&buf); err != nil {
		t.Fatal(err)
	}
	var cc krbcreds.CCache
	if err := cc.Unmarshal(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if cc.GetClientPrincipalName().PrincipalNameString() != "alice" || cc.GetClientRealm() != testRealm {
		t.Errorf("default principal %v@%s", cc.GetClientPrincipalName(), cc.GetClientRealm())
	}
	entries := cc.GetEntries()
	if len(entries) != 2 {
		t.Fatalf("%d entries, want the TGT and one service ticket", len(entries))
	}
	e := entries[0]
	if e.Server.PrincipalName.PrincipalNameString() != "krbtgt/"+testRealm || !bytes.Equal(e.Key.KeyValue, tgt.key.KeyValue) ||
		e.Key.KeyType != 18 || !e.EndTime.Equal(tgt.endTime) || !e.RenewTill.Equal(tgt.renewTill) || flagsWord(e.TicketFlags.Bytes) != tgt.flags {
		t.Errorf("TGT entry %+v", e)
	}
	var tkt messages.Ticket
	if err := tkt.Unmarshal(e.Ticket); err != nil || tkt.SName.PrincipalNameString() != "krbtgt/"+testRealm {
		t.Errorf("TGT ticket: %v", err)
	}

	path := filepath.Join(t.TempDir(), "cc")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := m.p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &CCache{Path: "FILE:" + path})
	if err != nil {
		t.Fatal(err)
	}
	b := back.(*credentials)
	if b.UserName() != "alice@"+testRealm || b.tgt == nil || !bytes.Equal(b.tgt.key.KeyValue, tgt.key.KeyValue) || len(b.tickets) != 1 {
		t.Errorf("read back: %+v", b)
	}

	// Nothing to write: credentials with a password only, and freed ones.
	pw := &credentials{p: m.p, conf: m.client.conf, use: packages.SECPKG_CRED_OUTBOUND, cname: m.client.cname, crealm: testRealm, password: "x"}
	if err := pw.WriteCCache(&buf); !errors.Is(err, status.SEC_E_NO_CREDENTIALS) {
		t.Errorf("password credentials: %v", err)
	}
	c.Free()
	if err := c.WriteCCache(&buf); !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Errorf("freed credentials: %v", err)
	}
}
