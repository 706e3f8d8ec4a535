package kerberos

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// aliceSID is the binary SID S-1-5-21-1-2-3-1105.
var aliceSID = testkit.BinarySID(5, 21, 1, 2, 3, 1105)

var upnDNSInfoTests = []struct {
	name    string
	upn     string
	dns     string
	flags   uint32
	sam     string
	sid     []byte
	wantSID string
}{
	{name: "plain", upn: "alice@gosspi.test", dns: "GOSSPI.TEST"},
	{name: "constructed", upn: "alice@gosspi.test", dns: "GOSSPI.TEST", flags: UPNDNSInfoConstructed},
	{name: "extended", upn: "alice@gosspi.test", dns: "GOSSPI.TEST", flags: UPNDNSInfoExtended, sam: "alice", sid: aliceSID, wantSID: "S-1-5-21-1-2-3-1105"},
	{name: "extended-constructed", upn: "bob@gosspi.test", dns: "GOSSPI.TEST", flags: UPNDNSInfoExtended | UPNDNSInfoConstructed, sam: "bob", sid: aliceSID, wantSID: "S-1-5-21-1-2-3-1105"},
	// MS-PAC 2.10: the other bits are ignored.
	{name: "other-bits", upn: "alice@gosspi.test", dns: "GOSSPI.TEST", flags: 0xfffffffc | UPNDNSInfoExtended, sam: "alice", sid: aliceSID, wantSID: "S-1-5-21-1-2-3-1105"},
	{name: "non-ascii", upn: "zoë.𝔸@gosspi.test", dns: "GOSSPI.TEST", flags: UPNDNSInfoExtended, sam: "zoë", sid: testkit.BinarySID(1<<40, 7), wantSID: "S-1-0x010000000000-7"},
	{name: "extended-empty", upn: "", dns: "", flags: UPNDNSInfoExtended},
}

// UPN_DNS_INFO with and without the S (extended) flag: the SAM name and
// the SID appear only with it.
func TestUPNDNSInfo(t *testing.T) {
	for _, tt := range upnDNSInfoTests {
		t.Run(tt.name, func(t *testing.T) {
			b := testkit.UPNDNSInfo(tt.upn, tt.dns, tt.flags, tt.sam, tt.sid)
			u, err := parseUPNDNSInfo(b)
			if err != nil {
				t.Fatal(err)
			}
			want := UPNDNSInfo{UPN: tt.upn, DNSDomainName: tt.dns, Flags: tt.flags, SAMName: tt.sam, SID: tt.wantSID}
			if *u != want {
				t.Fatalf("got %+v, want %+v", *u, want)
			}
			if u.Extended() != (tt.flags&UPNDNSInfoExtended != 0) {
				t.Errorf("Extended() = %v", u.Extended())
			}
			if upnLen := int(binary.LittleEndian.Uint16(b)); upnLen != 2*len(utf16.Encode([]rune(tt.upn))) {
				t.Errorf("UPN length field %d", upnLen)
			}
		})
	}
	// Without S the SAM name and SID fields are not read: a writer that
	// appends them without the flag leaves them out.
	b := testkit.UPNDNSInfo("alice@gosspi.test", "GOSSPI.TEST", UPNDNSInfoExtended, "alice", aliceSID)
	binary.LittleEndian.PutUint32(b[8:], 0)
	u, err := parseUPNDNSInfo(b)
	if err != nil || u.SAMName != "" || u.SID != "" || u.Extended() {
		t.Errorf("without S: %+v, %v", u, err)
	}
}

