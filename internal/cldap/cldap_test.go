package cldap

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// encodeName writes name as RFC 1035 labels; with ptr >= 0, the name ends
// in a pointer to ptr instead of the zero label after the first label.
func encodeName(name string, ptr int) []byte {
	var b []byte
	if name == "" {
		return []byte{0}
	}
	for i, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
		if i == 0 && ptr >= 0 {
			return append(b, 0xc0|byte(ptr>>8), byte(ptr))
		}
	}
	return append(b, 0)
}

// encodeResponse builds a NETLOGON_SAM_LOGON_RESPONSE_EX; the DNS domain
// and host names point into the forest name, as DCs compress them.
func encodeResponse(r *Response, compress bool) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint16(b, r.Opcode)
	binary.LittleEndian.PutUint32(b[4:], r.Flags)
	copy(b[8:], r.DomainGUID[:])
	forest := len(b)
	b = append(b, encodeName(r.DNSForestName, -1)...)
	if compress && r.DNSDomainName == r.DNSForestName {
		b = append(b, 0xc0|byte(forest>>8), byte(forest))
	} else {
		b = append(b, encodeName(r.DNSDomainName, -1)...)
	}
	if compress && strings.HasSuffix(r.DNSHostName, "."+r.DNSForestName) {
		host := strings.TrimSuffix(r.DNSHostName, "."+r.DNSForestName)
		b = append(b, encodeName(host, forest)...)
	} else {
		b = append(b, encodeName(r.DNSHostName, -1)...)
	}
	for _, s := range []string{r.NetBIOSDomain, r.NetBIOSComputer, r.UserName, r.DCSiteName, r.ClientSiteName} {
		b = append(b, encodeName(s, -1)...)
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:], r.NtVersion)
	binary.LittleEndian.PutUint16(tail[4:], r.LmNtToken)
	binary.LittleEndian.PutUint16(tail[6:], r.Lm20Token)
	return append(b, tail[:]...)
}

var sample = &Response{
	Opcode: OpcodeLogonSAMLogonResponseEX, Flags: 0x3f3fd,
	DNSForestName: "samba.test", DNSDomainName: "samba.test", DNSHostName: "dc1.samba.test",
	NetBIOSDomain: "SAMBA", NetBIOSComputer: "DC1", DCSiteName: "Default-First-Site-Name",
	ClientSiteName: "Default-First-Site-Name", NtVersion: 5, LmNtToken: 0xffff, Lm20Token: 0xffff,
}

func TestParseNetlogon(t *testing.T) {
	for _, compress := range []bool{false, true} {
		blob := encodeResponse(sample, compress)
		got, err := ParseNetlogon(blob)
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		if *got != *sample {
			t.Fatalf("compress=%v:\n got %+v\nwant %+v", compress, got, sample)
		}
	}
	bad := encodeResponse(sample, false)
	bad[0] = 19 // LOGON_SAM_LOGON_RESPONSE, not _EX
	if _, err := ParseNetlogon(bad); err == nil {
		t.Fatal("a non-EX opcode parsed")
	}
	loop := encodeResponse(sample, false)
	loop[24], loop[25] = 0xc0, 24 // a pointer to itself
	if _, err := ParseNetlogon(loop); err == nil {
		t.Fatal("a self-pointer parsed")
	}
}

