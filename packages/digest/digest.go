package digest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Name is the package name, SecPkgInfo.Name, as Windows spells it.
const Name = "WDigest"

const pkgName = Name

// maxToken is cbMaxToken (structures.md 7).
const maxToken = 4096

// info is the SecPkgInfo Windows 10 reports for WDigest (structures.md 7):
// TOKEN_ONLY | IMPERSONATION | ACCEPT_WIN32_NAME | APPCONTAINER_CHECKS.
var info = packages.Info{
	Name:         Name,
	Comment:      "Digest Authentication for Windows",
	Capabilities: 0x00800304,
	Version:      1,
	RPCID:        21, // RPC_C_AUTHN_DIGEST
	MaxToken:     maxToken,
}

// ASC_REQ_HTTP selects HTTP Digest on the server side. Microsoft's Digest
// documentation names it; it has the value of ASC_REQ_ALLOW_MISSING_BINDINGS
// in sspi.h (constants.md 3), which a Digest acceptor has no other use for.
//
//lint:ignore ST1003 Windows name kept verbatim.
const ASC_REQ_HTTP = 0x10000000

// Config configures the package. A Config must not be modified after it
// is passed to New. The zero Config is usable.
type Config struct {
	// Rand is the source of nonces, cnonces and the nonce key; nil means
	// crypto/rand.
	Rand io.Reader
	// Time returns the current time; nil means time.Now.
	Time func() time.Time

	// Realm is the realm a server context names in its challenges; empty
	// means "gosspi". A SECBUFFER_PKG_PARAMS realm buffer given to
	// AcceptSecurityContext overrides it for that context.
	Realm string

	// Algorithms lists the HTTP algorithms a server context accepts; the
	// first is the one its challenges name. Nil means MD5-sess and MD5, as
	// Windows offers. The RFC 7616 algorithms (SHA-256, SHA-512-256 and
	// their -sess forms) are used only when listed here; a client context
	// answers whichever algorithm the challenge names.
	Algorithms []string

	// UserHash makes HTTP challenges carry userhash=true (RFC 7616 3.4.4),
	// so that clients send H(user ":" realm) instead of the name.
	UserHash bool

	// NonceLifetime is how long an HTTP server nonce stays valid; zero
	// means 5 minutes. A response with an older nonce but the right
	// password is answered with a stale=true challenge.
	NonceLifetime time.Duration

	// NonceKey is the secret HTTP server nonces and opaque values are bound
	// to. Servers that share it accept each other's nonces. Nil means a
	// random key drawn once per Package.
	NonceKey []byte

	// Ciphers lists the SASL auth-conf ciphers ("rc4", "3des", "rc4-56",
	// "des", "rc4-40") a server offers and a client accepts, in the
	// client's order of preference. Nil means all of them, in that order.
	Ciphers []string

	// MaxBuffer is the SASL maxbuf this side announces: the largest
	// security-layer message it accepts. Zero means 65536 (RFC 2831 2.1.1).
	MaxBuffer uint32
}

// Package is the WDigest security package. It is safe for concurrent use.
type Package struct {
	config Config

	keyOnce sync.Once
	key     []byte
	keyErr  error

	replay replayTable

	// Fixed values for the published-vector tests only; empty otherwise.
	testCnonce string
	testNonce  string
}

// New returns the package with config; nil means the zero Config.
func New(config *Config) *Package {
	p := &Package{}
	if config != nil {
		p.config = *config
	}
	return p
}

// Info returns the SecPkgInfo Windows reports for WDigest.
func (p *Package) Info() packages.Info { return info }

func (p *Package) now() time.Time {
	if p.config.Time != nil {
		return p.config.Time()
	}
	return time.Now()
}

func (p *Package) random(b []byte) error {
	r := p.config.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("digest: random source: %w", err)
	}
	return nil
}