// A UPN_DNS_INFO field outside the buffer, inside its fixed part, of odd
// length or overlapping another, and a SID that is not one, are
// malformed: the PAC fails with ErrMalformedPAC.
func TestUPNDNSInfoMalformed(t *testing.T) {
	ext := func() []byte {
		return testkit.UPNDNSInfo("alice@gosspi.test", "GOSSPI.TEST", UPNDNSInfoExtended, "alice", aliceSID)
	}
	put16 := func(b []byte, at int, v uint16) []byte { binary.LittleEndian.PutUint16(b[at:], v); return b }
	tests := []struct {
		name string
		b    []byte
	}{
		{"short", make([]byte, 11)},
		{"extended-short", put16(append(make([]byte, 12), 0, 0, 0, 0), 8, uint16(UPNDNSInfoExtended))},
		{"upn-offset-past-end", put16(ext(), 2, 0xfff0)},
		{"upn-length-past-end", put16(ext(), 0, 0x7ffe)},
		{"dns-ends-past-end", func() []byte { b := ext(); return b[:binary.LittleEndian.Uint16(b[6:])+2] }()},
		{"upn-in-fixed-part", put16(ext(), 2, 4)},
		{"upn-odd-length", put16(ext(), 0, 33)},
		{"dns-overlaps-upn", put16(ext(), 6, binary.LittleEndian.Uint16(ext()[2:])+2)},
		{"sam-past-end", put16(ext(), 14, 0xfff8)},
		{"sid-bad-revision", func() []byte { b := ext(); b[binary.LittleEndian.Uint16(b[18:])] = 2; return b }()},
		{"sid-length-mismatch", put16(ext(), 16, uint16(len(aliceSID)-4))},
		{"sid-too-many-subauthorities", testkit.UPNDNSInfo("a@b", "B", UPNDNSInfoExtended, "a", testkit.BinarySID(5, make([]uint32, 16)...))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := parseUPNDNSInfo(tt.b)
			if !errors.Is(err, ErrMalformedPAC) || u != nil {
				t.Fatalf("got %+v, %v; want ErrMalformedPAC", u, err)
			}
			t.Log(err)
		})
	}
}

// pacVector reads testdata/kerberos/pac-*.txt.
func pacVectors(t testing.TB) []*testkit.Vector {
	t.Helper()
	all, err := testkit.Vectors("kerberos")
	if err != nil {
		t.Fatal(err)
	}
	var out []*testkit.Vector
	for _, v := range all {
		if strings.HasPrefix(v.Name, "pac-") {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatal("no pac-* vectors in testdata/kerberos")
	}
	return out
}

// Published PACs: an Active Directory PAC with UPN_DNS_INFO (its server
// signature checked with the service key) and the MS-PAC sample.
func TestPACVectors(t *testing.T) {
	for _, v := range pacVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			var p *PAC
			if v.Get("key") != "" {
				kv, err := v.Hex("key")
				if err != nil {
					t.Fatal(err)
				}
				et, _ := strconv.Atoi(v.Get("etype"))
				key := types.EncryptionKey{KeyType: int32(et), KeyValue: kv}
				if p, err = parsePAC(v.Data, key); err != nil {
					t.Fatal(err)
				}
				kv[0] ^= 1
				if _, err := parsePAC(v.Data, key); !errors.Is(err, ErrPACSignature) {
					t.Errorf("wrong key: %v, want ErrPACSignature", err)
				}
			} else {
				version, bufs, err := parsePACFrame(v.Data)
				if err != nil {
					t.Fatal(err)
				}
				if p, err = decodePACBuffers(version, bufs); err != nil {
					t.Fatal(err)
				}
			}
			if p.ClientName != v.Get("client-name") || p.UserSID != v.Get("user-sid") {
				t.Errorf("client %q SID %q", p.ClientName, p.UserSID)
			}
			if want := v.Get("buffers"); want != "" {
				var got []string
				for _, b := range p.Buffers {
					got = append(got, strconv.Itoa(int(b.Type)))
				}
				if strings.Join(got, " ") != want {
					t.Errorf("buffer types %v, want %s", got, want)
				}
			}
			if v.Get("upn") == "" {
				if p.UPNDNSInfo != nil {
					t.Errorf("UPN_DNS_INFO %+v in a PAC without one", p.UPNDNSInfo)
				}
				return
			}
			u := p.UPNDNSInfo
			if u == nil {
				t.Fatal("no UPN_DNS_INFO")
			}
			if u.UPN != v.Get("upn") || u.DNSDomainName != v.Get("dns-domain") || strconv.Itoa(int(u.Flags)) != v.Get("upn-flags") || u.Extended() {
				t.Errorf("UPN_DNS_INFO %+v", u)
			}
		})
	}
}

