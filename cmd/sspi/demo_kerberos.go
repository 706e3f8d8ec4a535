package main

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/internal/gokdc"
	"github.com/gosspi/sspi/internal/mitkdc"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

// demoRealm is the Kerberos realm the Kerberos and Negotiate demos use:
// the one krb5.conf (KRB5_CONFIG) names, with a service keytab from
// KRB5_KTNAME and the ticket cache of kinit, or else a throwaway realm
// on 127.0.0.1, started for the demo and stopped after: on MIT krb5kdc
// (scripts/testkdc.sh) when it is installed, else on the KDC of package
// kdc, in process.
type demoRealm struct {
	client any    // client pAuthData (nil: the ticket cache)
	keytab string // the service keytab
	target string // the service principal
	about  string // where the realm comes from
	skip   string // why there is none, and how to have one
	kdc    *mitkdc.KDC
	gokdc  *gokdc.Realm
}

var (
	realmOnce sync.Once
	realm     *demoRealm

	// startKDC lets findRealm start the test realm (demo --no-kdc clears
	// it).
	startKDC = true
)

// howToEnableKerberos is the skip message of the Kerberos demos.
const howToEnableKerberos = "set KRB5_CONFIG to your krb5.conf, KRB5_KTNAME to the keytab of a " +
	"service principal, and get a ticket with kinit; or drop --no-kdc so that the demo " +
	"starts a test realm (on MIT krb5kdc when installed, else on the built-in Go KDC)"

// findRealm returns the realm of the demos, starting the test KDC the
// first time if it must.
func findRealm() *demoRealm {
	realmOnce.Do(func() {
		if os.Getenv("KRB5_CONFIG") != "" && os.Getenv("KRB5_KTNAME") != "" {
			path := strings.TrimPrefix(os.Getenv("KRB5_KTNAME"), "FILE:")
			spn, err := firstPrincipal(path)
			if err != nil {
				realm = &demoRealm{skip: fmt.Sprintf("KRB5_KTNAME %s: %v", path, err)}
				return
			}
			realm = &demoRealm{keytab: path, target: spn,
				about: "realm of KRB5_CONFIG, service " + spn + " from KRB5_KTNAME, client from the ticket cache"}
			return
		}
		if !startKDC {
			realm = &demoRealm{skip: "no KDC (--no-kdc): " + howToEnableKerberos}
			return
		}
		useGo := !mitkdc.KDCInstalled()
		switch os.Getenv("SSPI_TEST_KDC") {
		case "go":
			useGo = true
		case "mit":
			useGo = false
		}
		if useGo {
			realm = startGoRealm()
			return
		}
		k, err := mitkdc.StartKDC()
		if err != nil && os.Getenv("SSPI_TEST_KDC") != "mit" {
			// MIT's is installed but did not start: the built-in one.
			realm = startGoRealm()
			realm.about += " (MIT krb5kdc did not start: " + strings.SplitN(err.Error(), "\n", 2)[0] + ")"
			return
		}
		if err != nil {
			realm = &demoRealm{skip: fmt.Sprintf("the MIT test KDC did not start (%v); %s", err, howToEnableKerberos)}
			return
		}
		// The packages of the default registry read KRB5_CONFIG when
		// first used, which is after this.
		os.Setenv("KRB5_CONFIG", k.Krb5Conf)
		realm = &demoRealm{kdc: k, keytab: k.ServiceKeytab, target: "HTTP/localhost",
			client: &sspi.AuthIdentity{User: "alice", Domain: k.Realm, Password: "alice-pw"},
			about:  fmt.Sprintf("test realm %s on MIT krb5kdc (scripts/testkdc.sh), 127.0.0.1:%d", k.Realm, k.Port)}
	})
	return realm
}

