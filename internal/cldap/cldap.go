// Package cldap is the client side of the Active Directory "LDAP ping"
// ([MS-ADTS] 6.3.3): one LDAP SearchRequest over UDP port 389 asking a
// domain controller for its Netlogon attribute, and the decoding of the
// NETLOGON_SAM_LOGON_RESPONSE_EX it answers with ([MS-ADTS] 6.3.1.9). It
// gives the names Windows' DC locator works with: the DNS and NetBIOS
// names of the domain and of the DC, the forest, and the sites.
//
// [MS-ADTS]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/
package cldap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// MaxResponse caps a reply datagram; a Netlogon response is a few
// hundred bytes.
const MaxResponse = 8192

// ntVersion5EX asks for NETLOGON_SAM_LOGON_RESPONSE_EX
// (NETLOGON_NT_VERSION_5 | NETLOGON_NT_VERSION_5EX, MS-ADTS 6.3.1.1).
const ntVersion5EX = 0x00000006

// Response is the NETLOGON_SAM_LOGON_RESPONSE_EX of MS-ADTS 6.3.1.9.
type Response struct {
	Opcode          uint16 // 23 LOGON_SAM_LOGON_RESPONSE_EX, 25 user unknown
	Flags           uint32 // DS_FLAG bits: DS_PDC_FLAG 0x1, DS_KDC_FLAG 0x20, ...
	DomainGUID      [16]byte
	DNSForestName   string
	DNSDomainName   string
	DNSHostName     string
	NetBIOSDomain   string
	NetBIOSComputer string
	UserName        string
	DCSiteName      string
	ClientSiteName  string
	NtVersion       uint32
	LmNtToken       uint16
	Lm20Token       uint16
}

// Request is what the ping asks. DNSDomain and User are optional filter
// terms (MS-ADTS 6.3.3.2); the DC answers for its own domain when
// DNSDomain is empty.
type Request struct {
	DNSDomain string
	User      string
	MessageID int32
}

// Ping sends the LDAP ping to addr ("host:port", port 389 for AD) over
// UDP and decodes the answer. It honours ctx's deadline and cancellation,
// and waits at most timeout for the reply when timeout > 0.
func Ping(ctx context.Context, addr string, req Request, timeout time.Duration) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if timeout > 0 {
		deadline := time.Now().Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := conn.SetDeadline(deadline); err != nil {
			return nil, err
		}
	}
	if req.MessageID == 0 {
		req.MessageID = 1
	}
	if _, err := conn.Write(MarshalRequest(req)); err != nil {
		return nil, err
	}
	buf := make([]byte, MaxResponse)
	n, err := conn.Read(buf)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	blob, err := ParseSearchResponse(buf[:n], req.MessageID)
	if err != nil {
		return nil, err
	}
	return ParseNetlogon(blob)
}

// BER encoding (a strict subset: definite short or long lengths).

