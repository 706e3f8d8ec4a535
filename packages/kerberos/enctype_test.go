package kerberos

import (
	"bytes"
	"crypto/rand"
	stdrc4 "crypto/rc4"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestNFoldVectors checks nfold against the n-fold examples of RFC 3961
// appendix A.1.
func TestNFoldVectors(t *testing.T) {
	for _, v := range []struct {
		in   string
		bits int
		want string
	}{
		{"012345", 64, "be072631276b1955"},
		{"password", 56, "78a07b6caf85fa"},
		{"Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0"},
		{"password", 168, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"},
		{"MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 192, "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b"},
		{"Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215"},
		{"ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"},
		{"kerberos", 64, "6b65726265726f73"},
		{"kerberos", 128, "6b65726265726f737b9b5b2b93132b93"},
	} {
		if got := hex.EncodeToString(nfold([]byte(v.in), v.bits/8)); got != v.want {
			t.Errorf("%d-fold(%q) = %s, want %s", v.bits, v.in, got, v.want)
		}
	}
}

// TestDeriveKeyMatchesGokrb5 compares deriveKey with gokrb5's DeriveKey
// for every AES enctype, many usages and random keys.
func TestDeriveKeyMatchesGokrb5(t *testing.T) {
	for _, etype := range []int32{17, 18, 19, 20} {
		key, err := randomKey(rand.Reader, etype)
		if err != nil {
			t.Fatal(err)
		}
		et, _ := crypto.GetEtype(etype)
		for _, usage := range []uint32{1, 2, 3, 7, 11, 12, 14, 22, 23, 24, 25, 1023, 0xfffffffe} {
			for _, c := range []byte{0xAA, 0x55, 0x99} {
				var label [5]byte
				binary.BigEndian.PutUint32(label[:], usage)
				label[4] = c
				want, err := et.DeriveKey(key.KeyValue, label[:])
				if err != nil {
					t.Fatal(err)
				}
				got, err := deriveKey(etype, key.KeyValue, usage, c)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("etype %d usage %d/%#x: %x, want %x", etype, usage, c, got, want)
				}
			}
		}
	}
}

// TestEncPartMatchesGokrb5 encrypts with each side and decrypts with the
// other, for every AES enctype and lengths around the block size, and
// checks that a flipped bit anywhere fails our decryption.
func TestEncPartMatchesGokrb5(t *testing.T) {
	for _, etype := range []int32{17, 18, 19, 20, 23} {
		key, err := randomKey(rand.Reader, etype)
		if err != nil {
			t.Fatal(err)
		}
		et, _ := crypto.GetEtype(etype)
		for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000} {
			plain := make([]byte, n)
			rand.Read(plain)
			ours, err := encryptEncPart(key, 11, plain)
			if err != nil {
				t.Fatal(err)
			}
			back, err := et.DecryptMessage(key.KeyValue, ours, 11)
			if err != nil || !bytes.Equal(back, plain) {
				t.Fatalf("etype %d len %d: gokrb5 does not decrypt ours: %v", etype, n, err)
			}
			theirs, err := crypto.GetEncryptedData(plain, key, 11, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decryptEncPart(theirs, key, 11)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("etype %d len %d: ours does not decrypt gokrb5's: %v", etype, n, err)
			}
			if _, err := decryptEncPart(types.EncryptedData{EType: etype, Cipher: theirs.Cipher}, key, 12); err == nil {
				t.Fatalf("etype %d len %d: decrypts under another usage", etype, n)
			}
			for i := range theirs.Cipher {
				bad := bytes.Clone(theirs.Cipher)
				bad[i] ^= 0x10
				if _, err := decryptEncPart(types.EncryptedData{EType: etype, Cipher: bad}, key, 11); err == nil {
					t.Fatalf("etype %d len %d: byte %d flipped, still decrypts", etype, n, i)
				}
			}
		}
	}
}

// TestBuildAPReqGokrb5Accepts checks the AP-REQ builder against gokrb5:
// the ticket encodes as gokrb5's Ticket.Marshal does, gokrb5 parses the
// message and its own verifier accepts it with the service keytab, and
// every authenticator field reads back.
func TestBuildAPReqGokrb5Accepts(t *testing.T) {
	for _, etype := range []int32{17, 18, 19, 20, 23} {
		m := newMemRealm(t, etype, nil)
		var tkt *ticket
		for _, x := range m.client.tickets {
			tkt = x
		}
		want, err := tkt.ticket.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var tb cryptobyte.Builder
		addTicket(&tb, &tkt.ticket)
		if got := tb.BytesOrPanic(); !bytes.Equal(got, want) {
			t.Fatalf("etype %d: ticket encodes as %x, gokrb5 as %x", etype, got, want)
		}
		subkey, _ := randomKey(rand.Reader, etype)
		ad, _ := apOptionsCBT()
		now := time.Now()
		a := authenticator{crealm: tkt.crealm, cname: tkt.cname, cksum: (&gssChecksum{flags: gssConf}).marshal(),
			ctime: now.Truncate(time.Second), cusec: now.Nanosecond() / 1000, subkey: subkey, seq: 0x12345, ad: ad}
		for _, mutual := range []bool{false, true} {
			for _, bare := range []bool{false, true} {
				tok, err := buildAPReq(tkt, &a, mutual, bare)
				if err != nil {
					t.Fatal(err)
				}
				msg := tok
				if !bare {
					id, inner, err := parseFraming(tok)
					if err != nil || id != tokAPReq {
						t.Fatalf("framing: %#x %v", id, err)
					}
					msg = inner
				}
				var req messages.APReq
				if err := req.Unmarshal(msg); err != nil {
					t.Fatalf("etype %d: gokrb5 does not parse our AP-REQ: %v", etype, err)
				}
				if ok, err := req.Verify(m.kt, 5*time.Minute, types.HostAddress{}, nil); !ok {
					t.Fatalf("etype %d: gokrb5 does not verify our AP-REQ: %v", etype, err)
				}
				if hasMutualOption(&req) != mutual {
					t.Fatalf("mutual-required option %v, want %v", !mutual, mutual)
				}
				got := req.Authenticator
				if got.AVNO != 5 || got.CRealm != a.crealm || !got.CName.Equal(a.cname) || !got.CTime.Equal(a.ctime) ||
					got.Cusec != a.cusec || got.SeqNumber != int64(a.seq) || got.Cksum.CksumType != cksumTypeGSS ||
					!bytes.Equal(got.Cksum.Checksum, a.cksum) || got.SubKey.KeyType != etype || !bytes.Equal(got.SubKey.KeyValue, subkey.KeyValue) ||
					!hasAPOptionsCBT(got.AuthorizationData) {
					t.Fatalf("etype %d: the authenticator does not read back field for field", etype)
				}
			}
		}
	}
}

// TestRC4StreamMatchesStdlib checks the RC4 of the message paths against
// crypto/rc4, rekeyed in place, over key and message lengths and split
// calls.
func TestRC4StreamMatchesStdlib(t *testing.T) {
	var c rc4Stream
	for _, kl := range []int{1, 5, 16, 32, 255, 256} {
		for _, n := range []int{0, 1, 8, 100, 1000} {
			key := make([]byte, kl)
			rand.Read(key)
			src := make([]byte, n)
			rand.Read(src)
			std, err := stdrc4.NewCipher(key)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]byte, n)
			std.XORKeyStream(want, src)
			c.reset(key)
			got := bytes.Clone(src)
			c.XORKeyStream(got[:n/3], got[:n/3])
			c.XORKeyStream(got[n/3:], got[n/3:])
			if !bytes.Equal(got, want) {
				t.Fatalf("key length %d, %d bytes: differs from crypto/rc4", kl, n)
			}
		}
	}
}

