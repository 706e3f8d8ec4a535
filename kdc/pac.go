package kdc

// The PAC (MS-PAC) as an Active Directory KDC issues it: the buffers, the
// NDR encoding of KERB_VALIDATION_INFO (MS-RPCE 2.2.6 type serialization
// version 1), and the signatures of MS-PAC 2.8.

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/types"
)

// PAC buffer types (MS-PAC 2.4).
const (
	pacLogonInfo       = 1
	pacServerChecksum  = 6
	pacPrivSvrChecksum = 7
	pacClientInfo      = 10
	pacUPNDNSInfo      = 12
	pacTicketChecksum  = 16
	pacAttributesInfo  = 17
	pacRequestor       = 18
	pacFullChecksum    = 19
)

// Authorization data types (RFC 4120 7.5.4, MS-KILE).
const (
	adIfRelevant = 1
	adWin2kPAC   = 128
)

// keyUsageNonKerbCksumSalt is the key usage of the PAC signatures
// (MS-PAC 2.8.1: KERB_NON_KERB_CKSUM_SALT).
const keyUsageNonKerbCksumSalt = 17

// Limits on what the KDC accepts back in a ticket's PAC.
const (
	maxPACSize    = 32 << 10
	maxPACBuffers = 32
)

var le = binary.LittleEndian

// pacInfo is what a PAC says about its client.
type pacInfo struct {
	name         string // the account name (sAMAccountName)
	fullName     string
	realm        *realm
	rid          uint32
	primaryGroup uint32
	groups       []uint32
	extraSIDs    [][]byte // binary SIDs
	upn          string
	upnBuilt     bool
	uac          uint32
	authTime     time.Time
	clientName   string // PAC_CLIENT_INFO's name
	requested    bool   // the client sent PA-PAC-REQUEST
}

// newPACInfo describes p, authenticated at authTime.
func newPACInfo(p *principal, r *realm, authTime time.Time) (*pacInfo, error) {
	pi := &pacInfo{
		name:         p.name.PrincipalNameString(),
		realm:        r,
		rid:          p.rid,
		primaryGroup: 513,
		authTime:     authTime,
		clientName:   p.name.PrincipalNameString(),
		uac:          0x10 | 0x200, // USER_NORMAL_ACCOUNT | USER_DONT_EXPIRE_PASSWORD
	}
	if p.isUser {
		pi.fullName = p.user.FullName
		if p.user.PrimaryGroupRID != 0 {
			pi.primaryGroup = p.user.PrimaryGroupRID
		}
		pi.groups = p.user.GroupRIDs
		for _, s := range p.user.ExtraSIDs {
			b, err := parseSIDString(s)
			if err != nil {
				return nil, err
			}
			pi.extraSIDs = append(pi.extraSIDs, b)
		}
		pi.upn = p.user.UPN
	} else {
		// A service acting as a client is a computer account.
		pi.primaryGroup = 515
		pi.uac = 0x80 // USER_WORKSTATION_TRUST_ACCOUNT
		pi.name = strings.ReplaceAll(pi.name, "/", "_")
	}
	if pi.upn == "" {
		pi.upn = pi.name + "@" + strings.ToLower(r.name)
		pi.upnBuilt = true
	}
	if !containsUint32(pi.groups, pi.primaryGroup) {
		pi.groups = append([]uint32{pi.primaryGroup}, pi.groups...)
	}
	return pi, nil
}

func containsUint32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// parseSIDString returns the binary form (MS-DTYP 2.4.2.2) of "S-1-...".
func parseSIDString(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || parts[0] != "S" || parts[1] != "1" || len(parts)-3 > 15 {
		return nil, fmt.Errorf("kdc: invalid SID %q", s)
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return nil, fmt.Errorf("kdc: invalid SID %q", s)
	}
	b := []byte{1, byte(len(parts) - 3), byte(auth >> 40), byte(auth >> 32), byte(auth >> 24), byte(auth >> 16), byte(auth >> 8), byte(auth)}
	for _, p := range parts[3:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("kdc: invalid SID %q", s)
		}
		b = le.AppendUint32(b, uint32(v))
	}
	return b, nil
}

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = le.AppendUint16(b, c)
	}
	return b
}

