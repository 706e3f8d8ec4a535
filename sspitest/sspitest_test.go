package sspitest_test

import (
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/sspitest"
)

// Negotiate selects Kerberos against the realm's KDC, and the server sees
// the user and the groups it was given.
func TestRealmNegotiate(t *testing.T) {
	realm := sspitest.NewRealm(t)
	bob := realm.AddUser(t, "bob", kdc.User{GroupRIDs: []uint32{512}})
	kt := realm.AddService(t, "HTTP/app.sspitest.test")
	c, s := sspitest.Handshake(t, realm.Credentials(t, "Negotiate", bob), realm.ServerCredentials(t, "Negotiate", kt),
		"HTTP/app.sspitest.test", sspi.ISC_REQ_MUTUAL_AUTH|sspi.ISC_REQ_CONFIDENTIALITY)
	if got := c.NegotiatedPackage(); got != "Kerberos" {
		t.Fatalf("Negotiate selected %q", got)
	}
	name, err := s.UserName()
	if err != nil || name != "bob@"+sspitest.DefaultRealm {
		t.Fatalf("server sees %q (%v)", name, err)
	}
	pac, ok := s.PAC()
	dom, _ := realm.KDC.DomainSID(sspitest.DefaultRealm)
	if !ok || len(pac.GroupSIDs) != 2 || pac.GroupSIDs[1] != dom+"-512" {
		t.Fatalf("PAC groups %v", pac)
	}
}
