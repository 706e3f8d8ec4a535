package kerberos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/ccache"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// Keytab is auth data for AcquireCredentials: a keytab file (Path) or an
// already loaded one (Keytab). Outbound, Principal names the client
// principal to use (default: the keytab's first principal); inbound, it
// restricts the acceptor to one service principal.
type Keytab struct {
	Path      string
	Keytab    *keytab.Keytab
	Principal string
}

// CCache is auth data for AcquireCredentials: a credential cache named as
// MIT names it (FILE:path, DIR:dir, DIR::dir/tktNAME, KEYRING:anchor:name,
// KCM: or KCM:name; a bare path is a FILE cache). An empty Path means the
// default cache: KRB5CCNAME, else krb5.conf's default_ccache_name, else
// FILE:/tmp/krb5cc_UID (on macOS the default API: cache is out of reach
// and gives an error that says to set KRB5CCNAME).
type CCache struct {
	Path string
}

// ticket is a service ticket or TGT with what the client needs of it.
type ticket struct {
	ticket    messages.Ticket
	key       types.EncryptionKey
	cname     types.PrincipalName
	crealm    string
	flags     uint32 // TicketFlags as a big-endian bit string (bit 0 = MSB)
	authTime  time.Time
	startTime time.Time
	endTime   time.Time
	renewTill time.Time
}

func (t *ticket) flag(bit int) bool { return t.flags&(1<<(31-bit)) != 0 }

func flagsWord(b []byte) uint32 {
	var w uint32
	for i := 0; i < 4 && i < len(b); i++ {
		w |= uint32(b[i]) << (24 - 8*i)
	}
	return w
}

// credentials is an acquired credential handle. It is safe for concurrent
// use. The ticket cache is guarded by mu, which is never held across a
// KDC exchange: exchanges run in flights (singleflight.go) that the
// callers asking for the same ticket share. The credentials own the keys
// of their cache and zero them on Free; callers get copies (see
// [credentials.shared]) that they own.
type credentials struct {
	p    *Package
	conf *config.Config
	use  uint32

	// outbound, set once by AcquireCredentials
	crealm    string
	password  string
	clientKT  *keytab.Keytab
	delegated bool         // credentials received through delegation
	ccache    ccache.Cache // the cache new service tickets go to (ccache.go), or nil

	mu      sync.Mutex
	cname   types.PrincipalName // guarded by mu once acquired: the AS-REP may canonicalise it
	tgt     *ticket             // guarded by mu
	tickets map[string]*ticket  // guarded by mu; by "sname@realm"
	flights map[string]*flight  // guarded by mu; running exchanges by ticket key
	freed   bool                // guarded by mu
	freedCh chan struct{}       // guarded by mu; closed by Free

	// inbound, set once
	serviceKT *keytab.Keytab
	service   string // optional restriction: the only service principal accepted
}

var _ packages.Credentials = (*credentials)(nil)

func (c *credentials) Use() uint32 { return c.use }

func (c *credentials) Expiry() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tgt != nil && c.password == "" && c.clientKT == nil {
		return c.tgt.endTime
	}
	return time.Time{}
}

func (c *credentials) UserName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cname.NameString) == 0 {
		return ""
	}
	return c.cname.PrincipalNameString() + "@" + c.crealm
}

// Free zeroes the keys the credentials own (their TGT's and service
// tickets'), not the copies live contexts took, and ends at once the
// waits of callers for a KDC exchange: they fail with
// SEC_E_INVALID_HANDLE.
func (c *credentials) Free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.freed {
		return
	}
	c.freed = true
	close(c.freedChanLocked())
	for k, f := range c.flights {
		f.cancel()
		delete(c.flights, k)
	}
	c.password = ""
	if c.tgt != nil {
		clear(c.tgt.key.KeyValue)
	}
	for _, t := range c.tickets {
		clear(t.key.KeyValue)
	}
	c.tgt, c.tickets = nil, nil
}

// parseUser splits a user name into principal and realm: "user@REALM",
// "REALM\user" or "user" with the given domain or the default realm.
func (c *credentials) parseUser(user, domain string) (types.PrincipalName, string) {
	realm := ""
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		user, realm = user[:i], user[i+1:]
	} else if i := strings.IndexByte(user, '\\'); i >= 0 {
		realm, user = user[:i], user[i+1:]
	}
	if realm == "" {
		realm = domain
	}
	if realm == "" {
		realm = c.conf.LibDefaults.DefaultRealm
	}
	return types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, user), strings.ToUpper(realm)
}

