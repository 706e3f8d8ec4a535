package main

import (
	encasn1 "encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The decoder prints the structure of an authentication token the way a
// protocol analyser does. It reads the public specifications (MS-NLMP,
// RFC 4178 with MS-SPNG, RFC 4120/4121, RFC 7616); it shares no code with
// the security packages, whose wire types stay unexported.

// maxDecodeDepth bounds the nesting of tokens inside tokens (SPNEGO
// carrying a GSS token carrying ...).
const maxDecodeDepth = 4

// node is one line of the decoded tree.
type node struct {
	label    string
	value    string
	children []*node
}

func (n *node) add(label, format string, args ...any) *node {
	c := &node{label: label, value: fmt.Sprintf(format, args...)}
	n.children = append(n.children, c)
	return c
}

func (n *node) print(sb *strings.Builder, indent string) {
	if n.value != "" {
		fmt.Fprintf(sb, "%s%s: %s\n", indent, n.label, n.value)
	} else {
		fmt.Fprintf(sb, "%s%s\n", indent, n.label)
	}
	for _, c := range n.children {
		c.print(sb, indent+"  ")
	}
}

// input is a token as given on the command line: the header it came
// from, the scheme, and its bytes.
type input struct {
	header string // "Authorization", "WWW-Authenticate", ... or ""
	scheme string // "Negotiate", "NTLM", "Kerberos", "Digest", ... or ""
	data   []byte // the decoded token (or the Digest parameter text)
	text   bool   // data is Digest text, not binary
}

// parseInput strips an optional header name and scheme and decodes the
// token from base64 or hex.
func parseInput(s string) (*input, error) {
	s = strings.TrimSpace(s)
	in := &input{}
	if name, rest, ok := strings.Cut(s, ":"); ok && isHeaderName(name) {
		in.header = strings.TrimSpace(name)
		s = strings.TrimSpace(rest)
	}
	if word, rest, ok := strings.Cut(s, " "); ok || isSchemeWord(s) {
		if isSchemeWord(word) {
			in.scheme = canonicalSchemeName(word)
			s = strings.TrimSpace(rest)
		}
	}
	if in.scheme == "Digest" || (in.scheme == "" && strings.Contains(s, "=\"")) || strings.EqualFold(in.header, "Authentication-Info") {
		if in.scheme == "" {
			in.scheme = "Digest"
		}
		in.data, in.text = []byte(s), true
		return in, nil
	}
	if s == "" {
		if in.scheme != "" {
			return in, nil // a bare challenge such as "Negotiate"
		}
		return nil, fmt.Errorf("no token")
	}
	compact := strings.Join(strings.Fields(s), "")
	if b, err := hex.DecodeString(compact); err == nil && len(compact)%2 == 0 && !strings.ContainsAny(compact, "+/=") && looksHex(compact) {
		in.data = b
		return in, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(compact); err == nil {
			in.data = b
			return in, nil
		}
	}
	return nil, fmt.Errorf("the token is neither base64 nor hex")
}

// looksHex avoids reading a base64 token made of hex digits only as hex
// when it is a plausible base64 length but an odd hex one; both decode, and
// hex wins only for an even number of digits.
func looksHex(s string) bool { return len(s) >= 2 }

func isHeaderName(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "authorization", "www-authenticate", "proxy-authorization", "proxy-authenticate", "authentication-info", "proxy-authentication-info":
		return true
	}
	return false
}

func isSchemeWord(s string) bool { return canonicalSchemeName(s) != "" }

func canonicalSchemeName(s string) string {
	for _, k := range []string{"Negotiate", "NTLM", "Kerberos", "Digest", "Basic"} {
		if strings.EqualFold(s, k) {
			return k
		}
	}
	return ""
}

