package kerberos

// ConfigFile returns the krb5.conf file the package read ("" when none:
// KRB5_CONFIG names no existing file, or it is unset and /etc/krb5.conf
// is absent, or the configuration came in Config.Krb5Conf) and any error
// reading it. It is for diagnostics.
func (p *Package) ConfigFile() (string, error) {
	_, err := p.krb5conf()
	return p.confPath, err
}
