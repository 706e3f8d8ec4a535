package kerberos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/jcmturner/gokrb5/v8/config"
)

// Resolver is the DNS interface the package uses to find KDCs, domain
// controllers and the canonical names of hosts. *net.Resolver satisfies
// it; [Config.Resolver] replaces it (tests point one at a DNS server on
// loopback).
//
// A Resolver may also have a method SearchDomains() []string giving the
// DNS suffixes a NetBIOS domain name is looked for under; without it the
// search and domain lines of /etc/resolv.conf are used.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
}

// resolver returns the DNS resolver in force: Config.Resolver, else the
// system's. In a test binary (one whose -test.v flag is registered) the
// default refuses to reach a DNS server off loopback, so that tests which
// forget to set Config.Resolver never send a query off the machine.
func (p *Package) resolver() Resolver {
	if p.config.Resolver != nil {
		return p.config.Resolver
	}
	if flag.Lookup("test.v") != nil {
		return loopbackOnlyResolver
	}
	return net.DefaultResolver
}

var loopbackOnlyResolver = &net.Resolver{
	PreferGo: true,
	Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("kerberos: test binary: DNS server %s is not on loopback (set Config.Resolver)", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	},
}

// kdcTransport is how one KDC is reached.
type kdcTransport uint8

const (
	transportUDP kdcTransport = iota + 1
	transportTCP
	transportHTTPS // MS-KKDCP
)

func (t kdcTransport) String() string {
	switch t {
	case transportUDP:
		return "udp"
	case transportTCP:
		return "tcp"
	case transportHTTPS:
		return "https"
	}
	return "?"
}

// kdcServer is one KDC entry: a host and port to be resolved, or a KDC
// proxy URL. transport 0 means either UDP or TCP (a krb5.conf entry with
// no prefix).
type kdcServer struct {
	transport kdcTransport
	host      string // name or address, without brackets
	port      string
	url       string // transportHTTPS
}

func (s kdcServer) String() string {
	if s.transport == transportHTTPS {
		return s.url
	}
	hp := net.JoinHostPort(s.host, s.port)
	if s.transport == 0 {
		return hp
	}
	return s.transport.String() + "/" + hp
}

// KDCSource says how the KDCs of a realm were found.
type KDCSource string

// The ways KDCs are found, in the order they are tried.
const (
	KDCSourceConfig  KDCSource = "krb5.conf" // the realm's kdc relations
	KDCSourceDNS     KDCSource = "DNS SRV"   // _kerberos._udp/_tcp.REALM
	KDCSourceMSDCS   KDCSource = "DNS SRV (Active Directory _msdcs)"
	KDCSourceLocator KDCSource = "DC locator" // kept for NetBIOS names
)

// KDCLocation is what [Package.LocateKDCs] found for a realm.
type KDCLocation struct {
	Realm  string
	Source KDCSource
	// Queries lists the DNS names asked, in order (empty for krb5.conf).
	Queries []string
	// KDCs lists the entries found, as krb5.conf would write them
	// ("udp/host:88", "tcp/host:88", "https://host/KdcProxy").
	KDCs []string
}

// parseKDCEntry reads a krb5.conf kdc value as MIT does: "host",
// "host:port", "[v6]:port", "tcp/host...", "udp/host...", or an https URL
// (MS-KKDCP). gokrb5 appends ":88" to values without a colon.
func parseKDCEntry(v string) (kdcServer, bool) {
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "*"))
	if strings.HasPrefix(strings.ToLower(v), "https://") {
		u := v
		if strings.HasSuffix(u, ":88") && strings.Count(u, ":") > 1 && !strings.Contains(u[len("https://"):], "/") {
			// gokrb5 added a port to a URL without one; MIT would not.
			u = strings.TrimSuffix(u, ":88")
		}
		return kdcServer{transport: transportHTTPS, url: u}, true
	}
	var tr kdcTransport
	switch {
	case strings.HasPrefix(v, "tcp/"):
		tr, v = transportTCP, v[4:]
	case strings.HasPrefix(v, "udp/"):
		tr, v = transportUDP, v[4:]
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		host, port = strings.Trim(v, "[]"), "88"
	}
	if host == "" {
		return kdcServer{}, false
	}
	if port == "" {
		port = "88"
	}
	return kdcServer{transport: tr, host: host, port: port}, true
}

// dnsLookupKDC reports whether KDCs may be looked up in DNS: krb5.conf's
// dns_lookup_kdc, true by default as in MIT krb5. A configuration passed
// in Config.Krb5Conf is taken as it is (gokrb5's default there is false).
func (p *Package) dnsLookupKDC(conf *config.Config) bool {
	if p.config.Krb5Conf != nil {
		return conf.LibDefaults.DNSLookupKDC
	}
	if v := p.confValue("dns_lookup_kdc"); v != "" {
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v)))
		if err != nil {
			switch strings.ToLower(v) {
			case "yes", "on":
				return true
			case "no", "off":
				return false
			}
		}
		return err != nil || b
	}
	return true
}

