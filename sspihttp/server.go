package sspihttp

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Identity is who a [Server] authenticated: [IdentityFromContext] returns
// it to the handler.
type Identity struct {
	// Name is the client's name as the package reports it
	// (SECPKG_ATTR_NAMES): "DOMAIN\user" for NTLM, "user@REALM" for
	// Kerberos, the user name for Digest.
	Name string
	// Scheme is the HTTP scheme used (Negotiate, Kerberos, NTLM, Digest).
	Scheme string
	// Package is the security package that did the work: for Negotiate,
	// the one it selected (Kerberos or NTLM).
	Package string
	// UserSID is the user's SID ("S-1-5-21-...") from the logon info
	// (KERB_VALIDATION_INFO) of the client's Kerberos PAC, for Kerberos
	// and Negotiate-over-Kerberos logins; empty otherwise.
	UserSID string
	// Groups are the group SIDs of the same logon info as strings, in the
	// PAC's order: the domain groups (Active Directory lists the primary
	// group among them), then the extra and resource-group SIDs; nil for
	// NTLM and Digest.
	//
	// Only a KDC that puts logon info in the PAC fills UserSID and Groups:
	// Active Directory does; MIT's KDC without a KDB plugin signs a PAC
	// with the client name only, which PAC still carries.
	Groups []string
	// PAC is the client's decoded PAC (its server signature checked), for
	// Kerberos and Negotiate-over-Kerberos logins whose ticket had one;
	// nil otherwise. Handlers must not modify it.
	PAC *sspi.PAC
	// Flags are the ASC_RET_* flags of the server's context: among them
	// ASC_RET_DELEGATE when the client delegated its credentials
	// (ISC_REQ_DELEGATE), ASC_RET_MUTUAL_AUTH when the server proved its
	// identity. Zero for Digest.
	Flags uint32

	ctx *sspi.Context // the connection's context; nil for Digest
}

// DelegatedCredentials returns the credentials the client delegated
// (Kerberos with ISC_REQ_DELEGATE: its forwarded TGT), for the handler to
// authenticate as the client to another service: pass them to
// sspi.NewClientContext, or to a Transport's Credentials. The caller owns
// the copy and frees it. Call it while the request is being served: the
// connection's context is deleted when the connection closes, after which
// the call fails with SEC_E_INVALID_HANDLE. Without delegation (NTLM,
// Digest, no ISC_REQ_DELEGATE, a TGT that is not forwardable) it fails
// with SEC_E_NO_CREDENTIALS.
func (id *Identity) DelegatedCredentials() (*sspi.Credentials, error) {
	if id.ctx == nil {
		return nil, status.New("DelegatedCredentials", id.Package, status.SEC_E_NO_CREDENTIALS, nil)
	}
	return id.ctx.DelegatedCredentials()
}

type identityKey struct{}

// IdentityFromContext returns the identity a [Server] put in a request's
// context.
func IdentityFromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok
}

// connState is the authentication state of one connection.
type connState struct {
	conn    net.Conn      // constant; nil when unknown
	mu      sync.Mutex    // held for a whole handshake leg
	ctx     *sspi.Context // the last established handshake
	pending *pending      // the handshake waiting for the client's next leg
	id      *Identity     // set when the connection is authenticated
}

type connKey struct{}

// ConnContext is the [http.Server] ConnContext hook a [Server] needs for
// the connection-bound schemes (Negotiate, Kerberos, NTLM): it gives each
// connection a place for its handshake state. Install it with
//
//	srv := &http.Server{Handler: s.Middleware(h), ConnContext: sspihttp.ConnContext}
//
// A ConnContext of the program's own can call it and add its values.
//
// [Server.HTTPServer] installs the Server's own hooks, [Server.ConnContext]
// and [Server.ConnState], which also free a connection's handshake when
// the connection closes; prefer them.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{conn: c})
}

