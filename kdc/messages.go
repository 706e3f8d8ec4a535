package kdc

// DER encoders of the replies (RFC 4120 5) and decoders of the few request
// parts gokrb5 does not expose, written with cryptobyte.

import (
	"encoding/binary"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/jcmturner/gokrb5/v8/types"
)

func ctxTag(n int) asn1.Tag { return asn1.Tag(n).ContextSpecific().Constructed() }

func appTag(n int) asn1.Tag { return asn1.Tag(n).Constructed() | 0x40 }

const (
	tagGeneralString   = asn1.Tag(27)
	tagGeneralizedTime = asn1.Tag(24)
)

// Message types (RFC 4120 5.10) and application tags.
const (
	msgASReq     = 10
	msgASRep     = 11
	msgTGSReq    = 12
	msgTGSRep    = 13
	msgKRBError  = 30
	tagTicket    = 1
	tagEncTicket = 3
	tagEncASRep  = 25
	tagEncTGSRep = 26
)

func addInt(b *cryptobyte.Builder, n int, v int64) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) { b.AddASN1Int64(v) })
}

func addOctets(b *cryptobyte.Builder, n int, v []byte) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) { b.AddASN1OctetString(v) })
}

func addString(b *cryptobyte.Builder, n int, s string) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) {
		b.AddASN1(tagGeneralString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
	})
}

// addTime adds a KerberosTime: GeneralizedTime, no fraction.
func addTime(b *cryptobyte.Builder, n int, t time.Time) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) {
		b.AddASN1(tagGeneralizedTime, func(b *cryptobyte.Builder) {
			b.AddBytes([]byte(t.UTC().Format("20060102150405Z")))
		})
	})
}

func addFlags(b *cryptobyte.Builder, n int, flags uint32) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) {
		b.AddASN1BitString(binary.BigEndian.AppendUint32(nil, flags))
	})
}

func addPrincipal(b *cryptobyte.Builder, n int, p types.PrincipalName) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, int64(p.NameType))
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, s := range p.NameString {
						b.AddASN1(tagGeneralString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
					}
				})
			})
		})
	})
}

func addKey(b *cryptobyte.Builder, n int, k types.EncryptionKey) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, int64(k.KeyType))
			addOctets(b, 1, k.KeyValue)
		})
	})
}

func addEncryptedData(b *cryptobyte.Builder, n int, ed types.EncryptedData) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, int64(ed.EType))
			if ed.KVNO > 0 {
				addInt(b, 1, int64(ed.KVNO))
			}
			addOctets(b, 2, ed.Cipher)
		})
	})
}

// marshalPAData encodes a METHOD-DATA / PA-DATA sequence body.
func addPAData(b *cryptobyte.Builder, pas []types.PAData) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, pa := range pas {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				addInt(b, 1, int64(pa.PADataType))
				addOctets(b, 2, pa.PADataValue)
			})
		}
	})
}

func marshalPAData(pas []types.PAData) ([]byte, error) {
	var b cryptobyte.Builder
	addPAData(&b, pas)
	return b.Bytes()
}

// etypeInfo2Entry is one ETYPE-INFO2-ENTRY (RFC 4120 5.2.7.5).
type etypeInfo2Entry struct {
	etype int32
	salt  string
}

func marshalETypeInfo2(es []etypeInfo2Entry) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, e := range es {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				addInt(b, 0, int64(e.etype))
				if e.etype != RC4HMAC {
					addString(b, 1, e.salt)
				}
			})
		}
	})
	return b.Bytes()
}

// ticketPart is what an EncTicketPart holds (RFC 4120 5.3).
type ticketPart struct {
	flags     uint32
	key       types.EncryptionKey
	crealm    string
	cname     types.PrincipalName
	transited []byte // DOMAIN-X500-COMPRESS contents
	authTime  time.Time
	startTime time.Time
	endTime   time.Time
	renewTill time.Time // zero: not renewable
	authData  []adElement
}

// adElement is one AuthorizationData element.
type adElement struct {
	typ  int32
	data []byte
}

