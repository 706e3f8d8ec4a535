package negotiate

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gosspi/sspi/status"
)

// Mechanism object identifiers (packages.md 3.1).
var (
	oidSPNEGO   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 2}             // RFC 4178
	oidKerberos = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}      // RFC 4121
	oidMSKRB5   = asn1.ObjectIdentifier{1, 2, 840, 48018, 1, 2, 2}       // MS-SPNG: legacy Microsoft Kerberos
	oidNTLM     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10} // MS-NLMP
	oidNegoEx   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 30} // MS-NEGOEX
	oidKRB5U2U  = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2, 3}   // RFC 4121 user-to-user
	oidIAKERB   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 5}             // IAKERB
)

// mechName names a mechanism OID for messages.
func mechName(oid asn1.ObjectIdentifier) string {
	switch {
	case oid.Equal(oidKerberos):
		return "Kerberos"
	case oid.Equal(oidMSKRB5):
		return "MS-Kerberos"
	case oid.Equal(oidNTLM):
		return "NTLM"
	case oid.Equal(oidNegoEx):
		return "NegoEx"
	case oid.Equal(oidKRB5U2U):
		return "Kerberos user-to-user"
	case oid.Equal(oidIAKERB):
		return "IAKERB"
	case oid.Equal(oidSPNEGO):
		return "SPNEGO"
	}
	return oid.String()
}

// ntlmSignature starts every NTLM message (MS-NLMP 2.2.1).
var ntlmSignature = []byte("NTLMSSP\x00")

// negHintName is the hintName Windows puts in NegTokenInit2 (MS-SPNG 2.2.1).
const negHintName = "not_defined_in_RFC4178@please_ignore"

// negState is NegTokenResp.negState (RFC 4178 4.2.2). Its zero value means
// the field is absent; the wire value is one less than the constant.
type negState uint8

const (
	negStateAbsent   negState = iota
	acceptCompleted           // accept-completed (0)
	acceptIncomplete          // accept-incomplete (1)
	reject                    // reject (2)
	requestMIC                // request-mic (3)
)

func (s negState) String() string {
	switch s {
	case negStateAbsent:
		return "absent"
	case acceptCompleted:
		return "accept-completed"
	case acceptIncomplete:
		return "accept-incomplete"
	case reject:
		return "reject"
	case requestMIC:
		return "request-mic"
	}
	return fmt.Sprintf("negState(%d)", uint8(s))
}

// negTokenInit is NegTokenInit (RFC 4178 4.2.1) or, when negHints is set,
// NegTokenInit2 (MS-SPNG 2.2.1). Optional octet strings are nil when absent
// and non-nil (possibly empty) when present.
type negTokenInit struct {
	mechTypes   []asn1.ObjectIdentifier // [0] MechTypeList
	reqFlags    *asn1.BitString         // [1] ContextFlags; Windows omits it
	mechToken   []byte                  // [2] optimistic token of mechTypes[0]
	negHints    *negHints               // [3] in NegTokenInit2 only
	mechListMIC []byte                  // [3] (RFC 4178) or [4] (NegTokenInit2)

	// rawMechTypes is the DER MechTypeList (the SEQUENCE inside [0]) as it
	// was received: the input of the mechListMIC (RFC 4178 5). Set by
	// parsing only.
	rawMechTypes []byte
}

// negHints is NegHints of NegTokenInit2 (MS-SPNG 2.2.1).
type negHints struct {
	hintName    *string // [0] GeneralString
	hintAddress []byte  // [1] OCTET STRING, nil when absent
}

// negTokenResp is NegTokenResp (RFC 4178 4.2.2).
type negTokenResp struct {
	state         negState              // [0] negState
	supportedMech asn1.ObjectIdentifier // [1] MechType, nil when absent
	responseToken []byte                // [2] OCTET STRING, nil when absent
	mechListMIC   []byte                // [3] OCTET STRING, nil when absent
}

// errInvalidToken is the cause of every codec failure; the returned error
// carries SEC_E_INVALID_TOKEN.
var errInvalidToken = errors.New("negotiate: malformed SPNEGO token")

func invalidToken(what string) error {
	return status.New("", pkgName, status.SEC_E_INVALID_TOKEN, fmt.Errorf("%w: %s", errInvalidToken, what))
}

