package main

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/jcmturner/gokrb5/v8/config"
)

// Tokens of a real Kerberos handshake through Negotiate, against the test
// realm: the AP-REQ inside SPNEGO, and the AP-REP inside the answer.
func TestDecodeKerberosHandshake(t *testing.T) {
	k := peers.TestKDC(t)
	conf, err := config.Load(k.Krb5Conf)
	if err != nil && conf == nil {
		t.Fatal(err)
	}
	krb := kerberos.New(&kerberos.Config{Krb5Conf: conf})
	reg := sspi.NewRegistry()
	reg.Register(negotiate.New(&negotiate.Config{Kerberos: krb, PackageList: "Kerberos"}))
	ctx := context.Background()
	ccred, err := reg.AcquireCredentials(ctx, "Negotiate", sspi.CredentialsOutbound, &sspi.AuthIdentity{User: "alice", Domain: k.Realm, Password: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	scred, err := reg.AcquireCredentials(ctx, "Negotiate", sspi.CredentialsInbound, &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sspi.NewClientContext(ccred, "HTTP/localhost", sspi.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sspi.NewServerContext(scred, 0)
	if err != nil {
		t.Fatal(err)
	}
	req, err := c.Step(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Step(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, out := decodeString(t, "Authorization: Negotiate "+base64.StdEncoding.EncodeToString(req))
	wantLines(t, out, "NegTokenInit", "mech: 1.2.840.48018.1.2.2 (Kerberos V5 (Microsoft))", "mechToken: ",
		"TOK_ID: 0100 (KRB_AP_REQ)", "KRB_AP_REQ", "msg-type: 14", "ap-options: ", "mutual-required",
		`realm: "GOSSPI.TEST"`, "sname: HTTP/localhost (name-type ", "enc-part", "etype: ", "kvno: ", "authenticator")
	_, out = decodeString(t, "WWW-Authenticate: Negotiate "+base64.StdEncoding.EncodeToString(rep))
	wantLines(t, out, "NegTokenResp", "negState: 0 (accept-completed)", "supportedMech: 1.2.840.48018.1.2.2",
		"TOK_ID: 0200 (KRB_AP_REP)", "KRB_AP_REP", "msg-type: 15", "enc-part")
}
