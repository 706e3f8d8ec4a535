// Package kdc is a Kerberos Key Distribution Center for tests and demos:
// the AS and TGS exchanges of RFC 4120 with the Windows additions of
// MS-KILE and MS-SFU, and PACs laid out as Active Directory issues them
// (MS-PAC), so that code using Kerberos (this module's packages, MIT's
// libraries, anything speaking the protocol) can be tested with nothing
// but Go installed.
//
// A realm is set up in a few lines:
//
//	k, err := kdc.New(kdc.Config{Realm: "EXAMPLE.TEST"})
//	err = k.AddUser("alice", "Passw0rd!", kdc.User{GroupRIDs: []uint32{512}})
//	kt, err := k.AddService("HTTP/web.example.test", kdc.Service{})
//	pkg := kerberos.New(&kerberos.Config{Transport: k, Krb5Conf: k.Krb5Config()})
//
// The KDC answers in process through [KDC.RoundTrip] (a kerberos.Transport)
// and, after [KDC.Listen], on 127.0.0.1 over UDP and TCP; [KDC.WriteKrb5Conf]
// and [KDC.WriteKeytab] write what MIT tools need to use it.
//
// # What it serves
//
// AS exchanges with PA-ENC-TIMESTAMP pre-authentication (a request without
// it gets KDC_ERR_PREAUTH_REQUIRED with PA-ETYPE-INFO2 hints, as MIT and
// AD answer), TGS exchanges (authenticator checksum over the request body,
// authenticator subkeys), the enctypes aes256-cts-hmac-sha1-96 (18),
// aes128-cts-hmac-sha1-96 (17), aes128-cts-hmac-sha256-128 (19),
// aes256-cts-hmac-sha384-192 (20) and rc4-hmac (23), each principal with
// its own key set and kvno ([KDC.SetPassword] moves to the next). Renewable
// tickets and their renewal, forwardable and forwarded tickets (KRB-CRED
// delegation), S4U2Self and S4U2Proxy (constrained delegation with a
// per-service allow-list, MS-SFU), and several realms in one KDC with
// cross-realm TGTs and referrals between them. Tickets carry a PAC (MS-PAC)
// with KERB_VALIDATION_INFO (user SID and RID, groups, extra SIDs),
// PAC_CLIENT_INFO, UPN_DNS_INFO, PAC_ATTRIBUTES_INFO, PAC_REQUESTOR, the
// server and KDC signatures and, in service tickets, the ticket and full
// PAC signatures.
//
// It refuses what a real KDC refuses, with the KRB-ERROR codes MIT and AD
// use: unknown client or service (KDC_ERR_C_PRINCIPAL_UNKNOWN,
// KDC_ERR_S_PRINCIPAL_UNKNOWN), a wrong password (KDC_ERR_PREAUTH_FAILED),
// a disabled or expired account (KDC_ERR_CLIENT_REVOKED with the NTSTATUS
// in KERB-ERROR-DATA e-data as AD sends it), an expired password
// (KDC_ERR_KEY_EXPIRED), clock skew (KRB_AP_ERR_SKEW) and an enctype the
// policy forbids (KDC_ERR_ETYPE_NOSUPP).
//
// # Robustness
//
// Requests are capped at [MaxRequestSize] before they are parsed; a
// request that does not parse gets KRB_ERR_GENERIC (or, on UDP, nothing
// when it is not even a Kerberos request). Request handling does not
// panic on any input; as a last line of defence each request also runs
// under a recover that answers KRB_ERR_GENERIC, so that a bug cannot take
// down a test's KDC.
//
// # Left out
//
// FAST, PKINIT, user-to-user, postdated tickets and validation (these
// KDC options get KDC_ERR_BADOPTION), password changes (kpasswd), claims and
// device info in the PAC, and persistence: the database lives in memory.
// It is built for tests and demos, not to guard a production realm.
package kdc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gosspi/sspi/packages/kerberos"
)

// Encryption types (RFC 3961 8, RFC 8009, RFC 4757).
const (
	AES128CTSHMACSHA196    int32 = 17
	AES256CTSHMACSHA196    int32 = 18
	AES128CTSHMACSHA256128 int32 = 19
	AES256CTSHMACSHA384192 int32 = 20
	RC4HMAC                int32 = 23
)

// DefaultEnctypes are the enctypes a KDC allows when [Config.Enctypes] is
// empty: the AES ones, strongest first, as modern Windows and MIT prefer.
// rc4-hmac must be asked for.
var DefaultEnctypes = []int32{AES256CTSHMACSHA196, AES128CTSHMACSHA196, AES256CTSHMACSHA384192, AES128CTSHMACSHA256128}

