package kdc_test

import (
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/sspitest"
)

// Delegation: the client forwards its TGT in a KRB-CRED (a forwarded TGT
// the KDC issues on request); the acceptor's delegated credentials then
// get a ticket for a second service in the client's name, whose PAC
// names the client.
func TestDelegation(t *testing.T) {
	realm := sspitest.NewRealm(t)
	alice := realm.AddUser(t, "alice", kdc.User{RID: 2001})
	front := realm.AddService(t, "HTTP/front.sspitest.test")
	back := realm.AddService(t, "HTTP/back.sspitest.test")
	client := realm.Credentials(t, "Kerberos", alice)
	_, s := sspitest.Handshake(t, client, realm.ServerCredentials(t, "Kerberos", front), "HTTP/front.sspitest.test",
		sspi.ISC_REQ_DELEGATE|sspi.ISC_REQ_MUTUAL_AUTH)
	if s.Flags()&sspi.ASC_RET_DELEGATE == 0 {
		t.Fatalf("no ASC_RET_DELEGATE: attributes 0x%x", s.Flags())
	}
	deleg, err := s.DelegatedCredentials()
	if err != nil {
		t.Fatal(err)
	}
	defer deleg.Free()
	_, s2 := sspitest.Handshake(t, deleg, realm.ServerCredentials(t, "Kerberos", back), "HTTP/back.sspitest.test", sspi.ISC_REQ_MUTUAL_AUTH)
	pac, ok := s2.PAC()
	sid, _ := realm.KDC.UserSID("alice")
	if !ok || pac.UserSID != sid || pac.ClientName != "alice" {
		t.Fatalf("back-end PAC %+v, want alice %s", pac, sid)
	}
}

// A user denied forwardable tickets cannot delegate: the acceptor gets no
// delegated credentials.
func TestDelegationNotForwardable(t *testing.T) {
	realm := sspitest.NewRealm(t)
	carol := realm.AddUser(t, "carol", kdc.User{NotForwardable: true})
	front := realm.AddService(t, "HTTP/front.sspitest.test")
	client := realm.Credentials(t, "Kerberos", carol)
	_, s := sspitest.Handshake(t, client, realm.ServerCredentials(t, "Kerberos", front), "HTTP/front.sspitest.test",
		sspi.ISC_REQ_DELEGATE|sspi.ISC_REQ_MUTUAL_AUTH)
	if s.Flags()&sspi.ASC_RET_DELEGATE != 0 {
		t.Fatal("delegation with a TGT that is not forwardable")
	}
}
