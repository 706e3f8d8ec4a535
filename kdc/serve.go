package kdc

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// KRB-ERROR codes (RFC 4120 7.5.9) the KDC sends.
const (
	errCPrincipalUnknown = 6
	errSPrincipalUnknown = 7
	errBadOption         = 13
	errEtypeNoSupp       = 14
	errClientRevoked     = 18
	errKeyExpired        = 23
	errPreauthFailed     = 24
	errPreauthRequired   = 25
	errPolicy            = 12
	errPADataTypeNoSupp  = 16
	errApBadIntegrity    = 31
	errApTktExpired      = 32
	errApTktNYV          = 33
	errApModified        = 41
	errApBadMatch        = 36
	errApSkew            = 37
	errApInappCksum      = 50
	errGeneric           = 60
	errWrongRealm        = 68
	errResponseTooBig    = 52
)

// NTSTATUS values (MS-ERREF 2.3) an AD KDC puts in e-data.
const (
	statusAccountDisabled = 0xC0000072
	statusAccountExpired  = 0xC0000193
	statusPasswordExpired = 0xC0000071
)

// Pre-authentication data types (RFC 4120 7.5.2, MS-KILE, MS-SFU).
const (
	paTGSReq       = 1
	paEncTimestamp = 2
	paETypeInfo2   = 19
	paPACRequest   = 128
	paForUser      = 129
)

// Key usages (RFC 4120 7.5.1).
const (
	usagePAEncTimestamp   = 1
	usageTicket           = 2
	usageASRepEncPart     = 3
	usageTGSReqAuthCksum  = 6
	usageTGSReqAuth       = 7
	usageTGSRepSessionKey = 8
	usageTGSRepSubkey     = 9
)

// Ticket flags and KDC options, bit 0 the most significant (RFC 4120 5.3,
// 5.4.1).
const (
	flagForwardable   = 1
	flagForwarded     = 2
	flagProxiable     = 3
	flagRenewable     = 8
	flagInitial       = 9
	flagPreAuthent    = 10
	flagOKAsDelegate  = 13
	optCanonicalize   = 15
	optCNameInAddlTkt = 14
	optRenewableOK    = 27
	optRenew          = 30
)

func bit(n int) uint32 { return 1 << (31 - n) }

// unsupportedOptions are the KDC options this KDC refuses with
// KDC_ERR_BADOPTION: allow-postdate (5), postdated (6), enc-tkt-in-skey
// (28) and validate (31).
var unsupportedOptions = bit(5) | bit(6) | bit(28) | bit(31)

// kdcError is a refusal: the KRB-ERROR to send.
type kdcError struct {
	code  int32
	text  string
	edata []byte
}

func (e *kdcError) Error() string { return fmt.Sprintf("kdc: error %d: %s", e.code, e.text) }

func refuse(code int32, format string, args ...any) *kdcError {
	return &kdcError{code: code, text: fmt.Sprintf(format, args...)}
}

// request is what the handlers need of a parsed KDC-REQ.
type request struct {
	msgType int
	padata  types.PADataSequence
	body    messages.KDCReqBody
	rawBody []byte
}

func (r *request) options() uint32 { return flagsWord(r.body.KDCOptions.Bytes) }

func flagsWord(b []byte) uint32 {
	var w uint32
	for i := 0; i < 4 && i < len(b); i++ {
		w |= uint32(b[i]) << (24 - 8*i)
	}
	return w
}

func (r *request) pa(typ int32) ([]byte, bool) {
	for _, p := range r.padata {
		if p.PADataType == typ {
			return p.PADataValue, true
		}
	}
	return nil, false
}

// Serve answers one KDC request (an AS-REQ or TGS-REQ, DER, without the
// TCP length prefix) with a reply or a KRB-ERROR. It returns nil for
// input that is not a Kerberos request at all, which a UDP server drops.
// It is safe for concurrent use.
func (k *KDC) Serve(req []byte) (rep []byte) {
	defer func() {
		// Last line of defence: handlers validate their input and do not
		// panic; should one anyway, the client gets KRB_ERR_GENERIC, not a
		// dead KDC.
		if r := recover(); r != nil {
			rep = k.errorReply(nil, &kdcError{code: errGeneric, text: "internal error"})
		}
	}()
	return k.serve(req)
}

