package digest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// HTTP Digest messages (RFC 7616 3.3-3.5). Each is the parameter list that
// follows the scheme name in WWW-Authenticate, Authorization or
// Authentication-Info.

// httpChallenge is a WWW-Authenticate: Digest challenge (RFC 7616 3.3).
type httpChallenge struct {
	realm     string
	domain    string
	nonce     string
	opaque    string
	stale     bool
	algorithm string // as sent; "" if absent (MD5)
	qop       []string
	charset   bool // charset=UTF-8
	userhash  bool
}

var errMissing = errors.New("digest: required parameter missing")

func parseHTTPChallenge(s string) (*httpChallenge, error) {
	list, err := parseParams(stripScheme(s))
	if err != nil {
		return nil, err
	}
	ps, err := indexParams(list)
	if err != nil {
		return nil, err
	}
	c := &httpChallenge{}
	var ok bool
	if c.nonce, ok = ps.get("nonce"); !ok || c.nonce == "" {
		return nil, fmt.Errorf("%w: nonce", errMissing)
	}
	if c.realm, ok = ps.get("realm"); !ok {
		return nil, fmt.Errorf("%w: realm", errMissing)
	}
	c.domain, _ = ps.get("domain")
	c.opaque, _ = ps.get("opaque")
	c.algorithm, _ = ps.get("algorithm")
	if v, ok := ps.get("stale"); ok {
		c.stale = strings.EqualFold(v, "true")
	}
	if v, ok := ps.get("qop"); ok {
		c.qop = splitList(v)
		if len(c.qop) == 0 {
			return nil, errors.New("digest: empty qop list")
		}
	}
	if v, ok := ps.get("charset"); ok {
		if !strings.EqualFold(v, "UTF-8") {
			return nil, fmt.Errorf("digest: charset %q", v)
		}
		c.charset = true
	}
	if v, ok := ps.get("userhash"); ok {
		c.userhash = strings.EqualFold(v, "true")
	}
	return c, nil
}

func (c *httpChallenge) marshal() []byte {
	var w paramWriter
	w.quoted("realm", c.realm)
	if c.domain != "" {
		w.quoted("domain", c.domain)
	}
	w.quoted("nonce", c.nonce)
	if c.opaque != "" {
		w.quoted("opaque", c.opaque)
	}
	if c.stale {
		w.token("stale", "true")
	}
	if c.algorithm != "" {
		w.token("algorithm", c.algorithm)
	}
	if len(c.qop) > 0 {
		w.quoted("qop", strings.Join(c.qop, ","))
	}
	if c.charset {
		w.token("charset", "UTF-8")
	}
	if c.userhash {
		w.token("userhash", "true")
	}
	return w.b
}

// httpAuthorization is an Authorization: Digest credential (RFC 7616 3.4).
type httpAuthorization struct {
	username  string // the name, the userhash, or the decoded username*
	extName   bool   // username* was used
	realm     string
	nonce     string
	uri       string
	response  string
	algorithm string // "" if absent
	cnonce    string
	opaque    string
	qop       string // "" for the RFC 2069 form
	nc        string
	ncValue   uint32
	userhash  bool

	// kept by a client for CompleteAuthToken; never marshalled
	method  string
	pending bool // response not computed yet: leave it out
}

func parseHTTPAuthorization(s string) (*httpAuthorization, error) {
	list, err := parseParams(stripScheme(s))
	if err != nil {
		return nil, err
	}
	ps, err := indexParams(list)
	if err != nil {
		return nil, err
	}
	a := &httpAuthorization{}
	name, hasName := ps.get("username")
	ext, hasExt := ps.get("username*")
	switch {
	case hasName && hasExt:
		return nil, errors.New("digest: both username and username*")
	case hasExt:
		if a.username, err = decodeExtValue(ext); err != nil {
			return nil, err
		}
		a.extName = true
	case hasName:
		a.username = name
	default:
		return nil, fmt.Errorf("%w: username", errMissing)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"realm", &a.realm}, {"nonce", &a.nonce}, {"uri", &a.uri}, {"response", &a.response}} {
		v, ok := ps.get(f.name)
		if !ok {
			return nil, fmt.Errorf("%w: %s", errMissing, f.name)
		}
		*f.dst = v
	}
	a.algorithm, _ = ps.get("algorithm")
	a.opaque, _ = ps.get("opaque")
	a.qop, _ = ps.get("qop")
	a.cnonce, _ = ps.get("cnonce")
	a.nc, _ = ps.get("nc")
	if a.qop != "" {
		if a.cnonce == "" {
			return nil, fmt.Errorf("%w: cnonce", errMissing)
		}
		n, err := parseNC(a.nc)
		if err != nil {
			return nil, err
		}
		a.ncValue = n
	}
	if v, ok := ps.get("userhash"); ok {
		a.userhash = strings.EqualFold(v, "true")
		if a.userhash && a.extName {
			return nil, errors.New("digest: username* with userhash")
		}
	}
	return a, nil
}

