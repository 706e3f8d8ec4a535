package sasl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"testing"
)

// Just enough LDAP (RFC 4511) to carry SASL binds in the tests: our
// client and server talk it to each other, to ldapsearch and to slapd.

// ber encodes one BER element with definite length.
func ber(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 1<<8:
		out = append(out, 0x81, byte(n))
	case n < 1<<16:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// berInt encodes a non-negative INTEGER or ENUMERATED.
func berInt(tag byte, v int) []byte {
	b := []byte{byte(v)}
	for v >>= 8; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	if b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return ber(tag, b)
}

func berValue(b []byte) int {
	v := 0
	for _, c := range b {
		v = v<<8 | int(c)
	}
	return v
}

// bindRequest is an LDAPMessage with a SASL BindRequest; creds nil
// leaves the credentials out.
func bindRequest(id int, mech string, creds []byte) []byte {
	sasl := [][]byte{ber(0x04, []byte(mech))}
	if creds != nil {
		sasl = append(sasl, ber(0x04, creds))
	}
	return ber(0x30, berInt(0x02, id),
		ber(0x60, berInt(0x02, 3), ber(0x04), ber(0xa3, sasl...)))
}

// bindResponse is an LDAPMessage with a BindResponse; creds nil leaves
// serverSaslCreds out.
func bindResponse(id, code int, creds []byte) []byte {
	parts := [][]byte{berInt(0x0a, code), ber(0x04), ber(0x04)}
	if creds != nil {
		parts = append(parts, ber(0x87, creds))
	}
	return ber(0x30, berInt(0x02, id), ber(0x61, parts...))
}

// readMessage reads one whole BER element.
func readMessage(r *bufio.Reader) ([]byte, error) {
	var msg []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(msg) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		msg = append(msg, b)
		hdr, n, ok, err := berHeader(msg)
		if err != nil {
			return nil, err
		}
		if ok {
			body := make([]byte, n)
			if _, err := io.ReadFull(r, body); err != nil {
				return nil, err
			}
			return append(msg[:hdr], body...), nil
		}
	}
}

// ldapMessage splits an LDAPMessage into its id, protocolOp tag and body.
func ldapMessage(msg []byte) (id int, op byte, body []byte, err error) {
	tag, seq, _, err := berNext(msg)
	if err != nil || tag != 0x30 {
		return 0, 0, nil, fmt.Errorf("not an LDAPMessage: %x", msg)
	}
	tag, idb, rest, err := berNext(seq)
	if err != nil || tag != 0x02 {
		return 0, 0, nil, fmt.Errorf("no messageID: %x", msg)
	}
	op, body, _, err = berNext(rest)
	if err != nil {
		return 0, 0, nil, err
	}
	return berValue(idb), op, body, nil
}

// parseBindRequest reads a SASL BindRequest.
func parseBindRequest(msg []byte) (id int, mech string, creds []byte, err error) {
	id, op, body, err := ldapMessage(msg)
	if err != nil {
		return 0, "", nil, err
	}
	if op != 0x60 {
		return 0, "", nil, fmt.Errorf("operation %#x, not a BindRequest", op)
	}
	_, _, rest, err := berNext(body) // version
	if err != nil {
		return 0, "", nil, err
	}
	_, _, rest, err = berNext(rest) // name
	if err != nil {
		return 0, "", nil, err
	}
	tag, sasl, _, err := berNext(rest)
	if err != nil || tag != 0xa3 {
		return 0, "", nil, errors.New("not a SASL bind")
	}
	_, m, rest, err := berNext(sasl)
	if err != nil {
		return 0, "", nil, err
	}
	if len(rest) > 0 {
		if _, creds, _, err = berNext(rest); err != nil {
			return 0, "", nil, err
		}
		if creds == nil {
			creds = []byte{}
		}
	}
	return id, string(m), creds, nil
}

// parseBindResponse reads a BindResponse: its resultCode and
// serverSaslCreds.
func parseBindResponse(msg []byte) (id, code int, creds []byte, err error) {
	id, op, body, err := ldapMessage(msg)
	if err != nil {
		return 0, 0, nil, err
	}
	if op != 0x61 {
		return 0, 0, nil, fmt.Errorf("operation %#x, not a BindResponse", op)
	}
	_, rc, rest, err := berNext(body)
	if err != nil {
		return 0, 0, nil, err
	}
	for len(rest) > 0 {
		var tag byte
		var v []byte
		if tag, v, rest, err = berNext(rest); err != nil {
			return 0, 0, nil, err
		}
		if tag == 0x87 {
			creds = append([]byte{}, v...)
		}
	}
	return id, berValue(rc), creds, nil
}

func TestBindResult(t *testing.T) {
	tests := []struct {
		name   string
		msg    []byte
		isBind bool
		code   int
		err    bool
	}{
		{"success", bindResponse(3, 0, nil), true, 0, false},
		{"success with creds", bindResponse(3, 0, []byte("token")), true, 0, false},
		{"in progress", bindResponse(3, 14, []byte("x")), true, 14, false},
		{"invalid credentials", bindResponse(300, 49, nil), true, 49, false},
		{"notice of disconnection", ber(0x30, berInt(0x02, 0), ber(0x78, berInt(0x0a, 52), ber(0x04), ber(0x04))), false, 0, false},
		{"search entry", ber(0x30, berInt(0x02, 1), ber(0x64, ber(0x04, []byte("cn=x")))), false, 0, false},
		{"trailing bytes", append(bindResponse(3, 0, nil), 0), false, 0, true},
		{"not a sequence", ber(0x31, berInt(0x02, 1)), false, 0, true},
		{"no resultCode", ber(0x30, berInt(0x02, 1), ber(0x61)), false, 0, true},
		{"long resultCode", ber(0x30, berInt(0x02, 1), ber(0x61, ber(0x0a, []byte{1, 2, 3, 4, 5}))), false, 0, true},
		{"indefinite", []byte{0x30, 0x80, 0, 0}, false, 0, true},
		{"short", []byte{0x30}, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isBind, code, err := bindResult(tt.msg)
			if (err != nil) != tt.err || isBind != tt.isBind || code != tt.code {
				t.Errorf("bindResult = %v, %d, %v; want %v, %d, error %v", isBind, code, err, tt.isBind, tt.code, tt.err)
			}
		})
	}
}