func addAuthData(b *cryptobyte.Builder, ad []adElement) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, e := range ad {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				addInt(b, 0, int64(e.typ))
				addOctets(b, 1, e.data)
			})
		}
	})
}

func marshalAuthData(ad []adElement) ([]byte, error) {
	var b cryptobyte.Builder
	addAuthData(&b, ad)
	return b.Bytes()
}

func (t *ticketPart) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(tagEncTicket), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addFlags(b, 0, t.flags)
			addKey(b, 1, t.key)
			addString(b, 2, t.crealm)
			addPrincipal(b, 3, t.cname)
			b.AddASN1(ctxTag(4), func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addInt(b, 0, 1) // DOMAIN-X500-COMPRESS
					addOctets(b, 1, t.transited)
				})
			})
			addTime(b, 5, t.authTime)
			addTime(b, 6, t.startTime)
			addTime(b, 7, t.endTime)
			if !t.renewTill.IsZero() {
				addTime(b, 8, t.renewTill)
			}
			if len(t.authData) > 0 {
				b.AddASN1(ctxTag(10), func(b *cryptobyte.Builder) { addAuthData(b, t.authData) })
			}
		})
	})
	return b.Bytes()
}

// addTicket adds a Ticket (RFC 4120 5.3).
func addTicket(b *cryptobyte.Builder, realm string, sname types.PrincipalName, ed types.EncryptedData) {
	b.AddASN1(appTag(tagTicket), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, 5)
			addString(b, 1, realm)
			addPrincipal(b, 2, sname)
			addEncryptedData(b, 3, ed)
		})
	})
}

// repPart is what an EncKDCRepPart holds (RFC 4120 5.4.2).
type repPart struct {
	key       types.EncryptionKey
	nonce     int64
	keyExp    time.Time
	flags     uint32
	authTime  time.Time
	startTime time.Time
	endTime   time.Time
	renewTill time.Time
	srealm    string
	sname     types.PrincipalName
	encPAData []types.PAData
}

func (r *repPart) marshal(tag int) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(tag), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addKey(b, 0, r.key)
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { // last-req: the time of this logon
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						addInt(b, 0, 0)
						addTime(b, 1, r.authTime)
					})
				})
			})
			addInt(b, 2, r.nonce)
			if !r.keyExp.IsZero() {
				addTime(b, 3, r.keyExp)
			}
			addFlags(b, 4, r.flags)
			addTime(b, 5, r.authTime)
			addTime(b, 6, r.startTime)
			addTime(b, 7, r.endTime)
			if !r.renewTill.IsZero() {
				addTime(b, 8, r.renewTill)
			}
			addString(b, 9, r.srealm)
			addPrincipal(b, 10, r.sname)
			if len(r.encPAData) > 0 {
				b.AddASN1(ctxTag(12), func(b *cryptobyte.Builder) { addPAData(b, r.encPAData) })
			}
		})
	})
	return b.Bytes()
}

// kdcRep is an AS-REP or TGS-REP (RFC 4120 5.4.2).
type kdcRep struct {
	msgType int
	padata  []types.PAData
	crealm  string
	cname   types.PrincipalName
	// the ticket
	trealm string
	sname  types.PrincipalName
	ticket types.EncryptedData
	enc    types.EncryptedData
}

func (r *kdcRep) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(r.msgType), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, 5)
			addInt(b, 1, int64(r.msgType))
			if len(r.padata) > 0 {
				b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addPAData(b, r.padata) })
			}
			addString(b, 3, r.crealm)
			addPrincipal(b, 4, r.cname)
			b.AddASN1(ctxTag(5), func(b *cryptobyte.Builder) { addTicket(b, r.trealm, r.sname, r.ticket) })
			addEncryptedData(b, 6, r.enc)
		})
	})
	return b.Bytes()
}

// krbError is a KRB-ERROR (RFC 4120 5.9.1).
type krbError struct {
	ctime  time.Time
	cusec  int
	stime  time.Time
	code   int32
	crealm string
	cname  types.PrincipalName
	realm  string
	sname  types.PrincipalName
	etext  string
	edata  []byte
}

