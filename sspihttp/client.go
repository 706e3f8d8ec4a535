package sspihttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
)

// ErrBodyNotRewindable is returned by [Transport.RoundTrip] when a request
// must be sent again to authenticate but its body cannot be read a second
// time: the request has a body and no GetBody. http.NewRequest sets GetBody
// for *bytes.Buffer, *bytes.Reader and *strings.Reader bodies.
var ErrBodyNotRewindable = errors.New("sspihttp: the request body cannot be sent again for authentication (Request.GetBody is nil)")

// ErrMutualAuthFailed is returned when [Transport.MutualAuth] is set and
// the server's final Negotiate or Kerberos token (or Digest rspauth) is
// missing or does not verify.
var ErrMutualAuthFailed = errors.New("sspihttp: the server did not prove its identity (mutual authentication failed)")

// maxLegs bounds the round trips of one handshake: NTLM takes two,
// Negotiate over NTLM two, Kerberos one, and a Negotiate mechanism switch
// one more.
const maxLegs = 6

// maxBufferedBody bounds how much of an intermediate 401 or 407 body the
// Transport reads so that the connection can carry the next leg.
const maxBufferedBody = 1 << 20

// Transport is an [http.RoundTripper] that answers authentication
// challenges: a 401 with WWW-Authenticate from the origin server, or a 407
// with Proxy-Authenticate from an HTTP proxy, for the Negotiate (RFC 4559),
// Kerberos, NTLM and Digest (RFC 7616) schemes, with the security packages
// of this module.
//
// A request is first sent as it is (or, for a host where Digest succeeded
// before, with a Digest Authorization on the cached nonce and the next
// nonce count). When the answer is a challenge in a scheme the Transport
// speaks, it runs the handshake, sending the request again for each leg:
//
//   - Negotiate, Kerberos and NTLM authenticate a connection, so all legs
//     go over one HTTP/1.1 connection of a private clone of Base (which
//     must then be an *http.Transport; any other RoundTripper is used as
//     it is, and must keep the connection itself);
//   - Digest answers the challenge once and keeps the nonce for later
//     requests to the same host, counting nc across them.
//
// A handshake that fails (wrong password, refused mechanism) ends with the
// server's last 401 or 407 returned as the response, never a loop; errors
// are for what stops the exchange itself (no credentials, a body that
// cannot be sent again, mutual authentication that fails).
//
// Proxy challenges reach the Transport for http URLs sent through Base's
// Proxy. For https through a proxy, http.Transport itself sends CONNECT and
// reports a 407 as an error; use a [ProxyDialer] as Base's DialContext
// instead.
//
// A request that already carries an Authorization header is sent as it is.
// The request given to RoundTrip is never modified (STYLE.md 8: each leg is
// a clone).
//
// Transport is safe for concurrent use. Its fields must not be changed
// after its first use.
type Transport struct {
	// Base carries the requests; nil means http.DefaultTransport.
	Base http.RoundTripper

	// Registry holds the security packages; nil means sspi.DefaultRegistry().
	Registry *sspi.Registry

	// Kerberos, NTLM and Negotiate, when set, configure this Transport's
	// packages of that name in place of the Registry's, which stays as it
	// is for everyone else: a krb5.conf or a KDC transport of its own
	// (kerberos.Config), NTLMv1 or a workstation name (ntlm.Config), a
	// package list or a refused fallback (negotiate.Config). Whenever one
	// of the three is set, Negotiate runs over this Transport's Kerberos
	// and NTLM (a negotiate.Config that names its own packages keeps
	// them), with the zero negotiate.Config if Negotiate is nil. The
	// other packages (WDigest) are the Registry's.
	Kerberos  *kerberos.Config
	NTLM      *ntlm.Config
	Negotiate *negotiate.Config

	// Flags are ISC_REQ_* flags asked for beside those the Transport
	// sets (ISC_REQ_CONNECTION, and ISC_REQ_MUTUAL_AUTH with MutualAuth)
	// on its Negotiate, Kerberos and NTLM contexts: ISC_REQ_DELEGATE to
	// send the server a forwarded TGT, ISC_REQ_INTEGRITY or
	// ISC_REQ_CONFIDENTIALITY to negotiate session security, and so on.
	// ISC_REQ_MUTUAL_AUTH here makes the Transport check the server's
	// proof as MutualAuth does.
	Flags uint32

	// Schemes lists the schemes to answer, in order of preference; nil
	// means Negotiate, Kerberos, NTLM, Digest. Among the
	// challenges of a response, the first scheme of this list that the
	// server offers and for which credentials can be acquired wins.
	Schemes []string

	// Credentials is the AcquireCredentials auth data used when a request
	// carries none (see [WithCredentials]): a *packages.AuthIdentity
	// (user, domain, password) for every scheme, or a package's own type.
	// Nil means each package's defaults: the Kerberos credential cache,
	// NTLM_USER_FILE; Digest has none and is then skipped.
	Credentials any

	// ProxyCredentials is the auth data for 407 challenges; nil means
	// Credentials.
	ProxyCredentials any

	// SPN returns the service principal name for a host (the origin's or
	// the proxy's, without port); nil means "HTTP/" + host, as Windows'
	// HTTP stack asks for.
	SPN func(host string) string

	// MutualAuth requires the server to prove its identity: the final
	// Negotiate or Kerberos token of the response must verify
	// (ISC_REQ_MUTUAL_AUTH), and a Digest Authentication-Info's rspauth
	// must match. Otherwise the response fails with ErrMutualAuthFailed.
	MutualAuth bool

	// ChannelBindings adds the tls-server-end-point channel bindings of
	// the server's certificate (RFC 5929) to Negotiate, Kerberos and NTLM
	// handshakes over https (Windows' Extended Protection).
	ChannelBindings bool

	// AllowHost reports whether credentials may be sent to host after a
	// redirect took the request away from the host it was made for. Nil
	// means never: a challenge from another host, or from the same host
	// reached over http after https, is returned unanswered.
	AllowHost func(host string) bool

	// Trace, if set, is called after each round trip with the request as
	// sent and the response as received (its Body must not be read).
	Trace func(req *http.Request, resp *http.Response)

	// Preemptive names a connection scheme (Negotiate, Kerberos or NTLM)
	// whose first token goes out with the request itself, before any
	// 401: a Kerberos exchange then takes a single request and NTLM two,
	// as WinHTTP does for hosts known to require authentication. A server
	// that does not take it answers 401 with its challenges, and the
	// usual exchange follows on the same connection. The token is sent
	// only to the host the request was made for (never after a
	// redirect), not when the request has an Authorization header, and
	// not over https when ChannelBindings is set, since the bindings hash
	// the server's certificate, which is not known before the response.
	// The empty string, the default, waits for the server's challenge.
	Preemptive string

	regOnce sync.Once
	reg     *sspi.Registry // set by regOnce

	mu     sync.Mutex
	creds  map[credKey]*sspi.Credentials // guarded by mu
	digest map[string]*digestSession     // guarded by mu; key: scheme://host
}