var pacKey = types.EncryptionKey{KeyType: 18, KeyValue: bytes.Repeat([]byte{0x5a}, 32)}

// signedTestPAC returns a signed PAC with client info and, unless upn is
// nil, that UPN_DNS_INFO.
func signedTestPAC(t testing.TB, key types.EncryptionKey, upn []byte) []byte {
	t.Helper()
	bufs := []testkit.PACBuffer{{Type: testkit.PACClientInfo, Data: testkit.ClientInfo("alice", time.Unix(1700000000, 0))}}
	if upn != nil {
		bufs = append(bufs, testkit.PACBuffer{Type: testkit.PACUPNDNSInfo, Data: upn})
	}
	b, err := testkit.SignedPAC(key, bufs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// entry returns the offset of PAC_INFO_BUFFER i.
func entry(i int) int { return 8 + 16*i }

// malformedPACs are PACs that must fail with ErrMalformedPAC, each made
// from a well-formed signed PAC (client info, UPN_DNS_INFO, server and
// KDC signatures: buffers 0 to 3). resign signs again after the change,
// so that only the structure is wrong.
var malformedPACs = []struct {
	name   string
	spoil  func(b []byte) []byte
	resign bool
}{
	{"empty", func(b []byte) []byte { return nil }, false},
	{"shorter-than-header", func(b []byte) []byte { return b[:7] }, false},
	{"truncated", func(b []byte) []byte { return b[:len(b)-9] }, false},
	{"count-past-end", func(b []byte) []byte { binary.LittleEndian.PutUint32(b, 40); return b }, false},
	{"count-huge", func(b []byte) []byte { binary.LittleEndian.PutUint32(b, 0xffffffff); return b }, false},
	{"version-1", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 1); return b }, true},
	{"offset-past-end", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[entry(1)+8:], uint64(len(b)+8)); return b }, false},
	{"offset-overflow", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[entry(1)+8:], 0xfffffffffffffff8); return b }, false},
	{"size-past-end", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[entry(1)+4:], 0xffffff00); return b }, false},
	{"offset-in-header", func(b []byte) []byte { binary.LittleEndian.PutUint64(b[entry(0)+8:], 8); return b }, true},
	{"offset-misaligned", func(b []byte) []byte {
		binary.LittleEndian.PutUint64(b[entry(0)+8:], binary.LittleEndian.Uint64(b[entry(0)+8:])+4)
		return b
	}, true},
	{"buffers-overlap", func(b []byte) []byte {
		binary.LittleEndian.PutUint64(b[entry(1)+8:], binary.LittleEndian.Uint64(b[entry(0)+8:]))
		return b
	}, true},
	{"duplicate-type", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[entry(1):], testkit.PACClientInfo); return b }, true},
	{"no-server-signature", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[entry(2):], 99); return b }, false},
	{"unknown-checksum-type", func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[binary.LittleEndian.Uint64(b[entry(2)+8:]):], 0x7777)
		return b
	}, false},
	{"short-signature", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[entry(2)+4:], 8); return b }, false},
	{"upn-dns-info-past-its-buffer", func(b []byte) []byte {
		u := b[binary.LittleEndian.Uint64(b[entry(1)+8:]):]
		binary.LittleEndian.PutUint16(u[2:], 0x1000)
		return b
	}, true},
	{"client-info-garbage", func(b []byte) []byte {
		ci := b[binary.LittleEndian.Uint64(b[entry(0)+8:]):]
		binary.LittleEndian.PutUint16(ci[8:], 0xfffe)
		return b
	}, true},
}