// startGoRealm starts the test realm on the KDC of package kdc, in this
// process, listening on 127.0.0.1 for the packages of the default
// registry, which find it through KRB5_CONFIG.
func startGoRealm() *demoRealm {
	dir, err := os.MkdirTemp("", "gosspi-demo-kdc-")
	if err != nil {
		return &demoRealm{skip: fmt.Sprintf("the built-in test KDC did not start (%v); %s", err, howToEnableKerberos)}
	}
	r, err := gokdc.Start(dir)
	if err != nil {
		os.RemoveAll(dir)
		return &demoRealm{skip: fmt.Sprintf("the built-in test KDC did not start (%v); %s", err, howToEnableKerberos)}
	}
	os.Setenv("KRB5_CONFIG", r.Krb5Conf)
	return &demoRealm{gokdc: r, keytab: r.ServiceKeytab, target: "HTTP/localhost",
		client: &sspi.AuthIdentity{User: "alice", Domain: r.Realm, Password: gokdc.Users["alice"]},
		about:  fmt.Sprintf("test realm %s on the built-in Go KDC (package kdc), 127.0.0.1:%d", r.Realm, r.Port)}
}

// stopRealm stops a test KDC the demo started; the next demo looks for
// a realm again.
func stopRealm() {
	if realm != nil && realm.kdc != nil {
		realm.kdc.Stop()
	}
	if realm != nil && realm.gokdc != nil {
		realm.gokdc.Stop()
		os.RemoveAll(realm.gokdc.Dir)
	}
	realm, realmOnce = nil, sync.Once{}
}

// firstPrincipal returns the first principal of a keytab as an SPN.
func firstPrincipal(path string) (string, error) {
	kt, err := keytab.Load(path)
	if err != nil {
		return "", err
	}
	if len(kt.Entries) == 0 {
		return "", fmt.Errorf("empty keytab")
	}
	p := kt.Entries[0].Principal
	return strings.Join(p.Components, "/") + "@" + p.Realm, nil
}

var (
	krbClientReq uint32 = sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_REPLAY_DETECT | sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_CONNECTION
	krbServerReq uint32 = sspi.ASC_REQ_MUTUAL_AUTH | sspi.ASC_REQ_CONFIDENTIALITY | sspi.ASC_REQ_INTEGRITY | sspi.ASC_REQ_REPLAY_DETECT | sspi.ASC_REQ_SEQUENCE_DETECT | sspi.ASC_REQ_CONNECTION
)

// kerberosDemo runs Kerberos against a KDC: a real one when krb5.conf and
// a service keytab are given, else the test realm.
var kerberosDemo = &demoCase{
	pkg:        "Kerberos",
	clientReq:  krbClientReq,
	serverReq:  krbServerReq,
	targetFunc: func() string { return findRealm().target },
	labelFunc: func() string {
		if r := findRealm(); r.skip == "" {
			return r.about
		}
		return ""
	},
	credentials: func() (client, server any, skip string) {
		r := findRealm()
		if r.skip != "" {
			return nil, nil, r.skip
		}
		return r.client, &kerberos.Keytab{Path: r.keytab}, ""
	},
}

// negotiateDemo runs Negotiate: Kerberos when a realm is at hand (see
// kerberosDemo), else NTLM, and says which it chose.
var negotiateDemo = &demoCase{
	pkg:       "Negotiate",
	clientReq: krbClientReq,
	serverReq: krbServerReq,
	targetFunc: func() string {
		if r := findRealm(); r.skip == "" {
			return r.target
		}
		return "HTTP/localhost"
	},
	labelFunc: func() string {
		if r := findRealm(); r.skip == "" {
			return "a KDC is up (" + r.about + "): Negotiate should choose Kerberos"
		}
		return "no KDC: Negotiate falls back to NTLM"
	},
	credentials: func() (client, server any, skip string) {
		const user, domain, password = "demo", "GOSSPI", "demo-Passw0rd"
		users := ntlm.Users{domain + `\` + user: password}
		if r := findRealm(); r.skip == "" {
			return r.client, &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: r.keytab}, NTLM: users}, ""
		}
		return sspi.NewAuthIdentityW(user, domain, password), &negotiate.AuthData{NTLM: users, PackageList: "NTLM"}, ""
	},
}
