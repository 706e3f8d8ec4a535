package kerberos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/patype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/status"
)

// asExchange gets a TGT with the password or client keytab (RFC 4120
// 3.1): a first AS-REQ without pre-authentication, then, after
// KDC_ERR_PREAUTH_REQUIRED, one with PA-ENC-TIMESTAMP under the key of the
// enctype and salt the KDC announced in PA-ETYPE-INFO2.
func (c *credentials) asExchange(ctx context.Context) (*ticket, error) {
	const op = "InitializeSecurityContext"
	req, err := messages.NewASReqForTGT(c.crealm, c.conf, c.cname)
	if err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	if len(req.ReqBody.EType) == 0 {
		req.ReqBody.EType = []int32{18, 17, 20, 19, 23}
	}
	b, err := req.Marshal()
	if err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	rep, err := c.roundTrip(ctx, op, c.crealm, b)
	var pas types.PADataSequence
	var preauthKey types.EncryptionKey
	if err != nil {
		var ke messages.KRBError
		if !errors.As(err, &ke) || ke.ErrorCode != errorcode.KDC_ERR_PREAUTH_REQUIRED {
			return nil, err
		}
		if err := pas.Unmarshal(ke.EData); err != nil {
			return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("kerberos: malformed METHOD-DATA: %w", err))
		}
		etype := c.preauthEtype(pas, req.ReqBody.EType)
		key, err := c.clientKey(ctx, etype, pas)
		if err != nil {
			return nil, keyError(op, err)
		}
		preauthKey = key
		defer clear(preauthKey.KeyValue)
		ts, err := c.encTimestamp(key)
		if err != nil {
			return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, err)
		}
		req.PAData = append(req.PAData, types.PAData{PADataType: patype.PA_ENC_TIMESTAMP, PADataValue: ts})
		if b, err = req.Marshal(); err != nil {
			return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, err)
		}
		if rep, err = c.roundTrip(ctx, op, c.crealm, b); err != nil {
			return nil, err
		}
	}
	var asRep messages.ASRep
	if err := asRep.Unmarshal(rep); err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("kerberos: malformed AS-REP: %w", err))
	}
	var key types.EncryptionKey
	if preauthKey.KeyType == asRep.EncPart.EType && len(preauthKey.KeyValue) > 0 && !hasEtypeInfo(asRep.PAData) {
		// The key the pre-authentication used: no second string-to-key.
		key = types.EncryptionKey{KeyType: preauthKey.KeyType, KeyValue: slices.Clone(preauthKey.KeyValue)}
	} else if key, err = c.clientKey(ctx, asRep.EncPart.EType, append(slices.Clone(asRep.PAData), pas...)); err != nil {
		return nil, keyError(op, err)
	}
	plain, err := decryptEncPart(asRep.EncPart, key, keyusage.AS_REP_ENCPART)
	clear(key.KeyValue)
	if err != nil {
		return nil, errorf(op, status.SEC_E_LOGON_DENIED, errors.New("kerberos: cannot decrypt the AS-REP: wrong password or key"))
	}
	var enc messages.EncKDCRepPart
	if err := enc.Unmarshal(plain); err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("kerberos: malformed EncASRepPart: %w", err))
	}
	if enc.Nonce != req.ReqBody.Nonce {
		return nil, errorf(op, status.SEC_E_LOGON_DENIED, errors.New("kerberos: AS-REP nonce mismatch"))
	}
	if !asRep.CName.Equal(c.cname) && len(asRep.CName.NameString) > 0 {
		c.cname = asRep.CName
	}
	return ticketFromRep(asRep.Ticket, enc, asRep.CName, asRep.CRealm), nil
}

func ticketFromRep(t messages.Ticket, enc messages.EncKDCRepPart, cname types.PrincipalName, crealm string) *ticket {
	start := enc.StartTime
	if start.IsZero() {
		start = enc.AuthTime
	}
	return &ticket{
		ticket: t, key: enc.Key, cname: cname, crealm: crealm,
		flags: flagsWord(enc.Flags.Bytes), authTime: enc.AuthTime, startTime: start,
		endTime: enc.EndTime, renewTill: enc.RenewTill,
	}
}