func TestPACMalformed(t *testing.T) {
	good := signedTestPAC(t, pacKey, testkit.UPNDNSInfo("alice@gosspi.test", "GOSSPI.TEST", UPNDNSInfoExtended, "alice", aliceSID))
	p, err := parsePAC(good, pacKey)
	if err != nil || p.UPNDNSInfo == nil || p.UPNDNSInfo.SID != "S-1-5-21-1-2-3-1105" || p.ClientName != "alice" {
		t.Fatalf("the well-formed PAC: %+v, %v", p, err)
	}
	for _, tt := range malformedPACs {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.spoil(bytes.Clone(good))
			if tt.resign {
				if err := testkit.SignPAC(b, pacKey); err != nil {
					t.Fatal(err)
				}
			}
			p, err := parsePAC(b, pacKey)
			if !errors.Is(err, ErrMalformedPAC) || p != nil {
				t.Fatalf("got %+v, %v; want ErrMalformedPAC", p, err)
			}
			t.Log(err)
		})
	}
	forged := bytes.Clone(good)
	forged[binary.LittleEndian.Uint64(forged[entry(2)+8:])+4] ^= 1 // the server signature
	if _, err := parsePAC(forged, pacKey); !errors.Is(err, ErrPACSignature) || errors.Is(err, ErrMalformedPAC) {
		t.Errorf("forged: %v, want ErrPACSignature", err)
	}
}

// addPACTicket replaces the client's ticket for HTTP/localhost with one
// whose authorization data holds pacs.
func (m *memRealm) addPACTicket(t testing.TB, etype int32, pacs ...[]byte) {
	t.Helper()
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/localhost")
	key, kvno, err := m.kt.GetEncryptionKey(sname, testRealm, 0, etype)
	if err != nil {
		t.Fatal(err)
	}
	session, err := randomKey(fixedReader{9}, etype)
	if err != nil {
		t.Fatal(err)
	}
	start := m.p.config.now()
	f := types.NewKrbFlags()
	types.SetFlag(&f, flags.Forwardable)
	tkt, err := testkit.MintTicket(testkit.TicketSpec{Client: m.client.cname, Service: sname, Realm: testRealm,
		Key: key, KVNO: kvno, Session: session, Flags: flagsWord(f.Bytes), Start: start, End: start.Add(time.Hour), PACs: pacs})
	if err != nil {
		t.Fatal(err)
	}
	m.client.tickets[ticketKey(sname, testRealm)] = &ticket{ticket: tkt, key: session, cname: m.client.cname, crealm: testRealm,
		flags: flagsWord(f.Bytes), authTime: start, startTime: start, endTime: start.Add(time.Hour)}
}

// serviceKey returns the keytab key of HTTP/localhost.
func (m *memRealm) serviceKey(t testing.TB, etype int32) types.EncryptionKey {
	t.Helper()
	key, _, err := m.kt.GetEncryptionKey(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/localhost"), testRealm, 0, etype)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// The acceptor exposes UPN_DNS_INFO from the ticket's PAC, and a
// malformed PAC fails AcceptSecurityContext with SEC_E_LOGON_DENIED (the
// cause matching ErrMalformedPAC) and, with ASC_REQ_EXTENDED_ERROR, a
// KRB-ERROR KRB_AP_ERR_MODIFIED, as a forged one does.
func TestAcceptPAC(t *testing.T) {
	m := newMemRealm(t, 18, nil)
	key := m.serviceKey(t, 18)
	upn := testkit.UPNDNSInfo("alice@gosspi.test", "TEST.GOSSPI", UPNDNSInfoExtended, "alice", aliceSID)
	good := signedTestPAC(t, key, upn)
	forged := bytes.Clone(good)
	forged[binary.LittleEndian.Uint64(forged[entry(2)+8:])+4] ^= 1
	truncated := bytes.Clone(good)
	binary.LittleEndian.PutUint32(truncated[entry(1)+4:], uint32(len(good)))

	t.Run("UPN_DNS_INFO", func(t *testing.T) {
		m.addPACTicket(t, 18, good)
		cc, sc := m.contexts(t, packages.ISC_REQ_MUTUAL_AUTH)
		if _, err := handshake(t, cc, sc, "", ""); err != nil {
			t.Fatal(err)
		}
		p := sc.(PACContext).PAC()
		if p == nil || p.UPNDNSInfo == nil {
			t.Fatalf("PAC %+v", p)
		}
		want := UPNDNSInfo{UPN: "alice@gosspi.test", DNSDomainName: "TEST.GOSSPI", Flags: UPNDNSInfoExtended, SAMName: "alice", SID: "S-1-5-21-1-2-3-1105"}
		if *p.UPNDNSInfo != want {
			t.Errorf("UPN_DNS_INFO %+v, want %+v", *p.UPNDNSInfo, want)
		}
	})
	for _, tt := range []struct {
		name string
		pacs [][]byte
		want error
	}{
		{"truncated-buffer", [][]byte{truncated}, ErrMalformedPAC},
		{"bad-count", [][]byte{append([]byte{0xff, 0xff, 0, 0}, good[4:]...)}, ErrMalformedPAC},
		{"two-PACs", [][]byte{good, good}, ErrMalformedPAC},
		{"forged", [][]byte{forged}, ErrPACSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m.addPACTicket(t, 18, tt.pacs...)
			cc, err := m.client.NewClientContext("HTTP/localhost", packages.ISC_REQ_MUTUAL_AUTH)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := m.server.NewServerContext(packages.ASC_REQ_EXTENDED_ERROR)
			if err != nil {
				t.Fatal(err)
			}
			out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
			if _, err := cc.Step(context.Background(), nil, out); err != nil {
				t.Fatal(err)
			}
			rep := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, maxToken)}}
			st, err := sc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out[0].Data}}, rep)
			if st != status.SEC_E_LOGON_DENIED || !errors.Is(err, status.SEC_E_LOGON_DENIED) || !errors.Is(err, tt.want) {
				t.Fatalf("ASC = %v, %v; want SEC_E_LOGON_DENIED caused by %v", st, err, tt.want)
			}
			_, msg, ferr := parseFraming(rep[0].Data)
			var ke messages.KRBError
			if ferr != nil || ke.Unmarshal(msg) != nil || ke.ErrorCode != errorcode.KRB_AP_ERR_MODIFIED {
				t.Errorf("KRB-ERROR %v %v, want KRB_AP_ERR_MODIFIED", ke.ErrorCode, ferr)
			}
			if sc.(PACContext).PAC() != nil {
				t.Error("a PAC on a failed context")
			}
		})
	}
}

