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

type clientState int

const (
	clientStart        clientState = iota
	clientSentResponse             // SASL: digest-response sent, rspauth expected
	clientPending                  // HTTP: SEC_I_COMPLETE_NEEDED returned
	clientEstablished
	clientFailed
)

// clientContext is an InitializeSecurityContext context, HTTP or SASL.
type clientContext struct {
	// constant
	p      *Package
	id     *Identity
	target string
	req    uint32
	http   bool

	// guarded by mu: the handshake, and for HTTP MakeSignature, which
	// produces the next request's Authorization from the same state.
	mu     sync.Mutex
	state  clientState
	err    error // sticky failure
	flags  uint32
	answer int // HTTP challenges answered

	// HTTP, per nonce
	ch      *httpChallenge
	alg     *algorithm
	dg      *digester
	cnonce  string
	nc      uint32
	ha1     string // H(A1) hex for the current nonce and cnonce
	qop     string
	pending *httpAuthorization // response still to compute (auth-int)
	last    *httpAuthorization // last Authorization sent, for rspauth

	// SASL, set once by the handshake
	expectRspauth string
	sessionKey    []byte
	layer         *securityLayer // SASL: the keys, handed to sess
	sess          *session       // built by Session; the context's until handedOver
	handedOver    bool
}

func newClientContext(p *Package, id *Identity, target string, req uint32) *clientContext {
	return &clientContext{p: p, id: id, target: target, req: req, http: req&packages.ISC_REQ_USE_HTTP_STYLE != 0}
}

func (c *clientContext) fail(st status.Status, err error) error {
	e := status.New("InitializeSecurityContext", pkgName, st, err)
	c.state, c.err = clientFailed, e
	return e
}

func (c *clientContext) allocate() bool { return c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0 }

// setOut stores p in the output TOKEN buffer.
func (c *clientContext) setOut(out []secbuffer.Buffer, p []byte) error {
	return setToken("InitializeSecurityContext", out, p, c.allocate(), &c.flags)
}

// checkOut makes sure n bytes fit before any state changes.
func (c *clientContext) checkOut(out []secbuffer.Buffer, n int) error {
	return tokenFits("InitializeSecurityContext", out, n, c.allocate())
}

// pkgParams returns the SECBUFFER_PKG_PARAMS buffers of bufs in order.
func pkgParams(bufs []secbuffer.Buffer) [][]byte {
	var out [][]byte
	for i := range bufs {
		if bufs[i].BaseType() == secbuffer.SECBUFFER_PKG_PARAMS {
			out = append(out, bufs[i].Data)
		}
	}
	return out
}

func paramAt(ps [][]byte, i int) string {
	if i < len(ps) {
		return string(ps[i])
	}
	return ""
}

// Step implements packages.Context: InitializeSecurityContext.
func (c *clientContext) Step(_ context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == clientFailed {
		return status.Code(c.err), c.err
	}
	var tok []byte
	if b := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN); b != nil {
		tok = b.Data
	}
	if len(tok) == 0 {
		if c.state == clientStart {
			// packages.md 4.4: a first call without a challenge, for
			// symmetry with other packages; Digest is server-first. The
			// HTTP side does the same (the RFCs have no client-first leg).
			if err := c.setOut(out, nil); err != nil {
				return status.Code(err), err
			}
			return status.SEC_I_CONTINUE_NEEDED, nil
		}
		err := c.fail(status.SEC_E_INVALID_TOKEN, errors.New("digest: no input token"))
		return status.SEC_E_INVALID_TOKEN, err
	}
	if len(tok) > maxParamsLen {
		err := c.fail(status.SEC_E_INVALID_TOKEN, errors.New("digest: input token too long"))
		return status.SEC_E_INVALID_TOKEN, err
	}
	if c.http {
		return c.stepHTTP(string(tok), in, out)
	}
	return c.stepSASL(string(tok), out)
}

// HTTP client (packages.md 4.2).

