package secbuffer_test

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/gosspi/sspi/secbuffer"
)

// benchBindings is the usual TLS case: tls-server-end-point with SHA-256.
func benchBindings() *secbuffer.ChannelBindings {
	app := []byte(secbuffer.PrefixTLSServerEndPoint)
	for i := 0; i < 32; i++ {
		app = append(app, byte(i))
	}
	return &secbuffer.ChannelBindings{ApplicationData: app}
}

// BenchmarkHash compares ChannelBindings.Hash with the baseline of one
// md5.Sum over the already-flattened struct: the difference is the cost
// of hashing field by field.
func BenchmarkHash(b *testing.B) {
	cb := benchBindings()
	flat := flatten(cb)
	b.Run("Hash", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(flat)))
		for b.Loop() {
			_ = cb.Hash()
		}
	})
	b.Run("baseline-md5.Sum", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(flat)))
		for b.Loop() {
			_ = md5.Sum(flat)
		}
	})
}

// BenchmarkMarshalParse measures Marshal and ParseChannelBindings against
// the baseline of copying the same number of bytes.
func BenchmarkMarshalParse(b *testing.B) {
	cb := benchBindings()
	blob := cb.Marshal()
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.Marshal()
		}
	})
	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := secbuffer.ParseChannelBindings(blob); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-copy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = append([]byte(nil), blob...)
		}
	})
}

// BenchmarkCertificateServerEndPoint compares the tls-server-end-point
// builder with the baseline of hashing the certificate alone.
func BenchmarkCertificateServerEndPoint(b *testing.B) {
	cert := newCert(b, x509.SHA256WithRSA).Leaf
	b.Run("CertificateServerEndPoint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := secbuffer.CertificateServerEndPoint(cert); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-sha256.Sum256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = sha256.Sum256(cert.Raw)
		}
	})
}
