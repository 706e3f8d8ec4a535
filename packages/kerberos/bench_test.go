package kerberos

import (
	"context"
	"crypto/aes"
	"crypto/hmac"
	"crypto/md5"
	stdrc4 "crypto/rc4"
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

// BenchmarkAPReq alternates, in batches of 8, building an AP-REQ and
// verifying it in process through this package and through gokrb5's own
// path, on the same ticket and service keytab, so that both see the same
// machine load:
//
//   - gosspi: NewClientContext and NewServerContext, one Step each (GSS
//     checksum, subkey and sequence number, the process's replay cache,
//     the session set up; no mutual authentication, which gokrb5's
//     service side cannot answer);
//   - gokrb5: types.NewAuthenticator with the same GSS checksum and a
//     subkey (GenerateSeqNumberAndSubKey), messages.NewAPReq, Marshal,
//     Unmarshal, and what service.VerifyAPREQ does without PAC: APReq.Verify
//     and a replay cache keyed as gokrb5's (server, client, ctime, cusec).
//     (gokrb5's service package itself needs a module this one does not
//     require.)
//
// It reports each side's time per AP-REQ (ns/gosspi, ns/gokrb5), their
// ratio, and each side's allocations per AP-REQ (allocs/gosspi,
// allocs/gokrb5, from testing.AllocsPerRun); ns/op and allocs/op are per
// pair of batches.
func BenchmarkAPReq(b *testing.B) {
	// Not aes256-cts-hmac-sha384-192 (20): gokrb5 mints its session keys
	// 24 bytes long and then cannot encrypt with them.
	for _, etype := range []int32{17, 18, 19, 23} {
		b.Run(fmt.Sprintf("etype=%d", etype), func(b *testing.B) {
			m := newMemRealm(b, etype, &Config{Time: steppingClock()})
			ours := func() {
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
				cc.Delete()
				sc.Delete()
			}
			var tkt *ticket
			for _, t := range m.client.tickets {
				tkt = t
			}
			seen := map[replayKey]bool{}
			clock := steppingClock()
			theirs := func() {
				auth, err := types.NewAuthenticator(testRealm, m.client.cname)
				if err != nil {
					b.Fatal(err)
				}
				now := clock()
				auth.CTime, auth.Cusec = now.Truncate(time.Second), now.Nanosecond()/1000
				auth.Cksum = types.Checksum{CksumType: cksumTypeGSS, Checksum: (&gssChecksum{flags: gssConf | gssInteg}).marshal()}
				if err := auth.GenerateSeqNumberAndSubKey(etype, keySize(etype)); err != nil {
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
				a := &got.Authenticator
				k := replayKey{got.Ticket.SName.PrincipalNameString(), a.CName.PrincipalNameString(), a.CTime, a.Cusec}
				if seen[k] {
					b.Fatal("replay")
				}
				seen[k] = true
			}
			aOurs, aTheirs := testing.AllocsPerRun(20, ours), testing.AllocsPerRun(20, theirs)
			const batch = 8
			var tOurs, tTheirs time.Duration
			b.ReportAllocs()
			odd := false
			for b.Loop() {
				fs := [2]func(){ours, theirs}
				ts := [2]*time.Duration{&tOurs, &tTheirs}
				if odd {
					fs[0], fs[1], ts[0], ts[1] = fs[1], fs[0], ts[1], ts[0]
				}
				odd = !odd
				for k := range fs {
					t0 := time.Now()
					for range batch {
						fs[k]()
					}
					*ts[k] += time.Since(t0)
				}
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(tOurs.Nanoseconds())/n, "ns/gosspi")
			b.ReportMetric(float64(tTheirs.Nanoseconds())/n, "ns/gokrb5")
			b.ReportMetric(float64(tOurs)/float64(tTheirs), "ratio")
			b.ReportMetric(aOurs, "allocs/gosspi")
			b.ReportMetric(aTheirs, "allocs/gokrb5")
		})
	}
}

// replayKey is what gokrb5's replay cache compares.
type replayKey struct {
	sname, cname string
	ctime        time.Time
	cusec        int
}

// keySize is the key length of etype for GenerateSeqNumberAndSubKey.
func keySize(etype int32) int {
	switch etype {
	case 17, 19, 23:
		return 16
	}
	return 32
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
			if _, err := cli.Session().EncryptMessage(0, warm[:], 0); err != nil {
				b.Fatal(err)
			}
			if _, _, err := srv.Session().DecryptMessage(warm[:], 0); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				w := [2]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, {Type: secbuffer.SECBUFFER_DATA, Data: data}}
				if _, err := cli.Session().EncryptMessage(0, w[:], 0); err != nil {
					b.Fatal(err)
				}
				if _, _, err := srv.Session().DecryptMessage(w[:], 0); err != nil {
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

// BenchmarkMessages alternates, in batches of 16, each message path of an
// established context with the raw cryptography it cannot avoid, keyed
// once, on 1 KiB of data, and reports the time of each per call (ns/gosspi,
// ns/raw) and their ratio:
//
//   - wrap: EncryptMessage then DecryptMessage; raw for AES is AES-CTS
//     both ways and HMAC over the plaintext twice (RFC 3961), for RC4 an
//     RC4 pass and MD5 + HMAC-MD5 over the data both ways (RFC 4757);
//   - mic: MakeSignature then VerifySignature; raw is the HMAC (AES) or
//     MD5 + HMAC-MD5 (RC4) over the data, twice.
//
// What the raw side leaves out is the token layout, the sequence numbers,
// the confounder and, for RC4, the per-message key schedule.
func BenchmarkMessages(b *testing.B) {
	const size = 1024
	for _, etype := range []int32{18, 23} {
		key, _ := randomKey(New(nil).config.rand(), etype)
		cli, srv := sessionPair(b, etype, key.KeyValue, true)
		data := make([]byte, size)
		tok := make([]byte, 0, 128)
		sig := make([]byte, 0, 64)
		pad := make([]byte, 0, 16)
		wrap := func() {
			w := [3]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, {Type: secbuffer.SECBUFFER_DATA, Data: data}, {Type: secbuffer.SECBUFFER_PADDING, Data: pad}}
			if _, err := cli.Session().EncryptMessage(0, w[:], 0); err != nil {
				b.Fatal(err)
			}
			if _, _, err := srv.Session().DecryptMessage(w[:], 0); err != nil {
				b.Fatal(err)
			}
		}
		mic := func() {
			m := [2]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: data}, {Type: secbuffer.SECBUFFER_TOKEN, Data: sig}}
			if err := cli.Session().MakeSignature(0, m[:], 0); err != nil {
				b.Fatal(err)
			}
			if _, err := srv.Session().VerifySignature(m[:], 0); err != nil {
				b.Fatal(err)
			}
		}
		var rawWrap, rawMIC func()
		sum := make([]byte, 0, 64)
		if etype == 23 {
			h := hmac.New(md5.New, key.KeyValue)
			d := md5.New()
			c, _ := stdrc4.NewCipher(key.KeyValue)
			one := func(crypt bool) {
				d.Reset()
				d.Write(data)
				h.Reset()
				h.Write(d.Sum(sum[:0]))
				h.Sum(sum[:0])
				if crypt {
					c.XORKeyStream(data, data)
				}
			}
			rawWrap = func() { one(true); one(true) }
			rawMIC = func() { one(false); one(false) }
		} else {
			blk, _ := aes.NewCipher(key.KeyValue) // stands for Ke
			cts := rfc3962.New(blk)
			h := hmac.New(sha1.New, key.KeyValue[:20])
			buf := make([]byte, 16+size+16)
			rawWrap = func() {
				h.Reset()
				h.Write(buf)
				h.Sum(sum[:0])
				if err := cts.Encrypt(buf); err != nil {
					b.Fatal(err)
				}
				if err := cts.Decrypt(buf); err != nil {
					b.Fatal(err)
				}
				h.Reset()
				h.Write(buf)
				h.Sum(sum[:0])
			}
			rawMIC = func() {
				for range 2 {
					h.Reset()
					h.Write(data)
					h.Write(buf[:16])
					h.Sum(sum[:0])
				}
			}
		}
		wrap() // the keys are derived on first use
		mic()
		for _, c := range []struct {
			name      string
			ours, raw func()
		}{{"wrap", wrap, rawWrap}, {"mic", mic, rawMIC}} {
			b.Run(fmt.Sprintf("etype=%d/%s", etype, c.name), func(b *testing.B) {
				const batch = 16
				var tOurs, tRaw time.Duration
				b.ReportAllocs()
				odd := false
				for b.Loop() {
					fs := [2]func(){c.ours, c.raw}
					ts := [2]*time.Duration{&tOurs, &tRaw}
					if odd {
						fs[0], fs[1], ts[0], ts[1] = fs[1], fs[0], ts[1], ts[0]
					}
					odd = !odd
					for k := range fs {
						t0 := time.Now()
						for range batch {
							fs[k]()
						}
						*ts[k] += time.Since(t0)
					}
				}
				n := float64(b.N * batch)
				b.ReportMetric(float64(tOurs.Nanoseconds())/n, "ns/gosspi")
				b.ReportMetric(float64(tRaw.Nanoseconds())/n, "ns/raw")
				b.ReportMetric(float64(tOurs)/float64(tRaw), "ratio")
			})
		}
	}
}