// Context-specific constructed tags [0]..[4].
func ctxTag(n uint8) cbasn1.Tag { return cbasn1.Tag(n).ContextSpecific().Constructed() }

// generalStringTag is the universal GeneralString tag (27).
const generalStringTag = cbasn1.Tag(27)

// marshalMechTypes returns the DER MechTypeList: the bytes the
// mechListMIC covers.
func marshalMechTypes(mechs []asn1.ObjectIdentifier) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, m := range mechs {
			b.AddASN1ObjectIdentifier(m)
		}
	})
	return b.Bytes()
}

// marshal returns the initial context token: the RFC 2743 3.1 framing
// (0x60, the SPNEGO OID) around [0] NegTokenInit, or NegTokenInit2 when
// negHints is set.
func (m *negTokenInit) marshal() ([]byte, error) {
	mt, err := marshalMechTypes(m.mechTypes)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0x60), func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSPNEGO)
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddBytes(mt) })
				if m.reqFlags != nil {
					b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { addBitString(b, *m.reqFlags) })
				}
				if m.mechToken != nil {
					b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(m.mechToken) })
				}
				micTag := uint8(3)
				if m.negHints != nil {
					micTag = 4
					b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							if h := m.negHints.hintName; h != nil {
								b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
									b.AddASN1(generalStringTag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(*h)) })
								})
							}
							if m.negHints.hintAddress != nil {
								b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1OctetString(m.negHints.hintAddress) })
							}
						})
					})
				}
				if m.mechListMIC != nil {
					b.AddASN1(ctxTag(micTag), func(b *cryptobyte.Builder) { b.AddASN1OctetString(m.mechListMIC) })
				}
			})
		})
	})
	return b.Bytes()
}

// addBitString writes a BIT STRING keeping bs's exact bit length.
func addBitString(b *cryptobyte.Builder, bs asn1.BitString) {
	pad := (8 - bs.BitLength%8) % 8
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(uint8(pad))
		b.AddBytes(bs.Bytes)
	})
}

// marshal returns [1] NegTokenResp, the bare form every later token takes.
func (m *negTokenResp) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if m.state != negStateAbsent {
				if m.state > requestMIC {
					b.SetError(fmt.Errorf("negotiate: invalid negState %d", m.state))
					return
				}
				b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Enum(int64(m.state) - 1) })
			}
			if m.supportedMech != nil {
				b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(m.supportedMech) })
			}
			if m.responseToken != nil {
				b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(m.responseToken) })
			}
			if m.mechListMIC != nil {
				b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) { b.AddASN1OctetString(m.mechListMIC) })
			}
		})
	})
	return b.Bytes()
}

// parseNegotiationToken parses any SPNEGO token: the framed initial token
// (0x60, SPNEGO OID, then [0] NegTokenInit or [1] NegTokenResp), or a bare
// [0] NegTokenInit or [1] NegTokenResp (packages.md 3.2). Exactly one of
// the results is non-nil on success; both are nil on error. Every byte
// slice in the result is a copy.
func parseNegotiationToken(b []byte) (*negTokenInit, *negTokenResp, error) {
	s := cryptobyte.String(b)
	if len(b) > 0 && b[0] == 0x60 {
		var inner cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !s.ReadASN1(&inner, cbasn1.Tag(0x60)) || !s.Empty() {
			return nil, nil, invalidToken("bad initial context token framing")
		}
		if !inner.ReadASN1ObjectIdentifier(&oid) {
			return nil, nil, invalidToken("bad mechanism OID in initial context token")
		}
		if !oid.Equal(oidSPNEGO) {
			return nil, nil, invalidToken("initial context token is not SPNEGO")
		}
		s = inner
	}
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&body, &tag) || !s.Empty() {
		return nil, nil, invalidToken("bad NegotiationToken")
	}
	switch tag {
	case ctxTag(0):
		m, err := parseNegTokenInitBody(body)
		if err != nil {
			return nil, nil, err
		}
		return m, nil, nil
	case ctxTag(1):
		m, err := parseNegTokenRespBody(body)
		if err != nil {
			return nil, nil, err
		}
		return nil, m, nil
	}
	return nil, nil, invalidToken("unknown NegotiationToken choice")
}

// parseNegTokenInit parses an initial token that must hold a NegTokenInit.
func parseNegTokenInit(b []byte) (*negTokenInit, error) {
	init, _, err := parseNegotiationToken(b)
	if err != nil {
		return nil, err
	}
	if init == nil {
		return nil, invalidToken("expected NegTokenInit, got NegTokenResp")
	}
	return init, nil
}

