package alexbrainmantest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gosspi/sspi/internal/peers"
)

var bg = context.Background()

// realm is the MIT test realm the tests share, nil when it could not
// start (kdcErr says why).
var (
	realm  *peers.KDC
	kdcErr error
	env    []string // what MIT peers need: KRB5_CONFIG, the replay cache folder
)

// ntlmUsers is the NTLM user of the tests, in NTLM_USER_FILE form.
const ntlmUsers = "EXAMPLE:alice:Secret1!\n"

// TestMain sets up the environment the mirror's "current user" and server
// credentials come from, as a Windows logon session provides them: a
// Kerberos ticket cache filled by MIT kinit (KRB5CCNAME), the service
// keytab (KRB5_KTNAME), the realm's krb5.conf (KRB5_CONFIG) and an NTLM
// user file (NTLM_USER_FILE). The mirror reads them through gosspi's
// default registry, so they are set before any test runs.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gosspi-alexbrainman-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	users := filepath.Join(dir, "ntlm-users")
	if err := os.WriteFile(users, []byte(ntlmUsers), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("NTLM_USER_FILE", users)
	realm, kdcErr = peers.SharedKDC()
	if kdcErr == nil {
		defer peers.StopSharedKDC()
		ccache := filepath.Join(dir, "ccache")
		env = realm.Env(ccache)
		kinit := exec.Command("kinit", "-k", "-t", realm.ClientKeytab, "alice@"+realm.Realm)
		kinit.Env = env
		if out, err := kinit.CombinedOutput(); err != nil {
			kdcErr = fmt.Errorf("kinit: %v: %s", err, out)
		}
		os.Setenv("KRB5_CONFIG", realm.Krb5Conf)
		os.Setenv("KRB5CCNAME", "FILE:"+ccache)
		os.Setenv("KRB5_KTNAME", "FILE:"+realm.ServiceKeytab)
		os.Setenv("KRB5RCACHEDIR", dir)
	}
	return m.Run()
}

// needKDC skips t (fails it with SSPI_INTEROP=1) without the realm.
func needKDC(t *testing.T) {
	t.Helper()
	if kdcErr != nil {
		peers.Require(t, "MIT krb5 test KDC ("+kdcErr.Error()+")", false)
	}
}

// needPython skips t (fails it with SSPI_INTEROP=1) without python3-gssapi.
func needPython(t *testing.T) {
	t.Helper()
	peers.Require(t, "python3-gssapi (apt-get install -y python3-gssapi)", peers.HavePythonGSSAPI())
}