// MaxRequestSize is the largest request the KDC reads, on any transport.
const MaxRequestSize = 64 << 10

// Config configures a KDC. It is read-only once passed to [New].
type Config struct {
	// Realm is the first realm the KDC serves (upper case by convention).
	// More come with [KDC.AddRealm].
	Realm string

	// Enctypes are the enctypes the KDC issues keys and tickets in, in
	// order of preference. Empty means [DefaultEnctypes]; include RC4HMAC
	// to allow rc4-hmac.
	Enctypes []int32

	// MaxSkew is the largest clock difference accepted in pre-authentication
	// and authenticators. Zero means 5 minutes.
	MaxSkew time.Duration

	// TicketLifetime is the longest ticket lifetime. Zero means 10 hours.
	TicketLifetime time.Duration

	// RenewLifetime is the longest renewable lifetime. Zero means 7 days.
	RenewLifetime time.Duration

	// Time returns the current time. Nil means time.Now.
	Time func() time.Time

	// Rand is the source of keys. Nil means crypto/rand.Reader.
	Rand io.Reader
}

func (c *Config) now() time.Time {
	if c.Time == nil {
		return time.Now().UTC()
	}
	return c.Time().UTC()
}

func (c *Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c *Config) maxSkew() time.Duration {
	if c.MaxSkew > 0 {
		return c.MaxSkew
	}
	return 5 * time.Minute
}

func (c *Config) lifetime() time.Duration {
	if c.TicketLifetime > 0 {
		return c.TicketLifetime
	}
	return 10 * time.Hour
}

func (c *Config) renewLifetime() time.Duration {
	if c.RenewLifetime > 0 {
		return c.RenewLifetime
	}
	return 7 * 24 * time.Hour
}

// User describes a user account for [KDC.AddUser]. The zero value is an
// enabled account with a RID of its own, in Domain Users.
type User struct {
	// RID is the account's relative identifier in its realm's domain SID.
	// Zero picks the next free one (from 1105).
	RID uint32
	// PrimaryGroupRID is the primary group's RID. Zero means 513 (Domain
	// Users).
	PrimaryGroupRID uint32
	// GroupRIDs are further groups of the realm's domain (512: Domain
	// Admins, ...).
	GroupRIDs []uint32
	// ExtraSIDs are SIDs of other domains or well-known SIDs
	// ("S-1-5-21-...-1234", "S-1-18-1"), put in the PAC's ExtraSids.
	ExtraSIDs []string
	// FullName is the display name in the PAC.
	FullName string
	// UPN is the userPrincipalName; empty means name@realm in lower-case
	// domain form, flagged as constructed in UPN_DNS_INFO.
	UPN string
	// Disabled refuses the account (KDC_ERR_CLIENT_REVOKED,
	// STATUS_ACCOUNT_DISABLED).
	Disabled bool
	// Expires, when set, is when the account expires
	// (KDC_ERR_CLIENT_REVOKED, STATUS_ACCOUNT_EXPIRED).
	Expires time.Time
	// PasswordExpires, when set, is when the password expires
	// (KDC_ERR_KEY_EXPIRED, STATUS_PASSWORD_EXPIRED).
	PasswordExpires time.Time
	// Enctypes restricts the account's keys to these enctypes (they must
	// be allowed by the KDC). Empty means every allowed enctype.
	Enctypes []int32
	// KVNO is the key version number. Zero means 1.
	KVNO int
	// NotForwardable denies the account forwardable tickets.
	NotForwardable bool
}

// Service describes a service account for [KDC.AddService].
type Service struct {
	// Password derives the service's keys (with the default salt). Empty
	// means random keys, as a computer account or kadmin -randkey has.
	Password string
	// Enctypes restricts the service's keys to these enctypes. Empty means
	// every allowed enctype.
	Enctypes []int32
	// KVNO is the key version number. Zero means 1 (2 with random keys,
	// as after a first password set).
	KVNO int
	// RID is the account's RID in the PAC when the service acts as a
	// client. Zero picks the next free one.
	RID uint32
	// AllowedToDelegateTo lists the services (SPNs, "HTTP/db.example.test"
	// or with "@REALM") for which S4U2Proxy gives this service tickets in
	// a user's name: msDS-AllowedToDelegateTo.
	AllowedToDelegateTo []string
	// TrustedToAuthForDelegation makes S4U2Self tickets for this service
	// forwardable (protocol transition), so they can be used for
	// S4U2Proxy; Windows' TRUSTED_TO_AUTH_FOR_DELEGATION.
	TrustedToAuthForDelegation bool
	// OKAsDelegate sets the ok-as-delegate flag in this service's tickets
	// (TRUSTED_FOR_DELEGATION).
	OKAsDelegate bool
	// NoPAC leaves the PAC out of this service's tickets (MIT's
	// no_auth_data_required).
	NoPAC bool
}

