package digest

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

type serverState int

const (
	serverStart serverState = iota
	serverSentChallenge
	serverEstablished
	serverFailed
)

// serverContext is an AcceptSecurityContext context, HTTP or SASL.
type serverContext struct {
	// constant
	p         *Package
	store     UserStore
	principal string
	req       uint32
	http      bool

	// guarded by mu
	mu    sync.Mutex
	state serverState
	err   error
	flags uint32
	realm string

	// SASL challenge, set once
	nonce   string
	qops    []string
	ciphers []string

	// set by a successful verification
	user       string
	authzid    string
	sessionKey []byte
	layer      *securityLayer // SASL: the keys, handed to sess
	sess       *session       // built by Session; the context's until handedOver
	handedOver bool
}

func newServerContext(p *Package, store UserStore, principal string, req uint32) *serverContext {
	return &serverContext{p: p, store: store, principal: principal, req: req, http: req&ASC_REQ_HTTP != 0}
}

func (s *serverContext) fail(st status.Status, err error) error {
	e := status.New("AcceptSecurityContext", pkgName, st, err)
	s.state, s.err = serverFailed, e
	return e
}

func (s *serverContext) allocate() bool { return s.req&packages.ASC_REQ_ALLOCATE_MEMORY != 0 }

func (s *serverContext) setOut(out []secbuffer.Buffer, p []byte) error {
	return setToken("AcceptSecurityContext", out, p, s.allocate(), &s.flags)
}

func (s *serverContext) fits(out []secbuffer.Buffer, n int) error {
	return tokenFits("AcceptSecurityContext", out, n, s.allocate())
}

// wantsIntegrity reports whether the caller asked for auth-int
// (packages.md 4.1).
func (s *serverContext) wantsIntegrity() bool {
	return s.req&(packages.ASC_REQ_INTEGRITY|packages.ASC_REQ_REPLAY_DETECT|packages.ASC_REQ_SEQUENCE_DETECT|packages.ASC_REQ_CONFIDENTIALITY) != 0
}

// Step implements packages.Context: AcceptSecurityContext.
func (s *serverContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == serverFailed {
		return status.Code(s.err), s.err
	}
	var tok []byte
	if b := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN); b != nil {
		tok = b.Data
	}
	params := pkgParams(in)
	if s.realm == "" {
		// HTTP: PKG_PARAMS buffer 4 (the fourth PKG_PARAMS) is the realm
		// (packages.md 4.3); SASL uses the same position.
		s.realm = paramAt(params, 3)
		if s.realm == "" {
			s.realm = s.p.realm()
		}
	}
	if len(tok) > maxParamsLen {
		return status.SEC_E_INVALID_TOKEN, s.fail(status.SEC_E_INVALID_TOKEN, errors.New("digest: input token too long"))
	}
	if len(tok) > 0 && s.req&packages.ASC_REQ_PROXY_BINDINGS != 0 {
		// No Digest response carries channel bindings (packages.md 6.3),
		// so a caller that requires them can never be satisfied.
		return status.SEC_E_BAD_BINDINGS, s.fail(status.SEC_E_BAD_BINDINGS, errors.New("digest: ASC_REQ_PROXY_BINDINGS, but Digest responses carry no channel bindings"))
	}
	if s.http {
		if len(tok) == 0 {
			if s.state == serverEstablished {
				return status.SEC_E_INVALID_TOKEN, s.fail(status.SEC_E_INVALID_TOKEN, errors.New("digest: no Authorization"))
			}
			return s.sendHTTPChallenge(out)
		}
		return s.readAuthorization(ctx, string(tok), in, out)
	}
	switch {
	case s.state == serverStart && len(tok) == 0:
		return s.sendSASLChallenge(out)
	case s.state == serverSentChallenge && len(tok) > 0:
		return s.readSASLResponse(ctx, string(tok), out)
	case s.state == serverStart:
		// RFC 2831 2.2 subsequent authentication is not supported.
		return status.SEC_E_INVALID_TOKEN, s.fail(status.SEC_E_INVALID_TOKEN, errors.New("digest: response without a challenge"))
	default:
		return status.SEC_E_OUT_OF_SEQUENCE, s.fail(status.SEC_E_OUT_OF_SEQUENCE, errors.New("digest: unexpected call"))
	}
}

// HTTP server (packages.md 4.3).

