package schannel

import (
	"bytes"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// TestMessageAllocs counts the allocations of sealing and of opening a
// 16 KiB record. EncryptMessage allocates nothing; neither does
// DecryptMessage on TLS 1.3, where the package opens records itself. On
// TLS 1.2 DecryptMessage allocates what crypto/tls's read path does, one
// small object per record (tls.Conn.readFromUntil hands an &atLeastReader
// to bytes.Buffer.ReadFrom), and nothing of ours.
func TestMessageAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const runs = 50 // AllocsPerRun calls f runs+1 times
	for _, v := range benchVersions {
		t.Run(v.name, func(t *testing.T) {
			client, server := established(t, v.client)
			const hdr = 64
			bufs := make([][]byte, runs+1)
			recs := make([][]byte, runs+1)
			for i := range bufs {
				bufs[i] = make([]byte, hdr+maxPlaintext+64)
			}
			enc := make([]secbuffer.Buffer, 4)
			dec := make([]secbuffer.Buffer, 4)
			var failed error
			i := 0
			sealAllocs := testing.AllocsPerRun(runs, func() {
				buf := bufs[i]
				enc[0] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: buf[:hdr]}
				enc[1] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: buf[hdr : hdr+maxPlaintext]}
				enc[2] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: buf[hdr+maxPlaintext:]}
				enc[3] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_EMPTY}
				if st, err := client.ctx.Session().EncryptMessage(0, enc, 0); st != status.SEC_E_OK {
					failed = err
					return
				}
				h, tr := len(enc[0].Data), len(enc[2].Data)
				recs[i] = buf[hdr-h : hdr+maxPlaintext+tr]
				copy(recs[i], enc[0].Data)
				i++
			})
			if failed != nil {
				t.Fatal(failed)
			}
			j := 0
			openAllocs := testing.AllocsPerRun(runs, func() {
				dec[0] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: recs[j]}
				dec[1], dec[2], dec[3] = secbuffer.Buffer{}, secbuffer.Buffer{}, secbuffer.Buffer{}
				if _, st, err := server.ctx.Session().DecryptMessage(dec, 0); st != status.SEC_E_OK || len(dec[1].Data) != maxPlaintext {
					failed = err
				}
				j++
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if sealAllocs != 0 {
				t.Errorf("EncryptMessage: %v allocations per record", sealAllocs)
			}
			if limit := map[string]float64{"TLS1.2": 1, "TLS1.3": 0}[v.name]; openAllocs > limit {
				t.Errorf("DecryptMessage: %v allocations per record, want at most %v", openAllocs, limit)
			}
			t.Logf("allocations per 16 KiB record: EncryptMessage %v, DecryptMessage %v", sealAllocs, openAllocs)
		})
	}
}

// TestEncryptSeparateBuffers: STREAM_HEADER, DATA and STREAM_TRAILER in
// three unrelated allocations (the TLS 1.3 sealer then works on a copy)
// give the same records as adjacent ones.
func TestEncryptSeparateBuffers(t *testing.T) {
	for _, v := range benchVersions {
		t.Run(v.name, func(t *testing.T) {
			client, server := established(t, v.client)
			for _, n := range []int{1, 100, maxPlaintext} {
				plain := make([]byte, n)
				for i := range plain {
					plain[i] = byte(i * 7)
				}
				data := append([]byte(nil), plain...)
				msg := []secbuffer.Buffer{
					{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: make([]byte, 64)},
					{Type: secbuffer.SECBUFFER_DATA, Data: data},
					{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: make([]byte, 64)},
					{Type: secbuffer.SECBUFFER_EMPTY},
				}
				if st, err := client.ctx.Session().EncryptMessage(0, msg, 0); st != status.SEC_E_OK {
					t.Fatalf("EncryptMessage(%d bytes): %v %v", n, st, err)
				}
				var rec []byte
				for _, b := range msg[:3] {
					rec = append(rec, b.Data...)
				}
				r := decrypt(server.ctx, rec)
				if r.st != status.SEC_E_OK || string(r.data) != string(plain) || len(r.extra) != 0 {
					t.Fatalf("DecryptMessage(%d bytes): %v %v, %d bytes back", n, r.st, r.err, len(r.data))
				}
			}
		})
	}
}

// TestTamperedRecordLeavesNoPlaintext: a TLS 1.3 record whose tag does not
// verify fails with SEC_E_DECRYPT_FAILURE, sticky, and no byte of its
// plaintext is left in the caller's buffer (we open records in place).
func TestTamperedRecordLeavesNoPlaintext(t *testing.T) {
	client, server := established(t, packages.SP_PROT_TLS1_3_CLIENT)
	plain := []byte("a secret that must not show up unauthenticated")
	rec := encrypt(t, client.ctx, plain)
	rec[len(rec)-1] ^= 1
	r := decrypt(server.ctx, rec)
	if r.st != status.SEC_E_DECRYPT_FAILURE {
		t.Fatalf("DecryptMessage: %v %v", r.st, r.err)
	}
	if bytes.Contains(rec, plain[:8]) {
		t.Fatal("plaintext left in the caller's buffer")
	}
	good := encrypt(t, client.ctx, []byte("next"))
	if r := decrypt(server.ctx, good); r.st != status.SEC_E_DECRYPT_FAILURE {
		t.Fatalf("after a failure: %v %v", r.st, r.err)
	}
}
