package kerberos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/wire"
	"github.com/gosspi/sspi/packages"
)

// The PAC of MS-PAC: its PACTYPE framing (2.3, 2.4), the server signature
// (2.8) and the buffers this package reads. Every offset and length comes
// from the ticket, so each is checked before it is used; the checks are
// MIT's (krb5_pac_parse: version 0, 8-byte aligned buffers after the
// header) and the ones STYLE.md asks of every parser (no buffer outside
// the PAC, none overlapping another, no duplicate of a buffer we read).

// PAC buffer types (MS-PAC 2.4).
const (
	pacLogonInfo       = 1
	pacServerChecksum  = 6
	pacPrivSvrChecksum = 7
	pacClientInfo      = 10
	pacUPNDNSInfo      = 12
)

const (
	pacHeaderLen     = 8  // PACTYPE: cBuffers, Version
	pacInfoBufferLen = 16 // PAC_INFO_BUFFER: ulType, cbBufferSize, Offset
	pacAlignment     = 8  // MS-PAC 2.4: buffers begin on 8-byte boundaries

	// maxPACBuffers bounds cBuffers. Active Directory issues about ten
	// buffers; MIT's KDC four.
	maxPACBuffers = 256
)

// ErrMalformedPAC is the cause of an AcceptSecurityContext failure
// (SEC_E_LOGON_DENIED) whose ticket carried a PAC that does not parse:
// errors.Is(err, ErrMalformedPAC) holds for it, and the error says what
// was wrong.
var ErrMalformedPAC = errors.New("kerberos: malformed PAC")

// ErrPACSignature is the cause of an AcceptSecurityContext failure
// (SEC_E_LOGON_DENIED) whose ticket carried a PAC whose server signature
// does not verify with the service key (MS-PAC 2.8).
var ErrPACSignature = errors.New("kerberos: PAC server signature does not verify")

// pacError is a PAC that does not parse: what was wrong, and the
// decoder's error when there is one. It matches ErrMalformedPAC.
type pacError struct {
	what string
	err  error
}

func (e *pacError) Error() string {
	if e.err != nil {
		return "kerberos: malformed PAC: " + e.what + ": " + e.err.Error()
	}
	return "kerberos: malformed PAC: " + e.what
}

func (e *pacError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrMalformedPAC, e.err}
	}
	return []error{ErrMalformedPAC}
}

func malformedPAC(format string, args ...any) error {
	return &pacError{what: fmt.Sprintf(format, args...)}
}

// pacBuffer is one PAC_INFO_BUFFER with its data, a sub-slice of the PAC.
type pacBuffer struct {
	typ  uint32
	off  uint64
	data []byte
}

// parsePACFrame reads PACTYPE and its PAC_INFO_BUFFERs. Every buffer it
// returns lies within b, after the header, 8-byte aligned, and overlaps
// no other; the types this package reads appear at most once.
func parsePACFrame(b []byte) (version uint32, bufs []pacBuffer, err error) {
	r := wire.String(b)
	var n uint32
	if !r.ReadUint32LE(&n) || !r.ReadUint32LE(&version) {
		return 0, nil, malformedPAC("%d bytes, shorter than PACTYPE", len(b))
	}
	if version != 0 {
		return 0, nil, malformedPAC("version %d, want 0", version)
	}
	if n > maxPACBuffers {
		return 0, nil, malformedPAC("%d buffers, more than %d", n, maxPACBuffers)
	}
	header := uint64(pacHeaderLen) + uint64(n)*pacInfoBufferLen
	if header > uint64(len(b)) {
		return 0, nil, malformedPAC("%d buffers do not fit in %d bytes", n, len(b))
	}
	bufs = make([]pacBuffer, 0, n)
	for i := range int(n) {
		var typ, size uint32
		var off uint64
		r.ReadUint32LE(&typ) // the header check above guarantees n entries
		r.ReadUint32LE(&size)
		r.ReadUint64LE(&off)
		var data []byte
		switch {
		case off%pacAlignment != 0:
			return 0, nil, malformedPAC("buffer %d (type %d) at offset %d, not 8-byte aligned", i, typ, off)
		case off < header:
			return 0, nil, malformedPAC("buffer %d (type %d) at offset %d, inside the header", i, typ, off)
		case off > uint64(len(b)) || !wire.Resolve(b, int(header), off, uint64(size), &data):
			return 0, nil, malformedPAC("buffer %d (type %d) of %d bytes at offset %d, past the end (%d bytes)", i, typ, size, off, len(b))
		}
		if readPACBuffer(typ) {
			for _, p := range bufs {
				if p.typ == typ {
					return 0, nil, malformedPAC("two buffers of type %d", typ)
				}
			}
		}
		bufs = append(bufs, pacBuffer{typ: typ, off: off, data: data})
	}
	if err := checkPACOverlap(bufs); err != nil {
		return 0, nil, err
	}
	return version, bufs, nil
}