// key is one long-term key of a principal.
type key struct {
	etype int32
	value []byte
}

// principal is an entry of the database.
type principal struct {
	name  types.PrincipalName
	realm string
	kvno  int
	keys  []key // in order of preference
	salt  string

	isUser  bool
	user    User
	service Service
	rid     uint32
}

func (p *principal) String() string { return p.name.PrincipalNameString() + "@" + p.realm }

// keyOf returns p's key of etype.
func (p *principal) keyOf(etype int32) (types.EncryptionKey, bool) {
	for _, k := range p.keys {
		if k.etype == etype {
			return types.EncryptionKey{KeyType: k.etype, KeyValue: k.value}, true
		}
	}
	return types.EncryptionKey{}, false
}

// realm is one realm the KDC serves.
type realm struct {
	name    string
	netbios string
	sid     string // domain SID, S-1-5-21-a-b-c
	nextRID uint32
}

// KDC is a Key Distribution Center serving one or more realms. It is safe
// for concurrent use: principals may be added while it serves.
type KDC struct {
	cfg      Config
	enctypes []int32

	mu         sync.RWMutex
	realms     map[string]*realm     // guarded by mu; by name
	principals map[string]*principal // guarded by mu; by "name@REALM"
	order      []string              // guarded by mu; realms in the order added

	lnMu      sync.Mutex
	listeners []io.Closer           // guarded by lnMu
	addr      Addr                  // guarded by lnMu
	conns     map[net.Conn]struct{} // guarded by lnMu
	wg        sync.WaitGroup
	closed    bool // guarded by lnMu
}

// New returns a KDC serving config.Realm, with its krbtgt account.
func New(config Config) (*KDC, error) {
	if config.Realm == "" {
		return nil, errors.New("kdc: no realm")
	}
	k := &KDC{cfg: config, realms: map[string]*realm{}, principals: map[string]*principal{}}
	k.enctypes = slices.Clone(config.Enctypes)
	if len(k.enctypes) == 0 {
		k.enctypes = slices.Clone(DefaultEnctypes)
	}
	for _, e := range k.enctypes {
		if !supportedEnctype(e) {
			return nil, fmt.Errorf("kdc: unsupported enctype %d", e)
		}
	}
	if err := k.AddRealm(config.Realm); err != nil {
		return nil, err
	}
	return k, nil
}

func supportedEnctype(e int32) bool {
	switch e {
	case AES128CTSHMACSHA196, AES256CTSHMACSHA196, AES128CTSHMACSHA256128, AES256CTSHMACSHA384192, RC4HMAC:
		return true
	}
	return false
}

// allowed reports whether the policy allows etype.
func (k *KDC) allowed(etype int32) bool { return slices.Contains(k.enctypes, etype) }

// Realm returns the first realm, Config.Realm.
func (k *KDC) Realm() string { return k.cfg.Realm }

// Realms returns the realms served, in the order added.
func (k *KDC) Realms() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slices.Clone(k.order)
}

// AddRealm adds a realm with its krbtgt account. Every two realms of a
// KDC trust each other both ways: each gets cross-realm krbtgt keys for
// the others, so a client of one gets tickets for services of another
// (asking for krbtgt/OTHER@MINE, or by referral).
func (k *KDC) AddRealm(name string) error {
	if name == "" || strings.ContainsAny(name, "@/\\ \t\r\n") {
		return fmt.Errorf("kdc: invalid realm %q", name)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.realms[name]; ok {
		return fmt.Errorf("kdc: realm %q already served", name)
	}
	h := sha256.Sum256([]byte(name))
	r := &realm{
		name:    name,
		netbios: strings.ToUpper(strings.SplitN(name, ".", 2)[0]),
		sid: fmt.Sprintf("S-1-5-21-%d-%d-%d", binary.LittleEndian.Uint32(h[0:])%1000000000,
			binary.LittleEndian.Uint32(h[4:])%1000000000, binary.LittleEndian.Uint32(h[8:])%1000000000),
		nextRID: 1105,
	}
	if len(r.netbios) > 15 {
		r.netbios = r.netbios[:15]
	}
	k.realms[name] = r
	k.order = append(k.order, name)
	if err := k.addRandomLocked(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+name), name, 502); err != nil {
		return err
	}
	for _, other := range k.order[:len(k.order)-1] {
		// krbtgt/OTHER@NAME is issued by NAME and accepted by OTHER.
		if err := k.addRandomLocked(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+other), name, 0); err != nil {
			return err
		}
		if err := k.addRandomLocked(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+name), other, 0); err != nil {
			return err
		}
	}
	return nil
}