// FuzzPACFrame checks the PACTYPE parser and the buffer decoders (the
// signature check left out, so that fuzzed buffers reach them): no
// panic, nothing returned with an error, and on success every buffer
// within the PAC, after the header, aligned, overlapping no other,
// aliasing the PAC's bytes, with the count the header gives.
func FuzzPACFrame(f *testing.F) {
	for _, v := range pacVectors(f) {
		f.Add(v.Data)
	}
	f.Add(signedTestPAC(f, pacKey, testkit.UPNDNSInfo("alice@gosspi.test", "GOSSPI.TEST", UPNDNSInfoExtended, "alice", aliceSID)))
	f.Add(signedTestPAC(f, pacKey, testkit.UPNDNSInfo("alice@gosspi.test", "GOSSPI.TEST", 0, "", nil)))
	f.Fuzz(func(t *testing.T, b []byte) {
		version, bufs, err := parsePACFrame(b)
		if err != nil {
			if version != 0 || bufs != nil || !errors.Is(err, ErrMalformedPAC) {
				t.Fatalf("error %v with version %d, %d buffers", err, version, len(bufs))
			}
			return
		}
		checkPACFrame(t, b, bufs)
		// gokrb5's NDR decoder of the logon info allocates what the
		// stream's counts claim (gigabytes for a fuzzed count); only a
		// PAC whose signature verified reaches it (parsePAC), so the
		// fuzzed buffers skip it.
		bufs = slices.DeleteFunc(bufs, func(p pacBuffer) bool { return p.typ == pacLogonInfo })
		p, err := decodePACBuffers(version, bufs)
		if err != nil {
			if p != nil || !errors.Is(err, ErrMalformedPAC) {
				t.Fatalf("decode: %+v, %v", p, err)
			}
			return
		}
		if len(p.Buffers) != len(bufs) {
			t.Fatalf("%d buffers kept, %d parsed", len(p.Buffers), len(bufs))
		}
		if p.UPNDNSInfo != nil {
			roundTripUPN(t, p.UPNDNSInfo)
		}
	})
}