func filetime(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.Unix()+11644473600)*10000000 + uint64(t.Nanosecond()/100)
}

const filetimeNever = 0x7FFFFFFFFFFFFFFF

// ndrWriter writes NDR (MS-RPCE 2.2.6, little-endian, NDR20) with the
// pointees of embedded pointers deferred to the end of their structure.
type ndrWriter struct {
	b   []byte
	ref uint32
}

func (w *ndrWriter) align(n int) {
	for len(w.b)%n != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *ndrWriter) u16(v uint16) { w.align(2); w.b = le.AppendUint16(w.b, v) }
func (w *ndrWriter) u32(v uint32) { w.align(4); w.b = le.AppendUint32(w.b, v) }
func (w *ndrWriter) filetime(v uint64) {
	w.u32(uint32(v))
	w.u32(uint32(v >> 32))
}

// pointer writes a unique pointer's referent ID (0 for null).
func (w *ndrWriter) pointer(present bool) {
	if !present {
		w.u32(0)
		return
	}
	w.ref += 4
	w.u32(0x00020000 + w.ref)
}

// unicodeString writes RPC_UNICODE_STRING's inline part and returns its
// deferred pointee writer.
func (w *ndrWriter) unicodeString(s string) func() {
	u := utf16le(s)
	w.u16(uint16(len(u)))
	w.u16(uint16(len(u)))
	w.pointer(len(u) > 0)
	if len(u) == 0 {
		return func() {}
	}
	return func() {
		n := uint32(len(u) / 2)
		w.u32(n)
		w.u32(0)
		w.u32(n)
		w.b = append(w.b, u...)
	}
}

// sid writes an RPC_SID pointee (conformant: the count first).
func (w *ndrWriter) sid(b []byte) {
	w.u32(uint32(b[1]))
	w.b = append(w.b, b[:8]...)
	for i := 8; i+4 <= len(b); i += 4 {
		w.u32(le.Uint32(b[i:]))
	}
}

func (w *ndrWriter) groups(rids []uint32) {
	w.u32(uint32(len(rids)))
	for _, r := range rids {
		w.u32(r)
		w.u32(7) // SE_GROUP_MANDATORY | SE_GROUP_ENABLED_BY_DEFAULT | SE_GROUP_ENABLED
	}
}

