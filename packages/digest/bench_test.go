package digest

import (
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// BenchmarkHTTP measures, per algorithm, the client producing the next
// request's Authorization (MakeSignature), the server verifying one (a
// fresh AcceptSecurityContext per request, as an HTTP server runs it), and
// as the baseline the bare hash computations the same response needs:
// H(A1) (and the -sess H(A1)), H(A2) and the response.
func BenchmarkHTTP(b *testing.B) {
	const user, realm, pass, method, uri = "Mufasa", "gosspi", "Circle of Life", "GET", "/dir/index.html"
	for _, alg := range algorithms {
		b.Run(alg.name+"/client", func(b *testing.B) {
			p := New(&Config{Algorithms: []string{alg.name}})
			s := newServer(b, p, Users{{Name: user, Password: pass}}, "", ASC_REQ_HTTP)
			ch := step(b, s, nil, status.SEC_I_CONTINUE_NEEDED)
			c := newClient(b, p, user, pass, uri, packages.ISC_REQ_USE_HTTP_STYLE)
			step(b, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf(method), paramBuf("")}, status.SEC_E_OK)
			sig := []secbuffer.Buffer{tokenBuf(nil), paramBuf(method), paramBuf(uri), paramBuf(""),
				{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, maxToken)}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sig[4].Data = sig[4].Data[:0]
				if err := c.Session().MakeSignature(0, sig, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg.name+"/server", func(b *testing.B) {
			p := New(&Config{Algorithms: []string{alg.name}})
			store := Users{{Name: user, Password: pass}}
			s := newServer(b, p, store, "", ASC_REQ_HTTP)
			ch := step(b, s, nil, status.SEC_I_CONTINUE_NEEDED)
			c := newClient(b, New(nil), user, pass, uri, packages.ISC_REQ_USE_HTTP_STYLE)
			auths := [][]byte{step(b, c, []secbuffer.Buffer{tokenBuf(ch), paramBuf(method), paramBuf("")}, status.SEC_E_OK)}
			for len(auths) < b.N {
				sig := []secbuffer.Buffer{tokenBuf(nil), paramBuf(method), paramBuf(uri), paramBuf(""),
					{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 512)}}
				if err := c.Session().MakeSignature(0, sig, 0); err != nil {
					b.Fatal(err)
				}
				auths = append(auths, sig[4].Data)
			}
			cred, err := p.AcquireCredentials(bg, "", packages.SECPKG_CRED_INBOUND, store)
			if err != nil {
				b.Fatal(err)
			}
			in := []secbuffer.Buffer{tokenBuf(nil), paramBuf(method), paramBuf(uri), paramBuf(""), paramBuf("")}
			out := outBuf()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx, err := cred.NewServerContext(ASC_REQ_HTTP)
				if err != nil {
					b.Fatal(err)
				}
				in[0].Data = auths[i]
				out[0].Data = out[0].Data[:0]
				if st, err := ctx.Step(bg, in, out); st != status.SEC_E_OK {
					b.Fatal(st, err)
				}
			}
		})
		b.Run(alg.name+"/rawhash", func(b *testing.B) {
			a1 := []byte(user + ":" + realm + ":" + pass)
			a2 := []byte(method + ":" + uri)
			h := alg.new()
			var sum [64]byte
			ha1 := make([]byte, 2*alg.size)
			kd := make([]byte, 0, 256)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Reset()
				h.Write(a1)
				h.Sum(sum[:0])
				if alg.sess {
					h.Reset()
					h.Write(ha1)
					h.Write([]byte(":nonce:cnonce"))
					h.Sum(sum[:0])
				}
				h.Reset()
				h.Write(a2)
				h.Sum(sum[:0])
				kd = append(kd[:0], ha1...)
				kd = append(kd, ":nonce:00000001:cnonce:auth:"...)
				kd = append(kd, ha1...)
				h.Reset()
				h.Write(kd)
				h.Sum(sum[:0])
			}
		})
	}
}

// BenchmarkSASLSeal measures EncryptMessage of 1 KiB per cipher (and the
// auth-int MAC), beside the baseline of the HMAC-MD5 alone.
func BenchmarkSASLSeal(b *testing.B) {
	msg := make([]byte, 1024)
	cases := []struct {
		name, cipher string
		creq, sreq   uint32
	}{{"auth-int", "", packages.ISC_REQ_INTEGRITY, packages.ASC_REQ_INTEGRITY}}
	for _, c := range ciphers {
		cases = append(cases, struct {
			name, cipher string
			creq, sreq   uint32
		}{"auth-conf/" + c.name, c.name, packages.ISC_REQ_CONFIDENTIALITY, packages.ASC_REQ_CONFIDENTIALITY})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var cl []string
			if tc.cipher != "" {
				cl = []string{tc.cipher}
			}
			c, _ := saslPair(b, tc.creq, tc.sreq, cl)
			bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA, Data: msg}, {Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 8)}, tokenBuf(make([]byte, macLen))}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bufs[1].Data, bufs[2].Data = bufs[1].Data[:8], bufs[2].Data[:macLen]
				if st, err := c.Session().EncryptMessage(0, bufs, 0); st != status.SEC_E_OK {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("rawhmac", func(b *testing.B) {
		key := make([]byte, 16)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mac10(key, uint32(i), msg)
		}
	})
}
