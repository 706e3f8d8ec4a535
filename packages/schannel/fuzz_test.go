package schannel

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func vectors(t testing.TB, prefix string) []*testkit.Vector {
	t.Helper()
	all, err := testkit.Vectors("schannel")
	if err != nil {
		t.Fatal(err)
	}
	var out []*testkit.Vector
	for _, v := range all {
		if strings.HasPrefix(v.Name, prefix) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s* vectors", prefix)
	}
	return out
}

func TestApplicationProtocolVectors(t *testing.T) {
	for _, v := range vectors(t, "alpn-") {
		t.Run(v.Name, func(t *testing.T) {
			protos, ok := parseApplicationProtocols(v.Data)
			if want := v.Get("expect"); want == "SEC_E_INVALID_TOKEN" {
				if ok || protos != nil {
					t.Fatalf("parsed %q", protos)
				}
				return
			} else if !ok || strings.Join(protos, ",") != want {
				t.Fatalf("got %q %v, want %s", protos, ok, want)
			}
			if v.Name == "alpn-h2-http11.txt" {
				b, err := MarshalApplicationProtocols(protos...)
				if err != nil || !bytes.Equal(b, v.Data) {
					t.Fatalf("MarshalApplicationProtocols = % x, want % x", b, v.Data)
				}
			}
		})
	}
}

func TestRecordVectors(t *testing.T) {
	for _, v := range vectors(t, "record-") {
		t.Run(v.Name, func(t *testing.T) {
			n, missing, err := nextRecord(v.Data)
			switch v.Get("expect") {
			case "SEC_E_ILLEGAL_MESSAGE":
				if err == nil {
					t.Fatalf("accepted: n=%d missing=%d", n, missing)
				}
			case "SEC_E_INCOMPLETE_MESSAGE":
				want, _ := strconv.Atoi(v.Get("missing"))
				if err != nil || n != 0 || missing != want {
					t.Fatalf("n=%d missing=%d err=%v, want missing %d", n, missing, err, want)
				}
			}
			// The server handshake reports the same.
			p := New(testConfig())
			sc, _ := serverCred(t, p, getPKI().server).NewServerContext(serverReq)
			defer sc.Delete()
			in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: v.Data}, {Type: secbuffer.SECBUFFER_EMPTY}}
			st, _ := sc.Step(context.Background(), in, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}})
			if st.String() != v.Get("expect") {
				t.Fatalf("ASC: %v, want %s", st, v.Get("expect"))
			}
		})
	}
}

func FuzzApplicationProtocols(f *testing.F) {
	for _, v := range vectors(f, "alpn-") {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		protos, ok := parseApplicationProtocols(b)
		if !ok {
			if protos != nil {
				t.Fatal("values returned with an error")
			}
			return
		}
		// A prefix of a valid blob never parses: the total length is exact.
		if len(b) > 0 {
			if _, ok := parseApplicationProtocols(b[:len(b)-1]); ok {
				t.Fatal("a proper prefix parsed")
			}
		}
		if len(protos) == 0 {
			return
		}
		again, err := MarshalApplicationProtocols(protos...)
		if err != nil {
			return // too long to marshal as one list
		}
		back, ok := parseApplicationProtocols(again)
		if !ok || strings.Join(back, "\x00") != strings.Join(protos, "\x00") {
			t.Fatalf("round trip: %q -> %q", protos, back)
		}
	})
}

// handshakeSeeds returns a real ClientHello and server flight.
func handshakeSeeds(f *testing.F) (hello, flight []byte) {
	p := New(testConfig())
	k := getPKI()
	ccred := acquire(f, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: k.roots})
	client, server := newPair(f, p, ccred, serverCred(f, p, k.server), "localhost", clientReq, serverReq)
	hello, _, _, _ = client.call(f, nil, false)
	flight, _, _, _ = server.call(f, hello, true)
	return hello, flight
}

// checkStep checks the invariants of one handshake call on arbitrary input.
func checkStep(t *testing.T, c packages.Context, b []byte) status.Status {
	in := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: b}, {Type: secbuffer.SECBUFFER_EMPTY}}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	st, err := c.Step(context.Background(), in, out)
	if st.Failed() != (err != nil) || (err != nil && status.Code(err) != st) {
		t.Fatalf("status %v with error %v", st, err)
	}
	switch in[1].Type {
	case secbuffer.SECBUFFER_EXTRA:
		if !bytes.HasSuffix(b, in[1].Data) || len(in[1].Data) == 0 {
			t.Fatal("EXTRA is not a tail of the input")
		}
	case secbuffer.SECBUFFER_MISSING:
		if st != status.SEC_E_INCOMPLETE_MESSAGE || len(in[1].Data) == 0 {
			t.Fatalf("MISSING %d with %v", len(in[1].Data), st)
		}
	}
	return st
}

func FuzzServerHandshake(f *testing.F) {
	hello, _ := handshakeSeeds(f)
	f.Add(hello)
	f.Add(hello[:len(hello)/2])
	for _, v := range vectors(f, "record-") {
		f.Add(v.Data)
	}
	p := New(testConfig())
	scred := serverCred(f, p, getPKI().server)
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := scred.NewServerContext(serverReq)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Delete()
		st := checkStep(t, sc, b)
		if st == status.SEC_E_OK {
			t.Fatal("established from one client message")
		}
	})
}

func FuzzClientHandshake(f *testing.F) {
	_, flight := handshakeSeeds(f)
	f.Add(flight)
	f.Add(flight[:len(flight)-1])
	for _, v := range vectors(f, "record-") {
		f.Add(v.Data)
	}
	p := New(testConfig())
	ccred := acquire(f, p, packages.SECPKG_CRED_OUTBOUND, &SCHANNEL_CRED{RootStore: getPKI().roots})
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, err := ccred.NewClientContext("localhost", clientReq)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Delete()
		if st := checkStep(t, cc, nil); st != status.SEC_I_CONTINUE_NEEDED {
			t.Fatalf("first call: %v", st)
		}
		checkStep(t, cc, b)
	})
}

func FuzzDecryptMessage(f *testing.F) {
	client, server := established(f, 0)
	rec := encrypt(f, client.ctx, []byte("seed record"))
	f.Add(rec)
	f.Add(rec[:len(rec)-1])
	f.Add(append(append([]byte(nil), rec...), rec[:7]...))
	for _, v := range vectors(f, "record-") {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, server := established(t, 0)
		in := append([]byte(nil), b...)
		r := decrypt(server.ctx, in)
		if r.st.Failed() != (r.err != nil) {
			t.Fatalf("status %v with error %v", r.st, r.err)
		}
		switch r.st {
		case status.SEC_E_OK:
			if len(r.data) > 0 && !overlaps(r.data, in) {
				t.Fatal("plaintext outside the input")
			}
			if r.extra != nil && !bytes.HasSuffix(in, r.extra) {
				t.Fatal("EXTRA is not a tail of the input")
			}
		case status.SEC_E_INCOMPLETE_MESSAGE:
			if r.miss <= 0 {
				t.Fatalf("MISSING %d", r.miss)
			}
		case status.SEC_I_RENEGOTIATE, status.SEC_I_CONTEXT_EXPIRED:
		default:
			if !r.st.Failed() {
				t.Fatalf("unexpected %v", r.st)
			}
		}
	})
	_ = server
}