// logonInfo returns KERB_VALIDATION_INFO (MS-PAC 2.5) as a type
// serialization version 1 stream.
func (pi *pacInfo) logonInfo() ([]byte, error) {
	domainSID, err := parseSIDString(pi.realm.sid)
	if err != nil {
		return nil, err
	}
	w := &ndrWriter{}
	w.u32(0x00020000)                 // the top-level pointer's referent
	w.filetime(filetime(pi.authTime)) // LogonTime
	w.filetime(filetimeNever)         // LogoffTime
	w.filetime(filetimeNever)         // KickOffTime
	w.filetime(filetime(pi.authTime.Add(-24 * time.Hour)))
	w.filetime(filetime(pi.authTime.Add(-23 * time.Hour)))
	w.filetime(filetimeNever) // PasswordMustChange
	var deferred []func()
	for _, s := range []string{pi.name, pi.fullName, "", "", "", ""} {
		deferred = append(deferred, w.unicodeString(s))
	}
	w.u16(0) // LogonCount
	w.u16(0) // BadPasswordCount
	w.u32(pi.rid)
	w.u32(pi.primaryGroup)
	w.u32(uint32(len(pi.groups)))
	w.pointer(len(pi.groups) > 0)
	if len(pi.groups) > 0 {
		deferred = append(deferred, func() { w.groups(pi.groups) })
	}
	flags := uint32(0)
	if len(pi.extraSIDs) > 0 {
		flags |= 0x20 // LOGON_EXTRA_SIDS
	}
	w.u32(flags)
	w.b = append(w.b, make([]byte, 16)...) // UserSessionKey
	deferred = append(deferred, w.unicodeString("DC1"))
	deferred = append(deferred, w.unicodeString(pi.realm.netbios))
	w.pointer(true) // LogonDomainId
	deferred = append(deferred, func() { w.sid(domainSID) })
	w.u32(0) // Reserved1
	w.u32(0)
	w.u32(pi.uac)
	w.u32(0) // SubAuthStatus
	w.filetime(0)
	w.filetime(0)
	w.u32(0) // FailedILogonCount
	w.u32(0) // Reserved3
	w.u32(uint32(len(pi.extraSIDs)))
	w.pointer(len(pi.extraSIDs) > 0)
	if len(pi.extraSIDs) > 0 {
		deferred = append(deferred, func() {
			w.u32(uint32(len(pi.extraSIDs)))
			for range pi.extraSIDs {
				w.pointer(true)
				w.u32(7)
			}
			for _, s := range pi.extraSIDs {
				w.sid(s)
			}
		})
	}
	w.pointer(false) // ResourceGroupDomainSid
	w.u32(0)         // ResourceGroupCount
	w.pointer(false) // ResourceGroupIds
	for _, d := range deferred {
		d()
	}
	w.align(8)
	out := []byte{1, 0x10, 8, 0, 0xcc, 0xcc, 0xcc, 0xcc}
	out = le.AppendUint32(out, uint32(len(w.b)))
	out = le.AppendUint32(out, 0)
	return append(out, w.b...), nil
}

func (pi *pacInfo) userSID() []byte {
	b, _ := parseSIDString(pi.realm.sid)
	b[1]++
	return le.AppendUint32(b, pi.rid)
}

// clientInfo returns PAC_CLIENT_INFO (MS-PAC 2.7).
func (pi *pacInfo) clientInfo() []byte {
	n := utf16le(pi.clientName)
	b := le.AppendUint64(nil, filetime(pi.authTime.Truncate(time.Second)))
	b = le.AppendUint16(b, uint16(len(n)))
	return append(b, n...)
}

