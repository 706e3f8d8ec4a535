// Package ad tests go-ldap's GSSAPIBind with package sasl against the
// Samba AD DC of internal/adtest. It is a package of its own because the
// harness re-executes the test binary inside private namespaces.
package ad

import (
	"bytes"
	"context"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/adtest"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/sasl"
)

func TestMain(m *testing.M) { os.Exit(adtest.Main(m)) }

const (
	baseDN   = "DC=samba,DC=test"
	schemaDN = "CN=Aggregate,CN=Schema,CN=Configuration," + baseDN
)

// TestGSSAPIBindSamba: go-ldap binds to the DC's LDAP server with
// GSSAPIBind over our sasl.Client (Kerberos, and Negotiate choosing
// Kerberos), as alice, with integrity and with confidentiality (over
// plain LDAP the DC requires one of them). The root DSE's tokenGroups
// show the DC bound the connection to alice; the subschema search, a
// response of several hundred kilobytes, goes through the layer in many
// frames.
func TestGSSAPIBindSamba(t *testing.T) {
	dc := adtest.Require(t)
	conf, err := config.Load(dc.Krb5Conf)
	if conf == nil {
		t.Fatalf("load %s: %v", dc.Krb5Conf, err)
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	reg := sspi.NewRegistry()
	reg.Register(krb)
	reg.Register(negotiate.New(&negotiate.Config{Kerberos: krb}))
	for _, pkg := range []string{"Kerberos", "Negotiate"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cred, err := reg.AcquireCredentials(ctx, pkg, sspi.CredentialsOutbound,
			&sspi.AuthIdentity{User: adtest.Alice.Name, Domain: adtest.Realm, Password: adtest.Alice.Password})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		defer cred.Free()
		for _, layer := range []sasl.Layer{sasl.LayerIntegrity, sasl.LayerConfidentiality} {
			t.Run(pkg+"/"+layer.String(), func(t *testing.T) {
				raw, err := net.DialTimeout("tcp", dc.LDAPAddr(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				raw.SetDeadline(time.Now().Add(30 * time.Second))
				conn := sasl.NewConn(raw)
				lc := ldap.NewConn(conn, false)
				lc.Start()
				defer lc.Close()
				client := sasl.NewClient(cred, &sasl.ClientConfig{Layer: layer, RequireLayer: true, Conn: conn})
				if err := lc.GSSAPIBind(client, "ldap/"+adtest.DCHost, ""); err != nil {
					t.Fatalf("GSSAPIBind: %v\n--- samba's log:\n%s", err, dc.LogTail(6))
				}
				if sec := client.Security(); sec == nil || sec.Layer() != layer {
					t.Fatalf("layer %v, want %v", sec, layer)
				}
				// The DC has no WhoAmI; the root DSE's tokenGroups are the
				// groups of the user bound, alice's Engineers among them.
				res, err := lc.Search(ldap.NewSearchRequest(baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
					0, 10, false, "(sAMAccountName="+adtest.GroupEngineers+")", []string{"objectSid"}, nil))
				if err != nil {
					t.Fatalf("Search: %v", err)
				}
				if len(res.Entries) != 1 {
					t.Fatalf("search of %s: %d entries", adtest.GroupEngineers, len(res.Entries))
				}
				sid := res.Entries[0].GetRawAttributeValue("objectSid")
				res, err = lc.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases,
					0, 10, false, "(objectClass=*)", []string{"tokenGroups"}, nil))
				if err != nil {
					t.Fatalf("root DSE search: %v", err)
				}
				if len(res.Entries) != 1 || len(sid) == 0 || !slices.ContainsFunc(res.Entries[0].GetRawAttributeValues("tokenGroups"),
					func(g []byte) bool { return bytes.Equal(g, sid) }) {
					t.Fatalf("the tokenGroups of the connection lack %s: not bound as alice?", adtest.GroupEngineers)
				}
				res, err = lc.Search(ldap.NewSearchRequest(schemaDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
					0, 20, false, "(objectClass=*)", []string{"attributeTypes"}, nil))
				if err != nil {
					t.Fatalf("schema search: %v", err)
				}
				if len(res.Entries) != 1 || len(res.Entries[0].GetAttributeValues("attributeTypes")) < 1000 {
					t.Fatalf("schema search: %d entries", len(res.Entries))
				}
				if err := lc.Unbind(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
