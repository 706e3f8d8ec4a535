// Package kerberos is the Kerberos security package ("Kerberos",
// "Microsoft Kerberos V1.0"): Kerberos V5 as the GSS-API mechanism of
// RFC 4121, behind the SSPI calls the way Windows' kerberos.dll does it.
//
// KDC exchanges (AS and TGS), krb5.conf, keytabs, FILE credential caches,
// the encryption types and PAC decoding come from
// github.com/jcmturner/gokrb5/v8. This package adds what that library
// lacks: the GSS framing and the RFC 4121 authenticator checksum (flags,
// channel bindings, delegation with KRB-CRED), AP-REP on both sides with
// acceptor subkeys, a replay cache, and the per-message tokens (MIC and
// sealed Wrap with RRC for the AES enctypes, RFC 4757 tokens for
// rc4-hmac), with their keys derived once per context so that signing and
// sealing allocate nothing.
//
// # Credentials
//
// Outbound credentials come from, in [Package.AcquireCredentials]'s
// authData: a *packages.AuthIdentity (user, realm in Domain or as
// user@REALM, password: an AS exchange with PA-ENC-TIMESTAMP), a [*Keytab]
// (a client keytab), a [*CCache] (a FILE, DIR, KEYRING or KCM credential
// cache, as kinit writes them; service tickets obtained are stored back in
// it unless [Config.NoCCacheStore]), outbound credentials of this package to copy (the delegated ones
// of [DelegatedCredentialer]), or nil: the credential cache named by KRB5CCNAME (or krb5.conf's
// default_ccache_name, or /tmp/krb5cc_UID), then the client keytab
// (KRB5_CLIENT_KTNAME or default_client_keytab_name). Inbound credentials
// are a keytab: a [*Keytab] or nil for KRB5_KTNAME, then
// default_keytab_name, then /etc/krb5.keytab; the acceptor uses whichever
// key matches the ticket's service principal, kvno and enctype.
//
// The configuration is [Config.Krb5Conf], or the files named by
// KRB5_CONFIG (which, as in MIT krb5, replaces /etc/krb5.conf), or
// /etc/krb5.conf; with none of them the package works from DNS alone.
//
// # KDC discovery
//
// The realm of a password user is the domain of a UPN (alice@example.com)
// or the Domain given, upper-cased; a NetBIOS domain (EXAMPLE\alice) is
// mapped to its DNS domain (a realm or [domain_realm] entry of krb5.conf,
// then the LDAP ping of MS-ADTS 6.3.3 to the KDCs it lists, then the DC
// locator's SRV records _ldap._tcp.dc._msdcs.<name> under the DNS search
// domains). The KDCs of
// a realm are its kdc relations in krb5.conf ("host[:port]",
// "tcp/host", "udp/host", or an MS-KKDCP proxy "https://host/KdcProxy"),
// else, when dns_lookup_kdc is true (the default, as in MIT krb5), the
// DNS SRV records _kerberos._udp and _kerberos._tcp of the realm, else
// the Active Directory forms _kerberos._tcp.dc._msdcs and
// _kerberos._udp.dc._msdcs, each ordered by priority and weight (RFC
// 2782). DNS goes through [Config.Resolver] (the system resolver by
// default). Requests follow MIT krb5's timing: UDP first below
// udp_preference_limit (TCP first above it, TCP alone after
// KRB_ERR_RESPONSE_TOO_BIG), 1 s for each KDC before the next one is
// asked in parallel, then 2 s, and two more passes waiting 4 s and 8 s; a
// KDC that did not answer is tried last for the next 90 s, process-wide.
// The context's deadline bounds every wait and the string-to-key
// derivation, and the KDC's ETYPE-INFO2 iteration counts are refused
// below the enctype default or at or above 2^24 (SEC_E_KDC_UNKNOWN_ETYPE,
// [ErrBadS2KParams]). [Package.LocateKDCs] and [Package.MapDomain] report
// what was found and how (the sspi command's whoami prints them).
//
// # Targets
//
// A target is "service/host", "service/host@REALM", a GSS host-based name
// "service@host", or a user principal "user@REALM". SPN-form targets are
// used as given. The host of a host-based name is canonicalized as MIT
// krb5 does: dns_canonicalize_hostname (true by default; "fallback"
// tries the name as given first) resolves CNAMEs, and rdns (true by
// default) then takes the reverse lookup of its address. The realm of a
// host comes from krb5.conf's domain_realm, else the default realm, else
// the client's realm.
//
// # Windows behaviour
//
// ISC with ISC_REQ_MUTUAL_AUTH returns SEC_I_CONTINUE_NEEDED and verifies
// the AP-REP on the second call (a wrong or forged AP-REP is
// SEC_E_MUTUAL_AUTH_FAILED); a KRB-ERROR token from the acceptor maps to
// a failure status, with the messages.KRBError reachable through
// errors.As. The authenticator checksum carries the ISC_REQ flags as GSS
// flags and the MD5 of a SECBUFFER_CHANNEL_BINDINGS input. With
// ISC_REQ_DELEGATE and a forwardable TGT, a forwarded TGT travels in a
// KRB-CRED encrypted with the session key (as MIT does by default, the
// service ticket's ok-as-delegate flag is not required); the acceptor then
// reports ASC_RET_DELEGATE and its context's [DelegatedCredentialer]
// method returns credentials that initiate further contexts as the client
// (RFC 4121 4.1.1). The context owns the forwarded TGT and zeroes its key
// on Delete; each call hands out a new copy, with keys of its own, that
// its Free zeroes. Outbound credentials of this package passed back to
// [Package.AcquireCredentials] as auth data are copied the same way (so
// Negotiate, given them, runs over Kerberos only), and [CCacheWriter]
// writes them as an MIT FILE credential cache for a child process
// (KRB5CCNAME).
//
// The acceptor checks the ticket and authenticator, the clock skew
// ([Config.ClockSkew], default 5 minutes: SEC_E_TIME_SKEW), the replay
// cache ([ReplayCache], shared by the process), and the channel bindings when it has some
// (mismatch: SEC_E_BAD_BINDINGS; a client that sent none is accepted
// unless [Config.RequireChannelBindings] or ASC_REQ_PROXY_BINDINGS). It
// answers mutual authentication with an AP-REP carrying an acceptor
// subkey (AES enctypes; rc4-hmac contexts keep the initiator's subkey, as
// MIT's initiator expects). With ASC_REQ_EXTENDED_ERROR a failure also
// produces a KRB-ERROR token. The client principal is in SECPKG_ATTR_NAMES
// and SECPKG_ATTR_NATIVE_NAMES; a PAC in the ticket is verified with the
// service key and exposed through [PACContext]: the logon info's SIDs,
// the client info and UPN_DNS_INFO ([UPNDNSInfo], with the SAM name and
// SID of its extended form). As on Windows (MS-KILE 3.4.5.3, MS-PAC 2.8)
// a PAC that does not parse ([ErrMalformedPAC]: a buffer outside the PAC
// or overlapping another, a bad count, a duplicate buffer, a malformed
// UPN_DNS_INFO, ...) or whose server signature does not verify
// ([ErrPACSignature]) fails the logon with SEC_E_LOGON_DENIED and, with
// ASC_REQ_EXTENDED_ERROR, a KRB_AP_ERR_MODIFIED error token. The logon
// info's NDR is decoded by gokrb5, only once the signature verified.
//
// Per-message calls follow RFC 4121 for aes128/aes256-cts-hmac-sha1-96,
// aes128-cts-hmac-sha256-128 and aes256-cts-hmac-sha384-192, and RFC 4757
// for rc4-hmac. EncryptMessage writes the header-in-token layout Windows
// uses: for AES, TOKEN = 16-byte header ‖ rotated trailer ‖ encrypted
// confounder (60 bytes for the SHA-1 enctypes), the DATA buffers
// encrypted in place, the PADDING buffer (optional) left empty; the
// concatenation TOKEN‖DATA is an RFC 4121 Wrap token with RRC = 16 +
// checksum length that MIT's gss_unwrap reads. For rc4-hmac the TOKEN holds
// the framed 32-byte token header and the PADDING buffer (required) the
// one pad byte. DecryptMessage takes TOKEN + DATA (+ PADDING) or a single
// SECBUFFER_STREAM holding a whole token with any RRC, and then points the
// DATA buffer at the plaintext inside the stream. SECQOP_WRAP_NO_ENCRYPT
// gives integrity-only Wrap tokens (TOKEN = header ‖ checksum, RRC = EC =
// checksum length). DATA buffers flagged SECBUFFER_READONLY_WITH_CHECKSUM
// are signed but not encrypted. Sequence numbers are checked when replay
// or sequence detection was negotiated (SEC_E_OUT_OF_SEQUENCE). Sizes are
// the Windows ones: cbMaxToken 48000, cbBlockSize 1, and for the AES-SHA1
// enctypes cbMaxSignature 28 and cbSecurityTrailer 76 (for the SHA-2
// enctypes 16 and 64 plus the checksum length; for rc4-hmac 37 and 49).
//
// # Ownership of keys, locks and the replay cache
//
// Credentials own their TGT, their service tickets and those tickets'
// session keys; Free zeroes them, and only them. A context takes its own
// copy of the ticket it uses when it starts (ticket session key
// included), makes its own subkeys, and hands its session a copy of the
// key the handshake settled on; it zeroes the handshake's keys once
// established, and the session's on Delete. So freeing credentials
// between two steps does not break a handshake, and a context never
// zeroes what another still uses. The credentials' lock guards their
// ticket cache only and is never held across a KDC exchange: a missing
// ticket is fetched by one exchange on a goroutine of its own, which the
// callers asking for that ticket meanwhile share, each waiting only until
// its own context ends; Free cancels the exchange and ends every wait at
// once with SEC_E_INVALID_HANDLE. The session has its own locks, one per
// direction. The replay cache belongs to the process, not to a Package:
// every acceptor uses [DefaultReplayCache] (so "Kerberos" and
// "Negotiate" of one Registry refuse each other's replays) unless
// [Config.ReplayCache] names another, such as a [FileReplayCache] shared
// by several processes.
//
// # DCE style
//
// ISC_REQ_USE_DCE_STYLE gives the three-leg exchange of MS-KILE 3.4.5.1:
// an unframed AP-REQ, an unframed AP-REP from the acceptor
// (SEC_I_CONTINUE_NEEDED), and a third AP-REP from the initiator echoing
// the acceptor's sequence number, as MIT's krb5_rd_rep_dce checks. Sealed AES tokens then use EC = 16 and Windows'
// rotation by RRC + EC (TOKEN = 76 bytes for the SHA-1 enctypes), and
// rc4-hmac framing leaves the data out of its length.
//
// # Left out
//
// User-to-user, cross-realm referrals, PKINIT, FAST, S4U, password
// changes, datagram contexts, context export and the
// ImpersonateSecurityContext family. Of the Windows authorization data of
// MS-KILE 3.2.5.8 only AD-AUTH-DATA-AP-OPTIONS (KERB_AP_OPTIONS_CBT, sent
// with channel bindings) is added to the authenticator, not
// KERB-AD-RESTRICTION-ENTRY, KERB-LOCAL or AD-TARGET-PRINCIPAL. The API:
// credential cache of macOS and the MSLSA: cache of Windows need their
// system's libraries and are refused with an error saying to set
// KRB5CCNAME=FILE:path; MEMORY: caches belong to another process.
package kerberos

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// pkgName is the package's SSPI name.
const pkgName = "Kerberos"