// serve is Serve without its recover, which the fuzz targets call.
func (k *KDC) serve(req []byte) []byte {
	if len(req) == 0 || len(req) > MaxRequestSize {
		if len(req) > MaxRequestSize {
			return k.errorReply(nil, refuse(errGeneric, "request too large"))
		}
		return nil
	}
	var r request
	if (req[0] == 0x6a || req[0] == 0x6c) && (!checkDER(req) || !checkAdditionalTickets(req, int(req[0]&0x1f))) {
		return k.errorReply(nil, refuse(errGeneric, "malformed request"))
	}
	switch req[0] {
	case 0x6a: // [APPLICATION 10] AS-REQ
		var m messages.ASReq
		if err := m.Unmarshal(req); err != nil {
			return k.errorReply(nil, refuse(errGeneric, "malformed AS-REQ"))
		}
		r = request{msgType: msgASReq, padata: m.PAData, body: m.ReqBody}
	case 0x6c: // [APPLICATION 12] TGS-REQ
		var m messages.TGSReq
		if err := m.Unmarshal(req); err != nil {
			return k.errorReply(nil, refuse(errGeneric, "malformed TGS-REQ"))
		}
		body, ok := reqBody(req, msgTGSReq)
		if !ok {
			return k.errorReply(nil, refuse(errGeneric, "malformed TGS-REQ"))
		}
		r = request{msgType: msgTGSReq, padata: m.PAData, body: m.ReqBody, rawBody: body}
	default:
		return nil
	}
	if len(r.padata) > 16 || len(r.body.EType) > 32 || len(r.body.AdditionalTickets) > 2 ||
		len(r.body.CName.NameString) > maxNameComponents || len(r.body.SName.NameString) > maxNameComponents {
		return k.errorReply(&r, refuse(errGeneric, "request too complex"))
	}
	if opts := r.options(); opts&unsupportedOptions != 0 {
		// User-to-user, postdating and validation are not served: refused
		// rather than ignored.
		return k.errorReply(&r, refuse(errBadOption, "KDC option not supported"))
	}
	var out []byte
	var err error
	if r.msgType == msgASReq {
		out, err = k.serveAS(&r)
	} else {
		out, err = k.serveTGS(&r)
	}
	if err != nil {
		var ke *kdcError
		if !errors.As(err, &ke) {
			ke = &kdcError{code: errGeneric, text: "internal error"}
		}
		return k.errorReply(&r, ke)
	}
	return out
}

// errorReply encodes a KRB-ERROR answering r.
func (k *KDC) errorReply(r *request, e *kdcError) []byte {
	now := k.cfg.now()
	ke := krbError{stime: now, code: e.code, etext: e.text, edata: e.edata, realm: k.cfg.Realm,
		sname: types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+k.cfg.Realm)}
	if r != nil {
		if k.realm(r.body.Realm) != nil {
			ke.realm = r.body.Realm
		}
		if len(r.body.SName.NameString) > 0 {
			ke.sname = r.body.SName
		}
		if r.msgType == msgASReq && len(r.body.CName.NameString) > 0 {
			ke.cname, ke.crealm = r.body.CName, r.body.Realm
		}
	}
	b, err := ke.marshal()
	if err != nil {
		return nil
	}
	return b
}

func (k *KDC) newSessionKey(etype int32) (types.EncryptionKey, error) {
	v := make([]byte, keySize(etype))
	if _, err := io.ReadFull(k.cfg.rand(), v); err != nil {
		return types.EncryptionKey{}, err
	}
	return types.EncryptionKey{KeyType: etype, KeyValue: v}, nil
}

// checkAccount refuses disabled and expired accounts as AD does.
func (k *KDC) checkAccount(p *principal, now time.Time) error {
	if !p.isUser {
		return nil
	}
	if p.user.Disabled {
		return &kdcError{code: errClientRevoked, text: "account disabled", edata: kerbErrorData(statusAccountDisabled)}
	}
	if !p.user.Expires.IsZero() && !now.Before(p.user.Expires) {
		return &kdcError{code: errClientRevoked, text: "account expired", edata: kerbErrorData(statusAccountExpired)}
	}
	if !p.user.PasswordExpires.IsZero() && !now.Before(p.user.PasswordExpires) {
		return &kdcError{code: errKeyExpired, text: "password expired", edata: kerbErrorData(statusPasswordExpired)}
	}
	return nil
}