type credKey struct {
	pkg  string
	data any
}

type credentialsKey struct{}

// WithCredentials returns a context whose requests a [Transport]
// authenticates with authData (a *packages.AuthIdentity, or a package's
// own credential type) instead of Transport.Credentials. Such credentials
// are acquired for the request and released after it, and its Digest
// nonce is not kept for other requests.
func WithCredentials(ctx context.Context, authData any) context.Context {
	return context.WithValue(ctx, credentialsKey{}, authData)
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) registry() *sspi.Registry {
	t.regOnce.Do(func() {
		base := t.Registry
		if base == nil {
			base = sspi.DefaultRegistry()
		}
		t.reg = base
		if t.Kerberos == nil && t.NTLM == nil && t.Negotiate == nil {
			return
		}
		t.reg = privateRegistry(base, t.Kerberos, t.NTLM, t.Negotiate)
	})
	return t.reg
}

// privateRegistry returns a Registry with base's packages, except
// Kerberos, NTLM and Negotiate, made from the configurations given (nil:
// base's Kerberos or NTLM).
func privateRegistry(base *sspi.Registry, kc *kerberos.Config, nc *ntlm.Config, gc *negotiate.Config) *sspi.Registry {
	pkg := func(name string) packages.Package {
		p, err := base.Package(name)
		if err != nil {
			return nil
		}
		return p
	}
	krb, nt := pkg("Kerberos"), pkg("NTLM")
	if kc != nil {
		krb = kerberos.New(kc)
	}
	if nc != nil {
		nt = ntlm.New(nc)
	}
	var neg negotiate.Config
	if gc != nil {
		neg = *gc
	}
	if neg.Kerberos == nil {
		neg.Kerberos = krb
	}
	if neg.NTLM == nil {
		neg.NTLM = nt
	}
	own := map[string]packages.Package{
		strings.ToLower("Kerberos"):  krb,
		strings.ToLower("NTLM"):      nt,
		strings.ToLower("Negotiate"): negotiate.New(&neg),
	}
	r := sspi.NewRegistry()
	for _, info := range base.Packages() {
		p, ok := own[strings.ToLower(info.Name)]
		if !ok {
			p = pkg(info.Name)
		}
		delete(own, strings.ToLower(info.Name))
		if p != nil {
			r.Register(p)
		}
	}
	for _, name := range []string{"Negotiate", "Kerberos", "NTLM"} {
		if p := own[strings.ToLower(name)]; p != nil {
			r.Register(p)
		}
	}
	return r
}

