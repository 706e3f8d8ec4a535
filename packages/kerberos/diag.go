package kerberos

import (
	"fmt"
	"os"
)

// ConfigFile returns the krb5.conf file the package read ("" when none:
// KRB5_CONFIG names no existing file, or it is unset and /etc/krb5.conf
// is absent, or the configuration came in Config.Krb5Conf) and any error
// reading it. It is for diagnostics.
func (p *Package) ConfigFile() (string, error) {
	_, err := p.krb5conf()
	return p.confPath, err
}

// DefaultCCacheName returns the name of the credential cache that
// default outbound credentials (nil auth data) read first, and where the
// name came from: KRB5CCNAME, krb5.conf's default_ccache_name, or the
// platform default. It is for diagnostics.
func (p *Package) DefaultCCacheName() (name, source string) {
	if v := os.Getenv("KRB5CCNAME"); v != "" {
		return v, "KRB5CCNAME"
	}
	if v := p.confValue("default_ccache_name"); v != "" {
		return v, "default_ccache_name in " + p.confPath
	}
	return fmt.Sprintf("FILE:/tmp/krb5cc_%d", os.Getuid()), "the platform default"
}
