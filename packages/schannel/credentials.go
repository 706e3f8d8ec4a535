//lint:file-ignore ST1003 Windows names are kept verbatim so readers can search for them.

package schannel

import (
	"bytes"
	"container/list"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/pkcs12"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// SCHANNEL_CRED is the Go form of SCHANNEL_CRED (spec structures.md §6.4),
// the legacy credential structure. Fields without a meaning off Windows
// (cMappers, aphMappers) are left out.
type SCHANNEL_CRED struct {
	Version               uint32            // dwVersion: SCHANNEL_CRED_VERSION (0 is taken as that)
	Creds                 []tls.Certificate // paCred: own certificate chains with their private keys
	RootStore             *x509.CertPool    // hRootStore: roots for validating the peer; nil = Config.Roots
	SupportedAlgs         []uint32          // palgSupportedAlgs: CALG_* ids allowed (TLS 1.2 suites); empty = all
	EnabledProtocols      uint32            // grbitEnabledProtocols: SP_PROT_* bits; 0 = TLS 1.2 and 1.3
	MinimumCipherStrength uint32            // dwMinimumCipherStrength: bits (TLS 1.2 suites); 0 = any
	MaximumCipherStrength uint32            // dwMaximumCipherStrength: bits (TLS 1.2 suites); 0 = any
	SessionLifespan       uint32            // dwSessionLifespan: milliseconds; 0 = 10 hours
	Flags                 uint32            // dwFlags: SCH_CRED_* and SCH_* bits
	CredFormat            uint32            // dwCredFormat: only SCH_CRED_FORMAT_CERT_CONTEXT
}

// SCH_CREDENTIALS is the Go form of SCH_CREDENTIALS (spec structures.md
// §6.5), the TLS 1.3-capable credential structure.
type SCH_CREDENTIALS struct {
	Version         uint32            // dwVersion: SCH_CREDENTIALS_VERSION (0 is taken as that)
	CredFormat      uint32            // dwCredFormat: only SCH_CRED_FORMAT_CERT_CONTEXT
	Creds           []tls.Certificate // paCred
	RootStore       *x509.CertPool    // hRootStore
	SessionLifespan uint32            // dwSessionLifespan: milliseconds; 0 = 10 hours
	Flags           uint32            // dwFlags
	TlsParameters   []TLS_PARAMETERS  // pTlsParameters; at most SCH_CRED_MAX_SUPPORTED_PARAMETERS
}

// TLS_PARAMETERS restricts what a SCH_CREDENTIALS credential negotiates.
// Entries with AlpnIds (server only) are applied to every connection, not
// only to those ids.
type TLS_PARAMETERS struct {
	AlpnIds           []string          // rgstrAlpnIds
	DisabledProtocols uint32            // grbitDisabledProtocols: SP_PROT_* bits not to negotiate
	DisabledCrypto    []CRYPTO_SETTINGS // pDisabledCrypto
	Flags             uint32            // dwFlags: TLS_PARAMS_OPTIONAL
}

// CRYPTO_SETTINGS disables an algorithm by its CNG name. Only TLS 1.2
// cipher suites can be removed (crypto/tls fixes the TLS 1.3 suites).
type CRYPTO_SETTINGS struct {
	AlgorithmUsage uint32   // eAlgorithmUsage: TlsParametersCngAlgUsage*
	CngAlgId       string   // strCngAlgId: "AES", "CHACHA20_POLY1305", "SHA1", "SHA256", "SHA384", "ECDH", "RSA", "ECDSA"
	ChainingModes  []string // rgstrChainingModes: "ChainingModeGCM", "ChainingModeCBC"
	MinBitLength   uint32   // dwMinBitLength; 0 = not restricted
	MaxBitLength   uint32   // dwMaxBitLength; 0 = not restricted
}

// eTlsAlgorithmUsage values (CRYPTO_SETTINGS.AlgorithmUsage).
const (
	TlsParametersCngAlgUsageKeyExchange = 0
	TlsParametersCngAlgUsageSignature   = 1
	TlsParametersCngAlgUsageCipher      = 2
	TlsParametersCngAlgUsageDigest      = 3
	TlsParametersCngAlgUsageCertSig     = 4
)

// SCHANNEL_SESSION_TOKEN flags and session info flags.
const (
	SSL_SESSION_ENABLE_RECONNECTS  = 1
	SSL_SESSION_DISABLE_RECONNECTS = 2
	SSL_SESSION_RECONNECT          = 1
)

// TLS alert levels (SCHANNEL_ALERT_TOKEN.dwAlertType).
const (
	TLS1_ALERT_WARNING = 1
	TLS1_ALERT_FATAL   = 2
)

// defaultSessionLifespan is Schannel's ClientCacheTime default.
const defaultSessionLifespan = 10 * time.Hour

// LoadPEM reads a certificate chain and its private key from PEM files, as
// tls.LoadX509KeyPair does; keyFile may equal certFile.
func LoadPEM(certFile, keyFile string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("schannel: %w", err)
	}
	return c, nil
}