// mutualAuth reports whether the server must prove its identity.
func (t *Transport) mutualAuth() bool {
	return t.MutualAuth || t.Flags&sspi.ISC_REQ_MUTUAL_AUTH != 0
}

func (t *Transport) schemes() []string {
	if t.Schemes != nil {
		return t.Schemes
	}
	return defaultSchemes
}

func (t *Transport) spn(host string) string {
	if t.SPN != nil {
		return t.SPN(host)
	}
	return "HTTP/" + host
}

// authData returns the auth data for req, and whether it is the request's
// own (WithCredentials) rather than the Transport's.
func (t *Transport) authData(req *http.Request, hn headerNames) (data any, perRequest bool) {
	if v := req.Context().Value(credentialsKey{}); v != nil {
		return v, true
	}
	if hn.status == http.StatusProxyAuthRequired && t.ProxyCredentials != nil {
		return t.ProxyCredentials, false
	}
	return t.Credentials, false
}

// credentials acquires outbound credentials. Those of the Transport's own
// auth data (keep) are acquired once per package and kept; a request's
// own are acquired for it, and release frees them.
func (t *Transport) credentials(ctx context.Context, pkg string, data any, keep bool) (c *sspi.Credentials, release func(), err error) {
	c, err = t.acquire(ctx, pkg, data, keep)
	if err != nil {
		return nil, nil, err
	}
	if keep {
		return c, func() {}, nil
	}
	return c, c.Free, nil
}

func (t *Transport) acquire(ctx context.Context, pkg string, data any, keep bool) (*sspi.Credentials, error) {
	cacheable := keep && (data == nil || reflect.TypeOf(data).Comparable())
	key := credKey{pkg, data}
	if cacheable {
		t.mu.Lock()
		c := t.creds[key]
		t.mu.Unlock()
		if c != nil {
			return c, nil
		}
	}
	if pkg == packageOf(SchemeDigest) {
		if id, ok := data.(*packages.AuthIdentity); ok {
			// HTTP Digest answers the challenge's realm; the domain of a
			// Windows identity is not a realm.
			data = &packages.AuthIdentity{User: id.User, Password: id.Password}
		}
	}
	c, err := t.registry().AcquireCredentials(ctx, pkg, sspi.CredentialsOutbound, data)
	if err != nil {
		return nil, err
	}
	if cacheable {
		t.mu.Lock()
		if t.creds == nil {
			t.creds = make(map[credKey]*sspi.Credentials)
		}
		if old := t.creds[key]; old != nil {
			c.Free()
			c = old
		} else {
			t.creds[key] = c
		}
		t.mu.Unlock()
	}
	return c, nil
}

// exchange is the state of one RoundTrip across its authentication
// stages (the proxy's 407, then the origin's 401).
type exchange struct {
	t   *Transport
	req *http.Request

	rt      http.RoundTripper // the pinned connection once a handshake used one
	release func()            // closes it

	proxyDigest *digestSession // signs each later leg for the proxy
	proxyURI    string

	perRequest bool // the credentials are the request's own (WithCredentials)
}

