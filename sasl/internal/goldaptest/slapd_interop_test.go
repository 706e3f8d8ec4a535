package goldaptest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/sasl"
)

// Interop with OpenLDAP slapd 2.5 (SASL through Cyrus SASL's GSSAPI
// plugin over MIT krb5 1.20): go-ldap's GSSAPIBind with our sasl.Client
// binds as alice of the MIT test realm, then searches and asks "who am
// I" through the security layer the two agreed on. slapd's ACL returns
// alice's description only to a connection of SSF 56 or more, so the
// search shows which layer slapd itself sees.

const (
	baseDN  = "dc=example,dc=com"
	aliceDN = "uid=alice,ou=people," + baseDN
)

// secret is alice's description, long enough to need several frames of
// the client's 3000-byte receive buffer.
var secret = strings.Repeat("sealed-only ", 2000)

var (
	ldapKeytabOnce sync.Once
	ldapKeytab     string
	ldapKeytabErr  error
)

// ldapServiceKeytab adds ldap/localhost to the shared test KDC (once per
// test binary) and returns a keytab holding its key.
func ldapServiceKeytab(t *testing.T, k *peers.KDC) string {
	t.Helper()
	kadmin := peers.Tool(t, "kadmin.local", "krb5-admin-server")
	ldapKeytabOnce.Do(func() {
		kt := filepath.Join(k.Dir, "ldap.keytab")
		env := append(k.Env(""), "KRB5_KDC_PROFILE="+filepath.Join(k.Dir, "kdc.conf"))
		for _, q := range []string{"addprinc -randkey ldap/localhost", "ktadd -norandkey -k " + kt + " ldap/localhost"} {
			cmd := exec.Command(kadmin, "-r", k.Realm, "-q", q)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				ldapKeytabErr = fmt.Errorf("kadmin.local %q: %v\n%s", q, err, out)
				return
			}
		}
		ldapKeytab = kt
	})
	if ldapKeytabErr != nil {
		t.Fatal(ldapKeytabErr)
	}
	return ldapKeytab
}

// startSlapd runs slapd on 127.0.0.1 with an mdb database holding
// alice, SASL GSSAPI as ldap/localhost, sasl-secprops minssf=minSSF, and
// returns its address.
func startSlapd(t *testing.T, k *peers.KDC, minSSF int) string {
	t.Helper()
	slapd := peers.Tool(t, "slapd", "slapd")
	slapadd := peers.Tool(t, "slapadd", "slapd")
	plugins, _ := filepath.Glob("/usr/lib/*/sasl2/libgssapiv2.so*")
	peers.Require(t, "the Cyrus SASL GSSAPI plugin (apt-get install -y libsasl2-modules-gssapi-mit)", len(plugins) > 0)
	kt := ldapServiceKeytab(t, k)
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
sasl-host localhost
sasl-realm %[2]s
sasl-secprops noanonymous,minssf=%[3]d
authz-regexp "uid=([^,/]*),cn=%[4]s,cn=gssapi,cn=auth" "uid=$1,ou=people,%[5]s"
database mdb
suffix "%[5]s"
directory %[6]s
maxsize 10485760
access to attrs=description by users ssf=56 read by * none
access to * by users read by * none
`, dir, k.Realm, minSSF, strings.ToLower(k.Realm), baseDN, db)), 0o600); err != nil {
		t.Fatal(err)
	}
	ldif := fmt.Sprintf(`dn: %[1]s
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,%[1]s
objectClass: organizationalUnit
ou: people

dn: %[2]s
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Liddell
description: %[3]s
`, baseDN, aliceDN, secret)
	add := exec.Command(slapadd, "-f", conf)
	add.Stdin = strings.NewReader(ldif)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	cmd := exec.Command(slapd, "-d", "0", "-h", "ldap://"+addr+"/", "-f", conf)
	cmd.Env = append(k.Env(""), "KRB5_KTNAME=FILE:"+kt)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("slapd log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd did not listen on %s:\n%s", addr, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGSSAPIBindSlapd: for minssf 0 and 56, and each layer the client
// asks for, go-ldap binds to slapd with GSSAPIBind (GSSAPIBindRequest for
// one case) over our sasl.Client and sasl.Conn. WhoAmI gives alice's DN
// (slapd's authz-regexp of the Kerberos principal); the search returns
// her description exactly when the layer slapd sees is confidentiality.
// With minssf=56 slapd offers confidentiality alone and the client,
// wishing for less, gets it.
func TestGSSAPIBindSlapd(t *testing.T) {
	k := peers.MITKDC(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	reg := sspi.NewRegistry()
	reg.Register(kerberos.New(&kerberos.Config{Krb5Conf: conf}))
	cred, err := reg.AcquireCredentials(bg, "Kerberos", sspi.CredentialsOutbound,
		&sspi.AuthIdentity{User: "alice", Domain: k.Realm, Password: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	for _, minSSF := range []int{0, 56} {
		addr := startSlapd(t, k, minSSF)
		for _, tt := range []struct {
			want, got sasl.Layer
			request   bool // GSSAPIBindRequest instead of GSSAPIBind
		}{
			{sasl.LayerNone, sasl.LayerNone, false},
			{sasl.LayerIntegrity, sasl.LayerIntegrity, false},
			{sasl.LayerConfidentiality, sasl.LayerConfidentiality, true},
		} {
			if minSSF >= 56 {
				tt.got = sasl.LayerConfidentiality
			}
			t.Run("minssf="+strconv.Itoa(minSSF)+"/"+tt.want.String(), func(t *testing.T) {
				raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				raw.SetDeadline(time.Now().Add(20 * time.Second))
				conn := sasl.NewConn(raw)
				lc := ldap.NewConn(conn, false)
				lc.Start()
				defer lc.Close()
				client := sasl.NewClient(cred, &sasl.ClientConfig{Layer: tt.want, MaxReceive: 3000, Conn: conn})
				if tt.request {
					err = lc.GSSAPIBindRequest(client, &ldap.GSSAPIBindRequest{ServicePrincipalName: "ldap/localhost"})
				} else {
					err = lc.GSSAPIBind(client, "ldap/localhost", "")
				}
				if err != nil {
					t.Fatalf("bind: %v", err)
				}
				if sec := client.Security(); sec == nil || sec.Layer() != tt.got {
					t.Fatalf("layer %v, want %v", sec, tt.got)
				}
				if conn.Active() != (tt.got != sasl.LayerNone) {
					t.Fatalf("Conn active %v with layer %v", conn.Active(), tt.got)
				}
				who, err := lc.WhoAmI(nil)
				if err != nil {
					t.Fatalf("WhoAmI: %v", err)
				}
				if !strings.EqualFold(who.AuthzID, "dn:"+aliceDN) {
					t.Fatalf("WhoAmI = %q, want dn:%s", who.AuthzID, aliceDN)
				}
				res, err := lc.Search(ldap.NewSearchRequest(baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
					0, 10, false, "(uid=alice)", []string{"cn", "description"}, nil))
				if err != nil {
					t.Fatalf("Search: %v", err)
				}
				if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("cn") != "Alice" {
					t.Fatalf("search: %d entries", len(res.Entries))
				}
				desc := res.Entries[0].GetAttributeValue("description")
				if sealed := tt.got == sasl.LayerConfidentiality; (desc == secret) != sealed || (!sealed && desc != "") {
					t.Fatalf("description of %d bytes with layer %v (slapd returns it at SSF 56 and more)", len(desc), tt.got)
				}
				if err := lc.Unbind(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
