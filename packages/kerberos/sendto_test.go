package kerberos

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/iana/patype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
	xpbkdf2 "golang.org/x/crypto/pbkdf2"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// fakeKDC answers on UDP and TCP on one loopback port with handle.
type fakeKDC struct {
	addr     string
	requests atomic.Int32
	udp      net.PacketConn
	tcp      net.Listener
	wg       sync.WaitGroup
}

func startFakeKDC(t testing.TB, handle func(req []byte) []byte) *fakeKDC {
	t.Helper()
	// One port for both transports: retry when the TCP side is taken.
	var udp net.PacketConn
	var tcp net.Listener
	for try := 0; tcp == nil; try++ {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", u.LocalAddr().String())
		if err != nil {
			u.Close()
			if try == 20 {
				t.Fatal(err)
			}
			continue
		}
		udp, tcp = u, l
	}
	k := &fakeKDC{addr: udp.LocalAddr().String(), udp: udp, tcp: tcp}
	k.wg.Add(2)
	go func() {
		defer k.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			k.requests.Add(1)
			if rep := handle(bytes.Clone(buf[:n])); rep != nil {
				udp.WriteTo(rep, from)
			}
		}
	}()
	go func() {
		defer k.wg.Done()
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var hdr [4]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				req := make([]byte, binary.BigEndian.Uint32(hdr[:]))
				if _, err := io.ReadFull(c, req); err != nil {
					return
				}
				k.requests.Add(1)
				rep := handle(req)
				if rep == nil {
					return
				}
				out := binary.BigEndian.AppendUint32(nil, uint32(len(rep)))
				c.Write(append(out, rep...))
			}()
		}
	}()
	t.Cleanup(func() { udp.Close(); tcp.Close(); k.wg.Wait() })
	return k
}

// blackHole returns a loopback UDP address that reads nothing and
// answers nothing (no ICMP either): a KDC that is down without saying so.
func blackHole(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

func fakeRealmConf(realm string, kdcs ...string) *config.Config {
	conf := config.New()
	conf.LibDefaults.DefaultRealm = realm
	conf.LibDefaults.DNSLookupKDC = false
	conf.Realms = []config.Realm{{Realm: realm, KDC: kdcs}}
	return conf
}

// TestSendtoDeadKDC measures the exchange with a silent KDC listed before
// a live one: the first run waits one per-attempt timeout (1 s) before
// asking the live KDC; later runs ask the live one first, because the
// silent one is remembered.
func TestSendtoDeadKDC(t *testing.T) {
	reply := []byte("\x6b\x03\x02\x01\x05") // any bytes: the transport does not parse AS-REPs
	live := startFakeKDC(t, func([]byte) []byte { return reply })
	dead := blackHole(t)
	p := New(&Config{Krb5Conf: fakeRealmConf("DEAD.TEST", dead, live.addr)})
	tr := p.transport()
	var took []time.Duration
	for run := range 4 {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep, err := tr.RoundTrip(ctx, "DEAD.TEST", []byte("request"))
		cancel()
		d := time.Since(start)
		took = append(took, d)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if !bytes.Equal(rep, reply) {
			t.Fatalf("run %d: reply %x, want %x", run, rep, reply)
		}
	}
	t.Logf("one dead + one live KDC, 4 runs: %v", took)
	if took[0] < 900*time.Millisecond || took[0] > 2500*time.Millisecond {
		t.Errorf("first run took %v, want about the 1 s per-attempt wait", took[0])
	}
	for i, d := range took[1:] {
		// Asking the dead KDC first would cost its full 1 s wait.
		if d > 900*time.Millisecond {
			t.Errorf("run %d took %v: the dead KDC was not remembered", i+1, d)
		}
	}
	key := "udp/" + dead
	if !isDead(key, time.Now()) {
		t.Errorf("%s not remembered as dead", key)
	}
	if isDead(key, time.Now().Add(deadKDCTime+time.Second)) {
		t.Errorf("%s still dead after %v", key, deadKDCTime)
	}
}

// TestSendtoParallel checks that a slow KDC is not waited for alone: the
// second is asked after 1 s, and the slow one's late answer still counts
// if it comes first.
func TestSendtoParallel(t *testing.T) {
	slow := startFakeKDC(t, func([]byte) []byte { time.Sleep(1300 * time.Millisecond); return []byte("slow") })
	fast := startFakeKDC(t, func([]byte) []byte { time.Sleep(1000 * time.Millisecond); return []byte("fast") })
	p := New(&Config{Krb5Conf: fakeRealmConf("PAR.TEST", "udp/"+slow.addr, "udp/"+fast.addr)})
	start := time.Now()
	rep, err := p.transport().RoundTrip(context.Background(), "PAR.TEST", []byte("req"))
	d := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// slow answers at 1.3 s, fast (asked at 1 s) at 2 s.
	if string(rep) != "slow" || d < 1200*time.Millisecond || d > 1950*time.Millisecond {
		t.Errorf("got %q after %v, want the slow KDC's answer at about 1.3 s", rep, d)
	}
	if fast.requests.Load() != 1 {
		t.Errorf("second KDC asked %d times, want once (after 1 s)", fast.requests.Load())
	}
}

// TestSendtoTCPFallback checks the deferred transport: a KDC that only
// has TCP is reached after its UDP attempt fails (ICMP port unreachable on
// loopback) without the 1 s wait.
func TestSendtoTCPFallback(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var hdr [4]byte
			io.ReadFull(c, hdr[:])
			io.ReadFull(c, make([]byte, binary.BigEndian.Uint32(hdr[:])))
			c.Write([]byte{0, 0, 0, 3, 't', 'c', 'p'})
			c.Close()
		}
	}()
	p := New(&Config{Krb5Conf: fakeRealmConf("TCP.TEST", l.Addr().String())})
	start := time.Now()
	rep, err := p.transport().RoundTrip(context.Background(), "TCP.TEST", []byte("req"))
	if err != nil || string(rep) != "tcp" {
		t.Fatalf("got %q, %v", rep, err)
	}
	if d := time.Since(start); d > 900*time.Millisecond { // waiting for UDP would cost 1 s
		t.Errorf("TCP fallback took %v after a refused UDP attempt", d)
	}
}

