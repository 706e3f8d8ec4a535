package adtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/status"
)

// firstLeg runs the first InitializeSecurityContext of our Kerberos
// client for u's password to target and returns its error.
func firstLeg(t *testing.T, r *sspi.Registry, id *sspi.AuthIdentity, target string) error {
	t.Helper()
	cred, err := r.AcquireCredentials(testCtx(t), "Kerberos", sspi.CredentialsOutbound, id)
	if err != nil {
		return err
	}
	defer cred.Free()
	c, err := sspi.NewClientContext(cred, target, kerberosISC)
	if err != nil {
		return err
	}
	defer c.Delete()
	_, err = c.Step(testCtx(t), nil)
	return err
}

// describeKDCError names the KRB-ERROR and the NTSTATUS behind err.
func describeKDCError(err error) string {
	s := "no KRB-ERROR"
	var ke messages.KRBError
	if errors.As(err, &ke) {
		s = fmt.Sprintf("KRB-ERROR %d (%s)", ke.ErrorCode, errorcode.Lookup(ke.ErrorCode))
	}
	var nt interface{ NTStatus() (uint32, bool) }
	if errors.As(err, &nt) {
		if code, ok := nt.NTStatus(); ok {
			s += fmt.Sprintf(", NTSTATUS %#08x", code)
		}
	}
	return s
}

// lockoutUsers counts the users TestKerberosLockedOut locked out: the
// fixture LockMe first, then new accounts (go test -count=N).
var lockoutUsers struct {
	sync.Mutex
	n int
}

// freshLockoutUser returns an account that is not locked out yet.
func freshLockoutUser(t *testing.T, dc *DC) User {
	t.Helper()
	lockoutUsers.Lock()
	defer lockoutUsers.Unlock()
	lockoutUsers.n++
	if lockoutUsers.n == 1 {
		return LockMe
	}
	u := User{Name: fmt.Sprintf("lockme%d", lockoutUsers.n), Password: LockMe.Password}
	if _, err := dc.SambaTool("user", "add", u.Name, u.Password); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestKerberosRefusals: the statuses our Kerberos client returns for the
// DC's KDC refusals are those of Windows' Kerberos package, which maps
// the KDC's NTSTATUS as LSA does (STATUS_WRONG_PASSWORD,
// STATUS_NO_SUCH_USER, STATUS_ACCOUNT_DISABLED, STATUS_PASSWORD_EXPIRED or
// _MUST_CHANGE, STATUS_ACCOUNT_EXPIRED and STATUS_ACCOUNT_LOCKED_OUT all
// give SEC_E_LOGON_DENIED; KRB_AP_ERR_SKEW gives SEC_E_TIME_SKEW;
// KDC_ERR_S_PRINCIPAL_UNKNOWN gives SEC_E_TARGET_UNKNOWN).
func TestKerberosRefusals(t *testing.T) {
	dc := Require(t)
	spn := WebService.SPNs[0]
	for _, tc := range []struct {
		name   string
		id     *sspi.AuthIdentity
		target string
		skew   time.Duration
		want   status.Status
		// krbError is the KDC's answer (Samba 4.17), checked so that
		// each case tests the mapping it is named after.
		krbError int32
	}{
		{"wrong password", &sspi.AuthIdentity{User: Bob.Name, Domain: Realm, Password: "Not-" + Bob.Password}, spn, 0, sspi.SEC_E_LOGON_DENIED, errorcode.KDC_ERR_PREAUTH_FAILED},
		{"unknown user", &sspi.AuthIdentity{User: "nosuchuser", Domain: Realm, Password: "Whatever-Passw0rd!"}, spn, 0, sspi.SEC_E_LOGON_DENIED, errorcode.KDC_ERR_C_PRINCIPAL_UNKNOWN},
		{"disabled account", identity(DisabledUser, ""), spn, 0, sspi.SEC_E_LOGON_DENIED, errorcode.KDC_ERR_CLIENT_REVOKED},
		{"expired password", identity(ExpiredPasswordUser, ""), spn, 0, sspi.SEC_E_LOGON_DENIED, errorcode.KDC_ERR_KEY_EXPIRED},
		{"expired account", identity(ExpiredAccountUser, ""), spn, 0, sspi.SEC_E_LOGON_DENIED, errorcode.KDC_ERR_CLIENT_REVOKED},
		{"clock skew", identity(Alice, ""), spn, time.Hour, sspi.SEC_E_TIME_SKEW, errorcode.KRB_AP_ERR_SKEW},
		{"unknown SPN", identity(Alice, ""), "HTTP/nowhere." + DNSDomain, 0, sspi.SEC_E_TARGET_UNKNOWN, errorcode.KDC_ERR_S_PRINCIPAL_UNKNOWN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts registryOptions
			if tc.skew != 0 {
				opts.now = func() time.Time { return time.Now().Add(tc.skew) }
			}
			err := firstLeg(t, newRegistry(t, dc, opts), tc.id, tc.target)
			if err == nil {
				t.Fatalf("the handshake started; want %v", tc.want)
			}
			t.Logf("%v [%s]", err, describeKDCError(err))
			if !errors.Is(err, tc.want) {
				t.Errorf("status %v, want %v (error: %v)", status.Code(err), tc.want, err)
			}
			var ke messages.KRBError
			if !errors.As(err, &ke) || ke.ErrorCode != tc.krbError {
				t.Errorf("the KDC's answer is %s, want KRB-ERROR %d", describeKDCError(err), tc.krbError)
			}
		})
	}
}

// TestKerberosLockedOut: LockoutThreshold wrong passwords lock an account
// out; the right password is then refused with SEC_E_LOGON_DENIED too.
func TestKerberosLockedOut(t *testing.T) {
	dc := Require(t)
	u := freshLockoutUser(t, dc)
	r := newRegistry(t, dc, registryOptions{})
	spn := WebService.SPNs[0]
	if err := firstLeg(t, r, identity(u, ""), spn); err != nil {
		t.Fatalf("%s's right password before the lockout: %v", u.Name, err)
	}
	bad := &sspi.AuthIdentity{User: u.Name, Domain: Realm, Password: "Not-" + u.Password}
	for i := 0; i < LockoutThreshold; i++ {
		err := firstLeg(t, r, bad, spn)
		if !errors.Is(err, sspi.SEC_E_LOGON_DENIED) {
			t.Fatalf("wrong password %d: %v, want SEC_E_LOGON_DENIED", i+1, err)
		}
	}
	err := firstLeg(t, r, identity(u, ""), spn)
	if err == nil {
		t.Fatalf("%s is not locked out after %d wrong passwords\n--- samba's log:\n%s", u.Name, LockoutThreshold, dc.LogTail(10))
	}
	t.Logf("%v [%s]", err, describeKDCError(err))
	if !errors.Is(err, sspi.SEC_E_LOGON_DENIED) {
		t.Errorf("status %v, want SEC_E_LOGON_DENIED (error: %v)", status.Code(err), err)
	}
	out, err := dc.SambaTool("user", "show", u.Name, "--attributes=lockoutTime,badPwdCount")
	if err != nil {
		t.Fatal(err)
	}
	if lt := attribute(out, "lockoutTime"); lt == "" || lt == "0" {
		t.Errorf("samba-tool shows no lockoutTime for %s:\n%s", u.Name, out)
	}
}