// Server authenticates HTTP requests: its Middleware wraps a handler and
// lets a request through only once the client has authenticated with one
// of the offered schemes, answering 401 (or 407 for a proxy) with the
// challenges otherwise.
//
// Negotiate, Kerberos and NTLM hold a handshake across requests of one
// connection, kept in the connection's context: the http.Server must use
// [ConnContext]. Over HTTP/2, whose connections carry many requests at
// once, each request is a handshake of its own: Kerberos (one leg) works,
// NTLM does not, and clients must use HTTP/1.1 for it, as [Transport]
// does. Digest is stateless per request (the nonce is bound to a
// server key and the time, the nonce count is checked by the package).
// The server's last Negotiate or Kerberos token (mutual authentication)
// goes back in WWW-Authenticate on the authenticated response, and
// Digest's rspauth in Authentication-Info.
//
// The packages are those of Registry. The default NTLM acceptor accepts
// NTLMv2 clients that send no MIC (curl and other libcurl- or
// go-ntlmssp-based clients), as Windows does when their MsvAvFlags do not
// announce one; ntlm.Config.RequireMIC refuses them.
//
// On a Kerberos or Negotiate-over-Kerberos login the [Identity] carries
// the client's PAC: its user and group SIDs when the KDC put logon info
// in it.
//
// A handshake waiting for the client's next leg (after NTLM's CHALLENGE)
// holds a context on the server: it is dropped, its context deleted and
// its connection closed, after HandshakeTimeout, or when more than
// MaxPendingPerAddr handshakes from the same client address are waiting
// (the oldest goes). Every failed authentication (a refused token, a
// handshake dropped) is recorded in AuditLog with its reason, never with
// a token or a credential. [Server.HTTPServer] gives an http.Server with
// the timeouts a server exposed to a network needs.
//
// Server is safe for concurrent use; its fields must not change once
// Middleware has been called.
type Server struct {
	// Registry holds the security packages; nil means sspi.DefaultRegistry().
	Registry *sspi.Registry

	// Schemes lists the schemes offered, in the order of the challenges;
	// nil means Negotiate, NTLM and Digest, those whose credentials are
	// set (Kerberos, the bare scheme, only when listed).
	Schemes []string

	// Negotiate, Kerberos, NTLM and Digest are the AcquireCredentials auth
	// data of each scheme's inbound credentials: for Negotiate a
	// *negotiate.AuthData (a keytab and a user store), for Kerberos a
	// *kerberos.Keytab, for NTLM an ntlm.UserStore, for Digest a
	// digest.UserStore. A nil Negotiate, Kerberos or NTLM field means the
	// package's defaults (KRB5_KTNAME, NTLM_USER_FILE); Digest is offered
	// only with a store.
	Negotiate, Kerberos, NTLM, Digest any

	// Realm is the Digest realm; empty means the package's ("gosspi").
	Realm string

	// ChannelBindings returns the channel bindings a request's connection
	// must carry (Windows' Extended Protection), or nil for none; see
	// [TLSServerEndPoint]. Clients that send none are accepted unless
	// RequireChannelBindings is set.
	ChannelBindings func(r *http.Request) *secbuffer.ChannelBindings

	// RequireChannelBindings refuses Negotiate, Kerberos and NTLM clients
	// that send no channel bindings (ASC_REQ_PROXY_BINDINGS).
	RequireChannelBindings bool

	// PersistConnection keeps a connection authenticated after a
	// connection-bound handshake: later requests on it need no
	// Authorization, as IIS does by default. Off, each request
	// authenticates.
	PersistConnection bool

	// Proxy makes the Server authenticate as an HTTP proxy: 407,
	// Proxy-Authenticate and Proxy-Authorization.
	Proxy bool

	// ErrorLog receives failures of the packages; nil means the log
	// package's standard logger. Credentials are never logged.
	ErrorLog *log.Logger

	// AuditLog receives one record (level Warn, message "sspihttp:
	// authentication failed") for each failed authentication, with the
	// attributes scheme, remote (the client's IP address), status (the
	// SECURITY_STATUS, when a package refused) and reason. Tokens,
	// passwords and hashes are never part of it. Nil means slog.Default().
	AuditLog *slog.Logger

	// HandshakeTimeout bounds how long a Negotiate, Kerberos or NTLM
	// handshake may wait for the client's next leg: then it is dropped.
	// Zero means DefaultHandshakeTimeout; a negative value, no bound.
	HandshakeTimeout time.Duration

	// MaxPendingPerAddr bounds the handshakes waiting for their next leg
	// from one client IP address; a new one beyond it drops the oldest.
	// Zero means DefaultMaxPendingPerAddr; a negative value, no bound.
	MaxPendingPerAddr int

	credOnce     sync.Once
	creds        map[string]*sspi.Credentials // set once by credOnce
	offered      []string                     // set once by credOnce
	digestHandle sspi.CredHandle              // set once by credOnce: Digest for the flat calls

	pend    pendingTable
	connsMu sync.Mutex
	conns   map[net.Conn]*connState // guarded by connsMu: set by Server.ConnContext
}

