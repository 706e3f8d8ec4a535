// Package ccache reads and writes Kerberos credential caches the way MIT
// krb5 does: the FILE format (versions 1 to 4, MIT krb5
// doc/formats/ccache_file_format.rst), DIR collections of FILE caches,
// Linux KEYRING caches (keyctl) and KCM, the cache manager protocol of
// Heimdal that sssd-kcm and Heimdal's kcm serve on a UNIX socket.
//
// A cache is named as MIT names it, TYPE:residual: FILE:/tmp/krb5cc_0,
// DIR:/run/user/0/krb5cc (the collection's primary cache) or
// DIR::/run/user/0/krb5cc/tktAbc (one cache), KEYRING:session:name,
// KEYRING:persistent:0, KCM: (the daemon's default cache) or KCM:0. A name
// with no type is a FILE path. [DefaultName] chooses the cache the way MIT
// does: KRB5CCNAME, then krb5.conf's default_ccache_name with its %{...}
// tokens expanded, then the platform default.
//
// Every parser has a size cap and never panics on bad input. Credentials
// hold session keys: [Credential.Zero] clears them, and formatting a
// Credential redacts its key.
package ccache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"time"
)

// Size caps on what the parsers accept.
const (
	// MaxFileSize is the largest FILE cache read.
	MaxFileSize = 32 << 20
	// MaxData is the largest counted string (a ticket, a key, a name)
	// inside a cache.
	MaxData = 1 << 20
	// MaxComponents is the largest number of components of a principal.
	MaxComponents = 64
	// MaxCredentials is the largest number of credentials one cache
	// yields.
	MaxCredentials = 4096
	// MaxKCMReply is the largest KCM reply read (MIT's limit).
	MaxKCMReply = 10 << 20
)

// ConfigRealm is the realm of the configuration entries MIT keeps in a
// cache (krb5_ccache_conf_data/...@X-CACHECONF:).
const ConfigRealm = "X-CACHECONF:"

// Errors reported by this package. They are wrapped with detail; test
// with errors.Is.
var (
	// ErrFormat reports a cache, reply or payload that does not parse.
	ErrFormat = errors.New("ccache: malformed credential cache")
	// ErrTooLarge reports input past a size cap.
	ErrTooLarge = errors.New("ccache: credential cache too large")
	// ErrNotFound reports a cache that does not exist or holds no
	// principal.
	ErrNotFound = errors.New("ccache: credential cache not found")
	// ErrUnsupported reports a cache type this package cannot reach on
	// this system (API:, MSLSA:, MEMORY:, or KEYRING: off Linux).
	ErrUnsupported = errors.New("ccache: unsupported credential cache type")
)

// Principal is a Kerberos principal name as a cache stores it.
type Principal struct {
	NameType   int32
	Realm      string
	Components []string
}

// String returns the principal in MIT's unparsed form,
// comp1/comp2@REALM, with '/', '@', '\\' and control characters escaped.
func (p Principal) String() string {
	var b strings.Builder
	for i, c := range p.Components {
		if i > 0 {
			b.WriteByte('/')
		}
		escapeName(&b, c, true)
	}
	b.WriteByte('@')
	escapeName(&b, p.Realm, false)
	return b.String()
}