// TestSendtoDeadline checks that a context deadline ends the wait for
// KDCs that never answer.
func TestSendtoDeadline(t *testing.T) {
	p := New(&Config{Krb5Conf: fakeRealmConf("SILENT.TEST", blackHole(t), blackHole(t))})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.transport().RoundTrip(ctx, "SILENT.TEST", []byte("req"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	// Without the deadline the passes would wait 1+1+2+4 s and more.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %v past a 300 ms deadline", d)
	}
}

// asKDC is a fake KDC that asks for pre-authentication with ETYPE-INFO2
// {aes256-cts-hmac-sha1-96, salt, s2kparams} and, given PA-ENC-TIMESTAMP,
// reports whether it decrypts with the password's key, then fails the
// exchange with KDC_ERR_POLICY (so no AS-REP has to be built).
type asKDC struct {
	*fakeKDC
	gotTimestamp atomic.Bool
	timestampOK  atomic.Bool
}

func startASKDC(t *testing.T, realm, salt string, params []byte, key types.EncryptionKey) *asKDC {
	k := &asKDC{}
	k.fakeKDC = startFakeKDC(t, func(req []byte) []byte {
		var as messages.ASReq
		if err := as.Unmarshal(req); err != nil {
			return nil
		}
		for _, pa := range as.PAData {
			if pa.PADataType != patype.PA_ENC_TIMESTAMP {
				continue
			}
			k.gotTimestamp.Store(true)
			var ed types.EncryptedData
			if ed.Unmarshal(pa.PADataValue) == nil {
				if _, err := crypto.DecryptEncPart(ed, key, keyusage.AS_REQ_PA_ENC_TIMESTAMP); err == nil {
					k.timestampOK.Store(true)
				}
			}
			e := messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm), realm, errorcode.KDC_ERR_POLICY, "test end")
			b, _ := e.Marshal()
			return b
		}
		entry, err := marshalETypeInfo2Entry(types.ETypeInfo2Entry{EType: 18, Salt: salt, S2KParams: params})
		if err != nil {
			t.Error(err)
			return nil
		}
		var md cryptobyte.Builder
		md.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(patype.PA_ETYPE_INFO2)) })
				b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(entry) })
			})
		})
		e := messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm), realm, errorcode.KDC_ERR_PREAUTH_REQUIRED, "")
		e.EData = md.BytesOrPanic()
		b, _ := e.Marshal()
		return b
	})
	return k
}

