package kdc

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/gosspi/sspi/packages/kerberos"
)

// marshalKeytab writes the keys of ps in the keytab file format version
// 0x502 (MIT's, big-endian), one entry per key.
func marshalKeytab(ts time.Time, ps ...*principal) []byte {
	be := binary.BigEndian
	b := []byte{5, 2}
	str := func(e []byte, s string) []byte { return append(be.AppendUint16(e, uint16(len(s))), s...) }
	for _, p := range ps {
		for _, k := range p.keys {
			e := be.AppendUint16(nil, uint16(len(p.name.NameString)))
			e = str(e, p.realm)
			for _, c := range p.name.NameString {
				e = str(e, c)
			}
			e = be.AppendUint32(e, uint32(p.name.NameType))
			e = be.AppendUint32(e, uint32(ts.Unix()))
			e = append(e, byte(p.kvno))
			e = be.AppendUint16(e, uint16(k.etype))
			e = be.AppendUint16(e, uint16(len(k.value)))
			e = append(e, k.value...)
			e = be.AppendUint32(e, uint32(p.kvno))
			b = be.AppendUint32(b, uint32(len(e)))
			b = append(b, e...)
		}
	}
	return b
}

func newKeytab(ts time.Time, p *principal) (*kerberos.Keytab, error) {
	kt := keytab.New()
	if err := kt.Unmarshal(marshalKeytab(ts, p)); err != nil {
		return nil, fmt.Errorf("kdc: keytab: %w", err)
	}
	return &kerberos.Keytab{Keytab: kt, Principal: p.String()}, nil
}

// WriteKeytab writes a keytab file at path (mode 0600) with the keys of
// the named principals (services, users, "krbtgt/REALM"; "@REALM" or the
// first realm).
func (k *KDC) WriteKeytab(path string, names ...string) error {
	k.mu.RLock()
	var ps []*principal
	for _, n := range names {
		p, err := k.lookupString(n)
		if err != nil {
			k.mu.RUnlock()
			return err
		}
		ps = append(ps, p)
	}
	b := marshalKeytab(k.cfg.now(), ps...)
	k.mu.RUnlock()
	return os.WriteFile(path, b, 0o600)
}

// Krb5Conf returns a krb5.conf for this KDC: its realms (the first as
// default realm), each with the KDC's address when it listens (see
// [KDC.Listen]), DNS lookups off, the KDC's enctypes permitted
// (allow_weak_crypto when rc4-hmac is among them) and forwardable
// tickets by default.
func (k *KDC) Krb5Conf() string {
	var s strings.Builder
	names := map[int32]string{
		AES256CTSHMACSHA196: "aes256-cts-hmac-sha1-96", AES128CTSHMACSHA196: "aes128-cts-hmac-sha1-96",
		AES256CTSHMACSHA384192: "aes256-cts-hmac-sha384-192", AES128CTSHMACSHA256128: "aes128-cts-hmac-sha256-128",
		RC4HMAC: "rc4-hmac",
	}
	var enc []string
	weak := false
	for _, e := range k.enctypes {
		enc = append(enc, names[e])
		weak = weak || e == RC4HMAC
	}
	fmt.Fprintf(&s, "[libdefaults]\n\tdefault_realm = %s\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n", k.cfg.Realm)
	fmt.Fprintf(&s, "\trdns = false\n\tdns_canonicalize_hostname = false\n\tforwardable = true\n\tudp_preference_limit = 1465\n")
	fmt.Fprintf(&s, "\tdefault_tkt_enctypes = %s\n\tdefault_tgs_enctypes = %s\n\tpermitted_enctypes = %s\n",
		strings.Join(enc, " "), strings.Join(enc, " "), strings.Join(enc, " "))
	if weak {
		s.WriteString("\tallow_weak_crypto = true\n\tallow_rc4 = true\n")
	}
	s.WriteString("\n[realms]\n")
	addr := k.Addr()
	for _, r := range k.Realms() {
		fmt.Fprintf(&s, "\t%s = {\n", r)
		if addr.UDP != "" {
			fmt.Fprintf(&s, "\t\tkdc = %s\n", addr.UDP)
		}
		if addr.TCP != "" && addr.TCP != addr.UDP {
			fmt.Fprintf(&s, "\t\tkdc = tcp/%s\n", addr.TCP)
		}
		s.WriteString("\t}\n")
	}
	s.WriteString("\n[domain_realm]\n")
	for _, r := range k.Realms() {
		l := strings.ToLower(r)
		fmt.Fprintf(&s, "\t.%s = %s\n\t%s = %s\n", l, r, l, r)
	}
	return s.String()
}

// Krb5Config returns [KDC.Krb5Conf] parsed, for kerberos.Config.Krb5Conf.
func (k *KDC) Krb5Config() *config.Config {
	c, err := config.NewFromString(k.Krb5Conf())
	if err != nil && c == nil {
		// The text is ours; gokrb5 reports directives it ignores as errors
		// but still returns the configuration.
		c = config.New()
	}
	return c
}

// WriteKrb5Conf writes [KDC.Krb5Conf] at path, for MIT tools
// (KRB5_CONFIG=path).
func (k *KDC) WriteKrb5Conf(path string) error {
	return os.WriteFile(path, []byte(k.Krb5Conf()), 0o644)
}
