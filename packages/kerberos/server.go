package kerberos

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/adtype"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// serverContext is an acceptor context (AcceptSecurityContext).
type serverContext struct {
	baseContext
	delegated *credentials
	pac       *PAC
	pending   []byte // an AP-REP that did not fit the output buffer
	// cbtSignalled: the authenticator announced channel bindings
	// (KERB_AP_OPTIONS_CBT, MS-KILE 2.2.8).
	cbtSignalled bool
	tktKey       types.EncryptionKey // DCE style: for the client's AP-REP
	dceSeq       uint32              // DCE style: our AP-REP's sequence number
}

var _ packages.Context = (*serverContext)(nil)

// PAC is what an acceptor decoded from the Privilege Attribute
// Certificate (MS-PAC) of the client's ticket: the contract's plain type.
type PAC = packages.PAC

// PACContext is implemented by acceptor contexts of this package (and of
// any package that decodes PACs): PAC returns the decoded PAC of the
// client's ticket, or nil.
type PACContext = packages.PACContext

// DelegatedCredentialer is implemented by acceptor contexts of this
// package: DelegatedCredentials returns a new copy of the client's
// delegated credentials (ASC_RET_DELEGATE), which the caller owns and
// frees, or nil. They are outbound Kerberos credentials, whatever the
// package of the context (Negotiate forwards the call to Kerberos).
type DelegatedCredentialer interface {
	DelegatedCredentials() packages.Credentials
}

var (
	_ PACContext            = (*serverContext)(nil)
	_ DelegatedCredentialer = (*serverContext)(nil)
)

// PAC returns the decoded PAC of the client's ticket, or nil.
func (c *serverContext) PAC() *PAC { return c.pac }

func (c *credentials) NewServerContext(req uint32) (packages.Context, error) {
	if c.use&packages.SECPKG_CRED_INBOUND == 0 || c.serviceKT == nil {
		return nil, errorf("AcceptSecurityContext", status.SEC_E_NO_CREDENTIALS, errors.New("kerberos: credentials are not inbound"))
	}
	return &serverContext{baseContext: baseContext{p: c.p, cred: c, req: req}}, nil
}

// Step runs one AcceptSecurityContext leg.
func (c *serverContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	switch c.state {
	case stateStart:
		return c.readAPReq(ctx, in, out)
	case stateWaitAPRep:
		return c.readThirdLeg(in, out)
	case statePendingAPRep:
		return c.sendPending(out)
	case stateFailed:
		return status.Code(c.err), c.err
	}
	return c.fail("AcceptSecurityContext", status.SEC_E_OUT_OF_SEQUENCE, errors.New("kerberos: context already established"))
}

func ascFlags(gss uint32, req uint32) uint32 {
	var f uint32
	pairs := []struct{ gss, asc uint32 }{
		{gssDeleg, packages.ASC_RET_DELEGATE},
		{gssMutual, packages.ASC_RET_MUTUAL_AUTH},
		{gssReplay, packages.ASC_RET_REPLAY_DETECT},
		{gssSequence, packages.ASC_RET_SEQUENCE_DETECT},
		{gssConf, packages.ASC_RET_CONFIDENTIALITY},
		{gssInteg, packages.ASC_RET_INTEGRITY},
		{gssIdentify, packages.ASC_RET_IDENTIFY},
		{gssDCEStyle, packages.ASC_RET_USED_DCE_STYLE},
	}
	for _, p := range pairs {
		if gss&p.gss != 0 {
			f |= p.asc
		}
	}
	if req&packages.ASC_REQ_ALLOCATE_MEMORY != 0 {
		f |= packages.ASC_RET_ALLOCATED_MEMORY
	}
	if req&packages.ASC_REQ_CONNECTION != 0 {
		f |= packages.ASC_RET_CONNECTION
	}
	return f
}

// apError is an acceptor failure with the KRB-ERROR code to report.
type apError struct {
	st   status.Status
	code int32
	err  error
}

func (e *apError) Error() string { return e.err.Error() }
func (e *apError) Unwrap() error { return e.err }

func apFail(st status.Status, code int32, format string, args ...any) *apError {
	return &apError{st: st, code: code, err: fmt.Errorf("kerberos: "+format, args...)}
}

