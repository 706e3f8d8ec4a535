package kerberos

import (
	"errors"
	"strings"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// parseTarget turns an SSPI target name into a principal and realm:
// "service/host[@REALM]", a GSS host-based "service@host", or a user
// principal "user[@REALM]".
func parseTarget(conf *config.Config, target string) (types.PrincipalName, string, error) {
	if target == "" {
		return types.PrincipalName{}, "", errors.New("kerberos: empty target name")
	}
	name, realm := target, ""
	if i := strings.LastIndexByte(target, '@'); i >= 0 {
		name, realm = target[:i], target[i+1:]
	}
	if name == "" {
		return types.PrincipalName{}, "", errors.New("kerberos: malformed target name")
	}
	if strings.Contains(name, "/") {
		parts := strings.Split(name, "/")
		for _, p := range parts {
			if p == "" {
				return types.PrincipalName{}, "", errors.New("kerberos: malformed target name")
			}
		}
		if realm == "" && len(parts) >= 2 {
			realm = hostRealm(conf, parts[1])
		}
		if realm == "" {
			realm = conf.LibDefaults.DefaultRealm
		}
		return types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: parts}, realm, nil
	}
	if realm != "" && !isRealm(conf, realm) {
		// GSS_C_NT_HOSTBASED_SERVICE "service@host".
		host := strings.ToLower(realm)
		return types.PrincipalName{NameType: nametype.KRB_NT_SRV_HST, NameString: []string{name, host}}, hostRealm(conf, host), nil
	}
	if realm == "" {
		realm = conf.LibDefaults.DefaultRealm
	}
	return types.PrincipalName{NameType: nametype.KRB_NT_PRINCIPAL, NameString: []string{name}}, realm, nil
}

// isRealm reports whether s names a realm of the configuration (or is
// written in upper case, as realms are by convention).
func isRealm(conf *config.Config, s string) bool {
	if s == conf.LibDefaults.DefaultRealm {
		return true
	}
	for _, r := range conf.Realms {
		if r.Realm == s {
			return true
		}
	}
	return s == strings.ToUpper(s) && strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// hostRealm maps a host to its realm with domain_realm, else the default
// realm.
func hostRealm(conf *config.Config, host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i+1:], "]") {
		host = host[:i]
	}
	host = strings.ToLower(host)
	if r, ok := conf.DomainRealm[host]; ok {
		return r
	}
	for d := host; ; {
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i:]
		if r, ok := conf.DomainRealm[d]; ok {
			return r
		}
		d = d[1:]
	}
	return conf.LibDefaults.DefaultRealm
}