// LoadPKCS12 reads a certificate chain and its private key from a PKCS#12
// (PFX) file protected by password. The leaf is the certificate whose
// public key matches the private key; the other certificates follow it.
// Only the legacy PKCS#12 encryption (PBE-SHA1-3DES, RC2) is understood.
func LoadPKCS12(file, password string) (tls.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("schannel: %w", err)
	}
	return ParsePKCS12(b, password)
}

// ParsePKCS12 is [LoadPKCS12] on the bytes of a PFX file.
func ParsePKCS12(pfx []byte, password string) (tls.Certificate, error) {
	blocks, err := pkcs12.ToPEM(pfx, password)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("schannel: pkcs12: %w", err)
	}
	var certPEM, keyPEM []byte
	for _, b := range blocks {
		// ToPEM adds bag attributes as headers; tls.X509KeyPair wants none.
		clean := &pem.Block{Type: b.Type, Bytes: b.Bytes}
		if b.Type == "CERTIFICATE" {
			certPEM = append(certPEM, pem.EncodeToMemory(clean)...)
		} else if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			keyPEM = append(keyPEM, pem.EncodeToMemory(clean)...)
		}
	}
	// X509KeyPair expects the leaf first: try each certificate as leaf.
	var certs []*pem.Block
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		certs = append(certs, b)
	}
	for i := range certs {
		order := append([]*pem.Block{certs[i]}, append(append([]*pem.Block{}, certs[:i]...), certs[i+1:]...)...)
		var chain []byte
		for _, b := range order {
			chain = append(chain, pem.EncodeToMemory(b)...)
		}
		if c, err := tls.X509KeyPair(chain, keyPEM); err == nil {
			return c, nil
		}
	}
	return tls.Certificate{}, errors.New("schannel: pkcs12: no certificate matches the private key")
}

// credentials is an acquired Schannel credential.
type credentials struct {
	pkg   *Package
	use   uint32
	certs []tls.Certificate
	leafs []*x509.Certificate
	roots *x509.CertPool
	flags uint32

	protoClient, protoServer uint32   // SP_PROT_* bits enabled on each side
	suites                   []uint16 // nil = crypto/tls defaults
	lifespan                 time.Duration

	cache     *sessionCache // client sessions; nil when reconnects are disabled
	ticketKey [32]byte      // server session ticket key

	mu    sync.Mutex
	freed bool
}