func (c *credentials) loadOutbound(ctx context.Context, principal string, authData any) error {
	switch a := authData.(type) {
	case *packages.AuthIdentity:
		if a == nil {
			return c.loadDefaultOutbound(ctx, principal)
		}
		if a.User == "" {
			return status.Errorf(status.SEC_E_UNKNOWN_CREDENTIALS, "kerberos: no user name")
		}
		c.cname, c.crealm = c.parseUser(a.User, a.Domain)
		c.password = a.Password
		if c.crealm == "" {
			return status.Errorf(status.SEC_E_NO_AUTHENTICATING_AUTHORITY, "kerberos: no realm for user %q", a.User)
		}
		return nil
	case *Keytab:
		kt, err := loadKeytab(a)
		if err != nil {
			return err
		}
		c.clientKT = kt
		name := a.Principal
		if name == "" {
			name = principal
		}
		return c.keytabPrincipal(name)
	case *CCache:
		return c.loadCCache(ctx, a.Path) // ccache.go
	case *credentials:
		return c.loadCredentials(a) // delegated.go
	case nil:
		return c.loadDefaultOutbound(ctx, principal)
	}
	return status.Errorf(status.SEC_E_UNKNOWN_CREDENTIALS, "kerberos: unsupported auth data %T", authData)
}

// loadDefaultOutbound uses the default credential cache, then the default
// client keytab.
func (c *credentials) loadDefaultOutbound(ctx context.Context, principal string) error {
	ccErr := c.loadCCache(ctx, "")
	if ccErr == nil {
		return nil
	}
	path := os.Getenv("KRB5_CLIENT_KTNAME")
	if path == "" {
		path = c.conf.LibDefaults.DefaultClientKeytabName
	}
	path = expandPath(path)
	if kt, err := keytab.Load(path); err == nil {
		c.clientKT = kt
		if err := c.keytabPrincipal(principal); err == nil {
			return nil
		}
	}
	return status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: no credential cache or client keytab: %w", ccErr)
}

// keytabPrincipal sets the client principal from name or the keytab's
// first entry.
func (c *credentials) keytabPrincipal(name string) error {
	if name != "" {
		c.cname, c.crealm = c.parseUser(name, "")
		return nil
	}
	for _, e := range c.clientKT.Entries {
		c.cname = types.PrincipalName{NameType: nametype.KRB_NT_PRINCIPAL, NameString: e.Principal.Components}
		c.crealm = e.Principal.Realm
		return nil
	}
	return status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: empty keytab")
}

// expandPath strips a FILE:/WRFILE: prefix and expands %{uid}.
func expandPath(p string) string {
	for _, pre := range []string{"FILE:", "WRFILE:"} {
		p = strings.TrimPrefix(p, pre)
	}
	uid := fmt.Sprint(os.Getuid())
	p = strings.ReplaceAll(p, "%{uid}", uid)
	p = strings.ReplaceAll(p, "%{euid}", fmt.Sprint(os.Geteuid()))
	return p
}

func ticketKey(sname types.PrincipalName, realm string) string {
	return sname.PrincipalNameString() + "@" + realm
}

func loadKeytab(a *Keytab) (*keytab.Keytab, error) {
	if a.Keytab != nil {
		return a.Keytab, nil
	}
	kt, err := keytab.Load(expandPath(a.Path))
	if err != nil {
		return nil, status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: keytab: %w", err)
	}
	return kt, nil
}

func (c *credentials) loadInbound(principal string, authData any) error {
	c.service = principal
	switch a := authData.(type) {
	case *Keytab:
		kt, err := loadKeytab(a)
		if err != nil {
			return err
		}
		c.serviceKT = kt
		if a.Principal != "" {
			c.service = a.Principal
		}
		return nil
	case nil, *packages.AuthIdentity, *CCache:
		// Windows accepts with the machine's keys whatever the caller
		// passes for the outbound half.
		path := os.Getenv("KRB5_KTNAME")
		if path == "" {
			path = c.conf.LibDefaults.DefaultKeytabName
		}
		if path == "" {
			path = "/etc/krb5.keytab"
		}
		kt, err := keytab.Load(expandPath(path))
		if err != nil {
			if c.use&packages.SECPKG_CRED_OUTBOUND != 0 {
				// A BOTH handle may still initiate.
				c.use &^= packages.SECPKG_CRED_INBOUND
				return nil
			}
			return status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: keytab: %w", err)
		}
		c.serviceKT = kt
		return nil
	}
	return status.Errorf(status.SEC_E_UNKNOWN_CREDENTIALS, "kerberos: unsupported auth data %T", authData)
}