// parseNC parses nc-value: exactly 8 hex digits (RFC 7616 3.4, RFC 2831
// 2.1.2).
func parseNC(s string) (uint32, error) {
	if !isHex(s, 8) {
		return 0, fmt.Errorf("digest: nc %q is not 8 hex digits", s)
	}
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, err
	}
	return uint32(n), nil
}

func (a *httpAuthorization) marshal() []byte {
	var w paramWriter
	if a.extName {
		w.token("username*", "UTF-8''"+percentEncode(a.username))
	} else {
		w.quoted("username", a.username)
	}
	w.quoted("realm", a.realm)
	w.quoted("nonce", a.nonce)
	w.quoted("uri", a.uri)
	if a.algorithm != "" {
		w.token("algorithm", a.algorithm)
	}
	if !a.pending {
		w.quoted("response", a.response)
	}
	if a.qop != "" {
		w.token("qop", a.qop)
		w.token("nc", a.nc)
		w.quoted("cnonce", a.cnonce)
	}
	if a.opaque != "" {
		w.quoted("opaque", a.opaque)
	}
	if a.userhash {
		w.token("userhash", "true")
	}
	return w.b
}

// httpAuthInfo is an Authentication-Info parameter list (RFC 7616 3.5).
type httpAuthInfo struct {
	nextnonce string
	qop       string
	rspauth   string
	cnonce    string
	nc        string
}

func parseHTTPAuthInfo(ps *paramSet) *httpAuthInfo {
	i := &httpAuthInfo{}
	i.nextnonce, _ = ps.get("nextnonce")
	i.qop, _ = ps.get("qop")
	i.rspauth, _ = ps.get("rspauth")
	i.cnonce, _ = ps.get("cnonce")
	i.nc, _ = ps.get("nc")
	return i
}

func (i *httpAuthInfo) marshal() []byte {
	var w paramWriter
	if i.nextnonce != "" {
		w.quoted("nextnonce", i.nextnonce)
	}
	if i.qop != "" {
		w.token("qop", i.qop)
	}
	w.quoted("rspauth", i.rspauth)
	if i.cnonce != "" {
		w.quoted("cnonce", i.cnonce)
	}
	if i.nc != "" {
		w.token("nc", i.nc)
	}
	return w.b
}

// SASL DIGEST-MD5 messages (RFC 2831 2.1.1, 2.1.2, 2.1.3).

// saslChallenge is a digest-challenge.
type saslChallenge struct {
	realms  []string
	nonce   string
	qop     []string
	stale   bool
	maxbuf  uint32
	charset bool
	ciphers []string
}

func parseSASLChallenge(s string) (*saslChallenge, error) {
	list, err := parseParams(s)
	if err != nil {
		return nil, err
	}
	// RFC 2831 2.1.1: realm may appear more than once; every other
	// directive at most once, and algorithm exactly once.
	ps, err := indexParams(list, "realm")
	if err != nil {
		return nil, err
	}
	c := &saslChallenge{realms: ps.multi["realm"], qop: []string{qopAuth}}
	var ok bool
	if c.nonce, ok = ps.get("nonce"); !ok || c.nonce == "" {
		return nil, fmt.Errorf("%w: nonce", errMissing)
	}
	alg, ok := ps.get("algorithm")
	if !ok || alg != "md5-sess" {
		return nil, errors.New("digest: challenge algorithm is not md5-sess")
	}
	if v, ok := ps.get("qop"); ok {
		c.qop = splitList(v)
	}
	if v, ok := ps.get("stale"); ok {
		c.stale = strings.EqualFold(v, "true")
	}
	if c.maxbuf, err = ps.maxbuf(); err != nil {
		return nil, err
	}
	if c.charset, err = ps.charsetUTF8(); err != nil {
		return nil, err
	}
	if v, ok := ps.get("cipher"); ok {
		c.ciphers = splitList(v)
	}
	return c, nil
}