// Info values of the Kerberos package (spec structures.md §7-8).
const (
	capabilities = 0x008F3BBF
	rpcID        = 16 // RPC_C_AUTHN_GSS_KERBEROS
	maxToken     = 48000
)

// Config configures the package. It is read-only once passed to [New].
type Config struct {
	// Krb5Conf is the parsed krb5.conf. Nil means the file named by
	// KRB5_CONFIG, else /etc/krb5.conf (an absent file gives an empty
	// configuration).
	Krb5Conf *config.Config

	// Transport carries KDC requests. Nil means UDP, TCP or MS-KKDCP to the
	// realm's KDCs as krb5.conf lists them, else as DNS SRV records name
	// them, with MIT krb5's timing (see "KDC discovery" in the package
	// documentation).
	Transport Transport

	// Resolver answers the DNS queries of KDC discovery, the DC locator
	// and host name canonicalization. Nil means net.DefaultResolver.
	Resolver Resolver

	// KDCProxyClient sends MS-KKDCP requests to KDC proxies
	// ("kdc = https://host/KdcProxy"). Nil means http.DefaultClient.
	KDCProxyClient *http.Client

	// ClockSkew is the largest clock difference an acceptor accepts. Zero
	// means krb5.conf's clockskew, else 5 minutes.
	ClockSkew time.Duration

	// RequireChannelBindings makes an acceptor reject clients that send no
	// channel bindings (an all-zero Bnd) when it has bindings itself.
	// ASC_REQ_PROXY_BINDINGS asks the same per context.
	RequireChannelBindings bool

	// Rand is the source of confounders, subkeys and sequence numbers.
	// Nil means crypto/rand.Reader.
	Rand io.Reader

	// NoCCacheStore keeps service tickets obtained with credentials from
	// a credential cache out of that cache. By default they are stored
	// back in it, as MIT's libraries do, so that later processes (and
	// klist) find them.
	NoCCacheStore bool

	// Time returns the current time. Nil means time.Now.
	Time func() time.Time

	// ReplayCache remembers the authenticators the acceptors of this
	// Package have taken. Nil means the process's cache,
	// [DefaultReplayCache], shared by every acceptor (or, when Time is
	// set, a memory cache of this Package's own on that clock).
	ReplayCache ReplayCache
}