// decodeInput builds the tree of a token.
func decodeInput(in *input) *node {
	title := "token"
	if in.header != "" {
		title = in.header
	}
	root := &node{label: title}
	if in.scheme != "" {
		root.add("scheme", "%s", in.scheme)
	}
	switch {
	case in.text:
		decodeDigest(root, string(in.data), in.header)
	case in.scheme == "Basic":
		if u, _, ok := strings.Cut(string(in.data), ":"); ok {
			root.add("basic", "user %q, password (%d bytes, not shown)", u, len(in.data)-len(u)-1)
		} else {
			root.add("basic", "%d bytes", len(in.data))
		}
	case len(in.data) == 0:
		root.add("token", "none (a bare challenge: the client speaks first)")
	default:
		decodeBinary(root, in.data, 0)
	}
	return root
}

// decodeBinary recognises a binary token by its first bytes.
func decodeBinary(n *node, b []byte, depth int) {
	if depth > maxDecodeDepth {
		n.add("error", "tokens nested too deeply")
		return
	}
	switch {
	case len(b) >= 8 && string(b[:8]) == "NTLMSSP\x00":
		decodeNTLM(n, b)
	case len(b) > 0 && b[0] == 0x60:
		decodeGSS(n, b, depth)
	case len(b) > 0 && (b[0] == 0xa0 || b[0] == 0xa1):
		decodeSPNEGO(n, b, depth)
	case len(b) > 0 && (b[0] == 0x6e || b[0] == 0x6f || b[0] == 0x7e):
		decodeKerberos(n, b)
	default:
		n.add("error", "not an NTLM, SPNEGO, GSS-API or Kerberos token (%d bytes: %s)", len(b), hexPreview(b))
	}
}

func hexPreview(b []byte) string {
	const max = 32
	if len(b) > max {
		return hex.EncodeToString(b[:max]) + "..."
	}
	return hex.EncodeToString(b)
}

// OIDs (RFC 4178, RFC 1964, MS-SPNG, MS-NLMP).
var oidNames = map[string]string{
	"1.3.6.1.5.5.2":          "SPNEGO",
	"1.2.840.113554.1.2.2":   "Kerberos V5",
	"1.2.840.48018.1.2.2":    "Kerberos V5 (Microsoft)",
	"1.2.840.113554.1.2.2.3": "Kerberos V5 user-to-user",
	"1.3.6.1.4.1.311.2.2.10": "NTLM",
	"1.3.6.1.4.1.311.2.2.30": "NegoEx",
}

func oidName(oid string) string {
	if name, ok := oidNames[oid]; ok {
		return oid + " (" + name + ")"
	}
	return oid
}

func readOID(s *cryptobyte.String) (string, bool) {
	var oid encasn1.ObjectIdentifier
	if !s.ReadASN1ObjectIdentifier(&oid) {
		return "", false
	}
	return oid.String(), true
}

// decodeGSS reads an RFC 2743 3.1 InitialContextToken.
func decodeGSS(n *node, b []byte, depth int) {
	s := cryptobyte.String(b)
	var inner cryptobyte.String
	if !s.ReadASN1(&inner, application(0)) || !s.Empty() {
		n.add("error", "malformed GSS-API InitialContextToken")
		return
	}
	g := n.add("GSS-API InitialContextToken", "")
	oid, ok := readOID(&inner)
	if !ok {
		g.add("error", "no mechanism OID")
		return
	}
	g.add("mechanism", "%s", oidName(oid))
	switch oid {
	case "1.3.6.1.5.5.2":
		decodeSPNEGO(g, inner, depth+1)
	case "1.2.840.113554.1.2.2", "1.2.840.48018.1.2.2":
		var id uint16
		if !inner.ReadUint16(&id) {
			g.add("error", "no TOK_ID")
			return
		}
		g.add("TOK_ID", "%04x (%s)", id, map[uint16]string{0x0100: "KRB_AP_REQ", 0x0200: "KRB_AP_REP", 0x0300: "KRB_ERROR"}[id])
		decodeKerberos(g, inner)
	case "1.3.6.1.4.1.311.2.2.10":
		decodeNTLM(g, inner)
	default:
		g.add("inner token", "%d bytes: %s", len(inner), hexPreview(inner))
	}
}