// readAPReq verifies the AP-REQ (RFC 4120 3.2.3, RFC 4121 4.1) and
// answers with an AP-REP when the client asked for mutual authentication.
func (c *serverContext) readAPReq(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	const op = "AcceptSecurityContext"
	outTok := outputToken(out)
	tok := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN)
	if tok == nil || len(tok.Data) == 0 {
		return c.fail(op, status.SEC_E_INVALID_TOKEN, errors.New("kerberos: no AP-REQ token"))
	}
	token, err := c.verify(ctx, tok.Data, in)
	if err != nil {
		var ae *apError
		if !errors.As(err, &ae) {
			return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
		}
		if c.req&packages.ASC_REQ_EXTENDED_ERROR != 0 && outTok != nil && ae.code != 0 {
			c.writeKRBError(outTok, ae.code)
		}
		return c.fail(op, ae.st, ae.err)
	}
	allocate := c.req&packages.ASC_REQ_ALLOCATE_MEMORY != 0
	if token != nil {
		if outTok == nil {
			return c.fail(op, status.SEC_E_INVALID_TOKEN, errors.New("kerberos: no output token buffer for the AP-REP"))
		}
		if !secbuffer.Fits(outTok, len(token), allocate) {
			// The authenticator is in the replay cache now, so the AP-REP
			// is kept for the caller's next call with a larger buffer.
			c.pending = token
			c.state = statePendingAPRep
			return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
		}
		secbuffer.Set(outTok, token, allocate)
	} else if outTok != nil {
		outTok.Data = outTok.Data[:0]
	}
	if c.sess.dce {
		c.state = stateWaitAPRep
		return status.SEC_I_CONTINUE_NEEDED, nil
	}
	c.state = stateDone
	return status.SEC_E_OK, nil
}

// sendPending hands out the AP-REP a too-small buffer could not take.
func (c *serverContext) sendPending(out []secbuffer.Buffer) (status.Status, error) {
	outTok := outputToken(out)
	allocate := c.req&packages.ASC_REQ_ALLOCATE_MEMORY != 0
	if outTok == nil || !secbuffer.Fits(outTok, len(c.pending), allocate) {
		return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
	}
	secbuffer.Set(outTok, c.pending, allocate)
	c.pending = nil
	if c.sess.dce {
		c.state = stateWaitAPRep
		return status.SEC_I_CONTINUE_NEEDED, nil
	}
	c.state = stateDone
	return status.SEC_E_OK, nil
}

// readThirdLeg reads the DCE-style client AP-REP (MS-KILE 3.4.5.1), which
// must echo our sequence number.
func (c *serverContext) readThirdLeg(in, out []secbuffer.Buffer) (status.Status, error) {
	const op = "AcceptSecurityContext"
	tok := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN)
	if tok == nil || len(tok.Data) == 0 {
		return c.fail(op, status.SEC_E_INVALID_TOKEN, errors.New("kerberos: no AP-REP token"))
	}
	var rep messages.APRep
	if err := rep.Unmarshal(tok.Data); err != nil {
		return c.fail(op, status.SEC_E_INVALID_TOKEN, fmt.Errorf("kerberos: malformed AP-REP: %w", err))
	}
	plain, err := decryptEncPart(rep.EncPart, c.tktKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return c.fail(op, status.SEC_E_LOGON_DENIED, errors.New("kerberos: client AP-REP does not decrypt with the session key"))
	}
	var enc messages.EncAPRepPart
	if err := enc.Unmarshal(plain); err != nil {
		return c.fail(op, status.SEC_E_INVALID_TOKEN, fmt.Errorf("kerberos: malformed EncAPRepPart: %w", err))
	}
	if uint32(enc.SequenceNumber) != c.dceSeq || enc.Subkey.KeyType != 0 {
		return c.fail(op, status.SEC_E_LOGON_DENIED, errors.New("kerberos: client AP-REP does not echo the acceptor's sequence number"))
	}
	if o := outputToken(out); o != nil {
		o.Data = o.Data[:0]
	}
	c.state = stateDone
	return status.SEC_E_OK, nil
}

func (c *serverContext) writeKRBError(outTok *secbuffer.Buffer, code int32) {
	ke := messages.NewKRBError(types.PrincipalName{}, "", code, "")
	ke.STime = c.p.config.now().Truncate(time.Second)
	if der, err := ke.Marshal(); err == nil {
		secbuffer.Set(outTok, frameToken(tokKRBError, der), c.req&packages.ASC_REQ_ALLOCATE_MEMORY != 0)
	}
}

