package sasl

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// maxBufferLimit is the largest buffer size the 3-octet field of RFC 4752
// 3.1 can carry.
const maxBufferLimit = 1<<24 - 1

// offer is the server's message after the context is established (RFC
// 4752 3.1): a bit mask of the security layers it supports and, in three
// octets in network order, the largest wrapped message it can receive,
// which is 0 when it supports no layer. It travels wrapped with conf_flag
// FALSE.
type offer struct {
	layers Layer // as received: bits not understood are kept, and ignored by choose
	maxBuf int   // 0 to maxBufferLimit
}

func (o offer) marshal() []byte {
	return []byte{byte(o.layers), byte(o.maxBuf >> 16), byte(o.maxBuf >> 8), byte(o.maxBuf)}
}

// parseOffer reads an unwrapped offer. RFC 4752 3.1: "If the resulting
// cleartext is not 4 octets long, the client fails the negotiation." A
// nonzero size with no layer besides none, which the RFC forbids, is
// accepted: the size is then unused.
func parseOffer(b []byte) (offer, error) {
	if len(b) != 4 {
		return offer{}, fmt.Errorf("%w: the server's security layer offer has %d octets, not 4", ErrProtocol, len(b))
	}
	return offer{layers: Layer(b[0]), maxBuf: int(b[1])<<16 | int(b[2])<<8 | int(b[3])}, nil
}

// choice is the client's answer to an offer (RFC 4752 3.1): the selected
// layer, the largest wrapped message the client can receive (0 with no
// layer), and the authorization identity in UTF-8, not NUL-terminated.
// It travels wrapped with conf_flag FALSE.
type choice struct {
	layer   Layer // as received: validated against the offer by accept
	maxBuf  int
	authzID string
}

func (c choice) marshal() []byte {
	b := make([]byte, 4, 4+len(c.authzID))
	b[0], b[1], b[2], b[3] = byte(c.layer), byte(c.maxBuf>>16), byte(c.maxBuf>>8), byte(c.maxBuf)
	return append(b, c.authzID...)
}

// parseChoice reads an unwrapped choice. The authorization identity must
// be UTF-8 without NUL (RFC 4752 3.1, RFC 4422 3.4.1).
func parseChoice(b []byte) (choice, error) {
	if len(b) < 4 {
		return choice{}, fmt.Errorf("%w: the client's security layer choice has %d octets, fewer than 4", ErrProtocol, len(b))
	}
	id := b[4:]
	if !utf8.Valid(id) || bytes.IndexByte(id, 0) >= 0 {
		return choice{}, fmt.Errorf("%w: the authorization identity is not UTF-8 without NUL", ErrProtocol)
	}
	return choice{layer: Layer(b[0]), maxBuf: int(b[1])<<16 | int(b[2])<<8 | int(b[3]), authzID: string(id)}, nil
}

// accept checks the client's choice against the offer and returns the
// layer in force. RFC 4752 3.1: the server "verifies that the client has
// selected a security layer that was offered". A mask of integrity and
// confidentiality is read as confidentiality when that was offered: MS-ADTS
// 5.1.2.1 has Windows 2000 and 2003 DCs that require integrity refuse a
// confidentiality choice without the integrity bit, so clients for Active
// Directory send both (Cyrus SASL's "ad_compat" option), and Cyrus SASL's
// server accepts them. A client maximum buffer with no layer, which the
// RFC wants 0, is ignored, as Cyrus SASL does (Samba's client echoes the
// server's).
func (o offer) accept(c choice) (Layer, error) {
	offered := o.layers & allLayers
	switch {
	case c.layer.single() && offered&c.layer != 0:
		return c.layer, nil
	case c.layer == LayerIntegrity|LayerConfidentiality && offered&LayerConfidentiality != 0:
		return LayerConfidentiality, nil
	}
	return 0, fmt.Errorf("%w: the client chose security layer %#x, not one of those offered (%v)", ErrProtocol, uint8(c.layer), offered)
}