func (c *clientContext) stepHTTP(tok string, in, out []secbuffer.Buffer) (status.Status, error) {
	list, err := parseParams(stripScheme(tok))
	if err != nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	ps, err := indexParams(list)
	if err != nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	_, hasNonce := ps.get("nonce")
	_, hasRspauth := ps.get("rspauth")
	_, hasNext := ps.get("nextnonce")
	if !hasNonce && (hasRspauth || hasNext) {
		return c.readAuthInfo(ps, in, out)
	}
	if c.state == clientPending {
		return status.SEC_E_OUT_OF_SEQUENCE, c.fail(status.SEC_E_OUT_OF_SEQUENCE, errors.New("digest: CompleteAuthToken not called"))
	}
	ch, err := parseHTTPChallenge(tok)
	if err != nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	// A second challenge that is not stale means the server refused the
	// credentials: answering again with the same ones would loop (RFC 7616
	// 3.3, stale).
	if c.answer > 0 && !ch.stale {
		return status.SEC_E_LOGON_DENIED, c.fail(status.SEC_E_LOGON_DENIED, errors.New("digest: server rejected the credentials"))
	}
	if c.target == "" {
		return status.SEC_E_INVALID_PARAMETER, c.fail(status.SEC_E_INVALID_PARAMETER, errors.New("digest: target name (the request URI) is empty"))
	}
	params := pkgParams(in)
	method := paramAt(params, 0)
	ent, haveEntity, err := findEntity(in, params, 1)
	if err != nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	if method == "" {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, errors.New("digest: no HTTP method in SECBUFFER_PKG_PARAMS"))
	}
	saved := c.snapshot()
	if err := c.useChallenge(ch); err != nil {
		return status.Code(err), c.fail(status.Code(err), err)
	}
	auth := c.nextAuthorization(method, c.target)
	if auth.qop == qopAuthInt && !haveEntity {
		// packages.md 4.2: the response waits for CompleteAuthToken.
		auth.pending = true
		p := auth.marshal()
		if err := c.checkOut(out, len(p)); err != nil {
			c.restore(saved)
			return status.Code(err), err
		}
		c.pending = auth
		c.state = clientPending
		c.answer++
		if err := c.setOut(out, p); err != nil {
			return status.Code(err), c.fail(status.Code(err), err)
		}
		return status.SEC_I_COMPLETE_NEEDED, nil
	}
	c.finishAuthorization(auth, method, ent)
	p := auth.marshal()
	if err := c.checkOut(out, len(p)); err != nil {
		c.restore(saved)
		return status.Code(err), err
	}
	c.answer++
	c.last = auth
	c.state = clientEstablished
	if err := c.setOut(out, p); err != nil {
		return status.Code(err), c.fail(status.Code(err), err)
	}
	return status.SEC_E_OK, nil
}

type clientSnapshot struct {
	ch     *httpChallenge
	alg    *algorithm
	dg     *digester
	cnonce string
	nc     uint32
	ha1    string
	qop    string
}

func (c *clientContext) snapshot() clientSnapshot {
	return clientSnapshot{c.ch, c.alg, c.dg, c.cnonce, c.nc, c.ha1, c.qop}
}

func (c *clientContext) restore(s clientSnapshot) {
	c.ch, c.alg, c.dg, c.cnonce, c.nc, c.ha1, c.qop = s.ch, s.alg, s.dg, s.cnonce, s.nc, s.ha1, s.qop
}

// entity is the entity body for auth-int as the caller supplied it: the
// body itself in a SECBUFFER_DATA buffer (an extension: the package hashes
// it with the algorithm in use) or its hex hash in a PKG_PARAMS buffer.
// The zero entity is an empty body.
type entity struct {
	body []byte // the body itself, when raw
	raw  bool
	hash string // lower-case hex H(entity-body), when given as a hash
}

// findEntity reads the entity from a DATA buffer of in or PKG_PARAMS
// buffer i; supplied is false when neither is there.
func findEntity(in []secbuffer.Buffer, params [][]byte, i int) (e entity, supplied bool, err error) {
	if d := secbuffer.Find(in, secbuffer.SECBUFFER_DATA); d != nil {
		return entity{body: d.Data, raw: true}, true, nil
	}
	h := paramAt(params, i)
	if h == "" {
		return entity{}, false, nil
	}
	if !isHex(h, len(h)) {
		return entity{}, false, errors.New("digest: H(entity) parameter is not hex")
	}
	return entity{hash: strings.ToLower(h)}, true, nil
}

// hexHash returns hex H(entity-body) for dg's algorithm: it hashes a raw
// body and checks the length of a given hash.
func (e entity) hexHash(dg *digester) (string, error) {
	switch {
	case e.raw:
		return dg.entityHash(e.body), nil
	case e.hash == "":
		return dg.entityHash(nil), nil
	case len(e.hash) != 2*dg.alg.size:
		return "", fmt.Errorf("digest: H(entity) has %d hex digits, %s needs %d", len(e.hash), dg.alg.name, 2*dg.alg.size)
	}
	return e.hash, nil
}