func (x *exchange) transport() http.RoundTripper {
	if x.rt != nil {
		return x.rt
	}
	return x.t.base()
}

// pin makes the rest of the exchange use one connection.
func (x *exchange) pin() http.RoundTripper {
	if x.rt == nil {
		x.rt, x.release = x.t.pinned()
	}
	return x.rt
}

func (x *exchange) done() {
	if x.release != nil {
		x.release()
		x.release = nil
	}
}

// send sends one leg, with the proxy's Digest credentials when the proxy
// asked for them.
func (x *exchange) send(rt http.RoundTripper, lr *http.Request) (*http.Response, error) {
	if x.proxyDigest != nil && lr.Header.Get(proxyHeaders.response) == "" {
		if h, err := x.proxyDigest.authorize(lr.Method, x.proxyURI); err == nil {
			lr.Header.Set(proxyHeaders.response, SchemeDigest+" "+h)
		}
	}
	return x.t.send(rt, lr)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		return t.send(t.base(), req)
	}
	first := cloneRequest(req, req.Body)
	var sess *digestSession
	if _, perRequest := t.authData(req, originHeaders); !perRequest {
		sess = t.digestFor(req.URL)
	}
	if sess != nil {
		if h, err := sess.authorize(req.Method, req.URL.RequestURI()); err == nil {
			first.Header.Set(originHeaders.response, SchemeDigest+" "+h)
		} else {
			sess = nil
		}
	}
	x := &exchange{t: t, req: req}
	var resp *http.Response
	var err error
	if scheme := t.preemptiveScheme(req); scheme != "" && sess == nil {
		resp, err = x.preempt(first, scheme)
	} else {
		resp, err = t.send(t.base(), first)
	}
	if err != nil {
		x.done()
		return nil, err
	}
	if sess != nil && resp.StatusCode == http.StatusUnauthorized {
		// The cached nonce was refused; a fresh handshake follows.
		t.dropDigest(req.URL, sess)
	}
	proxyDone, originDone := false, false
	for {
		switch {
		case resp.StatusCode == http.StatusProxyAuthRequired && !proxyDone:
			proxyDone = true
			resp, err = x.authenticate(resp, proxyHeaders)
		case resp.StatusCode == http.StatusUnauthorized && !originDone:
			originDone = true
			resp, err = x.authenticate(resp, originHeaders)
		default:
			if x.release != nil {
				resp.Body = &releaseBody{ReadCloser: resp.Body, release: x.release}
			}
			if x.proxyDigest != nil {
				x.proxyDigest.ctx.Delete()
			}
			return resp, nil
		}
		if err != nil {
			x.done()
			return nil, err
		}
	}
}

func (t *Transport) send(rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	resp, err := rt.RoundTrip(req)
	if err == nil && t.Trace != nil {
		t.Trace(req, resp)
	}
	return resp, err
}

// authenticate answers the challenge in resp. It returns resp itself when
// no offered scheme can be answered.
func (x *exchange) authenticate(resp *http.Response, hn headerNames) (*http.Response, error) {
	t, req := x.t, x.req
	if hn.status == http.StatusUnauthorized && !t.mayAuthenticate(req) {
		return resp, nil
	}
	offered := parseChallenges(resp.Header.Values(hn.challenge))
	data, perRequest := t.authData(req, hn)
	x.perRequest = perRequest
	for _, scheme := range t.schemes() {
		scheme = canonicalScheme(scheme)
		var ch *challenge
		for i := range offered {
			if offered[i].scheme == scheme {
				ch = &offered[i]
				break
			}
		}
		if ch == nil {
			continue
		}
		cred, release, err := t.credentials(req.Context(), packageOf(scheme), data, !perRequest)
		if err != nil {
			continue // try the next scheme the server offers
		}
		defer release() // contexts outlive their credentials
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			resp.Body.Close()
			return nil, ErrBodyNotRewindable
		}
		bufferBody(resp)
		if scheme == SchemeDigest {
			return x.digestAuth(resp, cred, *ch, hn)
		}
		return x.handshake(resp, cred, *ch, hn)
	}
	return resp, nil
}