func (s *serverContext) httpChallenge(stale bool) ([]byte, error) {
	algs, err := s.p.serverAlgorithms()
	if err != nil {
		return nil, err
	}
	nonce, opaque, err := s.p.newNonce(s.realm)
	if err != nil {
		return nil, err
	}
	ch := &httpChallenge{
		realm:     s.realm,
		nonce:     nonce,
		opaque:    opaque,
		stale:     stale,
		algorithm: algs[0].name,
		qop:       []string{qopAuth},
		charset:   true,
		userhash:  s.p.config.UserHash,
	}
	if s.wantsIntegrity() {
		ch.qop = append(ch.qop, qopAuthInt)
	}
	return ch.marshal(), nil
}

func (s *serverContext) sendHTTPChallenge(out []secbuffer.Buffer) (status.Status, error) {
	p, err := s.httpChallenge(false)
	if err != nil {
		return status.SEC_E_INTERNAL_ERROR, s.fail(status.SEC_E_INTERNAL_ERROR, err)
	}
	if err := s.fits(out, len(p)); err != nil {
		return status.Code(err), err
	}
	if err := s.setOut(out, p); err != nil {
		return status.Code(err), err
	}
	s.state = serverSentChallenge
	return status.SEC_I_CONTINUE_NEEDED, nil
}

// verifyError is a failed check: the status to return, and whether a
// stale=true challenge goes back with it.
type verifyError struct {
	st    status.Status
	stale bool
	err   error
}

func (e *verifyError) Error() string { return e.err.Error() }

func deny(st status.Status, format string, args ...any) *verifyError {
	return &verifyError{st: st, err: fmt.Errorf(format, args...)}
}

// verified is what a successful check of an Authorization yields.
type verified struct {
	auth *httpAuthorization
	user string
	ha1  string
	dg   *digester
}

// verifyHTTP checks an Authorization against the request described by the
// PKG_PARAMS of in: [method, request URL (may be empty), H(entity) hex,
// realm] (packages.md 4.3); a SECBUFFER_DATA buffer, if present, is the
// entity body itself.
func (s *serverContext) verifyHTTP(ctx context.Context, tok string, in []secbuffer.Buffer) (*verified, *verifyError) {
	a, err := parseHTTPAuthorization(tok)
	if err != nil {
		return nil, &verifyError{st: status.SEC_E_INVALID_TOKEN, err: err}
	}
	algs, err := s.p.serverAlgorithms()
	if err != nil {
		return nil, &verifyError{st: status.SEC_E_INTERNAL_ERROR, err: err}
	}
	alg := lookupAlgorithm(a.algorithm)
	accepted := false
	for _, x := range algs {
		accepted = accepted || x == alg
	}
	if !accepted {
		return nil, deny(status.SEC_E_ALGORITHM_MISMATCH, "digest: algorithm %q not accepted", a.algorithm)
	}
	if a.realm != s.realm {
		return nil, deny(status.SEC_E_LOGON_DENIED, "digest: realm %q is not %q", a.realm, s.realm)
	}
	switch a.qop {
	case qopAuth:
	case qopAuthInt:
		if !s.wantsIntegrity() {
			return nil, deny(status.SEC_E_INVALID_TOKEN, "digest: qop auth-int was not offered")
		}
	case "":
		// RFC 7616 3.4: qop is required when the challenge offered it,
		// which ours always does.
		return nil, deny(status.SEC_E_INVALID_TOKEN, "digest: response without qop")
	default:
		return nil, deny(status.SEC_E_INVALID_TOKEN, "digest: unknown qop %q", a.qop)
	}
	params := pkgParams(in)
	method := paramAt(params, 0)
	if method == "" {
		return nil, deny(status.SEC_E_INVALID_TOKEN, "digest: no HTTP method in SECBUFFER_PKG_PARAMS")
	}
	if reqURL := paramAt(params, 1); reqURL != "" && reqURL != a.uri {
		// RFC 7616 3.4.6: the digest-uri must be the request-target.
		return nil, deny(status.SEC_E_INVALID_TOKEN, "digest: uri %q does not match the request %q", a.uri, reqURL)
	}
	dg := newDigester(alg)
	he := ""
	if a.qop == qopAuthInt {
		ent, _, err := findEntity(in, params, 2)
		if err == nil {
			he, err = ent.hexHash(dg)
		}
		if err != nil {
			return nil, &verifyError{st: status.SEC_E_INVALID_TOKEN, err: err}
		}
	}
	var user string
	var secret Secret
	if a.userhash {
		user, secret, err = s.store.LookupUserHash(ctx, a.username, a.realm, alg.name)
	} else {
		user = a.username
		secret, err = s.store.LookupUser(ctx, a.username, a.realm)
	}
	if errors.Is(err, ErrUnknownUser) {
		return nil, deny(status.SEC_E_LOGON_DENIED, "digest: unknown user")
	}
	if err != nil {
		return nil, &verifyError{st: status.SEC_E_INTERNAL_ERROR, err: err}
	}
	var base string
	if secret.Password != "" {
		base = dg.baseHA1(user, a.realm, secret.Password)
	} else if h := secret.HA1[alg.base]; isHex(h, 2*alg.size) {
		base = strings.ToLower(h)
	} else {
		return nil, deny(status.SEC_E_LOGON_DENIED, "digest: no %s secret for the user", alg.base)
	}
	ha1 := dg.sessionHA1(base, a.nonce, a.cnonce)
	want := dg.response(ha1, a.nonce, a.nc, a.cnonce, a.qop, dg.ha2(method, a.uri, he, a.qop == qopAuthInt))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(a.response))) {
		return nil, deny(status.SEC_E_LOGON_DENIED, "digest: wrong response")
	}
	// The password is right; now the nonce (RFC 7616 3.3 stale).
	st, issued := s.p.checkNonce(a.nonce, a.opaque, a.realm)
	switch st {
	case nonceStale:
		return nil, &verifyError{st: status.SEC_E_CONTEXT_EXPIRED, stale: true, err: errors.New("digest: nonce expired")}
	case nonceForeign:
		return nil, &verifyError{st: status.SEC_E_INVALID_TOKEN, stale: true, err: errors.New("digest: nonce or opaque not issued here")}
	}
	now := s.p.now()
	if !s.p.replay.use(a.realm+"\x00"+a.nonce, a.ncValue, issued.Add(s.p.nonceLifetime()), now) {
		// Microsoft Digest: VerifySignature returns SEC_E_OUT_OF_SEQUENCE
		// when nc does not advance.
		return nil, deny(status.SEC_E_OUT_OF_SEQUENCE, "digest: nonce count %s replayed", a.nc)
	}
	return &verified{auth: a, user: user, ha1: ha1, dg: dg}, nil
}

