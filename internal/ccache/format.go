package ccache

import (
	"encoding/binary"
	"fmt"
	"time"
)

// File is the content of a FILE credential cache.
type File struct {
	// Version is the format version, 1 to 4 (the first byte 5, the
	// second this). Marshal writes 3 or 4 (0 means 4).
	Version int
	// TimeOffset and USecOffset are the KDC time offset of the version 4
	// header (tag 1), when HasTimeOffset.
	HasTimeOffset bool
	TimeOffset    int32
	USecOffset    int32
	Principal     Principal
	Credentials   []Credential
}

// Zero clears the session keys of every credential.
func (f *File) Zero() {
	for i := range f.Credentials {
		f.Credentials[i].Zero()
	}
}

// decoder reads the fields of a cache. Versions 1 and 2 use the host's
// byte order, 3 and 4 big-endian. The first failure sticks.
type decoder struct {
	b       []byte
	version int
	order   binary.ByteOrder
	err     error
}

func newDecoder(b []byte, version int) *decoder {
	d := &decoder{b: b, version: version, order: binary.BigEndian}
	if version < 3 {
		d.order = binary.NativeEndian
	}
	return d
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrFormat}, a...)...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return d.order.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return d.order.Uint32(v)
	}
	return 0
}

// data reads a 32-bit counted octet string (a copy).
func (d *decoder) data() []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if n > MaxData {
		if d.err == nil {
			d.err = fmt.Errorf("%w: a field of %d bytes", ErrTooLarge, n)
		}
		return nil
	}
	v := d.take(int(n))
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) str() string { return string(d.data()) }

func (d *decoder) time() time.Time {
	v := d.u32()
	if v == 0 {
		return time.Time{}
	}
	// MIT reads the 32-bit times as unsigned (good until 2106).
	return time.Unix(int64(v), 0).UTC()
}

func (d *decoder) principal() Principal {
	var p Principal
	if d.version != 1 {
		p.NameType = int32(d.u32())
	}
	n := d.u32()
	if d.version == 1 {
		// Version 1 counts the realm among the components.
		if n == 0 {
			d.fail("principal with no realm")
			return p
		}
		n--
	}
	if n > MaxComponents {
		d.fail("principal with %d components", n)
		return p
	}
	p.Realm = d.str()
	for i := uint32(0); i < n && d.err == nil; i++ {
		p.Components = append(p.Components, d.str())
	}
	return p
}

func (d *decoder) credential() Credential {
	var c Credential
	c.Client = d.principal()
	c.Server = d.principal()
	c.KeyType = int32(d.u16())
	if d.version == 3 {
		// Version 3 repeats the enctype.
		c.KeyType = int32(d.u16())
	}
	c.Key = d.data()
	c.AuthTime = d.time()
	c.StartTime = d.time()
	c.EndTime = d.time()
	c.RenewTill = d.time()
	c.IsSKey = d.u8() != 0
	c.Flags = d.u32()
	n := d.u32()
	if uint64(n)*6 > uint64(len(d.b)) {
		d.fail("%d addresses", n)
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		c.Addresses = append(c.Addresses, Address{Type: int32(d.u16()), Data: d.data()})
	}
	n = d.u32()
	if uint64(n)*6 > uint64(len(d.b)) {
		d.fail("%d authorization data elements", n)
	}
	for i := uint32(0); i < n && d.err == nil; i++ {
		c.AuthData = append(c.AuthData, AuthData{Type: int32(d.u16()), Data: d.data()})
	}
	c.Ticket = d.data()
	c.SecondTicket = d.data()
	if d.err != nil {
		c.Zero()
		return Credential{}
	}
	return c
}

// ParseFile parses a FILE credential cache of any version, 1 to 4.
func ParseFile(b []byte) (*File, error) {
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	if len(b) < 2 || b[0] != 5 || b[1] < 1 || b[1] > 4 {
		return nil, fmt.Errorf("%w: not a FILE cache (no 0x05 0x01-0x04 version)", ErrFormat)
	}
	f := &File{Version: int(b[1])}
	d := newDecoder(b[2:], f.Version)
	if f.Version == 4 {
		hdr := newDecoder(d.take(int(d.u16())), 4)
		for d.err == nil && hdr.err == nil && len(hdr.b) > 0 {
			tag := hdr.u16()
			v := newDecoder(hdr.take(int(hdr.u16())), 4)
			if tag == 1 && hdr.err == nil {
				f.HasTimeOffset = true
				f.TimeOffset = int32(v.u32())
				f.USecOffset = int32(v.u32())
				if v.err != nil {
					hdr.err = v.err
				}
			}
		}
		if d.err == nil && hdr.err != nil {
			d.err = hdr.err
		}
	}
	f.Principal = d.principal()
	for d.err == nil && len(d.b) > 0 {
		if len(f.Credentials) >= MaxCredentials {
			d.err = fmt.Errorf("%w: more than %d credentials", ErrTooLarge, MaxCredentials)
			break
		}
		c := d.credential()
		if d.err == nil {
			f.Credentials = append(f.Credentials, c)
		}
	}
	if d.err != nil {
		f.Zero()
		return nil, d.err
	}
	return f, nil
}