// parseNegTokenResp parses a token that must be a NegTokenResp.
func parseNegTokenResp(b []byte) (*negTokenResp, error) {
	_, resp, err := parseNegotiationToken(b)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, invalidToken("expected NegTokenResp, got NegTokenInit")
	}
	return resp, nil
}

// readTaggedOctetString reads a context-tagged [n] OCTET STRING if present; the
// result is a non-nil copy when present.
func readTaggedOctetString(s *cryptobyte.String, n uint8, out *[]byte) bool {
	if !s.PeekASN1Tag(ctxTag(n)) {
		return true
	}
	var inner, os cryptobyte.String
	if !s.ReadASN1(&inner, ctxTag(n)) || !inner.ReadASN1(&os, cbasn1.OCTET_STRING) || !inner.Empty() {
		return false
	}
	*out = append([]byte{}, os...)
	return true
}

// skipExtensions skips the trailing unknown fields the ASN.1 extension
// marker of RFC 4178 allows: context tags above last, in increasing order.
func skipExtensions(s cryptobyte.String, last uint8) bool {
	prev := cbasn1.Tag(last)
	for !s.Empty() {
		var tag cbasn1.Tag
		var v cryptobyte.String
		if !s.ReadAnyASN1(&v, &tag) {
			return false
		}
		if tag&0xc0 != 0x80 || tag&0x1f <= prev&0x1f {
			return false
		}
		prev = tag
	}
	return true
}

func parseNegTokenInitBody(body cryptobyte.String) (*negTokenInit, error) {
	var seq cryptobyte.String
	if !body.ReadASN1(&seq, cbasn1.SEQUENCE) || !body.Empty() {
		return nil, invalidToken("NegTokenInit is not a SEQUENCE")
	}
	m := &negTokenInit{}

	// [0] mechTypes: required (RFC 4178 4.2.1).
	var mt, list cryptobyte.String
	if !seq.ReadASN1(&mt, ctxTag(0)) {
		return nil, invalidToken("NegTokenInit without mechTypes")
	}
	raw := mt
	if !mt.ReadASN1(&list, cbasn1.SEQUENCE) || !mt.Empty() {
		return nil, invalidToken("bad mechTypes")
	}
	m.rawMechTypes = append([]byte{}, raw...)
	m.mechTypes = []asn1.ObjectIdentifier{}
	for !list.Empty() {
		var oid asn1.ObjectIdentifier
		if !list.ReadASN1ObjectIdentifier(&oid) {
			return nil, invalidToken("bad OID in mechTypes")
		}
		m.mechTypes = append(m.mechTypes, oid)
	}

	// [1] reqFlags.
	if seq.PeekASN1Tag(ctxTag(1)) {
		var f cryptobyte.String
		var bs asn1.BitString
		if !seq.ReadASN1(&f, ctxTag(1)) || !f.ReadASN1BitString(&bs) || !f.Empty() {
			return nil, invalidToken("bad reqFlags")
		}
		bs.Bytes = append([]byte{}, bs.Bytes...)
		m.reqFlags = &bs
	}

	// [2] mechToken.
	if !readTaggedOctetString(&seq, 2, &m.mechToken) {
		return nil, invalidToken("bad mechToken")
	}

	// [3] is mechListMIC in RFC 4178 and negHints in NegTokenInit2; the
	// inner tag tells them apart.
	last := uint8(2)
	if seq.PeekASN1Tag(ctxTag(3)) {
		var f cryptobyte.String
		if !seq.ReadASN1(&f, ctxTag(3)) {
			return nil, invalidToken("bad NegTokenInit field [3]")
		}
		switch {
		case f.PeekASN1Tag(cbasn1.OCTET_STRING):
			var os cryptobyte.String
			if !f.ReadASN1(&os, cbasn1.OCTET_STRING) || !f.Empty() {
				return nil, invalidToken("bad mechListMIC")
			}
			m.mechListMIC = append([]byte{}, os...)
		case f.PeekASN1Tag(cbasn1.SEQUENCE):
			h, ok := parseNegHints(f)
			if !ok {
				return nil, invalidToken("bad negHints")
			}
			m.negHints = h
		default:
			return nil, invalidToken("bad NegTokenInit field [3]")
		}
		last = 3
	}
	// [4] mechListMIC of NegTokenInit2.
	if m.negHints != nil {
		if !readTaggedOctetString(&seq, 4, &m.mechListMIC) {
			return nil, invalidToken("bad mechListMIC")
		}
		if m.mechListMIC != nil {
			last = 4
		}
	}
	if !skipExtensions(seq, last) {
		return nil, invalidToken("bad trailing NegTokenInit fields")
	}
	return m, nil
}

