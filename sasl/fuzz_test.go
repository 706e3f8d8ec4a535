package sasl

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/ntlm"
)

// detRand is a deterministic byte stream (SHA-256 in counter mode), so
// that fuzzed NTLM sessions, and so their frames, are the same on every
// run.
type detRand struct {
	n   uint64
	buf []byte
}

func (r *detRand) Read(p []byte) (int, error) {
	for i := range p {
		if len(r.buf) == 0 {
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], r.n)
			r.n++
			sum := sha256.Sum256(c[:])
			r.buf = sum[:]
		}
		p[i], r.buf = r.buf[0], r.buf[1:]
	}
	return len(p), nil
}

// ntlmPair returns an established NTLM client and server context pair
// whose keys are the same on every call.
func ntlmPair(t testing.TB, req uint32) (client, server *sspi.Context) {
	t.Helper()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	r := sspi.NewRegistry()
	r.Register(ntlm.New(&ntlm.Config{Rand: &detRand{}, Time: func() time.Time { return now },
		ComputerName: "SERVER", DomainName: ntlmDomain, Workstation: "CLIENT"}))
	cc, err := r.AcquireCredentials(bg, "NTLM", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: ntlmUser, Domain: ntlmDomain, Password: ntlmPassword})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := r.AcquireCredentials(bg, "NTLM", sspi.CredentialsInbound, ntlm.Users{ntlmDomain + `\` + ntlmUser: ntlmPassword})
	if err != nil {
		t.Fatal(err)
	}
	if client, err = sspi.NewClientContext(cc, "ldap/server", req); err != nil {
		t.Fatal(err)
	}
	if server, err = sspi.NewServerContext(sc, ServerFlags()); err != nil {
		t.Fatal(err)
	}
	var tok []byte
	for !client.Established() || !server.Established() {
		if tok, err = client.Step(bg, tok); err != nil {
			t.Fatal(err)
		}
		if len(tok) == 0 {
			break
		}
		if tok, err = server.Step(bg, tok); err != nil {
			t.Fatal(err)
		}
	}
	return client, server
}

// readerConn is a net.Conn that reads from a byte slice and discards
// writes.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c readerConn) Write(p []byte) (int, error) { return len(p), nil }
func (c readerConn) Close() error                { return nil }

// FuzzFrames feeds a Conn a stream of genuine frames altered by the
// fuzzer: bytes flipped, dropped, inserted, frames repeated. Whatever it
// reads must be a prefix of the plaintext that was sent, the whole of it
// when nothing was altered: no altered, replayed, reordered or forged
// frame may unwrap, and nothing may panic.
func FuzzFrames(f *testing.F) {
	f.Add([]byte("hello, world"), uint16(5), []byte{}, false)
	f.Add([]byte("hello, world"), uint16(5), []byte{0, 20, 1}, false)
	f.Add(bytes.Repeat([]byte("abc"), 100), uint16(64), []byte{1, 30, 0}, true)
	f.Add(bytes.Repeat([]byte("abc"), 100), uint16(64), []byte{2, 3, 0xff}, false)
	f.Add([]byte("x"), uint16(1), []byte{3, 0, 0}, true)
	f.Add([]byte("length"), uint16(10), []byte{0, 1, 0x80}, false)
	f.Fuzz(func(t *testing.T, plain []byte, chunk uint16, edits []byte, signed bool) {
		cc, sc := ntlmPair(t, ClientFlags(GSSSPNEGO, LayerConfidentiality, "NTLM"))
		defer cc.Delete()
		defer sc.Delete()
		const maxRecv = 1 << 12
		send, err := newSecurity(cc, LayerConfidentiality, maxRecv, maxRecv)
		if err != nil {
			t.Fatal(err)
		}
		recv, err := newSecurity(sc, LayerConfidentiality, maxRecv, maxRecv)
		if err != nil {
			t.Fatal(err)
		}
		if signed {
			// Signed-only frames, which a receiver that does not
			// require encryption must verify just as strictly.
			send.qop, send.sealed = sspi.SECQOP_WRAP_NO_ENCRYPT, false
			recv.sealed = false
		}
		n := int(chunk)%send.MaxPlaintext() + 1
		var wire []byte
		var frames [][2]int // each frame's extent in wire
		for rest := plain; len(rest) > 0; {
			k := min(n, len(rest))
			start := len(wire)
			if wire, err = send.appendFrame(wire, rest[:k]); err != nil {
				t.Fatal(err)
			}
			frames = append(frames, [2]int{start, len(wire)})
			rest = rest[k:]
		}
		altered := false
		for ; len(edits) >= 3; edits = edits[3:] {
			op, pos, v := edits[0]%4, int(edits[1]), edits[2]
			if len(wire) == 0 {
				break
			}
			pos %= len(wire)
			switch op {
			case 0: // flip bits
				if v != 0 {
					wire[pos] ^= v
					altered = true
				}
			case 1: // cut
				wire = wire[:pos]
				altered = true
			case 2: // insert
				wire = append(wire[:pos], append([]byte{v}, wire[pos:]...)...)
				altered = true
			case 3: // repeat a frame at the end
				if len(frames) > 0 {
					fr := frames[int(v)%len(frames)]
					if fr[1] <= len(wire) {
						wire = append(wire, wire[fr[0]:fr[1]]...)
						altered = true
					}
				}
			}
		}
		conn := NewConn(readerConn{r: bytes.NewReader(wire)})
		if err := conn.Start(recv); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(conn)
		if !bytes.HasPrefix(plain, got) {
			t.Fatalf("read %q, not a prefix of what was sent %q", got, plain)
		}
		if !altered && (err != nil || len(got) != len(plain)) {
			t.Fatalf("unaltered stream: read %d of %d bytes, %v", len(got), len(plain), err)
		}
	})
}

// FuzzParseOffer: the server's offer parses only at 4 octets, and what
// parses marshals back to the same octets; the choice made from it is a
// single offered layer.
func FuzzParseOffer(f *testing.F) {
	f.Add([]byte{7, 0, 0x10, 0}, uint8(4), false)
	f.Add([]byte{1, 0, 0, 0}, uint8(2), true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint8(1), false)
	f.Add([]byte{6, 1, 2}, uint8(4), false)
	f.Add([]byte{}, uint8(4), false)
	f.Fuzz(func(t *testing.T, b []byte, want uint8, require bool) {
		o, err := parseOffer(b)
		if err != nil {
			if len(b) == 4 {
				t.Fatalf("4 octets refused: %v", err)
			}
			return
		}
		if !bytes.Equal(o.marshal(), b) || o.maxBuf > maxBufferLimit {
			t.Fatalf("offer %+v from %x marshals to %x", o, b, o.marshal())
		}
		w := Layer(1 << (want % 3))
		l, err := choose(o.layers, w, require)
		if err != nil {
			return
		}
		if !l.single() || o.layers&l == 0 {
			t.Fatalf("chose %v from %v", l, o.layers)
		}
		if require && l != w && !(w == LayerIntegrity && l == LayerConfidentiality) {
			t.Fatalf("required %v, chose %v", w, l)
		}
	})
}

// FuzzParseChoice: the client's choice parses with at least 4 octets and
// a UTF-8 authorization identity without NUL, and marshals back to the
// same octets; a server accepts only a layer it offered.
func FuzzParseChoice(f *testing.F) {
	f.Add([]byte{4, 0, 0x10, 0}, uint8(7))
	f.Add([]byte("\x02\x01\x00\x00dn:cn=alice"), uint8(3))
	f.Add([]byte{6, 0, 0, 0}, uint8(4))
	f.Add([]byte{1, 0, 0, 0, 0}, uint8(1))
	f.Add([]byte{1, 0, 0, 0, 0xff}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, offered uint8) {
		c, err := parseChoice(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.marshal(), b) {
			t.Fatalf("choice %+v from %x marshals to %x", c, b, c.marshal())
		}
		o := offer{layers: Layer(offered)}
		l, err := o.accept(c)
		if err != nil {
			return
		}
		if !l.single() || o.layers&l == 0 {
			t.Fatalf("accepted %v (chosen %#x) from the offer %v", l, uint8(c.layer), o.layers)
		}
	})
}

// FuzzBindResult: reading the bind's outcome never panics, and reads
// every well-formed BindResponse right.
func FuzzBindResult(f *testing.F) {
	f.Add(uint16(1), uint8(0), []byte("creds"), []byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add(uint16(300), uint8(49), []byte(nil), bindResponse(2, 14, []byte("x")))
	f.Add(uint16(0), uint8(14), []byte{}, []byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, id uint16, code uint8, creds, junk []byte) {
		isBind, got, err := bindResult(bindResponse(int(id), int(code), creds))
		if err != nil || !isBind || got != int(code) {
			t.Fatalf("bindResult of a BindResponse(%d): %v, %d, %v", code, isBind, got, err)
		}
		bindResult(junk)
		// An armed Conn reading junk: no panic, and a layer only after a
		// success.
		cc, sc := ntlmPair(t, ClientFlags(GSSSPNEGO, LayerConfidentiality, "NTLM"))
		defer cc.Delete()
		defer sc.Delete()
		sec, err := newSecurity(cc, LayerConfidentiality, 1000, 1000)
		if err != nil {
			t.Fatal(err)
		}
		conn := NewConn(readerConn{r: bytes.NewReader(junk)})
		conn.StartAfterBind(sec)
		io.ReadAll(conn)
		if want := startsLayer(junk); conn.Active() != want {
			t.Fatalf("layer installed %v after %x, want %v", conn.Active(), junk, want)
		}
	})
}

// startsLayer reports whether a stream installs an armed layer: well-formed
// LDAP messages up to a BindResponse with resultCode success.
func startsLayer(b []byte) bool {
	for len(b) > 0 {
		hdr, n, ok, err := berHeader(b)
		if !ok || err != nil || n > len(b)-hdr {
			return false
		}
		isBind, code, err := bindResult(b[:hdr+n])
		if err != nil {
			return false
		}
		if isBind {
			return code == 0
		}
		b = b[hdr+n:]
	}
	return false
}