// locateKDCs finds the KDCs of realm: the kdc relations of krb5.conf,
// else (dns_lookup_kdc, default true) the DNS SRV records
// _kerberos._udp.REALM and _kerberos._tcp.REALM (RFC 4120 7.2.3.2), else
// the Active Directory forms _kerberos._tcp.dc._msdcs.REALM and
// _kerberos._udp.dc._msdcs.REALM. SRV answers are ordered by RFC 2782.
func (p *Package) locateKDCs(ctx context.Context, realm string) ([]kdcServer, KDCLocation, error) {
	loc := KDCLocation{Realm: realm}
	conf, err := p.krb5conf()
	if err != nil {
		return nil, loc, err
	}
	for _, r := range conf.Realms {
		if !strings.EqualFold(r.Realm, realm) {
			continue
		}
		var out []kdcServer
		for _, v := range r.KDC {
			if s, ok := parseKDCEntry(v); ok {
				out = append(out, s)
				loc.KDCs = append(loc.KDCs, s.String())
			}
		}
		if len(out) > 0 {
			loc.Source = KDCSourceConfig
			return out, loc, nil
		}
	}
	if realm == "" || !p.dnsLookupKDC(conf) {
		return nil, loc, fmt.Errorf("%w for realm %q (not in krb5.conf, DNS lookup off)", ErrNoKDC, realm)
	}
	res := p.resolver()
	domain := strings.TrimSuffix(strings.ToLower(realm), ".")
	var errs []error
	lookup := func(name string, tr kdcTransport, proto string) []kdcServer {
		loc.Queries = append(loc.Queries, "_kerberos._"+proto+"."+name)
		_, recs, err := res.LookupSRV(ctx, "kerberos", proto, name)
		if err != nil {
			errs = append(errs, err)
		}
		var out []kdcServer
		for _, r := range orderSRV(recs, rand.IntN) {
			host := strings.TrimSuffix(r.Target, ".")
			if host == "" {
				// "." : the service is decidedly not available (RFC 2782).
				return nil
			}
			out = append(out, kdcServer{transport: tr, host: host, port: strconv.Itoa(int(r.Port))})
		}
		return out
	}
	found := append(lookup(domain, transportUDP, "udp"), lookup(domain, transportTCP, "tcp")...)
	loc.Source = KDCSourceDNS
	if len(found) == 0 && ctx.Err() == nil {
		msdcs := "dc._msdcs." + domain
		found = append(lookup(msdcs, transportTCP, "tcp"), lookup(msdcs, transportUDP, "udp")...)
		loc.Source = KDCSourceMSDCS
	}
	if len(found) == 0 {
		loc.Source = ""
		// "No such record" is the expected miss; any other DNS failure
		// (a timeout, a server failure) is worth showing.
		var cause error
		for _, e := range errs {
			var de *net.DNSError
			if !errors.As(e, &de) || !de.IsNotFound {
				cause = e
				break
			}
		}
		err := fmt.Errorf("%w for realm %q: not in krb5.conf, and no DNS SRV record %s", ErrNoKDC, realm, strings.Join(loc.Queries, ", "))
		if cause != nil {
			err = fmt.Errorf("%w (DNS: %w)", err, cause)
		}
		return nil, loc, err
	}
	for _, s := range found {
		loc.KDCs = append(loc.KDCs, s.String())
	}
	slog.DebugContext(ctx, "kerberos: KDCs found in DNS", "realm", realm, "source", string(loc.Source), "kdcs", loc.KDCs)
	return found, loc, nil
}

// LocateKDCs reports where the KDCs of realm are and how they were found,
// as the package's KDC client would reach them. It is for diagnostics
// (the sspi command's whoami); it sends no Kerberos traffic.
func (p *Package) LocateKDCs(ctx context.Context, realm string) (KDCLocation, error) {
	_, loc, err := p.locateKDCs(ctx, realm)
	return loc, err
}

// orderSRV orders SRV records as RFC 2782 says: by priority, lowest
// first, and within one priority by a weighted random draw (records of
// weight 0 first in the running sum, so that they are rarely picked
// before heavier ones). intN(n) returns a number in [0, n).
func orderSRV(recs []*net.SRV, intN func(int) int) []*net.SRV {
	in := slices.Clone(recs)
	in = slices.DeleteFunc(in, func(r *net.SRV) bool { return r == nil })
	slices.SortStableFunc(in, func(a, b *net.SRV) int { return int(a.Priority) - int(b.Priority) })
	out := make([]*net.SRV, 0, len(in))
	for len(in) > 0 {
		end := 1
		for end < len(in) && in[end].Priority == in[0].Priority {
			end++
		}
		group := in[:end]
		// Zero weights first, as the RFC's selection algorithm places them.
		slices.SortStableFunc(group, func(a, b *net.SRV) int {
			return boolInt(a.Weight != 0) - boolInt(b.Weight != 0)
		})
		for len(group) > 0 {
			sum := 0
			for _, r := range group {
				sum += int(r.Weight)
			}
			pick := 0
			if sum > 0 {
				n := intN(sum + 1) // 0..sum inclusive
				run := 0
				for i, r := range group {
					run += int(r.Weight)
					if run >= n {
						pick = i
						break
					}
				}
			}
			out = append(out, group[pick])
			group = slices.Delete(group, pick, pick+1)
		}
		in = in[end:]
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// searchDomains returns the DNS suffixes a single-label domain name is
// looked for under: the resolver's own, else /etc/resolv.conf's search
// (or domain) line, then the domain of the host name.
func (p *Package) searchDomains() []string {
	if s, ok := p.resolver().(interface{ SearchDomains() []string }); ok {
		return s.SearchDomains()
	}
	var out []string
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "search" || f[0] == "domain") {
				for _, d := range f[1:] {
					d = strings.ToLower(strings.TrimSuffix(d, "."))
					if d != "" && !slices.Contains(out, d) {
						out = append(out, d)
					}
				}
			}
		}
	}
	if h, err := os.Hostname(); err == nil {
		if _, d, ok := strings.Cut(h, "."); ok && d != "" && !slices.Contains(out, strings.ToLower(d)) {
			out = append(out, strings.ToLower(d))
		}
	}
	return out
}