func (c *Config) rand() io.Reader {
	if c == nil || c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c *Config) now() time.Time {
	if c == nil || c.Time == nil {
		return time.Now().UTC()
	}
	return c.Time().UTC()
}

// Package is the Kerberos security package. It is safe for concurrent
// use.
type Package struct {
	config Config

	confOnce sync.Once
	conf     *config.Config
	confPath string // the krb5.conf file read, if any
	confErr  error

	ownReplayOnce sync.Once
	ownReplay     *MemoryReplayCache // with Config.Time and no Config.ReplayCache

	netbios netbiosCache // NetBIOS domain → realm (domain.go)
}

// New returns the Kerberos package configured by config; nil means
// defaults.
func New(config *Config) *Package {
	p := &Package{}
	if config != nil {
		p.config = *config
	}
	return p
}

// Info returns the values Windows reports for Kerberos.
func (p *Package) Info() packages.Info {
	return packages.Info{
		Name:         pkgName,
		Comment:      "Microsoft Kerberos V1.0",
		Capabilities: capabilities,
		Version:      1,
		RPCID:        rpcID,
		MaxToken:     maxToken,
	}
}

// krb5conf returns the configuration in force.
func (p *Package) krb5conf() (*config.Config, error) {
	p.confOnce.Do(func() {
		if p.config.Krb5Conf != nil {
			p.conf = p.config.Krb5Conf
			return
		}
		// KRB5_CONFIG may list several files; the first one present is
		// read. As in MIT krb5, when it is set /etc/krb5.conf is not
		// read: KRB5_CONFIG=/dev/null means no configuration.
		path := ""
		files := "/etc/krb5.conf"
		if v := os.Getenv("KRB5_CONFIG"); v != "" {
			files = v
		}
		for _, f := range strings.Split(files, ":") {
			if _, err := os.Stat(f); f != "" && err == nil {
				path = f
				break
			}
		}
		if path == "" {
			p.conf = config.New()
			return
		}
		c, err := config.Load(path)
		if err != nil && c == nil {
			p.confErr = err
			return
		}
		// gokrb5 reports directives it does not implement as an error but
		// still returns the parsed configuration.
		p.conf = c
		p.confPath = path
	})
	return p.conf, p.confErr
}

