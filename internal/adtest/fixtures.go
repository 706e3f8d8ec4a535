package adtest

// The test domain. Every name resolves only inside the namespace the
// tests run in (its private /etc/hosts).
const (
	Realm         = "SAMBA.TEST"     // Kerberos realm
	DNSDomain     = "samba.test"     // DNS name of the domain
	NetBIOSDomain = "SAMBA"          // NetBIOS (pre-Windows 2000) name
	DCHostName    = "dc1"            // the DC's host name
	DCHost        = "dc1.samba.test" // the DC's DNS name
	DCAddr        = "127.0.0.2"      // the DC listens on this address only
	// WebHost resolves to 127.0.0.1: the name of services the tests run
	// themselves (HTTP/web.samba.test is WebService's SPN).
	WebHost = "web.samba.test"
	// AdminPassword is the password of SAMBA\Administrator.
	AdminPassword = "Adm1n-Passw0rd!"
)

// LockoutThreshold is the domain's lockoutThreshold: this many bad
// passwords in a row lock an account out for LockoutMinutes. It applies to
// every account, so tests that want a wrong password use [Bob], never
// [Alice].
const (
	LockoutThreshold = 3
	LockoutMinutes   = 30
)

// Domain groups the harness creates (global security groups).
const (
	GroupEngineers = "gosspi-engineers"
	GroupReaders   = "gosspi-readers"
)

// User is an account the harness creates in the domain.
type User struct {
	Name     string   // sAMAccountName; the UPN is Name@samba.test
	Password string   // its password
	SPNs     []string // servicePrincipalName values
	// EncTypes is msDS-SupportedEncryptionTypes (0x4 RC4, 0x8 AES128,
	// 0x10 AES256); zero leaves it unset, and the KDC then issues RC4
	// service tickets for the account's SPNs.
	EncTypes uint32
	Groups   []string // groups of the harness the user is a member of

	Disabled           bool // userAccountControl ACCOUNTDISABLE
	MustChangePassword bool // pwdLastSet = 0: the password has expired
	AccountExpired     bool // accountExpires a day in the past
}

// Principal returns the user's Kerberos principal name, name@SAMBA.TEST.
func (u User) Principal() string { return u.Name + "@" + Realm }

// The accounts. Their passwords satisfy the domain's default complexity
// rules.
var (
	// Alice is an ordinary user, a member of both groups. No test may
	// give her a wrong password (see LockoutThreshold).
	Alice = User{Name: "alice", Password: "Alice-Passw0rd!", Groups: []string{GroupEngineers, GroupReaders}}
	// Bob is an ordinary user for wrong-password tests.
	Bob = User{Name: "bob", Password: "Bob-Passw0rd!"}
	// WebService holds HTTP/web.samba.test with AES keys only (0x18).
	WebService = User{Name: "websvc", Password: "Websvc-Passw0rd!", SPNs: []string{"HTTP/" + WebHost}, EncTypes: 0x18}
	// RC4Service holds HTTP/rc4.samba.test with RC4 tickets only (0x4).
	RC4Service = User{Name: "rc4svc", Password: "Rc4svc-Passw0rd!", SPNs: []string{"HTTP/rc4." + DNSDomain}, EncTypes: 0x4}
	// DisabledUser is a disabled account (KDC_ERR_CLIENT_REVOKED).
	DisabledUser = User{Name: "disabled", Password: "Disabled-Passw0rd!", Disabled: true}
	// ExpiredPasswordUser must change its password (KDC_ERR_KEY_EXPIRED).
	ExpiredPasswordUser = User{Name: "expiredpw", Password: "Expiredpw-Passw0rd!", MustChangePassword: true}
	// ExpiredAccountUser's account expired a day ago.
	ExpiredAccountUser = User{Name: "expiredacct", Password: "Expiredacct-Passw0rd!", AccountExpired: true}
	// LockMe is locked out by the lockout test: nothing else may use it.
	LockMe = User{Name: "lockme", Password: "Lockme-Passw0rd!"}
)

// Fixtures lists every account the harness creates, in creation order.
var Fixtures = []User{Alice, Bob, WebService, RC4Service, DisabledUser, ExpiredPasswordUser, ExpiredAccountUser, LockMe}

// dcSPNs are SPNs of the DC's own account (DC1$) that a DC running the
// dnsupdate service would register: ldap/dc1.samba.test for LDAP SASL
// with Kerberos.
var dcSPNs = []string{
	"ldap/" + DCHost,
	"ldap/" + DCHost + "/" + DNSDomain,
	"ldap/" + DCHost + "/" + NetBIOSDomain,
}
