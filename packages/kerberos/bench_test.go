package kerberos

import (
	"context"
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha1"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/rfc3962"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
)

// steppingClock returns a clock that advances one microsecond per call,
// so that no two authenticators share a ctime/cusec (the replay cache).
func steppingClock() func() time.Time {
	var n atomic.Int64
	base := time.Now()
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Microsecond) }
}

// BenchmarkAPReq measures building an AP-REQ and verifying it in process:
// ours (GSS checksum, subkey, replay cache) beside gokrb5's own
// NewAPReq/Verify.
func BenchmarkAPReq(b *testing.B) {
	b.Run("gosspi", func(b *testing.B) {
		m := newMemRealm(b, 18, &Config{Time: steppingClock()})
		b.ReportAllocs()
		for b.Loop() {
			cc, _ := m.client.NewClientContext("HTTP/localhost", packages.ISC_REQ_CONFIDENTIALITY)
			sc, _ := m.server.NewServerContext(0)
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 2048)}}
			if _, err := cc.Step(context.Background(), nil, out); err != nil {
				b.Fatal(err)
			}
			in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out[0].Data}}
			if _, err := sc.Step(context.Background(), in, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gokrb5", func(b *testing.B) {
		m := newMemRealm(b, 18, nil)
		var tkt *ticket
		for _, t := range m.client.tickets {
			tkt = t
		}
		b.ReportAllocs()
		for b.Loop() {
			auth, err := types.NewAuthenticator(testRealm, m.client.cname)
			if err != nil {
				b.Fatal(err)
			}
			auth.Cksum = types.Checksum{CksumType: cksumTypeGSS, Checksum: (&gssChecksum{}).marshal()}
			if err := auth.GenerateSeqNumberAndSubKey(18, 32); err != nil {
				b.Fatal(err)
			}
			req, err := messages.NewAPReq(tkt.ticket, tkt.key, auth)
			if err != nil {
				b.Fatal(err)
			}
			der, err := req.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			var got messages.APReq
			if err := got.Unmarshal(der); err != nil {
				b.Fatal(err)
			}
			if ok, err := got.Verify(m.kt, 5*time.Minute, types.HostAddress{}, nil); !ok {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWrap measures EncryptMessage+DecryptMessage (aes256-cts-hmac-
// sha1-96, Windows layout) beside the raw AES-CTS + HMAC-SHA1 of the same
// bytes with keys derived once, and beside gokrb5, which derives its keys
// on every call (its EncryptMessage, and its GSS Wrap token, which cannot
// seal).
func BenchmarkWrap(b *testing.B) {
	for _, size := range []int{1024, 65536} {
		key, _ := randomKey(New(nil).config.rand(), 18)
		b.Run(fmt.Sprintf("gosspi/%d", size), func(b *testing.B) {
			cli, srv := sessionPair(b, 18, key.KeyValue, true)
			data := make([]byte, size)
			tok := make([]byte, 0, 76)
			// One message first: the keys are derived on first use.
			warm := [2]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, {Type: secbuffer.SECBUFFER_DATA, Data: data}}
			if _, err := cli.EncryptMessage(0, warm[:], 0); err != nil {
				b.Fatal(err)
			}
			if _, _, err := srv.DecryptMessage(warm[:], 0); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				w := [2]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, {Type: secbuffer.SECBUFFER_DATA, Data: data}}
				if _, err := cli.EncryptMessage(0, w[:], 0); err != nil {
					b.Fatal(err)
				}
				if _, _, err := srv.DecryptMessage(w[:], 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("raw-cts-hmac/%d", size), func(b *testing.B) {
			blk, _ := aes.NewCipher(key.KeyValue) // stands for Ke
			cts := rfc3962.New(blk)
			mac := hmac.New(sha1.New, key.KeyValue[:20])
			buf := make([]byte, 16+size+16)
			sum := make([]byte, 0, 20)
			check := make([]byte, 0, 20)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				mac.Reset()
				mac.Write(buf)
				sum = mac.Sum(sum[:0])
				if err := cts.Encrypt(buf); err != nil {
					b.Fatal(err)
				}
				if err := cts.Decrypt(buf); err != nil {
					b.Fatal(err)
				}
				mac.Reset()
				mac.Write(buf)
				if !hmac.Equal(mac.Sum(check[:0])[:12], sum[:12]) {
					_ = sum
				}
			}
		})
		b.Run(fmt.Sprintf("gokrb5-encrypt/%d", size), func(b *testing.B) {
			et, _ := crypto.GetEtype(18)
			data := make([]byte, size+16)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_, ct, err := et.EncryptMessage(key.KeyValue, data, 24)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := et.DecryptMessage(key.KeyValue, ct, 24); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("gokrb5-wraptoken-integrity/%d", size), func(b *testing.B) {
			data := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				wt, err := gssapi.NewInitiatorWrapToken(data, key)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := wt.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestWrapNoAllocs(t *testing.T) {
	key, _ := randomKey(New(nil).config.rand(), 18)
	cli, srv := sessionPair(t, 18, key.KeyValue, true)
	data := make([]byte, 1024)
	tok := make([]byte, 0, 76)
	sig := make([]byte, 0, 28)
	n := testing.AllocsPerRun(100, func() {
		w := [2]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, {Type: secbuffer.SECBUFFER_DATA, Data: data}}
		if _, err := cli.EncryptMessage(0, w[:], 0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := srv.DecryptMessage(w[:], 0); err != nil {
			t.Fatal(err)
		}
		m := [2]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: data}, {Type: secbuffer.SECBUFFER_TOKEN, Data: sig}}
		if err := cli.MakeSignature(0, m[:], 0); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.VerifySignature(m[:], 0); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per EncryptMessage+DecryptMessage+MakeSignature+VerifySignature, want 0", n)
	}
}