// mayAuthenticate applies the redirect rule of Transport.AllowHost.
func (t *Transport) mayAuthenticate(req *http.Request) bool {
	if req.Response == nil || req.Response.Request == nil {
		return true
	}
	orig := req.Response.Request
	for orig.Response != nil && orig.Response.Request != nil {
		orig = orig.Response.Request
	}
	if strings.EqualFold(orig.URL.Hostname(), req.URL.Hostname()) && orig.URL.Port() == req.URL.Port() &&
		!(orig.URL.Scheme == "https" && req.URL.Scheme != "https") {
		return true
	}
	return t.AllowHost != nil && t.AllowHost(req.URL.Hostname())
}

// target returns the SPN for the origin or the proxy of req.
func (t *Transport) target(req *http.Request, hn headerNames) string {
	host := req.URL.Hostname()
	if hn.status == http.StatusProxyAuthRequired {
		if bt, ok := t.base().(*http.Transport); ok && bt.Proxy != nil {
			if u, err := bt.Proxy(req); err == nil && u != nil {
				host = u.Hostname()
			}
		}
	}
	return t.spn(host)
}

// pinned returns a RoundTripper that sends every request over one
// HTTP/1.1 connection, and the function that closes it.
func (t *Transport) pinned() (http.RoundTripper, func()) {
	bt, ok := t.base().(*http.Transport)
	if !ok {
		return t.base(), func() {}
	}
	c := bt.Clone()
	c.MaxConnsPerHost = 1
	c.MaxIdleConnsPerHost = 1
	c.DisableKeepAlives = false
	// HTTP/1.1 only, in ALPN too: a base that has spoken HTTP/2 carries
	// "h2" in its TLS config's NextProtos.
	c.ForceAttemptHTTP2 = false
	c.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	var p http.Protocols
	p.SetHTTP1(true)
	c.Protocols = &p
	if c.TLSClientConfig != nil {
		tc := c.TLSClientConfig.Clone()
		tc.NextProtos = slices.DeleteFunc(slices.Clone(tc.NextProtos), func(p string) bool { return p == "h2" })
		c.TLSClientConfig = tc
	}
	return c, c.CloseIdleConnections
}

// preemptiveScheme returns the canonical Preemptive scheme if req may
// carry its token up front, or "".
func (t *Transport) preemptiveScheme(req *http.Request) string {
	if t.Preemptive == "" || req.Response != nil || (t.ChannelBindings && req.URL.Scheme == "https") {
		return ""
	}
	switch scheme := canonicalScheme(t.Preemptive); scheme {
	case SchemeNegotiate, SchemeKerberos, SchemeNTLM:
		return scheme
	}
	return ""
}

// preempt sends first with the first token of scheme (Transport.Preemptive)
// and runs the exchange from there. Without credentials or a first token
// for the scheme it sends first as it is.
func (x *exchange) preempt(first *http.Request, scheme string) (*http.Response, error) {
	t, req := x.t, x.req
	data, perRequest := t.authData(req, originHeaders)
	x.perRequest = perRequest
	cred, release, err := t.credentials(req.Context(), packageOf(scheme), data, !perRequest)
	if err != nil {
		return t.send(t.base(), first)
	}
	defer release() // contexts outlive their credentials
	c, err := x.newContext(cred, scheme, originHeaders)
	if err != nil {
		return t.send(t.base(), first)
	}
	defer c.Delete()
	out, err := c.StepBuffers(req.Context(), nil)
	if err != nil || len(out) == 0 {
		return t.send(t.base(), first)
	}
	return x.legs(c, scheme, out, first, nil, originHeaders)
}

// newContext makes the client context of a connection-bound scheme.
func (x *exchange) newContext(cred *sspi.Credentials, scheme string, hn headerNames) (*sspi.Context, error) {
	flags := sspi.ISC_REQ_CONNECTION | x.t.Flags
	if x.t.mutualAuth() {
		flags |= sspi.ISC_REQ_MUTUAL_AUTH
	}
	c, err := sspi.NewClientContext(cred, x.t.target(x.req, hn), flags)
	if err != nil {
		return nil, fmt.Errorf("sspihttp: %s: %w", scheme, err)
	}
	return c, nil
}

