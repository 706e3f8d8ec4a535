package kerberos

import (
	"context"
	"log/slog"
	"strings"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Host-based service names ("HTTP@web", GSS_C_NT_HOSTBASED_SERVICE) are
// turned into principals as MIT krb5 does (krb5_sname_to_principal):
//
//   - dns_canonicalize_hostname (default true): the host name is replaced
//     by its canonical name in DNS (CNAME chain, search domains applied),
//     and then, if rdns (default true), by the name the reverse lookup of
//     its first address gives; "fallback" uses the name as given first and
//     the canonical one only when the KDC does not know the first; false
//     uses the name as given;
//   - the name is lower-cased and its trailing dot dropped;
//   - the realm is the host's domain_realm mapping, else the default
//     realm, else (no configuration at all) the client's realm.
//
// Targets written as SPNs ("HTTP/web.example.com") are used as they are,
// as Windows uses them.

// canonMode is the dns_canonicalize_hostname setting.
type canonMode uint8

const (
	canonTrue canonMode = iota
	canonFalse
	canonFallback
)

// hostCanonicalization returns dns_canonicalize_hostname and rdns.
func (p *Package) hostCanonicalization() (canonMode, bool) {
	conf, err := p.krb5conf()
	if err != nil {
		return canonFalse, false
	}
	if p.config.Krb5Conf != nil {
		m := canonFalse
		if conf.LibDefaults.DNSCanonicalizeHostname {
			m = canonTrue
		}
		return m, conf.LibDefaults.RDNS
	}
	mode := canonTrue
	switch strings.ToLower(p.confValue("dns_canonicalize_hostname")) {
	case "false", "no", "off", "0", "n", "f":
		mode = canonFalse
	case "fallback":
		mode = canonFallback
	}
	rdns := true
	switch strings.ToLower(p.confValue("rdns")) {
	case "false", "no", "off", "0", "n", "f":
		rdns = false
	}
	return mode, rdns
}

// canonicalHost returns host's canonical name by MIT's rules (without
// the mode check), or host when DNS has nothing better.
func (p *Package) canonicalHost(ctx context.Context, host string, rdns bool) string {
	res := p.resolver()
	name := host
	if cname, err := res.LookupCNAME(ctx, host); err == nil && cname != "" {
		name = cname
	}
	if rdns {
		if addrs, err := res.LookupHost(ctx, name); err == nil && len(addrs) > 0 {
			if names, err := res.LookupAddr(ctx, addrs[0]); err == nil && len(names) > 0 && names[0] != "" {
				name = names[0]
			}
		}
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name != host {
		slog.DebugContext(ctx, "kerberos: host name canonicalized", "host", host, "canonical", name)
	}
	return name
}

// targetNames returns the principal and realm to ask for a target: the
// first to try and, in fallback mode, a second one when the KDC does not
// know the first.
func (c *credentials) targetNames(ctx context.Context, target string) (sname types.PrincipalName, realm string, alt *types.PrincipalName, altRealm string, err error) {
	sname, realm, err = parseTarget(c.conf, target)
	if err != nil {
		return
	}
	fill := func(r string) string {
		if r == "" {
			return c.crealm
		}
		return r
	}
	realm = fill(realm)
	if sname.NameType != nametype.KRB_NT_SRV_HST || len(sname.NameString) != 2 || strings.Contains(target, "/") {
		return
	}
	mode, rdns := c.p.hostCanonicalization()
	if mode == canonFalse {
		return
	}
	host := sname.NameString[1]
	canon := c.p.canonicalHost(ctx, host, rdns)
	if canon == host {
		return
	}
	cn := types.PrincipalName{NameType: nametype.KRB_NT_SRV_HST, NameString: []string{sname.NameString[0], canon}}
	cr := fill(hostRealm(c.conf, canon))
	if mode == canonFallback {
		return sname, realm, &cn, cr, nil
	}
	return cn, cr, nil, "", nil
}
