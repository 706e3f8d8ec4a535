package kdc

import "testing"

// BenchmarkKDCAS is one pre-authenticated AS exchange answered in
// process (request parsed, timestamp decrypted, TGT with PAC issued).
func BenchmarkKDCAS(b *testing.B) {
	r := newFuzzRealm(b, AES256CTSHMACSHA196)
	b.ReportAllocs()
	for b.Loop() {
		if rep := r.k.Serve(r.asReq); len(rep) == 0 || rep[0] != 0x6b {
			b.Fatalf("reply %x", rep[:1])
		}
	}
}

// BenchmarkKDCTGS is one TGS exchange answered in process (TGT and
// authenticator decrypted, checksum and PAC verified, service ticket with
// a signed PAC issued).
func BenchmarkKDCTGS(b *testing.B) {
	r := newFuzzRealm(b, AES256CTSHMACSHA196)
	b.ReportAllocs()
	for b.Loop() {
		if rep := r.k.Serve(r.tgsReq); len(rep) == 0 || rep[0] != 0x6d {
			b.Fatalf("reply %x", rep[:1])
		}
	}
}
