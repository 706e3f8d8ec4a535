package ntlm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// serverContext is an acceptor context (AcceptSecurityContext).
type serverContext struct {
	ntlmContext
	store UserStore // constant

	// handshake state, guarded by mu
	transcript      []byte // NEGOTIATE ‖ CHALLENGE as received and sent: what the MIC covers; dropped when done
	challengeFlags  uint32
	serverChallenge [8]byte
	cbHash          [16]byte // the acceptor's own channel bindings
	hasCB           bool
	micExpected     bool    // MsvAvFlags announced a MIC
	timestamp       [8]byte // MsvAvTimestamp of the CHALLENGE; here so that ASC #1 does not allocate it
}

func newServer(p *Package, store UserStore, req uint32) *serverContext {
	c := &serverContext{store: store}
	c.pkg, c.client, c.req = p, false, req
	return c
}

// Step implements packages.Context: ASC #1 reads NEGOTIATE and sends
// CHALLENGE, ASC #2 reads AUTHENTICATE (MS-NLMP 3.2.5).
func (c *serverContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.stepPrologue(); err != nil {
		return status.Code(err), err
	}
	inTok := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN)
	if inTok == nil || len(inTok.Data) == 0 {
		want := "NEGOTIATE_MESSAGE"
		if c.state == stateSentChallenge {
			want = "AUTHENTICATE_MESSAGE"
		}
		return c.fail(status.SEC_E_INVALID_TOKEN, &unexpectedMessageError{expected: want, got: "no token"})
	}
	if h, ok, err := bindings(in); err != nil {
		return c.fail(status.SEC_E_BAD_BINDINGS, err)
	} else if ok {
		c.cbHash, c.hasCB = h, true
	}
	switch c.state {
	case stateStart:
		tok, alloc := c.outToken(out)
		if tok == nil {
			return c.fail(status.SEC_E_INVALID_TOKEN, errors.New("ntlm: no SECBUFFER_TOKEN output buffer"))
		}
		return c.readNegotiateSendChallenge(inTok.Data, tok, alloc)
	case stateSentChallenge:
		st, err := c.readAuthenticate(ctx, inTok.Data)
		if err == nil {
			if tok, _ := c.outToken(out); tok != nil {
				tok.Data = tok.Data[:0]
			}
		}
		return st, err
	}
	return c.fail(status.SEC_E_INTERNAL_ERROR, errors.New("ntlm: bad server state "+c.state.String()))
}

// offerable are the NEGOTIATE flags the server grants when the client asks
// (MS-NLMP 3.2.5.1.1). LM_KEY and REQUEST_NON_NT_SESSION_KEY need the LM
// hash, which the user store does not hold, and DATAGRAM is left out.
const offerable = flagSign | flagSeal | flagAlwaysSign | flagExtendedSessionSecurity |
	flagIdentify | flag128 | flag56 | flagKeyExch