// TLSServerEndPoint returns a [Server.ChannelBindings] function giving
// the tls-server-end-point bindings (RFC 5929) of the server certificate
// cert for requests over TLS, and nil for the others.
func TLSServerEndPoint(cert *x509.Certificate) func(*http.Request) *secbuffer.ChannelBindings {
	cb, err := secbuffer.CertificateServerEndPoint(cert)
	return func(r *http.Request) *secbuffer.ChannelBindings {
		if r.TLS == nil || err != nil {
			return nil
		}
		return cb
	}
}

func (s *Server) registry() *sspi.Registry {
	if s.Registry != nil {
		return s.Registry
	}
	return sspi.DefaultRegistry()
}

func (s *Server) headers() headerNames {
	if s.Proxy {
		return proxyHeaders
	}
	return originHeaders
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (s *Server) authData(scheme string) any {
	switch scheme {
	case SchemeNegotiate:
		return s.Negotiate
	case SchemeKerberos:
		return s.Kerberos
	case SchemeNTLM:
		return s.NTLM
	case SchemeDigest:
		return s.Digest
	}
	return nil
}

// init acquires the inbound credentials of every scheme once.
func (s *Server) init() {
	s.credOnce.Do(func() {
		s.creds = make(map[string]*sspi.Credentials)
		list := s.Schemes
		if list == nil {
			list = []string{SchemeNegotiate, SchemeNTLM, SchemeDigest}
		}
		for _, name := range list {
			scheme := canonicalScheme(name)
			if scheme == "" {
				s.logf("sspihttp: unknown scheme %q", name)
				continue
			}
			data := s.authData(scheme)
			if scheme == SchemeDigest {
				if data == nil {
					continue
				}
				pkg, err := sspi.UTF16PtrFromString(packageOf(scheme))
				if err != nil {
					continue
				}
				if st := s.registry().AcquireCredentialsHandleW(nil, pkg, sspi.SECPKG_CRED_INBOUND, nil, data, 0, 0, &s.digestHandle, nil); st != sspi.SEC_E_OK {
					s.logf("sspihttp: Digest not offered: %v", st)
					continue
				}
			}
			c, err := s.registry().AcquireCredentials(context.Background(), packageOf(scheme), sspi.CredentialsInbound, data)
			if err != nil {
				s.logf("sspihttp: %s not offered: %v", scheme, err)
				continue
			}
			s.creds[scheme] = c
			s.offered = append(s.offered, scheme)
		}
	})
}

// Middleware returns next wrapped in authentication: the
// func(http.Handler) http.Handler form of middleware.
func (s *Server) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.init()
		hn := s.headers()
		cs, _ := r.Context().Value(connKey{}).(*connState)
		if r.ProtoMajor >= 2 {
			// HTTP/2 multiplexes requests: no handshake state can be
			// tied to its connection (RFC 9113 9.2.3 asks for HTTP/1.1),
			// so a connection-bound scheme must finish in one request
			// (Kerberos does; NTLM cannot).
			cs = &connState{}
		}
		auth := r.Header.Get(hn.response)
		if auth == "" {
			if cs != nil && s.PersistConnection {
				cs.mu.Lock()
				id := cs.id
				cs.mu.Unlock()
				if id != nil {
					next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
					return
				}
			}
			s.challenge(w, r, "", nil)
			return
		}
		cr, ok := parseCredentials(auth)
		if !ok || s.creds[cr.scheme] == nil {
			s.challenge(w, r, "", nil)
			return
		}
		var id *Identity
		if cr.scheme == SchemeDigest {
			id = s.digest(w, r, cr)
		} else {
			id = s.handshake(w, r, cs, cr)
		}
		if id != nil {
			if s.Proxy {
				r.Header.Del(hn.response) // not for the next hop
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
		}
	})
}

