package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// Wire messages of MS-NLMP 2.2. All integers are little-endian; variable
// fields are located through (Len u16, MaxLen u16, Offset u32) descriptors
// counted from the start of the message.

// signature is the 8-byte magic every NTLM message starts with (MS-NLMP 2.2.1).
var signature = [8]byte{'N', 'T', 'L', 'M', 'S', 'S', 'P', 0}

// Message types (MS-NLMP 2.2.1).
const (
	typeNegotiate    = 1
	typeChallenge    = 2
	typeAuthenticate = 3
)

// NegotiateFlags bits (MS-NLMP 2.2.2.5).
const (
	flagUnicode                 = 0x00000001
	flagOEM                     = 0x00000002
	flagRequestTarget           = 0x00000004
	flagSign                    = 0x00000010
	flagSeal                    = 0x00000020
	flagDatagram                = 0x00000040
	flagLMKey                   = 0x00000080
	flagNTLM                    = 0x00000200
	flagAnonymous               = 0x00000800
	flagOEMDomainSupplied       = 0x00001000
	flagOEMWorkstationSupplied  = 0x00002000
	flagAlwaysSign              = 0x00008000
	flagTargetTypeDomain        = 0x00010000
	flagTargetTypeServer        = 0x00020000
	flagExtendedSessionSecurity = 0x00080000
	flagIdentify                = 0x00100000
	flagRequestNonNTSessionKey  = 0x00400000
	flagTargetInfo              = 0x00800000
	flagVersion                 = 0x02000000
	flag128                     = 0x20000000
	flagKeyExch                 = 0x40000000
	flag56                      = 0x80000000
)

// AV_PAIR identifiers (MS-NLMP 2.2.2.1).
const (
	avEOL             = 0
	avNbComputerName  = 1
	avNbDomainName    = 2
	avDNSComputerName = 3
	avDNSDomainName   = 4
	avDNSTreeName     = 5
	avFlags           = 6
	avTimestamp       = 7
	avSingleHost      = 8
	avTargetName      = 9
	avChannelBindings = 10
)

// MsvAvFlags bits (MS-NLMP 2.2.2.1).
const (
	avFlagConstrained = 0x1
	avFlagMIC         = 0x2
	avFlagUntrusted   = 0x4
)

// Header sizes. The AUTHENTICATE header is 64 bytes, 72 with VERSION and
// 88 with VERSION and MIC (MS-NLMP 2.2.1.3).
const (
	negotiateMinLen    = 16 // signature, type, flags: the oldest clients
	negotiateNoVerLen  = 32 // plus the domain and workstation fields (curl)
	negotiateLen       = 40 // plus VERSION (Windows, and what we send)
	challengeNoVerLen  = 48
	challengeLen       = 56
	authenticateMinLen = 64
	authenticateVerLen = 72
	authenticateLen    = 88
	micOffset          = 72
	versionLen         = 8
	micLen             = 16
)