// useChallenge adopts a (new) challenge: new nonce, nc from 1, new cnonce.
func (c *clientContext) useChallenge(ch *httpChallenge) error {
	alg := lookupAlgorithm(ch.algorithm)
	if alg == nil {
		return status.New("InitializeSecurityContext", pkgName, status.SEC_E_ALGORITHM_MISMATCH, fmt.Errorf("digest: unsupported algorithm %q", ch.algorithm))
	}
	qop := ""
	if len(ch.qop) > 0 {
		var hasAuth, hasInt bool
		for _, q := range ch.qop {
			switch strings.ToLower(q) {
			case qopAuth:
				hasAuth = true
			case qopAuthInt:
				hasInt = true
			}
		}
		wantInt := c.req&packages.ISC_REQ_INTEGRITY != 0
		switch {
		case hasInt && (wantInt || !hasAuth):
			qop = qopAuthInt
		case hasAuth:
			qop = qopAuth
		default:
			return status.New("InitializeSecurityContext", pkgName, status.SEC_E_QOP_NOT_SUPPORTED, errors.New("digest: challenge offers no known qop"))
		}
	}
	c.ch, c.alg, c.qop, c.nc = ch, alg, qop, 0
	if c.dg == nil || c.dg.alg != alg {
		c.dg = newDigester(alg)
	}
	return c.newNonce(ch.nonce)
}

// newNonce starts counting for nonce with a fresh cnonce; the -sess H(A1)
// is bound to that pair for as long as the nonce is used (RFC 2617 3.2.2.2).
func (c *clientContext) newNonce(nonce string) error {
	c.ch.nonce = nonce
	c.nc = 0
	if c.qop != "" {
		cn, err := c.p.newCnonce()
		if err != nil {
			return status.New("InitializeSecurityContext", pkgName, status.SEC_E_INTERNAL_ERROR, err)
		}
		c.cnonce = cn
	} else {
		c.cnonce = ""
	}
	base := c.dg.baseHA1(c.id.User, c.ch.realm, c.id.Password)
	c.ha1 = c.dg.sessionHA1(base, nonce, c.cnonce)
	return nil
}

// nextAuthorization fills every field of the next Authorization but the
// response, counting nc.
func (c *clientContext) nextAuthorization(method, uri string) *httpAuthorization {
	// method is kept for CompleteAuthToken.
	c.nc++
	a := &httpAuthorization{
		username:  c.id.User,
		realm:     c.ch.realm,
		nonce:     c.ch.nonce,
		uri:       uri,
		algorithm: c.ch.algorithm,
		opaque:    c.ch.opaque,
		qop:       c.qop,
	}
	if a.qop != "" {
		a.cnonce = c.cnonce
		a.nc = fmt.Sprintf("%08x", c.nc)
		a.ncValue = c.nc
	}
	switch {
	case c.ch.userhash:
		a.username = c.dg.userhash(c.id.User, c.ch.realm)
		a.userhash = true
	case c.ch.charset && !isASCII(c.id.User):
		// RFC 7616 3.4: a name that a quoted-string cannot carry.
		a.extName = true
	}
	a.method = method
	return a
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] < 0x20 {
			return false
		}
	}
	return true
}

// finishAuthorization computes the response. An entity whose hash does
// not fit the algorithm leaves H(entity) empty, which the server rejects;
// callers check it first where they can report it.
func (c *clientContext) finishAuthorization(a *httpAuthorization, method string, ent entity) {
	he := ""
	if a.qop == qopAuthInt {
		he, _ = ent.hexHash(c.dg)
	}
	ha2 := c.dg.ha2(method, a.uri, he, a.qop == qopAuthInt)
	a.response = c.dg.response(c.ha1, a.nonce, a.nc, a.cnonce, a.qop, ha2)
	a.method = method
}