// RFC 4178 4.2.1 ContextFlags.
var contextFlagNames = []string{"delegFlag", "mutualFlag", "replayFlag", "sequenceFlag", "anonFlag", "confFlag", "integFlag"}

// decodeSPNEGO reads a NegotiationToken (RFC 4178 4.2, MS-SPNG 2.2.1).
func decodeSPNEGO(n *node, b []byte, depth int) {
	s := cryptobyte.String(b)
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&body, &tag) || !s.Empty() {
		n.add("error", "malformed SPNEGO token")
		return
	}
	var seq cryptobyte.String
	if !body.ReadASN1(&seq, cbasn1.SEQUENCE) || !body.Empty() {
		n.add("error", "malformed SPNEGO token: no SEQUENCE")
		return
	}
	switch tag {
	case cbasn1.Tag(0).Constructed().ContextSpecific():
		t := n.add("NegTokenInit", "")
		var f cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			t.add("error", "malformed mechTypes")
			return
		}
		if present {
			m := t.add("mechTypes", "")
			var list cryptobyte.String
			if !f.ReadASN1(&list, cbasn1.SEQUENCE) {
				m.add("error", "malformed MechTypeList")
				return
			}
			for !list.Empty() {
				oid, ok := readOID(&list)
				if !ok {
					m.add("error", "malformed OID")
					return
				}
				m.add("mech", "%s", oidName(oid))
			}
		}
		if !seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			t.add("error", "malformed reqFlags")
			return
		}
		if present {
			var bits encasn1.BitString
			if f.ReadASN1BitString(&bits) {
				var names []string
				for i, name := range contextFlagNames {
					if bits.At(i) == 1 {
						names = append(names, name)
					}
				}
				t.add("reqFlags", "%s", strings.Join(names, " | "))
			}
		}
		if !seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(2).Constructed().ContextSpecific()) {
			t.add("error", "malformed mechToken")
			return
		}
		if present {
			decodeOctetToken(t, "mechToken", f, depth)
		}
		// [3] is mechListMIC in RFC 4178 and negHints in NegTokenInit2
		// (MS-SPNG 2.2.1), whose mechListMIC is then [4].
		if !seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(3).Constructed().ContextSpecific()) {
			t.add("error", "malformed field [3]")
			return
		}
		if present {
			if len(f) > 0 && f[0] == 0x30 {
				h := t.add("negHints (NegTokenInit2)", "")
				var hs cryptobyte.String
				if f.ReadASN1(&hs, cbasn1.SEQUENCE) {
					var name cryptobyte.String
					var ok bool
					if hs.ReadOptionalASN1(&name, &ok, cbasn1.Tag(0).Constructed().ContextSpecific()) && ok {
						var str cryptobyte.String
						var st cbasn1.Tag
						if name.ReadAnyASN1(&str, &st) {
							h.add("hintName", "%q", string(str))
						}
					}
				}
			} else {
				decodeMIC(t, f)
			}
		}
		if seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(4).Constructed().ContextSpecific()) && present {
			decodeMIC(t, f)
		}
	case cbasn1.Tag(1).Constructed().ContextSpecific():
		t := n.add("NegTokenResp", "")
		var f cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			t.add("error", "malformed negState")
			return
		}
		if present {
			var st cryptobyte.String
			if f.ReadASN1(&st, cbasn1.ENUM) && len(st) == 1 {
				t.add("negState", "%d (%s)", st[0], map[byte]string{0: "accept-completed", 1: "accept-incomplete", 2: "reject", 3: "request-mic"}[st[0]])
			} else {
				t.add("error", "malformed negState")
			}
		}
		if !seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			t.add("error", "malformed supportedMech")
			return
		}
		if present {
			if oid, ok := readOID(&f); ok {
				t.add("supportedMech", "%s", oidName(oid))
			}
		}
		if !seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(2).Constructed().ContextSpecific()) {
			t.add("error", "malformed responseToken")
			return
		}
		if present {
			decodeOctetToken(t, "responseToken", f, depth)
		}
		if seq.ReadOptionalASN1(&f, &present, cbasn1.Tag(3).Constructed().ContextSpecific()) && present {
			decodeMIC(t, f)
		}
	default:
		n.add("error", "not a NegotiationToken (tag %#x)", uint8(tag))
	}
}