func appendTLV(b []byte, tag byte, body []byte) []byte {
	b = append(b, tag)
	switch n := len(body); {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	return append(b, body...)
}

func appendInt(b []byte, tag byte, v int32) []byte {
	var body []byte
	switch {
	case v >= -0x80 && v < 0x80:
		body = []byte{byte(v)}
	case v >= -0x8000 && v < 0x8000:
		body = []byte{byte(v >> 8), byte(v)}
	default:
		body = []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	return appendTLV(b, tag, body)
}

func equality(attr string, value []byte) []byte {
	var body []byte
	body = appendTLV(body, 0x04, []byte(attr))
	body = appendTLV(body, 0x04, value)
	return appendTLV(nil, 0xa3, body) // [3] equalityMatch
}

// MarshalRequest encodes the LDAP ping: a SearchRequest with base "",
// scope base, filter (&(DnsDomain=..)(User=..)(NtVer=0x00000006)) and
// the attribute "Netlogon" (MS-ADTS 6.3.3.2), in an LDAPMessage.
func MarshalRequest(r Request) []byte {
	var terms []byte
	if r.DNSDomain != "" {
		terms = append(terms, equality("DnsDomain", []byte(r.DNSDomain))...)
	}
	if r.User != "" {
		terms = append(terms, equality("User", []byte(r.User))...)
	}
	var ntver [4]byte
	binary.LittleEndian.PutUint32(ntver[:], ntVersion5EX)
	terms = append(terms, equality("NtVer", ntver[:])...)
	filter := appendTLV(nil, 0xa0, terms) // [0] and

	var search []byte
	search = appendTLV(search, 0x04, nil)             // baseObject ""
	search = appendTLV(search, 0x0a, []byte{0})       // scope baseObject
	search = appendTLV(search, 0x0a, []byte{0})       // derefAliases never
	search = appendInt(search, 0x02, 0)               // sizeLimit
	search = appendInt(search, 0x02, 0)               // timeLimit
	search = appendTLV(search, 0x01, []byte{0})       // typesOnly FALSE
	search = append(search, filter...)                // filter
	attrs := appendTLV(nil, 0x04, []byte("Netlogon")) // attributes
	search = appendTLV(search, 0x30, attrs)

	var msg []byte
	msg = appendInt(msg, 0x02, r.MessageID)
	msg = appendTLV(msg, 0x63, search) // [APPLICATION 3] SearchRequest
	return appendTLV(nil, 0x30, msg)
}

// ber reads BER TLVs. Windows writes non-minimal long-form lengths
// (0x84 ...), so any definite length of up to 4 bytes is taken.
type ber []byte

var errBER = errors.New("cldap: malformed BER")

func (b *ber) read() (tag byte, body ber, err error) {
	s := *b
	if len(s) < 2 {
		return 0, nil, errBER
	}
	tag = s[0]
	if tag&0x1f == 0x1f {
		return 0, nil, errBER // multi-byte tags are not used by LDAP
	}
	n := int(s[1])
	s = s[2:]
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(s) < k {
			return 0, nil, errBER
		}
		n = 0
		for _, c := range s[:k] {
			n = n<<8 | int(c)
		}
		s = s[k:]
		if n < 0 {
			return 0, nil, errBER
		}
	}
	if n > len(s) {
		return 0, nil, errBER
	}
	*b = s[n:]
	return tag, s[:n], nil
}

func (b *ber) expect(want byte) (ber, error) {
	tag, body, err := b.read()
	if err != nil {
		return nil, err
	}
	if tag != want {
		return nil, fmt.Errorf("cldap: tag 0x%02x, want 0x%02x", tag, want)
	}
	return body, nil
}

func berInt(body ber) (int64, bool) {
	if len(body) == 0 || len(body) > 8 {
		return 0, false
	}
	v := int64(int8(body[0]))
	for _, c := range body[1:] {
		v = v<<8 | int64(c)
	}
	return v, true
}

// ParseSearchResponse finds the Netlogon value in the SearchResultEntry
// of a CLDAP reply (one or more LDAPMessages in one datagram) for
// message id.
func ParseSearchResponse(p []byte, id int32) ([]byte, error) {
	if len(p) > MaxResponse {
		return nil, errors.New("cldap: reply too large")
	}
	rest := ber(p)
	for len(rest) > 0 {
		msg, err := rest.expect(0x30)
		if err != nil {
			return nil, err
		}
		idBody, err := msg.expect(0x02)
		if err != nil {
			return nil, err
		}
		if v, ok := berInt(idBody); !ok || v != int64(id) {
			return nil, errors.New("cldap: reply to another message")
		}
		tag, op, err := msg.read()
		if err != nil {
			return nil, err
		}
		switch tag {
		case 0x64: // [APPLICATION 4] SearchResultEntry
			if _, err := op.expect(0x04); err != nil { // objectName
				return nil, err
			}
			attrs, err := op.expect(0x30)
			if err != nil {
				return nil, err
			}
			for len(attrs) > 0 {
				pa, err := attrs.expect(0x30)
				if err != nil {
					return nil, err
				}
				typ, err := pa.expect(0x04)
				if err != nil {
					return nil, err
				}
				vals, err := pa.expect(0x31)
				if err != nil {
					return nil, err
				}
				if !strings.EqualFold(string(typ), "Netlogon") {
					continue
				}
				v, err := vals.expect(0x04)
				if err != nil {
					return nil, err
				}
				return v, nil
			}
			return nil, errors.New("cldap: no Netlogon attribute in the reply")
		case 0x65: // [APPLICATION 5] SearchResultDone
			res, err := op.expect(0x0a)
			if err != nil {
				return nil, err
			}
			code, _ := berInt(res)
			return nil, fmt.Errorf("cldap: the DC answered with no entry (resultCode %d)", code)
		default:
			return nil, fmt.Errorf("cldap: unexpected LDAP operation 0x%02x", tag)
		}
	}
	return nil, errors.New("cldap: empty reply")
}

// Opcodes of MS-ADTS 6.3.1.9.
const (
	OpcodeLogonSAMLogonResponseEX = 23
	OpcodeLogonSAMUserUnknownEX   = 25
	OpcodeLogonSAMPauseResponseEX = 24
)

// ParseNetlogon decodes a NETLOGON_SAM_LOGON_RESPONSE_EX (MS-ADTS
// 6.3.1.9). Its names are RFC 1035 compressed names whose pointers are
// offsets from the start of the structure.
func ParseNetlogon(p []byte) (*Response, error) {
	if len(p) > MaxResponse {
		return nil, errors.New("cldap: Netlogon response too large")
	}
	if len(p) < 24 {
		return nil, errors.New("cldap: Netlogon response too short")
	}
	r := &Response{Opcode: binary.LittleEndian.Uint16(p)}
	switch r.Opcode {
	case OpcodeLogonSAMLogonResponseEX, OpcodeLogonSAMUserUnknownEX, OpcodeLogonSAMPauseResponseEX:
	default:
		return nil, fmt.Errorf("cldap: Netlogon opcode %d is not a LOGON_SAM_*_EX response", r.Opcode)
	}
	r.Flags = binary.LittleEndian.Uint32(p[4:])
	copy(r.DomainGUID[:], p[8:24])
	off := 24
	names := []*string{&r.DNSForestName, &r.DNSDomainName, &r.DNSHostName, &r.NetBIOSDomain,
		&r.NetBIOSComputer, &r.UserName, &r.DCSiteName, &r.ClientSiteName}
	for _, dst := range names {
		s, next, err := readName(p, off)
		if err != nil {
			return nil, err
		}
		*dst, off = s, next
	}
	// NtVersion is the last-but-two field; the optional DcSockAddr and
	// NextClosestSiteName lie between (present per the NtVer asked for).
	// Read the fixed tail from the end, as it always closes the message.
	if len(p)-off < 8 {
		return nil, errors.New("cldap: Netlogon response truncated")
	}
	tail := p[len(p)-8:]
	r.NtVersion = binary.LittleEndian.Uint32(tail)
	r.LmNtToken = binary.LittleEndian.Uint16(tail[4:])
	r.Lm20Token = binary.LittleEndian.Uint16(tail[6:])
	return r, nil
}

// readName reads one RFC 1035 name at off: labels, ending in a zero
// length or a pointer (0xC0 | offset). It returns the dotted name and the
// offset after it in the original sequence. Pointers may only point
// backwards, which bounds the walk.
func readName(p []byte, off int) (string, int, error) {
	var labels []string
	next := -1
	pos := off
	for hops := 0; ; hops++ {
		if hops > 128 || pos >= len(p) {
			return "", 0, errors.New("cldap: bad name in the Netlogon response")
		}
		n := int(p[pos])
		switch {
		case n == 0:
			if next < 0 {
				next = pos + 1
			}
			return strings.Join(labels, "."), next, nil
		case n&0xc0 == 0xc0:
			if pos+1 >= len(p) {
				return "", 0, errors.New("cldap: truncated name pointer")
			}
			target := (n&0x3f)<<8 | int(p[pos+1])
			if next < 0 {
				next = pos + 2
			}
			if target >= pos {
				return "", 0, errors.New("cldap: forward name pointer")
			}
			pos = target
		case n&0xc0 != 0:
			return "", 0, errors.New("cldap: bad label length")
		default:
			if pos+1+n > len(p) {
				return "", 0, errors.New("cldap: truncated label")
			}
			labels = append(labels, string(p[pos+1:pos+1+n]))
			if len(labels) > 127 {
				return "", 0, errors.New("cldap: name too long")
			}
			pos += 1 + n
		}
	}
}

// EncodeNetlogon writes r as a NETLOGON_SAM_LOGON_RESPONSE_EX without
// name compression and without the optional DcSockAddr and
// NextClosestSiteName, for a DC that answers NtVer 0x6. Test DCs use it.
func EncodeNetlogon(r *Response) []byte {
	b := make([]byte, 24, 128)
	binary.LittleEndian.PutUint16(b, r.Opcode)
	binary.LittleEndian.PutUint32(b[4:], r.Flags)
	copy(b[8:], r.DomainGUID[:])
	for _, s := range []string{r.DNSForestName, r.DNSDomainName, r.DNSHostName, r.NetBIOSDomain,
		r.NetBIOSComputer, r.UserName, r.DCSiteName, r.ClientSiteName} {
		if s != "" {
			for _, l := range strings.Split(s, ".") {
				b = append(b, byte(len(l)&0x3f))
				b = append(b, l[:len(l)&0x3f]...)
			}
		}
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint32(b, r.NtVersion)
	b = binary.LittleEndian.AppendUint16(b, r.LmNtToken)
	return binary.LittleEndian.AppendUint16(b, r.Lm20Token)
}

// EncodeSearchReply writes the datagram a DC answers an LDAP ping with: a
// SearchResultEntry whose Netlogon attribute is netlogon, then a
// SearchResultDone, for message id. Test DCs use it.
func EncodeSearchReply(id int32, netlogon []byte) []byte {
	vals := appendTLV(nil, 0x31, appendTLV(nil, 0x04, netlogon))
	pa := appendTLV(nil, 0x30, append(appendTLV(nil, 0x04, []byte("Netlogon")), vals...))
	entry := appendTLV(nil, 0x64, append(appendTLV(nil, 0x04, nil), appendTLV(nil, 0x30, pa)...))
	msg1 := appendTLV(nil, 0x30, append(appendInt(nil, 0x02, id), entry...))
	var done []byte
	done = appendTLV(done, 0x0a, []byte{0})
	done = appendTLV(done, 0x04, nil)
	done = appendTLV(done, 0x04, nil)
	msg2 := appendTLV(nil, 0x30, append(appendInt(nil, 0x02, id), appendTLV(nil, 0x65, done)...))
	return append(msg1, msg2...)
}

// RequestID returns the message id of an LDAP ping request, for test DCs.
func RequestID(req []byte) (int32, bool) {
	b := ber(req)
	msg, err := b.expect(0x30)
	if err != nil {
		return 0, false
	}
	idb, err := msg.expect(0x02)
	if err != nil {
		return 0, false
	}
	v, ok := berInt(idb)
	return int32(v), ok
}