// TestS2KParamsBounds runs the AS exchange against a KDC announcing
// each iteration count: counts below the enctype default or at or above
// 2^24 are refused before any PA-ENC-TIMESTAMP is sent; the default
// gives a timestamp the KDC decrypts with the password's key.
func TestS2KParamsBounds(t *testing.T) {
	const realm, salt, pw = "S2K.TEST", "S2K.TESTalice", "secret-pw"
	iter := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	for _, tc := range []struct {
		name   string
		params []byte
		ok     bool
	}{
		{"1 iteration", iter(1), false},
		{"4095 iterations", iter(4095), false},
		{"zero (2^32)", iter(0), false},
		{"2^24", iter(1 << 24), false},
		{"2^32-1", iter(1<<32 - 1), false},
		{"3 bytes", []byte{0, 0x10, 0}, false},
		{"default 4096", iter(4096), true},
		{"absent", nil, true},
		{"8192", iter(8192), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 4096
			if len(tc.params) == 4 && tc.ok {
				n = int(binary.BigEndian.Uint32(tc.params))
			}
			kb, err := crypto.GetEtype(18)
			if err != nil {
				t.Fatal(err)
			}
			raw := xpbkdf2.Key([]byte(pw), []byte(salt), n, 32, sha1.New)
			want, err := kb.DeriveKey(kb.RandomToKey(raw), []byte("kerberos"))
			if err != nil {
				t.Fatal(err)
			}
			kdc := startASKDC(t, realm, salt, tc.params, types.EncryptionKey{KeyType: 18, KeyValue: want})
			p := New(&Config{Krb5Conf: fakeRealmConf(realm, "udp/"+kdc.addr)})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cred, err := p.AcquireCredentials(ctx, "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Domain: realm, Password: pw})
			if err != nil {
				t.Fatal(err)
			}
			defer cred.Free()
			_, err = cred.(*credentials).tgtCopy(ctx)
			if err == nil {
				t.Fatal("AS exchange succeeded against a fake KDC")
			}
			if tc.ok {
				if !kdc.gotTimestamp.Load() || !kdc.timestampOK.Load() {
					t.Fatalf("timestamp sent %v, decrypts %v; err %v", kdc.gotTimestamp.Load(), kdc.timestampOK.Load(), err)
				}
				return
			}
			if !errors.Is(err, ErrBadS2KParams) || !errors.Is(err, status.SEC_E_KDC_UNKNOWN_ETYPE) {
				t.Fatalf("err = %v, want ErrBadS2KParams with SEC_E_KDC_UNKNOWN_ETYPE", err)
			}
			if kdc.gotTimestamp.Load() || kdc.requests.Load() != 1 {
				t.Fatalf("the KDC got %d requests (timestamp %v) after refused s2kparams", kdc.requests.Load(), kdc.gotTimestamp.Load())
			}
		})
	}
}

// TestS2KDeadline checks that string-to-key stops at the context's
// deadline: 2^24-1 iterations (allowed) take seconds, the deadline is
// 100 ms.
func TestS2KDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := stringToKey(ctx, "pw", 18, "REALMuser", []byte{0, 0xff, 0xff, 0xff})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	// The whole derivation takes several seconds (more under -race).
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("string-to-key ran %v past a 100 ms deadline", d)
	}

	// Through the AS exchange: the caller's deadline ends the wait and the
	// flight's derivation.
	const realm = "SLOW.TEST"
	kdc := startASKDC(t, realm, "salt", []byte{0, 0xff, 0xff, 0xff}, types.EncryptionKey{})
	p := New(&Config{Krb5Conf: fakeRealmConf(realm, "udp/"+kdc.addr)})
	cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Domain: realm, Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	start = time.Now()
	_, err = cred.(*credentials).tgtCopy(ctx2)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("AS exchange ended after %v with %v", time.Since(start), err)
	}
}