// randomString returns n random bytes in unpadded base64url, an alphabet
// that is safe unquoted and quoted.
func (p *Package) randomString(n int) (string, error) {
	b := make([]byte, n)
	if err := p.random(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newCnonce returns a client nonce: 18 random bytes, 24 characters.
func (p *Package) newCnonce() (string, error) {
	if p.testCnonce != "" {
		return p.testCnonce, nil
	}
	return p.randomString(18)
}

// newSASLNonce returns a SASL server nonce.
func (p *Package) newSASLNonce() (string, error) {
	if p.testNonce != "" {
		return p.testNonce, nil
	}
	return p.randomString(18)
}

func (p *Package) realm() string {
	if p.config.Realm != "" {
		return p.config.Realm
	}
	return "gosspi"
}

func (p *Package) nonceLifetime() time.Duration {
	if p.config.NonceLifetime > 0 {
		return p.config.NonceLifetime
	}
	return 5 * time.Minute
}

func (p *Package) maxBuffer() uint32 {
	if p.config.MaxBuffer != 0 {
		return p.config.MaxBuffer
	}
	return 65536
}

// serverAlgorithms returns the configured HTTP algorithms, first = offered.
func (p *Package) serverAlgorithms() ([]*algorithm, error) {
	names := p.config.Algorithms
	if len(names) == 0 {
		names = []string{MD5Sess, MD5}
	}
	out := make([]*algorithm, 0, len(names))
	for _, n := range names {
		a := lookupAlgorithm(n)
		if a == nil {
			return nil, fmt.Errorf("digest: unknown algorithm %q in Config.Algorithms", n)
		}
		out = append(out, a)
	}
	return out, nil
}

func (p *Package) cipherList() []*cipherSpec {
	if len(p.config.Ciphers) == 0 {
		return ciphers
	}
	var out []*cipherSpec
	for _, n := range p.config.Ciphers {
		if c := lookupCipher(strings.ToLower(n)); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// nonceKey returns the key server nonces are bound to.
func (p *Package) nonceKey() ([]byte, error) {
	if len(p.config.NonceKey) > 0 {
		return p.config.NonceKey, nil
	}
	p.keyOnce.Do(func() {
		p.key = make([]byte, 32)
		p.keyErr = p.random(p.key)
	})
	return p.key, p.keyErr
}

// HTTP server nonces: base64url(time(8, BE Unix seconds) | random(8) |
// HMAC-SHA256(key, "nonce" | time | random | realm)[0..15]). The opaque
// value is base64url(HMAC-SHA256(key, "opaque" | nonce)[0..11]). Both are
// checked without server state.
const nonceRawLen = 8 + 8 + 16

func nonceMAC(key []byte, label string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func (p *Package) newNonce(realm string) (nonce, opaque string, err error) {
	key, err := p.nonceKey()
	if err != nil {
		return "", "", err
	}
	raw := make([]byte, nonceRawLen)
	binary.BigEndian.PutUint64(raw, uint64(p.now().Unix()))
	if err := p.random(raw[8:16]); err != nil {
		return "", "", err
	}
	copy(raw[16:], nonceMAC(key, "nonce", raw[:16], []byte(realm)))
	nonce = base64.RawURLEncoding.EncodeToString(raw)
	return nonce, p.opaqueFor(key, nonce), nil
}

func (p *Package) opaqueFor(key []byte, nonce string) string {
	return base64.RawURLEncoding.EncodeToString(nonceMAC(key, "opaque", []byte(nonce))[:12])
}

// nonceState is what checkNonce found.
type nonceState int

const (
	nonceValid   nonceState = iota
	nonceStale              // ours, but older than the lifetime
	nonceForeign            // not made by this key for this realm
)

// checkNonce validates a nonce and the opaque value returned with it.
func (p *Package) checkNonce(nonce, opaque, realm string) (nonceState, time.Time) {
	key, err := p.nonceKey()
	if err != nil {
		return nonceForeign, time.Time{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != nonceRawLen {
		return nonceForeign, time.Time{}
	}
	if !hmac.Equal(raw[16:], nonceMAC(key, "nonce", raw[:16], []byte(realm))[:16]) {
		return nonceForeign, time.Time{}
	}
	if !hmac.Equal([]byte(opaque), []byte(p.opaqueFor(key, nonce))) {
		return nonceForeign, time.Time{}
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw)), 0)
	now := p.now()
	if issued.After(now.Add(time.Minute)) {
		return nonceForeign, time.Time{}
	}
	if now.Sub(issued) > p.nonceLifetime() {
		return nonceStale, issued
	}
	return nonceValid, issued
}

// replayTable remembers, per server nonce, which nonce counts were used:
// the highest and a 64-entry window below it, so that requests sent in
// parallel on one nonce may arrive out of order but none twice.
type replayTable struct {
	mu        sync.Mutex
	seen      map[string]*ncWindow
	nextSweep int
}

type ncWindow struct {
	max     uint32
	bits    uint64 // bit i: max-i was seen
	expires time.Time
}

// use records nc for nonce and reports whether it was fresh.
func (t *replayTable) use(nonce string, nc uint32, expires, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen == nil {
		t.seen = map[string]*ncWindow{}
	}
	if len(t.seen) >= t.nextSweep {
		for k, w := range t.seen {
			if now.After(w.expires) {
				delete(t.seen, k)
			}
		}
		t.nextSweep = 2*len(t.seen) + 1024
	}
	w := t.seen[nonce]
	if w == nil {
		t.seen[nonce] = &ncWindow{max: nc, bits: 1, expires: expires}
		return true
	}
	switch {
	case nc > w.max:
		shift := nc - w.max
		if shift >= 64 {
			w.bits = 0
		} else {
			w.bits <<= shift
		}
		w.bits |= 1
		w.max = nc
		return true
	case w.max-nc >= 64:
		return false
	default:
		bit := uint64(1) << (w.max - nc)
		if w.bits&bit != 0 {
			return false
		}
		w.bits |= bit
		return true
	}
}

// Credentials and identities.

// Identity is a client credential with the fields SEC_WINNT_AUTH_IDENTITY
// lacks. A *packages.AuthIdentity works too: its Domain plays the part of
// Realm.
type Identity struct {
	User     string
	Password string
	// Realm, if set, is the realm a SASL client picks among those the
	// server offers (or sends when it offers none). HTTP clients always
	// answer the challenge's realm.
	Realm string
	// AuthzID is the SASL authorization identity (RFC 2831 2.1.2 authzid);
	// empty means none.
	AuthzID string
}

// ErrUnknownUser is returned by a UserStore that does not know the user;
// the acceptor answers SEC_E_LOGON_DENIED.
var ErrUnknownUser = errors.New("digest: unknown user")

// Secret is what an acceptor needs to check a user's response: the
// password, or H(user ":" realm ":" password) per hash family.
type Secret struct {
	Password string
	// HA1 maps a hash family ("MD5", "SHA-256", "SHA-512-256") to the
	// lower-case hex H(user ":" realm ":" password), as htdigest files
	// keep it. It is used when Password is empty. SASL needs the "MD5"
	// entry.
	HA1 map[string]string
}

// UserStore is where a server context finds users. LookupUser returns
// ErrUnknownUser for a user it does not know; any other error fails the
// handshake with SEC_E_INTERNAL_ERROR. LookupUserHash finds the user whose
// H(user ":" realm), computed with the hash family of algorithm, is hash
// (RFC 7616 userhash); a store that cannot returns ErrUnknownUser.
type UserStore interface {
	LookupUser(ctx context.Context, user, realm string) (Secret, error)
	LookupUserHash(ctx context.Context, hash, realm, algorithm string) (user string, s Secret, err error)
}

// User is one entry of Users. An empty Realm matches every realm.
type User struct {
	Name     string
	Realm    string
	Password string
	HA1      map[string]string // as in Secret
}

// Users is an in-memory UserStore. Names compare exactly (Digest user
// names are case-sensitive).
type Users []User

// LookupUser implements UserStore.
func (u Users) LookupUser(_ context.Context, user, realm string) (Secret, error) {
	for _, e := range u {
		if e.Name == user && (e.Realm == "" || e.Realm == realm) {
			return Secret{Password: e.Password, HA1: e.HA1}, nil
		}
	}
	return Secret{}, ErrUnknownUser
}

// LookupUserHash implements UserStore by hashing every name.
func (u Users) LookupUserHash(_ context.Context, hash, realm, alg string) (string, Secret, error) {
	a := lookupAlgorithm(alg)
	if a == nil {
		return "", Secret{}, ErrUnknownUser
	}
	d := newDigester(a)
	for _, e := range u {
		if e.Realm != "" && e.Realm != realm {
			continue
		}
		if hmac.Equal([]byte(d.userhash(e.Name, realm)), []byte(strings.ToLower(hash))) {
			return e.Name, Secret{Password: e.Password, HA1: e.HA1}, nil
		}
	}
	return "", Secret{}, ErrUnknownUser
}

// credentials is what AcquireCredentials returns.
type credentials struct {
	p         *Package
	use       uint32
	principal string

	mu       sync.Mutex // guards the secrets against Free
	identity *Identity  // outbound; nil if none
	store    UserStore  // inbound; nil if none
}

// AcquireCredentials implements packages.Package. Outbound credentials
// need a *packages.AuthIdentity or an *Identity (WDigest has no default
// logon credentials off Windows); inbound ones need a UserStore. For an
// inbound SASL credential principal, if set, is the digest-uri
// ("service/host") responses must name.
func (p *Package) AcquireCredentials(_ context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	const op = "AcquireCredentialsHandle"
	if use&packages.SECPKG_CRED_BOTH == 0 {
		return nil, status.New(op, pkgName, status.SEC_E_UNKNOWN_CREDENTIALS, errors.New("digest: neither inbound nor outbound use"))
	}
	c := &credentials{p: p, use: use & packages.SECPKG_CRED_BOTH, principal: principal}
	switch a := authData.(type) {
	case nil:
		return nil, status.New(op, pkgName, status.SEC_E_NO_CREDENTIALS, errors.New("digest: no default credentials; pass an identity or a user store"))
	case *packages.AuthIdentity:
		c.identity = &Identity{User: a.User, Password: a.Password, Realm: a.Domain}
	case *Identity:
		id := *a
		c.identity = &id
	case UserStore:
		c.store = a
	default:
		return nil, status.New(op, pkgName, status.SEC_E_UNKNOWN_CREDENTIALS, fmt.Errorf("digest: unsupported auth data %T", authData))
	}
	return c, nil
}

func (c *credentials) Use() uint32       { return c.use }
func (c *credentials) Expiry() time.Time { return time.Time{} }
func (c *credentials) UserName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.identity != nil {
		return c.identity.User
	}
	return ""
}

// Free zeroes the reference to the password; contexts keep their own copy.
func (c *credentials) Free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.identity = nil
	c.store = nil
}

func (c *credentials) NewClientContext(target string, req uint32) (packages.Context, error) {
	c.mu.Lock()
	id := c.identity
	c.mu.Unlock()
	if c.use&packages.SECPKG_CRED_OUTBOUND == 0 || id == nil {
		return nil, status.New("InitializeSecurityContext", pkgName, status.SEC_E_NO_CREDENTIALS, errors.New("digest: credentials have no client identity"))
	}
	idCopy := *id
	return newClientContext(c.p, &idCopy, target, req), nil
}

func (c *credentials) NewServerContext(req uint32) (packages.Context, error) {
	c.mu.Lock()
	store := c.store
	c.mu.Unlock()
	if c.use&packages.SECPKG_CRED_INBOUND == 0 || store == nil {
		return nil, status.New("AcceptSecurityContext", pkgName, status.SEC_E_NO_CREDENTIALS, errors.New("digest: credentials have no user store"))
	}
	return newServerContext(c.p, store, c.principal, req), nil
}

// errNoOutToken is the cause when a handshake call has no output TOKEN
// buffer.
var errNoOutToken = errors.New("digest: no output token buffer")

// setToken stores p in the output TOKEN buffer of op (a handshake call of
// either side), allocating it when allocate is set, in which case it adds
// ISC_RET_ALLOCATED_MEMORY (= ASC_RET_ALLOCATED_MEMORY) to *flags.
func setToken(op string, out []secbuffer.Buffer, p []byte, allocate bool, flags *uint32) error {
	b := secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
	if b == nil {
		return status.New(op, pkgName, status.SEC_E_INVALID_TOKEN, errNoOutToken)
	}
	if st := secbuffer.Set(b, p, allocate); st != status.SEC_E_OK {
		return st
	}
	if allocate && len(p) > 0 {
		*flags |= packages.ISC_RET_ALLOCATED_MEMORY
	}
	return nil
}

// tokenFits makes sure n bytes fit the output TOKEN buffer of op before
// any state changes.
func tokenFits(op string, out []secbuffer.Buffer, n int, allocate bool) error {
	b := secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
	if b == nil {
		return status.New(op, pkgName, status.SEC_E_INVALID_TOKEN, errNoOutToken)
	}
	if !secbuffer.Fits(b, n, allocate) {
		return status.SEC_E_BUFFER_TOO_SMALL
	}
	return nil
}