// upnDNSInfo returns UPN_DNS_INFO (MS-PAC 2.10) in its extended form, with
// the SAM name and SID, as Windows Server 2022 lays it out.
func (pi *pacInfo) upnDNSInfo() []byte {
	flags := uint32(2) // S: SamName and Sid present
	if pi.upnBuilt {
		flags |= 1
	}
	fields := [][]byte{utf16le(pi.upn), utf16le(strings.ToUpper(pi.realm.name)), utf16le(pi.name), pi.userSID()}
	b := make([]byte, 24)
	le.PutUint32(b[8:], flags)
	for i, f := range fields {
		pos := []int{0, 4, 12, 16}[i]
		le.PutUint16(b[pos:], uint16(len(f)))
		le.PutUint16(b[pos+2:], uint16(len(b)))
		b = append(b, f...)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

// attributesInfo returns PAC_ATTRIBUTES_INFO (MS-PAC 2.14).
func (pi *pacInfo) attributesInfo() []byte {
	flags := uint32(2) // PAC_WAS_GIVEN_IMPLICITLY
	if pi.requested {
		flags = 1 // PAC_WAS_REQUESTED
	}
	return le.AppendUint32(le.AppendUint32(nil, 2), flags)
}

// checksumLen returns the length of the keyed checksum of key's enctype.
func checksumLen(etype int32) (int32, int) {
	switch etype {
	case AES128CTSHMACSHA196:
		return 15, 12
	case AES256CTSHMACSHA196:
		return 16, 12
	case AES128CTSHMACSHA256128:
		return 19, 16
	case AES256CTSHMACSHA384192:
		return 20, 24
	case RC4HMAC:
		return -138, 16
	}
	return 0, 0
}

// checksum computes the keyed checksum of data with key, usage 17.
func checksum(key types.EncryptionKey, data []byte) ([]byte, error) {
	_, n := checksumLen(key.KeyType)
	if n == 0 {
		return nil, fmt.Errorf("kdc: no checksum for enctype %d", key.KeyType)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	mac, err := et.GetChecksumHash(key.KeyValue, data, keyUsageNonKerbCksumSalt)
	if err != nil {
		return nil, err
	}
	if len(mac) < n {
		return nil, errors.New("kdc: short checksum")
	}
	return mac[:n], nil
}

func signatureBuffer(key types.EncryptionKey) []byte {
	typ, n := checksumLen(key.KeyType)
	return append(le.AppendUint32(nil, uint32(typ)), make([]byte, n)...)
}

type pacBuf struct {
	typ  uint32
	data []byte
	off  int // set by layout
}

// layout lays out a PACTYPE (MS-PAC 2.3): header, PAC_INFO_BUFFERs, then
// each buffer at the next 8-byte boundary.
func layout(bufs []pacBuf) []byte {
	off := 8 + 16*len(bufs)
	b := le.AppendUint32(nil, uint32(len(bufs)))
	b = le.AppendUint32(b, 0)
	body := []byte{}
	for i := range bufs {
		bufs[i].off = off + len(body)
		b = le.AppendUint32(b, bufs[i].typ)
		b = le.AppendUint32(b, uint32(len(bufs[i].data)))
		b = le.AppendUint64(b, uint64(bufs[i].off))
		body = append(body, bufs[i].data...)
		for len(body)%8 != 0 {
			body = append(body, 0)
		}
	}
	return append(b, body...)
}

// buildPAC returns the signed PAC of pi for a ticket sealed with
// serverKey, signed by the TGS key kdcKey. For a service ticket
// (ticketSig non-nil), the ticket signature is computed by ticketSig over
// the EncTicketPart holding a placeholder PAC, and the full PAC signature
// is added (MS-PAC 2.8.3, 2.8.5).
func buildPAC(pi *pacInfo, serverKey, kdcKey types.EncryptionKey, ticketSig func() ([]byte, error)) ([]byte, error) {
	li, err := pi.logonInfo()
	if err != nil {
		return nil, err
	}
	bufs := []pacBuf{
		{typ: pacLogonInfo, data: li},
		{typ: pacClientInfo, data: pi.clientInfo()},
		{typ: pacUPNDNSInfo, data: pi.upnDNSInfo()},
		{typ: pacAttributesInfo, data: pi.attributesInfo()},
		{typ: pacRequestor, data: pi.userSID()},
	}
	var tsig []byte
	if ticketSig != nil {
		if tsig, err = ticketSig(); err != nil {
			return nil, err
		}
	}
	return signPAC(bufs, serverKey, kdcKey, tsig)
}

// signPAC lays out bufs followed by the signature buffers and signs them
// (MS-PAC 2.8): with tsig (a service ticket's ticket signature), the
// ticket signature and the full PAC signature are added, the latter
// computed first, over the PAC with the server, KDC and full signatures
// zero; then the server signature over the PAC with the server and KDC
// signatures zero; then the KDC signature over the server signature.
func signPAC(bufs []pacBuf, serverKey, kdcKey types.EncryptionKey, tsig []byte) ([]byte, error) {
	bufs = append(bufs,
		pacBuf{typ: pacServerChecksum, data: signatureBuffer(serverKey)},
		pacBuf{typ: pacPrivSvrChecksum, data: signatureBuffer(kdcKey)})
	service := tsig != nil
	if service {
		sb := signatureBuffer(kdcKey)
		copy(sb[4:], tsig)
		bufs = append(bufs, pacBuf{typ: pacTicketChecksum, data: sb},
			pacBuf{typ: pacFullChecksum, data: signatureBuffer(kdcKey)})
	}
	b := layout(bufs)
	sigAt := func(typ uint32) []byte {
		for _, pb := range bufs {
			if pb.typ == typ {
				return b[pb.off+4 : pb.off+len(pb.data)]
			}
		}
		return nil
	}
	if service {
		full, err := checksum(kdcKey, b)
		if err != nil {
			return nil, err
		}
		copy(sigAt(pacFullChecksum), full)
	}
	server, err := checksum(serverKey, b)
	if err != nil {
		return nil, err
	}
	copy(sigAt(pacServerChecksum), server)
	kdc, err := checksum(kdcKey, sigAt(pacServerChecksum))
	if err != nil {
		return nil, err
	}
	copy(sigAt(pacPrivSvrChecksum), kdc)
	return b, nil
}

// pacADIfRelevant wraps a PAC in AD-IF-RELEVANT { AD-WIN2K-PAC }.
func pacADIfRelevant(pac []byte) (adElement, error) {
	inner, err := marshalAuthData([]adElement{{typ: adWin2kPAC, data: pac}})
	if err != nil {
		return adElement{}, err
	}
	return adElement{typ: adIfRelevant, data: inner}, nil
}

// findPAC returns the PAC in a ticket's authorization data, if any.
func findPAC(ad []adElement) ([]byte, bool) {
	for _, e := range ad {
		if e.typ != adIfRelevant {
			continue
		}
		inner, ok := parseAuthData(e.data)
		if !ok {
			continue
		}
		for _, i := range inner {
			if i.typ == adWin2kPAC {
				return i.data, true
			}
		}
	}
	return nil, false
}

// errPAC reports a PAC that does not parse or whose signature does not
// verify.
var errPAC = errors.New("kdc: PAC does not verify")

// verifyPAC checks the server signature of a PAC the KDC issued, with
// the key that sealed the ticket holding it (MS-PAC 2.8.3), and the KDC
// signature with kdcKey when given. Offsets are bounds-checked.
func verifyPAC(b []byte, serverKey types.EncryptionKey, kdcKey *types.EncryptionKey) error {
	if len(b) < 8 || len(b) > maxPACSize {
		return errPAC
	}
	n := le.Uint32(b)
	if n == 0 || n > maxPACBuffers || uint64(len(b)) < 8+16*uint64(n) {
		return errPAC
	}
	zeroed := make([]byte, len(b))
	copy(zeroed, b)
	var server, kdc []byte
	for i := range int(n) {
		e := b[8+16*i:]
		typ, size, off := le.Uint32(e), uint64(le.Uint32(e[4:])), le.Uint64(e[8:])
		if off > uint64(len(b)) || size > uint64(len(b))-off {
			return errPAC
		}
		if typ != pacServerChecksum && typ != pacPrivSvrChecksum && typ != pacFullChecksum {
			continue
		}
		if size < 4 {
			return errPAC
		}
		sig := b[off+4 : off+size]
		clear(zeroed[off+4 : off+size])
		switch typ {
		case pacServerChecksum:
			if server != nil {
				return errPAC
			}
			server = sig
		case pacPrivSvrChecksum:
			if kdc != nil {
				return errPAC
			}
			kdc = sig
		}
	}
	if server == nil || kdc == nil {
		return errPAC
	}
	// The full checksum is inside what the server signature covers.
	for i := range int(n) {
		e := b[8+16*i:]
		if le.Uint32(e) == pacFullChecksum {
			off, size := le.Uint64(e[8:]), uint64(le.Uint32(e[4:]))
			copy(zeroed[off+4:off+size], b[off+4:off+size])
		}
	}
	want, err := checksum(serverKey, zeroed)
	if err != nil || !hmac.Equal(want, server) {
		return errPAC
	}
	if kdcKey != nil {
		want, err := checksum(*kdcKey, server)
		if err != nil || !hmac.Equal(want, kdc) {
			return errPAC
		}
	}
	return nil
}