// readAuthorization is ASC #2 (and any later request on the context).
func (s *serverContext) readAuthorization(ctx context.Context, tok string, in, out []secbuffer.Buffer) (status.Status, error) {
	v, verr := s.verifyHTTP(ctx, tok, in)
	if verr != nil {
		if verr.stale {
			// packages.md 4.3: the password was right but the nonce is
			// expired or not ours, and the server issues a new challenge
			// with stale=true. As with WDigest, the output token of this
			// failing call carries it (both the flat API and the Go API
			// pass it back with the error), and the context stays usable:
			// the client's answer is checked as usual.
			if p, err := s.httpChallenge(true); err == nil && s.fits(out, len(p)) == nil {
				_ = s.setOut(out, p)
			}
			if s.state != serverEstablished {
				s.state = serverSentChallenge
			}
			return verr.st, status.New("AcceptSecurityContext", pkgName, verr.st, verr.err)
		}
		return verr.st, s.fail(verr.st, verr.err)
	}
	a := v.auth
	// RFC 7616 3.5: rspauth uses A2 = ":" uri [":" H(entity)]; for
	// auth-int the entity is the response's, which ASC cannot know, so an
	// empty body is assumed (design decision; a client checks it the same
	// way unless given the response body).
	rhe := ""
	if a.qop == qopAuthInt {
		rhe = v.dg.entityHash(nil)
	}
	rsp := v.dg.response(v.ha1, a.nonce, a.nc, a.cnonce, a.qop, v.dg.ha2("", a.uri, rhe, a.qop == qopAuthInt))
	p := (&httpAuthInfo{qop: a.qop, rspauth: rsp, cnonce: a.cnonce, nc: a.nc}).marshal()
	if err := s.fits(out, len(p)); err != nil {
		return status.Code(err), err
	}
	if err := s.setOut(out, p); err != nil {
		return status.Code(err), err
	}
	s.user = v.user
	if key, err := hex.DecodeString(v.ha1); err == nil {
		s.sessionKey = key
	}
	if a.qop == qopAuthInt {
		s.flags |= packages.ASC_RET_INTEGRITY
	}
	s.state = serverEstablished
	return status.SEC_E_OK, nil
}