func escapeName(b *strings.Builder, s string, component bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '@', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '/':
			if component {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
}

// Equal reports whether p and q name the same principal (the name type
// aside, as MIT compares them).
func (p Principal) Equal(q Principal) bool {
	if p.Realm != q.Realm || len(p.Components) != len(q.Components) {
		return false
	}
	for i := range p.Components {
		if p.Components[i] != q.Components[i] {
			return false
		}
	}
	return true
}

// Address is a host address of a credential (krb5_address).
type Address struct {
	Type int32
	Data []byte
}

// AuthData is an authorization data element of a credential.
type AuthData struct {
	Type int32
	Data []byte
}

// Credential is one credential of a cache: a ticket with its session key,
// times and flags (krb5_creds). It holds a secret, Key: formatting a
// Credential prints it as "<redacted>", and Zero clears it.
type Credential struct {
	Client, Server Principal
	KeyType        int32 // the session key's enctype (16 bits in the file)
	Key            []byte
	AuthTime       time.Time // times are whole seconds; the zero Time is 0
	StartTime      time.Time
	EndTime        time.Time
	RenewTill      time.Time
	IsSKey         bool
	Flags          uint32 // TicketFlags, bit 0 (reserved) the most significant
	Addresses      []Address
	AuthData       []AuthData
	Ticket         []byte // the DER Ticket
	SecondTicket   []byte
}

// IsConfig reports whether c is a configuration entry rather than a
// ticket.
func (c *Credential) IsConfig() bool { return c.Server.Realm == ConfigRealm }

// Zero clears the session key.
func (c *Credential) Zero() { clear(c.Key) }

// String returns a summary of c without its key.
func (c Credential) String() string {
	key := ""
	if len(c.Key) > 0 {
		key = "<redacted>"
	}
	return fmt.Sprintf("ccache.Credential{Client:%s, Server:%s, KeyType:%d, Key:%s, EndTime:%s, Flags:0x%08x, Ticket:%d bytes}",
		c.Client, c.Server, c.KeyType, key, c.EndTime.UTC().Format(time.RFC3339), c.Flags, len(c.Ticket))
}

// GoString is String, so that %#v redacts the key too.
func (c Credential) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints String.
func (c Credential) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// Cache is an opened credential cache. Its methods do I/O (files, the
// kernel's keyrings, or the KCM daemon); ctx bounds the KCM exchanges.
// A Cache is safe for concurrent use as far as its storage is: FILE
// writes take the file's lock, as MIT does.
type Cache interface {
	// Name is the cache's full name, TYPE:residual, resolved to the one
	// cache a collection name points at.
	Name() string
	// Load returns the cache's default principal and credentials
	// (configuration entries included). A cache that does not exist or
	// has no principal gives ErrNotFound.
	Load(ctx context.Context) (Principal, []Credential, error)
	// Store adds a credential to an initialised cache, as
	// krb5_cc_store_cred does.
	Store(ctx context.Context, c *Credential) error
	// Initialize empties the cache (creating it if needed), sets its
	// default principal and stores creds, as kinit does.
	Initialize(ctx context.Context, p Principal, creds []Credential) error
}

// Options are what resolving a name needs besides the name.
type Options struct {
	// KCMSocket is the path of the KCM daemon's socket: krb5.conf's
	// kcm_socket. Empty means DefaultKCMSocket.
	KCMSocket string

	// dial replaces the connection to the KCM daemon (tests).
	dial func(ctx context.Context) (net.Conn, error)
}

// Resolve opens the cache name points at. It does no I/O for FILE
// caches; DIR reads the collection's primary file, KEYRING finds the
// collection keyring, and KCM asks the daemon for its default cache when
// the name has no residual.
func Resolve(ctx context.Context, name string, o *Options) (Cache, error) {
	if o == nil {
		o = &Options{}
	}
	typ, residual := SplitName(name)
	switch typ {
	case "FILE", "WRFILE":
		if residual == "" {
			return nil, fmt.Errorf("%w: empty FILE cache name", ErrNotFound)
		}
		return &fileCache{path: residual}, nil
	case "DIR":
		return resolveDir(residual)
	case "KEYRING":
		return resolveKeyring(residual)
	case "KCM":
		return resolveKCM(ctx, residual, o)
	case "API":
		return nil, fmt.Errorf("%w: %q is the macOS credential cache, which only Apple's Kerberos framework reaches; "+
			"run kinit -c FILE:/tmp/krb5cc_$(id -u) and set KRB5CCNAME=FILE:/tmp/krb5cc_$(id -u)", ErrUnsupported, name)
	case "MSLSA":
		return nil, fmt.Errorf("%w: %q is the Windows logon session, which only the LSA reaches; "+
			"set KRB5CCNAME=FILE:path to a cache written by kinit", ErrUnsupported, name)
	case "MEMORY":
		return nil, fmt.Errorf("%w: %q lives in another process's memory", ErrUnsupported, name)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupported, name)
}

// SplitName splits a cache name into its type and residual. As in MIT, a
// name with no colon, or whose prefix is a single letter (a Windows
// drive), is a FILE path.
func SplitName(name string) (typ, residual string) {
	i := strings.IndexByte(name, ':')
	if i < 0 || (i == 1 && runtime.GOOS == "windows") {
		return "FILE", name
	}
	return name[:i], name[i+1:]
}
