package ntlm

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
)

// Benchmarks of the hot paths, each beside a baseline measured in the
// same run:
//
//	go test -run '^$' -bench . -benchmem ./packages/ntlm/
//
// Message protection is compared with the raw primitives it cannot avoid
// (HMAC-MD5 over sequence number and data, RC4 over the checksum and, when
// sealing, the data); the AUTHENTICATE leg with go-ntlmssp's.

var benchSizes = []int{64, 1024, 64 << 10}

// BenchmarkHandshake is a whole NTLMv2 handshake in memory (NEGOTIATE,
// CHALLENGE, AUTHENTICATE with MIC and key exchange, accepted), driven as
// an SSPI application drives one: each side gives one output buffer of
// cbMaxToken bytes (2888 for NTLM), used for each of its legs. The
// allocations counted are the two contexts', the handshake's and those two
// buffers.
func BenchmarkHandshake(b *testing.B) {
	b.ReportAllocs()
	cc, sc := benchCredentials(b)
	ctx := context.Background()
	for b.Loop() {
		c, _ := cc.NewClientContext("HTTP/web.example.com", reqSeal)
		s, _ := sc.NewServerContext(0)
		if err := handshakeMaxToken(ctx, c, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshakeTestkit is the same handshake driven by
// testkit.Handshake, the driver the package's tests use: each leg gets a
// 2 KiB output buffer that grows on SEC_E_BUFFER_TOO_SMALL.
func BenchmarkHandshakeTestkit(b *testing.B) {
	b.ReportAllocs()
	cc, sc := benchCredentials(b)
	ctx := context.Background()
	for b.Loop() {
		c, _ := cc.NewClientContext("HTTP/web.example.com", reqSeal)
		s, _ := sc.NewServerContext(0)
		if _, err := testkit.Handshake(ctx, c, s, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCredentials(b *testing.B) (client, server packages.Credentials) {
	b.Helper()
	ctx := context.Background()
	cc, err := New(nil).AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"})
	if err != nil {
		b.Fatal(err)
	}
	sc, err := New(nil).AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND, testUsers)
	if err != nil {
		b.Fatal(err)
	}
	return cc, sc
}

// handshakeMaxToken runs the client and server steps until both are
// established, each side writing its tokens into its own buffer of
// cbMaxToken bytes, the peer reading them from there.
func handshakeMaxToken(ctx context.Context, client, server packages.Context) error {
	bufs := [2][]byte{make([]byte, 0, info.MaxToken), make([]byte, 0, info.MaxToken)}
	sides := [2]packages.Context{client, server}
	var in, out [1]secbuffer.Buffer
	var token []byte
	for leg := 0; leg < 8; leg++ {
		side := leg % 2
		inBufs := in[:0]
		if leg > 0 {
			in[0] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: token}
			inBufs = in[:]
		}
		out[0] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: bufs[side][:0]}
		if _, err := sides[side].Step(ctx, inBufs, out[:]); err != nil {
			return err
		}
		if client.Session() != nil && server.Session() != nil {
			return nil
		}
		token = out[0].Data
	}
	return fmt.Errorf("handshake did not finish")
}

// rawSigner is the baseline: the primitives of one ESS signature with
// KEY_EXCH, state kept across calls as the contexts keep it.
type rawSigner struct {
	h    hashWriter
	rc4  *rc4.Cipher
	seq  [4]byte
	sum  [16]byte
	sig  [16]byte
	seqN uint32
}

type hashWriter interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
	Reset()
}

func newRawSigner() *rawSigner {
	h := hmac.New(md5.New, make([]byte, 16))
	c, _ := rc4.NewCipher(make([]byte, 16))
	return &rawSigner{h: h, rc4: c}
}

func (r *rawSigner) sign(data []byte, seal bool) {
	r.h.Reset()
	binary.LittleEndian.PutUint32(r.seq[:], r.seqN)
	r.h.Write(r.seq[:])
	r.h.Write(data)
	r.h.Sum(r.sum[:0])
	if seal {
		r.rc4.XORKeyStream(data, data)
	}
	r.rc4.XORKeyStream(r.sig[4:12], r.sum[:8])
	r.seqN++
}

func benchPair(b *testing.B) (client, server packages.Context) {
	b.Helper()
	ctx := context.Background()
	cc, _ := New(nil).AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Secret1!"})
	sc, _ := New(nil).AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND, testUsers)
	client, _ = cc.NewClientContext("HTTP/web.example.com", reqSeal)
	server, _ = sc.NewServerContext(0)
	if _, err := testkit.Handshake(ctx, client, server, nil, nil); err != nil {
		b.Fatal(err)
	}
	return client, server
}

// interleave runs ours and raw in alternating batches of 16 calls, so that
// both see the same machine load, and reports each one's time per call
// (ns/ntlm, ns/raw) and their ratio. ns/op and allocs/op are per batch of
// both.
func interleave(b *testing.B, ours, raw func()) {
	b.Helper()
	const batch = 16
	var tOurs, tRaw time.Duration
	b.ReportAllocs()
	odd := false
	for b.Loop() {
		fs := [2]func(){ours, raw}
		ts := [2]*time.Duration{&tOurs, &tRaw}
		if odd {
			fs[0], fs[1], ts[0], ts[1] = fs[1], fs[0], ts[1], ts[0]
		}
		odd = !odd
		for k := range fs {
			t0 := time.Now()
			for i := 0; i < batch; i++ {
				fs[k]()
			}
			*ts[k] += time.Since(t0)
		}
	}
	calls := float64(b.N * batch)
	b.ReportMetric(float64(tOurs.Nanoseconds())/calls, "ns/ntlm")
	b.ReportMetric(float64(tRaw.Nanoseconds())/calls, "ns/raw")
	b.ReportMetric(float64(tOurs)/float64(tRaw), "ratio")
}

func sigMsg(n int) []secbuffer.Buffer {
	return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: make([]byte, n)}, {Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}}
}

