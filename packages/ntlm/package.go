package ntlm

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// Name is the package name, SecPkgInfo.Name.
const Name = "NTLM"

// info is the SecPkgInfo Windows 10 reports for NTLM (structures.md 7).
var info = packages.Info{
	Name:         Name,
	Comment:      "NTLM Security Package",
	Capabilities: 0x00882B37,
	Version:      1,
	RPCID:        10, // RPC_C_AUTHN_WINNT
	MaxToken:     2888,
}

// sizes is SECPKG_ATTR_SIZES for every NTLM context (structures.md 8).
var sizes = packages.SecPkgContext_Sizes{MaxToken: 2888, MaxSignature: 16, BlockSize: 0, SecurityTrailer: 16}

// LMCompatibility selects which challenge responses a client sends and a
// server accepts, as the Windows LmCompatibilityLevel registry value does.
// The zero value is the modern default.
type LMCompatibility int

const (
	// NTLMv2Only makes clients send NTLMv2 responses only and servers
	// accept NTLMv2 only (Windows levels 3 to 5 on the client, 5 on a DC). The
	// default.
	NTLMv2Only LMCompatibility = iota
	// AllowNTLMv1 makes clients send NTLMv1, with extended session security
	// (the NTLM2 session response) when the server offers it and no LM
	// response (Windows levels 1 and 2); servers accept NTLMv1, with or
	// without ESS, besides NTLMv2.
	AllowNTLMv1
	// AllowLM is AllowNTLMv1, except that a client not offered ESS also
	// sends the LM response computed from the LM hash (Windows level 0).
	AllowLM
)

// Config configures the package. A Config must not be modified after it
// is passed to New. The zero Config is usable: NTLMv2 only, and names
// taken from the host name.
type Config struct {
	// Rand is the source of client and server challenges and of exported
	// session keys; nil means crypto/rand.
	Rand io.Reader
	// Time returns the current time; nil means time.Now.
	Time func() time.Time

	// LMCompatibility selects NTLMv1 and LM support, off by default.
	LMCompatibility LMCompatibility

	// Workstation is the client's NetBIOS name, sent in AUTHENTICATE;
	// empty means the upper-cased short host name.
	Workstation string

	// ComputerName and DomainName are the server's NetBIOS computer and
	// domain names (MsvAvNbComputerName, MsvAvNbDomainName); empty means
	// the upper-cased short host name for both, a stand-alone server.
	// DNSComputerName and DNSDomainName fill MsvAvDnsComputerName and
	// MsvAvDnsDomainName; empty means the host name and no domain pair.
	ComputerName, DomainName       string
	DNSComputerName, DNSDomainName string

	// DisableKeyExchange keeps NTLMSSP_NEGOTIATE_KEY_EXCH out: a client
	// does not ask for it and a server does not grant it, so the exported
	// session key is the key exchange key itself.
	DisableKeyExchange bool

	// RequireChannelBindings makes the server refuse a client that sends
	// no channel bindings (Windows Extended Protection "Required",
	// MS-NLMP 3.2.5.1.2 ServerChannelBindingsRequired), as the
	// ASC_REQ_PROXY_BINDINGS request flag does for one context.
	RequireChannelBindings bool

	// RequireMIC makes the server refuse a client that computes no MIC:
	// an NTLMv2 AUTHENTICATE whose MsvAvFlags does not announce one (such
	// as those of gss-ntlmssp 1.2, go-ntlmssp and curl) and any NTLMv1
	// one. By default, as on Windows, the MIC is required and checked only
	// when MsvAvFlags announces it.
	RequireMIC bool

	// Users is the server's user store when AcquireCredentials gets no
	// store of its own: nil means the NTLM_USER_FILE file.
	Users UserStore
}

func (c *Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c *Config) now() time.Time {
	if c.Time == nil {
		return time.Now()
	}
	return c.Time()
}

// hostName is the host name, read once: os.Hostname reads a file on
// Linux, too slow for every handshake.
var hostName = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
})

// netbiosName is the host name cut at its first dot, upper-cased and at
// most 15 characters, as Windows derives a NetBIOS name.
var netbiosName = sync.OnceValue(func() string {
	h, _, _ := strings.Cut(hostName(), ".")
	h = strings.ToUpper(h)
	if len(h) > 15 {
		h = h[:15]
	}
	return h
})

func (c *Config) workstation() string {
	if c.Workstation != "" {
		return c.Workstation
	}
	return netbiosName()
}

func (c *Config) computerName() string {
	if c.ComputerName != "" {
		return c.ComputerName
	}
	return netbiosName()
}

func (c *Config) domainName() string {
	if c.DomainName != "" {
		return c.DomainName
	}
	return c.computerName()
}

func (c *Config) dnsComputerName() string {
	if c.DNSComputerName != "" {
		return c.DNSComputerName
	}
	return hostName()
}

