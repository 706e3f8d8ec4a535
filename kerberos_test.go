package sspi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/status"
)

// TestAcquireCredentialsForKerberos gives Kerberos inbound credentials a
// service principal through the Go API: an acceptor for HTTP/other
// refuses a ticket for HTTP/localhost with SEC_E_WRONG_PRINCIPAL, while
// one for HTTP/localhost, or acquired without a principal, accepts it.
func TestAcquireCredentialsForKerberos(t *testing.T) {
	const realm = "TEST.GOSSPI"
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	conf := config.New()
	conf.LibDefaults.DefaultRealm = realm
	r := NewRegistry()
	r.Register(kerberos.New(&kerberos.Config{Krb5Conf: conf, Time: func() time.Time { return now }}))
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/localhost", realm, "service-password", time.Unix(0, 0), 2, 18); err != nil {
		t.Fatal(err)
	}

	// apReq returns an AP-REQ for HTTP/localhost with a ticket sealed by
	// the keytab, framed as an RFC 4121 initial context token; usec
	// keeps each authenticator apart for the replay cache.
	apReq := func(usec int) []byte {
		t.Helper()
		cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
		sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/localhost")
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
		auth.CTime, auth.Cusec = now, usec
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

	ctx := context.Background()
	for i, tt := range []struct {
		principal string
		wrong     bool
	}{{"HTTP/other", true}, {"HTTP/localhost", false}, {"", false}} {
		cred, err := r.AcquireCredentialsFor(ctx, "Kerberos", tt.principal, CredentialsInbound, &kerberos.Keytab{Keytab: kt})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewServerContext(cred, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Step(ctx, apReq(i))
		switch {
		case tt.wrong && !errors.Is(err, status.SEC_E_WRONG_PRINCIPAL):
			t.Errorf("principal %q: %v, want SEC_E_WRONG_PRINCIPAL", tt.principal, err)
		case !tt.wrong && (err != nil || !s.Established()):
			t.Errorf("principal %q: %v, established %v", tt.principal, err, s.Established())
		case !tt.wrong:
			if name, err := s.UserName(); err != nil || name != "alice@"+realm {
				t.Errorf("principal %q: client %q, %v", tt.principal, name, err)
			}
		}
		s.Delete()
		cred.Free()
	}
}
