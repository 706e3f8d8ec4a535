package testkit

// Kerberos tickets with a PAC, minted without a KDC, for tests of the
// acceptor's PAC handling: the PAC buffers of MS-PAC, its server
// signature, and a ticket whose authorization data carries it.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// PAC buffer types (MS-PAC 2.4) the tests use.
const (
	PACLogonInfo       = 1
	PACServerChecksum  = 6
	PACPrivSvrChecksum = 7
	PACClientInfo      = 10
	PACUPNDNSInfo      = 12
)

// PACBuffer is one buffer of a PAC to lay out with [PAC].
type PACBuffer struct {
	Type uint32
	Data []byte
}

// PAC lays out a PACTYPE (MS-PAC 2.3): the header, the PAC_INFO_BUFFERs,
// then each buffer's data at the next 8-byte boundary, in order.
func PAC(bufs []PACBuffer) []byte {
	le := binary.LittleEndian
	off := 8 + 16*len(bufs)
	b := le.AppendUint32(nil, uint32(len(bufs)))
	b = le.AppendUint32(b, 0)
	var body []byte
	for _, p := range bufs {
		b = le.AppendUint32(b, p.Type)
		b = le.AppendUint32(b, uint32(len(p.Data)))
		b = le.AppendUint64(b, uint64(off+len(body)))
		body = append(body, p.Data...)
		for len(body)%8 != 0 {
			body = append(body, 0)
		}
	}
	return append(b, body...)
}

// SignatureBuffer returns an unsigned PAC_SIGNATURE_DATA (MS-PAC 2.8)
// for the checksum type of key's enctype, to be filled by [SignPAC].
func SignatureBuffer(key types.EncryptionKey) ([]byte, error) {
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	typ := et.GetHashID()
	n := signatureLen(typ)
	if n == 0 {
		return nil, fmt.Errorf("testkit: no PAC signature length for checksum type %d", typ)
	}
	return append(binary.LittleEndian.AppendUint32(nil, uint32(typ)), make([]byte, n)...), nil
}

func signatureLen(typ int32) int {
	switch typ {
	case -138, 19:
		return 16
	case 15, 16:
		return 12
	case 20:
		return 24
	}
	return 0
}

// SignPAC computes, in place, the server signature of the PAC b with key
// (MS-PAC 2.8.3): the checksum of the PAC whose server and KDC Signature
// fields are zero. The KDC signature is left zero.
func SignPAC(b []byte, key types.EncryptionKey) error {
	le := binary.LittleEndian
	if len(b) < 8 {
		return errors.New("testkit: short PAC")
	}
	n := int(le.Uint32(b))
	var server []byte
	for i := range n {
		e := b[8+16*i:]
		typ, size, off := le.Uint32(e), int(le.Uint32(e[4:])), int(le.Uint64(e[8:]))
		if typ != PACServerChecksum && typ != PACPrivSvrChecksum {
			continue
		}
		sig := b[off : off+size]
		clear(sig[4 : 4+signatureLen(int32(le.Uint32(sig)))])
		if typ == PACServerChecksum {
			server = sig
		}
	}
	if server == nil {
		return errors.New("testkit: PAC without a server signature buffer")
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return err
	}
	mac, err := et.GetChecksumHash(key.KeyValue, b, keyusage.KERB_NON_KERB_CKSUM_SALT)
	if err != nil {
		return err
	}
	copy(server[4:4+signatureLen(int32(le.Uint32(server)))], mac)
	return nil
}

// SignedPAC lays out bufs followed by a server and a KDC signature and
// signs it with key.
func SignedPAC(key types.EncryptionKey, bufs ...PACBuffer) ([]byte, error) {
	sig, err := SignatureBuffer(key)
	if err != nil {
		return nil, err
	}
	all := append(append([]PACBuffer(nil), bufs...),
		PACBuffer{PACServerChecksum, sig},
		PACBuffer{PACPrivSvrChecksum, append([]byte(nil), sig...)})
	b := PAC(all)
	if err := SignPAC(b, key); err != nil {
		return nil, err
	}
	return b, nil
}

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// ClientInfo returns PAC_CLIENT_INFO (MS-PAC 2.7) for name and authTime.
func ClientInfo(name string, authTime time.Time) []byte {
	n := utf16le(name)
	b := binary.LittleEndian.AppendUint64(nil, uint64(authTime.Unix()+11644473600)*10000000)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(n)))
	return append(b, n...)
}

// UPNDNSInfo returns UPN_DNS_INFO (MS-PAC 2.10) as Windows lays it out:
// the fixed part (20 bytes when flags has the S bit 0x2, else 12), then
// the UPN, the DNS domain name and, with S, the SAM name and the SID,
// each at the next 8-byte boundary, offsets from the buffer's start.
func UPNDNSInfo(upn, dns string, flags uint32, sam string, sid []byte) []byte {
	le := binary.LittleEndian
	fields := [][]byte{utf16le(upn), utf16le(dns)}
	fixed := 12
	if flags&0x2 != 0 {
		fields = append(fields, utf16le(sam), sid)
		fixed = 20
	}
	b := make([]byte, fixed)
	le.PutUint32(b[8:], flags)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
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

// BinarySID returns the binary form (MS-DTYP 2.4.2.2) of the SID with
// identifier authority auth and the sub-authorities subs.
func BinarySID(auth uint64, subs ...uint32) []byte {
	b := []byte{1, byte(len(subs))}
	for i := 5; i >= 0; i-- {
		b = append(b, byte(auth>>(8*i)))
	}
	for _, s := range subs {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	return b
}

// Kerberos ASN.1 (RFC 4120 5.3) written with cryptobyte.
func ctxTag(n int) cbasn1.Tag { return cbasn1.Tag(n).ContextSpecific().Constructed() }

func addInt(b *cryptobyte.Builder, n int, v int64) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) { b.AddASN1Int64(v) })
}

