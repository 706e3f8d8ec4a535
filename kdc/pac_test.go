package kdc

import (
	"bytes"
	"os"
	"testing"

	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/testkit"
)

func loadVector(t *testing.T, elem ...string) *testkit.Vector {
	t.Helper()
	b, err := os.ReadFile(testkit.Path(elem...))
	if err != nil {
		t.Fatal(err)
	}
	v, err := testkit.ParseVector(elem[len(elem)-1], b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func vectorKey(t *testing.T, v *testkit.Vector, name string, etype int32) types.EncryptionKey {
	t.Helper()
	k, err := v.Hex(name)
	if err != nil || len(k) == 0 {
		t.Fatalf("%s: %s: %v", v.Name, name, err)
	}
	return types.EncryptionKey{KeyType: etype, KeyValue: k}
}

// The PAC of MIT's t_pac.c (from Samba's torture suite, a Windows Server
// 2003 domain, rc4-hmac keys of both the member server and the KDC):
// verifyPAC accepts its server and KDC signatures and refuses it with a
// byte changed; re-signing its logon info and client info buffers with
// signPAC gives back the PAC byte for byte (same layout, same
// signatures).
func TestPACSignatureVectorMIT(t *testing.T) {
	v := loadVector(t, "kdc", "pac-mit-t_pac-w2003.txt")
	server := vectorKey(t, v, "server-key", RC4HMAC)
	kdc := vectorKey(t, v, "kdc-key", RC4HMAC)
	if err := verifyPAC(v.Data, server, &kdc); err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, at := range []int{0x50, 0x230, 0x245, 0x25c} { // logon info, client info, server and KDC signatures
		bad := bytes.Clone(v.Data)
		bad[at] ^= 1
		if err := verifyPAC(bad, server, &kdc); err == nil {
			t.Errorf("byte 0x%x changed: the PAC still verifies", at)
		}
	}
	var bufs []pacBuf
	for i := range 2 { // buffers 1 and 10, as laid out
		e := v.Data[8+16*i:]
		off, size := le.Uint64(e[8:]), le.Uint32(e[4:])
		bufs = append(bufs, pacBuf{typ: le.Uint32(e), data: v.Data[off : off+uint64(size)]})
	}
	got, err := signPAC(bufs, server, kdc, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The vector's last signature buffer is padded to 8 bytes.
	if want := v.Data; !bytes.Equal(got, want[:len(got)]) || len(want)-len(got) >= 8 {
		t.Fatalf("re-signed PAC differs:\n got %x\nwant %x", got, want)
	}
}

// The PAC an Active Directory KDC issued (gokrb5's test domain, aes256):
// its server signature verifies with the service key, and not with
// another.
func TestPACSignatureVectorAD(t *testing.T) {
	v := loadVector(t, "kerberos", "pac-gokrb5-ad.txt")
	key := vectorKey(t, v, "key", AES256CTSHMACSHA196)
	if err := verifyPAC(v.Data, key, nil); err != nil {
		t.Fatalf("verify: %v", err)
	}
	key.KeyValue = bytes.Clone(key.KeyValue)
	key.KeyValue[0] ^= 1
	if err := verifyPAC(v.Data, key, nil); err == nil {
		t.Fatal("verifies with a wrong key")
	}
}

// A PAC the KDC builds verifies with the keys it was signed with, for each
// enctype, and carries the ticket and full signatures only in service
// tickets.
func TestBuildPAC(t *testing.T) {
	k, err := New(Config{Realm: "PAC.TEST"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.AddUser("alice", "pw", User{ExtraSIDs: []string{"S-1-18-1"}}); err != nil {
		t.Fatal(err)
	}
	p, _ := k.lookupString("alice")
	pi, err := newPACInfo(p, k.realm("PAC.TEST"), fuzzNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []int32{AES256CTSHMACSHA196, AES128CTSHMACSHA196, AES256CTSHMACSHA384192, AES128CTSHMACSHA256128, RC4HMAC} {
		server := types.EncryptionKey{KeyType: e, KeyValue: bytes.Repeat([]byte{1}, keySize(e))}
		kdc := types.EncryptionKey{KeyType: AES256CTSHMACSHA196, KeyValue: bytes.Repeat([]byte{2}, 32)}
		for _, service := range []bool{false, true} {
			var ts func() ([]byte, error)
			if service {
				ts = func() ([]byte, error) { return checksum(kdc, []byte("ticket")) }
			}
			b, err := buildPAC(pi, server, kdc, ts)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyPAC(b, server, &kdc); err != nil {
				t.Fatalf("enctype %d: %v", e, err)
			}
			n := le.Uint32(b)
			want := uint32(7)
			if service {
				want = 9
			}
			if n != want {
				t.Fatalf("enctype %d service %v: %d buffers", e, service, n)
			}
		}
	}
}
