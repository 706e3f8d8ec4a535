package sasl

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/gosspi/sspi"
)

// loop is a net.Conn whose writes become its reads, in memory: one
// goroutine writes a message through a Conn and reads it back through
// another over the same loop.
type loop struct {
	net.Conn
	buf bytes.Buffer
}

func (l *loop) Read(p []byte) (int, error) {
	if l.buf.Len() == 0 {
		return 0, io.EOF
	}
	return l.buf.Read(p)
}
func (l *loop) Write(p []byte) (int, error) { return l.buf.Write(p) }
func (l *loop) Close() error                { return nil }

// benchPair binds client and server contexts into two Conns over one
// loop, the client's writing what the server reads.
func benchPair(b *testing.B, cc, sc *sspi.Context, layer Layer, maxBuf int) (w, r *Conn) {
	b.Helper()
	send, err := newSecurity(cc, layer, maxBuf, maxBuf)
	if err != nil {
		b.Fatal(err)
	}
	recv, err := newSecurity(sc, layer, maxBuf, maxBuf)
	if err != nil {
		b.Fatal(err)
	}
	l := &loop{}
	w, r = NewConn(l), NewConn(l)
	if err := w.Start(send); err != nil {
		b.Fatal(err)
	}
	if err := r.Start(recv); err != nil {
		b.Fatal(err)
	}
	return w, r
}

// benchFrames writes messages of each size through w and reads them back
// through r: wrap, frame, unframe, unwrap.
func benchFrames(b *testing.B, w, r *Conn) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			msg := bytes.Repeat([]byte{0x5a}, size)
			got := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(r, got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFramesNTLM(b *testing.B) {
	cc, sc := ntlmPair(b, ClientFlags(GSSSPNEGO, LayerConfidentiality, "NTLM"))
	w, r := benchPair(b, cc, sc, LayerConfidentiality, DefaultMaxSend)
	benchFrames(b, w, r)
}

func BenchmarkFramesKerberos(b *testing.B) {
	rlm := kerberosRealm(b, "Kerberos")
	for _, layer := range []Layer{LayerIntegrity, LayerConfidentiality} {
		b.Run(layer.String(), func(b *testing.B) {
			cc, err := sspi.NewClientContext(rlm.client, rlm.target, ClientFlags(GSSAPI, layer, "Kerberos"))
			if err != nil {
				b.Fatal(err)
			}
			sc, err := sspi.NewServerContext(rlm.server, ServerFlags())
			if err != nil {
				b.Fatal(err)
			}
			var tok []byte
			for !cc.Established() || !sc.Established() {
				if tok, err = cc.Step(bg, tok); err != nil {
					b.Fatal(err)
				}
				if len(tok) == 0 {
					break
				}
				if tok, err = sc.Step(bg, tok); err != nil {
					b.Fatal(err)
				}
			}
			w, r := benchPair(b, cc, sc, layer, DefaultMaxSend)
			benchFrames(b, w, r)
		})
	}
}
