package secbuffer

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gosspi/sspi/internal/wire"
)

// channelBindingsHeaderLen is the size of SEC_CHANNEL_BINDINGS: eight
// 32-bit fields (spec structures.md §5.1).
const channelBindingsHeaderLen = 32

// maxChannelBindingsSize caps the SEC_CHANNEL_BINDINGS blobs
// ParseChannelBindings accepts. Bindings carry a hash of a certificate
// or a TLS Finished message and, rarely, addresses: well under 1 KiB.
const maxChannelBindingsSize = 64 << 10

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
// application data, each located by an offset from the start (0 for an
// empty field). It returns nil when the fields add up to 4 GiB or more,
// which the 32-bit lengths and offsets cannot describe.
func (cb *ChannelBindings) Marshal() []byte {
	n := channelBindingsHeaderLen + len(cb.InitiatorAddress) + len(cb.AcceptorAddress) + len(cb.ApplicationData)
	b := wire.NewBuilder(make([]byte, 0, n))
	off := channelBindingsHeaderLen
	lengthOffset := func(data []byte) {
		b.AddLen32(len(data))
		if len(data) == 0 {
			b.AddUint32LE(0)
			return
		}
		b.AddLen32(off)
		off += len(data)
	}
	b.AddUint32LE(cb.InitiatorAddrType)
	lengthOffset(cb.InitiatorAddress)
	b.AddUint32LE(cb.AcceptorAddrType)
	lengthOffset(cb.AcceptorAddress)
	lengthOffset(cb.ApplicationData)
	b.AddBytes(cb.InitiatorAddress)
	b.AddBytes(cb.AcceptorAddress)
	b.AddBytes(cb.ApplicationData)
	m, err := b.Bytes()
	if err != nil {
		return nil
	}
	return m
}

// ParseChannelBindings parses a flat SEC_CHANNEL_BINDINGS blob of at most
// 64 KiB (maxChannelBindingsSize). A field may lie anywhere in the blob,
// the header included (nothing in the structure forbids it), and fields
// may share bytes; bytes no field names are ignored. The returned slices alias b.
func ParseChannelBindings(b []byte) (*ChannelBindings, error) {
	s, err := wire.Limit(b, maxChannelBindingsSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedBindings, err)
	}
	cb := &ChannelBindings{}
	var (
		initLen, initOff, accLen, accOff, appLen, appOff uint32
	)
	if !s.ReadUint32LE(&cb.InitiatorAddrType) || !s.ReadUint32LE(&initLen) || !s.ReadUint32LE(&initOff) ||
		!s.ReadUint32LE(&cb.AcceptorAddrType) || !s.ReadUint32LE(&accLen) || !s.ReadUint32LE(&accOff) ||
		!s.ReadUint32LE(&appLen) || !s.ReadUint32LE(&appOff) {
		return nil, ErrMalformedBindings
	}
	if !wire.Resolve(b, 0, uint64(initOff), uint64(initLen), &cb.InitiatorAddress) ||
		!wire.Resolve(b, 0, uint64(accOff), uint64(accLen), &cb.AcceptorAddress) ||
		!wire.Resolve(b, 0, uint64(appOff), uint64(appLen), &cb.ApplicationData) {
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
