package sasl

import (
	"errors"
)

// What StartAfterBind needs of LDAP (RFC 4511 5.1, X.690 8.1): the extent
// of one BER element and, for an LDAPMessage carrying a BindResponse, its
// resultCode. LDAP uses definite lengths only, in at most four octets
// here.

var errBER = errors.New("malformed BER")

// maxBindElement bounds the LDAP message read in the clear while a layer
// waits for the bind's outcome; a BindResponse is small.
const maxBindElement = 1 << 20

// berHeader parses the identifier and length octets of the BER element at
// the start of b: it returns the header's length and the content's. ok is
// false when b is too short to tell.
func berHeader(b []byte) (hdr, n int, ok bool, err error) {
	if len(b) < 2 {
		return 0, 0, false, nil
	}
	if b[0]&0x1f == 0x1f {
		return 0, 0, false, errBER // high tag numbers: not in LDAP
	}
	l := b[1]
	switch {
	case l < 0x80:
		return 2, int(l), true, nil
	case l == 0x80 || l > 0x84:
		return 0, 0, false, errBER // indefinite, or too long for us
	}
	k := int(l & 0x7f)
	if len(b) < 2+k {
		return 0, 0, false, nil
	}
	for _, c := range b[2 : 2+k] {
		n = n<<8 | int(c)
	}
	return 2 + k, n, true, nil
}

// berNext splits the first element off b: its tag, its content and the
// rest of b.
func berNext(b []byte) (tag byte, content, rest []byte, err error) {
	hdr, n, ok, err := berHeader(b)
	if err != nil {
		return 0, nil, nil, err
	}
	if !ok || n > len(b)-hdr {
		return 0, nil, nil, errBER
	}
	return b[0], b[hdr : hdr+n], b[hdr+n:], nil
}

// bindResult reads an LDAPMessage: whether it carries a BindResponse
// ([APPLICATION 1]) and, if so, its resultCode.
//
//	LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp CHOICE { ...,
//	    bindResponse [APPLICATION 1] SEQUENCE { resultCode ENUMERATED, ... }, ... }, ... }
func bindResult(msg []byte) (isBind bool, code int, err error) {
	tag, body, rest, err := berNext(msg)
	if err != nil || tag != 0x30 || len(rest) != 0 {
		return false, 0, errBER
	}
	tag, _, body, err = berNext(body) // messageID
	if err != nil || tag != 0x02 {
		return false, 0, errBER
	}
	tag, op, _, err := berNext(body)
	if err != nil {
		return false, 0, err
	}
	if tag != 0x61 {
		return false, 0, nil
	}
	tag, rc, _, err := berNext(op)
	if err != nil || tag != 0x0a || len(rc) < 1 || len(rc) > 4 {
		return false, 0, errBER
	}
	for _, c := range rc {
		code = code<<8 | int(c)
	}
	return true, code, nil
}
