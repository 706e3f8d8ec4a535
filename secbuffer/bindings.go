package secbuffer

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
)

// channelBindingsHeaderLen is the size of SEC_CHANNEL_BINDINGS: eight
// 32-bit fields (spec structures.md §5.1).
const channelBindingsHeaderLen = 32

// ErrMalformedBindings is returned by [ParseChannelBindings] for a blob whose
// offsets or lengths do not fit.
var ErrMalformedBindings = errors.New("secbuffer: malformed SEC_CHANNEL_BINDINGS")

// ChannelBindings is the content of a SEC_CHANNEL_BINDINGS structure, the
// payload of a SECBUFFER_CHANNEL_BINDINGS buffer: GSS-API's
// gss_channel_bindings_struct.
type ChannelBindings struct {
	InitiatorAddrType uint32
	InitiatorAddress  []byte
	AcceptorAddrType  uint32
	AcceptorAddress   []byte
	ApplicationData   []byte // e.g. "tls-server-end-point:" followed by a hash
}

// Marshal returns the flat SEC_CHANNEL_BINDINGS form: the 32-byte header
// followed by the initiator address, the acceptor address and the
// application data, each located by an offset from the start.
func (cb *ChannelBindings) Marshal() []byte {
	n := channelBindingsHeaderLen + len(cb.InitiatorAddress) + len(cb.AcceptorAddress) + len(cb.ApplicationData)
	b := make([]byte, channelBindingsHeaderLen, n)
	le := binary.LittleEndian
	off := uint32(channelBindingsHeaderLen)
	put := func(at int, typ uint32, data []byte) {
		le.PutUint32(b[at:], typ)
		le.PutUint32(b[at+4:], uint32(len(data)))
		if len(data) > 0 {
			le.PutUint32(b[at+8:], off)
		}
		off += uint32(len(data))
	}
	put(0, cb.InitiatorAddrType, cb.InitiatorAddress)
	put(12, cb.AcceptorAddrType, cb.AcceptorAddress)
	le.PutUint32(b[24:], uint32(len(cb.ApplicationData)))
	if len(cb.ApplicationData) > 0 {
		le.PutUint32(b[28:], off)
	}
	b = append(b, cb.InitiatorAddress...)
	b = append(b, cb.AcceptorAddress...)
	b = append(b, cb.ApplicationData...)
	return b
}

// ParseChannelBindings parses a flat SEC_CHANNEL_BINDINGS blob. The returned
// slices alias b.
func ParseChannelBindings(b []byte) (*ChannelBindings, error) {
	if len(b) < channelBindingsHeaderLen {
		return nil, ErrMalformedBindings
	}
	le := binary.LittleEndian
	field := func(lenAt, offAt int) ([]byte, bool) {
		n := uint64(le.Uint32(b[lenAt:]))
		if n == 0 {
			return nil, true
		}
		off := uint64(le.Uint32(b[offAt:]))
		if off+n > uint64(len(b)) {
			return nil, false
		}
		return b[off : off+n : off+n], true
	}
	cb := &ChannelBindings{
		InitiatorAddrType: le.Uint32(b[0:]),
		AcceptorAddrType:  le.Uint32(b[12:]),
	}
	var ok1, ok2, ok3 bool
	cb.InitiatorAddress, ok1 = field(4, 8)
	cb.AcceptorAddress, ok2 = field(16, 20)
	cb.ApplicationData, ok3 = field(24, 28)
	if !ok1 || !ok2 || !ok3 {
		return nil, ErrMalformedBindings
	}
	return cb, nil
}

// Hash returns the MD5 that NTLM (MsvAvChannelBindings) and Kerberos (the
// RFC 4121 authenticator checksum) carry: MD5 over the address types,
// lengths and bytes, and the application data with its length, all
// integers 32-bit little-endian (spec structures.md §5.2).
func (cb *ChannelBindings) Hash() [16]byte {
	h := md5.New()
	var u [4]byte
	w32 := func(v uint32) {
		binary.LittleEndian.PutUint32(u[:], v)
		h.Write(u[:])
	}
	w32(cb.InitiatorAddrType)
	w32(uint32(len(cb.InitiatorAddress)))
	h.Write(cb.InitiatorAddress)
	w32(cb.AcceptorAddrType)
	w32(uint32(len(cb.AcceptorAddress)))
	h.Write(cb.AcceptorAddress)
	w32(uint32(len(cb.ApplicationData)))
	h.Write(cb.ApplicationData)
	var sum [16]byte
	h.Sum(sum[:0])
	return sum
}