// serviceTicket returns a copy, owned by the caller, of a ticket for
// sname@realm: from the cache, or through the TGS with the TGT (which an
// AS exchange fetches first when the credentials hold a password or
// keytab). Concurrent callers for one ticket share one exchange; each
// gives up when its own ctx ends.
func (c *credentials) serviceTicket(ctx context.Context, sname types.PrincipalName, realm string) (*ticket, error) {
	key := ticketKey(sname, realm)
	cached := func() (*ticket, error) {
		if t, ok := c.tickets[key]; ok && c.p.config.now().Before(t.endTime) {
			return t, nil
		}
		return nil, nil
	}
	fetch := func(ctx context.Context) (*ticket, error) {
		tgt, err := c.tgtCopy(ctx)
		if err != nil {
			return nil, err
		}
		defer clear(tgt.key.KeyValue)
		t, err := c.tgsExchange(ctx, tgt, sname, false)
		if err == nil {
			c.storeInCCache(ctx, t)
		}
		return t, err
	}
	store := func(t *ticket) {
		if old := c.tickets[key]; old != nil {
			clear(old.key.KeyValue)
		}
		if c.tickets == nil {
			c.tickets = map[string]*ticket{}
		}
		c.tickets[key] = t
	}
	return c.shared(ctx, key, cached, fetch, store)
}

// tgtKey is the flight key of the AS exchange.
const tgtKey = "\x00krbtgt"

// tgtCopy returns a copy, owned by the caller, of a valid TGT, running
// the AS exchange if needed.
func (c *credentials) tgtCopy(ctx context.Context) (*ticket, error) {
	const op = "InitializeSecurityContext"
	cached := func() (*ticket, error) {
		if c.tgt != nil && c.p.config.now().Before(c.tgt.endTime) {
			return c.tgt, nil
		}
		if c.password == "" && c.clientKT == nil {
			if c.tgt != nil {
				return nil, errorf(op, status.SEC_E_NO_CREDENTIALS, errors.New("kerberos: the ticket-granting ticket has expired"))
			}
			return nil, errorf(op, status.SEC_E_NO_CREDENTIALS, errors.New("kerberos: no ticket-granting ticket"))
		}
		return nil, nil
	}
	store := func(t *ticket) {
		if c.tgt != nil {
			clear(c.tgt.key.KeyValue)
		}
		c.tgt = t
		if len(t.cname.NameString) > 0 {
			// The KDC's spelling of the client name (RFC 6806).
			c.cname = clonePrincipal(t.cname)
		}
	}
	fetch := func(ctx context.Context) (*ticket, error) {
		// The exchange runs on a snapshot: Free may clear the password
		// meanwhile, and the AS-REP may canonicalise the client name.
		c.mu.Lock()
		snap := &credentials{p: c.p, conf: c.conf, use: c.use, cname: clonePrincipal(c.cname),
			crealm: c.crealm, password: c.password, clientKT: c.clientKT}
		c.mu.Unlock()
		return snap.asExchange(ctx)
	}
	return c.shared(ctx, tgtKey, cached, fetch, store)
}

// forwardedTGT asks the TGS for a forwarded TGT (RFC 4120 2.6) to put in a
// KRB-CRED. It returns nil when the TGT is not forwardable. The caller
// owns the ticket returned.
func (c *credentials) forwardedTGT(ctx context.Context) (*ticket, error) {
	tgt, err := c.tgtCopy(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(tgt.key.KeyValue)
	if !tgt.flag(flags.Forwardable) {
		return nil, nil
	}
	sname := types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", c.crealm}}
	netDone := packages.NetworkBound(ctx)
	defer netDone()
	return c.tgsExchange(ctx, tgt, sname, true)
}
