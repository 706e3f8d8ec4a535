package kdc

import (
	"crypto/hmac"
	"slices"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// serveTGS answers a TGS-REQ (RFC 4120 3.3.2), with S4U2Self (PA-FOR-USER)
// and S4U2Proxy (cname-in-addl-tkt) of MS-SFU, forwarded TGTs and
// cross-realm TGTs and referrals.
func (k *KDC) serveTGS(r *request) ([]byte, error) {
	now := k.cfg.now()
	a, err := k.authenticateTGS(r, now)
	if err != nil {
		return nil, err
	}
	serving := a.serving
	if r.body.Realm != serving.name {
		return nil, refuse(errWrongRealm, "request realm %q is not the TGT's", r.body.Realm)
	}
	// The client: known here when its realm is one this KDC serves.
	client := k.lookup(a.clientName, a.crealm)
	if client != nil {
		if err := k.checkAccount(client, now); err != nil {
			return nil, err
		}
	} else if k.realm(a.crealm) != nil {
		return nil, refuse(errCPrincipalUnknown, "client no longer exists")
	}
	if len(r.body.SName.NameString) == 0 {
		return nil, refuse(errSPrincipalUnknown, "no service name")
	}
	opts := r.options()
	if opts&bit(optRenew) != 0 {
		return k.renew(r, a, now)
	}
	cname, crealm := a.clientName, a.crealm
	pacClient := client
	flags := a.tgtFlags & (bit(flagForwardable) | bit(flagForwarded) | bit(flagProxiable) | bit(flagPreAuthent))
	authTime := a.tgt.DecryptedEncPart.AuthTime
	limit := a.tgt.DecryptedEncPart.EndTime

	// The service, a cross-realm TGS or a referral to another realm.
	sname := r.body.SName
	service := k.lookup(sname, serving.name)
	if service == nil {
		if other := k.findServiceRealm(sname, serving.name); other != "" {
			// A referral (MS-KILE 3.3.5.7.5, RFC 6806 8): a TGT for the realm
			// that has the service.
			sname = types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+other)
			service = k.lookup(sname, serving.name)
		}
	}
	if service == nil {
		return nil, refuse(errSPrincipalUnknown, "server not found")
	}

	var evidence *evidenceTicket
	if fuRaw, ok := r.pa(paForUser); ok {
		// S4U2Self (MS-SFU 3.2.5.1.2): the TGT's client asks for a ticket
		// to itself in the name of a user.
		if client == nil || isTGS(client.name) {
			return nil, refuse(errBadOption, "S4U2Self by an unknown service")
		}
		fu, ok := parseForUser(fuRaw)
		if !ok {
			return nil, refuse(errGeneric, "malformed PA-FOR-USER")
		}
		if fu.cksumType != -138 {
			return nil, refuse(errApInappCksum, "PA-FOR-USER checksum type %d", fu.cksumType)
		}
		want, err := crypto.GetChksumEtype(-138)
		if err != nil {
			return nil, err
		}
		mac, err := want.GetChecksumHash(a.session.KeyValue, forUserChecksumData(fu.name, fu.realm, fu.authPackage), keyUsageNonKerbCksumSalt)
		if err != nil || !hmac.Equal(mac, fu.cksum) {
			return nil, refuse(errApModified, "PA-FOR-USER checksum mismatch")
		}
		if !strings.EqualFold(fu.authPackage, "Kerberos") {
			return nil, refuse(errBadOption, "PA-FOR-USER auth package %q", fu.authPackage)
		}
		if !principalMatches(service, client) {
			return nil, refuse(errBadOption, "S4U2Self ticket must be for the requester")
		}
		user := k.lookup(fu.name, fu.realm)
		if user == nil {
			return nil, refuse(errCPrincipalUnknown, "S4U2Self user not found")
		}
		if err := k.checkAccount(user, now); err != nil {
			return nil, err
		}
		cname, crealm, pacClient = user.name, user.realm, user
		flags &^= bit(flagForwardable) | bit(flagForwarded) | bit(flagProxiable)
		if client.service.TrustedToAuthForDelegation && !user.user.NotForwardable {
			flags |= bit(flagForwardable)
		}
		authTime = now
	} else if opts&bit(optCNameInAddlTkt) != 0 {
		// S4U2Proxy (MS-SFU 3.2.5.2.2): a service presents a user's ticket
		// to itself and asks for one to another service.
		if client == nil || isTGS(client.name) {
			return nil, refuse(errBadOption, "S4U2Proxy by an unknown service")
		}
		if len(r.body.AdditionalTickets) != 1 {
			return nil, refuse(errBadOption, "S4U2Proxy needs one additional ticket")
		}
		ev, err := k.openEvidence(r.body.AdditionalTickets[0], client, now)
		if err != nil {
			return nil, err
		}
		if ev.flags&bit(flagForwardable) == 0 {
			return nil, refuse(errBadOption, "evidence ticket not forwardable")
		}
		if !allowedToDelegate(client, service) {
			return nil, &kdcError{code: errBadOption, text: "service not allowed to delegate to the target",
				edata: kerbErrorData(0xC00000BB)} // STATUS_NOT_SUPPORTED
		}
		user := k.lookup(ev.cname, ev.crealm)
		if user == nil {
			return nil, refuse(errCPrincipalUnknown, "S4U2Proxy user not found")
		}
		if err := k.checkAccount(user, now); err != nil {
			return nil, err
		}
		evidence = ev
		cname, crealm, pacClient = ev.cname, ev.crealm, user
		flags = ev.flags & (bit(flagForwardable) | bit(flagPreAuthent))
		authTime = ev.authTime
		if ev.endTime.Before(limit) {
			limit = ev.endTime
		}
	}

	if opts&bit(flagForwarded) != 0 {
		if a.tgtFlags&bit(flagForwardable) == 0 {
			return nil, refuse(errBadOption, "TGT not forwardable")
		}
		flags |= bit(flagForwarded)
	}
	if opts&bit(flagForwardable) == 0 && evidence == nil && !isTGS(service.name) {
		// Service tickets stay forwardable only when asked (as MIT does).
		flags &^= bit(flagForwardable)
	}
	if service.service.OKAsDelegate {
		flags |= bit(flagOKAsDelegate)
	}
	sessionEtype, ok := k.pickSessionEtype(r.body.EType, service)
	if !ok {
		return nil, refuse(errEtypeNoSupp, "no enctype in common with the service")
	}
	session, err := k.newSessionKey(sessionEtype)
	if err != nil {
		return nil, err
	}
	renewable := a.tgtFlags&bit(flagRenewable) != 0
	if rt := a.tgt.DecryptedEncPart.RenewTill; renewable && !rt.IsZero() && rt.Before(limit) {
		limit = rt
	}
	start, end, renew, tf := k.times(r, now, limit, renewable)
	flags |= tf
	if !renew.IsZero() && !a.tgt.DecryptedEncPart.RenewTill.IsZero() && renew.After(a.tgt.DecryptedEncPart.RenewTill) {
		renew = a.tgt.DecryptedEncPart.RenewTill
	}
	transited := a.tgt.DecryptedEncPart.Transited.Contents
	if a.tgsRealm != serving.name && len(transited) == 0 {
		// A cross-realm TGT from a directly trusted realm: nothing transited.
		transited = nil
	}
	tp := &ticketPart{flags: flags, key: session, crealm: crealm, cname: cname, transited: transited,
		authTime: authTime.Truncate(time.Second), startTime: start, endTime: end, renewTill: renew}
	var pi *pacInfo
	if pac, ok := findPAC(adElements(a.tgt.DecryptedEncPart.AuthorizationData)); ok || evidence != nil {
		_ = pac
		if pacClient != nil {
			if pi, err = newPACInfo(pacClient, k.realm(pacClient.realm), tp.authTime); err != nil {
				return nil, err
			}
		}
	}
	tkt, err := k.issue(tp, service, pi)
	if err != nil {
		return nil, err
	}
	rp := repPart{key: session, nonce: int64(r.body.Nonce), flags: flags, authTime: tp.authTime,
		startTime: start, endTime: end, renewTill: renew, srealm: serving.name, sname: sname}
	der, err := rp.marshal(tagEncTGSRep)
	if err != nil {
		return nil, err
	}
	replyKey, usage := a.session, uint32(usageTGSRepSessionKey)
	if a.hasSubkey {
		replyKey, usage = a.subkey, usageTGSRepSubkey
	}
	enc, err := crypto.GetEncryptedData(der, replyKey, usage, 0)
	clear(der)
	clear(session.KeyValue)
	if err != nil {
		return nil, err
	}
	rep := kdcRep{msgType: msgTGSRep, crealm: crealm, cname: cname, trealm: serving.name, sname: sname, ticket: tkt, enc: enc}
	return rep.marshal()
}

