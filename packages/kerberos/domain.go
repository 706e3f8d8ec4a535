package kerberos

import (
	"context"
	"log/slog"
	"math/rand/v2"
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
//     gives its DNS domain name, upper-cased, as the realm;
//  4. otherwise, as Windows' DC locator does in DNS, the domain
//     controllers of the SRV records _ldap._tcp.dc._msdcs.<name> are asked
//     the same way, for <name> the NetBIOS name itself (the resolver's
//     search list applies) and then each DNS search domain of the host
//     (Resolver.SearchDomains, else /etc/resolv.conf, then the domain of
//     the host name).
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
	how   string    // how the realm was found, for diagnostics
	until time.Time // zero: for good
}

// isNetBIOSName reports whether name looks like a NetBIOS domain name: one
// label, at most 15 characters.
func isNetBIOSName(name string) bool {
	return name != "" && len(name) <= 15 && !strings.ContainsAny(name, ".@\\/")
}

// realmForDomain returns the realm for the domain part of a user name.
func (p *Package) realmForDomain(ctx context.Context, conf *config.Config, domain string) string {
	realm, _ := p.mapDomain(ctx, conf, domain)
	return realm
}

// mapDomain returns the realm for domain and how it was found.
func (p *Package) mapDomain(ctx context.Context, conf *config.Config, domain string) (realm, how string) {
	upper := strings.ToUpper(domain)
	if !isNetBIOSName(domain) {
		return upper, "the DNS domain, upper-cased"
	}
	if configuredRealm(conf, upper) {
		return upper, "a realm of krb5.conf"
	}
	if r, ok := conf.DomainRealm[strings.ToLower(domain)]; ok && r != "" {
		return strings.ToUpper(r), "krb5.conf [domain_realm]"
	}
	now := time.Now()
	p.netbios.mu.Lock()
	e, ok := p.netbios.m[upper]
	p.netbios.mu.Unlock()
	if ok && (e.until.IsZero() || now.Before(e.until)) {
		if e.realm != "" {
			return e.realm, e.how
		}
		return upper, "a NetBIOS name no DC was found for (kept as it is; remembered for a minute)"
	}
	realm, how = p.locateDomain(ctx, conf, upper)
	entry := netbiosEntry{realm: realm, how: how}
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
		return upper, "a NetBIOS name no DC was found for (kept as it is): no krb5.conf realm or [domain_realm] entry, no DC answered the LDAP ping"
	}
	return realm, how
}

// MapDomain returns the Kerberos realm a user's domain maps to (a DNS
// domain upper-cased, a NetBIOS domain through krb5.conf or the DC
// locator) and a sentence saying how it was found. It is for diagnostics
// (the sspi command's whoami).
func (p *Package) MapDomain(ctx context.Context, domain string) (realm, how string, err error) {
	conf, err := p.krb5conf()
	if err != nil {
		return "", "", err
	}
	realm, how = p.mapDomain(ctx, conf, domain)
	return realm, how, nil
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

// locateDomain asks the DCs of the configured realms, then those DNS
// names, for the DNS name of the NetBIOS domain; "" when none knows it.
func (p *Package) locateDomain(ctx context.Context, conf *config.Config, netbios string) (realm, how string) {
	var hosts []string
	seen := map[string]bool{}
	add := func(r config.Realm) {
		for _, kdc := range r.KDC {
			s, ok := parseKDCEntry(kdc)
			if ok && s.host != "" && !seen[s.host] {
				seen[s.host] = true
				hosts = append(hosts, s.host)
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
	if realm, dc := p.pingDCs(ctx, hosts, netbios); realm != "" {
		return realm, "LDAP ping (CLDAP) to " + dc + ", a KDC of krb5.conf"
	}
	// DNS: the DC locator's SRV records.
	res := p.resolver()
	names := append([]string{strings.ToLower(netbios)}, p.searchDomains()...)
	for _, d := range names {
		if ctx.Err() != nil {
			return "", ""
		}
		_, recs, err := res.LookupSRV(ctx, "ldap", "tcp", "dc._msdcs."+d)
		if err != nil {
			slog.DebugContext(ctx, "kerberos: DC locator SRV lookup failed", "name", "_ldap._tcp.dc._msdcs."+d, "err", err)
			continue
		}
		var dcs []string
		for _, r := range orderSRV(recs, rand.IntN) {
			if h := strings.TrimSuffix(r.Target, "."); h != "" && !seen[h] {
				seen[h] = true
				dcs = append(dcs, h)
			}
		}
		if realm, dc := p.pingDCs(ctx, dcs, netbios); realm != "" {
			return realm, "DC locator: DNS SRV _ldap._tcp.dc._msdcs." + d + ", then LDAP ping (CLDAP) to " + dc
		}
	}
	return "", ""
}

// pingDCs sends the LDAP ping to each host in turn and returns the realm
// of the first whose NetBIOS domain is netbios, and that DC.
func (p *Package) pingDCs(ctx context.Context, hosts []string, netbios string) (string, string) {
	for _, h := range hosts {
		if ctx.Err() != nil {
			return "", ""
		}
		addr := net.JoinHostPort(h, ldapPingPort)
		if net.ParseIP(h) == nil {
			ips, err := p.resolver().LookupHost(ctx, h)
			if err != nil || len(ips) == 0 {
				slog.DebugContext(ctx, "kerberos: DC name does not resolve", "dc", h, "err", err)
				continue
			}
			addr = net.JoinHostPort(ips[0], ldapPingPort)
		}
		resp, err := cldap.Ping(ctx, addr, cldap.Request{}, pingTimeout)
		if err != nil {
			slog.DebugContext(ctx, "kerberos: LDAP ping failed", "dc", h, "domain", netbios, "err", err)
			continue
		}
		if strings.EqualFold(resp.NetBIOSDomain, netbios) && resp.DNSDomainName != "" {
			realm := strings.ToUpper(resp.DNSDomainName)
			slog.DebugContext(ctx, "kerberos: NetBIOS domain mapped by the DC locator",
				"domain", netbios, "realm", realm, "dc", resp.DNSHostName)
			return realm, h
		}
	}
	return "", ""
}