// TestWrapNoAllocs checks that every message path (EncryptMessage,
// DecryptMessage, MakeSignature, VerifySignature) allocates nothing, for
// every enctype.
func TestWrapNoAllocs(t *testing.T) {
	for _, etype := range []int32{17, 18, 19, 20, 23} {
		key, _ := randomKey(New(nil).config.rand(), etype)
		cli, srv := sessionPair(t, etype, key.KeyValue, true)
		data := make([]byte, 1024)
		tok := make([]byte, 0, 128)
		sig := make([]byte, 0, 64)
		pad := make([]byte, 0, 16) // RC4-HMAC pads every message
		for name, f := range map[string]func(){
			"EncryptMessage+DecryptMessage": func() {
				w := [3]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}, {Type: secbuffer.SECBUFFER_DATA, Data: data}, {Type: secbuffer.SECBUFFER_PADDING, Data: pad}}
				if _, err := cli.Session().EncryptMessage(0, w[:], 0); err != nil {
					t.Fatalf("etype %d: %v", etype, err)
				}
				if _, _, err := srv.Session().DecryptMessage(w[:], 0); err != nil {
					t.Fatalf("etype %d: %v", etype, err)
				}
			},
			"MakeSignature+VerifySignature": func() {
				m := [2]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: data}, {Type: secbuffer.SECBUFFER_TOKEN, Data: sig}}
				if err := cli.Session().MakeSignature(0, m[:], 0); err != nil {
					t.Fatalf("etype %d: %v", etype, err)
				}
				if _, err := srv.Session().VerifySignature(m[:], 0); err != nil {
					t.Fatalf("etype %d: %v", etype, err)
				}
			},
		} {
			f() // the keys are derived on first use
			if n := testing.AllocsPerRun(100, f); n != 0 {
				t.Errorf("etype %d: %v allocations per %s, want 0", etype, n, name)
			}
		}
	}
}