// readPACBuffer reports whether the acceptor reads buffers of type typ,
// which must then be unique.
func readPACBuffer(typ uint32) bool {
	switch typ {
	case pacLogonInfo, pacServerChecksum, pacPrivSvrChecksum, pacClientInfo, pacUPNDNSInfo:
		return true
	}
	return false
}

// checkPACOverlap rejects buffers whose bytes overlap; empty buffers
// overlap nothing.
func checkPACOverlap(bufs []pacBuffer) error {
	type span struct{ start, end uint64 }
	spans := make([]span, 0, len(bufs))
	for _, p := range bufs {
		if len(p.data) > 0 {
			spans = append(spans, span{p.off, p.off + uint64(len(p.data))})
		}
	}
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return malformedPAC("buffers at offsets %d and %d overlap", spans[i-1].start, spans[i].start)
		}
	}
	return nil
}

// pacSignatureLen returns the length of a PAC_SIGNATURE_DATA signature of
// checksum type typ (MS-PAC 2.8), or 0 for a type this package does not
// know.
func pacSignatureLen(typ int32) int {
	switch typ {
	case -138: // KERB_CHECKSUM_HMAC_MD5
		return 16
	case 15, 16: // hmac-sha1-96-aes128, hmac-sha1-96-aes256
		return 12
	case 19: // hmac-sha256-128-aes128
		return 16
	case 20: // hmac-sha384-192-aes256
		return 24
	}
	return 0
}

// verifyPACSignature checks the server signature of the PAC b with the
// service key (MS-PAC 2.8.3): a checksum over the PAC with the Signature
// fields of the server and KDC signatures zeroed.
func verifyPACSignature(b []byte, bufs []pacBuffer, key types.EncryptionKey) error {
	zeroed := slices.Clone(b)
	var server *pacBuffer
	var serverType int32
	for i := range bufs {
		p := &bufs[i]
		if p.typ != pacServerChecksum && p.typ != pacPrivSvrChecksum {
			continue
		}
		// PAC_SIGNATURE_DATA: SignatureType, then the signature, whose
		// length follows from the type (and, for the KDC signature, an
		// optional RODCIdentifier).
		if len(p.data) < 4 {
			return malformedPAC("signature buffer (type %d) of %d bytes", p.typ, len(p.data))
		}
		typ := int32(binary.LittleEndian.Uint32(p.data))
		sl := pacSignatureLen(typ)
		if sl == 0 {
			return malformedPAC("signature buffer (type %d) with unknown checksum type %d", p.typ, typ)
		}
		if len(p.data) < 4+sl {
			return malformedPAC("signature buffer (type %d) of %d bytes, short for checksum type %d", p.typ, len(p.data), typ)
		}
		clear(zeroed[p.off+4 : p.off+4+uint64(sl)])
		if p.typ == pacServerChecksum {
			server, serverType = p, typ
		}
	}
	if server == nil {
		return malformedPAC("no server signature")
	}
	et, err := crypto.GetChksumEtype(serverType)
	if err != nil {
		return &pacError{what: "server signature", err: err}
	}
	sig := server.data[4 : 4+pacSignatureLen(serverType)]
	if !et.VerifyChecksum(key.KeyValue, zeroed, sig, keyusage.KERB_NON_KERB_CKSUM_SALT) {
		return ErrPACSignature
	}
	return nil
}

// parsePAC parses the PAC b, checks its server signature with the
// service key and decodes the buffers this package reads. Its errors
// match ErrMalformedPAC or ErrPACSignature.
func parsePAC(b []byte, key types.EncryptionKey) (*PAC, error) {
	version, bufs, err := parsePACFrame(b)
	if err != nil {
		return nil, err
	}
	if err := verifyPACSignature(b, bufs, key); err != nil {
		return nil, err
	}
	// Only a PAC the KDC signed reaches the decoders.
	return decodePACBuffers(version, bufs)
}

// decodePACBuffers decodes the logon info, client info and UPN_DNS_INFO
// buffers of a parsed PAC. Every buffer is kept in Buffers.
func decodePACBuffers(version uint32, bufs []pacBuffer) (*PAC, error) {
	out := &PAC{}
	for _, p := range bufs {
		out.Buffers = append(out.Buffers, packages.PACBuffer{Type: p.typ, Data: p.data})
		switch p.typ {
		case pacLogonInfo:
			li, err := decodeLogonInfo(p.data)
			if err != nil {
				return nil, err
			}
			out.LogonInfo = li
			out.UserSID = li.LogonDomainSID + "-" + strconv.FormatUint(uint64(li.UserID), 10)
			out.GroupSIDs = groupSIDs(li)
		case pacClientInfo:
			name, err := decodeClientInfo(p.data)
			if err != nil {
				return nil, err
			}
			out.ClientName = name
		case pacUPNDNSInfo:
			u, err := parseUPNDNSInfo(p.data)
			if err != nil {
				return nil, err
			}
			out.UPNDNSInfo = u
		}
	}
	return out, nil
}