func (p *Package) acquire(use uint32, authData any) (*credentials, error) {
	const op = "AcquireCredentialsHandle"
	if use&packages.SECPKG_CRED_BOTH == 0 {
		return nil, p.fail(op, status.SEC_E_UNKNOWN_CREDENTIALS, errors.New("schannel: credential use must be inbound, outbound or both"))
	}
	c := &credentials{pkg: p, use: use & packages.SECPKG_CRED_BOTH}
	var (
		certs     []tls.Certificate
		protocols uint32
		disabled  uint32
		algs      []uint32
		minBits   uint32
		maxBits   uint32
		lifespan  uint32
		crypto    []CRYPTO_SETTINGS
	)
	switch a := authData.(type) {
	case nil:
	case SCHANNEL_CRED:
		return p.acquire(use, &a)
	case SCH_CREDENTIALS:
		return p.acquire(use, &a)
	case tls.Certificate:
		return p.acquire(use, &a)
	case *tls.Certificate:
		if a == nil {
			break
		}
		certs = []tls.Certificate{*a}
	case *SCHANNEL_CRED:
		if a == nil {
			break
		}
		if a.Version != 0 && a.Version != packages.SCHANNEL_CRED_VERSION {
			return nil, p.fail(op, status.SEC_E_UNKNOWN_CREDENTIALS, fmt.Errorf("schannel: SCHANNEL_CRED version %d", a.Version))
		}
		if a.CredFormat != packages.SCH_CRED_FORMAT_CERT_CONTEXT {
			return nil, p.fail(op, status.SEC_E_UNKNOWN_CREDENTIALS, fmt.Errorf("schannel: credential format %d not supported", a.CredFormat))
		}
		certs, c.roots, c.flags = a.Creds, a.RootStore, a.Flags
		protocols, algs, minBits, maxBits, lifespan = a.EnabledProtocols, a.SupportedAlgs, a.MinimumCipherStrength, a.MaximumCipherStrength, a.SessionLifespan
	case *SCH_CREDENTIALS:
		if a == nil {
			break
		}
		if a.Version != 0 && a.Version != packages.SCH_CREDENTIALS_VERSION {
			return nil, p.fail(op, status.SEC_E_UNKNOWN_CREDENTIALS, fmt.Errorf("schannel: SCH_CREDENTIALS version %d", a.Version))
		}
		if a.CredFormat != packages.SCH_CRED_FORMAT_CERT_CONTEXT {
			return nil, p.fail(op, status.SEC_E_UNKNOWN_CREDENTIALS, fmt.Errorf("schannel: credential format %d not supported", a.CredFormat))
		}
		if len(a.TlsParameters) > packages.SCH_CRED_MAX_SUPPORTED_PARAMETERS {
			return nil, p.fail(op, status.SEC_E_INVALID_PARAMETER, errors.New("schannel: too many TLS_PARAMETERS"))
		}
		certs, c.roots, c.flags, lifespan = a.Creds, a.RootStore, a.Flags, a.SessionLifespan
		for _, tp := range a.TlsParameters {
			if len(tp.AlpnIds) > packages.SCH_CRED_MAX_SUPPORTED_ALPN_IDS || len(tp.DisabledCrypto) > packages.SCH_CRED_MAX_SUPPORTED_CRYPTO_SETTINGS {
				return nil, p.fail(op, status.SEC_E_INVALID_PARAMETER, errors.New("schannel: TLS_PARAMETERS entry too large"))
			}
			disabled |= tp.DisabledProtocols
			crypto = append(crypto, tp.DisabledCrypto...)
		}
	default:
		return nil, p.fail(op, status.SEC_E_UNKNOWN_CREDENTIALS, fmt.Errorf("schannel: unsupported auth data %T", authData))
	}
	if len(certs) > packages.SCH_CRED_MAX_SUPPORTED_CERTS {
		return nil, p.fail(op, status.SEC_E_INVALID_PARAMETER, errors.New("schannel: too many certificates"))
	}
	for i := range certs {
		if len(certs[i].Certificate) == 0 || certs[i].PrivateKey == nil {
			return nil, p.fail(op, status.SEC_E_NO_CREDENTIALS, errors.New("schannel: certificate without private key"))
		}
		leaf := certs[i].Leaf
		if leaf == nil {
			var err error
			if leaf, err = x509.ParseCertificate(certs[i].Certificate[0]); err != nil {
				return nil, p.fail(op, status.SEC_E_UNKNOWN_CREDENTIALS, fmt.Errorf("schannel: certificate: %w", err))
			}
		}
		c.leafs = append(c.leafs, leaf)
	}
	c.certs = append([]tls.Certificate(nil), certs...)
	if c.flags&packages.SCH_SEND_ROOT_CERT == 0 {
		// Schannel leaves the root out of the chain it sends unless
		// SCH_SEND_ROOT_CERT is set.
		for i := range c.certs {
			if chain := c.certs[i].Certificate; len(chain) > 1 && selfSigned(chain[len(chain)-1]) {
				c.certs[i].Certificate = chain[: len(chain)-1 : len(chain)-1]
			}
		}
	}
	if c.roots == nil {
		c.roots = p.config.roots()
	}

	// Protocols: TLS 1.2 and 1.3 only.
	if protocols == 0 || protocols == packages.SP_PROT_ALL {
		protocols = packages.SP_PROT_TLS1_2 | packages.SP_PROT_TLS1_3
	}
	protocols &^= disabled
	c.protoClient = protocols & (packages.SP_PROT_TLS1_2_CLIENT | packages.SP_PROT_TLS1_3_CLIENT)
	c.protoServer = protocols & (packages.SP_PROT_TLS1_2_SERVER | packages.SP_PROT_TLS1_3_SERVER)
	if (c.use&packages.SECPKG_CRED_OUTBOUND != 0 && c.protoClient == 0) ||
		(c.use&packages.SECPKG_CRED_INBOUND != 0 && c.protoServer == 0) {
		return nil, p.fail(op, status.SEC_E_ALGORITHM_MISMATCH, errors.New("schannel: no supported protocol enabled (TLS 1.2 and 1.3 only)"))
	}

	suites, restricted := filterSuites(algs, minBits, maxBits, crypto)
	if restricted {
		if len(suites) == 0 {
			// Only TLS 1.3 (whose suites cannot be limited) may be left.
			c.protoClient &^= packages.SP_PROT_TLS1_2_CLIENT
			c.protoServer &^= packages.SP_PROT_TLS1_2_SERVER
			if (c.use&packages.SECPKG_CRED_OUTBOUND != 0 && c.protoClient == 0) ||
				(c.use&packages.SECPKG_CRED_INBOUND != 0 && c.protoServer == 0) {
				return nil, p.fail(op, status.SEC_E_ALGORITHM_MISMATCH, errors.New("schannel: no cipher suite left"))
			}
		}
		c.suites = suites
		if c.suites == nil {
			c.suites = []uint16{}
		}
	}

	c.lifespan = defaultSessionLifespan
	if lifespan != 0 {
		c.lifespan = time.Duration(lifespan) * time.Millisecond
	}
	if c.flags&packages.SCH_CRED_DISABLE_RECONNECTS == 0 {
		c.cache = newSessionCache(p.config.cacheSize(), c.lifespan, p.config.now)
	}
	if _, err := readFull(p.config.rand(), c.ticketKey[:]); err != nil {
		return nil, p.fail(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("schannel: random: %w", err))
	}
	return c, nil
}

