package kerberos

import (
	"encoding/binary"
	"strconv"

	"github.com/gosspi/sspi/packages"
)

// This file decodes the two NDR-encoded PAC buffers the acceptor reads,
// KERB_VALIDATION_INFO (MS-PAC 2.5) and PAC_CLIENT_INFO (MS-PAC 2.7),
// without reflection and with every count checked against the bytes left
// before anything is allocated. KERB_VALIDATION_INFO is a type
// serialization version 1 stream (MS-RPCE 2.2.6): a common and a private
// header, the referent of the top-level unique pointer, the structure,
// then the referents of its pointers in the order the pointers appear.

// maxPACArray bounds the element count of any array in logon info. Active
// Directory caps a token at 1,024 SIDs; the bound leaves room and stops
// a count from asking for more than the buffer could hold anyway.
const maxPACArray = 4096

// ndrReader reads little-endian NDR from a buffer, with NDR alignment
// relative to the start of the serialized stream (after the 16 bytes of
// headers, whose length is a multiple of 8). The first error sticks.
type ndrReader struct {
	b   []byte
	pos int
	err error
}

func (r *ndrReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = malformedPAC("logon info: "+format, args...)
	}
}

func (r *ndrReader) align(n int) {
	if rem := r.pos % n; rem != 0 {
		r.skip(n - rem)
	}
}

func (r *ndrReader) skip(n int) {
	if r.err != nil {
		return
	}
	if n < 0 || n > len(r.b)-r.pos {
		r.fail("truncated at byte %d", r.pos)
		r.pos = len(r.b)
		return
	}
	r.pos += n
}

func (r *ndrReader) bytes(n int) []byte {
	start := r.pos
	r.skip(n)
	if r.err != nil {
		return nil
	}
	return r.b[start:r.pos]
}