// pickEtype returns the first of the client's enctypes the policy allows
// and p has a key of.
func (k *KDC) pickEtype(want []int32, p *principal) (int32, bool) {
	for _, e := range want {
		if _, ok := p.keyOf(e); ok && k.allowed(e) {
			return e, true
		}
	}
	return 0, false
}

// pickSessionEtype returns the first of the client's enctypes the policy
// allows and the service has a key of (so it can use the session key).
func (k *KDC) pickSessionEtype(want []int32, service *principal) (int32, bool) {
	return k.pickEtype(want, service)
}

// ticketKey returns the key a ticket for p is sealed with: p's first key.
func ticketKey(p *principal) (types.EncryptionKey, bool) {
	if len(p.keys) == 0 {
		return types.EncryptionKey{}, false
	}
	return types.EncryptionKey{KeyType: p.keys[0].etype, KeyValue: p.keys[0].value}, true
}

// times computes the ticket's start, end and renew-till for a request.
func (k *KDC) times(r *request, now time.Time, limit time.Time, renewable bool) (start, end, renew time.Time, flags uint32) {
	start = now
	end = now.Add(k.cfg.lifetime())
	if !r.body.Till.IsZero() && r.body.Till.Year() > 1970 && r.body.Till.Before(end) {
		end = r.body.Till
	}
	if !limit.IsZero() && limit.Before(end) {
		end = limit
	}
	opts := r.options()
	switch {
	case !renewable:
	case opts&bit(flagRenewable) != 0:
		renew = now.Add(k.cfg.renewLifetime())
		if !r.body.RTime.IsZero() && r.body.RTime.Year() > 1970 && r.body.RTime.Before(renew) {
			renew = r.body.RTime
		}
	case opts&bit(optRenewableOK) != 0 && !r.body.Till.IsZero() && r.body.Till.After(end):
		// RFC 4120 5.4.1: a renewable ticket up to the end time asked for.
		renew = now.Add(k.cfg.renewLifetime())
		if r.body.Till.Year() > 1970 && r.body.Till.Before(renew) {
			renew = r.body.Till
		}
	}
	if !renew.IsZero() {
		if !limit.IsZero() && limit.Before(renew) {
			renew = limit
		}
		if renew.Before(end) {
			renew = end
		}
		flags |= bit(flagRenewable)
	}
	return start.Truncate(time.Second), end.Truncate(time.Second), renew.Truncate(time.Second), flags
}

// issue seals a ticket for service with t and returns its encrypted part.
// With a PAC (pi non-nil), the PAC is signed for service by the TGS key
// of the ticket's realm.
func (k *KDC) issue(t *ticketPart, service *principal, pi *pacInfo) (types.EncryptedData, error) {
	skey, ok := ticketKey(service)
	if !ok {
		return types.EncryptedData{}, refuse(errEtypeNoSupp, "service has no key")
	}
	if pi != nil && !service.service.NoPAC {
		tgs := k.lookup(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+service.realm), service.realm)
		if tgs == nil {
			return types.EncryptedData{}, errors.New("kdc: no krbtgt")
		}
		kdcKey, _ := ticketKey(tgs)
		var ticketSig func() ([]byte, error)
		if !isTGS(service.name) {
			ticketSig = func() ([]byte, error) {
				// MS-PAC 2.8.3: over the EncTicketPart whose PAC is a
				// placeholder of one zero byte, first in the authorization data.
				ph, err := pacADIfRelevant([]byte{0})
				if err != nil {
					return nil, err
				}
				tmp := *t
				tmp.authData = append([]adElement{ph}, t.authData...)
				der, err := tmp.marshal()
				if err != nil {
					return nil, err
				}
				return checksum(kdcKey, der)
			}
		}
		pac, err := buildPAC(pi, skey, kdcKey, ticketSig)
		if err != nil {
			return types.EncryptedData{}, err
		}
		el, err := pacADIfRelevant(pac)
		if err != nil {
			return types.EncryptedData{}, err
		}
		t.authData = append([]adElement{el}, t.authData...)
	}
	der, err := t.marshal()
	if err != nil {
		return types.EncryptedData{}, err
	}
	ed, err := crypto.GetEncryptedData(der, skey, usageTicket, service.kvno)
	clear(der) // holds the session key
	return ed, err
}