// TestStringToKeyMatchesGokrb5 checks the interruptible derivation
// against gokrb5's for every AES enctype.
func TestStringToKeyMatchesGokrb5(t *testing.T) {
	for _, et := range []int32{17, 18, 19, 20} {
		e, err := crypto.GetEtype(et)
		if err != nil {
			t.Fatal(err)
		}
		salt := "EXAMPLE.COMalice"
		got, err := stringToKey(context.Background(), "pässword", et, salt, nil)
		if err != nil {
			t.Fatal(err)
		}
		params := "00001000"
		if et >= 19 {
			params = "00008000"
		}
		want, err := e.StringToKey("pässword", salt, params)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.KeyValue, want) {
			t.Errorf("enctype %d: key %x, gokrb5 %x", et, got.KeyValue, want)
		}
	}
	// RFC 8009 appendix A: aes128-cts-hmac-sha256-128, 32768 iterations.
	salt := "\x10\xDF\x9D\xD7\x83\xE5\xBC\x8A\xCE\xA1\x73\x0E\x74\x35\x5F\x61ATHENA.MIT.EDUraeburn"
	got, err := stringToKey(context.Background(), "password", 19, salt, []byte{0, 0, 0x80, 0})
	if err != nil {
		t.Fatal(err)
	}
	if want := "089bca48b105ea6ea77ca5d2f39dc5e7"; fmt.Sprintf("%x", got.KeyValue) != want {
		t.Errorf("RFC 8009 vector: %x, want %s", got.KeyValue, want)
	}
}

func TestOrderSRV(t *testing.T) {
	recs := []*net.SRV{
		{Target: "c.", Priority: 20, Weight: 0},
		{Target: "a.", Priority: 10, Weight: 60},
		{Target: "b.", Priority: 10, Weight: 40},
		{Target: "z.", Priority: 10, Weight: 0},
	}
	// A fixed draw of 0 picks the zero-weight record first, then the
	// first of the rest; a draw of sum picks the last.
	got := orderSRV(recs, func(int) int { return 0 })
	if names := srvNames(got); names != "z. a. b. c." {
		t.Errorf("draw 0: %s", names)
	}
	got = orderSRV(recs, func(n int) int { return n - 1 })
	if names := srvNames(got); names != "b. a. z. c." {
		t.Errorf("draw max: %s", names)
	}
	// Over many draws, a (weight 60) comes first about 60% of the time.
	first := map[string]int{}
	for range 2000 {
		first[orderSRV(recs, rand.IntN)[0].Target]++
	}
	if first["c."] != 0 {
		t.Errorf("a record of a higher priority came first: %v", first)
	}
	if first["a."] < 900 || first["b."] < 500 {
		t.Errorf("weights not followed: %v", first)
	}
}

func srvNames(recs []*net.SRV) string {
	var s []string
	for _, r := range recs {
		s = append(s, r.Target)
	}
	return strings.Join(s, " ")
}

func TestParseKDCEntry(t *testing.T) {
	for in, want := range map[string]string{
		"kdc.example.com:88":                 "kdc.example.com:88",
		"tcp/kdc.example.com:88":             "tcp/kdc.example.com:88",
		"udp/10.0.0.1:750":                   "udp/10.0.0.1:750",
		"[::1]:88":                           "[::1]:88",
		"https://proxy.example.com/KdcProxy": "https://proxy.example.com/KdcProxy",
		"https://proxy.example.com:88":       "https://proxy.example.com",
	} {
		s, ok := parseKDCEntry(in)
		if !ok || s.String() != want {
			t.Errorf("%q: %q, %v; want %q", in, s.String(), ok, want)
		}
	}
}

// TestDefaultResolverStaysOnLoopback checks the test-binary guard: with
// no Config.Resolver, a DNS query never leaves the machine.
func TestDefaultResolverStaysOnLoopback(t *testing.T) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil || !strings.Contains(string(b), "nameserver") || strings.Contains(string(b), "nameserver 127.") {
		t.Skip("no non-loopback nameserver in /etc/resolv.conf to be kept from")
	}
	_, _, err = New(nil).resolver().LookupSRV(context.Background(), "kerberos", "udp", "example.com")
	if err == nil || !strings.Contains(err.Error(), "not on loopback") {
		t.Fatalf("err = %v, want the loopback guard", err)
	}
}
