package kdc

import (
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// marshalForUser encodes PA-FOR-USER, for clients (tests, sspitest).
func marshalForUser(fu *forUser) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addPrincipal(b, 0, fu.name)
		addString(b, 1, fu.realm)
		b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				addInt(b, 0, int64(fu.cksumType))
				addOctets(b, 1, fu.cksum)
			})
		})
		addString(b, 3, fu.authPackage)
	})
	return b.Bytes()
}

// A minimal Kerberos client over gokrb5's messages, for the exchanges
// package kerberos does not make (S4U, cross-realm paths).

func testPrincipalKey(t testing.TB, k *KDC, name string, etype int32) (types.PrincipalName, types.EncryptionKey, int) {
	t.Helper()
	k.mu.RLock()
	defer k.mu.RUnlock()
	p, err := k.lookupString(name)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := p.keyOf(etype)
	if !ok {
		t.Fatalf("%s has no key of enctype %d", name, etype)
	}
	return p.name, key, p.kvno
}

// testAS gets a TGT for cname@realm with key (pre-authenticated).
func testAS(t testing.TB, k *KDC, cname types.PrincipalName, realm string, key types.EncryptionKey, kvno int) (messages.Ticket, messages.EncKDCRepPart) {
	t.Helper()
	req, err := messages.NewASReqForTGT(realm, k.Krb5Config(), cname)
	if err != nil {
		t.Fatal(err)
	}
	req.ReqBody.EType = []int32{key.KeyType}
	ts, err := types.GetPAEncTSEncAsnMarshalled()
	if err != nil {
		t.Fatal(err)
	}
	ed, err := crypto.GetEncryptedData(ts, key, usagePAEncTimestamp, kvno)
	if err != nil {
		t.Fatal(err)
	}
	edb, err := ed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	req.PAData = append(req.PAData, types.PAData{PADataType: paEncTimestamp, PADataValue: edb})
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rep := k.Serve(b)
	var asRep messages.ASRep
	if err := asRep.Unmarshal(rep); err != nil {
		t.Fatalf("AS: %v", err)
	}
	plain, err := crypto.DecryptEncPart(asRep.EncPart, key, usageASRepEncPart)
	if err != nil {
		t.Fatal(err)
	}
	var enc messages.EncKDCRepPart
	if err := enc.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	return asRep.Ticket, enc
}

// testTGS sends a TGS-REQ to the realm of tgt's TGS for sname@realm;
// edit changes the request before it is authenticated, extra padata are
// added after. It returns the ticket and reply part, or the KRB-ERROR.
func testTGS(t testing.TB, k *KDC, tgt messages.Ticket, session types.EncryptionKey, cname types.PrincipalName, crealm string,
	realm string, sname types.PrincipalName, edit func(*messages.TGSReq), extra ...types.PAData) (messages.Ticket, messages.EncKDCRepPart, *messages.KRBError) {
	t.Helper()
	req, err := messages.NewTGSReq(cname, realm, k.Krb5Config(), tgt, session, sname, false)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&req)
		body, err := req.ReqBody.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		et, _ := crypto.GetEtype(session.KeyType)
		cb, err := et.GetChecksumHash(session.KeyValue, body, usageTGSReqAuthCksum)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := types.NewAuthenticator(crealm, cname)
		if err != nil {
			t.Fatal(err)
		}
		auth.Cksum = types.Checksum{CksumType: et.GetHashID(), Checksum: cb}
		ap, err := messages.NewAPReq(tgt, session, auth)
		if err != nil {
			t.Fatal(err)
		}
		apb, err := ap.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		req.PAData = types.PADataSequence{{PADataType: paTGSReq, PADataValue: apb}}
	}
	req.PAData = append(req.PAData, extra...)
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rep := k.Serve(b)
	var ke messages.KRBError
	if len(rep) > 0 && rep[0] == 0x7e {
		if err := ke.Unmarshal(rep); err != nil {
			t.Fatal(err)
		}
		return messages.Ticket{}, messages.EncKDCRepPart{}, &ke
	}
	var tgsRep messages.TGSRep
	if err := tgsRep.Unmarshal(rep); err != nil {
		t.Fatalf("TGS: %v", err)
	}
	plain, err := crypto.DecryptEncPart(tgsRep.EncPart, session, usageTGSRepSessionKey)
	if err != nil {
		t.Fatal(err)
	}
	var enc messages.EncKDCRepPart
	if err := enc.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	return tgsRep.Ticket, enc, nil
}

// forUserPAData returns PA-FOR-USER for user@realm, signed with the TGT
// session key (MS-SFU 2.2.1).
func forUserPAData(t testing.TB, user types.PrincipalName, realm string, session types.EncryptionKey) types.PAData {
	t.Helper()
	et, err := crypto.GetChksumEtype(-138)
	if err != nil {
		t.Fatal(err)
	}
	mac, err := et.GetChecksumHash(session.KeyValue, forUserChecksumData(user, realm, "Kerberos"), keyUsageNonKerbCksumSalt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := marshalForUser(&forUser{name: user, realm: realm, cksumType: -138, cksum: mac, authPackage: "Kerberos"})
	if err != nil {
		t.Fatal(err)
	}
	return types.PAData{PADataType: paForUser, PADataValue: b}
}