// verify checks an AP-REQ token and sets up the session; it returns the
// framed AP-REP to send, or nil.
func (c *serverContext) verify(ctx context.Context, token []byte, in []secbuffer.Buffer) ([]byte, error) {
	tokID, msg, err := parseFraming(token)
	if err != nil {
		if token[0] != 0x6e {
			return nil, apFail(status.SEC_E_INVALID_TOKEN, 0, "%w", err)
		}
		tokID, msg = tokAPReq, token
	}
	if tokID != tokAPReq {
		return nil, apFail(status.SEC_E_INVALID_TOKEN, 0, "unexpected token id %#04x, want AP-REQ", tokID)
	}
	var apReq messages.APReq
	if err := apReq.Unmarshal(msg); err != nil {
		return nil, apFail(status.SEC_E_INVALID_TOKEN, errorcode.KRB_AP_ERR_MSG_TYPE, "malformed AP-REQ")
	}
	tkt := &apReq.Ticket
	if c.cred.service != "" && !sameService(c.cred.service, tkt.SName, tkt.Realm) {
		return nil, apFail(status.SEC_E_WRONG_PRINCIPAL, errorcode.KRB_AP_ERR_NOT_US, "ticket is for %q, not %q", tkt.SName.PrincipalNameString(), c.cred.service)
	}
	key, _, err := c.cred.serviceKT.GetEncryptionKey(tkt.SName, tkt.Realm, tkt.EncPart.KVNO, tkt.EncPart.EType)
	if err != nil {
		return nil, apFail(status.SEC_E_LOGON_DENIED, errorcode.KRB_AP_ERR_NOKEY, "no key for %q kvno %d enctype %d in the keytab", tkt.SName.PrincipalNameString(), tkt.EncPart.KVNO, tkt.EncPart.EType)
	}
	if err := decryptTicket(tkt, key); err != nil {
		return nil, apFail(status.SEC_E_LOGON_DENIED, errorcode.KRB_AP_ERR_BAD_INTEGRITY, "ticket does not decrypt with the service key")
	}
	encTkt := &tkt.DecryptedEncPart
	now := c.p.config.now()
	skew := c.p.clockSkew()
	start := encTkt.StartTime
	if start.IsZero() {
		start = encTkt.AuthTime
	}
	if start.Sub(now) > skew {
		return nil, apFail(status.SEC_E_TIME_SKEW, errorcode.KRB_AP_ERR_TKT_NYV, "ticket not yet valid")
	}
	if now.Sub(encTkt.EndTime) > skew {
		return nil, apFail(status.SEC_E_CONTEXT_EXPIRED, errorcode.KRB_AP_ERR_TKT_EXPIRED, "ticket expired at %v", encTkt.EndTime)
	}
	if err := decryptAuthenticator(&apReq, encTkt.Key); err != nil {
		return nil, apFail(status.SEC_E_LOGON_DENIED, errorcode.KRB_AP_ERR_BAD_INTEGRITY, "authenticator does not decrypt with the session key")
	}
	auth := &apReq.Authenticator
	if !auth.CName.Equal(encTkt.CName) || auth.CRealm != encTkt.CRealm {
		return nil, apFail(status.SEC_E_LOGON_DENIED, errorcode.KRB_AP_ERR_BADMATCH, "authenticator client does not match the ticket")
	}
	ctime := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if d := now.Sub(ctime); d > skew || d < -skew {
		return nil, apFail(status.SEC_E_TIME_SKEW, errorcode.KRB_AP_ERR_SKEW, "clock skew of %v is more than %v", d.Round(time.Second), skew)
	}
	if auth.Cksum.CksumType != cksumTypeGSS {
		return nil, apFail(status.SEC_E_INVALID_TOKEN, errorcode.KRB_AP_ERR_INAPP_CKSUM, "authenticator checksum type %d, want 0x8003", auth.Cksum.CksumType)
	}
	ck, err := parseGSSChecksum(auth.Cksum.Checksum)
	if err != nil {
		return nil, apFail(status.SEC_E_INVALID_TOKEN, errorcode.KRB_AP_ERR_INAPP_CKSUM, "%w", err)
	}
	if err := c.checkBindings(ck, in); err != nil {
		return nil, err
	}
	c.cbtSignalled = hasAPOptionsCBT(auth.AuthorizationData)
	clientName := auth.CName.PrincipalNameString() + "@" + auth.CRealm
	if err := c.p.checkReplay(ctx, &apReq, ctime, now, skew); err != nil {
		return nil, err
	}

	gf := ck.flags &^ gssDeleg
	if ck.flags&gssDeleg != 0 && ck.deleg != nil {
		if d, err := c.readDelegation(ck.deleg, encTkt.Key); err == nil {
			c.delegated = d
			gf |= gssDeleg
		}
	}
	// A PAC that does not parse, or whose server signature does not
	// verify, fails the logon, as on Windows (MS-KILE 3.4.5.3, MS-PAC
	// 2.8: KRB_AP_ERR_MODIFIED); see pac.go.
	p, err := c.decodePAC(tkt, key)
	if err != nil {
		return nil, &apError{st: status.SEC_E_LOGON_DENIED, code: errorcode.KRB_AP_ERR_MODIFIED, err: err}
	}
	c.pac = p

	rnd := c.p.config.rand()
	recvSeq := uint32(auth.SeqNumber)
	checkSeq := gf&(gssReplay|gssSequence) != 0
	var apRep []byte
	mutual := gf&(gssMutual|gssDCEStyle) != 0 || hasMutualOption(&apReq)
	if mutual {
		gf |= gssMutual
		etype := encTkt.Key.KeyType
		if auth.SubKey.KeyType != 0 {
			etype = auth.SubKey.KeyType
		}
		subkey, err := randomKey(rnd, etype)
		if err != nil {
			return nil, &apError{st: status.SEC_E_INTERNAL_ERROR, err: err}
		}
		sendSubkey := true
		if etype == 23 {
			// RFC 4757 contexts keep the initiator subkey: MIT initiators
			// ignore an acceptor subkey for RFC 1964-style tokens.
			subkey, sendSubkey = auth.SubKey, false
			if subkey.KeyType == 0 {
				subkey = encTkt.Key
			}
		}
		seq, err := randomSeq(rnd)
		if err != nil {
			return nil, &apError{st: status.SEC_E_INTERNAL_ERROR, err: err}
		}
		part := encAPRepPart{ctime: auth.CTime, cusec: auth.Cusec, seq: int64(seq)}
		if sendSubkey {
			part.subkey = subkey
		}
		plain, err := part.marshal()
		if err != nil {
			return nil, &apError{st: status.SEC_E_INTERNAL_ERROR, err: err}
		}
		cipher, err := encryptEncPart(encTkt.Key, keyusage.AP_REP_ENCPART, plain)
		clear(plain) // the acceptor subkey
		if err != nil {
			return nil, &apError{st: status.SEC_E_INTERNAL_ERROR, err: err}
		}
		der, err := marshalAPRep(encTkt.Key.KeyType, cipher)
		if err != nil {
			return nil, &apError{st: status.SEC_E_INTERNAL_ERROR, err: err}
		}
		apRep = frameToken(tokAPRep, der)
		if gf&gssDCEStyle != 0 {
			apRep = der
		}
		c.sess, err = newSession(subkey, false, sendSubkey, seq, recvSeq, checkSeq, rnd)
		c.dceSeq = seq
		if err != nil {
			return nil, &apError{st: status.SEC_E_INTERNAL_ERROR, err: err}
		}
	} else {
		key := encTkt.Key
		if auth.SubKey.KeyType != 0 && len(auth.SubKey.KeyValue) > 0 {
			key = auth.SubKey
		}
		c.sess, err = newSession(key, false, false, recvSeq, recvSeq, checkSeq, rnd)
		if err != nil {
			return nil, &apError{st: status.SEC_E_INTERNAL_ERROR, err: err}
		}
	}
	c.sess.dce = gf&gssDCEStyle != 0
	c.tktKey = encTkt.Key
	c.flags = ascFlags(gf, c.req)
	c.clientName = clientName
	c.serverName = tkt.SName.PrincipalNameString() + "@" + tkt.Realm
	c.start, c.expiry = start, encTkt.EndTime
	return apRep, nil
}