func (e *krbError) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(appTag(msgKRBError), func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, 5)
			addInt(b, 1, msgKRBError)
			if !e.ctime.IsZero() {
				addTime(b, 2, e.ctime)
				addInt(b, 3, int64(e.cusec))
			}
			addTime(b, 4, e.stime)
			addInt(b, 5, int64(e.stime.Nanosecond()/1000))
			addInt(b, 6, int64(e.code))
			if e.crealm != "" {
				addString(b, 7, e.crealm)
			}
			if len(e.cname.NameString) > 0 {
				addPrincipal(b, 8, e.cname)
			}
			addString(b, 9, e.realm)
			addPrincipal(b, 10, e.sname)
			if e.etext != "" {
				addString(b, 11, e.etext)
			}
			if len(e.edata) > 0 {
				addOctets(b, 12, e.edata)
			}
		})
	})
	return b.Bytes()
}

// kerbErrorData returns KERB-ERROR-DATA (MS-KILE 2.2.1) of type
// KERB_ERR_TYPE_EXTENDED holding KERB-EXT-ERROR with ntstatus, as an AD
// KDC puts it in e-data.
func kerbErrorData(ntstatus uint32) []byte {
	ext := make([]byte, 12)
	binary.LittleEndian.PutUint32(ext, ntstatus)
	binary.LittleEndian.PutUint32(ext[8:], 1)
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addInt(b, 1, 3)
		addOctets(b, 2, ext)
	})
	return b.BytesOrPanic()
}

// reqBody returns the DER of the KDC-REQ-BODY of a KDC-REQ, as sent: the
// bytes the TGS-REQ authenticator checksum covers (RFC 4120 5.5.1).
func reqBody(req []byte, msgType int) ([]byte, bool) {
	s := cryptobyte.String(req)
	var outer, seq cryptobyte.String
	if !s.ReadASN1(&outer, appTag(msgType)) || !s.Empty() || !outer.ReadASN1(&seq, asn1.SEQUENCE) || !outer.Empty() {
		return nil, false
	}
	for !seq.Empty() {
		var elem cryptobyte.String
		var tag asn1.Tag
		if !seq.ReadAnyASN1(&elem, &tag) {
			return nil, false
		}
		if tag == ctxTag(4) {
			var body cryptobyte.String
			if !elem.ReadASN1Element(&body, asn1.SEQUENCE) || !elem.Empty() {
				return nil, false
			}
			return body, true
		}
	}
	return nil, false
}

// parseEncTS reads PA-ENC-TS-ENC (RFC 4120 5.2.7.2).
func parseEncTS(b []byte) (time.Time, int, bool) {
	s := cryptobyte.String(b)
	var seq, ts, usecField cryptobyte.String
	var present bool
	if !s.ReadASN1(&seq, asn1.SEQUENCE) || !s.Empty() || !seq.ReadASN1(&ts, ctxTag(0)) ||
		!seq.ReadOptionalASN1(&usecField, &present, ctxTag(1)) || !seq.Empty() {
		return time.Time{}, 0, false
	}
	t, ok := readKerberosTime(ts)
	if !ok {
		return time.Time{}, 0, false
	}
	usec := int64(0)
	if present && (!usecField.ReadASN1Int64WithTag(&usec, asn1.INTEGER) || !usecField.Empty() || usec < 0 || usec > 999999) {
		return time.Time{}, 0, false
	}
	return t, int(usec), true
}