// challenge writes a 401 (407) with every offered scheme. A scheme given
// with a payload (a continuation token, a stale Digest challenge) is sent
// with it in place of its bare challenge.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request, scheme string, payload []byte) {
	hn := s.headers()
	h := w.Header()
	for _, k := range s.offered {
		switch {
		case k == scheme && connectionBound(k):
			h.Add(hn.challenge, k+" "+base64.StdEncoding.EncodeToString(payload))
		case k == scheme:
			h.Add(hn.challenge, k+" "+string(payload))
		case k == SchemeDigest:
			ch, err := s.digestChallenge(r)
			if err != nil {
				s.logf("sspihttp: Digest challenge: %v", err)
				continue
			}
			h.Add(hn.challenge, k+" "+string(ch))
		default:
			h.Add(hn.challenge, k)
		}
	}
	http.Error(w, http.StatusText(hn.status), hn.status)
}

// handshake runs one leg of a connection-bound scheme. It returns the
// identity once the context is established, after writing the server's
// final token; otherwise it has written the response.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request, cs *connState, cr challenge) *Identity {
	if cs == nil {
		s.logf("sspihttp: %s needs the http.Server's ConnContext to be sspihttp.ConnContext", cr.scheme)
		http.Error(w, "authentication is misconfigured on this server", http.StatusInternalServerError)
		return nil
	}
	addr := clientAddr(r)
	in, ok := cr.token()
	if !ok {
		s.audit(r.Context(), cr.scheme, addr, reasonBadToken, nil)
	}
	if !ok || len(in) == 0 {
		s.challenge(w, r, "", nil)
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	// The next leg of a pending handshake takes its context back, unless
	// the timeout or the per-address bound dropped it (and said so in the
	// audit log).
	var c *sspi.Context
	if p := cs.pending; p != nil {
		cs.pending = nil
		if !s.pend.remove(p) {
			s.challenge(w, r, "", nil)
			return nil
		}
		if p.scheme == cr.scheme {
			c = p.ctx
		} else {
			p.ctx.Delete()
		}
	}
	if c == nil {
		if cs.ctx != nil {
			cs.ctx.Delete()
			cs.ctx = nil
		}
		var req uint32 = sspi.ASC_REQ_CONNECTION
		if s.RequireChannelBindings {
			req |= sspi.ASC_REQ_PROXY_BINDINGS
		}
		var err error
		if c, err = sspi.NewServerContext(s.creds[cr.scheme], req); err != nil {
			s.logf("sspihttp: %s: %v", cr.scheme, err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return nil
		}
	}
	cs.id = nil
	bufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: in}}
	if s.ChannelBindings != nil {
		if cb := s.ChannelBindings(r); cb != nil {
			bufs = append(bufs, cb.Buffer())
		}
	}
	out, err := c.StepBuffers(r.Context(), bufs)
	if err != nil {
		c.Delete()
		s.audit(r.Context(), cr.scheme, addr, "", err)
		s.challenge(w, r, "", nil)
		return nil
	}
	if !c.Established() {
		if r.ProtoMajor >= 2 {
			// No next leg can come on this request's state.
			c.Delete()
		} else {
			p := &pending{ctx: c, scheme: cr.scheme, addr: addr, conn: cs.conn}
			cs.pending = p
			if old := s.pend.add(s, p); old != nil {
				s.drop(old, reasonTooMany)
			}
		}
		s.challenge(w, r, cr.scheme, out)
		return nil
	}
	cs.ctx = c
	if len(out) > 0 {
		w.Header().Add(s.headers().challenge, cr.scheme+" "+base64.StdEncoding.EncodeToString(out))
	}
	name, err := c.UserName()
	if err != nil {
		s.logf("sspihttp: %s: no client name: %v", cr.scheme, err)
	}
	id := &Identity{Name: name, Scheme: cr.scheme, Package: c.NegotiatedPackage(), Flags: c.Flags(), ctx: c}
	if pac, ok := c.PAC(); ok {
		id.PAC, id.UserSID = pac, pac.UserSID
		if len(pac.GroupSIDs) > 0 {
			id.Groups = slices.Clone(pac.GroupSIDs)
		}
	}
	if s.PersistConnection {
		cs.id = id
	}
	return id
}