func addOctets(b *cryptobyte.Builder, n int, v []byte) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) { b.AddASN1OctetString(v) })
}

func addGeneralString(b *cryptobyte.Builder, s string) {
	b.AddASN1(cbasn1.Tag(27), func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

func addTime(b *cryptobyte.Builder, n int, t time.Time) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) { b.AddASN1GeneralizedTime(t.UTC().Truncate(time.Second)) })
}

func addPrincipal(b *cryptobyte.Builder, n int, p types.PrincipalName) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, int64(p.NameType))
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, s := range p.NameString {
						addGeneralString(b, s)
					}
				})
			})
		})
	})
}

// TicketSpec describes a ticket for [MintTicket].
type TicketSpec struct {
	Client  types.PrincipalName
	Service types.PrincipalName
	Realm   string
	Key     types.EncryptionKey // the service key the ticket is sealed with
	KVNO    int
	Session types.EncryptionKey // the ticket's session key
	Flags   uint32              // TicketFlags, bit 0 the most significant
	Start   time.Time
	End     time.Time
	// PACs are the AD-WIN2K-PAC elements put in one AD-IF-RELEVANT
	// container (none: no authorization data).
	PACs [][]byte
}

// MintTicket seals a ticket as a KDC would (RFC 4120 5.3), with the
// authorization data of spec.
func MintTicket(spec TicketSpec) (messages.Ticket, error) {
	var etp cryptobyte.Builder
	etp.AddASN1(cbasn1.Tag(3).Constructed()|0x40, func(b *cryptobyte.Builder) { // [APPLICATION 3] EncTicketPart
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
				b.AddASN1BitString(binary.BigEndian.AppendUint32(nil, spec.Flags))
			})
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addInt(b, 0, int64(spec.Session.KeyType))
					addOctets(b, 1, spec.Session.KeyValue)
				})
			})
			b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addGeneralString(b, spec.Realm) })
			addPrincipal(b, 3, spec.Client)
			b.AddASN1(ctxTag(4), func(b *cryptobyte.Builder) { // transited
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addInt(b, 0, 1) // DOMAIN-X500-COMPRESS
					addOctets(b, 1, nil)
				})
			})
			addTime(b, 5, spec.Start)
			addTime(b, 6, spec.Start)
			addTime(b, 7, spec.End)
			if len(spec.PACs) > 0 {
				var ad cryptobyte.Builder // AD-IF-RELEVANT { AD-WIN2K-PAC ... }
				ad.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, p := range spec.PACs {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							addInt(b, 0, 128)
							addOctets(b, 1, p)
						})
					}
				})
				inner, err := ad.Bytes()
				b.AddValue(builderError{err})
				b.AddASN1(ctxTag(10), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							addInt(b, 0, 1) // AD-IF-RELEVANT
							addOctets(b, 1, inner)
						})
					})
				})
			}
		})
	})
	plain, err := etp.Bytes()
	if err != nil {
		return messages.Ticket{}, err
	}
	ed, err := crypto.GetEncryptedData(plain, spec.Key, keyusage.KDC_REP_TICKET, spec.KVNO)
	if err != nil {
		return messages.Ticket{}, err
	}
	return messages.Ticket{TktVNO: 5, Realm: spec.Realm, SName: spec.Service, EncPart: ed}, nil
}

// builderError makes a cryptobyte.Builder fail with err, when not nil.
type builderError struct{ err error }

func (e builderError) Marshal(b *cryptobyte.Builder) error { return e.err }

// APReq returns an RFC 4121 initial context token holding an AP-REQ for
// tkt, whose authenticator (client, now and usec) carries the 0x8003
// checksum without flags or channel bindings.
func APReq(tkt messages.Ticket, session types.EncryptionKey, client types.PrincipalName, realm string, now time.Time, usec int) ([]byte, error) {
	auth, err := types.NewAuthenticator(realm, client)
	if err != nil {
		return nil, err
	}
	auth.CTime, auth.Cusec = now.UTC().Truncate(time.Second), usec
	auth.Cksum = types.Checksum{CksumType: 0x8003, Checksum: append([]byte{16, 0, 0, 0}, make([]byte, 20)...)}
	req, err := messages.NewAPReq(tkt, session, auth)
	if err != nil {
		return nil, err
	}
	der, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0).Constructed()|0x40, func(b *cryptobyte.Builder) { // [APPLICATION 0]
		b.AddASN1ObjectIdentifier([]int{1, 2, 840, 113554, 1, 2, 2})
		b.AddBytes([]byte{0x01, 0x00}) // TOK_ID AP-REQ
		b.AddBytes(der)
	})
	return b.Bytes()
}
