package kdc_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/sspitest"
)

// Our client (package kerberos through the root API) gets a TGT and a
// service ticket from the KDC in process, for each enctype, and our
// acceptor decodes the PAC the KDC issued: the SIDs it was given come
// back.
func TestHandshakeEnctypes(t *testing.T) {
	for _, e := range []int32{kdc.AES256CTSHMACSHA196, kdc.AES128CTSHMACSHA196, kdc.AES256CTSHMACSHA384192, kdc.AES128CTSHMACSHA256128, kdc.RC4HMAC} {
		t.Run(enctypeName(e), func(t *testing.T) {
			realm := sspitest.NewRealmConfig(t, kdc.Config{Realm: "EXAMPLE.TEST", Enctypes: []int32{e}})
			alice := realm.AddUser(t, "alice", kdc.User{RID: 1234, GroupRIDs: []uint32{512, 1600},
				ExtraSIDs: []string{"S-1-5-21-1-2-3-4000", "S-1-18-1"}, FullName: "Alice Liddell"})
			kt := realm.AddService(t, "HTTP/web.example.test")
			for _, pkg := range []string{"Kerberos", "Negotiate"} {
				client := realm.Credentials(t, pkg, alice)
				server := realm.ServerCredentials(t, pkg, kt)
				c, s := sspitest.Handshake(t, client, server, "HTTP/web.example.test", sspi.ISC_REQ_MUTUAL_AUTH|sspi.ISC_REQ_CONFIDENTIALITY)
				pac, ok := s.PAC() // for Negotiate, only when it selected Kerberos
				if !ok {
					t.Fatal("no PAC")
				}
				dom, _ := realm.KDC.DomainSID("EXAMPLE.TEST")
				if pac.UserSID != dom+"-1234" {
					t.Errorf("user SID %q, want %q", pac.UserSID, dom+"-1234")
				}
				for _, want := range []string{dom + "-513", dom + "-512", dom + "-1600", "S-1-5-21-1-2-3-4000", "S-1-18-1"} {
					if !slices.Contains(pac.GroupSIDs, want) {
						t.Errorf("group SIDs %q lack %q", pac.GroupSIDs, want)
					}
				}
				if pac.ClientName != "alice" || pac.LogonInfo == nil || pac.LogonInfo.FullName != "Alice Liddell" || pac.LogonInfo.LogonDomainName != "EXAMPLE" {
					t.Errorf("PAC client %q logon info %+v", pac.ClientName, pac.LogonInfo)
				}
				if u := pac.UPNDNSInfo; u == nil || u.UPN != "alice@example.test" || u.SAMName != "alice" || u.SID != dom+"-1234" || u.DNSDomainName != "EXAMPLE.TEST" {
					t.Errorf("UPN_DNS_INFO %+v", pac.UPNDNSInfo)
				}
				sealed, err := c.Wrap([]byte("hello"))
				if err != nil {
					t.Fatal(err)
				}
				plain, err := s.Unwrap(sealed)
				if err != nil || string(plain) != "hello" {
					t.Fatalf("unwrap: %q %v", plain, err)
				}
			}
		})
	}
}

func enctypeName(e int32) string {
	switch e {
	case kdc.AES256CTSHMACSHA196:
		return "aes256-cts-hmac-sha1-96"
	case kdc.AES128CTSHMACSHA196:
		return "aes128-cts-hmac-sha1-96"
	case kdc.AES256CTSHMACSHA384192:
		return "aes256-cts-hmac-sha384-192"
	case kdc.AES128CTSHMACSHA256128:
		return "aes128-cts-hmac-sha256-128"
	case kdc.RC4HMAC:
		return "rc4-hmac"
	}
	return "unknown"
}

// Many clients at once, in process and over the network, while users are
// added: every logon succeeds (run with -race).
func TestConcurrent(t *testing.T) {
	realm := sspitest.NewRealm(t)
	kt := realm.AddService(t, "HTTP/web.sspitest.test")
	server := realm.ServerCredentials(t, "Kerberos", kt)
	if _, err := realm.KDC.Listen(""); err != nil {
		t.Fatal(err)
	}
	netReg := sspi.NewRegistry()
	netReg.Register(kerberos.New(&kerberos.Config{Krb5Conf: realm.KDC.Krb5Config()}))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("user%d", i)
			if err := realm.KDC.AddUser(name, "pw", kdc.User{Enctypes: []int32{kdc.AES128CTSHMACSHA196}}); err != nil {
				errs <- err
				return
			}
			reg := realm.Registry
			if i%2 == 1 {
				reg = netReg
			}
			ctx := context.Background()
			cred, err := reg.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsOutbound, &sspi.AuthIdentity{User: name, Domain: realm.Name, Password: "pw"})
			if err != nil {
				errs <- err
				return
			}
			defer cred.Free()
			c, _ := sspi.NewClientContext(cred, "HTTP/web.sspitest.test", 0)
			defer c.Delete()
			s, _ := sspi.NewServerContext(server, 0)
			defer s.Delete()
			tok, err := c.Step(ctx, nil)
			if err == nil {
				_, err = s.Step(ctx, tok)
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				return
			}
			if got, _ := s.UserName(); got != name+"@"+realm.Name {
				errs <- fmt.Errorf("server sees %q for %s", got, name)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