func (r *ndrReader) u16() uint16 {
	r.align(2)
	if b := r.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *ndrReader) u32() uint32 {
	r.align(4)
	if b := r.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// count reads a conformance or variance count of elements of size bytes
// each and checks that they fit in what is left.
func (r *ndrReader) count(size int) int {
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if n > maxPACArray || int(n)*size > len(r.b)-r.pos {
		r.fail("array of %d elements does not fit at byte %d", n, r.pos)
		return 0
	}
	return int(n)
}

// unicodeString is an RPC_UNICODE_STRING's inline part: its byte length
// and whether its buffer pointer is set.
type unicodeString struct {
	length uint16
	ptr    bool
}

func (r *ndrReader) unicodeString() unicodeString {
	n := r.u16()
	r.u16() // MaximumLength
	return unicodeString{length: n, ptr: r.u32() != 0}
}

// deferredString reads the conformant varying WCHAR array an
// RPC_UNICODE_STRING's pointer refers to.
func (r *ndrReader) deferredString(s unicodeString) string {
	if !s.ptr {
		return ""
	}
	maxCount := r.u32()
	offset := r.u32()
	actual := r.count(2)
	if r.err != nil {
		return ""
	}
	if offset != 0 || uint32(actual) > maxCount || int(s.length) != 2*actual {
		r.fail("string of %d bytes with conformance %d, offset %d, count %d", s.length, maxCount, offset, actual)
		return ""
	}
	return utf16le(r.bytes(2 * actual))
}

// deferredSID reads an RPC_SID: its conformance (the sub-authority
// count), then the SID.
func (r *ndrReader) deferredSID() string {
	n := r.count(4)
	b := r.bytes(8 + 4*n)
	if r.err != nil {
		return ""
	}
	if int(b[1]) != n {
		r.fail("SID with %d sub-authorities and conformance %d", b[1], n)
		return ""
	}
	sid, err := parseSID(b)
	if err != nil {
		r.fail("%v", err)
	}
	return sid
}

// deferredRIDs reads a conformant array of GROUP_MEMBERSHIP and returns
// the RIDs; want is the count the structure gave.
func (r *ndrReader) deferredRIDs(want uint32) []uint32 {
	n := r.count(8)
	if r.err != nil {
		return nil
	}
	if uint32(n) != want {
		r.fail("%d group memberships where the count says %d", n, want)
		return nil
	}
	if n == 0 {
		return nil
	}
	rids := make([]uint32, n)
	for i := range rids {
		rids[i] = r.u32()
		r.u32() // Attributes
	}
	return rids
}

// decodeLogonInfo decodes a KERB_VALIDATION_INFO buffer.
func decodeLogonInfo(b []byte) (*packages.LogonInfo, error) {
	// Common header: version 1, little-endian, length 8; private header:
	// the object buffer's length, then filler.
	if len(b) < 16 || b[0] != 1 || b[1] != 0x10 || binary.LittleEndian.Uint16(b[2:]) != 8 {
		return nil, malformedPAC("logon info: not an NDR type serialization v1 stream")
	}
	if n := binary.LittleEndian.Uint32(b[8:]); uint64(n) > uint64(len(b)-16) {
		return nil, malformedPAC("logon info: object of %d bytes in a buffer of %d", n, len(b))
	}
	r := &ndrReader{b: b[16:]}
	if r.u32() == 0 {
		return nil, malformedPAC("logon info: null top-level pointer")
	}
	li := &packages.LogonInfo{}
	r.skip(6 * 8) // LogonTime .. PasswordMustChange
	var names [6]unicodeString
	for i := range names {
		names[i] = r.unicodeString()
	}
	li.LogonCount = r.u16()
	li.BadPasswordCount = r.u16()
	li.UserID = r.u32()
	li.PrimaryGroupID = r.u32()
	groupCount := r.u32()
	groupPtr := r.u32() != 0
	li.UserFlags = r.u32()
	r.skip(16) // UserSessionKey
	logonServer := r.unicodeString()
	logonDomain := r.unicodeString()
	domainSIDPtr := r.u32() != 0
	r.skip(8) // Reserved1
	li.UserAccountControl = r.u32()
	r.u32()       // SubAuthStatus
	r.skip(2 * 8) // LastSuccessfulILogon, LastFailedILogon
	r.u32()       // FailedILogonCount
	r.u32()       // Reserved3
	sidCount := r.u32()
	extraPtr := r.u32() != 0
	resDomainPtr := r.u32() != 0
	resCount := r.u32()
	resPtr := r.u32() != 0
	if r.err != nil {
		return nil, r.err
	}
	if (groupCount > 0 && !groupPtr) || (sidCount > 0 && !extraPtr) || (resCount > 0 && !resPtr) {
		return nil, malformedPAC("logon info: a count without its array")
	}

	// The referents, in the order of the pointers.
	strs := make([]string, len(names))
	for i, s := range names {
		strs[i] = r.deferredString(s)
	}
	li.EffectiveName, li.FullName = strs[0], strs[1]
	if groupPtr {
		li.GroupIDs = r.deferredRIDs(groupCount)
	}
	li.LogonServer = r.deferredString(logonServer)
	li.LogonDomainName = r.deferredString(logonDomain)
	if domainSIDPtr {
		li.LogonDomainSID = r.deferredSID()
	}
	if extraPtr {
		n := r.count(8)
		if r.err == nil && uint32(n) != sidCount {
			r.fail("%d extra SIDs where the count says %d", n, sidCount)
		}
		present := make([]bool, n)
		for i := range present {
			present[i] = r.u32() != 0
			r.u32() // Attributes
		}
		for _, p := range present {
			if r.err != nil {
				break
			}
			if !p {
				r.fail("a null extra SID")
				break
			}
			li.ExtraSIDs = append(li.ExtraSIDs, r.deferredSID())
		}
	}
	if resDomainPtr {
		li.ResourceGroupDomainSID = r.deferredSID()
	}
	if resPtr {
		li.ResourceGroupIDs = r.deferredRIDs(resCount)
	}
	if r.err != nil {
		return nil, r.err
	}
	if li.LogonDomainSID == "" {
		return nil, malformedPAC("logon info: no logon domain SID")
	}
	return li, nil
}

// groupSIDs returns the group membership SIDs of li, each once: the
// logon domain's groups, the extra SIDs and the resource groups.
func groupSIDs(li *packages.LogonInfo) []string {
	var out []string
	seen := make(map[string]bool)
	add := func(sid string) {
		if !seen[sid] {
			seen[sid] = true
			out = append(out, sid)
		}
	}
	for _, rid := range li.GroupIDs {
		add(li.LogonDomainSID + "-" + strconv.FormatUint(uint64(rid), 10))
	}
	for _, sid := range li.ExtraSIDs {
		add(sid)
	}
	if li.ResourceGroupDomainSID != "" {
		for _, rid := range li.ResourceGroupIDs {
			add(li.ResourceGroupDomainSID + "-" + strconv.FormatUint(uint64(rid), 10))
		}
	}
	return out
}

// decodeClientInfo decodes PAC_CLIENT_INFO (MS-PAC 2.7): ClientId, a
// FILETIME, then NameLength bytes of UTF-16LE name.
func decodeClientInfo(b []byte) (string, error) {
	if len(b) < 10 {
		return "", malformedPAC("client info of %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if n%2 != 0 || n > len(b)-10 {
		return "", malformedPAC("client info name of %d bytes in %d", n, len(b)-10)
	}
	return utf16le(b[10 : 10+n]), nil
}
