package kdc

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages/kerberos"
)

// acceptTicket presents tkt to an acceptor of spn (keytab from k) and
// returns the PAC it decoded.
func acceptTicket(t *testing.T, k *KDC, spn string, tkt messages.Ticket, session types.EncryptionKey, cname types.PrincipalName, crealm string) *sspi.PAC {
	t.Helper()
	kt, err := k.Keytab(spn)
	if err != nil {
		t.Fatal(err)
	}
	r := sspi.NewRegistry()
	r.Register(kerberos.New(&kerberos.Config{Krb5Conf: k.Krb5Config()}))
	cred, err := r.AcquireCredentials(context.Background(), "Kerberos", sspi.CredentialsInbound, kt)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	s, err := sspi.NewServerContext(cred, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Delete()
	tok, err := testkit.APReq(tkt, session, cname, crealm, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Step(context.Background(), tok); err != nil {
		t.Fatalf("acceptor: %v", err)
	}
	pac, ok := s.PAC()
	if !ok {
		t.Fatal("no PAC")
	}
	return pac
}

func srv(s string) types.PrincipalName { return types.NewPrincipalName(nametype.KRB_NT_SRV_INST, s) }

// S4U2Self then S4U2Proxy (MS-SFU): a front-end service trusted for
// protocol transition gets a forwardable ticket to itself in alice's
// name, then, with it as evidence, a ticket to the back end it may
// delegate to; the back end's acceptor sees alice's SIDs. Delegation to
// a service off the allow-list, or from a ticket that is not
// forwardable, is refused with KDC_ERR_BADOPTION.
func TestS4U(t *testing.T) {
	const realm = "S4U.TEST"
	k, err := New(Config{Realm: realm})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "alice-pw", User{RID: 3001, GroupRIDs: []uint32{512}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		spn string
		svc Service
	}{
		{"HTTP/front.s4u.test", Service{AllowedToDelegateTo: []string{"HTTP/back.s4u.test"}, TrustedToAuthForDelegation: true}},
		{"HTTP/plain.s4u.test", Service{AllowedToDelegateTo: []string{"HTTP/back.s4u.test"}}},
		{"HTTP/back.s4u.test", Service{}},
		{"HTTP/other.s4u.test", Service{}},
	} {
		if _, err := k.AddService(s.spn, s.svc); err != nil {
			t.Fatal(err)
		}
	}
	alice := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
	aliceSID, _ := k.UserSID("alice")

	frontName, frontKey, frontKVNO := testPrincipalKey(t, k, "HTTP/front.s4u.test", AES256CTSHMACSHA196)
	tgt, tgtEnc := testAS(t, k, frontName, realm, frontKey, frontKVNO)
	evidence, evEnc, ke := testTGS(t, k, tgt, tgtEnc.Key, frontName, realm, realm, frontName, nil, forUserPAData(t, alice, realm, tgtEnc.Key))
	if ke != nil {
		t.Fatalf("S4U2Self: %v", ke)
	}
	if err := evidence.Decrypt(frontKey); err != nil {
		t.Fatal(err)
	}
	if !evidence.DecryptedEncPart.CName.Equal(alice) || flagsWord(evEnc.Flags.Bytes)&bit(flagForwardable) == 0 {
		t.Fatalf("S4U2Self ticket for %v, flags %x", evidence.DecryptedEncPart.CName, evEnc.Flags.Bytes)
	}
	if pac := acceptTicket(t, k, "HTTP/front.s4u.test", evidence, evEnc.Key, alice, realm); pac.UserSID != aliceSID {
		t.Fatalf("S4U2Self PAC user %q, want %q", pac.UserSID, aliceSID)
	}

	proxy := func(evidence messages.Ticket, target string) (messages.Ticket, messages.EncKDCRepPart, *messages.KRBError) {
		return testTGS(t, k, tgt, tgtEnc.Key, frontName, realm, realm, srv(target), func(r *messages.TGSReq) {
			types.SetFlag(&r.ReqBody.KDCOptions, optCNameInAddlTkt)
			types.SetFlag(&r.ReqBody.KDCOptions, flagForwardable)
			r.ReqBody.AdditionalTickets = []messages.Ticket{evidence}
		})
	}
	tkt, enc, ke := proxy(evidence, "HTTP/back.s4u.test")
	if ke != nil {
		t.Fatalf("S4U2Proxy: %v", ke)
	}
	pac := acceptTicket(t, k, "HTTP/back.s4u.test", tkt, enc.Key, alice, realm)
	if pac.UserSID != aliceSID || pac.ClientName != "alice" {
		t.Fatalf("S4U2Proxy PAC %+v", pac)
	}
	if _, _, ke := proxy(evidence, "HTTP/other.s4u.test"); ke == nil || ke.ErrorCode != errBadOption {
		t.Fatalf("S4U2Proxy off the allow-list: %v", ke)
	}

	// A service not trusted for protocol transition gets a ticket that is
	// not forwardable, which S4U2Proxy refuses.
	plainName, plainKey, plainKVNO := testPrincipalKey(t, k, "HTTP/plain.s4u.test", AES256CTSHMACSHA196)
	ptgt, ptgtEnc := testAS(t, k, plainName, realm, plainKey, plainKVNO)
	pev, pevEnc, ke := testTGS(t, k, ptgt, ptgtEnc.Key, plainName, realm, realm, plainName, nil, forUserPAData(t, alice, realm, ptgtEnc.Key))
	if ke != nil {
		t.Fatal(ke)
	}
	if flagsWord(pevEnc.Flags.Bytes)&bit(flagForwardable) != 0 {
		t.Fatal("S4U2Self ticket forwardable without protocol transition")
	}
	_, _, ke = testTGS(t, k, ptgt, ptgtEnc.Key, plainName, realm, realm, srv("HTTP/back.s4u.test"), func(r *messages.TGSReq) {
		types.SetFlag(&r.ReqBody.KDCOptions, optCNameInAddlTkt)
		r.ReqBody.AdditionalTickets = []messages.Ticket{pev}
	})
	if ke == nil || ke.ErrorCode != errBadOption {
		t.Fatalf("S4U2Proxy with a non-forwardable evidence ticket: %v", ke)
	}

	// A PA-FOR-USER whose checksum is not the session key's is refused.
	wrong := types.EncryptionKey{KeyType: tgtEnc.Key.KeyType, KeyValue: make([]byte, len(tgtEnc.Key.KeyValue))}
	if _, _, ke := testTGS(t, k, tgt, tgtEnc.Key, frontName, realm, realm, frontName, nil, forUserPAData(t, alice, realm, wrong)); ke == nil || ke.ErrorCode != errApModified {
		t.Fatalf("forged PA-FOR-USER: %v", ke)
	}
}

// Two realms in one KDC: alice of A.TEST gets a cross-realm TGT
// krbtgt/B.TEST@A.TEST, then from B's TGS a ticket for a service of
// B.TEST whose PAC carries her SID of A's domain. Asking A directly for
// the service of B gives a referral to B.
func TestCrossRealm(t *testing.T) {
	k, err := New(Config{Realm: "A.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddRealm("B.TEST"); err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "alice-pw", User{RID: 4001}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("HTTP/svc.b.test@B.TEST", Service{}); err != nil {
		t.Fatal(err)
	}
	name, key, kvno := testPrincipalKey(t, k, "alice@A.TEST", AES256CTSHMACSHA196)
	tgt, tgtEnc := testAS(t, k, name, "A.TEST", key, kvno)

	// A referral: A has no HTTP/svc.b.test.
	ref, _, ke := testTGS(t, k, tgt, tgtEnc.Key, name, "A.TEST", "A.TEST", srv("HTTP/svc.b.test"), nil)
	if ke != nil {
		t.Fatalf("referral: %v", ke)
	}
	if ref.SName.PrincipalNameString() != "krbtgt/B.TEST" || ref.Realm != "A.TEST" {
		t.Fatalf("referral ticket for %s@%s", ref.SName.PrincipalNameString(), ref.Realm)
	}

	xtgt, xenc, ke := testTGS(t, k, tgt, tgtEnc.Key, name, "A.TEST", "A.TEST", srv("krbtgt/B.TEST"), nil)
	if ke != nil {
		t.Fatalf("cross-realm TGT: %v", ke)
	}
	tkt, enc, ke := testTGS(t, k, xtgt, xenc.Key, name, "A.TEST", "B.TEST", srv("HTTP/svc.b.test"), nil)
	if ke != nil {
		t.Fatalf("service ticket from B: %v", ke)
	}
	if tkt.Realm != "B.TEST" {
		t.Fatalf("ticket realm %q", tkt.Realm)
	}
	pac := acceptTicket(t, k, "HTTP/svc.b.test@B.TEST", tkt, enc.Key, name, "A.TEST")
	sid, _ := k.UserSID("alice@A.TEST")
	dom, _ := k.DomainSID("A.TEST")
	if pac.UserSID != sid || pac.UserSID != dom+"-4001" {
		t.Fatalf("PAC user %q, want %q", pac.UserSID, sid)
	}

	// B does not take A's own TGT.
	if _, _, ke := testTGS(t, k, tgt, tgtEnc.Key, name, "A.TEST", "B.TEST", srv("HTTP/svc.b.test"), nil); ke == nil || ke.ErrorCode != errWrongRealm {
		t.Fatalf("A's TGT at B: %v", ke)
	}
}

// A renewable TGT renewed (RENEW option) keeps its session key, auth time
// and renew-till, and moves its end time; a TGT that is not renewable is
// refused with KDC_ERR_BADOPTION.
func TestRenew(t *testing.T) {
	k, err := New(Config{Realm: "RENEW.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{}); err != nil {
		t.Fatal(err)
	}
	name, key, kvno := testPrincipalKey(t, k, "alice", AES256CTSHMACSHA196)
	tgt, enc := testAS(t, k, name, "RENEW.TEST", key, kvno) // gokrb5 asks for a renewable TGT
	if flagsWord(enc.Flags.Bytes)&bit(flagRenewable) == 0 {
		t.Fatalf("TGT not renewable: flags %x", enc.Flags.Bytes)
	}
	krbtgt := srv("krbtgt/RENEW.TEST")
	renewed, renc, ke := testTGS(t, k, tgt, enc.Key, name, "RENEW.TEST", "RENEW.TEST", krbtgt, func(r *messages.TGSReq) {
		types.SetFlag(&r.ReqBody.KDCOptions, optRenew)
	})
	if ke != nil {
		t.Fatalf("renew: %v", ke)
	}
	if !bytes.Equal(renc.Key.KeyValue, enc.Key.KeyValue) || !renc.AuthTime.Equal(enc.AuthTime) || !renc.RenewTill.Equal(enc.RenewTill) {
		t.Fatalf("renewed ticket changed key, auth time or renew-till: %+v", renc)
	}
	_, krbtgtKey, _ := testPrincipalKey(t, k, "krbtgt/RENEW.TEST", AES256CTSHMACSHA196)
	if err := renewed.Decrypt(krbtgtKey); err != nil || !renewed.DecryptedEncPart.CName.Equal(name) {
		t.Fatalf("renewed TGT: %v", err)
	}
	if _, ok := findPAC(adElements(renewed.DecryptedEncPart.AuthorizationData)); !ok {
		t.Fatal("renewed TGT lost its PAC")
	}
	// A TGT asked for without the renewable option is not renewable:
	// renewing it fails.
	st, senc, ke := testTGS(t, k, tgt, enc.Key, name, "RENEW.TEST", "RENEW.TEST", krbtgt, func(r *messages.TGSReq) {
		r.ReqBody.KDCOptions = types.NewKrbFlags()
	})
	if ke != nil {
		t.Fatal(ke)
	}
	if flagsWord(senc.Flags.Bytes)&bit(flagRenewable) != 0 {
		t.Fatal("renewable without asking")
	}
	if _, _, ke := testTGS(t, k, st, senc.Key, name, "RENEW.TEST", "RENEW.TEST", krbtgt, func(r *messages.TGSReq) {
		types.SetFlag(&r.ReqBody.KDCOptions, optRenew)
	}); ke == nil || ke.ErrorCode != errBadOption {
		t.Fatalf("renewal of a ticket that is not renewable: %v", ke)
	}
}

// The TGS-REQ authenticator's checksum covers the request body: a body
// changed after it was computed is refused with KRB_AP_ERR_MODIFIED; an
// authenticator from another client than the TGT's with
// KRB_AP_ERR_BADMATCH.
func TestTGSChecksum(t *testing.T) {
	k, err := New(Config{Realm: "CK.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("HTTP/svc.ck.test", Service{}); err != nil {
		t.Fatal(err)
	}
	name, key, kvno := testPrincipalKey(t, k, "alice", AES256CTSHMACSHA196)
	tgt, enc := testAS(t, k, name, "CK.TEST", key, kvno)
	req, err := messages.NewTGSReq(name, "CK.TEST", k.Krb5Config(), tgt, enc.Key, srv("HTTP/svc.ck.test"), false)
	if err != nil {
		t.Fatal(err)
	}
	req.ReqBody.SName = srv("krbtgt/CK.TEST") // after the checksum
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var ke messages.KRBError
	if err := ke.Unmarshal(k.Serve(b)); err != nil || ke.ErrorCode != errApModified {
		t.Fatalf("tampered body: %v %d", err, ke.ErrorCode)
	}
	bob := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "bob")
	if _, _, ke := testTGS(t, k, tgt, enc.Key, bob, "CK.TEST", "CK.TEST", srv("HTTP/svc.ck.test"), func(*messages.TGSReq) {}); ke == nil || ke.ErrorCode != errApBadMatch {
		t.Fatalf("authenticator of another client: %v", ke)
	}
}

// SetPassword gives an account new keys and the next kvno: the old keytab
// no longer opens the service's new tickets, a new one does.
func TestSetPassword(t *testing.T) {
	k, err := New(Config{Realm: "KV.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("HTTP/svc.kv.test", Service{Password: "one"}); err != nil {
		t.Fatal(err)
	}
	_, oldKey, oldKVNO := testPrincipalKey(t, k, "HTTP/svc.kv.test", AES256CTSHMACSHA196)
	if err := k.SetPassword("HTTP/svc.kv.test", "two"); err != nil {
		t.Fatal(err)
	}
	_, newKey, newKVNO := testPrincipalKey(t, k, "HTTP/svc.kv.test", AES256CTSHMACSHA196)
	if newKVNO != oldKVNO+1 || bytes.Equal(oldKey.KeyValue, newKey.KeyValue) {
		t.Fatalf("kvno %d -> %d", oldKVNO, newKVNO)
	}
	name, key, kvno := testPrincipalKey(t, k, "alice", AES256CTSHMACSHA196)
	tgt, enc := testAS(t, k, name, "KV.TEST", key, kvno)
	tkt, _, ke := testTGS(t, k, tgt, enc.Key, name, "KV.TEST", "KV.TEST", srv("HTTP/svc.kv.test"), nil)
	if ke != nil {
		t.Fatal(ke)
	}
	if tkt.EncPart.KVNO != newKVNO {
		t.Fatalf("ticket kvno %d, want %d", tkt.EncPart.KVNO, newKVNO)
	}
	if err := tkt.Decrypt(oldKey); err == nil {
		t.Fatal("the old key opens the new ticket")
	}
	if err := tkt.Decrypt(newKey); err != nil {
		t.Fatal(err)
	}
}