func versions(mask, v12, v13 uint32) (min, max uint16) {
	switch {
	case mask&v12 != 0 && mask&v13 != 0:
		return tls.VersionTLS12, tls.VersionTLS13
	case mask&v13 != 0:
		return tls.VersionTLS13, tls.VersionTLS13
	default:
		return tls.VersionTLS12, tls.VersionTLS12
	}
}

func (c *credentials) Use() uint32 { return c.use }

// Expiry returns the NotAfter of the first certificate, or the zero Time.
func (c *credentials) Expiry() time.Time {
	if len(c.leafs) == 0 {
		return time.Time{}
	}
	return c.leafs[0].NotAfter
}

// UserName returns the subject of the first certificate, or "".
func (c *credentials) UserName() string {
	if len(c.leafs) == 0 {
		return ""
	}
	return c.leafs[0].Subject.String()
}

func (c *credentials) NewClientContext(target string, req uint32) (packages.Context, error) {
	if c.use&packages.SECPKG_CRED_OUTBOUND == 0 {
		return nil, c.pkg.fail("InitializeSecurityContext", status.SEC_E_NO_CREDENTIALS, errors.New("schannel: credentials are not outbound"))
	}
	if c.isFreed() {
		return nil, c.pkg.fail("InitializeSecurityContext", status.SEC_E_INVALID_HANDLE, nil)
	}
	return newContext(c, true, target, req), nil
}