func hasMutualOption(a *messages.APReq) bool {
	b := a.APOptions.Bytes
	return len(b) > 0 && b[0]&0x20 != 0
}

// sameService compares a configured service name with the ticket's.
func sameService(want string, sname types.PrincipalName, realm string) bool {
	got := sname.PrincipalNameString()
	if strings.Contains(want, "@") {
		return strings.EqualFold(want, got+"@"+realm)
	}
	return strings.EqualFold(want, got)
}

// checkBindings compares the client's Bnd with the acceptor's bindings
// (packages.md 6.3): all-zero means the client had none, accepted unless
// the acceptor requires bindings.
func (c *serverContext) checkBindings(ck *gssChecksum, in []secbuffer.Buffer) error {
	ours, have, err := bindingsHash(in)
	if err != nil {
		return apFail(status.SEC_E_BAD_BINDINGS, errorcode.KRB_AP_ERR_BADADDR, "malformed channel bindings: %w", err)
	}
	if !have {
		return nil
	}
	var zero [16]byte
	if subtle.ConstantTimeCompare(ck.bnd[:], zero[:]) == 1 {
		if c.p.config.RequireChannelBindings || c.req&packages.ASC_REQ_PROXY_BINDINGS != 0 {
			return apFail(status.SEC_E_BAD_BINDINGS, errorcode.KRB_AP_ERR_BADADDR, "client sent no channel bindings")
		}
		return nil
	}
	if subtle.ConstantTimeCompare(ck.bnd[:], ours[:]) != 1 {
		return apFail(status.SEC_E_BAD_BINDINGS, errorcode.KRB_AP_ERR_BADADDR, "channel bindings do not match")
	}
	return nil
}

