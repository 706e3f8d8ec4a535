package sspi

import (
	"context"
	"testing"

	"github.com/gosspi/sspi/secbuffer"
)

// ntlmFlatPair establishes an NTLM client and server in r through the flat
// API and returns their handles.
func ntlmFlatPair(tb testing.TB, r *Registry) (client, server CtxtHandle) {
	tb.Helper()
	ctx := context.Background()
	ccred, err := r.AcquireCredentials(ctx, "NTLM", CredentialsOutbound, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "Passw0rd!"})
	if err != nil {
		tb.Fatal(err)
	}
	scred, err := r.AcquireCredentials(ctx, "NTLM", CredentialsInbound, ntlmUsers)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := NewClientContext(ccred, "HOST/server", ISC_REQ_CONFIDENTIALITY|ISC_REQ_INTEGRITY)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := NewServerContext(scred, ASC_REQ_CONFIDENTIALITY|ASC_REQ_INTEGRITY)
	if err != nil {
		tb.Fatal(err)
	}
	if err := goHandshake(ctx, c, s, nil, nil); err != nil {
		tb.Fatal(err)
	}
	client.Lower, client.Upper = r.ctxts.add(c)
	server.Lower, server.Upper = r.ctxts.add(s)
	return client, server
}

// BenchmarkMakeSignature measures the cost the root adds to an NTLM
// signature: the provider called directly (the baseline), through the Go
// API, and through the flat API with a handle lookup.
func BenchmarkMakeSignature(b *testing.B) {
	r := ntlmRegistry()
	h, _ := ntlmFlatPair(b, r)
	c, err := r.Context(&h)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1024)
	sig := make([]byte, 0, 16)
	bufs := []secbuffer.Buffer{{Type: SECBUFFER_DATA, Data: msg}, {Type: SECBUFFER_TOKEN, Data: sig}}
	desc := &secbuffer.Desc{Buffers: bufs}
	b.Run("provider", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			bufs[1].Data = sig
			if err := c.sess.MakeSignature(0, bufs, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goapi", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			bufs[1].Data = sig
			if err := c.MakeSignatureBuffers(0, bufs, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("flat", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			desc.Buffers[1].Data = sig
			if st := r.MakeSignature(&h, 0, desc, 0); st != SEC_E_OK {
				b.Fatal(st)
			}
		}
	})
}

// BenchmarkWrap measures a sealed round trip through Wrap and Unwrap
// against the provider's EncryptMessage and DecryptMessage on caller
// buffers (the baseline).
func BenchmarkWrap(b *testing.B) {
	r := ntlmRegistry()
	ch, sh := ntlmFlatPair(b, r)
	c, err := r.Context(&ch)
	if err != nil {
		b.Fatal(err)
	}
	s, err := r.Context(&sh)
	if err != nil {
		b.Fatal(err)
	}
	plain := make([]byte, 1024)
	b.Run("provider", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		data := make([]byte, len(plain))
		tok := make([]byte, 0, 16)
		for b.Loop() {
			bufs := []secbuffer.Buffer{{Type: SECBUFFER_TOKEN, Data: tok}, {Type: SECBUFFER_DATA, Data: data}}
			if _, err := c.sess.EncryptMessage(0, bufs, 0); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.sess.DecryptMessage(bufs, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wrap", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			sealed, err := c.Wrap(plain)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Unwrap(sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHandleLookup measures resolving a context handle, beside a map
// lookup of the same key as a baseline.
func BenchmarkHandleLookup(b *testing.B) {
	r := newFakeRegistry()
	var hs []CtxtHandle
	m := map[CtxtHandle]*Context{}
	for i := 0; i < 1000; i++ {
		c := &Context{}
		var h CtxtHandle
		h.Lower, h.Upper = r.ctxts.add(c)
		hs = append(hs, h)
		m[h] = c
	}
	h := hs[500]
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m[h] == nil {
				b.Fatal("missing")
			}
		}
	})
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Context(&h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