// readAuthInfo verifies Authentication-Info (packages.md 4.2, mutual
// authentication) and adopts nextnonce.
func (c *clientContext) readAuthInfo(ps *paramSet, in, out []secbuffer.Buffer) (status.Status, error) {
	if c.last == nil || c.state != clientEstablished {
		return status.SEC_E_OUT_OF_SEQUENCE, c.fail(status.SEC_E_OUT_OF_SEQUENCE, errors.New("digest: Authentication-Info before any Authorization"))
	}
	info := parseHTTPAuthInfo(ps)
	if err := c.checkOut(out, 0); err != nil {
		return status.Code(err), err
	}
	if info.rspauth != "" {
		last := c.last
		if (info.cnonce != "" && info.cnonce != last.cnonce) || (info.nc != "" && info.nc != last.nc) || (info.qop != "" && info.qop != last.qop) {
			return status.SEC_E_MUTUAL_AUTH_FAILED, c.fail(status.SEC_E_MUTUAL_AUTH_FAILED, errors.New("digest: Authentication-Info does not match the request"))
		}
		he := ""
		if last.qop == qopAuthInt {
			// The response's own entity: PKG_PARAMS buffer 1 or a DATA
			// buffer, else an empty body.
			ent, _, err := findEntity(in, pkgParams(in), 1)
			if err == nil {
				he, err = ent.hexHash(c.dg)
			}
			if err != nil {
				return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
			}
		}
		ha2 := c.dg.ha2("", last.uri, he, last.qop == qopAuthInt)
		want := c.dg.response(c.ha1, last.nonce, last.nc, last.cnonce, last.qop, ha2)
		if !hmac.Equal([]byte(want), []byte(strings.ToLower(info.rspauth))) {
			return status.SEC_E_MUTUAL_AUTH_FAILED, c.fail(status.SEC_E_MUTUAL_AUTH_FAILED, errors.New("digest: rspauth does not match"))
		}
		c.flags |= packages.ISC_RET_MUTUAL_AUTH
	}
	if info.nextnonce != "" && info.nextnonce != c.ch.nonce {
		if err := c.newNonce(info.nextnonce); err != nil {
			return status.Code(err), c.fail(status.Code(err), err)
		}
	}
	if err := c.setOut(out, nil); err != nil {
		return status.Code(err), err
	}
	return status.SEC_E_OK, nil
}

// CompleteAuthToken implements packages.Completer: bufs = [TOKEN (the
// pending output, rewritten), PKG_PARAMS method, PKG_PARAMS uri,
// PKG_PARAMS H(entity)] (packages.md 4.2). Empty method or uri keep the
// ISC values; an empty H(entity) means an empty body. Without a pending
// response it does nothing and returns SEC_E_OK.
func (c *clientContext) CompleteAuthToken(bufs []secbuffer.Buffer) (status.Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == clientFailed {
		return status.Code(c.err), c.err
	}
	if c.state != clientPending {
		return status.SEC_E_OK, nil
	}
	a := c.pending
	params := pkgParams(bufs)
	method := paramAt(params, 0)
	if method == "" {
		method = a.method
	}
	if u := paramAt(params, 1); u != "" {
		a.uri = u
	}
	ent, _, err := findEntity(bufs, params, 2)
	if err != nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	if _, err := ent.hexHash(c.dg); err != nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	c.finishAuthorization(a, method, ent)
	a.pending = false
	p := a.marshal()
	b := secbuffer.Find(bufs, secbuffer.SECBUFFER_TOKEN)
	if b == nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, errors.New("digest: no token buffer"))
	}
	if !secbuffer.Fits(b, len(p), c.allocate()) {
		return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
	}
	secbuffer.Set(b, p, c.allocate())
	c.pending = nil
	c.last = a
	c.state = clientEstablished
	return status.SEC_E_OK, nil
}

// SASL client (packages.md 4.4).

func (c *clientContext) stepSASL(tok string, out []secbuffer.Buffer) (status.Status, error) {
	switch c.state {
	case clientStart:
		return c.readChallengeSendResponse(tok, out)
	case clientSentResponse:
		return c.readRspauth(tok, out)
	default:
		return status.SEC_E_OUT_OF_SEQUENCE, c.fail(status.SEC_E_OUT_OF_SEQUENCE, errors.New("digest: unexpected token after the handshake"))
	}
}