func parseNegHints(f cryptobyte.String) (*negHints, bool) {
	var seq cryptobyte.String
	if !f.ReadASN1(&seq, cbasn1.SEQUENCE) || !f.Empty() {
		return nil, false
	}
	h := &negHints{}
	if seq.PeekASN1Tag(ctxTag(0)) {
		var t, gs cryptobyte.String
		if !seq.ReadASN1(&t, ctxTag(0)) || !t.ReadASN1(&gs, generalStringTag) || !t.Empty() {
			return nil, false
		}
		name := string(gs)
		h.hintName = &name
	}
	if !readTaggedOctetString(&seq, 1, &h.hintAddress) {
		return nil, false
	}
	return h, seq.Empty()
}

func parseNegTokenRespBody(body cryptobyte.String) (*negTokenResp, error) {
	var seq cryptobyte.String
	if !body.ReadASN1(&seq, cbasn1.SEQUENCE) || !body.Empty() {
		return nil, invalidToken("NegTokenResp is not a SEQUENCE")
	}
	m := &negTokenResp{}
	last := uint8(0)
	if seq.PeekASN1Tag(ctxTag(0)) {
		var f cryptobyte.String
		var v int
		if !seq.ReadASN1(&f, ctxTag(0)) || !f.ReadASN1Enum(&v) || !f.Empty() {
			return nil, invalidToken("bad negState")
		}
		if v < 0 || v > 3 {
			return nil, invalidToken("unknown negState")
		}
		m.state = negState(v + 1)
	}
	if seq.PeekASN1Tag(ctxTag(1)) {
		var f cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !seq.ReadASN1(&f, ctxTag(1)) || !f.ReadASN1ObjectIdentifier(&oid) || !f.Empty() {
			return nil, invalidToken("bad supportedMech")
		}
		m.supportedMech = oid
		last = 1
	}
	if !readTaggedOctetString(&seq, 2, &m.responseToken) {
		return nil, invalidToken("bad responseToken")
	}
	if !readTaggedOctetString(&seq, 3, &m.mechListMIC) {
		return nil, invalidToken("bad mechListMIC")
	}
	if m.responseToken != nil {
		last = 2
	}
	if m.mechListMIC != nil {
		last = 3
	}
	if !skipExtensions(seq, last) {
		return nil, invalidToken("bad trailing NegTokenResp fields")
	}
	return m, nil
}

// rawMech tells what a token given to the acceptor is (packages.md 3.5).
type rawMech int

const (
	rawSPNEGO   rawMech = iota // SPNEGO, framed or bare
	rawNTLM                    // an NTLM message ("NTLMSSP\0")
	rawKerberos                // a Kerberos InitialContextToken
	rawUnknown
)

// classifyToken looks at the first bytes of an acceptor's first input.
func classifyToken(b []byte) rawMech {
	if bytes.HasPrefix(b, ntlmSignature) {
		return rawNTLM
	}
	if len(b) > 0 && (b[0] == 0xa0 || b[0] == 0xa1) {
		return rawSPNEGO
	}
	oid, ok := gssTokenMech(b)
	if !ok {
		return rawUnknown
	}
	switch {
	case oid.Equal(oidSPNEGO):
		return rawSPNEGO
	case oid.Equal(oidKerberos), oid.Equal(oidMSKRB5):
		return rawKerberos
	}
	return rawUnknown
}

// gssTokenMech returns the mechanism OID of an RFC 2743 3.1 initial
// context token. Only the header is checked, not what follows it.
func gssTokenMech(b []byte) (asn1.ObjectIdentifier, bool) {
	s := cryptobyte.String(b)
	var inner cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&inner, cbasn1.Tag(0x60)) || !s.Empty() || !inner.ReadASN1ObjectIdentifier(&oid) {
		return nil, false
	}
	return oid, true
}