func decodeOctetToken(n *node, label string, f cryptobyte.String, depth int) {
	var tok cryptobyte.String
	if !f.ReadASN1(&tok, cbasn1.OCTET_STRING) {
		n.add("error", "malformed %s", label)
		return
	}
	t := n.add(label, "%d bytes", len(tok))
	decodeBinary(t, tok, depth+1)
}

func decodeMIC(n *node, f cryptobyte.String) {
	var mic cryptobyte.String
	if !f.ReadASN1(&mic, cbasn1.OCTET_STRING) {
		n.add("error", "malformed mechListMIC")
		return
	}
	m := n.add("mechListMIC", "%d bytes: %s", len(mic), hexPreview(mic))
	switch {
	case len(mic) == 16 && binary.LittleEndian.Uint32(mic) == 1:
		m.add("form", "NTLMSSP_MESSAGE_SIGNATURE, SeqNum %d", binary.LittleEndian.Uint32(mic[12:]))
	case len(mic) >= 16 && mic[0] == 0x04 && mic[1] == 0x04:
		m.add("form", "RFC 4121 MIC token, flags %#02x, SND_SEQ %d", mic[2], binary.BigEndian.Uint64(mic[8:16]))
	}
}

// NTLM (MS-NLMP 2.2).

// MS-NLMP 2.2.2.5 NEGOTIATE flags, by bit.
var ntlmFlagNames = map[uint32]string{
	0x00000001: "NEGOTIATE_UNICODE",
	0x00000002: "NEGOTIATE_OEM",
	0x00000004: "REQUEST_TARGET",
	0x00000010: "NEGOTIATE_SIGN",
	0x00000020: "NEGOTIATE_SEAL",
	0x00000040: "NEGOTIATE_DATAGRAM",
	0x00000080: "NEGOTIATE_LM_KEY",
	0x00000200: "NEGOTIATE_NTLM",
	0x00000800: "ANONYMOUS",
	0x00001000: "NEGOTIATE_OEM_DOMAIN_SUPPLIED",
	0x00002000: "NEGOTIATE_OEM_WORKSTATION_SUPPLIED",
	0x00008000: "NEGOTIATE_ALWAYS_SIGN",
	0x00010000: "TARGET_TYPE_DOMAIN",
	0x00020000: "TARGET_TYPE_SERVER",
	0x00080000: "NEGOTIATE_EXTENDED_SESSIONSECURITY",
	0x00100000: "NEGOTIATE_IDENTIFY",
	0x00400000: "REQUEST_NON_NT_SESSION_KEY",
	0x00800000: "NEGOTIATE_TARGET_INFO",
	0x02000000: "NEGOTIATE_VERSION",
	0x20000000: "NEGOTIATE_128",
	0x40000000: "NEGOTIATE_KEY_EXCH",
	0x80000000: "NEGOTIATE_56",
}

func ntlmFlags(f uint32) string {
	var names []string
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if f&bit == 0 {
			continue
		}
		if name, ok := ntlmFlagNames[bit]; ok {
			names = append(names, name)
		} else {
			names = append(names, fmt.Sprintf("%#x", bit))
		}
	}
	return fmt.Sprintf("0x%08x %s", f, strings.Join(names, " | "))
}

// ntlmField resolves a (len, maxlen, offset) field of msg at off.
func ntlmField(msg []byte, off int) ([]byte, bool) {
	if off+8 > len(msg) {
		return nil, false
	}
	l := uint64(binary.LittleEndian.Uint16(msg[off:]))
	o := uint64(binary.LittleEndian.Uint32(msg[off+4:]))
	if o+l > uint64(len(msg)) {
		return nil, false
	}
	return msg[o : o+l], true
}