func sealMsgBuf(n int) []secbuffer.Buffer {
	return []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 16)}, {Type: secbuffer.SECBUFFER_DATA, Data: make([]byte, n)}}
}

// rawReceive is the receiver's unavoidable work for a sealed message:
// decrypt, MAC the plaintext, decrypt the checksum, compare.
func (r *rawSigner) receive(data, sig []byte, seal bool) bool {
	if seal {
		r.rc4.XORKeyStream(data, data)
	}
	r.h.Reset()
	binary.LittleEndian.PutUint32(r.seq[:], r.seqN)
	r.h.Write(r.seq[:])
	r.h.Write(data)
	r.h.Sum(r.sum[:0])
	r.rc4.XORKeyStream(r.sig[4:12], r.sum[:8])
	r.seqN++
	return hmac.Equal(r.sig[4:12], sig[4:12])
}

func BenchmarkMakeSignature(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			client, _ := benchPair(b)
			msg, r, data := sigMsg(n), newRawSigner(), make([]byte, n)
			interleave(b, func() {
				if err := client.Session().MakeSignature(0, msg, 0); err != nil {
					b.Fatal(err)
				}
			}, func() { r.sign(data, false) })
		})
	}
}

// BenchmarkVerifySignature is MakeSignature on one side and
// VerifySignature on the other (a verifier needs fresh signatures in
// sequence), beside the raw work of both.
func BenchmarkVerifySignature(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			client, server := benchPair(b)
			msg, r1, r2, data := sigMsg(n), newRawSigner(), newRawSigner(), make([]byte, n)
			interleave(b, func() {
				if err := client.Session().MakeSignature(0, msg, 0); err != nil {
					b.Fatal(err)
				}
				if _, err := server.Session().VerifySignature(msg, 0); err != nil {
					b.Fatal(err)
				}
			}, func() {
				r1.sign(data, false)
				if !r2.receive(data, r1.sig[:], false) {
					b.Fatal("raw mismatch")
				}
			})
		})
	}
}

func BenchmarkEncryptMessage(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			client, _ := benchPair(b)
			msg, r, data := sealMsgBuf(n), newRawSigner(), make([]byte, n)
			interleave(b, func() {
				if _, err := client.Session().EncryptMessage(0, msg, 0); err != nil {
					b.Fatal(err)
				}
			}, func() { r.sign(data, true) })
		})
	}
}

// BenchmarkDecryptMessage is EncryptMessage on one side and DecryptMessage
// on the other, beside the raw work of both.
func BenchmarkDecryptMessage(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			client, server := benchPair(b)
			msg, r1, r2, data := sealMsgBuf(n), newRawSigner(), newRawSigner(), make([]byte, n)
			interleave(b, func() {
				if _, err := client.Session().EncryptMessage(0, msg, 0); err != nil {
					b.Fatal(err)
				}
				if _, _, err := server.Session().DecryptMessage(msg, 0); err != nil {
					b.Fatal(err)
				}
			}, func() {
				r1.sign(data, true)
				if !r2.receive(data, r1.sig[:], true) {
					b.Fatal("raw mismatch")
				}
			})
		})
	}
}

// BenchmarkAuthenticate is the client's AUTHENTICATE leg (ISC #2: NTLMv2
// response, key exchange and MIC) beside go-ntlmssp's NewAuthenticateMessage
// (ProcessChallenge is its deprecated alias) on the same CHALLENGE less
// KEY_EXCH, which go-ntlmssp refuses: ns/ntlm against ns/raw, interleaved.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	sp := New(nil)
	sc, _ := sp.AcquireCredentials(ctx, "", packages.SECPKG_CRED_INBOUND, testUsers)
	cp := New(nil)
	id := newIdentity("alice", "EXAMPLE", ntowfv1("Secret1!"))
	challengeFor := func(flags uint32) (neg, chal []byte) {
		s, _ := sc.NewServerContext(0)
		c := newClient(cp, id, "HTTP/web.example.com", reqSeal)
		c.pkg = New(&Config{DisableKeyExchange: flags&flagKeyExch == 0})
		neg, _, err := step(c, nil, 4096)
		if err != nil {
			b.Fatal(err)
		}
		chal, _, err = step(s, neg, 4096)
		if err != nil {
			b.Fatal(err)
		}
		return neg, chal
	}
	neg, chal := challengeFor(flagKeyExch)
	m, _ := parseNegotiate(neg)
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: chal}}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}
	_, plainChal := challengeFor(0)
	interleave(b, func() {
		c := newClient(cp, id, "HTTP/web.example.com", reqSeal)
		c.state, c.negotiateFlags, c.negotiateLen = stateSentNegotiate, m.flags, len(neg)
		c.transcript = append(make([]byte, 0, transcriptCap), neg...)
		if _, err := c.Step(ctx, in, out); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if _, err := ntlmssp.NewAuthenticateMessage(plainChal, `EXAMPLE\alice`, "Secret1!", nil); err != nil {
			b.Fatal(err)
		}
	})
}