// principalMatches reports whether the service asked for is the
// requester itself.
func principalMatches(service, requester *principal) bool {
	return service == requester || (service.realm == requester.realm && service.name.PrincipalNameString() == requester.name.PrincipalNameString())
}

// allowedToDelegate reports whether from may get S4U2Proxy tickets to to.
func allowedToDelegate(from, to *principal) bool {
	n := to.name.PrincipalNameString()
	return slices.ContainsFunc(from.service.AllowedToDelegateTo, func(s string) bool {
		return strings.EqualFold(s, n) || strings.EqualFold(s, n+"@"+to.realm)
	})
}

// findServiceRealm returns another served realm that has sname, for a
// referral.
func (k *KDC) findServiceRealm(sname types.PrincipalName, except string) string {
	if len(sname.NameString) < 2 || isTGS(sname) {
		return ""
	}
	for _, r := range k.Realms() {
		if r != except && k.lookup(sname, r) != nil {
			return r
		}
	}
	return ""
}

// evidenceTicket is the user's ticket to the requesting service that
// S4U2Proxy presents.
type evidenceTicket struct {
	cname    types.PrincipalName
	crealm   string
	flags    uint32
	authTime time.Time
	endTime  time.Time
}

// openEvidence decrypts the S4U2Proxy additional ticket with the
// requester's key and checks it is a current ticket for the requester.
func (k *KDC) openEvidence(t messages.Ticket, requester *principal, now time.Time) (*evidenceTicket, error) {
	if t.Realm != requester.realm || t.SName.PrincipalNameString() != requester.name.PrincipalNameString() {
		return nil, refuse(errBadOption, "evidence ticket is not for the requester")
	}
	key, ok := requester.keyOf(t.EncPart.EType)
	if !ok {
		return nil, refuse(errEtypeNoSupp, "no key of the evidence ticket's enctype")
	}
	if err := decryptTicket(&t, key); err != nil {
		return nil, refuse(errApBadIntegrity, "cannot decrypt the evidence ticket")
	}
	e := t.DecryptedEncPart
	if now.After(e.EndTime) {
		return nil, refuse(errApTktExpired, "evidence ticket expired")
	}
	if pac, ok := findPAC(adElements(e.AuthorizationData)); ok {
		if err := verifyPAC(pac, key, nil); err != nil {
			return nil, refuse(errApModified, "evidence ticket PAC does not verify")
		}
	}
	return &evidenceTicket{cname: e.CName, crealm: e.CRealm, flags: flagsWord(e.Flags.Bytes), authTime: e.AuthTime, endTime: e.EndTime}, nil
}