// TestRC4FramingLen checks the framing length against the DER encoder.
func TestRC4FramingLen(t *testing.T) {
	for _, n := range []int{0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffff, 0x1000000} {
		if got, want := rc4FramingLen(n), len(appendDERLength([]byte{0x60}, n))+rc4OIDLen; got != want {
			t.Errorf("rc4FramingLen(%#x) = %d, want %d", n, got, want)
		}
	}
}

// FuzzEncPart holds decryptEncPart to gokrb5's decryption on arbitrary
// ciphertext, for each AES enctype and one fixed key: both reject it, or
// both accept it with the same plaintext. A seed encrypted by gokrb5 and
// mutated is the interesting case: one flipped bit must fail both.
func FuzzEncPart(f *testing.F) {
	keys := map[int32]types.EncryptionKey{}
	for _, etype := range []int32{17, 18, 19, 20} {
		k := make([]byte, 32)
		if etype == 17 || etype == 19 {
			k = k[:16]
		}
		for i := range k {
			k[i] = byte(i*7 + int(etype))
		}
		keys[etype] = types.EncryptionKey{KeyType: etype, KeyValue: k}
		for _, n := range []int{0, 5, 16, 40} {
			ed, err := crypto.GetEncryptedData(make([]byte, n), keys[etype], 11, 0)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(byte(etype), ed.Cipher)
		}
	}
	f.Fuzz(func(t *testing.T, e byte, cipher []byte) {
		etype := []int32{17, 18, 19, 20}[int(e)%4]
		key := keys[etype]
		got, err := decryptEncPart(types.EncryptedData{EType: etype, Cipher: cipher}, key, 11)
		et, _ := crypto.GetEtype(etype)
		if len(cipher) < et.GetConfounderByteSize()+et.GetHMACBitLength()/8 {
			if err == nil {
				t.Fatalf("etype %d: %d-byte ciphertext accepted", etype, len(cipher))
			}
			return
		}
		want, werr := et.DecryptMessage(key.KeyValue, cipher, 11)
		if (err == nil) != (werr == nil) {
			t.Fatalf("etype %d: ours says %v, gokrb5 says %v", etype, err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("etype %d: plaintexts differ", etype)
		}
	})
}

// TestDecryptEncPartOddKeys feeds keys of every wrong length for each
// enctype (a session key comes out of a ticket or an authenticator): an
// error, never a panic.
func TestDecryptEncPartOddKeys(t *testing.T) {
	cipher := make([]byte, 64)
	for _, etype := range []int32{17, 18, 19, 20, 23} {
		for n := 0; n <= 40; n++ {
			key := types.EncryptionKey{KeyType: etype, KeyValue: make([]byte, n)}
			if _, err := decryptEncPart(types.EncryptedData{EType: etype, Cipher: cipher}, key, 11); err == nil {
				t.Fatalf("etype %d, %d-byte key: zero ciphertext accepted", etype, n)
			}
		}
	}
}