func (c *clientContext) readChallengeSendResponse(tok string, out []secbuffer.Buffer) (status.Status, error) {
	ch, err := parseSASLChallenge(tok)
	if err != nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	if c.target == "" {
		return status.SEC_E_INVALID_PARAMETER, c.fail(status.SEC_E_INVALID_PARAMETER, errors.New("digest: target name (service/host) is empty"))
	}
	offered := map[string]bool{}
	for _, q := range ch.qop {
		offered[q] = true
	}
	var cs *cipherSpec
	if offered[qopAuthConf] {
		for _, mine := range c.p.cipherList() {
			for _, theirs := range ch.ciphers {
				if cs == nil && mine.name == strings.ToLower(theirs) {
					cs = mine
				}
			}
		}
	}
	// The strongest offered qop the caller asked for (packages.md 4.1),
	// else auth, else whatever protection the server insists on.
	qop := ""
	wantConf := c.req&packages.ISC_REQ_CONFIDENTIALITY != 0
	wantInt := c.req&(packages.ISC_REQ_INTEGRITY|packages.ISC_REQ_REPLAY_DETECT|packages.ISC_REQ_SEQUENCE_DETECT) != 0 || wantConf
	switch {
	case wantConf && cs != nil:
		qop = qopAuthConf
	case wantInt && offered[qopAuthInt]:
		qop = qopAuthInt
	case offered[qopAuth]:
		qop = qopAuth
	case offered[qopAuthInt]:
		qop = qopAuthInt
	case cs != nil:
		qop = qopAuthConf
	default:
		return status.SEC_E_QOP_NOT_SUPPORTED, c.fail(status.SEC_E_QOP_NOT_SUPPORTED, errors.New("digest: no acceptable qop offered"))
	}
	realm := c.id.Realm
	if len(ch.realms) > 0 {
		found := false
		for _, r := range ch.realms {
			found = found || r == realm
		}
		if !found {
			realm = ch.realms[0]
		}
	}
	cnonce, err := c.p.newCnonce()
	if err != nil {
		return status.SEC_E_INTERNAL_ERROR, c.fail(status.SEC_E_INTERNAL_ERROR, err)
	}
	r := &saslResponseMsg{
		username:  c.id.User,
		realm:     realm,
		nonce:     ch.nonce,
		cnonce:    cnonce,
		nc:        "00000001",
		qop:       qop,
		digestURI: c.target,
		maxbuf:    c.p.maxBuffer(),
		charset:   ch.charset,
		authzid:   c.id.AuthzID,
	}
	if qop == qopAuthConf {
		r.cipher = cs.name
	}
	if qop == qopAuth {
		r.maxbuf = 65536 // not sent: no security layer
	}
	key := saslUserKey(c.id.User, realm, c.id.Password, ch.charset)
	ha1 := saslHA1(key, ch.nonce, cnonce, c.id.AuthzID)
	r.response = saslResponse(ha1, ch.nonce, r.nc, cnonce, qop, c.target, false)
	p := r.marshal()
	if err := c.checkOut(out, len(p)); err != nil {
		return status.Code(err), err
	}
	if qop != qopAuth {
		layer, err := newSecurityLayer(ha1[:], qop, cs, true, ch.maxbuf)
		if err != nil {
			return status.SEC_E_INTERNAL_ERROR, c.fail(status.SEC_E_INTERNAL_ERROR, err)
		}
		c.layer = layer
		c.flags |= packages.ISC_RET_INTEGRITY | packages.ISC_RET_REPLAY_DETECT | packages.ISC_RET_SEQUENCE_DETECT
		if qop == qopAuthConf {
			c.flags |= packages.ISC_RET_CONFIDENTIALITY
		}
	}
	c.expectRspauth = saslResponse(ha1, ch.nonce, r.nc, cnonce, qop, c.target, true)
	c.sessionKey = ha1[:]
	c.state = clientSentResponse
	if err := c.setOut(out, p); err != nil {
		return status.Code(err), c.fail(status.Code(err), err)
	}
	return status.SEC_I_CONTINUE_NEEDED, nil
}

func (c *clientContext) readRspauth(tok string, out []secbuffer.Buffer) (status.Status, error) {
	got, err := parseRspauth(tok)
	if err != nil {
		return status.SEC_E_INVALID_TOKEN, c.fail(status.SEC_E_INVALID_TOKEN, err)
	}
	if !hmac.Equal([]byte(strings.ToLower(got)), []byte(c.expectRspauth)) {
		return status.SEC_E_MUTUAL_AUTH_FAILED, c.fail(status.SEC_E_MUTUAL_AUTH_FAILED, errors.New("digest: rspauth does not match"))
	}
	if err := c.setOut(out, nil); err != nil {
		return status.Code(err), err
	}
	c.flags |= packages.ISC_RET_MUTUAL_AUTH
	c.state = clientEstablished
	return status.SEC_E_OK, nil
}

// Context methods.

// Session implements packages.Context: once the handshake is done, the
// caller takes the session and owns it.
func (c *clientContext) Session() packages.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != clientEstablished {
		return nil
	}
	if c.sess == nil {
		c.sess = &session{layer: c.layer}
		if c.http {
			c.sess.http = c
		}
	}
	c.handedOver = true
	return c.sess
}