func (k *KDC) addRandomLocked(name types.PrincipalName, realmName string, rid uint32) error {
	p := &principal{name: name, realm: realmName, kvno: 2, rid: rid}
	if err := k.randomKeys(p, k.enctypes); err != nil {
		return err
	}
	k.principals[p.String()] = p
	return nil
}

// randomKeys gives p a random key of each enctype.
func (k *KDC) randomKeys(p *principal, etypes []int32) error {
	for _, e := range etypes {
		v := make([]byte, keySize(e))
		if _, err := io.ReadFull(k.cfg.rand(), v); err != nil {
			return fmt.Errorf("kdc: random key: %w", err)
		}
		p.keys = append(p.keys, key{etype: e, value: v})
	}
	return nil
}

// passwordKeys gives p the string-to-key of password for each enctype,
// with p's default salt.
func passwordKeys(p *principal, password string, etypes []int32) error {
	p.salt = p.name.GetSalt(p.realm)
	for _, e := range etypes {
		et, err := crypto.GetEtype(e)
		if err != nil {
			return fmt.Errorf("kdc: enctype %d: %w", e, err)
		}
		v, err := et.StringToKey(password, p.salt, et.GetDefaultStringToKeyParams())
		if err != nil {
			return fmt.Errorf("kdc: string-to-key for enctype %d: %w", e, err)
		}
		p.keys = append(p.keys, key{etype: e, value: v})
	}
	return nil
}

// splitName parses "name" or "name@REALM" (the realm defaulting to the
// first one) into a principal name and a served realm.
func (k *KDC) splitName(s string, nt int32) (types.PrincipalName, *realm, error) {
	name, realmName := s, k.cfg.Realm
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		name, realmName = s[:i], s[i+1:]
	}
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return types.PrincipalName{}, nil, fmt.Errorf("kdc: invalid principal name %q", s)
	}
	r, ok := k.realms[realmName]
	if !ok {
		return types.PrincipalName{}, nil, fmt.Errorf("kdc: realm %q not served", realmName)
	}
	if strings.Contains(name, "/") && nt == nametype.KRB_NT_PRINCIPAL {
		nt = nametype.KRB_NT_SRV_INST
	}
	return types.NewPrincipalName(nt, name), r, nil
}

func (k *KDC) etypesFor(want []int32) ([]int32, error) {
	if len(want) == 0 {
		return k.enctypes, nil
	}
	for _, e := range want {
		if !k.allowed(e) {
			return nil, fmt.Errorf("kdc: enctype %d not allowed by the KDC's policy", e)
		}
	}
	return want, nil
}

// AddUser adds a user account name ("alice" or "alice@REALM") with the
// keys of password.
func (k *KDC) AddUser(name, password string, u User) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	pn, r, err := k.splitName(name, nametype.KRB_NT_PRINCIPAL)
	if err != nil {
		return err
	}
	etypes, err := k.etypesFor(u.Enctypes)
	if err != nil {
		return err
	}
	p := &principal{name: pn, realm: r.name, kvno: u.KVNO, isUser: true, user: u, rid: u.RID}
	p.user.GroupRIDs = slices.Clone(u.GroupRIDs)
	p.user.ExtraSIDs = slices.Clone(u.ExtraSIDs)
	for _, s := range u.ExtraSIDs {
		if _, err := parseSIDString(s); err != nil {
			return err
		}
	}
	if p.kvno == 0 {
		p.kvno = 1
	}
	if p.rid == 0 {
		p.rid = r.nextRID
		r.nextRID++
	}
	if err := passwordKeys(p, password, etypes); err != nil {
		return err
	}
	if _, ok := k.principals[p.String()]; ok {
		return fmt.Errorf("kdc: principal %q already exists", p.String())
	}
	k.principals[p.String()] = p
	return nil
}