func ntlmFieldOffset(msg []byte, off int) uint32 {
	if off+8 > len(msg) {
		return 0
	}
	return binary.LittleEndian.Uint32(msg[off+4:])
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func ntlmString(b []byte, unicode bool) string {
	if unicode {
		return fmt.Sprintf("%q", utf16String(b))
	}
	return fmt.Sprintf("%q", string(b))
}

func ntlmVersion(n *node, b []byte) {
	if len(b) < 8 {
		return
	}
	n.add("Version", "%d.%d build %d, NTLM revision %d", b[0], b[1], binary.LittleEndian.Uint16(b[2:]), b[7])
}

// fileTime converts a FILETIME (100 ns since 1601) to time.
func fileTime(v uint64) time.Time {
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	if v < epochDiff {
		return time.Time{}
	}
	v -= epochDiff
	return time.Unix(int64(v/10000000), int64(v%10000000)*100).UTC()
}

var avNames = map[uint16]string{
	0: "MsvAvEOL", 1: "MsvAvNbComputerName", 2: "MsvAvNbDomainName", 3: "MsvAvDnsComputerName",
	4: "MsvAvDnsDomainName", 5: "MsvAvDnsTreeName", 6: "MsvAvFlags", 7: "MsvAvTimestamp",
	8: "MsvAvSingleHost", 9: "MsvAvTargetName", 10: "MsvAvChannelBindings",
}

// decodeAVPairs reads MS-NLMP 2.2.2.1 AV_PAIRs.
func decodeAVPairs(n *node, b []byte) {
	t := n.add("TargetInfo (AV pairs)", "")
	for i := 0; i < 64; i++ {
		if len(b) < 4 {
			t.add("error", "truncated AV pair list (no MsvAvEOL)")
			return
		}
		id := binary.LittleEndian.Uint16(b)
		l := int(binary.LittleEndian.Uint16(b[2:]))
		if 4+l > len(b) {
			t.add("error", "AV pair %d overruns the list", id)
			return
		}
		v := b[4 : 4+l]
		b = b[4+l:]
		name := avNames[id]
		if name == "" {
			name = fmt.Sprintf("AvId %d", id)
		}
		switch id {
		case 0:
			t.add(name, "")
			switch {
			case len(b) == 4 && allZero(b):
				t.add("padding", "Z(4) (MS-NLMP 3.3.2)")
			case len(b) > 0:
				t.add("trailing", "%d bytes after MsvAvEOL: %s", len(b), hexPreview(b))
			}
			return
		case 1, 2, 3, 4, 5, 9:
			t.add(name, "%q", utf16String(v))
		case 6:
			if len(v) == 4 {
				f := binary.LittleEndian.Uint32(v)
				var s []string
				for bit, nm := range map[uint32]string{1: "constrained", 2: "MIC present", 4: "untrusted SPN source"} {
					if f&bit != 0 {
						s = append(s, nm)
					}
				}
				t.add(name, "0x%08x %s", f, strings.Join(sortStrings(s), ", "))
			} else {
				t.add(name, "%x", v)
			}
		case 7:
			if len(v) == 8 {
				t.add(name, "%s", fileTime(binary.LittleEndian.Uint64(v)).Format(time.RFC3339Nano))
			} else {
				t.add(name, "%x", v)
			}
		case 10:
			if len(v) == 16 && allZero(v) {
				t.add(name, "none (16 zero bytes)")
			} else {
				t.add(name, "MD5 %x", v)
			}
		default:
			t.add(name, "%x", v)
		}
	}
	t.add("error", "too many AV pairs")
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// decodeNTLM reads NEGOTIATE, CHALLENGE and AUTHENTICATE (MS-NLMP 2.2.1).
func decodeNTLM(n *node, b []byte) {
	if len(b) < 12 {
		n.add("error", "truncated NTLM message")
		return
	}
	typ := binary.LittleEndian.Uint32(b[8:])
	switch typ {
	case 1:
		m := n.add("NTLM NEGOTIATE_MESSAGE", "%d bytes", len(b))
		if len(b) < 16 {
			m.add("error", "truncated")
			return
		}
		flags := binary.LittleEndian.Uint32(b[12:])
		m.add("NegotiateFlags", "%s", ntlmFlags(flags))
		if v, ok := ntlmField(b, 16); ok && len(v) > 0 {
			m.add("DomainName", "%q", string(v))
		}
		if v, ok := ntlmField(b, 24); ok && len(v) > 0 {
			m.add("Workstation", "%q", string(v))
		}
		if flags&0x02000000 != 0 && len(b) >= 40 {
			ntlmVersion(m, b[32:40])
		}
	case 2:
		m := n.add("NTLM CHALLENGE_MESSAGE", "%d bytes", len(b))
		if len(b) < 32 {
			m.add("error", "truncated")
			return
		}
		flags := binary.LittleEndian.Uint32(b[20:])
		unicode := flags&1 != 0
		if v, ok := ntlmField(b, 12); ok {
			m.add("TargetName", "%s", ntlmString(v, unicode))
		} else {
			m.add("error", "TargetName field out of range")
		}
		m.add("NegotiateFlags", "%s", ntlmFlags(flags))
		m.add("ServerChallenge", "%x", b[24:32])
		if len(b) >= 48 {
			if v, ok := ntlmField(b, 40); ok && len(v) > 0 {
				decodeAVPairs(m, v)
			} else if !ok {
				m.add("error", "TargetInfo field out of range")
			}
		}
		if flags&0x02000000 != 0 && len(b) >= 56 && ntlmFieldOffset(b, 12) >= 56 {
			ntlmVersion(m, b[48:56])
		}
	case 3:
		m := n.add("NTLM AUTHENTICATE_MESSAGE", "%d bytes", len(b))
		if len(b) < 64 {
			m.add("error", "truncated")
			return
		}
		flags := binary.LittleEndian.Uint32(b[60:])
		unicode := flags&1 != 0
		fields := []struct {
			name string
			off  int
		}{{"DomainName", 28}, {"UserName", 36}, {"Workstation", 44}}
		for _, f := range fields {
			if v, ok := ntlmField(b, f.off); ok {
				m.add(f.name, "%s", ntlmString(v, unicode))
			} else {
				m.add("error", "%s field out of range", f.name)
			}
		}
		m.add("NegotiateFlags", "%s", ntlmFlags(flags))
		if lm, ok := ntlmField(b, 12); ok {
			m.add("LmChallengeResponse", "%d bytes", len(lm))
		}
		if nt, ok := ntlmField(b, 20); ok {
			r := m.add("NtChallengeResponse", "%d bytes", len(nt))
			switch {
			case len(nt) == 24:
				r.add("form", "NTLMv1 response")
			case len(nt) >= 48:
				r.add("form", "NTLMv2_RESPONSE")
				r.add("NTProofStr", "%x", nt[:16])
				blob := nt[16:]
				r.add("RespType", "%d, HiRespType %d", blob[0], blob[1])
				r.add("TimeStamp", "%s", fileTime(binary.LittleEndian.Uint64(blob[8:])).Format(time.RFC3339Nano))
				r.add("ChallengeFromClient", "%x", blob[16:24])
				decodeAVPairs(r, blob[28:])
			case len(nt) == 0:
				r.add("form", "anonymous (empty)")
			}
		}
		if k, ok := ntlmField(b, 52); ok && len(k) > 0 {
			m.add("EncryptedRandomSessionKey", "%d bytes", len(k))
		}
		if flags&0x02000000 != 0 && len(b) >= 72 {
			ntlmVersion(m, b[64:72])
		}
		// The MIC follows VERSION when the payload starts at 88 or later
		// (MS-NLMP 2.2.1.3).
		minOff := uint32(len(b))
		for _, off := range []int{12, 20, 28, 36, 44, 52} {
			if o := ntlmFieldOffset(b, off); o != 0 && o < minOff {
				minOff = o
			}
		}
		if minOff >= 88 && len(b) >= 88 {
			m.add("MIC", "%x", b[72:88])
		} else {
			m.add("MIC", "absent")
		}
	default:
		n.add("error", "NTLM message type %d is not 1, 2 or 3", typ)
	}
}