func isTGS(p types.PrincipalName) bool {
	return len(p.NameString) == 2 && p.NameString[0] == "krbtgt"
}

// serveAS answers an AS-REQ (RFC 4120 3.1.2).
func (k *KDC) serveAS(r *request) ([]byte, error) {
	now := k.cfg.now()
	rlm := k.realm(r.body.Realm)
	if rlm == nil {
		return nil, refuse(errWrongRealm, "realm %q not served", r.body.Realm)
	}
	if len(r.body.CName.NameString) == 0 {
		return nil, refuse(errCPrincipalUnknown, "no client name")
	}
	client := k.lookup(r.body.CName, rlm.name)
	if client == nil {
		return nil, refuse(errCPrincipalUnknown, "client not found")
	}
	if len(r.body.SName.NameString) == 0 {
		return nil, refuse(errSPrincipalUnknown, "no service name")
	}
	service := k.lookup(r.body.SName, rlm.name)
	if service == nil {
		return nil, refuse(errSPrincipalUnknown, "server not found")
	}
	if err := k.checkAccount(client, now); err != nil {
		return nil, err
	}
	if _, ok := k.pickEtype(r.body.EType, client); !ok {
		return nil, refuse(errEtypeNoSupp, "no enctype in common with the client")
	}
	sessionEtype, ok := k.pickSessionEtype(r.body.EType, service)
	if !ok {
		return nil, refuse(errEtypeNoSupp, "no enctype in common with the service")
	}
	hints, err := k.etypeInfo2(r.body.EType, client)
	if err != nil {
		return nil, err
	}
	ts, ok := r.pa(paEncTimestamp)
	if !ok {
		edata, err := marshalPAData([]types.PAData{
			{PADataType: paETypeInfo2, PADataValue: hints},
			{PADataType: paEncTimestamp, PADataValue: nil},
		})
		if err != nil {
			return nil, err
		}
		return nil, &kdcError{code: errPreauthRequired, text: "additional pre-authentication required", edata: edata}
	}
	var ed types.EncryptedData
	if err := ed.Unmarshal(ts); err != nil {
		return nil, refuse(errPreauthFailed, "malformed PA-ENC-TIMESTAMP")
	}
	ckey, ok := client.keyOf(ed.EType)
	if !ok || !k.allowed(ed.EType) {
		return nil, refuse(errEtypeNoSupp, "pre-authentication enctype not supported")
	}
	plain, err := decrypt(ed, ckey, usagePAEncTimestamp)
	if err != nil {
		edata, _ := marshalPAData([]types.PAData{{PADataType: paETypeInfo2, PADataValue: hints}})
		return nil, &kdcError{code: errPreauthFailed, text: "pre-authentication failed", edata: edata}
	}
	pt, _, ok := parseEncTS(plain)
	if !ok {
		return nil, refuse(errPreauthFailed, "malformed PA-ENC-TS-ENC")
	}
	if d := pt.Sub(now); d > k.cfg.maxSkew() || -d > k.cfg.maxSkew() {
		return nil, refuse(errApSkew, "clock skew too great")
	}
	replyEtype, replyKey := ed.EType, ckey

	session, err := k.newSessionKey(sessionEtype)
	if err != nil {
		return nil, err
	}
	opts := r.options()
	flags := bit(flagInitial) | bit(flagPreAuthent)
	if opts&bit(flagForwardable) != 0 && !client.user.NotForwardable {
		flags |= bit(flagForwardable)
	}
	if opts&bit(flagProxiable) != 0 {
		flags |= bit(flagProxiable)
	}
	start, end, renew, tf := k.times(r, now, client.user.PasswordExpires, true)
	flags |= tf
	if service.service.OKAsDelegate {
		flags |= bit(flagOKAsDelegate)
	}
	tp := &ticketPart{flags: flags, key: session, crealm: rlm.name, cname: client.name,
		authTime: now.Truncate(time.Second), startTime: start, endTime: end, renewTill: renew}
	var pi *pacInfo
	include := true
	if v, ok := r.pa(paPACRequest); ok {
		if inc, ok := parsePACRequest(v); ok {
			include = inc
		}
	}
	if include {
		if pi, err = newPACInfo(client, rlm, tp.authTime); err != nil {
			return nil, err
		}
		_, pi.requested = r.pa(paPACRequest)
	}
	tkt, err := k.issue(tp, service, pi)
	if err != nil {
		return nil, err
	}
	rp := repPart{key: session, nonce: int64(r.body.Nonce), flags: flags, authTime: tp.authTime,
		startTime: start, endTime: end, renewTill: renew, srealm: rlm.name, sname: service.name,
		keyExp: client.user.PasswordExpires}
	der, err := rp.marshal(tagEncASRep)
	if err != nil {
		return nil, err
	}
	enc, err := crypto.GetEncryptedData(der, replyKey, usageASRepEncPart, client.kvno)
	clear(der)
	clear(session.KeyValue)
	if err != nil {
		return nil, err
	}
	single, err := marshalETypeInfo2([]etypeInfo2Entry{{etype: replyEtype, salt: client.salt}})
	if err != nil {
		return nil, err
	}
	rep := kdcRep{msgType: msgASRep, padata: []types.PAData{{PADataType: paETypeInfo2, PADataValue: single}},
		crealm: rlm.name, cname: client.name, trealm: rlm.name, sname: service.name, ticket: tkt, enc: enc}
	return rep.marshal()
}

