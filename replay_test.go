package sspi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/status"
)

// mintAPReq returns an RFC 4121 initial context token holding an AP-REQ
// for service@realm, ticket sealed with kt, authenticator of now.
func mintAPReq(t *testing.T, kt *keytab.Keytab, service, realm string, now time.Time) []byte {
	t.Helper()
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, service)
	f := types.NewKrbFlags()
	types.SetFlag(&f, flags.Forwardable)
	tkt, key, err := messages.NewTicket(cname, realm, sname, realm, f, kt, 18, 2, now, now, now.Add(time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := types.NewAuthenticator(realm, cname)
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime, auth.Cusec = now.Truncate(time.Second), now.Nanosecond()/1000
	// RFC 4121 4.1.1 checksum: Lgth 16, no channel bindings, no flags.
	auth.Cksum = types.Checksum{CksumType: 0x8003, Checksum: append([]byte{16, 0, 0, 0}, make([]byte, 20)...)}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	der, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0x40).Constructed(), func(b *cryptobyte.Builder) { // [APPLICATION 0]
		b.AddASN1ObjectIdentifier([]int{1, 2, 840, 113554, 1, 2, 2})
		b.AddBytes([]byte{0x01, 0x00}) // TOK_ID AP-REQ
		b.AddBytes(der)
	})
	return b.BytesOrPanic()
}

// TestReplayAcrossPackages: the default Registry's "Kerberos" and
// "Negotiate" share the process's replay cache, so an AP-REQ accepted
// through one is refused through the other (each had a cache of its own
// before, and accepted it again).
func TestReplayAcrossPackages(t *testing.T) {
	const realm = "REPLAY.GOSSPI"
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/localhost", realm, "service-password", time.Unix(0, 0), 2, 18); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	accept := func(pkg string, authData any, tok []byte) error {
		t.Helper()
		cred, err := AcquireCredentials(ctx, pkg, CredentialsInbound, authData)
		if err != nil {
			t.Fatal(err)
		}
		defer cred.Free()
		s, err := NewServerContext(cred, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Delete()
		_, err = s.Step(ctx, tok)
		if err == nil && !s.Established() {
			t.Fatalf("%s: not established", pkg)
		}
		return err
	}
	krb := &kerberos.Keytab{Keytab: kt}
	neg := &negotiate.AuthData{Kerberos: krb, PackageList: "Kerberos"}
	for _, order := range [][2]string{{"Kerberos", "Negotiate"}, {"Negotiate", "Kerberos"}} {
		tok := mintAPReq(t, kt, "HTTP/localhost", realm, time.Now())
		for i, pkg := range order {
			var ad any = krb
			if pkg == "Negotiate" {
				ad = neg
			}
			err := accept(pkg, ad, tok)
			switch {
			case i == 0 && err != nil:
				t.Fatalf("%s: %v", pkg, err)
			case i == 1 && !errors.Is(err, status.SEC_E_LOGON_DENIED):
				t.Errorf("the AP-REQ %s accepted, replayed through %s: %v, want SEC_E_LOGON_DENIED", order[0], pkg, err)
			}
		}
	}
}
