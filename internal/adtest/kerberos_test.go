package adtest

import (
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages"
)

// Request flags of the Kerberos tests: mutual authentication and every
// per-message service.
const (
	kerberosISC = sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_INTEGRITY |
		sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_REPLAY_DETECT
	kerberosASC = sspi.ASC_REQ_MUTUAL_AUTH | sspi.ASC_REQ_CONFIDENTIALITY | sspi.ASC_REQ_INTEGRITY |
		sspi.ASC_REQ_SEQUENCE_DETECT | sspi.ASC_REQ_REPLAY_DETECT
	kerberosISCRet = sspi.ISC_RET_MUTUAL_AUTH | sspi.ISC_RET_CONFIDENTIALITY | sspi.ISC_RET_INTEGRITY |
		sspi.ISC_RET_SEQUENCE_DETECT | sspi.ISC_RET_REPLAY_DETECT
	kerberosASCRet = sspi.ASC_RET_MUTUAL_AUTH | sspi.ASC_RET_CONFIDENTIALITY | sspi.ASC_RET_INTEGRITY |
		sspi.ASC_RET_SEQUENCE_DETECT | sspi.ASC_RET_REPLAY_DETECT
)

// keyEnctype returns the enctype of the context's per-message key
// (SECPKG_ATTR_KEY_INFO).
func keyEnctype(t *testing.T, c *sspi.Context) uint32 {
	t.Helper()
	v, err := c.QueryAttribute(sspi.SECPKG_ATTR_KEY_INFO)
	if err != nil {
		t.Fatalf("SECPKG_ATTR_KEY_INFO: %v", err)
	}
	ki, ok := v.(*packages.KeyInfo)
	if !ok {
		t.Fatalf("SECPKG_ATTR_KEY_INFO gave %T", v)
	}
	return ki.EncryptAlgorithm
}

// TestKerberosPassword: our Kerberos client gets a TGT from the DC's KDC
// with alice's password and a service ticket for the DC's service
// accounts, and our Kerberos acceptor takes it with the keytab the DC
// exports (mutual authentication, then sealed and signed messages both
// ways). The session key's enctype is the one the KDC chose: AES256 for
// the AES account, AES128 when the client asks for nothing else in its
// TGS-REQ, RC4 for the account whose msDS-SupportedEncryptionTypes is 4.
func TestKerberosPassword(t *testing.T) {
	dc := Require(t)
	for _, tc := range []struct {
		name string
		spn  string
		tgs  []int32 // the client's TGS-REQ enctypes; nil: krb5.conf's
		want uint32
	}{
		{"aes256", WebService.SPNs[0], nil, 18},
		{"aes128", WebService.SPNs[0], []int32{17}, 17},
		{"rc4", RC4Service.SPNs[0], nil, 23},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t, dc, registryOptions{tgsEnctypes: tc.tgs})
			client := acquire(t, r, "Kerberos", "", sspi.CredentialsOutbound, identity(Alice, ""))
			server := serviceCred(t, dc, r, "Kerberos", tc.spn)
			c, s := contexts(t, client, server, tc.spn, kerberosISC, kerberosASC)
			if err := handshake(testCtx(t), c, s); err != nil {
				t.Fatalf("%v\n--- samba's log:\n%s", err, dc.LogTail(10))
			}
			for _, x := range []*sspi.Context{c, s} {
				if got := x.NegotiatedPackage(); got != "Kerberos" {
					t.Errorf("NegotiatedPackage() = %q, want Kerberos", got)
				}
			}
			name, err := s.UserName()
			if err != nil || name != Alice.Principal() {
				t.Errorf("server UserName() = %q, %v; want %s", name, err, Alice.Principal())
			}
			if name, err := c.UserName(); err != nil || name != Alice.Principal() {
				t.Errorf("client UserName() = %q, %v; want %s", name, err, Alice.Principal())
			}
			wantFlags(t, "client", c.Flags(), kerberosISCRet)
			wantFlags(t, "server", s.Flags(), kerberosASCRet)
			if got := keyEnctype(t, c); got != tc.want {
				t.Errorf("client key enctype %d, want %d", got, tc.want)
			}
			if got := keyEnctype(t, s); got != tc.want {
				t.Errorf("server key enctype %d, want %d", got, tc.want)
			}
			exchangeMessages(t, c, s)
		})
	}
}
