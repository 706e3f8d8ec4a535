package kerberos

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/internal/ccache"
	"github.com/gosspi/sspi/status"
)

// defaultCCacheName returns the default credential cache's name:
// KRB5CCNAME, else krb5.conf's default_ccache_name (tokens expanded),
// else the platform's default (FILE:/tmp/krb5cc_UID; API: on macOS,
// which cannot be opened from Go).
func (c *credentials) defaultCCacheName() (string, error) {
	return ccache.DefaultName(os.Getenv("KRB5CCNAME"), c.p.confValue("default_ccache_name"))
}

// ccacheOptions are the krb5.conf settings a cache needs (kcm_socket).
func (c *credentials) ccacheOptions() *ccache.Options {
	return &ccache.Options{KCMSocket: c.p.confValue("kcm_socket")}
}

// loadCCache takes the client principal, the TGT and the service tickets
// of the cache named name (the default cache when empty), and remembers
// the cache to store new service tickets in, as MIT does, unless
// [Config.NoCCacheStore].
func (c *credentials) loadCCache(ctx context.Context, name string) error {
	if name == "" {
		var err error
		if name, err = c.defaultCCacheName(); err != nil {
			return status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: credential cache: %w", err)
		}
	}
	cc, err := ccache.Resolve(ctx, name, c.ccacheOptions())
	if err != nil {
		return status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: credential cache: %w", err)
	}
	princ, creds, err := cc.Load(ctx)
	if err != nil {
		return status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: credential cache: %w", err)
	}
	c.cname = types.PrincipalName{NameType: princ.NameType, NameString: princ.Components}
	c.crealm = princ.Realm
	c.tickets = map[string]*ticket{}
	for i := range creds {
		e := &creds[i]
		t := ticketFromCred(e)
		e.Zero()
		if t == nil {
			continue
		}
		sn := t.ticket.SName
		if len(sn.NameString) == 2 && sn.NameString[0] == "krbtgt" && sn.NameString[1] == c.crealm && t.ticket.Realm == c.crealm {
			if c.tgt == nil || t.endTime.After(c.tgt.endTime) {
				if c.tgt != nil {
					clear(c.tgt.key.KeyValue)
				}
				c.tgt = t
			} else {
				clear(t.key.KeyValue)
			}
			continue
		}
		key := ticketKey(sn, t.ticket.Realm)
		if old := c.tickets[key]; old != nil {
			if !t.endTime.After(old.endTime) {
				clear(t.key.KeyValue)
				continue
			}
			clear(old.key.KeyValue)
		}
		c.tickets[key] = t
	}
	if c.tgt == nil && len(c.tickets) == 0 {
		return status.Errorf(status.SEC_E_NO_CREDENTIALS, "kerberos: credential cache %s holds no tickets", cc.Name())
	}
	if !c.p.config.NoCCacheStore {
		c.ccache = cc
	}
	return nil
}

// ticketFromCred converts a cache entry; configuration entries and
// tickets that do not parse give nil. The ticket takes a copy of the key.
func ticketFromCred(e *ccache.Credential) *ticket {
	if e.IsConfig() || len(e.Ticket) == 0 || len(e.Server.Components) == 0 {
		return nil
	}
	var tkt messages.Ticket
	if err := tkt.Unmarshal(e.Ticket); err != nil {
		return nil
	}
	return &ticket{
		ticket:    tkt,
		key:       types.EncryptionKey{KeyType: e.KeyType, KeyValue: slices.Clone(e.Key)},
		cname:     types.PrincipalName{NameType: e.Client.NameType, NameString: slices.Clone(e.Client.Components)},
		crealm:    e.Client.Realm,
		flags:     e.Flags,
		authTime:  e.AuthTime,
		startTime: e.StartTime,
		endTime:   e.EndTime,
		renewTill: e.RenewTill,
	}
}