// etypeInfo2 lists, in the client's order, the enctypes it asked for that
// it has keys of, with their salt.
func (k *KDC) etypeInfo2(want []int32, p *principal) ([]byte, error) {
	var es []etypeInfo2Entry
	for _, e := range want {
		if _, ok := p.keyOf(e); ok && k.allowed(e) && !slices.ContainsFunc(es, func(x etypeInfo2Entry) bool { return x.etype == e }) {
			es = append(es, etypeInfo2Entry{etype: e, salt: p.salt})
		}
	}
	return marshalETypeInfo2(es)
}

// tgsAuth is an authenticated TGS-REQ: the TGT (or evidence) and who
// presented it.
type tgsAuth struct {
	tgt        messages.Ticket // DecryptedEncPart filled
	tgsName    types.PrincipalName
	tgsRealm   string // the realm of the ticket (its issuer)
	serving    *realm // the realm of this TGS (krbtgt/SERVING@...)
	session    types.EncryptionKey
	subkey     types.EncryptionKey
	hasSubkey  bool
	tgtFlags   uint32
	clientName types.PrincipalName
	crealm     string
}

// authenticateTGS checks PA-TGS-REQ: the TGT, the authenticator and its
// checksum over the request body (RFC 4120 3.3.2).
func (k *KDC) authenticateTGS(r *request, now time.Time) (*tgsAuth, error) {
	v, ok := r.pa(paTGSReq)
	if !ok {
		return nil, refuse(errPADataTypeNoSupp, "no PA-TGS-REQ")
	}
	var ap messages.APReq
	if err := ap.Unmarshal(v); err != nil {
		return nil, refuse(errGeneric, "malformed AP-REQ")
	}
	tname := ap.Ticket.SName
	if !isTGS(tname) {
		return nil, refuse(errBadOption, "PA-TGS-REQ ticket is not a TGT")
	}
	serving := k.realm(tname.NameString[1])
	if serving == nil {
		return nil, refuse(errWrongRealm, "realm %q not served", tname.NameString[1])
	}
	tgs := k.lookup(tname, ap.Ticket.Realm)
	if tgs == nil {
		return nil, refuse(errSPrincipalUnknown, "TGS principal not found")
	}
	tkey, ok := tgs.keyOf(ap.Ticket.EncPart.EType)
	if !ok {
		return nil, refuse(errEtypeNoSupp, "no TGS key of the ticket's enctype")
	}
	if err := decryptTicket(&ap.Ticket, tkey); err != nil {
		return nil, refuse(errApBadIntegrity, "cannot decrypt the TGT")
	}
	etp := ap.Ticket.DecryptedEncPart
	a := &tgsAuth{tgt: ap.Ticket, tgsName: tname, tgsRealm: ap.Ticket.Realm, serving: serving,
		session: etp.Key, tgtFlags: flagsWord(etp.Flags.Bytes), clientName: etp.CName, crealm: etp.CRealm}
	if now.After(etp.EndTime) {
		return nil, refuse(errApTktExpired, "ticket expired")
	}
	if !etp.StartTime.IsZero() && etp.StartTime.Sub(now) > k.cfg.maxSkew() {
		return nil, refuse(errApTktNYV, "ticket not yet valid")
	}
	plain, err := decrypt(ap.EncryptedAuthenticator, etp.Key, usageTGSReqAuth)
	if err != nil {
		return nil, refuse(errApBadIntegrity, "cannot decrypt the authenticator")
	}
	var auth types.Authenticator
	if !checkDER(plain) {
		// The client chose these bytes: they get the same checks as a request.
		return nil, refuse(errGeneric, "malformed authenticator")
	}
	if err := auth.Unmarshal(plain); err != nil {
		return nil, refuse(errGeneric, "malformed authenticator")
	}
	if auth.CRealm != etp.CRealm || !auth.CName.Equal(etp.CName) {
		return nil, refuse(errApBadMatch, "authenticator client mismatch")
	}
	if d := auth.CTime.Sub(now); d > k.cfg.maxSkew() || -d > k.cfg.maxSkew() {
		return nil, refuse(errApSkew, "clock skew too great")
	}
	if len(auth.Cksum.Checksum) == 0 {
		return nil, refuse(errApInappCksum, "authenticator without checksum")
	}
	et, err := crypto.GetEtype(etp.Key.KeyType)
	if err != nil || auth.Cksum.CksumType != et.GetHashID() {
		return nil, refuse(errApInappCksum, "inappropriate checksum type")
	}
	if !et.VerifyChecksum(etp.Key.KeyValue, r.rawBody, auth.Cksum.Checksum, usageTGSReqAuthCksum) {
		return nil, refuse(errApModified, "request body checksum mismatch")
	}
	if len(auth.SubKey.KeyValue) > 0 {
		a.subkey, a.hasSubkey = auth.SubKey, true
	}
	// A PAC in the TGT must be the one this KDC signed.
	if pac, ok := findPAC(adElements(etp.AuthorizationData)); ok {
		if err := verifyPAC(pac, tkey, nil); err != nil {
			return nil, refuse(errApModified, "TGT PAC does not verify")
		}
	}
	return a, nil
}

