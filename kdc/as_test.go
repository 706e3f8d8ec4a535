package kdc

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

func asReqBytes(t *testing.T, k *KDC, realm string, cname types.PrincipalName, etypes []int32, pa ...types.PAData) []byte {
	t.Helper()
	req, err := messages.NewASReqForTGT(realm, k.Krb5Config(), cname)
	if err != nil {
		t.Fatal(err)
	}
	req.ReqBody.EType = etypes
	req.PAData = append(req.PAData, pa...)
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func krbErrorOf(t *testing.T, rep []byte) messages.KRBError {
	t.Helper()
	var ke messages.KRBError
	if err := ke.Unmarshal(rep); err != nil {
		t.Fatalf("reply is not a KRB-ERROR: %v", err)
	}
	return ke
}

// Without pre-authentication the KDC answers KDC_ERR_PREAUTH_REQUIRED
// with METHOD-DATA e-data: PA-ETYPE-INFO2 naming, in the client's order,
// the enctypes it asked for that the account has keys of, with the salt,
// then PA-ENC-TIMESTAMP, as MIT and AD send it.
func TestPreauthRequired(t *testing.T) {
	k, err := New(Config{Realm: "AS.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{Enctypes: []int32{AES128CTSHMACSHA196, AES256CTSHMACSHA196}}); err != nil {
		t.Fatal(err)
	}
	alice, _, _ := testPrincipalKey(t, k, "alice", AES128CTSHMACSHA196)
	ke := krbErrorOf(t, k.Serve(asReqBytes(t, k, "AS.TEST", alice, []int32{RC4HMAC, AES128CTSHMACSHA196, AES256CTSHMACSHA384192, AES256CTSHMACSHA196})))
	if ke.ErrorCode != errPreauthRequired {
		t.Fatalf("error %d", ke.ErrorCode)
	}
	var md types.PADataSequence
	if err := md.Unmarshal(ke.EData); err != nil {
		t.Fatal(err)
	}
	if len(md) != 2 || md[0].PADataType != paETypeInfo2 || md[1].PADataType != paEncTimestamp {
		t.Fatalf("METHOD-DATA %+v", md)
	}
	var info types.ETypeInfo2
	if err := info.Unmarshal(md[0].PADataValue); err != nil {
		t.Fatal(err)
	}
	if len(info) != 2 || info[0].EType != AES128CTSHMACSHA196 || info[1].EType != AES256CTSHMACSHA196 || info[0].Salt != "AS.TESTalice" {
		t.Fatalf("ETYPE-INFO2 %+v", info)
	}
	if ke.Realm != "AS.TEST" || ke.CName.PrincipalNameString() != "alice" || ke.SName.PrincipalNameString() != "krbtgt/AS.TEST" {
		t.Fatalf("KRB-ERROR names: %+v", ke)
	}
}

// Input that is not a request: a realm not served gets
// KDC_ERR_WRONG_REALM, an oversized or malformed request KRB_ERR_GENERIC,
// bytes that are no Kerberos request at all nothing (a UDP server drops
// them).
func TestBadRequests(t *testing.T) {
	k, err := New(Config{Realm: "AS.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{}); err != nil {
		t.Fatal(err)
	}
	alice, _, _ := testPrincipalKey(t, k, "alice", AES256CTSHMACSHA196)
	if ke := krbErrorOf(t, k.Serve(asReqBytes(t, k, "OTHER.TEST", alice, []int32{18}))); ke.ErrorCode != errWrongRealm {
		t.Fatalf("wrong realm: %d", ke.ErrorCode)
	}
	if ke := krbErrorOf(t, k.Serve(append([]byte{0x6a}, make([]byte, MaxRequestSize)...))); ke.ErrorCode != errGeneric {
		t.Fatalf("oversized: %d", ke.ErrorCode)
	}
	if ke := krbErrorOf(t, k.Serve([]byte{0x6a, 0x03, 0x30, 0x01, 0x00})); ke.ErrorCode != errGeneric {
		t.Fatalf("malformed: %d", ke.ErrorCode)
	}
	if rep := k.Serve([]byte("GET / HTTP/1.1\r\n")); rep != nil {
		t.Fatalf("reply to garbage: %x", rep)
	}
}

// PA-PAC-REQUEST with include-pac FALSE (MS-KILE 2.2.3) gives a TGT
// without a PAC, and service tickets from it carry none either.
func TestNoPACRequested(t *testing.T) {
	k, err := New(Config{Realm: "AS.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddService("HTTP/svc.as.test", Service{}); err != nil {
		t.Fatal(err)
	}
	alice, key, kvno := testPrincipalKey(t, k, "alice", AES256CTSHMACSHA196)
	ts, _ := types.GetPAEncTSEncAsnMarshalled()
	ed, _ := crypto.GetEncryptedData(ts, key, usagePAEncTimestamp, kvno)
	edb, _ := ed.Marshal()
	noPAC := []byte{0x30, 0x05, 0xa0, 0x03, 0x01, 0x01, 0x00}
	rep := k.Serve(asReqBytes(t, k, "AS.TEST", alice, []int32{18},
		types.PAData{PADataType: paEncTimestamp, PADataValue: edb}, types.PAData{PADataType: paPACRequest, PADataValue: noPAC}))
	var asRep messages.ASRep
	if err := asRep.Unmarshal(rep); err != nil {
		t.Fatal(err)
	}
	_, tgsKey, _ := testPrincipalKey(t, k, "krbtgt/AS.TEST", AES256CTSHMACSHA196)
	tgt := asRep.Ticket
	if err := tgt.Decrypt(tgsKey); err != nil {
		t.Fatal(err)
	}
	if _, ok := findPAC(adElements(tgt.DecryptedEncPart.AuthorizationData)); ok {
		t.Fatal("PAC in the TGT")
	}
	tkt, _, ke := testTGS(t, k, asRep.Ticket, tgt.DecryptedEncPart.Key, alice, "AS.TEST", "AS.TEST", srv("HTTP/svc.as.test"), nil)
	if ke != nil {
		t.Fatal(ke)
	}
	_, svcKey, _ := testPrincipalKey(t, k, "HTTP/svc.as.test", AES256CTSHMACSHA196)
	if err := tkt.Decrypt(svcKey); err != nil {
		t.Fatal(err)
	}
	if _, ok := findPAC(adElements(tkt.DecryptedEncPart.AuthorizationData)); ok {
		t.Fatal("PAC in the service ticket")
	}
}

// A reply bigger than a UDP datagram may carry becomes
// KRB_ERR_RESPONSE_TOO_BIG on UDP, and the same request over TCP gets
// the reply (RFC 4120 7.2.1).
func TestResponseTooBigUDP(t *testing.T) {
	k, err := New(Config{Realm: "BIG.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var sids []string
	for i := range 300 {
		sids = append(sids, fmt.Sprintf("S-1-5-21-1-2-3-%d", 5000+i))
	}
	if err := k.AddUser("alice", "pw", User{ExtraSIDs: sids}); err != nil {
		t.Fatal(err)
	}
	addr, err := k.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	alice, key, kvno := testPrincipalKey(t, k, "alice", AES256CTSHMACSHA196)
	ts, _ := types.GetPAEncTSEncAsnMarshalled()
	ed, _ := crypto.GetEncryptedData(ts, key, usagePAEncTimestamp, kvno)
	edb, _ := ed.Marshal()
	req := asReqBytes(t, k, "BIG.TEST", alice, []int32{18}, types.PAData{PADataType: paEncTimestamp, PADataValue: edb})

	u, err := net.Dial("udp", addr.UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := u.Write(req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	n, err := u.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if ke := krbErrorOf(t, buf[:n]); ke.ErrorCode != errResponseTooBig {
		t.Fatalf("UDP: error %d", ke.ErrorCode)
	}

	c, err := net.Dial("tcp", addr.TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	frame := append([]byte{byte(len(req) >> 24), byte(len(req) >> 16), byte(len(req) >> 8), byte(len(req))}, req...)
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	rep, err := ReadFrame(c, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var asRep messages.ASRep
	if err := asRep.Unmarshal(rep); err != nil || len(rep) <= maxUDPReply {
		t.Fatalf("TCP reply of %d bytes: %v", len(rep), err)
	}
	// A bad frame (reserved bit) closes the connection without a reply.
	if _, err := c.Write([]byte{0x80, 0, 0, 4, 1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFrame(c, 1<<20); err == nil {
		t.Fatal("reply to a frame with the reserved bit set")
	}
}

// KDC options the KDC does not serve (user-to-user, postdating,
// validation) are refused with KDC_ERR_BADOPTION, not ignored.
func TestUnsupportedOptions(t *testing.T) {
	k, err := New(Config{Realm: "AS.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{}); err != nil {
		t.Fatal(err)
	}
	alice, _, _ := testPrincipalKey(t, k, "alice", AES256CTSHMACSHA196)
	for _, opt := range []int{5, 6, 28, 31} {
		req, err := messages.NewASReqForTGT("AS.TEST", k.Krb5Config(), alice)
		if err != nil {
			t.Fatal(err)
		}
		types.SetFlag(&req.ReqBody.KDCOptions, opt)
		b, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if ke := krbErrorOf(t, k.Serve(b)); ke.ErrorCode != errBadOption {
			t.Errorf("option %d: error %d", opt, ke.ErrorCode)
		}
	}
}