// digestChallenge returns a fresh Digest challenge.
func (s *Server) digestChallenge(r *http.Request) ([]byte, error) {
	c, err := sspi.NewServerContext(s.creds[SchemeDigest], digest.ASC_REQ_HTTP)
	if err != nil {
		return nil, err
	}
	defer c.Delete()
	return c.StepBuffers(r.Context(), s.digestParams(r, nil))
}

func (s *Server) digestParams(r *http.Request, tok []byte) []secbuffer.Buffer {
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	return []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_TOKEN, Data: tok},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(r.Method)},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(uri)},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS},
		{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(s.Realm)},
	}
}

// digest checks a Digest Authorization (RFC 7616 3.4). It uses the flat
// AcceptSecurityContext, which leaves the package's output in the buffer
// even when the call fails: that is where the stale=true challenge of an
// expired nonce comes back.
func (s *Server) digest(w http.ResponseWriter, r *http.Request, cr challenge) *Identity {
	reg := s.registry()
	in := &secbuffer.Desc{Version: secbuffer.SECBUFFER_VERSION, Buffers: s.digestParams(r, []byte(cr.params))}
	out := &secbuffer.Desc{Version: secbuffer.SECBUFFER_VERSION, Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}}}
	var h sspi.CtxtHandle
	st := reg.AcceptSecurityContext(&s.digestHandle, nil, in, digest.ASC_REQ_HTTP, 0, &h, out, nil, nil)
	tok := out.Buffers[0].Data
	if st.Failed() || st != sspi.SEC_E_OK {
		if st.Failed() && strings.Contains(string(tok), "stale=true") {
			s.challenge(w, r, SchemeDigest, tok)
			return nil
		}
		if !st.Failed() {
			reg.DeleteSecurityContext(&h)
		}
		s.audit(r.Context(), SchemeDigest, clientAddr(r), "", st)
		s.challenge(w, r, "", nil)
		return nil
	}
	defer reg.DeleteSecurityContext(&h)
	if len(tok) > 0 {
		w.Header().Set(s.headers().info, string(tok))
	}
	var names sspi.SecPkgContext_NamesW
	if st := reg.QueryContextAttributesW(&h, sspi.SECPKG_ATTR_NAMES, &names); st != sspi.SEC_E_OK {
		s.logf("sspihttp: Digest: no client name: %v", st)
	}
	return &Identity{Name: sspi.UTF16PtrToString(names.UserName), Scheme: SchemeDigest, Package: packageOf(SchemeDigest)}
}