// UPNDNSInfo is the UPN_DNS_INFO buffer of a PAC (MS-PAC 2.10); the type
// is the contract's, so that callers depend on no Kerberos package.
type UPNDNSInfo = packages.UPNDNSInfo

// UPN_DNS_INFO flags (MS-PAC 2.10).
const (
	UPNDNSInfoConstructed = packages.UPNDNSInfoConstructed
	UPNDNSInfoExtended    = packages.UPNDNSInfoExtended
)

const (
	upnDNSInfoLen         = 12 // UpnLength .. Flags
	upnDNSInfoExtendedLen = 20 // and SamNameLength .. SidOffset
)

// upnField is one (length, offset) pair of UPN_DNS_INFO, the offset from
// the start of the buffer.
type upnField struct {
	name     string
	len, off uint16
}

// parseUPNDNSInfo parses UPN_DNS_INFO (MS-PAC 2.10). The strings are
// UTF-16LE of an even byte length, each lies within b after the fixed
// part, and none overlaps another.
func parseUPNDNSInfo(b []byte) (*UPNDNSInfo, error) {
	r := wire.String(b)
	var upnLen, upnOff, dnsLen, dnsOff uint16
	u := &UPNDNSInfo{}
	if !r.ReadUint16LE(&upnLen) || !r.ReadUint16LE(&upnOff) || !r.ReadUint16LE(&dnsLen) || !r.ReadUint16LE(&dnsOff) || !r.ReadUint32LE(&u.Flags) {
		return nil, malformedPAC("UPN_DNS_INFO of %d bytes", len(b))
	}
	fields := []upnField{
		{"UPN", upnLen, upnOff},
		{"DNS domain name", dnsLen, dnsOff},
	}
	fixed := upnDNSInfoLen
	if u.Extended() {
		var samLen, samOff, sidLen, sidOff uint16
		if !r.ReadUint16LE(&samLen) || !r.ReadUint16LE(&samOff) || !r.ReadUint16LE(&sidLen) || !r.ReadUint16LE(&sidOff) {
			return nil, malformedPAC("extended UPN_DNS_INFO of %d bytes", len(b))
		}
		fields = append(fields, upnField{"SAM name", samLen, samOff}, upnField{"SID", sidLen, sidOff})
		fixed = upnDNSInfoExtendedLen
	}
	vals := make([][]byte, len(fields))
	for i, f := range fields {
		if f.len == 0 {
			continue
		}
		start, end := int(f.off), int(f.off)+int(f.len)
		switch {
		case start < fixed:
			return nil, malformedPAC("UPN_DNS_INFO %s at offset %d, inside the fixed part", f.name, f.off)
		case !wire.Resolve(b, fixed, uint64(f.off), uint64(f.len), &vals[i]):
			return nil, malformedPAC("UPN_DNS_INFO %s of %d bytes at offset %d, past the end (%d bytes)", f.name, f.len, f.off, len(b))
		case f.name != "SID" && f.len%2 != 0:
			return nil, malformedPAC("UPN_DNS_INFO %s of odd length %d", f.name, f.len)
		}
		for j, g := range fields[:i] {
			if g.len > 0 && start < int(g.off)+int(g.len) && int(g.off) < end {
				return nil, malformedPAC("UPN_DNS_INFO %s overlaps %s", f.name, fields[j].name)
			}
		}
	}
	u.UPN = utf16le(vals[0])
	u.DNSDomainName = utf16le(vals[1])
	if u.Extended() {
		u.SAMName = utf16le(vals[2])
		if len(vals[3]) > 0 {
			sid, err := parseSID(vals[3])
			if err != nil {
				return nil, err
			}
			u.SID = sid
		}
	}
	return u, nil
}

// utf16le decodes UTF-16LE text of an even length.
func utf16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// maxSubAuthorities is SID_MAX_SUB_AUTHORITIES (MS-DTYP 2.4.2.2).
const maxSubAuthorities = 15

// parseSID formats a binary SID (MS-DTYP 2.4.2.2: Revision 1,
// SubAuthorityCount, a 48-bit big-endian IdentifierAuthority, then the
// little-endian SubAuthority values) as a string (MS-DTYP 2.4.2.1). The
// length must be exactly the SID's.
func parseSID(b []byte) (string, error) {
	if len(b) < 8 || b[0] != 1 || b[1] > maxSubAuthorities || len(b) != 8+4*int(b[1]) {
		return "", malformedPAC("UPN_DNS_INFO SID of %d bytes is not a SID", len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var s strings.Builder
	s.WriteString("S-1-")
	if auth < 1<<32 {
		s.WriteString(strconv.FormatUint(auth, 10))
	} else {
		fmt.Fprintf(&s, "0x%012X", auth)
	}
	for i := range int(b[1]) {
		s.WriteByte('-')
		s.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return s.String(), nil
}