// readKerberosTime reads a GeneralizedTime "YYYYMMDDHHMMSSZ".
func readKerberosTime(s cryptobyte.String) (time.Time, bool) {
	var v cryptobyte.String
	if !s.ReadASN1(&v, tagGeneralizedTime) || !s.Empty() {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102150405Z", string(v))
	return t, err == nil
}

// parsePACRequest reads KERB-PA-PAC-REQUEST (MS-KILE 2.2.3):
// SEQUENCE { include-pac [0] BOOLEAN }.
func parsePACRequest(b []byte) (include, ok bool) {
	s := cryptobyte.String(b)
	var seq, f cryptobyte.String
	if !s.ReadASN1(&seq, asn1.SEQUENCE) || !s.Empty() || !seq.ReadASN1(&f, ctxTag(0)) || !seq.Empty() {
		return false, false
	}
	var v bool
	if !f.ReadASN1Boolean(&v) || !f.Empty() {
		return false, false
	}
	return v, true
}

// forUser is PA-FOR-USER (MS-SFU 2.2.1).
type forUser struct {
	name        types.PrincipalName
	realm       string
	cksumType   int32
	cksum       []byte
	authPackage string
}

func readGeneralString(s *cryptobyte.String, tag asn1.Tag) (string, bool) {
	var f, v cryptobyte.String
	if !s.ReadASN1(&f, tag) || !f.ReadASN1(&v, tagGeneralString) || !f.Empty() {
		return "", false
	}
	return string(v), true
}

func readPrincipal(s *cryptobyte.String, tag asn1.Tag) (types.PrincipalName, bool) {
	var f, seq, nt, names cryptobyte.String
	var p types.PrincipalName
	var t int64
	if !s.ReadASN1(&f, tag) || !f.ReadASN1(&seq, asn1.SEQUENCE) || !f.Empty() ||
		!seq.ReadASN1(&nt, ctxTag(0)) || !nt.ReadASN1Int64WithTag(&t, asn1.INTEGER) || !nt.Empty() ||
		!seq.ReadASN1(&names, ctxTag(1)) || !seq.Empty() {
		return p, false
	}
	var list cryptobyte.String
	if !names.ReadASN1(&list, asn1.SEQUENCE) || !names.Empty() {
		return p, false
	}
	p.NameType = int32(t)
	for !list.Empty() {
		var v cryptobyte.String
		if !list.ReadASN1(&v, tagGeneralString) || len(p.NameString) >= maxNameComponents {
			return p, false
		}
		p.NameString = append(p.NameString, string(v))
	}
	return p, len(p.NameString) > 0
}

const maxNameComponents = 8

func parseForUser(b []byte) (*forUser, bool) {
	s := cryptobyte.String(b)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, asn1.SEQUENCE) || !s.Empty() {
		return nil, false
	}
	fu := &forUser{}
	var ok bool
	if fu.name, ok = readPrincipal(&seq, ctxTag(0)); !ok {
		return nil, false
	}
	if fu.realm, ok = readGeneralString(&seq, ctxTag(1)); !ok {
		return nil, false
	}
	var ck, ckSeq, ctype, cval cryptobyte.String
	var t int64
	if !seq.ReadASN1(&ck, ctxTag(2)) || !ck.ReadASN1(&ckSeq, asn1.SEQUENCE) || !ck.Empty() ||
		!ckSeq.ReadASN1(&ctype, ctxTag(0)) || !ctype.ReadASN1Int64WithTag(&t, asn1.INTEGER) || !ctype.Empty() ||
		!ckSeq.ReadASN1(&cval, ctxTag(1)) || !cval.ReadASN1Bytes(&fu.cksum, asn1.OCTET_STRING) || !cval.Empty() || !ckSeq.Empty() {
		return nil, false
	}
	fu.cksumType = int32(t)
	if fu.authPackage, ok = readGeneralString(&seq, ctxTag(3)); !ok || !seq.Empty() {
		return nil, false
	}
	return fu, true
}

// forUserChecksumData is what PA-FOR-USER's checksum covers (MS-SFU
// 2.2.1): the name type (little-endian), the name strings, the realm and
// the auth package, concatenated.
func forUserChecksumData(name types.PrincipalName, realm, pkg string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(name.NameType))
	for _, s := range name.NameString {
		b = append(b, s...)
	}
	b = append(b, realm...)
	return append(b, pkg...)
}

