package ntlm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gosspi/sspi/internal/wire"
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

// maxTokenSize caps every NTLM message a parser takes, checked before
// anything is read or allocated. Windows sizes NTLM tokens at 2888 bytes
// (cbMaxToken); real messages stay far below the cap, which leaves room for
// long names and large TargetInfo lists while refusing, as Windows does, a
// CHALLENGE whose TargetInfo would not fit the 16-bit NtChallengeResponse
// field of the AUTHENTICATE built from it.
const maxTokenSize = 16 << 10

// maxAVPairs caps the pairs of one TargetInfo list; Windows sends about ten.
const maxAVPairs = 128

// errMalformed is the cause every parser failure wraps; the caller answers
// SEC_E_INVALID_TOKEN.
var errMalformed = errors.New("ntlm: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// errTooLong is the cause of a message we cannot build because a field
// would overflow its 16-bit length (wire.ErrOverflow); the caller answers
// SEC_E_INVALID_TOKEN, as Windows does when a CHALLENGE would make the
// AUTHENTICATE too large.
var errTooLong = errors.New("ntlm: message fields too long")

// finish returns the built message, or the overflow it met wrapped in
// errTooLong.
func finish(b *wire.Builder) ([]byte, error) {
	m, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTooLong, err)
	}
	return m, nil
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
// Windows does (NTLMv2 blobs carry padding there). The values alias b.
func parseAVList(b []byte) (avList, error) { return appendAVList(nil, b) }

// appendAVList is parseAVList appending the pairs to l, whose spare
// capacity (a caller's array) saves an allocation. On failure it returns
// nil.
func appendAVList(l avList, b []byte) (avList, error) {
	s := wire.String(b)
	l = l[:0]
	for {
		var id, n uint16
		if !s.ReadUint16LE(&id) || !s.ReadUint16LE(&n) {
			return nil, malformed("AV_PAIR list without MsvAvEOL")
		}
		if id == avEOL {
			if n != 0 {
				return nil, malformed("MsvAvEOL with length %d", n)
			}
			return l, nil
		}
		var v []byte
		if !s.ReadBytes(&v, int(n)) {
			return nil, malformed("AV_PAIR %d overruns the list", id)
		}
		if len(l) == maxAVPairs {
			return nil, malformed("more than %d AV_PAIRs", maxAVPairs)
		}
		l = append(l, avPair{id: id, value: v})
	}
}

// build appends the list and its MsvAvEOL to b; a value over 65535 bytes
// is an overflow.
func (l avList) build(b *wire.Builder) {
	for _, p := range l {
		b.AddUint16LE(p.id)
		b.AddLen16(len(p.value))
		b.AddBytes(p.value)
	}
	b.AddZeros(4)
}