func (c *clientContext) Flags() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.flags
	if c.http {
		f |= packages.ISC_RET_USED_HTTP_STYLE
		if c.qop == qopAuthInt {
			f |= packages.ISC_RET_INTEGRITY
		}
	}
	return f
}

func (c *clientContext) Expiry() time.Time { return time.Time{} }

func (c *clientContext) QueryAttribute(attr uint32) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch attr {
	case packages.SECPKG_ATTR_SIZES:
		if c.http {
			return &packages.SecPkgContext_Sizes{MaxToken: maxToken}, nil
		}
		return c.layer.sizes(), nil
	}
	if c.state != clientEstablished {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	switch attr {
	case packages.SECPKG_ATTR_NAMES:
		return &packages.Names{UserName: c.id.User}, nil
	case packages.SECPKG_ATTR_SESSION_KEY:
		key := c.sessionKey
		if c.http {
			var err error
			if key, err = hex.DecodeString(c.ha1); err != nil {
				return nil, status.SEC_E_INTERNAL_ERROR
			}
		}
		return &packages.SecPkgContext_SessionKey{SessionKey: append([]byte(nil), key...)}, nil
	case packages.SECPKG_ATTR_KEY_INFO:
		return keyInfo(c.layer), nil
	}
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}

func keyInfo(l *securityLayer) *packages.KeyInfo {
	k := &packages.KeyInfo{SignatureAlgorithmName: "HMAC-MD5", KeySize: 128}
	if l != nil && l.cipher != nil {
		k.EncryptAlgorithmName = l.cipher.name
		k.KeySize = l.cipher.bits
	}
	return k
}

// httpMakeSignature is MakeSignature on an HTTP context: the
// Authorization for a later request on the same nonce (see
// session.MakeSignature).
func (c *clientContext) httpMakeSignature(msg []secbuffer.Buffer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != clientEstablished {
		return status.SEC_E_OUT_OF_SEQUENCE
	}
	outBuf := secbuffer.Find(msg, secbuffer.SECBUFFER_PADDING)
	if outBuf == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	params := pkgParams(msg)
	method, uri := paramAt(params, 0), paramAt(params, 1)
	if method == "" || uri == "" {
		return status.New("MakeSignature", pkgName, status.SEC_E_INVALID_TOKEN, errors.New("digest: method and URI are required"))
	}
	var dataIn []secbuffer.Buffer
	if d := secbuffer.Find(msg, secbuffer.SECBUFFER_DATA); d != nil {
		dataIn = []secbuffer.Buffer{*d}
	}
	ent, _, err := findEntity(dataIn, params, 2)
	if err != nil {
		return status.New("MakeSignature", pkgName, status.SEC_E_INVALID_TOKEN, err)
	}
	saved := c.snapshot()
	if t := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN); t != nil && len(t.Data) > 0 {
		ch, err := parseHTTPChallenge(string(t.Data))
		if err != nil {
			return status.New("MakeSignature", pkgName, status.SEC_E_INVALID_TOKEN, err)
		}
		if err := c.useChallenge(ch); err != nil {
			c.restore(saved)
			return err
		}
	}
	a := c.nextAuthorization(method, uri)
	if a.qop == qopAuthInt {
		if _, err := ent.hexHash(c.dg); err != nil {
			c.restore(saved)
			return status.New("MakeSignature", pkgName, status.SEC_E_INVALID_TOKEN, err)
		}
	}
	c.finishAuthorization(a, method, ent)
	p := a.marshal()
	if !secbuffer.Fits(outBuf, len(p), c.allocate()) {
		c.restore(saved)
		return status.SEC_E_BUFFER_TOO_SMALL
	}
	secbuffer.Set(outBuf, p, c.allocate())
	c.last = a
	return nil
}

// httpVerifySignature: an HTTP client has no request to check.
func (c *clientContext) httpVerifySignature([]secbuffer.Buffer) error {
	return status.SEC_E_UNSUPPORTED_FUNCTION
}

// Delete drops the password and keys.
func (c *clientContext) Delete() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id != nil {
		c.id.Password = ""
	}
	clear(c.sessionKey)
	c.ha1 = ""
	switch {
	case c.sess != nil && !c.handedOver:
		c.sess.Delete()
	case c.sess == nil && c.layer != nil:
		c.layer.zero()
	}
	c.layer = nil
	c.state, c.err = clientFailed, status.SEC_E_INVALID_HANDLE
}