// Package is the NTLM security package. It is safe for concurrent use.
type Package struct {
	config Config

	targetOnce sync.Once
	targetInfo targetTemplate // set by targetOnce
}

// targetTemplate is what every CHALLENGE of a package says about its
// server, derived once from the Config: TargetName, the target type flag
// and the TargetInfo pairs before MsvAvTimestamp, encoded.
type targetTemplate struct {
	name       string
	targetType uint32 // flagTargetTypeDomain or flagTargetTypeServer
	info       avList // constant, shared: never modified
}

// target returns the package's targetTemplate.
func (p *Package) target() *targetTemplate {
	p.targetOnce.Do(func() {
		cfg := &p.config
		computer, domain := cfg.computerName(), cfg.domainName()
		t := &p.targetInfo
		t.name = domain
		if domain != computer {
			t.targetType = flagTargetTypeDomain
		} else {
			t.targetType = flagTargetTypeServer
		}
		// The order Windows sends (MS-NLMP 3.2.5.1.1).
		t.info = avList{
			{avNbDomainName, utf16le(domain)},
			{avNbComputerName, utf16le(computer)},
		}
		if cfg.DNSDomainName != "" {
			t.info = append(t.info, avPair{avDNSDomainName, utf16le(cfg.DNSDomainName)})
		}
		t.info = append(t.info, avPair{avDNSComputerName, utf16le(cfg.dnsComputerName())})
		if cfg.DNSDomainName != "" {
			t.info = append(t.info, avPair{avDNSTreeName, utf16le(cfg.DNSDomainName)})
		}
	})
	return &p.targetInfo
}

// New returns the NTLM package configured by config; nil means defaults.
func New(config *Config) *Package {
	p := &Package{}
	if config != nil {
		p.config = *config
	}
	return p
}

// Info returns the SecPkgInfo Windows reports for NTLM.
func (p *Package) Info() packages.Info { return info }

// NTHash is a client credential given as the NT hash (NTOWFv1) of the
// password instead of the password, as "pass the hash" tools and
// smbpasswd files hold it. It is accepted as authData by
// AcquireCredentials.
type NTHash struct {
	User   string
	Domain string
	Hash   [16]byte
}

// identity is a client's resolved credential. Credentials hold one, and
// each client context its own copy (a value: the arrays are copied), so
// that freeing the credentials cannot reach into a live handshake.
type identity struct {
	user, domain string
	nt           [16]byte // NTOWFv1
	v2           [16]byte // NTOWFv2, computed once
	lm           [16]byte // LMOWFv1, when hasLM
	hasLM        bool     // the LM hash is known (from a password, with AllowLM)
	anonymous    bool
}

func newIdentity(user, domain string, nt [16]byte) *identity {
	return &identity{user: user, domain: domain, nt: nt, v2: ntowfv2(nt, user, domain)}
}

// clear zeroes the key material.
func (id *identity) clear() {
	clear(id.nt[:])
	clear(id.v2[:])
	clear(id.lm[:])
	id.hasLM = false
}

// AcquireCredentials is AcquireCredentialsHandle for NTLM.
//
// For SECPKG_CRED_OUTBOUND, authData is a *packages.AuthIdentity (an
// identity with empty user, domain and password is anonymous), an
// *NTHash, or nil: then the entry of the NTLM_USER_FILE file that matches
// principal ("DOMAIN\user", "user@DOMAIN" or "user"), or its first entry
// when principal is empty. For SECPKG_CRED_INBOUND, authData is a
// UserStore (Users, UserFile, LookupFunc) or nil: then Config.Users, or the
// NTLM_USER_FILE file.
func (p *Package) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	const op = "AcquireCredentialsHandle"
	if use&packages.SECPKG_CRED_BOTH == 0 || use&^(packages.SECPKG_CRED_BOTH|packages.SECPKG_CRED_DEFAULT|packages.SECPKG_CRED_AUTOLOGON_RESTRICTED) != 0 {
		return nil, status.New(op, Name, status.SEC_E_INVALID_PARAMETER, errors.New("ntlm: bad credential use"))
	}
	c := &credentials{pkg: p, use: use}
	var store UserStore
	switch a := authData.(type) {
	case nil:
	case *packages.AuthIdentity:
		id := newIdentity(a.User, a.Domain, ntowfv1(a.Password))
		if a.User == "" && a.Domain == "" && a.Password == "" {
			id.anonymous = true
		} else if p.config.LMCompatibility >= AllowLM {
			id.lm, id.hasLM = lmowfv1(a.Password), true
		}
		c.id = id
	case *NTHash:
		c.id = newIdentity(a.User, a.Domain, a.Hash)
	case UserStore:
		store = a
	default:
		return nil, status.New(op, Name, status.SEC_E_UNKNOWN_CREDENTIALS, errors.New("ntlm: unsupported authData type"))
	}
	// With SECPKG_CRED_BOTH, a side that has no credentials only fails
	// when a context of that side is created.
	both := use&packages.SECPKG_CRED_BOTH == packages.SECPKG_CRED_BOTH
	if use&packages.SECPKG_CRED_OUTBOUND != 0 && c.id == nil {
		if store != nil && !both {
			return nil, status.New(op, Name, status.SEC_E_UNKNOWN_CREDENTIALS, errors.New("ntlm: a user store is no client credential"))
		}
		id, err := defaultIdentity(principal)
		if err != nil && !both {
			return nil, status.New(op, Name, status.SEC_E_NO_CREDENTIALS, err)
		}
		c.id = id
	}
	if use&packages.SECPKG_CRED_INBOUND != 0 {
		switch {
		case store != nil:
		case p.config.Users != nil:
			store = p.config.Users
		default:
			f := os.Getenv("NTLM_USER_FILE")
			if f == "" && !both {
				return nil, status.New(op, Name, status.SEC_E_NO_CREDENTIALS, errors.New("ntlm: no user store and NTLM_USER_FILE is not set"))
			}
			if f != "" {
				store = UserFile(f)
			}
		}
		c.store = store
	}
	return c, nil
}

