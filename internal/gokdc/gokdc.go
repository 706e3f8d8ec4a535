// Package gokdc starts the test realm of scripts/testkdc.sh (realm
// GOSSPI.TEST, the same principals, passwords and files) on the KDC of
// package kdc instead of MIT krb5kdc, so that the demo and the tests run
// Kerberos where MIT Kerberos is not installed. It does not import
// testing, so the shipped command can use it; internal/peers runs it in a
// child process (gokdcd), since the packages it tests are below kdc in
// the import graph.
package gokdc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/packages/kerberos"
)

// RealmName is the realm's name, the one of scripts/testkdc.sh.
const RealmName = "GOSSPI.TEST"

// Realm is the test realm on a KDC of package kdc listening on
// 127.0.0.1: users alice (password alice-pw) and bob (bob-pw), services
// HTTP/localhost and host/localhost with every enctype (ok-as-delegate),
// and e17/localhost ... e23/localhost with one enctype each.
type Realm struct {
	Dir           string // the realm's folder
	Realm         string
	Port          int    // UDP and TCP
	Krb5Conf      string // krb5.conf with DNS lookups off
	ServiceKeytab string // keys of every service principal
	ClientKeytab  string // alice's keys
	KDC           *kdc.KDC
}

// Users are the realm's users and their passwords.
var Users = map[string]string{"alice": "alice-pw", "bob": "bob-pw"}

// enctypeServices are the services with one enctype each, as
// scripts/testkdc.sh creates them.
var enctypeServices = []int32{kdc.AES128CTSHMACSHA196, kdc.AES256CTSHMACSHA196,
	kdc.AES128CTSHMACSHA256128, kdc.AES256CTSHMACSHA384192, kdc.RC4HMAC}

// enctypeNames are MIT's names of the enctypes, in the KDC's order of
// preference.
var enctypeNames = "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192 aes128-cts-hmac-sha256-128 arcfour-hmac"

// Start creates the realm's files in dir (which must exist), and starts
// its KDC on 127.0.0.1 (a free port, UDP and TCP). Call Stop when done.
func Start(dir string) (*Realm, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	k, err := kdc.New(kdc.Config{Realm: RealmName, Enctypes: append(append([]int32(nil), kdc.DefaultEnctypes...), kdc.RC4HMAC)})
	if err != nil {
		return nil, err
	}
	r := &Realm{Dir: dir, Realm: RealmName, KDC: k,
		Krb5Conf:      filepath.Join(dir, "krb5.conf"),
		ServiceKeytab: filepath.Join(dir, "service.keytab"),
		ClientKeytab:  filepath.Join(dir, "alice.keytab")}
	if err := r.setup(); err != nil {
		k.Close()
		return nil, fmt.Errorf("gokdc: %w", err)
	}
	return r, nil
}

func (r *Realm) setup() error {
	k := r.KDC
	for _, u := range []string{"alice", "bob"} {
		if err := k.AddUser(u, Users[u], kdc.User{}); err != nil {
			return err
		}
	}
	services := []string{"HTTP/localhost", "host/localhost"}
	for _, s := range services {
		if _, err := k.AddService(s, kdc.Service{OKAsDelegate: true}); err != nil {
			return err
		}
	}
	for _, e := range enctypeServices {
		s := fmt.Sprintf("e%d/localhost", e)
		if _, err := k.AddService(s, kdc.Service{Enctypes: []int32{e}}); err != nil {
			return err
		}
		services = append(services, s)
	}
	if err := k.WriteKeytab(r.ServiceKeytab, services...); err != nil {
		return err
	}
	if err := k.WriteKeytab(r.ClientKeytab, "alice"); err != nil {
		return err
	}
	addr, err := k.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(addr.TCP)
	r.Port, _ = strconv.Atoi(port)
	if addr.UDP != addr.TCP {
		return fmt.Errorf("UDP on %s and TCP on %s: one port expected", addr.UDP, addr.TCP)
	}
	return os.WriteFile(r.Krb5Conf, []byte(r.krb5Conf()), 0o644)
}

// krb5Conf is the krb5.conf of scripts/testkdc.sh for this realm.
func (r *Realm) krb5Conf() string {
	return fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	allow_weak_crypto = true
	allow_rc4 = true
	forwardable = true
	default_tkt_enctypes = %[4]s
	default_tgs_enctypes = %[4]s
	permitted_enctypes = %[4]s
	default_ccache_name = FILE:%[2]s/ccache
	default_client_keytab_name = FILE:%[2]s/alice.keytab
	default_keytab_name = FILE:%[2]s/service.keytab

[realms]
	%[1]s = {
		kdc = 127.0.0.1:%[3]d
	}

[domain_realm]
	localhost = %[1]s
	.gosspi.test = %[1]s
`, r.Realm, r.Dir, r.Port, enctypeNames)
}

// Kinit gets user a TGT with password through this module's Kerberos
// package (talking to the realm's KDC in process) and writes it, with a
// ticket for HTTP/localhost, to the FILE credential cache ccache, as MIT
// kinit would: a forwardable TGT, as the realm's krb5.conf asks.
func (r *Realm) Kinit(user, password, ccache string) error {
	krb := kerberos.New(&kerberos.Config{Transport: r.KDC, Krb5Conf: r.KDC.Krb5Config()})
	reg := sspi.NewRegistry()
	reg.Register(krb)
	ctx := context.Background()
	cred, err := reg.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: user, Domain: r.Realm, Password: password})
	if err != nil {
		return err
	}
	defer cred.Free()
	c, err := sspi.NewClientContext(cred, "HTTP/localhost", sspi.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		return err
	}
	defer c.Delete()
	if _, err := c.Step(ctx, nil); err != nil {
		return err
	}
	f, err := os.OpenFile(ccache, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := cred.WriteCCache(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Stop stops the KDC. It does not remove the folder, which the caller
// made. It is idempotent.
func (r *Realm) Stop() error {
	if r == nil || r.KDC == nil {
		return errors.New("gokdc: no realm")
	}
	return r.KDC.Close()
}
