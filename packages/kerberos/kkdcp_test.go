package kerberos

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A KDC-PROXY-MESSAGE as MIT's client sends it: kerb-message holding a
// length-prefixed 5-byte message, target-domain "EXAMPLE.COM".
const kkdcpSample = "301c" + "a00b" + "0409" + "00000005" + "6a03020105" + "a10d" + "1b0b" + "4558414d504c452e434f4d"

func TestKKDCPMessage(t *testing.T) {
	b, _ := hex.DecodeString(kkdcpSample)
	var m kkdcpMessage
	if !m.unmarshal(b) {
		t.Fatal("sample does not parse")
	}
	if !bytes.Equal(m.kerbMessage, []byte{0x6a, 3, 2, 1, 5}) || m.targetDomain != "EXAMPLE.COM" || m.hasHint {
		t.Fatalf("parsed %+v", m)
	}
	out, err := m.marshal()
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("marshal: %x, %v", out, err)
	}
	for i := range b {
		if m.unmarshal(b[:i]) {
			t.Fatalf("prefix of %d bytes parses", i)
		}
	}
	// A length prefix that disagrees with the message.
	bad := bytes.Clone(b)
	bad[9] = 6
	if m.unmarshal(bad) {
		t.Fatal("wrong inner length accepted")
	}
	hinted := kkdcpMessage{kerbMessage: []byte{1, 2}, dclocatorHint: 70000, hasHint: true}
	hb, _ := hinted.marshal()
	if !m.unmarshal(hb) || m.dclocatorHint != 70000 || !m.hasHint {
		t.Fatalf("hint round trip: %+v", m)
	}
}

// TestKKDCPExchange runs the KDC proxy transport against an HTTPS server
// that answers as a proxy does, and checks the caps on its reply.
func TestKKDCPExchange(t *testing.T) {
	var gotRealm string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m kkdcpMessage
		b := new(bytes.Buffer)
		b.ReadFrom(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/kerberos" || !m.unmarshal(b.Bytes()) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		gotRealm = m.targetDomain
		switch string(m.kerbMessage) {
		case "big":
			w.Write(make([]byte, maxKKDCPBody+10))
			return
		case "junk":
			w.Write([]byte{0x30, 0x00})
			return
		}
		rep, _ := (&kkdcpMessage{kerbMessage: append([]byte("reply to "), m.kerbMessage...)}).marshal()
		w.Header().Set("Content-Type", "application/kerberos")
		w.Write(rep)
	}))
	defer srv.Close()
	p := New(&Config{Krb5Conf: fakeRealmConf("PROXY.TEST", srv.URL+"/KdcProxy"), KDCProxyClient: srv.Client()})
	rep, err := p.transport().RoundTrip(context.Background(), "PROXY.TEST", []byte("hello"))
	if err != nil || string(rep) != "reply to hello" || gotRealm != "PROXY.TEST" {
		t.Fatalf("got %q, %v (realm %q)", rep, err, gotRealm)
	}
	for _, req := range []string{"big", "junk"} {
		if rep, err := p.exchangeKKDCP(context.Background(), srv.URL, "PROXY.TEST", []byte(req)); err == nil {
			t.Errorf("%s: reply %q accepted", req, rep)
		}
	}
	// Without the test CA the proxy's certificate is refused.
	p2 := New(&Config{Krb5Conf: fakeRealmConf("PROXY.TEST", srv.URL+"/KdcProxy")})
	if _, err := p2.transport().RoundTrip(context.Background(), "PROXY.TEST", []byte("hello")); err == nil {
		t.Error("an untrusted KDC proxy certificate was accepted")
	}
}

// FuzzKKDCPMessage checks that a KDC-PROXY-MESSAGE that parses marshals
// back to the same bytes (DER has one encoding), and that what parses
// respects the caps.
func FuzzKKDCPMessage(f *testing.F) {
	b, _ := hex.DecodeString(kkdcpSample)
	f.Add(b)
	h, _ := (&kkdcpMessage{kerbMessage: []byte{1}, dclocatorHint: -1, hasHint: true, targetDomain: "R"}).marshal()
	f.Add(h)
	f.Fuzz(func(t *testing.T, in []byte) {
		var m kkdcpMessage
		if !m.unmarshal(in) {
			if m.kerbMessage != nil || m.targetDomain != "" || m.hasHint {
				t.Fatalf("failed parse left values: %+v", m)
			}
			return
		}
		if len(m.kerbMessage) > maxTCPReply || len(m.targetDomain) > maxKKDCPRealm {
			t.Fatalf("caps exceeded: %d, %d", len(m.kerbMessage), len(m.targetDomain))
		}
		out, err := m.marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip:\n in %x\nout %x", in, out)
		}
	})
}
