package schannel

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// The benchmarks run this package beside crypto/tls over net.Pipe, the
// baseline, with the same certificate (ECDSA P-256), versions and
// defaults, and resumption off on both.

var benchVersions = []struct {
	name   string
	vers   uint16
	client uint32
}{
	{"TLS1.2", tls.VersionTLS12, packages.SP_PROT_TLS1_2_CLIENT},
	{"TLS1.3", tls.VersionTLS13, packages.SP_PROT_TLS1_3_CLIENT},
}

func BenchmarkHandshake(b *testing.B) {
	for _, v := range benchVersions {
		b.Run(v.name+"/schannel", func(b *testing.B) {
			ccred, scred := benchCreds(b, v.client)
			b.ReportAllocs()
			for b.Loop() {
				fullHandshake(b, ccred, scred)
			}
		})
		b.Run(v.name+"/crypto-tls", func(b *testing.B) {
			ccfg, scfg := baselineConfigs(v.vers)
			b.ReportAllocs()
			for b.Loop() {
				_, _, closeConns := tlsPipe(b, ccfg, scfg)
				closeConns()
			}
		})
	}
}

func baselineConfigs(vers uint16) (client, server *tls.Config) {
	k := getPKI()
	client = &tls.Config{RootCAs: k.roots, ServerName: "localhost", MinVersion: vers, MaxVersion: vers, Time: testConfig().Time}
	server = &tls.Config{Certificates: []tls.Certificate{k.server}, SessionTicketsDisabled: true, DynamicRecordSizingDisabled: true, Time: testConfig().Time}
	return client, server
}

// benchCreds returns client credentials for the protocols vers and server
// credentials with the test certificate, resumption off on both.
func benchCreds(b *testing.B, vers uint32) (client, server packages.Credentials) {
	b.Helper()
	k := getPKI()
	p := New(testConfig())
	client = acquire(b, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots, EnabledProtocols: vers, Flags: packages.SCH_CRED_DISABLE_RECONNECTS})
	server = acquire(b, p, packages.SECPKG_CRED_INBOUND, &SCHANNEL_CRED{Creds: []tls.Certificate{k.server}, Flags: packages.SCH_CRED_DISABLE_RECONNECTS})
	return client, server
}

// tlsPipe is the baseline's connection: a crypto/tls client and server
// over net.Pipe with their handshake done. closeConns closes the pipe
// (not the TLS layer, which would wait for the peer to read its alert).
func tlsPipe(b *testing.B, ccfg, scfg *tls.Config) (cl, sv *tls.Conn, closeConns func()) {
	b.Helper()
	c1, c2 := net.Pipe()
	cl, sv = tls.Client(c1, ccfg), tls.Server(c2, scfg)
	done := make(chan error, 1)
	go func() { done <- sv.Handshake() }()
	if err := cl.Handshake(); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return cl, sv, func() {
		c1.Close()
		c2.Close()
	}
}