// renew answers a TGS-REQ with the RENEW option (RFC 4120 3.3.3): the
// presented ticket again, same session key and authorization data, valid
// from now to at most its renew-till.
func (k *KDC) renew(r *request, a *tgsAuth, now time.Time) ([]byte, error) {
	etp := a.tgt.DecryptedEncPart
	flags := flagsWord(etp.Flags.Bytes)
	if flags&bit(flagRenewable) == 0 || etp.RenewTill.IsZero() {
		return nil, refuse(errBadOption, "ticket not renewable")
	}
	if now.After(etp.RenewTill) {
		return nil, refuse(errApTktExpired, "renewable lifetime over")
	}
	if r.body.SName.PrincipalNameString() != a.tgsName.PrincipalNameString() {
		return nil, refuse(errBadOption, "renewal of another ticket")
	}
	service := k.lookup(a.tgsName, a.tgsRealm)
	if service == nil {
		return nil, refuse(errSPrincipalUnknown, "TGS principal not found")
	}
	end := now.Add(k.cfg.lifetime())
	if end.After(etp.RenewTill) {
		end = etp.RenewTill
	}
	flags &^= bit(flagInitial)
	tp := &ticketPart{flags: flags, key: etp.Key, crealm: etp.CRealm, cname: etp.CName, transited: etp.Transited.Contents,
		authTime: etp.AuthTime, startTime: now.Truncate(time.Second), endTime: end.Truncate(time.Second), renewTill: etp.RenewTill,
		authData: adElements(etp.AuthorizationData)}
	tkt, err := k.issue(tp, service, nil)
	if err != nil {
		return nil, err
	}
	rp := repPart{key: etp.Key, nonce: int64(r.body.Nonce), flags: flags, authTime: tp.authTime,
		startTime: tp.startTime, endTime: tp.endTime, renewTill: tp.renewTill, srealm: a.tgsRealm, sname: a.tgsName}
	der, err := rp.marshal(tagEncTGSRep)
	if err != nil {
		return nil, err
	}
	replyKey, usage := a.session, uint32(usageTGSRepSessionKey)
	if a.hasSubkey {
		replyKey, usage = a.subkey, usageTGSRepSubkey
	}
	enc, err := crypto.GetEncryptedData(der, replyKey, usage, 0)
	clear(der)
	if err != nil {
		return nil, err
	}
	rep := kdcRep{msgType: msgTGSRep, crealm: etp.CRealm, cname: etp.CName, trealm: a.tgsRealm, sname: a.tgsName, ticket: tkt, enc: enc}
	return rep.marshal()
}