// confValue returns a [libdefaults] value of the krb5.conf file read, for
// the few relations gokrb5 does not parse (default_ccache_name).
func (p *Package) confValue(name string) string {
	if _, err := p.krb5conf(); err != nil || p.confPath == "" {
		return ""
	}
	b, err := os.ReadFile(p.confPath)
	if err != nil {
		return ""
	}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && section == "[libdefaults]" && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (p *Package) clockSkew() time.Duration {
	if p.config.ClockSkew > 0 {
		return p.config.ClockSkew
	}
	if c, err := p.krb5conf(); err == nil && c.LibDefaults.Clockskew > 0 {
		return c.LibDefaults.Clockskew
	}
	return 5 * time.Minute
}

func (p *Package) transport() Transport {
	if p.config.Transport != nil {
		return p.config.Transport
	}
	return &netTransport{p: p}
}

// errorf returns a *status.Error for op with the package name.
func errorf(op string, st status.Status, err error) error {
	return status.New(op, pkgName, st, err)
}

var _ packages.Package = (*Package)(nil)

// AcquireCredentials is AcquireCredentialsHandle for Kerberos. See the
// package documentation for the auth data it takes. Outbound credentials
// are not checked against the KDC here: the first
// InitializeSecurityContext does that (and reports SEC_E_LOGON_DENIED for
// a wrong password), as on Windows.
func (p *Package) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	const op = "AcquireCredentialsHandle"
	if err := ctx.Err(); err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	if use&(packages.SECPKG_CRED_INBOUND|packages.SECPKG_CRED_OUTBOUND) == 0 {
		return nil, errorf(op, status.SEC_E_INVALID_PARAMETER, nil)
	}
	conf, err := p.krb5conf()
	if err != nil {
		return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, err)
	}
	c := &credentials{p: p, conf: conf, use: use & packages.SECPKG_CRED_BOTH}
	if use&packages.SECPKG_CRED_OUTBOUND != 0 {
		if err := c.loadOutbound(ctx, principal, authData); err != nil {
			return nil, errorf(op, status.Code(err), err)
		}
		if c.password != "" || c.clientKT != nil {
			c.crealm = p.realmForDomain(ctx, conf, c.crealm)
		}
	}
	if use&packages.SECPKG_CRED_INBOUND != 0 {
		if err := c.loadInbound(principal, authData); err != nil {
			return nil, errorf(op, status.Code(err), err)
		}
	}
	return c, nil
}