// tlsRecords sends n records of plain from cl on one goroutine and reads
// them into got from sv on the caller's.
func tlsRecords(b *testing.B, cl, sv *tls.Conn, plain, got []byte, n int) {
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if _, err := cl.Write(plain); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(sv, got); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecord16K seals and opens one full 16 KiB record per
// operation.
func BenchmarkRecord16K(b *testing.B) {
	for _, v := range benchVersions {
		b.Run(v.name+"/schannel", func(b *testing.B) {
			r := newSchannelRecords(b, v.client)
			defer r.close()
			b.SetBytes(maxPlaintext)
			b.ReportAllocs()
			b.ResetTimer()
			r.run(b, b.N)
		})
		b.Run(v.name+"/crypto-tls", func(b *testing.B) {
			ccfg, scfg := baselineConfigs(v.vers)
			cl, sv, closeConns := tlsPipe(b, ccfg, scfg)
			defer closeConns()
			plain := make([]byte, maxPlaintext)
			got := make([]byte, maxPlaintext)
			b.SetBytes(maxPlaintext)
			b.ReportAllocs()
			b.ResetTimer()
			tlsRecords(b, cl, sv, plain, got, b.N)
		})
	}
}

// schannelRecords sends 16 KiB records from a client context to a server
// context: one goroutine encrypts, the caller decrypts, as the crypto/tls
// baseline writes and reads on two goroutines.
type schannelRecords struct {
	client, server packages.Context
	free           chan []byte
	full           chan [2][]byte
	plain          []byte
	// The buffer descriptors of the sealing goroutine and of the opening
	// one, kept here so that the benchmark itself allocates nothing per
	// record and allocs/op counts the package's.
	enc, dec []secbuffer.Buffer
}

func newSchannelRecords(b *testing.B, vers uint32) *schannelRecords {
	client, server := established(b, vers)
	r := &schannelRecords{client: client.ctx, server: server.ctx, free: make(chan []byte, 4), full: make(chan [2][]byte, 4), plain: make([]byte, maxPlaintext),
		enc: make([]secbuffer.Buffer, 4), dec: make([]secbuffer.Buffer, 4)}
	for i := 0; i < 4; i++ {
		r.free <- make([]byte, 64+maxPlaintext+64)
	}
	return r
}

func (r *schannelRecords) close() {}

func (r *schannelRecords) run(b *testing.B, n int) {
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			buf := <-r.free
			const hdr = 64
			copy(buf[hdr:], r.plain)
			enc := r.enc
			enc[0] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: buf[:hdr]}
			enc[1] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: buf[hdr : hdr+maxPlaintext]}
			enc[2] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: buf[hdr+maxPlaintext:]}
			enc[3] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_EMPTY}
			if st, err := r.client.Session().EncryptMessage(0, enc, 0); st != status.SEC_E_OK {
				errc <- err
				return
			}
			// Header, data and trailer laid end to end, as sent.
			h, t := len(enc[0].Data), len(enc[2].Data)
			rec := buf[hdr-h : hdr+maxPlaintext+t]
			copy(rec, enc[0].Data)
			r.full <- [2][]byte{buf, rec}
		}
		errc <- nil
	}()
	for i := 0; i < n; i++ {
		m := <-r.full
		rec := m[1]
		dec := r.dec
		dec[0] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: rec}
		dec[1], dec[2], dec[3] = secbuffer.Buffer{}, secbuffer.Buffer{}, secbuffer.Buffer{}
		if _, st, err := r.server.Session().DecryptMessage(dec, 0); st != status.SEC_E_OK || len(dec[1].Data) != maxPlaintext {
			b.Fatal(st, err)
		}
		r.free <- m[0]
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHandshakeRatio alternates one handshake of this package with
// one of crypto/tls, so that both see the same machine load, and reports
// the ratio of their times (goal: at most 1.1).
func BenchmarkHandshakeRatio(b *testing.B) {
	for _, v := range benchVersions {
		b.Run(v.name, func(b *testing.B) {
			ccred, scred := benchCreds(b, v.client)
			ccfg, scfg := baselineConfigs(v.vers)
			var ours, base time.Duration
			for b.Loop() {
				t0 := time.Now()
				fullHandshake(b, ccred, scred)
				t1 := time.Now()
				_, _, closeConns := tlsPipe(b, ccfg, scfg)
				closeConns()
				ours += t1.Sub(t0)
				base += time.Since(t1)
			}
			b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "schannel-ns/op")
			b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "crypto-tls-ns/op")
			b.ReportMetric(float64(ours)/float64(base), "ratio")
		})
	}
}

// BenchmarkRecord16KRatio alternates batches of 64 records through this
// package and through crypto/tls and reports this package's throughput
// as a fraction of crypto/tls's (goal: at least 0.95).
func BenchmarkRecord16KRatio(b *testing.B) {
	for _, v := range benchVersions {
		b.Run(v.name, func(b *testing.B) {
			r := newSchannelRecords(b, v.client)
			ccfg, scfg := baselineConfigs(v.vers)
			cl, sv, closeConns := tlsPipe(b, ccfg, scfg)
			defer closeConns()
			plain, got := make([]byte, maxPlaintext), make([]byte, maxPlaintext)
			const batch = 64
			var ours, base time.Duration
			b.SetBytes(2 * batch * maxPlaintext)
			for b.Loop() {
				t0 := time.Now()
				r.run(b, batch)
				t1 := time.Now()
				tlsRecords(b, cl, sv, plain, got, batch)
				ours += t1.Sub(t0)
				base += time.Since(t1)
			}
			mb := float64(b.N) * batch * maxPlaintext / 1e6
			b.ReportMetric(mb/ours.Seconds(), "schannel-MB/s")
			b.ReportMetric(mb/base.Seconds(), "crypto-tls-MB/s")
			b.ReportMetric(float64(base)/float64(ours), "ratio")
		})
	}
}