// marshal returns the list and its MsvAvEOL.
func (l avList) marshal() ([]byte, error) {
	b := wire.NewBuilder(make([]byte, 0, l.size()))
	l.build(b)
	return finish(b)
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

// readHeader checks the size cap, the minimum length, the signature and
// the message type, and returns the rest of the message after the type.
func readHeader(msg []byte, typ uint32, min int) (wire.String, error) {
	s, err := wire.Limit(msg, maxTokenSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if len(msg) < min {
		return nil, malformed("message type %d too short (%d bytes)", typ, len(msg))
	}
	var got uint32
	if !s.ReadSignature(signature[:]) {
		return nil, malformed("no NTLMSSP signature")
	}
	if !s.ReadUint32LE(&got) {
		return nil, malformed("message type %d too short (%d bytes)", typ, len(msg))
	}
	if got != typ {
		return nil, fmt.Errorf("%w: %w", errMalformed, &unexpectedMessageError{expected: typeName(typ), got: typeName(got)})
	}
	return s, nil
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

// addString appends s to b as the payload of field f: UTF-16LE when
// unicode, else as OEM bytes (kept as given: the emulation treats OEM
// strings as opaque bytes).
func addString(b *wire.Builder, f wire.FieldMark, s string, isUnicode bool) {
	if !isUnicode {
		b.AddPayload(f, []byte(s))
		return
	}
	start := b.Len()
	b.AddUTF16LE(s)
	b.SetField(f, b.Len()-start, start)
}

// decodeString decodes a string field, UTF-16LE when unicode, else OEM
// bytes taken as they are. An odd-length UTF-16 string is malformed;
// unpaired surrogates decode to U+FFFD.
func decodeString(b []byte, isUnicode bool) (string, error) {
	if !isUnicode {
		return string(b), nil
	}
	if len(b)%2 != 0 {
		return "", malformed("UTF-16 string of odd length")
	}
	var sb strings.Builder
	sb.Grow(len(b) / 2)
	for i := 0; i < len(b); i += 2 {
		r := rune(binary.LittleEndian.Uint16(b[i:]))
		if utf16.IsSurrogate(r) && i+3 < len(b) {
			if r2 := utf16.DecodeRune(r, rune(binary.LittleEndian.Uint16(b[i+2:]))); r2 != utf8.RuneError {
				sb.WriteRune(r2)
				i += 2
				continue
			}
		}
		if utf16.IsSurrogate(r) {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}

// utf16le encodes s as UTF-16LE without terminator.
func utf16le(s string) []byte {
	return wire.AppendUTF16LE(make([]byte, 0, 2*len(s)), s)
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
func (m *negotiateMsg) marshal() ([]byte, error) {
	return m.build(make([]byte, 0, negotiateLen+len(m.domain)+len(m.workstation)))
}

// build is marshal into buf's capacity (buf[:0]), growing it if need be.
func (m *negotiateMsg) build(buf []byte) ([]byte, error) {
	var dom, ws string
	if m.flags&flagOEMDomainSupplied != 0 {
		dom = m.domain
	}
	if m.flags&flagOEMWorkstationSupplied != 0 {
		ws = m.workstation
	}
	b := wire.NewBuilder(buf)
	b.AddBytes(signature[:])
	b.AddUint32LE(typeNegotiate)
	b.AddUint32LE(m.flags)
	fd, fw := b.AddField(), b.AddField()
	if m.flags&flagVersion != 0 {
		b.AddBytes(m.version[:])
	}
	addString(b, fd, dom, false)
	addString(b, fw, ws, false)
	return finish(b)
}

// parseNegotiate parses a NEGOTIATE_MESSAGE. It accepts the 16-byte
// minimal form, the 32-byte form without VERSION (curl), and the 40-byte
// form; with flagVersion set VERSION must be there.
func parseNegotiate(msg []byte) (*negotiateMsg, error) {
	m := &negotiateMsg{}
	if err := m.unmarshal(msg); err != nil {
		return nil, err
	}
	return m, nil
}

// unmarshal is parseNegotiate into m. On failure m may be partly set.
func (m *negotiateMsg) unmarshal(msg []byte) error {
	*m = negotiateMsg{}
	s, err := readHeader(msg, typeNegotiate, negotiateMinLen)
	if err != nil {
		return err
	}
	s.ReadUint32LE(&m.flags) // present: the minimum length is 16
	if len(msg) == negotiateMinLen {
		if m.flags&(flagVersion|flagOEMDomainSupplied|flagOEMWorkstationSupplied) != 0 {
			return malformed("NEGOTIATE flags 0x%08x need fields the message lacks", m.flags)
		}
		return nil
	}
	hdr := negotiateNoVerLen
	if m.flags&flagVersion != 0 {
		hdr = negotiateLen
	}
	var fd, fw wire.Field
	var dom, ws []byte
	if !s.ReadField(&fd) || !s.ReadField(&fw) || (hdr == negotiateLen && !s.CopyBytes(m.version[:])) {
		return malformed("NEGOTIATE too short (%d bytes)", len(msg))
	}
	if !fd.Resolve(msg, hdr, &dom) || !fw.Resolve(msg, hdr, &ws) {
		return malformed("NEGOTIATE field points outside the message")
	}
	if m.flags&flagOEMDomainSupplied != 0 {
		m.domain = string(dom)
	}
	if m.flags&flagOEMWorkstationSupplied != 0 {
		m.workstation = string(ws)
	}
	return nil
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

func (m *challengeMsg) marshal() ([]byte, error) {
	n := challengeLen + 2*len(m.targetName)
	if m.flags&flagTargetInfo != 0 {
		n += m.targetInfo.size()
	}
	return m.build(make([]byte, 0, n))
}

// build is marshal into buf's capacity (buf[:0]), growing it if need be.
func (m *challengeMsg) build(buf []byte) ([]byte, error) {
	b := wire.NewBuilder(buf)
	b.AddBytes(signature[:])
	b.AddUint32LE(typeChallenge)
	name := b.AddField()
	b.AddUint32LE(m.flags)
	b.AddBytes(m.serverChallenge[:])
	b.AddBytes(m.reserved[:])
	info := b.AddField()
	if m.flags&flagVersion != 0 {
		b.AddBytes(m.version[:])
	}
	addString(b, name, m.targetName, m.unicode())
	start := b.Len()
	if m.flags&flagTargetInfo != 0 {
		m.targetInfo.build(b)
		b.SetField(info, b.Len()-start, start)
	} else {
		// An absent TargetInfo has offset 0, as in the MS-NLMP 4.2.2.3
		// example.
		b.SetField(info, 0, 0)
	}
	return finish(b)
}

// parseChallenge parses a CHALLENGE_MESSAGE. The 48-byte header is the
// minimum; with flagVersion set the VERSION field must be there. A message
// that sets both UNICODE and OEM (the MS-NLMP 4.2 examples do) is read as
// Unicode; our own server sets only one, since gss-ntlmssp refuses both.
// The TargetInfo values alias msg.
func parseChallenge(msg []byte) (*challengeMsg, error) {
	m := &challengeMsg{}
	info, err := m.unmarshal(msg, nil)
	if err != nil {
		return nil, err
	}
	m.targetInfo = info
	return m, nil
}

// unmarshal is parseChallenge into m, except for the TargetInfo pairs:
// it returns them, appended to pairs[:0] (a caller's array, to save an
// allocation), for the caller to store in m.targetInfo. On failure m may
// be partly set.
func (m *challengeMsg) unmarshal(msg []byte, pairs avList) (avList, error) {
	*m = challengeMsg{}
	s, err := readHeader(msg, typeChallenge, challengeNoVerLen)
	if err != nil {
		return nil, err
	}
	var fName, fInfo wire.Field
	if !s.ReadField(&fName) || !s.ReadUint32LE(&m.flags) || !s.CopyBytes(m.serverChallenge[:]) ||
		!s.CopyBytes(m.reserved[:]) || !s.ReadField(&fInfo) {
		return nil, malformed("CHALLENGE too short (%d bytes)", len(msg))
	}
	hdr := challengeNoVerLen
	if m.flags&flagVersion != 0 {
		hdr = challengeLen
		if !s.CopyBytes(m.version[:]) {
			return nil, malformed("CHALLENGE with VERSION flag but no VERSION")
		}
	}
	var name, info []byte
	if !fName.Resolve(msg, hdr, &name) || !fInfo.Resolve(msg, hdr, &info) {
		return nil, malformed("CHALLENGE field points outside the message")
	}
	if m.targetName, err = decodeString(name, m.unicode()); err != nil {
		return nil, err
	}
	if m.flags&flagTargetInfo != 0 {
		return appendAVList(pairs, info)
	}
	return nil, nil
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
// user, workstation, LM response, NT response, session key. A field over
// 65535 bytes fails with errTooLong.
func (m *authenticateMsg) marshal() ([]byte, error) {
	return m.build(make([]byte, 0, m.size()))
}

// size is the length of the marshalled message, exact for ASCII names.
func (m *authenticateMsg) size() int {
	return m.headerLen() + 2*(len(m.domain)+len(m.user)+len(m.workstation)) + len(m.lmChallengeResponse) +
		len(m.ntChallengeResponse) + len(m.encryptedRandomSessionKey)
}

// build is marshal into buf's capacity (buf[:0]), growing it if need be.
func (m *authenticateMsg) build(buf []byte) ([]byte, error) {
	hdr := m.headerLen()
	u := m.unicode()
	b := wire.NewBuilder(buf)
	b.AddBytes(signature[:])
	b.AddUint32LE(typeAuthenticate)
	lm, nt, dom, usr, ws, key := b.AddField(), b.AddField(), b.AddField(), b.AddField(), b.AddField(), b.AddField()
	b.AddUint32LE(m.flags)
	if hdr >= authenticateVerLen {
		b.AddBytes(m.version[:])
	}
	if m.hasMIC {
		b.AddBytes(m.mic[:])
	}
	addString(b, dom, m.domain, u)
	addString(b, usr, m.user, u)
	addString(b, ws, m.workstation, u)
	b.AddPayload(lm, m.lmChallengeResponse)
	b.AddPayload(nt, m.ntChallengeResponse)
	b.AddPayload(key, m.encryptedRandomSessionKey)
	return finish(b)
}

// parseAuthenticate parses an AUTHENTICATE_MESSAGE. Neither VERSION nor
// MIC is announced by a flag, so, as Windows and pyspnego do, their
// presence is read from where the payload starts: the smallest offset of a
// field that is non-empty or points past the 64-byte header. The byte
// fields alias msg.
func parseAuthenticate(msg []byte) (*authenticateMsg, error) {
	m := &authenticateMsg{}
	if err := m.unmarshal(msg); err != nil {
		return nil, err
	}
	return m, nil
}

// unmarshal is parseAuthenticate into m. On failure m may be partly set.
func (m *authenticateMsg) unmarshal(msg []byte) error {
	*m = authenticateMsg{}
	s, err := readHeader(msg, typeAuthenticate, authenticateMinLen)
	if err != nil {
		return err
	}
	var fields [6]wire.Field // LM, NT, domain, user, workstation, session key
	for i := range fields {
		s.ReadField(&fields[i]) // present: the minimum length is 64
	}
	s.ReadUint32LE(&m.flags)
	start := uint64(len(msg))
	var raw [6][]byte
	for i, f := range fields {
		if !f.Resolve(msg, authenticateMinLen, &raw[i]) {
			return malformed("AUTHENTICATE field %d points outside the message", i)
		}
		if f.Len > 0 || f.Offset >= authenticateMinLen {
			if uint64(f.Offset) > uint64(len(msg)) {
				return malformed("AUTHENTICATE field %d points outside the message", i)
			}
			start = min(start, uint64(f.Offset))
		}
	}
	m.hasVersion = start >= authenticateVerLen
	m.hasMIC = start >= authenticateLen
	if m.hasVersion {
		s.CopyBytes(m.version[:]) // present: the payload starts after it
	}
	if m.hasMIC {
		s.CopyBytes(m.mic[:])
	}
	u := m.unicode()
	if m.domain, err = decodeString(raw[2], u); err != nil {
		return err
	}
	if m.user, err = decodeString(raw[3], u); err != nil {
		return err
	}
	if m.workstation, err = decodeString(raw[4], u); err != nil {
		return err
	}
	m.lmChallengeResponse, m.ntChallengeResponse, m.encryptedRandomSessionKey = raw[0], raw[1], raw[5]
	return nil
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