// errMalformed is the cause every parser failure wraps; the caller answers
// SEC_E_INVALID_TOKEN.
var errMalformed = errors.New("ntlm: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// version is the VERSION structure (MS-NLMP 2.2.2.10), kept as its 8 bytes.
type version [versionLen]byte

// ourVersion is what we send: Windows 10.0 build 20348 (Server 2022) with
// NTLMSSP_REVISION_W2K3 (15), as a current Windows does.
var ourVersion = version{10, 0, 0x4c, 0x4f, 0, 0, 0, 0x0f}

func (v version) String() string {
	return fmt.Sprintf("%d.%d.%d rev %d", v[0], v[1], binary.LittleEndian.Uint16(v[2:]), v[7])
}

// avPair is one AV_PAIR of a TargetInfo list (MS-NLMP 2.2.2.1).
type avPair struct {
	id    uint16
	value []byte
}

// avList is a TargetInfo list without its terminating MsvAvEOL.
type avList []avPair

// parseAVList parses a TargetInfo field: pairs up to and including
// MsvAvEOL, which must be present. Bytes after MsvAvEOL are ignored, as
// Windows does (NTLMv2 blobs carry padding there).
func parseAVList(b []byte) (avList, error) {
	var l avList
	for {
		if len(b) < 4 {
			return nil, malformed("AV_PAIR list without MsvAvEOL")
		}
		id := binary.LittleEndian.Uint16(b)
		n := int(binary.LittleEndian.Uint16(b[2:]))
		b = b[4:]
		if id == avEOL {
			if n != 0 {
				return nil, malformed("MsvAvEOL with length %d", n)
			}
			return l, nil
		}
		if n > len(b) {
			return nil, malformed("AV_PAIR %d overruns the list", id)
		}
		l = append(l, avPair{id: id, value: bytes.Clone(b[:n])})
		b = b[n:]
	}
}

// marshal appends the list and its MsvAvEOL to b.
func (l avList) marshal(b []byte) []byte {
	for _, p := range l {
		b = binary.LittleEndian.AppendUint16(b, p.id)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.value)))
		b = append(b, p.value...)
	}
	return append(b, 0, 0, 0, 0)
}

// size is the marshalled length including MsvAvEOL.
func (l avList) size() int {
	n := 4
	for _, p := range l {
		n += 4 + len(p.value)
	}
	return n
}

// get returns the value of the first pair with id.
func (l avList) get(id uint16) ([]byte, bool) {
	for _, p := range l {
		if p.id == id {
			return p.value, true
		}
	}
	return nil, false
}

// set replaces the first pair with id, or appends one.
func (l avList) set(id uint16, value []byte) avList {
	for i := range l {
		if l[i].id == id {
			l[i].value = value
			return l
		}
	}
	return append(l, avPair{id: id, value: value})
}

func (l avList) equal(m avList) bool {
	if len(l) != len(m) {
		return false
	}
	for i := range l {
		if l[i].id != m[i].id || !bytes.Equal(l[i].value, m[i].value) {
			return false
		}
	}
	return true
}

// field reads the (Len, MaxLen, Offset) descriptor at off of msg and returns
// the bytes it points at. A non-empty field must lie after the fixed header
// (hdr) and inside msg.
func field(msg []byte, off, hdr int) ([]byte, uint32, error) {
	n := int(binary.LittleEndian.Uint16(msg[off:]))
	at := binary.LittleEndian.Uint32(msg[off+4:])
	if n == 0 {
		return nil, at, nil
	}
	if uint64(at) < uint64(hdr) || uint64(at)+uint64(n) > uint64(len(msg)) {
		return nil, at, malformed("field at %d points outside the message", off)
	}
	return msg[at : int(at)+n : int(at)+n], at, nil
}

// putField writes the descriptor for p at off of b and appends p to b.
func putField(b []byte, off int, p []byte) []byte {
	binary.LittleEndian.PutUint16(b[off:], uint16(len(p)))
	binary.LittleEndian.PutUint16(b[off+2:], uint16(len(p)))
	binary.LittleEndian.PutUint32(b[off+4:], uint32(len(b)))
	return append(b, p...)
}

// checkHeader verifies the signature and message type.
func checkHeader(msg []byte, typ uint32, min int) error {
	if len(msg) < min {
		return malformed("message type %d too short (%d bytes)", typ, len(msg))
	}
	if !bytes.Equal(msg[:8], signature[:]) {
		return malformed("no NTLMSSP signature")
	}
	if got := binary.LittleEndian.Uint32(msg[8:]); got != typ {
		return fmt.Errorf("%w: %w", errMalformed, &unexpectedMessageError{expected: typeName(typ), got: typeName(got)})
	}
	return nil
}