// ParsePrincipal parses a principal in the version 4 format, as KCM
// replies and keyring keys carry it. Bytes after it are ignored, as MIT
// ignores them.
func ParsePrincipal(b []byte) (Principal, error) {
	if len(b) > MaxFileSize {
		return Principal{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	d := newDecoder(b, 4)
	p := d.principal()
	if d.err != nil {
		return Principal{}, d.err
	}
	return p, nil
}

// ParseCredential parses a credential in the version 4 format, as KCM
// replies and keyring keys carry it. Bytes after it are ignored.
func ParseCredential(b []byte) (Credential, error) {
	if len(b) > MaxFileSize {
		return Credential{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	d := newDecoder(b, 4)
	c := d.credential()
	if d.err != nil {
		return Credential{}, d.err
	}
	return c, nil
}

// encoder appends big-endian fields (versions 3 and 4).
type encoder struct {
	b       []byte
	version int
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }

func (e *encoder) data(v []byte) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.u32(0)
		return
	}
	e.u32(uint32(t.Unix()))
}

func (e *encoder) principal(p Principal) {
	e.u32(uint32(p.NameType))
	e.u32(uint32(len(p.Components)))
	e.data([]byte(p.Realm))
	for _, c := range p.Components {
		e.data([]byte(c))
	}
}

func (e *encoder) credential(c *Credential) {
	e.principal(c.Client)
	e.principal(c.Server)
	e.u16(uint16(c.KeyType))
	if e.version == 3 {
		e.u16(uint16(c.KeyType))
	}
	e.data(c.Key)
	e.time(c.AuthTime)
	e.time(c.StartTime)
	e.time(c.EndTime)
	e.time(c.RenewTill)
	if c.IsSKey {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.u32(c.Flags)
	e.u32(uint32(len(c.Addresses)))
	for _, a := range c.Addresses {
		e.u16(uint16(a.Type))
		e.data(a.Data)
	}
	e.u32(uint32(len(c.AuthData)))
	for _, a := range c.AuthData {
		e.u16(uint16(a.Type))
		e.data(a.Data)
	}
	e.data(c.Ticket)
	e.data(c.SecondTicket)
}

// size is an upper bound of the encoded size of c, so that buffers
// holding keys are allocated once and leave no copies behind.
func (c *Credential) size() int {
	n := 64 + len(c.Key) + len(c.Ticket) + len(c.SecondTicket) + c.Client.size() + c.Server.size()
	for _, a := range c.Addresses {
		n += 6 + len(a.Data)
	}
	for _, a := range c.AuthData {
		n += 6 + len(a.Data)
	}
	return n
}

// size is the encoded size of p.
func (p *Principal) size() int {
	n := 12 + len(p.Realm)
	for _, s := range p.Components {
		n += 4 + len(s)
	}
	return n
}

// Marshal returns the cache in its version (3 or 4; 0 means 4). The
// output holds the session keys.
func (f *File) Marshal() []byte {
	v := f.Version
	if v != 3 {
		v = 4
	}
	n := 64 + f.Principal.size()
	for i := range f.Credentials {
		n += f.Credentials[i].size()
	}
	e := &encoder{b: make([]byte, 0, n), version: v}
	e.u8(5)
	e.u8(uint8(v))
	if v == 4 {
		if f.HasTimeOffset {
			e.u16(12)
			e.u16(1)
			e.u16(8)
			e.u32(uint32(f.TimeOffset))
			e.u32(uint32(f.USecOffset))
		} else {
			e.u16(0)
		}
	}
	e.principal(f.Principal)
	for i := range f.Credentials {
		e.credential(&f.Credentials[i])
	}
	return e.b
}

// MarshalPrincipal returns p in the version 4 format.
func MarshalPrincipal(p Principal) []byte {
	e := &encoder{version: 4}
	e.principal(p)
	return e.b
}

// MarshalCredential returns c in the version 4 format. The output holds
// the session key.
func MarshalCredential(c *Credential) []byte {
	e := &encoder{b: make([]byte, 0, c.size()), version: 4}
	e.credential(c)
	return e.b
}
