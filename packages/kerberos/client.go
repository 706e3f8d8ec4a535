package kerberos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// clientContext is an initiator context (InitializeSecurityContext).
type clientContext struct {
	baseContext
	target string

	// set by sendAPReq for readAPRep; the context owns both keys (tkt is
	// its own copy of the credentials' ticket) and zeroes them once
	// established, and on Delete
	tkt      *ticket
	subkey   types.EncryptionKey
	ctime    time.Time
	cusec    int
	seq      uint32
	gssFlags uint32
}

var _ packages.Context = (*clientContext)(nil)

func (c *credentials) NewClientContext(target string, req uint32) (packages.Context, error) {
	if c.use&packages.SECPKG_CRED_OUTBOUND == 0 {
		return nil, errorf("InitializeSecurityContext", status.SEC_E_NO_CREDENTIALS, errors.New("kerberos: credentials are not outbound"))
	}
	return &clientContext{baseContext: baseContext{p: c.p, cred: c, req: req}, target: target}, nil
}

// Step runs one InitializeSecurityContext leg.
func (c *clientContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	switch c.state {
	case stateStart:
		return c.sendAPReq(ctx, in, out)
	case stateWaitAPRep:
		return c.readAPRep(in, out)
	case stateFailed:
		return status.Code(c.err), c.err
	}
	return c.fail("InitializeSecurityContext", status.SEC_E_OUT_OF_SEQUENCE, errors.New("kerberos: context already established"))
}

// gssFlagsFor maps ISC_REQ_* to the checksum's GSS flags (packages.md 2.4).
func gssFlagsFor(req uint32) uint32 {
	var f uint32
	pairs := []struct{ isc, gss uint32 }{
		{packages.ISC_REQ_DELEGATE, gssDeleg},
		{packages.ISC_REQ_MUTUAL_AUTH, gssMutual},
		{packages.ISC_REQ_REPLAY_DETECT, gssReplay},
		{packages.ISC_REQ_SEQUENCE_DETECT, gssSequence},
		{packages.ISC_REQ_CONFIDENTIALITY, gssConf | gssInteg},
		{packages.ISC_REQ_INTEGRITY, gssInteg},
		{packages.ISC_REQ_IDENTIFY, gssIdentify},
		{packages.ISC_REQ_EXTENDED_ERROR, gssExtendedErr},
		// MS-KILE 3.4.5.1: DCE style implies mutual authentication.
		{packages.ISC_REQ_USE_DCE_STYLE, gssDCEStyle | gssMutual},
	}
	for _, p := range pairs {
		if req&p.isc != 0 {
			f |= p.gss
		}
	}
	return f
}

// iscFlags maps granted GSS flags back to ISC_RET_*.
func iscFlags(gss uint32, req uint32) uint32 {
	var f uint32
	if gss&gssDeleg != 0 {
		f |= packages.ISC_RET_DELEGATE
	}
	if gss&gssMutual != 0 {
		f |= packages.ISC_RET_MUTUAL_AUTH
	}
	if gss&gssReplay != 0 {
		f |= packages.ISC_RET_REPLAY_DETECT
	}
	if gss&gssSequence != 0 {
		f |= packages.ISC_RET_SEQUENCE_DETECT
	}
	if gss&gssConf != 0 {
		f |= packages.ISC_RET_CONFIDENTIALITY
	}
	if gss&gssInteg != 0 {
		f |= packages.ISC_RET_INTEGRITY
	}
	if gss&gssIdentify != 0 {
		f |= packages.ISC_RET_IDENTIFY
	}
	if req&packages.ISC_REQ_ALLOCATE_MEMORY != 0 {
		f |= packages.ISC_RET_ALLOCATED_MEMORY
	}
	if req&packages.ISC_REQ_CONNECTION != 0 {
		f |= packages.ISC_RET_CONNECTION
	}
	if gss&gssDCEStyle != 0 {
		f |= packages.ISC_RET_USED_DCE_STYLE
	}
	return f
}

