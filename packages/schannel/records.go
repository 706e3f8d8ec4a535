package schannel

import (
	"encoding/binary"
	"errors"
)

// TLS record layer (RFC 8446 5.1, RFC 5246 6.2).
const (
	recordHeaderLen = 5
	// maxCiphertext is the largest record body TLS 1.2 allows (2^14 +
	// 2048); TLS 1.3 allows less and crypto/tls checks that itself.
	maxCiphertext = 16384 + 2048
	maxPlaintext  = 16384

	recordTypeChangeCipherSpec = 20
	recordTypeAlert            = 21
	recordTypeHandshake        = 22
	recordTypeApplicationData  = 23
)

var errBadRecord = errors.New("schannel: malformed TLS record header")

// nextRecord looks at the record at the start of b. It returns the
// record's total length when b holds all of it (n > 0), or how many more
// bytes are needed (missing > 0). A header that cannot start a TLS record
// gives errBadRecord.
func nextRecord(b []byte) (n, missing int, err error) {
	if len(b) < recordHeaderLen {
		if len(b) > 0 && !validType(b[0]) {
			return 0, 0, errBadRecord
		}
		if len(b) > 1 && b[1] != 3 {
			return 0, 0, errBadRecord
		}
		return 0, recordHeaderLen - len(b), nil
	}
	if !validType(b[0]) || b[1] != 3 {
		return 0, 0, errBadRecord
	}
	body := int(binary.BigEndian.Uint16(b[3:5]))
	if body > maxCiphertext {
		return 0, 0, errBadRecord
	}
	total := recordHeaderLen + body
	if len(b) < total {
		return 0, total - len(b), nil
	}
	return total, 0, nil
}

func validType(t byte) bool { return t >= recordTypeChangeCipherSpec && t <= recordTypeApplicationData }

// SEC_APPLICATION_PROTOCOL_NEGOTIATION_EXT values (ProtoNegoExt).
const (
	SecApplicationProtocolNegotiationExt_None = 0
	SecApplicationProtocolNegotiationExt_NPN  = 1
	SecApplicationProtocolNegotiationExt_ALPN = 2
)

// SEC_APPLICATION_PROTOCOL_NEGOTIATION_STATUS values (ProtoNegoStatus).
const (
	SecApplicationProtocolNegotiationStatus_None               = 0
	SecApplicationProtocolNegotiationStatus_Success            = 1
	SecApplicationProtocolNegotiationStatus_SelectedClientOnly = 2
)

// MarshalApplicationProtocols returns the SEC_APPLICATION_PROTOCOLS blob of a
// SECBUFFER_APPLICATION_PROTOCOLS buffer offering protos through ALPN (spec
// structures.md §5.4). Protocol ids must be 1 to 255 bytes long.
func MarshalApplicationProtocols(protos ...string) ([]byte, error) {
	var list []byte
	for _, p := range protos {
		if len(p) == 0 || len(p) > 255 {
			return nil, errors.New("schannel: application protocol id must be 1 to 255 bytes")
		}
		list = append(list, byte(len(p)))
		list = append(list, p...)
	}
	if len(list) > 0xFFFF {
		return nil, errors.New("schannel: application protocol list too long")
	}
	b := make([]byte, 10, 10+len(list))
	binary.LittleEndian.PutUint32(b[0:], uint32(6+len(list)))
	binary.LittleEndian.PutUint32(b[4:], SecApplicationProtocolNegotiationExt_ALPN)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(list)))
	return append(b, list...), nil
}

// parseApplicationProtocols reads a SEC_APPLICATION_PROTOCOLS blob and
// returns the ALPN ids it offers (NPN lists are skipped). Lengths must
// match exactly.
func parseApplicationProtocols(b []byte) ([]string, bool) {
	if len(b) < 4 {
		return nil, false
	}
	total := binary.LittleEndian.Uint32(b)
	rest := b[4:]
	if uint64(total) != uint64(len(rest)) {
		return nil, false
	}
	var protos []string
	for len(rest) > 0 {
		if len(rest) < 6 {
			return nil, false
		}
		ext := binary.LittleEndian.Uint32(rest)
		n := int(binary.LittleEndian.Uint16(rest[4:]))
		rest = rest[6:]
		if n > len(rest) {
			return nil, false
		}
		list := rest[:n]
		rest = rest[n:]
		var ids []string
		for len(list) > 0 {
			l := int(list[0])
			if l == 0 || l+1 > len(list) {
				return nil, false
			}
			ids = append(ids, string(list[1:1+l]))
			list = list[1+l:]
		}
		if ext == SecApplicationProtocolNegotiationExt_ALPN {
			protos = append(protos, ids...)
		}
	}
	return protos, true
}