// AddService adds a service principal spn ("HTTP/web.example.test" or
// with "@REALM") and returns a keytab holding its keys, for
// kerberos.Package.AcquireCredentials (inbound).
func (k *KDC) AddService(spn string, s Service) (*kerberos.Keytab, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pn, r, err := k.splitName(spn, nametype.KRB_NT_SRV_HST)
	if err != nil {
		return nil, err
	}
	if len(pn.NameString) > 0 && pn.NameString[0] == "krbtgt" {
		return nil, fmt.Errorf("kdc: %q is a TGS name", spn)
	}
	etypes, err := k.etypesFor(s.Enctypes)
	if err != nil {
		return nil, err
	}
	p := &principal{name: pn, realm: r.name, kvno: s.KVNO, service: s, rid: s.RID}
	p.service.AllowedToDelegateTo = slices.Clone(s.AllowedToDelegateTo)
	if p.rid == 0 {
		p.rid = r.nextRID
		r.nextRID++
	}
	if s.Password != "" {
		if p.kvno == 0 {
			p.kvno = 1
		}
		err = passwordKeys(p, s.Password, etypes)
	} else {
		if p.kvno == 0 {
			p.kvno = 2
		}
		err = k.randomKeys(p, etypes)
	}
	if err != nil {
		return nil, err
	}
	if _, ok := k.principals[p.String()]; ok {
		return nil, fmt.Errorf("kdc: principal %q already exists", p.String())
	}
	k.principals[p.String()] = p
	return newKeytab(k.cfg.now(), p)
}

// Keytab returns a keytab with the current keys of principal name (a
// service, a user or "krbtgt/REALM"), with "@REALM" or in the first
// realm.
func (k *KDC) Keytab(name string) (*kerberos.Keytab, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	p, err := k.lookupString(name)
	if err != nil {
		return nil, err
	}
	return newKeytab(k.cfg.now(), p)
}

func (k *KDC) lookupString(name string) (*principal, error) {
	if !strings.Contains(name, "@") {
		name += "@" + k.cfg.Realm
	}
	p, ok := k.principals[name]
	if !ok {
		return nil, fmt.Errorf("kdc: no principal %q", name)
	}
	return p, nil
}

// SetPassword changes the keys of a user or a service to those of
// password, with the next kvno (the old keys are forgotten, so tickets
// sealed with them no longer verify).
func (k *KDC) SetPassword(name, password string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, err := k.lookupString(name)
	if err != nil {
		return err
	}
	etypes := make([]int32, 0, len(p.keys))
	for _, kk := range p.keys {
		etypes = append(etypes, kk.etype)
	}
	np := *p
	np.keys = nil
	np.kvno++
	if err := passwordKeys(&np, password, etypes); err != nil {
		return err
	}
	k.principals[np.String()] = &np
	return nil
}

// DomainSID returns the domain SID of realm (the PAC's LogonDomainId),
// derived from the realm's name.
func (k *KDC) DomainSID(realmName string) (string, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	r, ok := k.realms[realmName]
	if !ok {
		return "", fmt.Errorf("kdc: realm %q not served", realmName)
	}
	return r.sid, nil
}

// UserSID returns the SID a principal ("alice", "alice@REALM") has in
// its PACs.
func (k *KDC) UserSID(name string) (string, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	p, err := k.lookupString(name)
	if err != nil {
		return "", err
	}
	return k.realms[p.realm].sid + "-" + strconv.FormatUint(uint64(p.rid), 10), nil
}

// lookup returns the principal name@realm, or nil.
func (k *KDC) lookup(name types.PrincipalName, realmName string) *principal {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.principals[name.PrincipalNameString()+"@"+realmName]
}

func (k *KDC) realm(name string) *realm {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.realms[name]
}

// RoundTrip answers one KDC request in process: it implements
// kerberos.Transport, so kerberos.Config{Transport: k} talks to this KDC
// with no sockets. The reply is an AS-REP, a TGS-REP or a KRB-ERROR, as a
// KDC sends it; realm is the realm the client asked for (a realm not
// served gets KDC_ERR_WRONG_REALM from the request's realm check).
func (k *KDC) RoundTrip(ctx context.Context, realm string, req []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := k.Serve(req)
	if rep == nil {
		return nil, errors.New("kdc: request dropped")
	}
	return rep, nil
}

// Transport returns k as a kerberos.Transport.
func (k *KDC) Transport() kerberos.Transport { return k }

var _ kerberos.Transport = (*KDC)(nil)

// keySize is the key length of an enctype (RFC 3962, RFC 8009, RFC 4757).
func keySize(e int32) int {
	switch e {
	case AES128CTSHMACSHA196, AES128CTSHMACSHA256128, RC4HMAC:
		return 16
	}
	return 32
}
