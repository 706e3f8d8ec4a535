package kerberos

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi/internal/cldap"
)

// A NetBIOS domain name ("SAMBA" in SAMBA\alice) is not a Kerberos
// realm. Windows maps it to the DNS name of the domain through its DC
// locator; this package does the same with what it can reach:
//
//  1. a realm of krb5.conf with that exact name is taken as it is;
//  2. a [domain_realm] entry for the lower-case NetBIOS name
//     ("samba = SAMBA.TEST") is taken next;
//  3. otherwise the domain controllers named as KDCs of the realms of
//     krb5.conf (the default realm first) are asked with the Active
//     Directory LDAP ping of MS-ADTS 6.3.3 (CLDAP, UDP port 389); a DC
//     whose NETLOGON_SAM_LOGON_RESPONSE_EX gives that NetBIOS domain name
//     gives its DNS domain name, upper-cased, as the realm.
//
// A name that none of these maps stays as it is, so the KDC lookup fails
// and Negotiate falls back to NTLM visibly (see the negotiate package).
// Answers are remembered for the life of the Package.

// ldapPingPort is the DC's CLDAP port; tests move it.
var ldapPingPort = "389"

// pingTimeout bounds one LDAP ping: a DC answers within milliseconds.
const pingTimeout = 2 * time.Second

// netbiosCache remembers NetBIOS → realm answers, misses included for a
// short while.
type netbiosCache struct {
	mu sync.Mutex
	m  map[string]netbiosEntry
}

type netbiosEntry struct {
	realm string
	until time.Time // zero: for good
}

// isNetBIOSName reports whether name looks like a NetBIOS domain name: one
// label, at most 15 characters.
func isNetBIOSName(name string) bool {
	return name != "" && len(name) <= 15 && !strings.ContainsAny(name, ".@\\/")
}

// realmForDomain returns the realm for the domain part of a user name.
func (p *Package) realmForDomain(ctx context.Context, conf *config.Config, domain string) string {
	upper := strings.ToUpper(domain)
	if !isNetBIOSName(domain) || configuredRealm(conf, upper) {
		return upper
	}
	if r, ok := conf.DomainRealm[strings.ToLower(domain)]; ok && r != "" {
		return strings.ToUpper(r)
	}
	now := time.Now()
	p.netbios.mu.Lock()
	e, ok := p.netbios.m[upper]
	p.netbios.mu.Unlock()
	if ok && (e.until.IsZero() || now.Before(e.until)) {
		if e.realm != "" {
			return e.realm
		}
		return upper
	}
	realm := p.locateDomain(ctx, conf, upper)
	entry := netbiosEntry{realm: realm}
	if realm == "" {
		entry.until = now.Add(time.Minute) // try again later
	}
	p.netbios.mu.Lock()
	if p.netbios.m == nil {
		p.netbios.m = make(map[string]netbiosEntry)
	}
	p.netbios.m[upper] = entry
	p.netbios.mu.Unlock()
	if realm == "" {
		return upper
	}
	return realm
}

// configuredRealm reports whether realm is the default realm or has a
// [realms] section.
func configuredRealm(conf *config.Config, realm string) bool {
	if strings.EqualFold(conf.LibDefaults.DefaultRealm, realm) {
		return true
	}
	for _, r := range conf.Realms {
		if strings.EqualFold(r.Realm, realm) {
			return true
		}
	}
	return false
}

// locateDomain asks the DCs of the configured realms for the DNS name of
// the NetBIOS domain; "" when none knows it.
func (p *Package) locateDomain(ctx context.Context, conf *config.Config, netbios string) string {
	var hosts []string
	seen := map[string]bool{}
	add := func(r config.Realm) {
		for _, kdc := range r.KDC {
			h := kdc
			if host, _, err := net.SplitHostPort(kdc); err == nil {
				h = host
			}
			if h != "" && !seen[h] && !strings.Contains(h, "://") {
				seen[h] = true
				hosts = append(hosts, h)
			}
		}
	}
	for _, r := range conf.Realms {
		if strings.EqualFold(r.Realm, conf.LibDefaults.DefaultRealm) {
			add(r)
		}
	}
	for _, r := range conf.Realms {
		add(r)
	}
	for _, h := range hosts {
		if ctx.Err() != nil {
			return ""
		}
		resp, err := cldap.Ping(ctx, net.JoinHostPort(h, ldapPingPort), cldap.Request{}, pingTimeout)
		if err != nil {
			slog.DebugContext(ctx, "kerberos: LDAP ping failed", "dc", h, "domain", netbios, "err", err)
			continue
		}
		if strings.EqualFold(resp.NetBIOSDomain, netbios) && resp.DNSDomainName != "" {
			realm := strings.ToUpper(resp.DNSDomainName)
			slog.DebugContext(ctx, "kerberos: NetBIOS domain mapped by the DC locator",
				"domain", netbios, "realm", realm, "dc", resp.DNSHostName)
			return realm
		}
	}
	return ""
}