// searchEntry wraps a Netlogon blob in a SearchResultEntry and a
// SearchResultDone, in one datagram, as a DC answers. long uses
// non-minimal 4-byte lengths as Windows writes them.
func searchEntry(id int32, blob []byte, long bool) []byte {
	tlv := func(tag byte, body []byte) []byte {
		if long {
			n := len(body)
			return append([]byte{tag, 0x84, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
		}
		return appendTLV(nil, tag, body)
	}
	vals := tlv(0x31, tlv(0x04, blob))
	pa := tlv(0x30, append(tlv(0x04, []byte("netlogon")), vals...))
	entry := tlv(0x64, append(tlv(0x04, nil), tlv(0x30, pa)...))
	msg1 := tlv(0x30, append(appendInt(nil, 0x02, id), entry...))
	done := tlv(0x65, append(append(tlv(0x0a, []byte{0}), tlv(0x04, nil)...), tlv(0x04, nil)...))
	msg2 := tlv(0x30, append(appendInt(nil, 0x02, id), done...))
	return append(msg1, msg2...)
}

func TestParseSearchResponse(t *testing.T) {
	blob := encodeResponse(sample, true)
	for _, long := range []bool{false, true} {
		got, err := ParseSearchResponse(searchEntry(7, blob, long), 7)
		if err != nil {
			t.Fatalf("long=%v: %v", long, err)
		}
		if !bytes.Equal(got, blob) {
			t.Fatalf("long=%v: blob %x", long, got)
		}
		if _, err := ParseSearchResponse(searchEntry(7, blob, long), 8); err == nil {
			t.Fatal("a reply to another message id was taken")
		}
	}
}

func TestMarshalRequest(t *testing.T) {
	req := MarshalRequest(Request{DNSDomain: "samba.test", MessageID: 3})
	b := ber(req)
	msg, err := b.expect(0x30)
	if err != nil || len(b) != 0 {
		t.Fatalf("%v %x", err, req)
	}
	if id, _ := msg.expect(0x02); len(id) != 1 || id[0] != 3 {
		t.Fatalf("message id %x", id)
	}
	search, err := msg.expect(0x63)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{[]byte("DnsDomain"), []byte("samba.test"), []byte("NtVer"), {6, 0, 0, 0}, []byte("Netlogon")} {
		if !bytes.Contains(search, want) {
			t.Errorf("request lacks %q", want)
		}
	}
}

// FuzzParseNetlogon: never panics; a response that parses must, written
// again without compression, parse to the same values (names are taken
// from the input, never invented).
func FuzzParseNetlogon(f *testing.F) {
	f.Add(encodeResponse(sample, true))
	f.Add(encodeResponse(sample, false))
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := ParseNetlogon(p)
		if err != nil {
			return
		}
		for _, s := range []string{r.DNSForestName, r.DNSDomainName, r.DNSHostName, r.NetBIOSDomain,
			r.NetBIOSComputer, r.UserName, r.DCSiteName, r.ClientSiteName} {
			if len(s) > len(p)*128 {
				t.Fatalf("name of %d bytes from %d input bytes", len(s), len(p))
			}
			for _, l := range strings.Split(s, ".") {
				if s != "" && (l == "" || len(l) > 63) {
					return // labels with dots or empty ones do not round-trip
				}
			}
		}
		enc := encodeResponse(r, false)
		if len(enc) > MaxResponse {
			// Compressed names can expand past the size cap when written
			// out in full; such a value cannot be sent back uncompressed.
			return
		}
		again, err := ParseNetlogon(enc)
		if err != nil {
			t.Fatalf("re-encoded response does not parse: %v", err)
		}
		if *again != *r {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, r)
		}
	})
}

// FuzzParseSearchResponse: never panics, and the value returned is a
// piece of the input.
func FuzzParseSearchResponse(f *testing.F) {
	f.Add(searchEntry(1, encodeResponse(sample, true), false))
	f.Add(searchEntry(1, encodeResponse(sample, true), true))
	f.Fuzz(func(t *testing.T, p []byte) {
		v, err := ParseSearchResponse(p, 1)
		if err != nil {
			return
		}
		if len(v) > len(p) || !bytes.Contains(p, v) {
			t.Fatalf("value %x is not part of the input", v)
		}
	})
}

func TestEncodeNetlogon(t *testing.T) {
	got, err := ParseNetlogon(EncodeNetlogon(sample))
	if err != nil || *got != *sample {
		t.Fatalf("%v %+v", err, got)
	}
	blob, err := ParseSearchResponse(EncodeSearchReply(9, EncodeNetlogon(sample)), 9)
	if err != nil || !bytes.Equal(blob, EncodeNetlogon(sample)) {
		t.Fatalf("%v %x", err, blob)
	}
	if id, ok := RequestID(MarshalRequest(Request{MessageID: 300})); !ok || id != 300 {
		t.Fatalf("RequestID %d %v", id, ok)
	}
}
