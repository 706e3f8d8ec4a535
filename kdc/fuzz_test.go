package kdc

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// fuzzRealm is a KDC on a fixed clock with alice and bob (different
// passwords) and one service, and a pre-authenticated AS-REQ of alice
// and a TGS-REQ of alice for the service, valid at that clock.
type fuzzRealm struct {
	k      *KDC
	asReq  []byte
	tgsReq []byte
	tgsKey types.EncryptionKey // krbtgt's first key
	svcKey types.EncryptionKey
	alice  types.PrincipalName
}

var fuzzNow = time.Now().UTC().Truncate(time.Second)

func newFuzzRealm(t testing.TB, etype int32) *fuzzRealm {
	k, err := New(Config{Realm: "FUZZ.TEST", Time: func() time.Time { return fuzzNow }, MaxSkew: 100 * 365 * 24 * time.Hour,
		Enctypes: []int32{etype}})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "alice-pw", User{}); err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("bob", "bob-pw", User{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("HTTP/svc.fuzz.test", Service{}); err != nil {
		t.Fatal(err)
	}
	f := &fuzzRealm{k: k}
	var akey types.EncryptionKey
	var kvno int
	f.alice, akey, kvno = testPrincipalKey(t, k, "alice", etype)
	_, f.tgsKey, _ = testPrincipalKey(t, k, "krbtgt/FUZZ.TEST", etype)
	_, f.svcKey, _ = testPrincipalKey(t, k, "HTTP/svc.fuzz.test", etype)

	req, err := messages.NewASReqForTGT("FUZZ.TEST", k.Krb5Config(), f.alice)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := types.GetPAEncTSEncAsnMarshalled()
	ed, _ := crypto.GetEncryptedData(ts, akey, usagePAEncTimestamp, kvno)
	edb, _ := ed.Marshal()
	req.PAData = append(req.PAData, types.PAData{PADataType: paEncTimestamp, PADataValue: edb})
	if f.asReq, err = req.Marshal(); err != nil {
		t.Fatal(err)
	}
	tgt, enc := testAS(t, k, f.alice, "FUZZ.TEST", akey, kvno)
	treq, err := messages.NewTGSReq(f.alice, "FUZZ.TEST", k.Krb5Config(), tgt, enc.Key, types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/svc.fuzz.test"), false)
	if err != nil {
		t.Fatal(err)
	}
	if f.tgsReq, err = treq.Marshal(); err != nil {
		t.Fatal(err)
	}
	return f
}

// check is the oracle: every reply parses as what it claims to be, and a
// ticket issued (a TGT sealed with the krbtgt key, a service ticket with
// the service's key) is always alice's: the only principal whose key the
// seeds were made with.
func (f *fuzzRealm) check(t *testing.T, rep []byte) {
	if rep == nil {
		return
	}
	if len(rep) == 0 {
		t.Fatal("empty reply")
	}
	var tkt messages.Ticket
	var cname types.PrincipalName
	switch rep[0] {
	case 0x7e:
		var ke messages.KRBError
		if err := ke.Unmarshal(rep); err != nil {
			t.Fatalf("KRB-ERROR does not parse: %v", err)
		}
		return
	case 0x6b:
		var r messages.ASRep
		if err := r.Unmarshal(rep); err != nil {
			t.Fatalf("AS-REP does not parse: %v", err)
		}
		tkt, cname = r.Ticket, r.CName
	case 0x6d:
		var r messages.TGSRep
		if err := r.Unmarshal(rep); err != nil {
			t.Fatalf("TGS-REP does not parse: %v", err)
		}
		tkt, cname = r.Ticket, r.CName
	default:
		t.Fatalf("reply of tag 0x%02x", rep[0])
	}
	if !cname.Equal(f.alice) {
		t.Fatalf("ticket issued to %v", cname)
	}
	key := f.svcKey
	if isTGS(tkt.SName) {
		key = f.tgsKey
	}
	if err := tkt.Decrypt(key); err != nil {
		t.Fatalf("issued ticket does not decrypt: %v", err)
	}
	if !tkt.DecryptedEncPart.CName.Equal(f.alice) {
		t.Fatalf("ticket sealed for %v", tkt.DecryptedEncPart.CName)
	}
}

// FuzzASReq mutates a pre-authenticated AS-REQ of alice: the KDC never
// panics, always answers with a reply that parses, and never issues a
// ticket to anyone but alice.
func FuzzASReq(f *testing.F) {
	r := newFuzzRealm(f, AES256CTSHMACSHA196)
	f.Add(r.asReq)
	f.Add(r.asReq[:len(r.asReq)/2])
	f.Add([]byte{0x6a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		r.check(t, r.k.serve(b))
	})
}

// FuzzTGSReq mutates a TGS-REQ of alice for a service, with the same
// oracle. The realm's keys are rc4-hmac, whose crypto is cheap under the
// fuzzer's instrumentation, so that the mutations reach past the TGT's
// decryption often; the AES paths are those of FuzzASReq and the tests.
func FuzzTGSReq(f *testing.F) {
	r := newFuzzRealm(f, RC4HMAC)
	f.Add(r.tgsReq)
	f.Add(r.tgsReq[:len(r.tgsReq)-1])
	f.Add([]byte{0x6c, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r.check(t, r.k.serve(b))
	})
}

// FuzzReadFrame checks the TCP framing: a frame is returned only when the
// length prefix is valid and within the cap, and then it is exactly the
// bytes that followed.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3})
	f.Add([]byte{0x80, 0, 0, 1, 0})
	f.Add([]byte{0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 1024
		got, err := ReadFrame(bytes.NewReader(b), max)
		if err != nil {
			if got != nil {
				t.Fatal("data returned with an error")
			}
			return
		}
		n := binary.BigEndian.Uint32(b)
		if n&0x80000000 != 0 || n == 0 || n > max || len(b) < 4+int(n) || !bytes.Equal(got, b[4:4+n]) {
			t.Fatalf("frame %x from %x", got, b)
		}
	})
}
