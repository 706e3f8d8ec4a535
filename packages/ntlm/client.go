package ntlm

import (
	"context"
	"encoding/binary"
	"errors"
	"io"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// clientContext is an initiator context (InitializeSecurityContext).
type clientContext struct {
	ntlmContext
	target string // constant: the SPN given to ISC

	// handshake state, guarded by mu, dropped when the handshake ends
	negotiateFlags uint32
	negotiateLen   int      // the length of the NEGOTIATE at the start of transcript
	transcript     []byte   // NEGOTIATE ‖ CHALLENGE as sent and received: what the MIC covers
	random         [24]byte // client challenge ‖ random session key, zeroed after ISC #2

	// scratch space of ISC #2, in the context so that the step does not
	// allocate
	cbHash  [16]byte // the channel-binding hash, MsvAvChannelBindings
	avFlags [4]byte  // MsvAvFlags
}

// transcriptCap is the capacity the client's transcript starts with: its
// NEGOTIATE (40 bytes) and a CHALLENGE of usual size (a few hundred bytes),
// so that storing the CHALLENGE does not allocate.
const transcriptCap = 1024

// newClient returns a client context holding its own copy of id's key
// material (ntlmContext.id): the credentials may be freed while the
// handshake runs.
func newClient(p *Package, id *identity, target string, req uint32) *clientContext {
	c := &clientContext{target: target}
	c.pkg, c.client, c.req, c.id = p, true, req, *id
	c.anonymous = id.anonymous || req&packages.ISC_REQ_NULL_SESSION != 0
	return c
}

// Step implements packages.Context: ISC #1 sends NEGOTIATE, ISC #2 reads
// CHALLENGE and sends AUTHENTICATE (MS-NLMP 3.1.5).
func (c *clientContext) Step(_ context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.stepPrologue(); err != nil {
		return status.Code(err), err
	}
	tok, alloc := c.outToken(out)
	if tok == nil {
		return c.fail(status.SEC_E_INVALID_TOKEN, errors.New("ntlm: no SECBUFFER_TOKEN output buffer"))
	}
	switch c.state {
	case stateStart:
		return c.sendNegotiate(tok, alloc)
	case stateSentNegotiate:
		return c.readChallengeSendAuthenticate(in, tok, alloc)
	}
	return c.fail(status.SEC_E_INTERNAL_ERROR, errors.New("ntlm: bad client state "+c.state.String()))
}

// requestFlags are the NEGOTIATE flags for the ISC_REQ_* request
// (packages.md 1.3): what Windows sends, with SIGN and SEAL as requested.
func (c *clientContext) requestFlags() uint32 {
	f := uint32(flagUnicode | flagOEM | flagRequestTarget | flagNTLM | flagAlwaysSign |
		flagExtendedSessionSecurity | flagVersion | flag128 | flag56 | flagKeyExch)
	if c.req&(packages.ISC_REQ_INTEGRITY|packages.ISC_REQ_REPLAY_DETECT|packages.ISC_REQ_SEQUENCE_DETECT|packages.ISC_REQ_CONFIDENTIALITY) != 0 {
		f |= flagSign
	}
	if c.req&packages.ISC_REQ_CONFIDENTIALITY != 0 {
		f |= flagSeal
	}
	if c.req&packages.ISC_REQ_IDENTIFY != 0 {
		f |= flagIdentify
	}
	if c.anonymous {
		f |= flagAnonymous
	}
	if c.config().LMCompatibility >= AllowLM {
		f |= flagLMKey
	}
	if c.config().DisableKeyExchange {
		f &^= flagKeyExch
	}
	return f
}

// sendNegotiate is ISC #1: NEGOTIATE_MESSAGE, always with VERSION.
func (c *clientContext) sendNegotiate(tok *secbuffer.Buffer, alloc bool) (status.Status, error) {
	m := negotiateMsg{flags: c.requestFlags(), version: ourVersion}
	b, err := m.build(make([]byte, 0, transcriptCap))
	if err != nil {
		return c.fail(status.SEC_E_INTERNAL_ERROR, err)
	}
	if !secbuffer.Fits(tok, len(b), alloc) {
		return status.SEC_E_BUFFER_TOO_SMALL, status.New(c.op(), Name, status.SEC_E_BUFFER_TOO_SMALL, nil)
	}
	secbuffer.Set(tok, b, alloc)
	c.negotiateFlags, c.negotiateLen, c.transcript = m.flags, len(b), b
	c.retFlags = c.contextFlags(m.flags) // what was asked; final after ISC #2
	c.state = stateSentNegotiate
	return status.SEC_I_CONTINUE_NEEDED, nil
}

// authFlags are the AUTHENTICATE flags: the CHALLENGE's, less what we did
// not ask for (MS-NLMP 3.1.5.1.2). ESS excludes LM_KEY.
func (c *clientContext) authFlags(chal uint32) uint32 {
	f := chal & (c.negotiateFlags | flagTargetInfo | flagTargetTypeDomain | flagTargetTypeServer)
	if f&flagExtendedSessionSecurity != 0 {
		f &^= flagLMKey
	}
	if c.anonymous {
		f |= flagAnonymous
	}
	return f | flagVersion
}

// readChallengeSendAuthenticate is ISC #2. Once it completes or fails, the
// context's copy of the user's keys is zeroed: the handshake needs them no
// more.
func (c *clientContext) readChallengeSendAuthenticate(in []secbuffer.Buffer, tok *secbuffer.Buffer, alloc bool) (status.Status, error) {
	defer func() {
		if c.state != stateSentNegotiate { // not after SEC_E_BUFFER_TOO_SMALL, which may be retried
			c.dropHandshake()
		}
	}()
	inTok := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN)
	if inTok == nil || len(inTok.Data) == 0 {
		return c.fail(status.SEC_E_INVALID_TOKEN, &unexpectedMessageError{expected: "CHALLENGE_MESSAGE", got: "no token"})
	}
	if len(inTok.Data) > maxTokenSize {
		// Refused before it is copied.
		return c.fail(status.SEC_E_INVALID_TOKEN, malformed("CHALLENGE of %d bytes, more than %d", len(inTok.Data), maxTokenSize))
	}
	// The CHALLENGE is kept after the NEGOTIATE for the MIC; it is parsed
	// from that copy, to which the TargetInfo values point.
	negLen := c.negotiateLen
	c.transcript = append(c.transcript[:negLen], inTok.Data...)
	var chal challengeMsg
	var pairs [16]avPair
	info, err := chal.unmarshal(c.transcript[negLen:], pairs[:0])
	if err != nil {
		return c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	chal.targetInfo = info
	c.cbHash, _, err = bindings(in)
	if err != nil {
		return c.fail(status.SEC_E_BAD_BINDINGS, err)
	}
	cfg := c.config()
	flags := c.authFlags(chal.flags)
	if flags&flagNTLM == 0 && !c.anonymous {
		return c.fail(status.SEC_E_UNSUPPORTED_FUNCTION, errors.New("ntlm: server does not offer NTLM authentication"))
	}
	if flags&(flagUnicode|flagOEM) == 0 {
		flags |= flagOEM
	}
	auth := authenticateMsg{
		flags:       flags,
		workstation: cfg.workstation(),
		hasVersion:  true,
		version:     ourVersion,
	}
	// One read for the client challenge and the random session key.
	defer clear(c.random[:])
	if _, err := io.ReadFull(cfg.rand(), c.random[:]); err != nil {
		return c.fail(status.SEC_E_INTERNAL_ERROR, err)
	}
	clientChallenge := [8]byte(c.random[:8])
	var kx [16]byte // KeyExchangeKey
	defer clear(kx[:])
	switch {
	case c.anonymous:
		// MS-NLMP 3.1.5.1.2: anonymous: empty user, LM response Z(1),
		// empty NT response; the session base key, and so the key
		// exchange key, is Z(16).
		auth.lmChallengeResponse = []byte{0}
	case cfg.LMCompatibility == NTLMv2Only:
		// NTLMv2: the key exchange key is the session base key
		// (MS-NLMP 3.4.5.1).
		var lm [24]byte
		auth.ntChallengeResponse, lm, kx, err = c.ntlmv2Responses(&chal, clientChallenge)
		if err != nil {
			return c.fail(status.SEC_E_INVALID_TOKEN, err)
		}
		auth.lmChallengeResponse = lm[:]
		auth.hasMIC = true
	default:
		var lm *[16]byte
		if c.id.hasLM {
			lm = &c.id.lm
		}
		if flags&flagExtendedSessionSecurity != 0 {
			auth.ntChallengeResponse, auth.lmChallengeResponse = v1ESSResponses(c.id.nt, chal.serverChallenge, clientChallenge)
		} else {
			// The LM hash is known only with AllowLM (AcquireCredentials).
			auth.ntChallengeResponse, auth.lmChallengeResponse = v1Responses(c.id.nt, lm, chal.serverChallenge)
		}
		kx = kxkey(flags, v1SessionBaseKey(c.id.nt), lm, auth.lmChallengeResponse, chal.serverChallenge)
	}
	if !c.anonymous {
		auth.user, auth.domain = c.id.user, c.id.domain
	}
	exported := kx
	defer clear(exported[:])
	var encKey [16]byte
	if flags&flagKeyExch != 0 {
		// MS-NLMP 3.1.5.1.2: whenever KEY_EXCH is negotiated, with or
		// without SIGN and SEAL, the exported session key is a random
		// nonce sent encrypted with the key exchange key. Windows does
		// so; Samba refuses an AUTHENTICATE with KEY_EXCH and no key,
		// and gss-ntlmssp 1.2 crashes on it. The MIC is keyed with the
		// exported key either way.
		exported = [16]byte(c.random[8:])
		rc4Once(kx[:], encKey[:], exported[:])
		auth.encryptedRandomSessionKey = encKey[:]
	}
	// The AUTHENTICATE is built in the caller's buffer when it is large
	// enough, else in one of ours.
	var b []byte
	if tok.Data != nil && auth.size() <= cap(tok.Data) {
		b, err = auth.build(tok.Data)
	} else {
		b, err = auth.marshal()
	}
	if err != nil {
		// A field over 65535 bytes: a TargetInfo or a name too long for
		// the AUTHENTICATE. Windows refuses such a CHALLENGE.
		return c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	if auth.hasMIC {
		mic := computeMIC(exported, c.transcript, b)
		copy(b[micOffset:], mic[:])
	}
	switch {
	case len(b) <= cap(tok.Data):
		tok.Data = tok.Data[:len(b)]
		if &tok.Data[0] != &b[0] {
			copy(tok.Data, b)
		}
	case alloc:
		tok.Data = b
	default:
		return status.SEC_E_BUFFER_TOO_SMALL, status.New(c.op(), Name, status.SEC_E_BUFFER_TOO_SMALL, nil)
	}
	if c.anonymous {
		c.clientName = anonymousName
	} else {
		c.clientName = qualified(c.id.domain, c.id.user)
	}
	c.serverName = c.target
	c.authMIC = auth.hasMIC
	c.establish(flags, exported)
	return status.SEC_E_OK, nil
}

// dropHandshake zeroes the context's copy of the user's keys and drops the
// messages kept for the MIC: after ISC #2 the handshake needs neither.
// Call with mu held.
func (c *clientContext) dropHandshake() {
	c.id.clear()
	c.transcript = nil
}

// ntlmv2Responses computes the NTLMv2 and LM responses and the session
// base key (MS-NLMP 3.3.2), the blob carrying the server's AV pairs plus
// MsvAvFlags (MIC present), MsvAvTargetName and MsvAvChannelBindings (16
// zero bytes when the caller gave no SECBUFFER_CHANNEL_BINDINGS; MS-NLMP
// 3.1.5.1.2). It fails when the blob would not fit its 16-bit field.
func (c *clientContext) ntlmv2Responses(chal *challengeMsg, clientChallenge [8]byte) (nt []byte, lm [24]byte, sessionBaseKey [16]byte, err error) {
	var pairs [19]avPair // the server's (parsed into 16) and our three
	info := append(avList(pairs[:0]), chal.targetInfo...)
	var t uint64
	ts, hasTS := info.get(avTimestamp)
	if hasTS && len(ts) == 8 {
		t = leUint64(ts)
	} else {
		// No MsvAvTimestamp from the server: the blob carries the
		// client's time, and no pair is added.
		t = filetime(c.config().now())
		hasTS = false
	}
	var avf uint32
	if v, ok := info.get(avFlags); ok && len(v) == 4 {
		avf = leUint32(v)
	}
	binary.LittleEndian.PutUint32(c.avFlags[:], avf|avFlagMIC)
	info = info.set(avFlags, c.avFlags[:])
	if c.target != "" {
		info = info.set(avTargetName, utf16le(c.target))
	}
	info = info.set(avChannelBindings, c.cbHash[:])
	// The NT response is NTProofStr ‖ blob: the blob is built after 16
	// bytes of room, filled by v2Sign.
	nt, err = appendV2Blob(make([]byte, 16, 16+28+info.size()+4), t, clientChallenge, info)
	if err != nil {
		return nil, lm, sessionBaseKey, err
	}
	lm, sessionBaseKey = v2Sign(c.id.v2, chal.serverChallenge, clientChallenge, nt)
	if hasTS {
		// With MsvAvTimestamp the LM response is Z(24).
		lm = [24]byte{}
	}
	return nt, lm, sessionBaseKey, nil
}

// anonymousName is the name Windows gives the anonymous logon.
const anonymousName = `NT AUTHORITY\ANONYMOUS LOGON`