// typeName names a MessageType for errors.
func typeName(t uint32) string {
	switch t {
	case typeNegotiate:
		return "NEGOTIATE_MESSAGE"
	case typeChallenge:
		return "CHALLENGE_MESSAGE"
	case typeAuthenticate:
		return "AUTHENTICATE_MESSAGE"
	}
	return fmt.Sprintf("message type %d", t)
}

// encodeString encodes s as UTF-16LE when unicode, else as OEM bytes
// (kept as given: the emulation treats OEM strings as opaque bytes).
func encodeString(s string, unicode bool) []byte {
	if !unicode {
		return []byte(s)
	}
	return utf16le(s)
}

// decodeString is the inverse of encodeString. An odd-length UTF-16 string
// is malformed; unpaired surrogates decode to U+FFFD.
func decodeString(b []byte, unicode bool) (string, error) {
	if !unicode {
		return string(b), nil
	}
	if len(b)%2 != 0 {
		return "", malformed("UTF-16 string of odd length")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// utf16le encodes s as UTF-16LE without terminator.
func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// negotiateMsg is NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1).
type negotiateMsg struct {
	flags       uint32 // NegotiateFlags
	domain      string // DomainName, OEM; only with flagOEMDomainSupplied
	workstation string // Workstation, OEM; only with flagOEMWorkstationSupplied
	version     version
}

// marshal encodes m. VERSION is present when flagVersion is set; the
// payload fields are present only with their SUPPLIED flags.
func (m *negotiateMsg) marshal() []byte {
	hdr := negotiateNoVerLen
	if m.flags&flagVersion != 0 {
		hdr = negotiateLen
	}
	b := make([]byte, hdr, hdr+len(m.domain)+len(m.workstation))
	copy(b, signature[:])
	binary.LittleEndian.PutUint32(b[8:], typeNegotiate)
	binary.LittleEndian.PutUint32(b[12:], m.flags)
	var dom, ws []byte
	if m.flags&flagOEMDomainSupplied != 0 {
		dom = []byte(m.domain)
	}
	if m.flags&flagOEMWorkstationSupplied != 0 {
		ws = []byte(m.workstation)
	}
	b = putField(b, 16, dom)
	b = putField(b, 24, ws)
	if hdr == negotiateLen {
		copy(b[32:40], m.version[:])
	}
	return b
}

// parseNegotiate parses a NEGOTIATE_MESSAGE. It accepts the 16-byte
// minimal form, the 32-byte form without VERSION (curl), and the 40-byte
// form; with flagVersion set VERSION must be there.
func parseNegotiate(msg []byte) (*negotiateMsg, error) {
	if err := checkHeader(msg, typeNegotiate, negotiateMinLen); err != nil {
		return nil, err
	}
	m := &negotiateMsg{flags: binary.LittleEndian.Uint32(msg[12:])}
	if len(msg) == negotiateMinLen {
		if m.flags&(flagVersion|flagOEMDomainSupplied|flagOEMWorkstationSupplied) != 0 {
			return nil, malformed("NEGOTIATE flags 0x%08x need fields the message lacks", m.flags)
		}
		return m, nil
	}
	hdr := negotiateNoVerLen
	if m.flags&flagVersion != 0 {
		hdr = negotiateLen
	}
	if len(msg) < hdr {
		return nil, malformed("NEGOTIATE too short (%d bytes)", len(msg))
	}
	dom, _, err := field(msg, 16, hdr)
	if err != nil {
		return nil, err
	}
	ws, _, err := field(msg, 24, hdr)
	if err != nil {
		return nil, err
	}
	if m.flags&flagOEMDomainSupplied != 0 {
		m.domain = string(dom)
	}
	if m.flags&flagOEMWorkstationSupplied != 0 {
		m.workstation = string(ws)
	}
	if hdr == negotiateLen {
		copy(m.version[:], msg[32:40])
	}
	return m, nil
}

// challengeMsg is CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
type challengeMsg struct {
	targetName      string // TargetName, Unicode or OEM per flags
	flags           uint32 // NegotiateFlags
	serverChallenge [8]byte
	reserved        [8]byte
	targetInfo      avList // TargetInfo; only with flagTargetInfo
	version         version
}

func (m *challengeMsg) unicode() bool { return m.flags&flagUnicode != 0 }

func (m *challengeMsg) marshal() []byte {
	hdr := challengeNoVerLen
	if m.flags&flagVersion != 0 {
		hdr = challengeLen
	}
	name := encodeString(m.targetName, m.unicode())
	var info []byte
	if m.flags&flagTargetInfo != 0 {
		info = m.targetInfo.marshal(make([]byte, 0, m.targetInfo.size()))
	}
	b := make([]byte, hdr, hdr+len(name)+len(info))
	copy(b, signature[:])
	binary.LittleEndian.PutUint32(b[8:], typeChallenge)
	binary.LittleEndian.PutUint32(b[20:], m.flags)
	copy(b[24:32], m.serverChallenge[:])
	copy(b[32:40], m.reserved[:])
	b = putField(b, 12, name)
	b = putField(b, 40, info)
	if len(info) == 0 {
		// An absent TargetInfo has offset 0, as in the MS-NLMP 4.2.2.3
		// example.
		binary.LittleEndian.PutUint32(b[44:], 0)
	}
	if hdr == challengeLen {
		copy(b[48:56], m.version[:])
	}
	return b
}

// parseChallenge parses a CHALLENGE_MESSAGE. The 48-byte header is the
// minimum; with flagVersion set the VERSION field must be there. A message
// that sets both UNICODE and OEM (the MS-NLMP 4.2 examples do) is read as
// Unicode; our own server sets only one, since gss-ntlmssp refuses both.
func parseChallenge(msg []byte) (*challengeMsg, error) {
	if err := checkHeader(msg, typeChallenge, challengeNoVerLen); err != nil {
		return nil, err
	}
	m := &challengeMsg{flags: binary.LittleEndian.Uint32(msg[20:])}
	hdr := challengeNoVerLen
	if m.flags&flagVersion != 0 {
		hdr = challengeLen
		if len(msg) < hdr {
			return nil, malformed("CHALLENGE with VERSION flag but no VERSION")
		}
	}
	name, _, err := field(msg, 12, hdr)
	if err != nil {
		return nil, err
	}
	info, _, err := field(msg, 40, hdr)
	if err != nil {
		return nil, err
	}
	if m.targetName, err = decodeString(name, m.unicode()); err != nil {
		return nil, err
	}
	copy(m.serverChallenge[:], msg[24:32])
	copy(m.reserved[:], msg[32:40])
	if m.flags&flagTargetInfo != 0 {
		if m.targetInfo, err = parseAVList(info); err != nil {
			return nil, err
		}
	}
	if hdr == challengeLen {
		copy(m.version[:], msg[48:56])
	}
	return m, nil
}

func (m *challengeMsg) equal(o *challengeMsg) bool {
	return m.targetName == o.targetName && m.flags == o.flags &&
		m.serverChallenge == o.serverChallenge && m.reserved == o.reserved &&
		m.targetInfo.equal(o.targetInfo) && m.version == o.version
}

// authenticateMsg is AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
type authenticateMsg struct {
	lmChallengeResponse       []byte
	ntChallengeResponse       []byte
	domain                    string
	user                      string
	workstation               string
	encryptedRandomSessionKey []byte
	flags                     uint32
	hasVersion                bool // the VERSION field is present (header >= 72)
	version                   version
	hasMIC                    bool // the MIC field is present (header >= 88)
	mic                       [micLen]byte
}

func (m *authenticateMsg) unicode() bool { return m.flags&flagUnicode != 0 }

func (m *authenticateMsg) headerLen() int {
	switch {
	case m.hasMIC:
		return authenticateLen
	case m.hasVersion:
		return authenticateVerLen
	}
	return authenticateMinLen
}

// marshal encodes m with the payload in the order Windows uses: domain,
// user, workstation, LM response, NT response, session key.
func (m *authenticateMsg) marshal() []byte {
	hdr := m.headerLen()
	u := m.unicode()
	dom, usr, ws := encodeString(m.domain, u), encodeString(m.user, u), encodeString(m.workstation, u)
	n := hdr + len(dom) + len(usr) + len(ws) + len(m.lmChallengeResponse) + len(m.ntChallengeResponse) + len(m.encryptedRandomSessionKey)
	b := make([]byte, hdr, n)
	copy(b, signature[:])
	binary.LittleEndian.PutUint32(b[8:], typeAuthenticate)
	b = putField(b, 28, dom)
	b = putField(b, 36, usr)
	b = putField(b, 44, ws)
	b = putField(b, 12, m.lmChallengeResponse)
	b = putField(b, 20, m.ntChallengeResponse)
	b = putField(b, 52, m.encryptedRandomSessionKey)
	binary.LittleEndian.PutUint32(b[60:], m.flags)
	if hdr >= authenticateVerLen {
		copy(b[64:72], m.version[:])
	}
	if m.hasMIC {
		copy(b[micOffset:], m.mic[:])
	}
	return b
}

// parseAuthenticate parses an AUTHENTICATE_MESSAGE. Neither VERSION nor
// MIC is announced by a flag, so, as Windows and pyspnego do, their
// presence is read from where the payload starts: the smallest offset of a
// field that is non-empty or points past the 64-byte header.
func parseAuthenticate(msg []byte) (*authenticateMsg, error) {
	if err := checkHeader(msg, typeAuthenticate, authenticateMinLen); err != nil {
		return nil, err
	}
	m := &authenticateMsg{flags: binary.LittleEndian.Uint32(msg[60:])}
	start := uint64(len(msg))
	var raw [6][]byte
	for i, off := range [6]int{12, 20, 28, 36, 44, 52} {
		p, at, err := field(msg, off, authenticateMinLen)
		if err != nil {
			return nil, err
		}
		raw[i] = p
		if len(p) > 0 || at >= authenticateMinLen {
			if uint64(at) > uint64(len(msg)) {
				return nil, malformed("AUTHENTICATE field at %d points outside the message", off)
			}
			start = min(start, uint64(at))
		}
	}
	m.hasVersion = start >= authenticateVerLen
	m.hasMIC = start >= authenticateLen
	u := m.unicode()
	var err error
	if m.domain, err = decodeString(raw[2], u); err != nil {
		return nil, err
	}
	if m.user, err = decodeString(raw[3], u); err != nil {
		return nil, err
	}
	if m.workstation, err = decodeString(raw[4], u); err != nil {
		return nil, err
	}
	m.lmChallengeResponse = bytes.Clone(raw[0])
	m.ntChallengeResponse = bytes.Clone(raw[1])
	m.encryptedRandomSessionKey = bytes.Clone(raw[5])
	if m.hasVersion {
		copy(m.version[:], msg[64:72])
	}
	if m.hasMIC {
		copy(m.mic[:], msg[micOffset:authenticateLen])
	}
	return m, nil
}

func (m *authenticateMsg) equal(o *authenticateMsg) bool {
	return bytes.Equal(m.lmChallengeResponse, o.lmChallengeResponse) &&
		bytes.Equal(m.ntChallengeResponse, o.ntChallengeResponse) &&
		m.domain == o.domain && m.user == o.user && m.workstation == o.workstation &&
		bytes.Equal(m.encryptedRandomSessionKey, o.encryptedRandomSessionKey) &&
		m.flags == o.flags && m.hasVersion == o.hasVersion && m.version == o.version &&
		m.hasMIC == o.hasMIC && m.mic == o.mic
}

func leUint32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func leUint64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func leBytes32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
