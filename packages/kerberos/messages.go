package kerberos

import (
	"encoding/binary"
	"errors"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// GSS token framing (RFC 2743 3.1, RFC 4121 4.1).

// TOK_IDs of the context tokens (RFC 4121 4.1).
const (
	tokAPReq    = 0x0100
	tokAPRep    = 0x0200
	tokKRBError = 0x0300
)

var (
	// oidKrb5 is 1.2.840.113554.1.2.2 with its DER tag and length.
	oidKrb5 = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}
	// oidMSKrb5 is 1.2.840.48018.1.2.2, the OID older Windows put in SPNEGO.
	oidMSKrb5 = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02}
)

// errMalformed is the cause of SEC_E_INVALID_TOKEN for a token that does
// not parse.
var errMalformed = errors.New("kerberos: malformed token")

// appendDERLength appends a DER definite length.
func appendDERLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// frameToken wraps a Kerberos message in the InitialContextToken framing
// with the krb5 OID and tokID.
func frameToken(tokID uint16, msg []byte) []byte {
	inner := len(oidKrb5) + 2 + len(msg)
	b := make([]byte, 0, inner+6)
	b = append(b, 0x60)
	b = appendDERLength(b, inner)
	b = append(b, oidKrb5...)
	b = append(b, byte(tokID>>8), byte(tokID))
	return append(b, msg...)
}

// parseFraming splits a framed token into its TOK_ID and message. It
// accepts both the standard and the Microsoft krb5 OID.
func parseFraming(b []byte) (tokID uint16, msg []byte, err error) {
	s := cryptobyte.String(b)
	var body cryptobyte.String
	if !s.ReadASN1(&body, asn1.Tag(0x60)) || !s.Empty() {
		return 0, nil, errMalformed
	}
	if len(body) < len(oidKrb5)+2 {
		return 0, nil, errMalformed
	}
	oid := body[:len(oidKrb5)]
	if string(oid) != string(oidKrb5) && string(oid) != string(oidMSKrb5) {
		return 0, nil, errors.New("kerberos: token for another mechanism")
	}
	rest := body[len(oidKrb5):]
	return binary.BigEndian.Uint16(rest), rest[2:], nil
}

// The authenticator checksum of RFC 4121 4.1.1 (type 0x8003).

const cksumTypeGSS = 0x8003

// GSS context flags carried in the checksum (RFC 4121 4.1.1.1, RFC 4757 7.1).
const (
	gssDeleg       = 0x1
	gssMutual      = 0x2
	gssReplay      = 0x4
	gssSequence    = 0x8
	gssConf        = 0x10
	gssInteg       = 0x20
	gssDCEStyle    = 0x1000
	gssIdentify    = 0x2000
	gssExtendedErr = 0x4000
)

type gssChecksum struct {
	bnd   [16]byte // MD5 of the channel bindings, zero when none
	flags uint32
	deleg []byte // KRB-CRED, when flags has gssDeleg
}

func (c *gssChecksum) marshal() []byte {
	n := 24
	if c.deleg != nil {
		n += 4 + len(c.deleg)
	}
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b, 16)
	copy(b[4:20], c.bnd[:])
	binary.LittleEndian.PutUint32(b[20:], c.flags)
	if c.deleg != nil {
		binary.LittleEndian.PutUint16(b[24:], 1)
		binary.LittleEndian.PutUint16(b[26:], uint16(len(c.deleg)))
		copy(b[28:], c.deleg)
	}
	return b
}

func parseGSSChecksum(b []byte) (*gssChecksum, error) {
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 16 {
		return nil, errors.New("kerberos: malformed authenticator checksum")
	}
	c := &gssChecksum{flags: binary.LittleEndian.Uint32(b[20:])}
	copy(c.bnd[:], b[4:20])
	if c.flags&gssDeleg != 0 {
		if len(b) < 28 || binary.LittleEndian.Uint16(b[24:]) != 1 {
			return nil, errors.New("kerberos: malformed delegation field")
		}
		n := int(binary.LittleEndian.Uint16(b[26:]))
		if len(b) < 28+n {
			return nil, errors.New("kerberos: truncated delegation field")
		}
		c.deleg = b[28 : 28+n]
	}
	return c, nil
}

// Authorization data types (RFC 4120 7.5.4, MS-KILE 2.2.8).
const (
	adIfRelevant        = 1
	adAuthDataAPOptions = 143
	kerbAPOptionsCBT    = 0x4000
)

// apOptionsCBT returns the DER of AuthorizationData holding one
// AD-AUTH-DATA-AP-OPTIONS entry with KERB_AP_OPTIONS_CBT (a 32-bit
// little-endian integer), the content of the AD-IF-RELEVANT element.
func apOptionsCBT() ([]byte, error) {
	var v [4]byte
	binary.LittleEndian.PutUint32(v[:], kerbAPOptionsCBT)
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(adAuthDataAPOptions) })
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1OctetString(v[:]) })
		})
	})
	return b.Bytes()
}

// AP-REP (RFC 4120 5.5.2), which gokrb5 can parse but not build.

// encAPRepPart is EncAPRepPart.
type encAPRepPart struct {
	ctime  time.Time
	cusec  int
	subkey types.EncryptionKey // KeyType 0: absent
	seq    int64               // -1: absent
}

func (e *encAPRepPart) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(27), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { addKerberosTime(b, e.ctime) })
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.cusec)) })
			if e.subkey.KeyType != 0 {
				b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addEncryptionKey(b, e.subkey) })
			}
			if e.seq >= 0 {
				b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) { b.AddASN1Int64(e.seq) })
			}
		})
	})
	return b.Bytes()
}