// SASL server (packages.md 4.4).

func (s *serverContext) sendSASLChallenge(out []secbuffer.Buffer) (status.Status, error) {
	nonce, err := s.p.newSASLNonce()
	if err != nil {
		return status.SEC_E_INTERNAL_ERROR, s.fail(status.SEC_E_INTERNAL_ERROR, err)
	}
	ch := &saslChallenge{
		realms:  []string{s.realm},
		nonce:   nonce,
		qop:     []string{qopAuth},
		maxbuf:  s.p.maxBuffer(),
		charset: true,
	}
	if s.wantsIntegrity() {
		ch.qop = append(ch.qop, qopAuthInt)
	}
	if s.req&packages.ASC_REQ_CONFIDENTIALITY != 0 {
		for _, c := range s.p.cipherList() {
			ch.ciphers = append(ch.ciphers, c.name)
		}
		if len(ch.ciphers) > 0 {
			ch.qop = append(ch.qop, qopAuthConf)
		}
	}
	p := ch.marshal()
	if err := s.fits(out, len(p)); err != nil {
		return status.Code(err), err
	}
	if err := s.setOut(out, p); err != nil {
		return status.Code(err), err
	}
	s.nonce, s.qops, s.ciphers = nonce, ch.qop, ch.ciphers
	s.state = serverSentChallenge
	return status.SEC_I_CONTINUE_NEEDED, nil
}

func (s *serverContext) readSASLResponse(ctx context.Context, tok string, out []secbuffer.Buffer) (status.Status, error) {
	r, err := parseSASLResponse(tok)
	if err != nil {
		return status.SEC_E_INVALID_TOKEN, s.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	if r.nonce != s.nonce {
		return status.SEC_E_INVALID_TOKEN, s.fail(status.SEC_E_INVALID_TOKEN, errors.New("digest: response names another nonce"))
	}
	if r.nc != "00000001" {
		return status.SEC_E_INVALID_TOKEN, s.fail(status.SEC_E_INVALID_TOKEN, fmt.Errorf("digest: nc %q on a first authentication", r.nc))
	}
	offered := false
	for _, q := range s.qops {
		offered = offered || q == r.qop
	}
	if !offered {
		return status.SEC_E_INVALID_TOKEN, s.fail(status.SEC_E_INVALID_TOKEN, fmt.Errorf("digest: qop %q was not offered", r.qop))
	}
	var cs *cipherSpec
	if r.qop == qopAuthConf {
		for _, c := range s.ciphers {
			if c == r.cipher {
				cs = lookupCipher(c)
			}
		}
		if cs == nil {
			return status.SEC_E_INVALID_TOKEN, s.fail(status.SEC_E_INVALID_TOKEN, fmt.Errorf("digest: cipher %q was not offered", r.cipher))
		}
	}
	if r.realm != s.realm {
		return status.SEC_E_LOGON_DENIED, s.fail(status.SEC_E_LOGON_DENIED, fmt.Errorf("digest: realm %q is not %q", r.realm, s.realm))
	}
	if s.principal != "" && !sameDigestURI(r.digestURI, s.principal) {
		return status.SEC_E_WRONG_PRINCIPAL, s.fail(status.SEC_E_WRONG_PRINCIPAL, fmt.Errorf("digest: digest-uri %q is not %q", r.digestURI, s.principal))
	}
	secret, err := s.store.LookupUser(ctx, r.username, r.realm)
	if errors.Is(err, ErrUnknownUser) {
		return status.SEC_E_LOGON_DENIED, s.fail(status.SEC_E_LOGON_DENIED, errors.New("digest: unknown user"))
	}
	if err != nil {
		return status.SEC_E_INTERNAL_ERROR, s.fail(status.SEC_E_INTERNAL_ERROR, err)
	}
	var key [16]byte
	if secret.Password != "" {
		key = saslUserKey(r.username, r.realm, secret.Password, r.charset)
	} else if h := secret.HA1[MD5]; isHex(h, 32) {
		if _, err := hex.Decode(key[:], []byte(h)); err != nil {
			return status.SEC_E_LOGON_DENIED, s.fail(status.SEC_E_LOGON_DENIED, err)
		}
	} else {
		return status.SEC_E_LOGON_DENIED, s.fail(status.SEC_E_LOGON_DENIED, errors.New("digest: no MD5 secret for the user"))
	}
	ha1 := saslHA1(key, r.nonce, r.cnonce, r.authzid)
	want := saslResponse(ha1, r.nonce, r.nc, r.cnonce, r.qop, r.digestURI, false)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(r.response))) {
		return status.SEC_E_LOGON_DENIED, s.fail(status.SEC_E_LOGON_DENIED, errors.New("digest: wrong response"))
	}
	p := []byte("rspauth=" + saslResponse(ha1, r.nonce, r.nc, r.cnonce, r.qop, r.digestURI, true))
	if err := s.fits(out, len(p)); err != nil {
		return status.Code(err), err
	}
	if r.qop != qopAuth {
		layer, err := newSecurityLayer(ha1[:], r.qop, cs, false, r.maxbuf)
		if err != nil {
			return status.SEC_E_INTERNAL_ERROR, s.fail(status.SEC_E_INTERNAL_ERROR, err)
		}
		s.layer = layer
		s.flags |= packages.ASC_RET_INTEGRITY | packages.ASC_RET_REPLAY_DETECT | packages.ASC_RET_SEQUENCE_DETECT
		if r.qop == qopAuthConf {
			s.flags |= packages.ASC_RET_CONFIDENTIALITY
		}
	}
	if err := s.setOut(out, p); err != nil {
		return status.Code(err), s.fail(status.Code(err), err)
	}
	s.flags |= packages.ASC_RET_MUTUAL_AUTH
	s.user, s.authzid, s.sessionKey = r.username, r.authzid, ha1[:]
	s.state = serverEstablished
	return status.SEC_E_OK, nil
}