// preauthEtype picks the enctype of the first PA-ETYPE-INFO2 entry.
func (c *credentials) preauthEtype(pas types.PADataSequence, def []int32) int32 {
	for _, pa := range pas {
		if pa.PADataType == patype.PA_ETYPE_INFO2 {
			var info types.ETypeInfo2
			if info.Unmarshal(pa.PADataValue) == nil && len(info) > 0 {
				return info[0].EType
			}
		}
	}
	for _, pa := range pas {
		if pa.PADataType == patype.PA_ETYPE_INFO {
			var info types.ETypeInfo
			if info.Unmarshal(pa.PADataValue) == nil && len(info) > 0 {
				return info[0].EType
			}
		}
	}
	return def[0]
}

// clientKey returns the client's long-term key of etype: from the keytab,
// or the password's string-to-key with the salt and s2kparams of the
// first PA-ETYPE-INFO2 entry for etype in pas (else PA-ETYPE-INFO's or
// PA-PW-SALT's salt, else the default salt), bounded and interruptible
// (s2k.go).
func (c *credentials) clientKey(ctx context.Context, etype int32, pas types.PADataSequence) (types.EncryptionKey, error) {
	if c.clientKT != nil {
		k, _, err := c.clientKT.GetEncryptionKey(c.cname, c.crealm, 0, etype)
		if err != nil {
			return k, fmt.Errorf("kerberos: no key of enctype %d for the client in the keytab: %w", etype, err)
		}
		return types.EncryptionKey{KeyType: k.KeyType, KeyValue: slices.Clone(k.KeyValue)}, nil
	}
	salt, params, found := "", []byte(nil), false
	for _, pa := range pas {
		if found {
			break
		}
		switch pa.PADataType {
		case patype.PA_ETYPE_INFO2:
			var info types.ETypeInfo2
			if info.Unmarshal(pa.PADataValue) != nil {
				continue
			}
			for _, e := range info {
				if e.EType == etype {
					salt, params, found = e.Salt, e.S2KParams, true
					if salt == "" {
						salt = defaultSalt(c.cname, c.crealm)
					}
					break
				}
			}
		case patype.PA_ETYPE_INFO:
			var info types.ETypeInfo
			if info.Unmarshal(pa.PADataValue) != nil {
				continue
			}
			for _, e := range info {
				if e.EType == etype && len(e.Salt) > 0 {
					salt, found = string(e.Salt), true
					break
				}
			}
		case patype.PA_PW_SALT:
			salt, found = string(pa.PADataValue), true
		}
	}
	if !found {
		salt = defaultSalt(c.cname, c.crealm)
	}
	k, err := stringToKey(ctx, c.password, etype, salt, params)
	if err != nil {
		return k, fmt.Errorf("kerberos: string-to-key: %w", err)
	}
	return k, nil
}

// keyError maps a clientKey failure to its status: a cancelled or expired
// context as a KDC that could not be reached in time, refused s2kparams
// as an enctype the client cannot use.
func keyError(op string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorf(op, status.SEC_E_NO_AUTHENTICATING_AUTHORITY, err)
	case errors.Is(err, ErrBadS2KParams):
		return errorf(op, status.SEC_E_KDC_UNKNOWN_ETYPE, err)
	}
	return errorf(op, status.SEC_E_NO_CREDENTIALS, err)
}

// hasEtypeInfo reports whether pas carries salt information.
func hasEtypeInfo(pas types.PADataSequence) bool {
	for _, pa := range pas {
		switch pa.PADataType {
		case patype.PA_ETYPE_INFO2, patype.PA_ETYPE_INFO, patype.PA_PW_SALT:
			return true
		}
	}
	return false
}

// marshalETypeInfo2Entry encodes ETYPE-INFO2 with the single entry e
// (RFC 4120 5.2.7.5).
func marshalETypeInfo2Entry(e types.ETypeInfo2Entry) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.EType)) })
			if e.Salt != "" {
				b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { addGeneralString(b, e.Salt) })
			}
			if len(e.S2KParams) > 0 {
				b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(e.S2KParams) })
			}
		})
	})
	return b.Bytes()
}