// readNegotiateSendChallenge is ASC #1.
func (c *serverContext) readNegotiateSendChallenge(in []byte, tok *secbuffer.Buffer, alloc bool) (status.Status, error) {
	var neg negotiateMsg
	if err := neg.unmarshal(in); err != nil {
		return c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	cfg := c.config()
	flags := neg.flags&offerable | flagNTLM | flagTargetInfo | flagVersion
	if cfg.DisableKeyExchange {
		flags &^= flagKeyExch
	}
	if neg.flags&flagUnicode != 0 || neg.flags&flagOEM == 0 {
		flags |= flagUnicode
	} else {
		flags |= flagOEM
	}
	if neg.flags&flagRequestTarget != 0 {
		flags |= flagRequestTarget
	}
	// ASC_REQ_CONFIDENTIALITY / INTEGRITY do not add flags the client did
	// not ask for: the client would not use them.
	t := c.pkg.target()
	flags |= t.targetType
	if _, err := io.ReadFull(cfg.rand(), c.serverChallenge[:]); err != nil {
		return c.fail(status.SEC_E_INTERNAL_ERROR, err)
	}
	m := challengeMsg{flags: flags, targetName: t.name, serverChallenge: c.serverChallenge, version: ourVersion}
	// TargetInfo in the order Windows sends it (MS-NLMP 3.2.5.1.1): the
	// names, the same for every CHALLENGE of the package, then the time.
	var pairs [8]avPair
	binary.LittleEndian.PutUint64(c.timestamp[:], filetime(cfg.now()))
	m.targetInfo = append(append(avList(pairs[:0]), t.info...), avPair{avTimestamp, c.timestamp[:]})
	// The NEGOTIATE is kept for the MIC, and the CHALLENGE built right
	// after it in the same buffer.
	buf := make([]byte, len(in), len(in)+challengeLen+2*len(t.name)+m.targetInfo.size())
	copy(buf, in)
	b, err := m.build(buf[len(in):])
	if err != nil {
		// Names in Config too long for their 16-bit fields.
		return c.fail(status.SEC_E_INTERNAL_ERROR, err)
	}
	if !secbuffer.Fits(tok, len(b), alloc) {
		return status.SEC_E_BUFFER_TOO_SMALL, status.New(c.op(), Name, status.SEC_E_BUFFER_TOO_SMALL, nil)
	}
	secbuffer.Set(tok, b, alloc)
	c.transcript = append(buf, b...) // in place when b was built in buf
	c.challengeFlags = flags
	c.retFlags = c.contextFlags(flags) // what was offered; final after ASC #2
	c.state = stateSentChallenge
	return status.SEC_I_CONTINUE_NEEDED, nil
}

// sessionFlags are the bits that select session security; the client may
// only clear them.
const sessionFlags = flagSign | flagSeal | flagExtendedSessionSecurity | flagKeyExch |
	flag128 | flag56 | flagLMKey | flagDatagram | flagRequestNonNTSessionKey

// readAuthenticate is ASC #2 (MS-NLMP 3.2.5.1.2).
func (c *serverContext) readAuthenticate(ctx context.Context, in []byte) (status.Status, error) {
	// auth's fields alias in, which the step reads and does not keep.
	var auth authenticateMsg
	if err := auth.unmarshal(in); err != nil {
		return c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	flags := auth.flags
	if extra := flags & sessionFlags &^ c.challengeFlags; extra != 0 {
		return c.fail(status.SEC_E_INVALID_TOKEN, fmt.Errorf("ntlm: AUTHENTICATE sets flags 0x%08x the CHALLENGE did not offer", extra))
	}
	cfg := c.config()
	required := (cfg.RequireChannelBindings || c.req&packages.ASC_REQ_PROXY_BINDINGS != 0) &&
		c.req&packages.ASC_REQ_ALLOW_MISSING_BINDINGS == 0

	var kx [16]byte
	var err error
	switch {
	case isAnonymous(&auth):
		if c.req&packages.ASC_REQ_ALLOW_NULL_SESSION == 0 {
			return c.fail(status.SEC_E_LOGON_DENIED, errors.New("ntlm: anonymous logon not allowed"))
		}
		if required {
			return c.fail(status.SEC_E_BAD_BINDINGS, errors.New("ntlm: channel bindings required"))
		}
		c.anonymous = true
		c.clientName = anonymousName
		c.serverName = cfg.computerName()
		// The session base key of an anonymous logon is Z(16).
	case len(auth.ntChallengeResponse) > 24:
		var st status.Status
		if kx, st, err = c.checkNTLMv2(ctx, &auth, required); err != nil {
			return c.fail(st, err)
		}
		c.clientName = qualified(auth.domain, auth.user)
	case len(auth.ntChallengeResponse) == 24:
		if cfg.LMCompatibility < AllowNTLMv1 {
			return c.fail(status.SEC_E_LOGON_DENIED, errors.New("ntlm: NTLMv1 refused (LMCompatibility is NTLMv2Only)"))
		}
		if required {
			return c.fail(status.SEC_E_BAD_BINDINGS, errors.New("ntlm: channel bindings required; NTLMv1 carries none"))
		}
		if cfg.RequireMIC {
			return c.fail(status.SEC_E_LOGON_DENIED, errors.New("ntlm: NTLMv1 carries no MIC (RequireMIC)"))
		}
		var st status.Status
		if kx, st, err = c.checkNTLMv1(ctx, &auth); err != nil {
			return c.fail(st, err)
		}
		c.clientName = qualified(auth.domain, auth.user)
	default:
		return c.fail(status.SEC_E_LOGON_DENIED, fmt.Errorf("ntlm: unusable NT response of %d bytes", len(auth.ntChallengeResponse)))
	}
	defer clear(kx[:])
	exported := kx
	defer clear(exported[:])
	if flags&flagKeyExch != 0 && len(auth.encryptedRandomSessionKey) == 16 {
		rc4Once(kx[:], exported[:], auth.encryptedRandomSessionKey)
	}
	if c.micExpected {
		mic := computeMIC(exported, c.transcript, in)
		if !hmac.Equal(mic[:], auth.mic[:]) {
			return c.fail(status.SEC_E_LOGON_DENIED, errors.New("ntlm: MIC does not match"))
		}
	}
	c.authMIC = c.micExpected
	c.establish(flags, exported)
	// The messages kept for the MIC are no longer needed.
	c.transcript = nil
	return status.SEC_E_OK, nil
}

// isAnonymous reports an anonymous AUTHENTICATE (MS-NLMP 3.2.5.1.2):
// no user, no NT response, and an LM response that is empty or Z(1).
func isAnonymous(m *authenticateMsg) bool {
	return m.user == "" && len(m.ntChallengeResponse) == 0 &&
		(len(m.lmChallengeResponse) == 0 || bytes.Equal(m.lmChallengeResponse, []byte{0}))
}

// lookup fetches the user's NT hash.
func (c *serverContext) lookup(ctx context.Context, domain, user string) ([16]byte, status.Status, error) {
	nt, err := c.store.LookupNTHash(ctx, domain, user)
	switch {
	case errors.Is(err, ErrUnknownUser):
		return nt, status.SEC_E_LOGON_DENIED, fmt.Errorf("ntlm: logon failure for %q", qualified(domain, user))
	case err != nil:
		return nt, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("ntlm: user store: %w", err)
	}
	return nt, 0, nil
}

// checkNTLMv2 verifies an NTLMv2 response, the channel bindings and
// whether a MIC must be checked; it returns the key exchange key.
func (c *serverContext) checkNTLMv2(ctx context.Context, auth *authenticateMsg, required bool) ([16]byte, status.Status, error) {
	var kx [16]byte
	resp := auth.ntChallengeResponse
	if len(resp) < 16+28 || resp[16] != 1 || resp[17] != 1 {
		return kx, status.SEC_E_INVALID_TOKEN, malformed("NTLMv2 response of %d bytes", len(resp))
	}
	proof, blob := resp[:16], resp[16:]
	var pairs [16]avPair
	info, err := appendAVList(pairs[:0], blob[28:])
	if err != nil {
		return kx, status.SEC_E_INVALID_TOKEN, err
	}
	nt, st, err := c.lookup(ctx, auth.domain, auth.user)
	if err != nil {
		return kx, st, err
	}
	// MS-NLMP 3.2.5.1.2 computes NTOWFv2 with the domain the client sent;
	// like Samba, also try no domain, which some clients use when they
	// name a user without one.
	var key [16]byte
	ok := false
	for _, d := range [2]string{auth.domain, ""} {
		key = ntowfv2(nt, auth.user, d)
		want := hmacMD5(key[:], c.serverChallenge[:], blob) // NTProofStr
		if subtle.ConstantTimeCompare(want[:], proof) == 1 {
			ok = true
			break
		}
		if auth.domain == "" {
			break
		}
	}
	clear(nt[:])
	if !ok {
		clear(key[:])
		return kx, status.SEC_E_LOGON_DENIED, fmt.Errorf("ntlm: logon failure for %q", qualified(auth.domain, auth.user))
	}
	kx = hmacMD5(key[:], proof)
	clear(key[:])

	// Channel bindings (MS-NLMP 3.2.5.1.2, Extended Protection): Z(16) or
	// no pair means the client supplied none.
	cb, has := info.get(avChannelBindings)
	if has && len(cb) != 16 {
		return kx, status.SEC_E_BAD_BINDINGS, errors.New("ntlm: MsvAvChannelBindings is not 16 bytes")
	}
	supplied := has && !bytes.Equal(cb, make([]byte, 16))
	switch {
	case supplied && c.hasCB && !hmac.Equal(cb, c.cbHash[:]):
		return kx, status.SEC_E_BAD_BINDINGS, errors.New("ntlm: channel bindings do not match")
	case required && (!supplied || !c.hasCB):
		return kx, status.SEC_E_BAD_BINDINGS, errors.New("ntlm: channel bindings required")
	}

	// MIC (MS-NLMP 3.2.5.1.2): required, and checked, when MsvAvFlags
	// says the client computed one. MsvAvFlags sits in the blob that
	// NTProofStr covers, so removing a MIC means clearing the flag, which
	// breaks the proof checked above: a stripped MIC is a logon failure.
	// A client whose flag announces no MIC (gss-ntlmssp 1.2, go-ntlmssp,
	// curl) is accepted, as by Windows, unless Config.RequireMIC.
	var avf uint32
	if v, ok := info.get(avFlags); ok && len(v) == 4 {
		avf = leUint32(v)
	}
	switch {
	case avf&avFlagMIC != 0:
		if !auth.hasMIC {
			return kx, status.SEC_E_LOGON_DENIED, errors.New("ntlm: MsvAvFlags announces a MIC the message lacks")
		}
		c.micExpected = true
	case c.config().RequireMIC:
		return kx, status.SEC_E_LOGON_DENIED, errors.New("ntlm: the client computed no MIC (RequireMIC)")
	}
	if tn, ok := info.get(avTargetName); ok {
		if s, err := decodeString(tn, true); err == nil {
			c.serverName = s
		}
	}
	if c.serverName == "" {
		c.serverName = c.config().computerName()
	}
	return kx, 0, nil
}

// checkNTLMv1 verifies an NTLMv1 response, with or without extended
// session security (MS-NLMP 3.3.1), and returns the key exchange key.
func (c *serverContext) checkNTLMv1(ctx context.Context, auth *authenticateMsg) ([16]byte, status.Status, error) {
	var kx [16]byte
	nt, st, err := c.lookup(ctx, auth.domain, auth.user)
	if err != nil {
		return kx, st, err
	}
	defer clear(nt[:])
	var want []byte
	if auth.flags&flagExtendedSessionSecurity != 0 {
		if len(auth.lmChallengeResponse) < 8 {
			return kx, status.SEC_E_INVALID_TOKEN, malformed("NTLMv1-ESS LM response of %d bytes", len(auth.lmChallengeResponse))
		}
		var cc [8]byte
		copy(cc[:], auth.lmChallengeResponse)
		want, _ = v1ESSResponses(nt, c.serverChallenge, cc)
	} else {
		want, _ = v1Responses(nt, nil, c.serverChallenge)
	}
	if subtle.ConstantTimeCompare(want, auth.ntChallengeResponse) != 1 {
		return kx, status.SEC_E_LOGON_DENIED, fmt.Errorf("ntlm: logon failure for %q", qualified(auth.domain, auth.user))
	}
	sbk := v1SessionBaseKey(nt)
	c.serverName = c.config().computerName()
	return kxkey(auth.flags, sbk, nil, auth.lmChallengeResponse, c.serverChallenge), 0, nil
}