// sameDigestURI compares "serv-type/host[/serv-name]" values: the service
// type exactly, host and serv-name without regard to case (RFC 2831 2.1.2).
func sameDigestURI(got, want string) bool {
	gs, gr, _ := strings.Cut(got, "/")
	ws, wr, _ := strings.Cut(want, "/")
	return gs == ws && strings.EqualFold(gr, wr)
}

// Context methods.

// Session implements packages.Context: once the handshake is done, the
// caller takes the session and owns it.
func (s *serverContext) Session() packages.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != serverEstablished {
		return nil
	}
	if s.sess == nil {
		s.sess = &session{layer: s.layer}
		if s.http {
			s.sess.http = s
		}
	}
	s.handedOver = true
	return s.sess
}

func (s *serverContext) Flags() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flags
}

func (s *serverContext) Expiry() time.Time { return time.Time{} }

func (s *serverContext) QueryAttribute(attr uint32) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if attr == packages.SECPKG_ATTR_SIZES {
		if s.http {
			return &packages.SecPkgContext_Sizes{MaxToken: maxToken}, nil
		}
		return s.layer.sizes(), nil
	}
	if s.state != serverEstablished {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	switch attr {
	case packages.SECPKG_ATTR_NAMES:
		return &packages.Names{UserName: s.user}, nil
	case packages.SECPKG_ATTR_SESSION_KEY:
		return &packages.SecPkgContext_SessionKey{SessionKey: append([]byte(nil), s.sessionKey...)}, nil
	case packages.SECPKG_ATTR_KEY_INFO:
		return keyInfo(s.layer), nil
	}
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}

// httpMakeSignature: an HTTP server signs nothing.
func (s *serverContext) httpMakeSignature([]secbuffer.Buffer) error {
	return status.SEC_E_UNSUPPORTED_FUNCTION
}

// httpVerifySignature is VerifySignature on an HTTP context: it checks a
// later request's Authorization (see session.VerifySignature).
func (s *serverContext) httpVerifySignature(msg []secbuffer.Buffer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != serverEstablished {
		return status.SEC_E_OUT_OF_SEQUENCE
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil || len(tok.Data) == 0 || len(tok.Data) > maxParamsLen {
		return status.SEC_E_INVALID_TOKEN
	}
	v, verr := s.verifyHTTP(context.Background(), string(tok.Data), msg)
	if verr != nil {
		return status.New("VerifySignature", pkgName, verr.st, verr.err)
	}
	if v.user != s.user {
		return status.New("VerifySignature", pkgName, status.SEC_E_LOGON_DENIED, errors.New("digest: request from another user"))
	}
	return nil
}

func (s *serverContext) Delete() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessionKey)
	switch {
	case s.sess != nil && !s.handedOver:
		s.sess.Delete()
	case s.sess == nil && s.layer != nil:
		s.layer.zero()
	}
	s.layer = nil
	s.state, s.err = serverFailed, status.SEC_E_INVALID_HANDLE
}