// handshake runs a connection-bound scheme (Negotiate, Kerberos, NTLM).
func (x *exchange) handshake(resp *http.Response, cred *sspi.Credentials, ch challenge, hn headerNames) (*http.Response, error) {
	t, req := x.t, x.req
	ctx := req.Context()
	c, err := x.newContext(cred, ch.scheme, hn)
	if err != nil {
		return nil, err
	}
	defer c.Delete()
	var extra []secbuffer.Buffer
	if t.ChannelBindings && resp.TLS != nil {
		cb, err := secbuffer.TLSServerEndPoint(resp.TLS)
		if err != nil {
			return nil, fmt.Errorf("sspihttp: channel bindings: %w", err)
		}
		extra = append(extra, cb.Buffer())
	}
	in, ok := ch.token()
	if !ok {
		return resp, nil
	}
	var bufs []secbuffer.Buffer
	if in != nil {
		bufs = append(bufs, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: in})
	}
	out, err := c.StepBuffers(ctx, append(bufs, extra...))
	if err != nil {
		return nil, fmt.Errorf("sspihttp: %s: %w", ch.scheme, err)
	}
	if len(out) == 0 {
		return resp, nil
	}
	return x.legs(c, ch.scheme, out, nil, resp, hn, extra...)
}

// legs sends out, the token c produced, and carries on the exchange
// until the server stops answering with hn.status and a token. The first
// leg goes in first when it is given (the pre-emptive request, with its
// own body); every other leg is a copy of the request with its body
// rewound. last is the response to return if the exchange stops before
// the server answers (a challenge already received, or nil). extra are
// the buffers every later Step gets beside the server's token.
func (x *exchange) legs(c *sspi.Context, scheme string, out []byte, first *http.Request, last *http.Response, hn headerNames, extra ...secbuffer.Buffer) (*http.Response, error) {
	t, req := x.t, x.req
	ctx := req.Context()
	rt := x.pin()
	for leg := 0; leg < maxLegs; leg++ {
		lr := first
		if leg > 0 || lr == nil {
			body, err := rewind(req)
			if err != nil {
				return nil, err
			}
			lr = cloneRequest(req, body)
		}
		lr.Header.Set(hn.response, scheme+" "+base64.StdEncoding.EncodeToString(out))
		r, err := x.send(rt, lr)
		if err != nil {
			return nil, err
		}
		tok, haveTok := finalToken(r.Header.Values(hn.challenge), scheme)
		if r.StatusCode != hn.status {
			if haveTok && !c.Established() {
				if _, err := c.Step(ctx, tok); err != nil && t.mutualAuth() {
					r.Body.Close()
					return nil, fmt.Errorf("%w: %w", ErrMutualAuthFailed, err)
				}
			}
			if t.mutualAuth() && !c.Established() {
				r.Body.Close()
				return nil, ErrMutualAuthFailed
			}
			return r, nil
		}
		bufferBody(r)
		last = r
		if !haveTok || len(tok) == 0 || c.Established() {
			return r, nil // refused: the clean 401
		}
		out, err = c.StepBuffers(ctx, append([]secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, extra...))
		if err != nil || len(out) == 0 {
			return last, nil // the server's refusal, as it sent it
		}
	}
	return last, nil
}

// finalToken finds the token of scheme among a response's challenges.
func finalToken(values []string, scheme string) ([]byte, bool) {
	for _, ch := range parseChallenges(values) {
		if ch.scheme == scheme {
			b, ok := ch.token()
			return b, ok && b != nil
		}
	}
	return nil, false
}

// rewind returns a fresh copy of req's body for another leg.
func rewind(req *http.Request) (io.ReadCloser, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, nil
	}
	if req.GetBody == nil {
		return nil, ErrBodyNotRewindable
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("sspihttp: GetBody: %w", err)
	}
	return b, nil
}

// cloneRequest returns a shallow copy of req with its own header and body.
func cloneRequest(req *http.Request, body io.ReadCloser) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	return r
}

// bufferBody reads a small intermediate response body so that its
// connection can be reused, and leaves a copy in its place.
func bufferBody(resp *http.Response) {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBufferedBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
}

// releaseBody closes the pinned connection when the final body is closed.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// Digest.