// checkPACFrame re-checks the invariants of a parsed PACTYPE from the
// header bytes.
func checkPACFrame(t *testing.T, b []byte, bufs []pacBuffer) {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(b))
	if len(bufs) != n || binary.LittleEndian.Uint32(b[4:]) != 0 {
		t.Fatalf("%d buffers parsed, header says %d", len(bufs), n)
	}
	header := uint64(8 + 16*n)
	seen := map[uint32]bool{}
	for i, p := range bufs {
		e := b[8+16*i:]
		off, size := binary.LittleEndian.Uint64(e[8:]), uint64(binary.LittleEndian.Uint32(e[4:]))
		if p.typ != binary.LittleEndian.Uint32(e) || p.off != off || uint64(len(p.data)) != size {
			t.Fatalf("buffer %d: %d/%d/%d, header %d/%d/%d", i, p.typ, p.off, len(p.data), binary.LittleEndian.Uint32(e), off, size)
		}
		if off%8 != 0 || off < header || off+size > uint64(len(b)) || off+size < off {
			t.Fatalf("buffer %d (%d bytes at %d) outside the PAC of %d bytes", i, size, off, len(b))
		}
		if size > 0 && &p.data[0] != &b[off] {
			t.Fatalf("buffer %d does not alias the PAC", i)
		}
		if readPACBuffer(p.typ) {
			if seen[p.typ] {
				t.Fatalf("duplicate buffer type %d", p.typ)
			}
			seen[p.typ] = true
		}
		for j, q := range bufs[:i] {
			if len(p.data) > 0 && len(q.data) > 0 && p.off < q.off+uint64(len(q.data)) && q.off < p.off+uint64(len(p.data)) {
				t.Fatalf("buffers %d and %d overlap", j, i)
			}
		}
	}
}

// sidBytes is the inverse of parseSID.
func sidBytes(t *testing.T, s string) []byte {
	t.Helper()
	parts := strings.Split(s, "-")
	if len(parts) < 3 || parts[0] != "S" || parts[1] != "1" {
		t.Fatalf("SID %q", s)
	}
	var auth uint64
	var err error
	if strings.HasPrefix(parts[2], "0x") {
		auth, err = strconv.ParseUint(parts[2][2:], 16, 64)
	} else {
		auth, err = strconv.ParseUint(parts[2], 10, 64)
	}
	if err != nil {
		t.Fatal(err)
	}
	var subs []uint32
	for _, p := range parts[3:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, uint32(v))
	}
	return testkit.BinarySID(auth, subs...)
}

// roundTripUPN writes u again and parses it back: the same values.
func roundTripUPN(t *testing.T, u *UPNDNSInfo) {
	t.Helper()
	var sid []byte
	if u.SID != "" {
		sid = sidBytes(t, u.SID)
	}
	again, err := parseUPNDNSInfo(testkit.UPNDNSInfo(u.UPN, u.DNSDomainName, u.Flags, u.SAMName, sid))
	if err != nil || *again != *u {
		t.Fatalf("round trip: %+v, %v; want %+v", again, err, u)
	}
}

// FuzzUPNDNSInfo checks the UPN_DNS_INFO parser: no panic, nothing
// returned with an error, every field it read within the buffer and after
// the fixed part, and a round trip through the writer.
func FuzzUPNDNSInfo(f *testing.F) {
	for _, tt := range upnDNSInfoTests {
		f.Add(testkit.UPNDNSInfo(tt.upn, tt.dns, tt.flags, tt.sam, tt.sid))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := parseUPNDNSInfo(b)
		if err != nil {
			if u != nil || !errors.Is(err, ErrMalformedPAC) {
				t.Fatalf("values with error %v", err)
			}
			return
		}
		le := binary.LittleEndian
		fixed, fields := 12, [][2]int{{0, 2}, {4, 6}}
		if u.Extended() {
			fixed, fields = 20, append(fields, [2]int{12, 14}, [2]int{16, 18})
		}
		for _, f := range fields {
			n, off := int(le.Uint16(b[f[0]:])), int(le.Uint16(b[f[1]:]))
			if n > 0 && (off < fixed || off+n > len(b)) {
				t.Fatalf("field of %d bytes at %d accepted in a %d-byte buffer", n, off, len(b))
			}
		}
		roundTripUPN(t, u)
	})
}