func (c *credentials) NewServerContext(req uint32) (packages.Context, error) {
	if c.use&packages.SECPKG_CRED_INBOUND == 0 {
		return nil, c.pkg.fail("AcceptSecurityContext", status.SEC_E_NO_CREDENTIALS, errors.New("schannel: credentials are not inbound"))
	}
	if c.isFreed() {
		return nil, c.pkg.fail("AcceptSecurityContext", status.SEC_E_INVALID_HANDLE, nil)
	}
	return newContext(c, false, "", req), nil
}

func (c *credentials) isFreed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.freed
}

// Free forgets the session cache. Contexts already created keep working.
func (c *credentials) Free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.freed = true
	if c.cache != nil {
		c.cache.clear()
	}
}

// sessionCache is a credential's client session cache: entries are found
// by target name (crypto/tls uses the ServerName as key) and live for the
// credential's session lifespan, as Schannel's ClientCacheTime.
type sessionCache struct {
	mu       sync.Mutex
	m        map[string]*list.Element
	lru      list.List
	size     int
	lifespan time.Duration
	now      func() time.Time
}

type cacheEntry struct {
	key   string
	state *tls.ClientSessionState
	added time.Time
}

func newSessionCache(size int, lifespan time.Duration, now func() time.Time) *sessionCache {
	return &sessionCache{m: make(map[string]*list.Element), size: size, lifespan: lifespan, now: now}
}

func (s *sessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return nil, false
	}
	ce := e.Value.(*cacheEntry)
	if s.now().Sub(ce.added) >= s.lifespan {
		s.lru.Remove(e)
		delete(s.m, key)
		return nil, false
	}
	s.lru.MoveToFront(e)
	return ce.state, true
}

func (s *sessionCache) Put(key string, cs *tls.ClientSessionState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok {
		if cs == nil {
			s.lru.Remove(e)
			delete(s.m, key)
			return
		}
		ce := e.Value.(*cacheEntry)
		ce.state, ce.added = cs, s.now()
		s.lru.MoveToFront(e)
		return
	}
	if cs == nil {
		return
	}
	s.m[key] = s.lru.PushFront(&cacheEntry{key: key, state: cs, added: s.now()})
	for s.lru.Len() > s.size {
		old := s.lru.Back()
		s.lru.Remove(old)
		delete(s.m, old.Value.(*cacheEntry).key)
	}
}

func (s *sessionCache) remove(key string) { s.Put(key, nil) }

func (s *sessionCache) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = make(map[string]*list.Element)
	s.lru.Init()
}

func (s *sessionCache) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// selfSigned reports whether der is a self-signed certificate (a root).
func selfSigned(der []byte) bool {
	c, err := x509.ParseCertificate(der)
	if err != nil || !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return false
	}
	return c.CheckSignatureFrom(c) == nil
}

// SecPkgCred_SupportedAlgs answers QueryCredentialsAttributes with
// SECPKG_ATTR_SUPPORTED_ALGS (spec structures.md §3.2): the CryptoAPI
// ALG_IDs of the ciphers, hashes, key exchanges and signatures the
// credential can negotiate. ChaCha20-Poly1305, which has no ALG_ID, is
// left out.
type SecPkgCred_SupportedAlgs struct {
	SupportedAlgs []uint32 // cSupportedAlgs, palgSupportedAlgs: CALG_* ids
}