// parseAuthData reads AuthorizationData (a SEQUENCE of ad-type,
// ad-data), bounded by the caller's input.
func parseAuthData(b []byte) ([]adElement, bool) {
	s := cryptobyte.String(b)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, asn1.SEQUENCE) || !s.Empty() {
		return nil, false
	}
	var out []adElement
	for !seq.Empty() {
		var e, ft, fd cryptobyte.String
		var t int64
		var d []byte
		if !seq.ReadASN1(&e, asn1.SEQUENCE) || !e.ReadASN1(&ft, ctxTag(0)) || !ft.ReadASN1Int64WithTag(&t, asn1.INTEGER) || !ft.Empty() ||
			!e.ReadASN1(&fd, ctxTag(1)) || !fd.ReadASN1Bytes(&d, asn1.OCTET_STRING) || !fd.Empty() || !e.Empty() {
			return nil, false
		}
		if len(out) >= 64 {
			return nil, false
		}
		out = append(out, adElement{typ: int32(t), data: d})
	}
	return out, true
}

// maxDERDepth bounds the nesting checkDER walks.
const maxDERDepth = 24

// checkDER reports whether b is one DER element whose constructed
// elements, down to maxDERDepth, all hold well-formed elements and
// nothing else, each context-specific one exactly one element. Requests pass this before gokrb5 sees them: its
// hand-written parts (the sequence of additional tickets) index into
// their input without bounds checks.
func checkDER(b []byte) bool {
	s := cryptobyte.String(b)
	return checkElements(&s, 0) && s.Empty()
}

func checkElements(s *cryptobyte.String, depth int) bool {
	if depth > maxDERDepth {
		return false
	}
	for !s.Empty() {
		var body cryptobyte.String
		var tag asn1.Tag
		if !s.ReadAnyASN1(&body, &tag) {
			return false
		}
		if tag&0x20 == 0 {
			continue
		}
		if explicitField(tag) {
			// RFC 4120 tags every field EXPLICIT: one element inside, no
			// more (gokrb5's decoder misreads the rest).
			inner := body
			var one cryptobyte.String
			var t asn1.Tag
			if !inner.ReadAnyASN1(&one, &t) || !inner.Empty() {
				return false
			}
		}
		if !checkElements(&body, depth+1) {
			return false
		}
	}
	return true
}

// explicitField reports whether tag is that of a field of a Kerberos
// SEQUENCE: context-specific and constructed (every field is EXPLICIT).
func explicitField(tag asn1.Tag) bool {
	return tag&0xe0 == 0xa0
}

// checkAdditionalTickets reports whether the additional-tickets of a
// KDC-REQ, if any, are a SEQUENCE of Tickets ([APPLICATION 1]) and
// nothing else.
func checkAdditionalTickets(req []byte, msgType int) bool {
	s := cryptobyte.String(req)
	var outer, seq cryptobyte.String
	if !s.ReadASN1(&outer, appTag(msgType)) || !s.Empty() || !outer.ReadASN1(&seq, asn1.SEQUENCE) || !outer.Empty() {
		return false
	}
	var body cryptobyte.String
	for !seq.Empty() {
		var elem cryptobyte.String
		var tag asn1.Tag
		if !seq.ReadAnyASN1(&elem, &tag) || !explicitField(tag) {
			return false
		}
		if tag == ctxTag(4) {
			if !elem.ReadASN1(&body, asn1.SEQUENCE) || !elem.Empty() {
				return false
			}
		}
	}
	for !body.Empty() {
		var elem cryptobyte.String
		var tag asn1.Tag
		if !body.ReadAnyASN1(&elem, &tag) || !explicitField(tag) {
			return false
		}
		if tag != ctxTag(11) {
			continue
		}
		var tickets cryptobyte.String
		if !elem.ReadASN1(&tickets, asn1.SEQUENCE) || !elem.Empty() {
			return false
		}
		for !tickets.Empty() {
			var t, tseq cryptobyte.String
			if !tickets.ReadASN1(&t, appTag(tagTicket)) || !t.ReadASN1(&tseq, asn1.SEQUENCE) || !t.Empty() {
				return false
			}
		}
	}
	return true
}