func adElements(ad types.AuthorizationData) []adElement {
	out := make([]adElement, 0, len(ad))
	for _, e := range ad {
		out = append(out, adElement{typ: e.ADType, data: e.ADData})
	}
	return out
}

// minCipher is the length of an enctype's ciphertext of nothing: its
// confounder and checksum (RFC 3962, RFC 8009, RFC 4757).
func minCipher(etype int32) int {
	switch etype {
	case AES128CTSHMACSHA196, AES256CTSHMACSHA196:
		return 16 + 12
	case AES128CTSHMACSHA256128:
		return 16 + 16
	case AES256CTSHMACSHA384192:
		return 16 + 24
	case RC4HMAC:
		return 16 + 8
	}
	return -1
}

// errDecrypt reports an enc-part that does not decrypt.
var errDecrypt = errors.New("kdc: cannot decrypt")

// decrypt decrypts ed with key for usage, after checking what gokrb5 does
// not: that the enctypes match and the ciphertext is long enough.
func decrypt(ed types.EncryptedData, key types.EncryptionKey, usage uint32) ([]byte, error) {
	if ed.EType != key.KeyType || minCipher(ed.EType) < 0 || len(ed.Cipher) < minCipher(ed.EType) || len(key.KeyValue) != keySize(key.KeyType) {
		return nil, errDecrypt
	}
	return crypto.DecryptEncPart(ed, key, usage)
}

// decryptTicket decrypts t's enc-part with key into t.DecryptedEncPart.
func decryptTicket(t *messages.Ticket, key types.EncryptionKey) error {
	plain, err := decrypt(t.EncPart, key, usageTicket)
	if err != nil {
		return err
	}
	return t.DecryptedEncPart.Unmarshal(plain)
}