// encTimestamp returns PA-ENC-TIMESTAMP: PA-ENC-TS-ENC encrypted with the
// client key, usage 1 (RFC 4120 5.2.7.2).
func (c *credentials) encTimestamp(key types.EncryptionKey) ([]byte, error) {
	now := c.p.config.now()
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { addKerberosTime(b, now) })
		b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(now.Nanosecond() / 1000)) })
	})
	plain, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	ed, err := crypto.GetEncryptedData(plain, key, keyusage.AS_REQ_PA_ENC_TIMESTAMP, 0)
	if err != nil {
		return nil, err
	}
	return ed.Marshal()
}

// tgsExchange asks the TGS of the client's realm for sname (RFC 4120
// 3.3); cross-realm referrals are not followed. forwarded asks for a
// forwarded TGT (delegation).
func (c *credentials) tgsExchange(ctx context.Context, tgt *ticket, sname types.PrincipalName, forwarded bool) (*ticket, error) {
	const op = "InitializeSecurityContext"
	conf := c.conf
	if forwarded {
		cp := *conf
		cp.LibDefaults.KDCDefaultOptions.Bytes = slices.Clone(conf.LibDefaults.KDCDefaultOptions.Bytes)
		if len(cp.LibDefaults.KDCDefaultOptions.Bytes) < 4 {
			cp.LibDefaults.KDCDefaultOptions.Bytes = make([]byte, 4)
			cp.LibDefaults.KDCDefaultOptions.BitLength = 32
		}
		types.SetFlag(&cp.LibDefaults.KDCDefaultOptions, flags.Forwarded)
		types.SetFlag(&cp.LibDefaults.KDCDefaultOptions, flags.Forwardable)
		conf = &cp
	}
	req, err := messages.NewTGSReq(tgt.cname, tgt.crealm, conf, tgt.ticket, tgt.key, sname, false)
	if err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	b, err := req.Marshal()
	if err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	rep, err := c.roundTrip(ctx, op, tgt.crealm, b)
	if err != nil {
		return nil, err
	}
	var tgsRep messages.TGSRep
	if err := tgsRep.Unmarshal(rep); err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("kerberos: malformed TGS-REP: %w", err))
	}
	plain, err := decryptEncPart(tgsRep.EncPart, tgt.key, keyusage.TGS_REP_ENCPART_SESSION_KEY)
	if err != nil {
		return nil, errorf(op, status.SEC_E_LOGON_DENIED, errors.New("kerberos: cannot decrypt the TGS-REP"))
	}
	if err := tgsRep.DecryptedEncPart.Unmarshal(plain); err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("kerberos: malformed EncTGSRepPart: %w", err))
	}
	if tgsRep.DecryptedEncPart.Nonce != req.ReqBody.Nonce {
		return nil, errorf(op, status.SEC_E_LOGON_DENIED, errors.New("kerberos: TGS-REP nonce mismatch"))
	}
	return ticketFromRep(tgsRep.Ticket, tgsRep.DecryptedEncPart, tgsRep.CName, tgsRep.CRealm), nil
}

// DER helpers over cryptobyte for the structures gokrb5 cannot marshal.

func ctxTag(n int) asn1.Tag { return asn1.Tag(n).ContextSpecific().Constructed() }

func appTag(n int) asn1.Tag { return asn1.Tag(0x40 | 0x20 | n) }

const (
	tagGeneralString   = asn1.Tag(27)
	tagGeneralizedTime = asn1.Tag(24)
)

func addGeneralString(b *cryptobyte.Builder, s string) {
	b.AddASN1(tagGeneralString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

// addKerberosTime adds a KerberosTime: GeneralizedTime without fraction.
func addKerberosTime(b *cryptobyte.Builder, t time.Time) {
	b.AddASN1(tagGeneralizedTime, func(b *cryptobyte.Builder) {
		b.AddBytes([]byte(t.UTC().Format("20060102150405Z")))
	})
}

func addPrincipalName(b *cryptobyte.Builder, pn types.PrincipalName) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(pn.NameType)) })
		b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, s := range pn.NameString {
					addGeneralString(b, s)
				}
			})
		})
	})
}

func addEncryptionKey(b *cryptobyte.Builder, k types.EncryptionKey) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(k.KeyType)) })
		b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1OctetString(k.KeyValue) })
	})
}

func addEncryptedData(b *cryptobyte.Builder, etype int32, kvno int, cipher []byte) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(etype)) })
		if kvno > 0 {
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(kvno)) })
		}
		b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(cipher) })
	})
}