// randomKey returns a fresh key of etype from r.
func randomKey(r io.Reader, etype int32) (types.EncryptionKey, error) {
	et, err := crypto.GetEtype(etype)
	if err != nil {
		return types.EncryptionKey{}, err
	}
	n := et.GetKeyByteSize()
	if etype == 20 {
		// gokrb5 reports 24 (the HMAC length) for aes256-cts-hmac-sha384-192.
		n = 32
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return types.EncryptionKey{}, err
	}
	return types.EncryptionKey{KeyType: etype, KeyValue: et.RandomToKey(b)}, nil
}

func randomSeq(r io.Reader) (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	// Keep it below 2^30, as MIT and Heimdal do, so that no peer meets a
	// wrap-around or a sign problem in the ASN.1 INTEGER.
	return binary.BigEndian.Uint32(b[:]) & 0x3fffffff, nil
}

// sendAPReq gets a service ticket and sends the AP-REQ (RFC 4121 4.1).
func (c *clientContext) sendAPReq(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	const op = "InitializeSecurityContext"
	outTok := outputToken(out)
	if outTok == nil {
		return c.fail(op, status.SEC_E_INVALID_TOKEN, errors.New("kerberos: no output token buffer"))
	}
	bnd, haveBindings, err := bindingsHash(in)
	if err != nil {
		return c.fail(op, status.SEC_E_BAD_BINDINGS, err)
	}
	sname, realm, alt, altRealm, err := c.cred.targetNames(ctx, c.target)
	if err != nil {
		return c.fail(op, status.SEC_E_TARGET_UNKNOWN, err)
	}
	tkt, err := c.cred.serviceTicket(ctx, sname, realm)
	if err != nil && alt != nil && errors.Is(err, status.SEC_E_TARGET_UNKNOWN) {
		// dns_canonicalize_hostname = fallback: the canonical name next.
		sname, realm = *alt, altRealm
		tkt, err = c.cred.serviceTicket(ctx, sname, realm)
	}
	if err != nil {
		return c.fail(op, status.SEC_E_TARGET_UNKNOWN, err)
	}
	c.tkt = tkt // our copy: Free of the credentials leaves it alone
	rnd := c.p.config.rand()
	now := c.p.config.now()
	if !now.Before(tkt.endTime) {
		return c.fail(op, status.SEC_E_CONTEXT_EXPIRED, errors.New("kerberos: the service ticket has expired"))
	}
	subkey, err := randomKey(rnd, tkt.key.KeyType)
	if err != nil {
		return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	seq, err := randomSeq(rnd)
	if err != nil {
		return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	gf := gssFlagsFor(c.req)
	ck := gssChecksum{bnd: bnd}
	if c.req&packages.ISC_REQ_DELEGATE != 0 {
		gf &^= gssDeleg
		deleg, err := c.delegation(ctx, tkt, now)
		if err != nil {
			return c.fail(op, status.Code(err), err)
		}
		if deleg != nil {
			gf |= gssDeleg
			ck.deleg = deleg
		}
	}
	ck.flags = gf
	ctime := now.Truncate(time.Second)
	cusec := now.Nanosecond() / 1000
	auth := authenticator{
		crealm: tkt.crealm,
		cname:  tkt.cname,
		cksum:  ck.marshal(),
		ctime:  ctime,
		cusec:  cusec,
		subkey: subkey,
		seq:    seq,
	}
	if haveBindings {
		// MS-KILE 3.2.5.8: tell Windows acceptors that channel bindings
		// are present (AD-IF-RELEVANT { AD-AUTH-DATA-AP-OPTIONS:
		// KERB_AP_OPTIONS_CBT }); other acceptors ignore it.
		if auth.ad, err = apOptionsCBT(); err != nil {
			return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
		}
	}
	// MS-KILE 3.4.5.1: no GSS framing in DCE style.
	token, err := buildAPReq(tkt, &auth, gf&gssMutual != 0, gf&gssDCEStyle != 0)
	if err != nil {
		return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	allocate := c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0
	if !secbuffer.Fits(outTok, len(token), allocate) {
		return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
	}
	secbuffer.Set(outTok, token, allocate)

	c.tkt, c.subkey, c.ctime, c.cusec, c.seq, c.gssFlags = tkt, subkey, ctime, cusec, seq, gf
	c.clientName = tkt.cname.PrincipalNameString() + "@" + tkt.crealm
	c.serverName = sname.PrincipalNameString() + "@" + realm
	c.start, c.expiry = tkt.startTime, tkt.endTime
	if gf&gssMutual != 0 {
		c.flags = iscFlags(gf&^gssMutual, c.req)
		c.state = stateWaitAPRep
		return status.SEC_I_CONTINUE_NEEDED, nil
	}
	// No AP-REP: both sides use the initiator subkey, and the acceptor's
	// sequence numbers start where ours do (RFC 4121 4.1).
	sess, err := newSession(subkey, true, false, seq, seq, gf&(gssReplay|gssSequence) != 0, rnd)
	if err != nil {
		return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	c.sess = sess
	c.flags = iscFlags(gf, c.req)
	c.state = stateDone
	c.dropHandshakeKeys()
	return status.SEC_E_OK, nil
}

// delegation returns the KRB-CRED with a forwarded TGT for the
// authenticator checksum, or nil when the TGT is not forwardable.
func (c *clientContext) delegation(ctx context.Context, tkt *ticket, now time.Time) ([]byte, error) {
	fwd, err := c.cred.forwardedTGT(ctx)
	if err != nil || fwd == nil {
		// Windows and MIT carry on without delegation.
		return nil, nil
	}
	defer clear(fwd.key.KeyValue) // it travels in the KRB-CRED only
	tder, err := fwd.ticket.Marshal()
	if err != nil {
		return nil, errorf("InitializeSecurityContext", status.SEC_E_INTERNAL_ERROR, err)
	}
	ci := &credInfo{t: fwd, srealm: fwd.ticket.Realm, sname: fwd.ticket.SName}
	if len(ci.sname.NameString) == 0 {
		ci.sname = types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", fwd.crealm}}
	}
	plain, err := marshalEncKrbCredPart(ci, now)
	if err != nil {
		return nil, errorf("InitializeSecurityContext", status.SEC_E_INTERNAL_ERROR, err)
	}
	cipher, err := encryptEncPart(tkt.key, keyusage.KRB_CRED_ENCPART, plain)
	clear(plain)
	if err != nil {
		return nil, errorf("InitializeSecurityContext", status.SEC_E_INTERNAL_ERROR, err)
	}
	return marshalKRBCred(tder, tkt.key.KeyType, cipher)
}

// readAPRep verifies the acceptor's AP-REP (RFC 4120 3.2.5) or maps its
// KRB-ERROR.
func (c *clientContext) readAPRep(in, out []secbuffer.Buffer) (status.Status, error) {
	const op = "InitializeSecurityContext"
	tok := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN)
	if tok == nil || len(tok.Data) == 0 {
		return c.fail(op, status.SEC_E_INVALID_TOKEN, errors.New("kerberos: no AP-REP token"))
	}
	tokID, msg, err := parseFraming(tok.Data)
	if err != nil {
		// Some acceptors send the AP-REP without the framing.
		if len(tok.Data) > 0 && (tok.Data[0] == 0x6f || tok.Data[0] == 0x7e) {
			msg, tokID = tok.Data, tokAPRep
			if tok.Data[0] == 0x7e {
				tokID = tokKRBError
			}
		} else {
			return c.fail(op, status.SEC_E_INVALID_TOKEN, err)
		}
	}
	switch tokID {
	case tokKRBError:
		var ke messages.KRBError
		if err := ke.Unmarshal(msg); err != nil {
			return c.fail(op, status.SEC_E_INVALID_TOKEN, err)
		}
		st, err := c.fail(op, status.SEC_E_LOGON_DENIED, kdcError(op, ke))
		return st, err
	case tokAPRep:
	default:
		return c.fail(op, status.SEC_E_INVALID_TOKEN, fmt.Errorf("kerberos: unexpected token id %#04x, want AP-REP", tokID))
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return c.fail(op, status.SEC_E_INVALID_TOKEN, fmt.Errorf("kerberos: malformed AP-REP: %w", err))
	}
	plain, err := decryptEncPart(rep.EncPart, c.tkt.key, keyusage.AP_REP_ENCPART)
	if err != nil {
		return c.fail(op, status.SEC_E_MUTUAL_AUTH_FAILED, errors.New("kerberos: AP-REP does not decrypt with the session key"))
	}
	var enc messages.EncAPRepPart
	if err := enc.Unmarshal(plain); err != nil {
		return c.fail(op, status.SEC_E_MUTUAL_AUTH_FAILED, fmt.Errorf("kerberos: malformed EncAPRepPart: %w", err))
	}
	if !enc.CTime.Equal(c.ctime) || enc.Cusec != c.cusec {
		return c.fail(op, status.SEC_E_MUTUAL_AUTH_FAILED, errors.New("kerberos: AP-REP ctime/cusec do not match the authenticator"))
	}
	key, acceptorSubkey := c.subkey, false
	if enc.Subkey.KeyType != 0 && len(enc.Subkey.KeyValue) > 0 {
		key, acceptorSubkey = enc.Subkey, true
	}
	recvSeq := uint32(enc.SequenceNumber)
	sess, err := newSession(key, true, acceptorSubkey, c.seq, recvSeq, c.gssFlags&(gssReplay|gssSequence) != 0, c.p.config.rand())
	if err != nil {
		return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	sess.dce = c.gssFlags&gssDCEStyle != 0
	o := outputToken(out)
	if sess.dce {
		// The third leg: an AP-REP from the client with its own sequence
		// number (MS-KILE 3.4.5.1).
		third, err := c.thirdLeg(recvSeq)
		if err != nil {
			return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
		}
		allocate := c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0
		if o == nil {
			return c.fail(op, status.SEC_E_INVALID_TOKEN, errors.New("kerberos: no output token buffer"))
		}
		if !secbuffer.Fits(o, len(third), allocate) {
			return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
		}
		secbuffer.Set(o, third, allocate)
	} else if o != nil {
		o.Data = o.Data[:0]
	}
	c.sess = sess
	c.flags = iscFlags(c.gssFlags, c.req)
	c.state = stateDone
	c.dropHandshakeKeys()
	return status.SEC_E_OK, nil
}

// dropHandshakeKeys zeroes the keys only the handshake needed: the
// context's copy of the ticket session key and its subkey (the session
// has copies of its own).
func (c *clientContext) dropHandshakeKeys() {
	if c.tkt != nil {
		clear(c.tkt.key.KeyValue)
	}
	clear(c.subkey.KeyValue)
}

// Delete zeroes the keys the context owns: the handshake's and the
// session's.
func (c *clientContext) Delete() {
	c.dropHandshakeKeys()
	c.baseContext.Delete()
}

// thirdLeg builds the DCE-style AP-REP the client returns under the
// ticket session key: ctime/cusec of its authenticator, no subkey, and
// the acceptor's sequence number echoed (MIT krb5_rd_rep_dce checks it).
func (c *clientContext) thirdLeg(acceptorSeq uint32) ([]byte, error) {
	part := encAPRepPart{ctime: c.ctime, cusec: c.cusec, seq: int64(acceptorSeq)}
	plain, err := part.marshal()
	if err != nil {
		return nil, err
	}
	cipher, err := encryptEncPart(c.tkt.key, keyusage.AP_REP_ENCPART, plain)
	if err != nil {
		return nil, err
	}
	return marshalAPRep(c.tkt.key.KeyType, cipher)
}