// defaultIdentity reads the client identity from NTLM_USER_FILE.
func defaultIdentity(principal string) (*identity, error) {
	f := os.Getenv("NTLM_USER_FILE")
	if f == "" {
		return nil, errors.New("ntlm: no credentials given and NTLM_USER_FILE is not set")
	}
	entries, err := readUserFile(f)
	if err != nil {
		return nil, err
	}
	user, domain := splitPrincipal(principal)
	for _, e := range entries {
		if principal == "" || (strings.EqualFold(e.user, user) && (domain == "" || strings.EqualFold(e.domain, domain))) {
			return newIdentity(e.user, e.domain, e.nt), nil
		}
	}
	return nil, errors.New("ntlm: no matching entry in NTLM_USER_FILE")
}

// splitPrincipal splits "DOMAIN\user" or "user@DOMAIN".
func splitPrincipal(p string) (user, domain string) {
	if d, u, ok := strings.Cut(p, `\`); ok {
		return u, d
	}
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}

// credentials is an acquired NTLM credential. It is safe for concurrent
// use.
type credentials struct {
	pkg *Package
	use uint32

	mu    sync.Mutex // guards id and store against Free
	id    *identity  // client side
	store UserStore  // server side
}

func (c *credentials) Use() uint32 { return c.use }

func (c *credentials) Expiry() time.Time { return time.Time{} }

func (c *credentials) UserName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id == nil || c.id.anonymous {
		return ""
	}
	return qualified(c.id.domain, c.id.user)
}

// qualified is DOMAIN\user, or user when there is no domain.
func qualified(domain, user string) string {
	if domain == "" {
		return user
	}
	return domain + `\` + user
}

func (c *credentials) NewClientContext(target string, req uint32) (packages.Context, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.use&packages.SECPKG_CRED_OUTBOUND == 0 || c.id == nil {
		return nil, status.New("InitializeSecurityContext", Name, status.SEC_E_NO_CREDENTIALS, nil)
	}
	if req&packages.ISC_REQ_DATAGRAM != 0 {
		return nil, status.New("InitializeSecurityContext", Name, status.SEC_E_UNSUPPORTED_FUNCTION, errors.New("ntlm: connectionless NTLM is not implemented"))
	}
	// The context copies the identity under the lock, so that a Free
	// running at the same time zeroes the credentials' keys only.
	return newClient(c.pkg, c.id, target, req), nil
}

func (c *credentials) NewServerContext(req uint32) (packages.Context, error) {
	c.mu.Lock()
	store := c.store
	c.mu.Unlock()
	if c.use&packages.SECPKG_CRED_INBOUND == 0 || store == nil {
		return nil, status.New("AcceptSecurityContext", Name, status.SEC_E_NO_CREDENTIALS, nil)
	}
	if req&packages.ASC_REQ_DATAGRAM != 0 {
		return nil, status.New("AcceptSecurityContext", Name, status.SEC_E_UNSUPPORTED_FUNCTION, errors.New("ntlm: connectionless NTLM is not implemented"))
	}
	return newServer(c.pkg, store, req), nil
}

// Free zeroes the credentials' keys. Contexts made from them keep their
// own copies, so a handshake under way completes.
func (c *credentials) Free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id != nil {
		c.id.clear()
	}
	c.id, c.store = nil, nil
}

// filetime converts t to a FILETIME: 100 ns units since 1601-01-01 UTC.
func filetime(t time.Time) uint64 {
	return uint64(packages.NewTimeStamp(t))
}