// maxbuf reads the maxbuf directive of a SASL challenge or response (RFC
// 2831 2.1.1, 2.1.2): a positive 32-bit number, 65536 when absent.
func (ps *paramSet) maxbuf() (uint32, error) {
	v, ok := ps.get("maxbuf")
	if !ok {
		return 65536, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("digest: maxbuf %q", v)
	}
	return uint32(n), nil
}

// charsetUTF8 reads the charset directive of a SASL challenge or response
// (RFC 2831 2.1.1, 2.1.2), which may only be utf-8, and reports whether
// it is given.
func (ps *paramSet) charsetUTF8() (bool, error) {
	v, ok := ps.get("charset")
	if ok && !strings.EqualFold(v, "utf-8") {
		return false, fmt.Errorf("digest: charset %q", v)
	}
	return ok, nil
}

func (c *saslChallenge) marshal() []byte {
	var w paramWriter
	for _, r := range c.realms {
		w.quoted("realm", r)
	}
	w.quoted("nonce", c.nonce)
	w.quoted("qop", strings.Join(c.qop, ","))
	if c.stale {
		w.token("stale", "true")
	}
	if c.maxbuf != 65536 {
		w.token("maxbuf", strconv.FormatUint(uint64(c.maxbuf), 10))
	}
	if c.charset {
		w.token("charset", "utf-8")
	}
	w.token("algorithm", "md5-sess")
	if len(c.ciphers) > 0 {
		w.quoted("cipher", strings.Join(c.ciphers, ","))
	}
	return w.b
}

// saslResponseMsg is a digest-response.
type saslResponseMsg struct {
	username  string
	realm     string
	nonce     string
	cnonce    string
	nc        string
	qop       string
	digestURI string
	response  string
	maxbuf    uint32
	charset   bool
	cipher    string
	authzid   string
}

func parseSASLResponse(s string) (*saslResponseMsg, error) {
	list, err := parseParams(s)
	if err != nil {
		return nil, err
	}
	ps, err := indexParams(list)
	if err != nil {
		return nil, err
	}
	r := &saslResponseMsg{qop: qopAuth}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"username", &r.username}, {"nonce", &r.nonce}, {"cnonce", &r.cnonce}, {"nc", &r.nc}, {"digest-uri", &r.digestURI}, {"response", &r.response}} {
		v, ok := ps.get(f.name)
		if !ok {
			return nil, fmt.Errorf("%w: %s", errMissing, f.name)
		}
		*f.dst = v
	}
	if _, err := parseNC(r.nc); err != nil {
		return nil, err
	}
	r.realm, _ = ps.get("realm")
	if v, ok := ps.get("qop"); ok {
		r.qop = v
	}
	if r.maxbuf, err = ps.maxbuf(); err != nil {
		return nil, err
	}
	if r.charset, err = ps.charsetUTF8(); err != nil {
		return nil, err
	}
	r.cipher, _ = ps.get("cipher")
	r.authzid, _ = ps.get("authzid")
	return r, nil
}

func (r *saslResponseMsg) marshal() []byte {
	var w paramWriter
	if r.charset {
		w.token("charset", "utf-8")
	}
	w.quoted("username", r.username)
	if r.realm != "" {
		w.quoted("realm", r.realm)
	}
	w.quoted("nonce", r.nonce)
	w.token("nc", r.nc)
	w.quoted("cnonce", r.cnonce)
	w.quoted("digest-uri", r.digestURI)
	w.token("response", r.response)
	w.token("qop", r.qop)
	if r.maxbuf != 65536 {
		w.token("maxbuf", strconv.FormatUint(uint64(r.maxbuf), 10))
	}
	if r.cipher != "" {
		w.token("cipher", r.cipher)
	}
	if r.authzid != "" {
		w.quoted("authzid", r.authzid)
	}
	return w.b
}

// parseRspauth parses response-auth (RFC 2831 2.1.3): "rspauth=" 32 hex.
func parseRspauth(s string) (string, error) {
	list, err := parseParams(s)
	if err != nil {
		return "", err
	}
	ps, err := indexParams(list)
	if err != nil {
		return "", err
	}
	v, ok := ps.get("rspauth")
	if !ok || !isHex(v, 32) {
		return "", fmt.Errorf("%w: rspauth", errMissing)
	}
	return v, nil
}