// marshalAPRep builds AP-REP around an encrypted EncAPRepPart.
func marshalAPRep(etype int32, cipher []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(15), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(5) })
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(15) })
			b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addEncryptedData(b, etype, 0, cipher) })
		})
	})
	return b.Bytes()
}

// KRB-CRED (RFC 4120 5.8) for delegation: one forwarded TGT.

type credInfo struct {
	t      *ticket
	srealm string
	sname  types.PrincipalName
}

func marshalEncKrbCredPart(ci *credInfo, now time.Time) ([]byte, error) {
	var b cryptobyte.Builder
	t := ci.t
	b.AddASN1(appTag(29), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { addEncryptionKey(b, t.key) })
						b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { addGeneralString(b, t.crealm) })
						b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addPrincipalName(b, t.cname) })
						b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) {
							b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) {
								b.AddBytes([]byte{0, byte(t.flags >> 24), byte(t.flags >> 16), byte(t.flags >> 8), byte(t.flags)})
							})
						})
						b.AddASN1(ctxTag(4), func(b *cryptobyte.Builder) { addKerberosTime(b, t.authTime) })
						b.AddASN1(ctxTag(5), func(b *cryptobyte.Builder) { addKerberosTime(b, t.startTime) })
						b.AddASN1(ctxTag(6), func(b *cryptobyte.Builder) { addKerberosTime(b, t.endTime) })
						if !t.renewTill.IsZero() {
							b.AddASN1(ctxTag(7), func(b *cryptobyte.Builder) { addKerberosTime(b, t.renewTill) })
						}
						b.AddASN1(ctxTag(8), func(b *cryptobyte.Builder) { addGeneralString(b, ci.srealm) })
						b.AddASN1(ctxTag(9), func(b *cryptobyte.Builder) { addPrincipalName(b, ci.sname) })
					})
				})
			})
			b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addKerberosTime(b, now) })
			b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(now.Nanosecond() / 1000)) })
		})
	})
	return b.Bytes()
}

func marshalKRBCred(ticketDER []byte, etype int32, cipher []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(22), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(5) })
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(22) })
			b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(ticketDER) })
			})
			b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) { addEncryptedData(b, etype, 0, cipher) })
		})
	})
	return b.Bytes()
}

// AP-REQ (RFC 4120 5.5.1), built here rather than by gokrb5, whose
// reflective encoder re-encodes the ticket and the authenticator field by
// field at every call.

// authenticator is the Authenticator of an AP-REQ as this package sends
// it: always a GSS checksum (RFC 4121 4.1.1), a subkey and a sequence
// number.
type authenticator struct {
	crealm string
	cname  types.PrincipalName
	cksum  []byte // the 0x8003 checksum's value
	ctime  time.Time
	cusec  int
	subkey types.EncryptionKey
	seq    uint32
	ad     []byte // the content of an AD-IF-RELEVANT element, or nil
}

func (a *authenticator) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(2), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(5) })
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { addGeneralString(b, a.crealm) })
			b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addPrincipalName(b, a.cname) })
			b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(cksumTypeGSS) })
					b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1OctetString(a.cksum) })
				})
			})
			b.AddASN1(ctxTag(4), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(a.cusec)) })
			b.AddASN1(ctxTag(5), func(b *cryptobyte.Builder) { addKerberosTime(b, a.ctime) })
			b.AddASN1(ctxTag(6), func(b *cryptobyte.Builder) { addEncryptionKey(b, a.subkey) })
			b.AddASN1(ctxTag(7), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(a.seq)) })
			if a.ad != nil {
				b.AddASN1(ctxTag(8), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(adIfRelevant) })
							b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1OctetString(a.ad) })
						})
					})
				})
			}
		})
	})
	return b.Bytes()
}

// addTicket adds a Ticket (RFC 4120 5.3) as gokrb5's Ticket.Marshal
// encodes it.
func addTicket(b *cryptobyte.Builder, t *messages.Ticket) {
	b.AddASN1(appTag(1), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(t.TktVNO)) })
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { addGeneralString(b, t.Realm) })
			b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addPrincipalName(b, t.SName) })
			b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) { addEncryptedData(b, t.EncPart.EType, t.EncPart.KVNO, t.EncPart.Cipher) })
		})
	})
}

// buildAPReq returns the AP-REQ of t with a's authenticator encrypted
// under the ticket's session key, in the InitialContextToken framing
// unless bare (DCE style). mutual sets the mutual-required AP option.
func buildAPReq(t *ticket, a *authenticator, mutual, bare bool) ([]byte, error) {
	plain, err := a.marshal()
	if err != nil {
		return nil, err
	}
	usage := uint32(keyusage.AP_REQ_AUTHENTICATOR)
	if len(t.ticket.SName.NameString) > 0 && t.ticket.SName.NameString[0] == "krbtgt" {
		usage = keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR
	}
	cipher, err := encryptEncPart(t.key, usage, plain)
	clear(plain) // the subkey
	if err != nil {
		return nil, err
	}
	var opts byte
	if mutual {
		opts = 0x20 // mutual-required (bit 2)
	}
	apReq := func(b *cryptobyte.Builder) {
		b.AddASN1(appTag(14), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(5) })
				b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(14) })
				b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes([]byte{0, opts, 0, 0, 0}) })
				})
				b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) { addTicket(b, &t.ticket) })
				b.AddASN1(ctxTag(4), func(b *cryptobyte.Builder) { addEncryptedData(b, t.key.KeyType, 0, cipher) })
			})
		})
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, len(t.ticket.EncPart.Cipher)+len(cipher)+256))
	if bare {
		apReq(b)
	} else {
		b.AddASN1(asn1.Tag(0x60), func(b *cryptobyte.Builder) {
			b.AddBytes(oidKrb5)
			b.AddUint16(tokAPReq)
			apReq(b)
		})
	}
	return b.Bytes()
}