// digestSession is an established Digest context kept for later requests
// to one host: each MakeSignature writes the next Authorization with nc+1.
type digestSession struct {
	ctx *sspi.Context
}

func (s *digestSession) authorize(method, uri string) (string, error) {
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(method)},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(uri)},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS},
		{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 4096)},
	}
	if err := s.ctx.MakeSignatureBuffers(0, msg, 0); err != nil {
		return "", err
	}
	return string(msg[4].Data), nil
}

func originKey(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

func (t *Transport) digestFor(u *url.URL) *digestSession {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.digest[originKey(u)]
}

func (t *Transport) dropDigest(u *url.URL, s *digestSession) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.digest[originKey(u)] == s {
		delete(t.digest, originKey(u))
	}
}

func (t *Transport) keepDigest(u *url.URL, s *digestSession) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.digest == nil {
		t.digest = make(map[string]*digestSession)
	}
	t.digest[originKey(u)] = s
}

// digestAuth answers a Digest challenge (RFC 7616 3.4), once more if the
// server says the nonce was stale.
func (x *exchange) digestAuth(resp *http.Response, cred *sspi.Credentials, ch challenge, hn headerNames) (*http.Response, error) {
	t, req := x.t, x.req
	ctx := req.Context()
	uri := req.URL.RequestURI()
	if hn.status == http.StatusProxyAuthRequired && req.URL.Scheme == "http" {
		uri = req.URL.String() // absolute-form, as sent to a proxy
	}
	c, err := sspi.NewClientContext(cred, uri, sspi.ISC_REQ_USE_HTTP_STYLE)
	if err != nil {
		return nil, fmt.Errorf("sspihttp: Digest: %w", err)
	}
	in := ch.params
	last := resp
	for leg := 0; leg < 2; leg++ {
		out, err := c.StepBuffers(ctx, []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte(in)},
			{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(req.Method)},
		})
		if err != nil {
			c.Delete()
			if leg == 0 {
				return nil, fmt.Errorf("sspihttp: Digest: %w", err)
			}
			return last, nil // the credentials were refused
		}
		body, err := rewind(req)
		if err != nil {
			c.Delete()
			return nil, err
		}
		lr := cloneRequest(req, body)
		lr.Header.Set(hn.response, SchemeDigest+" "+string(out))
		r, err := x.send(x.transport(), lr)
		if err != nil {
			c.Delete()
			return nil, err
		}
		if r.StatusCode == hn.status {
			var next *challenge
			for _, nc := range parseChallenges(r.Header.Values(hn.challenge)) {
				if nc.scheme == SchemeDigest {
					next = &nc
					break
				}
			}
			if next == nil {
				c.Delete()
				return r, nil
			}
			bufferBody(r)
			last, in = r, next.params
			continue // stale=true is answered; anything else is refused
		}
		if info := r.Header.Get(hn.info); info != "" {
			if _, err := c.Step(ctx, []byte(info)); err != nil && t.mutualAuth() {
				r.Body.Close()
				c.Delete()
				return nil, fmt.Errorf("%w: %w", ErrMutualAuthFailed, err)
			}
		} else if t.mutualAuth() {
			r.Body.Close()
			c.Delete()
			return nil, ErrMutualAuthFailed
		}
		switch {
		case hn.status == http.StatusProxyAuthRequired:
			// Later legs of this exchange (the origin's) sign for the
			// proxy on the same nonce.
			x.proxyDigest, x.proxyURI = &digestSession{ctx: c}, uri
		case r.StatusCode < 400 && !x.perRequest:
			// Later requests reuse the nonce; a request's own
			// credentials are never reused for another request.
			t.keepDigest(req.URL, &digestSession{ctx: c})
		default:
			c.Delete()
		}
		return r, nil
	}
	c.Delete()
	return last, nil
}

// CloseIdleConnections closes the idle connections of Base, if it has the
// method, and forgets cached Digest nonces.
func (t *Transport) CloseIdleConnections() {
	type closeIdler interface{ CloseIdleConnections() }
	if ci, ok := t.base().(closeIdler); ok {
		ci.CloseIdleConnections()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range t.digest {
		s.ctx.Delete()
		delete(t.digest, k)
	}
}