// credFromTicket converts a ticket into a cache entry. The entry shares
// the ticket's key: the caller must not zero it.
func credFromTicket(t *ticket) (*ccache.Credential, error) {
	der, err := t.ticket.Marshal()
	if err != nil {
		return nil, err
	}
	nt, snt := t.cname.NameType, t.ticket.SName.NameType
	if nt == 0 {
		nt = nametype.KRB_NT_PRINCIPAL
	}
	if snt == 0 {
		snt = nametype.KRB_NT_PRINCIPAL
	}
	return &ccache.Credential{
		Client:    ccache.Principal{NameType: nt, Realm: t.crealm, Components: t.cname.NameString},
		Server:    ccache.Principal{NameType: snt, Realm: t.ticket.Realm, Components: t.ticket.SName.NameString},
		KeyType:   t.key.KeyType,
		Key:       t.key.KeyValue,
		AuthTime:  t.authTime,
		StartTime: t.startTime,
		EndTime:   t.endTime,
		RenewTill: t.renewTill,
		Flags:     t.flags,
		Ticket:    der,
	}, nil
}

// storeInCCache stores a service ticket just obtained in the cache the
// credentials came from, as MIT's krb5_get_credentials does. It runs on
// the exchange's goroutine, never under the credentials' lock. A cache
// that refuses the ticket does not fail the exchange: the ticket is
// still used and held in memory.
func (c *credentials) storeInCCache(ctx context.Context, t *ticket) {
	if c.ccache == nil || t == nil {
		return
	}
	cred, err := credFromTicket(t)
	if err != nil {
		return
	}
	// The failure is deliberately dropped (see above): MIT's kvno also
	// gets its ticket when the cache is read-only.
	_ = c.ccache.Store(ctx, cred)
}

// CCacheEntry is one credential of a cache, without its key, for
// display.
type CCacheEntry struct {
	Client, Server string // unparsed principal names
	EncType        int32  // the session key's enctype
	AuthTime       time.Time
	StartTime      time.Time
	EndTime        time.Time
	RenewTill      time.Time
	Flags          uint32 // TicketFlags, bit 0 the most significant
	Config         bool   // a configuration entry (X-CACHECONF:), not a ticket
}

// CCacheContents is what [Package.ReadCCache] found.
type CCacheContents struct {
	// Name is the cache read, resolved (KCM: becomes KCM:NAME, a DIR or
	// KEYRING collection its primary cache).
	Name string
	// Source says where the name came from: "given", "KRB5CCNAME",
	// "default_ccache_name" or "platform default".
	Source    string
	Principal string
	Entries   []CCacheEntry
}

// ReadCCache reads the credential cache name, or with an empty name the
// default one that AcquireCredentials would use (KRB5CCNAME, else
// krb5.conf's default_ccache_name, else the platform's default), and
// lists its principal and credentials without their keys, as klist does.
// Its error says why a cache could not be used.
func (p *Package) ReadCCache(ctx context.Context, name string) (*CCacheContents, error) {
	const op = "ReadCCache"
	source := "given"
	if name == "" {
		env, conf := os.Getenv("KRB5CCNAME"), p.confValue("default_ccache_name")
		switch {
		case env != "":
			source = "KRB5CCNAME"
		case conf != "":
			source = "default_ccache_name"
		default:
			source = "platform default"
		}
		var err error
		if name, err = ccache.DefaultName(env, conf); err != nil {
			return nil, errorf(op, status.SEC_E_NO_CREDENTIALS, err)
		}
	}
	cc, err := ccache.Resolve(ctx, name, &ccache.Options{KCMSocket: p.confValue("kcm_socket")})
	if err != nil {
		return nil, errorf(op, status.SEC_E_NO_CREDENTIALS, fmt.Errorf("%s (%s): %w", name, source, err))
	}
	princ, creds, err := cc.Load(ctx)
	if err != nil {
		return nil, errorf(op, status.SEC_E_NO_CREDENTIALS, fmt.Errorf("(%s): %w", source, err))
	}
	out := &CCacheContents{Name: cc.Name(), Source: source, Principal: princ.String()}
	for i := range creds {
		e := &creds[i]
		out.Entries = append(out.Entries, CCacheEntry{
			Client: e.Client.String(), Server: e.Server.String(), EncType: e.KeyType,
			AuthTime: e.AuthTime, StartTime: e.StartTime, EndTime: e.EndTime, RenewTill: e.RenewTill,
			Flags: e.Flags, Config: e.IsConfig(),
		})
		e.Zero()
	}
	return out, nil
}