// readDelegation turns the KRB-CRED of the checksum into outbound
// credentials for the client (RFC 4121 4.1.1, RFC 4120 5.8). The
// enc-part is under the session key, or unencrypted (etype 0).
func (c *serverContext) readDelegation(der []byte, key types.EncryptionKey) (*credentials, error) {
	var kc messages.KRBCred
	if err := kc.Unmarshal(der); err != nil {
		return nil, err
	}
	if len(kc.Tickets) == 0 {
		return nil, errors.New("kerberos: KRB-CRED without tickets")
	}
	var enc messages.EncKrbCredPart
	if kc.EncPart.EType == 0 {
		if err := enc.Unmarshal(kc.EncPart.Cipher); err != nil {
			return nil, err
		}
	} else {
		plain, err := decryptEncPart(kc.EncPart, key, keyusage.KRB_CRED_ENCPART)
		if err != nil {
			return nil, err
		}
		defer clear(plain) // the TGT's session key
		if err := enc.Unmarshal(plain); err != nil {
			return nil, err
		}
	}
	if len(enc.TicketInfo) == 0 {
		return nil, errors.New("kerberos: KRB-CRED without ticket info")
	}
	defer func() {
		for _, ti := range enc.TicketInfo {
			clear(ti.Key.KeyValue)
		}
	}()
	info := enc.TicketInfo[0]
	t := &ticket{
		ticket: kc.Tickets[0], key: types.EncryptionKey{KeyType: info.Key.KeyType, KeyValue: slices.Clone(info.Key.KeyValue)},
		cname: info.PName, crealm: info.PRealm,
		flags: flagsWord(info.Flags.Bytes), authTime: info.AuthTime, startTime: info.StartTime,
		endTime: info.EndTime, renewTill: info.RenewTill,
	}
	if t.startTime.IsZero() {
		t.startTime = t.authTime
	}
	return &credentials{
		p: c.p, conf: c.cred.conf, use: packages.SECPKG_CRED_OUTBOUND,
		cname: info.PName, crealm: info.PRealm, delegated: true, tgt: t,
	}, nil
}

// decodePAC decodes the PAC in the ticket's authorization data
// (AD-IF-RELEVANT containing AD-WIN2K-PAC) and checks its server
// signature with the service key (MS-PAC 2.8). It returns nil, nil when
// the ticket has no PAC; a ticket with two PACs is malformed.
func (c *serverContext) decodePAC(tkt *messages.Ticket, key types.EncryptionKey) (*PAC, error) {
	var found []byte
	var have bool
	for _, ad := range tkt.DecryptedEncPart.AuthorizationData {
		if ad.ADType != adtype.ADIfRelevant {
			continue
		}
		var inner types.AuthorizationData
		if err := inner.Unmarshal(ad.ADData); err != nil {
			continue
		}
		for _, e := range inner {
			if e.ADType != adtype.ADWin2KPAC {
				continue
			}
			if have {
				return nil, malformedPAC("the ticket holds more than one PAC")
			}
			found, have = e.ADData, true
		}
	}
	if !have {
		return nil, nil
	}
	return parsePAC(found, key)
}

// hasAPOptionsCBT reports whether ad holds AD-IF-RELEVANT with an
// AD-AUTH-DATA-AP-OPTIONS entry that has KERB_AP_OPTIONS_CBT.
func hasAPOptionsCBT(ad types.AuthorizationData) bool {
	for _, e := range ad {
		if e.ADType != adIfRelevant {
			continue
		}
		var inner types.AuthorizationData
		if inner.Unmarshal(e.ADData) != nil {
			continue
		}
		for _, i := range inner {
			if i.ADType == adAuthDataAPOptions && len(i.ADData) >= 4 && binary.LittleEndian.Uint32(i.ADData)&kerbAPOptionsCBT != 0 {
				return true
			}
		}
	}
	return false
}