// SecPkgCred_CipherStrengths answers QueryCredentialsAttributes with
// SECPKG_ATTR_CIPHER_STRENGTHS: the smallest and largest key sizes, in
// bits, of the ciphers the credential can negotiate.
type SecPkgCred_CipherStrengths struct {
	MinimumCipherStrength uint32 // dwMinimumCipherStrength
	MaximumCipherStrength uint32 // dwMaximumCipherStrength
}

// SecPkgCred_SupportedProtocols answers QueryCredentialsAttributes with
// SECPKG_ATTR_SUPPORTED_PROTOCOLS: the SP_PROT_* bits the credential has
// enabled, client bits for an outbound credential and server bits for an
// inbound one.
type SecPkgCred_SupportedProtocols struct {
	Protocols uint32 // grbitProtocol
}

// QueryAttribute answers QueryCredentialsAttributes for the Schannel
// credential attributes (packages.CredentialsAttributeQuerier).
func (c *credentials) QueryAttribute(attr uint32) (any, error) {
	const op = "QueryCredentialsAttributes"
	if c.isFreed() {
		return nil, c.pkg.fail(op, status.SEC_E_INVALID_HANDLE, nil)
	}
	switch attr {
	case packages.SECPKG_ATTR_SUPPORTED_PROTOCOLS:
		return &SecPkgCred_SupportedProtocols{Protocols: c.protocols()}, nil
	case packages.SECPKG_ATTR_SUPPORTED_ALGS:
		var algs []uint32
		add := func(ids ...uint32) {
			for _, id := range ids {
				if id != 0 && !slices.Contains(algs, id) {
					algs = append(algs, id)
				}
			}
		}
		for _, s := range c.enabledSuites() {
			add(s.cipherAlg, s.hashAlg, packages.CALG_ECDH_EPHEM)
			switch s.auth {
			case "RSA":
				add(packages.CALG_RSA_SIGN)
			case "ECDSA":
				add(packages.CALG_ECDSA)
			default: // TLS 1.3: the signature comes from the certificate
				add(packages.CALG_RSA_SIGN, packages.CALG_ECDSA)
			}
		}
		return &SecPkgCred_SupportedAlgs{SupportedAlgs: algs}, nil
	case packages.SECPKG_ATTR_CIPHER_STRENGTHS:
		var cs SecPkgCred_CipherStrengths
		for _, s := range c.enabledSuites() {
			if cs.MinimumCipherStrength == 0 || s.bits < cs.MinimumCipherStrength {
				cs.MinimumCipherStrength = s.bits
			}
			cs.MaximumCipherStrength = max(cs.MaximumCipherStrength, s.bits)
		}
		return &cs, nil
	}
	return nil, c.pkg.fail(op, status.SEC_E_UNSUPPORTED_FUNCTION, fmt.Errorf("schannel: credential attribute %#x not supported", attr))
}

// protocols returns the SP_PROT_* bits enabled for the credential's use.
func (c *credentials) protocols() uint32 {
	var p uint32
	if c.use&packages.SECPKG_CRED_OUTBOUND != 0 {
		p |= c.protoClient
	}
	if c.use&packages.SECPKG_CRED_INBOUND != 0 {
		p |= c.protoServer
	}
	return p
}

// enabledSuites returns the cipher suites the credential can negotiate:
// the TLS 1.3 suites when TLS 1.3 is enabled, and the TLS 1.2 suites of
// its restriction (or all of crypto/tls's defaults) when TLS 1.2 is.
func (c *credentials) enabledSuites() []*suiteInfo {
	p := c.protocols()
	tls12 := p&(packages.SP_PROT_TLS1_2_CLIENT|packages.SP_PROT_TLS1_2_SERVER) != 0
	tls13 := p&(packages.SP_PROT_TLS1_3_CLIENT|packages.SP_PROT_TLS1_3_SERVER) != 0
	var out []*suiteInfo
	for i := range suiteTable {
		s := &suiteTable[i]
		switch {
		case s.tls13 && tls13:
			out = append(out, s)
		case !s.tls13 && tls12 && (c.suites == nil || slices.Contains(c.suites, s.id)):
			out = append(out, s)
		}
	}
	return out
}
