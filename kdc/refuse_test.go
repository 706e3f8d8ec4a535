package kdc_test

import (
	"context"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/kdc"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/sspitest"
)

// firstStep runs the first InitializeSecurityContext of a Kerberos client
// and returns its error.
func firstStep(t *testing.T, r *sspi.Registry, id *sspi.AuthIdentity, target string) error {
	t.Helper()
	cred, err := r.AcquireCredentials(context.Background(), "Kerberos", sspi.CredentialsOutbound, id)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Free()
	c, err := sspi.NewClientContext(cred, target, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	_, err = c.Step(context.Background(), nil)
	return err
}

// ntstatusOf reads the NTSTATUS of KERB-ERROR-DATA e-data (MS-KILE 2.2.1).
func ntstatusOf(t *testing.T, edata []byte) uint32 {
	t.Helper()
	var ked struct {
		Type  int    `asn1:"explicit,tag:1"`
		Value []byte `asn1:"explicit,tag:2"`
	}
	if _, err := asn1.Unmarshal(edata, &ked); err != nil || ked.Type != 3 || len(ked.Value) != 12 {
		t.Fatalf("e-data %x is not KERB-ERROR-DATA with KERB-EXT-ERROR: %v", edata, err)
	}
	return binary.LittleEndian.Uint32(ked.Value)
}

// The KDC refuses what a real KDC refuses, with the KRB-ERROR codes (and
// AD's NTSTATUS e-data) MIT and Windows send.
func TestRefusals(t *testing.T) {
	now := time.Now().UTC()
	realm := sspitest.NewRealm(t)
	k := realm.KDC
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(k.AddUser("alice", "alice-pw", kdc.User{}))
	must(k.AddUser("disabled", "pw", kdc.User{Disabled: true}))
	must(k.AddUser("expired", "pw", kdc.User{Expires: now.Add(-time.Hour)}))
	must(k.AddUser("oldpw", "pw", kdc.User{PasswordExpires: now.Add(-time.Hour)}))
	realm.AddService(t, "HTTP/web.sspitest.test")
	id := func(user, pw string) *sspi.AuthIdentity {
		return &sspi.AuthIdentity{User: user, Domain: realm.Name, Password: pw}
	}
	skewed := sspi.NewRegistry()
	skewed.Register(kerberos.New(&kerberos.Config{Transport: k, Krb5Conf: k.Krb5Config(),
		Time: func() time.Time { return time.Now().Add(time.Hour) }}))
	rc4Conf := k.Krb5Config()
	rc4Conf.LibDefaults.DefaultTktEnctypeIDs = []int32{kdc.RC4HMAC}
	rc4Conf.LibDefaults.DefaultTktEnctypes = []string{"rc4-hmac"}
	rc4Only := sspi.NewRegistry()
	rc4Only.Register(kerberos.New(&kerberos.Config{Transport: k, Krb5Conf: rc4Conf}))

	tests := []struct {
		name     string
		reg      *sspi.Registry
		id       *sspi.AuthIdentity
		target   string
		code     int32
		ntstatus uint32
	}{
		{"unknown client", realm.Registry, id("nobody", "pw"), "HTTP/web.sspitest.test", 6, 0},
		{"unknown service", realm.Registry, id("alice", "alice-pw"), "HTTP/none.sspitest.test", 7, 0},
		{"wrong password", realm.Registry, id("alice", "wrong"), "HTTP/web.sspitest.test", 24, 0},
		{"disabled", realm.Registry, id("disabled", "pw"), "HTTP/web.sspitest.test", 18, 0xC0000072},
		{"account expired", realm.Registry, id("expired", "pw"), "HTTP/web.sspitest.test", 18, 0xC0000193},
		{"password expired", realm.Registry, id("oldpw", "pw"), "HTTP/web.sspitest.test", 23, 0xC0000071},
		{"clock skew", skewed, id("alice", "alice-pw"), "HTTP/web.sspitest.test", 37, 0},
		{"rc4 forbidden", rc4Only, id("alice", "alice-pw"), "HTTP/web.sspitest.test", 14, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := firstStep(t, tt.reg, tt.id, tt.target)
			var ke messages.KRBError
			if !errors.As(err, &ke) {
				t.Fatalf("error %v carries no KRB-ERROR", err)
			}
			if ke.ErrorCode != tt.code {
				t.Fatalf("KRB-ERROR %d, want %d (%v)", ke.ErrorCode, tt.code, err)
			}
			if tt.ntstatus != 0 {
				if got := ntstatusOf(t, ke.EData); got != tt.ntstatus {
					t.Fatalf("NTSTATUS 0x%08X, want 0x%08X", got, tt.ntstatus)
				}
			}
		})
	}
}
