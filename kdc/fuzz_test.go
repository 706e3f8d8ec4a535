package kdc

import (
	"bytes"
	"crypto/sha256"
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

// fuzzNow and detRand make newFuzzRealm the same in every process: the
// fuzzer's workers must be able to open the tickets in the seeds the
// coordinator made.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// detRand is a deterministic byte stream (SHA-256 of a counter), for
// fuzzing only.
type detRand struct{ n uint64 }

func (r *detRand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); {
		r.n++
		h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, r.n))
		i += copy(p[i:], h[:])
	}
	return len(p), nil
}

func newFuzzRealm(t testing.TB, etype int32) *fuzzRealm {
	k, err := New(Config{Realm: "FUZZ.TEST", Time: func() time.Time { return fuzzNow }, MaxSkew: 100 * 365 * 24 * time.Hour,
		Enctypes: []int32{etype}, Rand: &detRand{}})
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

// FuzzVerifyPAC mutates a PAC the KDC signed: the only PAC that verifies
// with the server and KDC keys is the one signed (every byte is under
// the server signature or, for the server signature itself, the KDC's).
func FuzzVerifyPAC(f *testing.F) {
	k, err := New(Config{Realm: "PACF.TEST"})
	if err != nil {
		f.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{GroupRIDs: []uint32{512}, ExtraSIDs: []string{"S-1-18-1"}}); err != nil {
		f.Fatal(err)
	}
	p, _ := k.lookupString("alice")
	// A fixed time: the signed PAC is the same in every run, so inputs
	// the fuzzer kept from an earlier run are judged against it.
	pi, err := newPACInfo(p, k.realm("PACF.TEST"), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	server := types.EncryptionKey{KeyType: AES256CTSHMACSHA196, KeyValue: bytes.Repeat([]byte{7}, 32)}
	kdc := types.EncryptionKey{KeyType: AES256CTSHMACSHA196, KeyValue: bytes.Repeat([]byte{9}, 32)}
	signed, err := buildPAC(pi, server, kdc, func() ([]byte, error) { return checksum(kdc, []byte("ticket")) })
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(signed[:200])
	f.Fuzz(func(t *testing.T, b []byte) {
		if verifyPAC(b, server, &kdc) == nil && !bytes.Equal(b, signed) {
			t.Fatalf("a PAC other than the one signed verifies: %x", b)
		}
	})
}

// FuzzParseForUser checks the PA-FOR-USER parser: what it accepts
// encodes back to the same bytes.
func FuzzParseForUser(f *testing.F) {
	seed, err := marshalForUser(&forUser{name: types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"), realm: "R.TEST",
		cksumType: -138, cksum: bytes.Repeat([]byte{1}, 16), authPackage: "Kerberos"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		fu, ok := parseForUser(b)
		if !ok {
			if fu != nil {
				t.Fatal("value returned on failure")
			}
			return
		}
		again, err := marshalForUser(fu)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip %x -> %x (%v)", b, again, err)
		}
	})
}

// FuzzParseAuthData checks the AuthorizationData parser the same way.
func FuzzParseAuthData(f *testing.F) {
	el, err := pacADIfRelevant([]byte{1, 2, 3})
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := marshalAuthData([]adElement{el, {typ: 4, data: []byte("x")}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		ad, ok := parseAuthData(b)
		if !ok {
			return
		}
		again, err := marshalAuthData(ad)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip %x -> %x (%v)", b, again, err)
		}
	})
}
