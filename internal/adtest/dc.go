package adtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/peers"
)

// DC is the running domain controller. Its fields are constant; its
// methods are safe for concurrent use.
type DC struct {
	Realm   string // SAMBA.TEST
	Domain  string // samba.test
	NetBIOS string // SAMBA
	Host    string // dc1.samba.test
	Addr    string // 127.0.0.2

	// Dir is the folder of the DC (Dir/dc: its provision) and of every
	// file the harness writes; it is removed after the run.
	Dir string
	// Krb5Conf is a krb5.conf for the realm (KDC 127.0.0.2, no DNS, rc4
	// allowed). KRB5_CONFIG names it in the test process.
	Krb5Conf string
	// SMBConf is the DC's smb.conf.
	SMBConf string
	// CAFile is the PEM certificate of the CA that signed the DC's LDAPS
	// certificate (for dc1.samba.test and 127.0.0.2).
	CAFile string
	// DomainSID is the domain's SID, S-1-5-21-....
	DomainSID string

	tools   tools
	samba   *exec.Cmd
	stdin   *os.File // samba -i exits when this closes
	exited  chan struct{}
	logPath string // samba's output
	timing  string // how long the setup steps took

	mu      sync.Mutex
	keytabs map[string]string // by principal
	ccaches int
}

// KDCAddr returns the KDC's address, 127.0.0.2:88.
func (dc *DC) KDCAddr() string { return dc.Addr + ":88" }

// LDAPAddr returns the LDAP server's address, 127.0.0.2:389.
func (dc *DC) LDAPAddr() string { return dc.Addr + ":389" }

// LDAPSAddr returns the LDAPS server's address, 127.0.0.2:636.
func (dc *DC) LDAPSAddr() string { return dc.Addr + ":636" }

// SambaTool runs samba-tool with args against the DC's database (it adds
// --configfile) and returns its standard output. A failure's error holds
// the standard error.
func (dc *DC) SambaTool(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append(append([]string(nil), args...), "--configfile="+dc.SMBConf, "--debuglevel=0")
	cmd := exec.CommandContext(ctx, dc.tools.sambaTool, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("samba-tool %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ExportKeytab exports the keys of principal (an SPN such as
// "HTTP/web.samba.test", or an account name) with samba-tool domain
// exportkeytab and returns the keytab's path. The keytab holds every key
// the account has (AES and RC4). The file is written once per principal
// and reused.
func (dc *DC) ExportKeytab(principal string) (string, error) {
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if p, ok := dc.keytabs[principal]; ok {
		return p, nil
	}
	path := filepath.Join(dc.Dir, "keytabs", unsafeName.ReplaceAllString(principal, "_")+".keytab")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	os.Remove(path)
	if _, err := dc.SambaTool("domain", "exportkeytab", path, "--principal="+principal); err != nil {
		return "", err
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return "", fmt.Errorf("adtest: samba-tool wrote no keytab for %s", principal)
	}
	dc.keytabs[principal] = path
	return path, nil
}

// Kinit gets a TGT for u with MIT kinit (the password on its standard
// input) into a new FILE credential cache and returns the cache's path
// (use it as KRB5CCNAME=FILE:path, or kerberos.CCache{Path: path}).
func (dc *DC) Kinit(u User) (string, error) {
	kinit, err := lookTool("kinit")
	if err != nil {
		return "", fmt.Errorf("adtest: kinit not found (apt-get install -y krb5-user): %w", err)
	}
	dc.mu.Lock()
	dc.ccaches++
	path := filepath.Join(dc.Dir, "ccache", fmt.Sprintf("krb5cc_%s_%d", u.Name, dc.ccaches))
	dc.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kinit, u.Principal())
	cmd.Env = append(os.Environ(), "KRB5CCNAME=FILE:"+path)
	cmd.Stdin = strings.NewReader(u.Password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("adtest: kinit %s: %v: %s", u.Principal(), err, out)
	}
	return path, nil
}

// LogTail returns the last n lines samba wrote (its log, at level 1 with
// auth_audit:3, so every authentication and its status is there).
func (dc *DC) LogTail(n int) string {
	return tail(dc.logPath, n)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return lastLines(string(b), n)
}

// The harness's state in the test process.
var (
	theDC *DC
	// unavailable says why theDC is nil.
	unavailable = "the harness did not run: TestMain must call adtest.Main"
)

// Require returns the DC, which the first call starts (6 to 15 seconds).
// When there is none (Samba missing, not root, no namespaces, or the DC
// did not start) it skips t, or fails it when SSPI_INTEROP=1, saying why
// and naming the Debian packages. Call it before anything reads the
// Kerberos configuration: the first call sets KRB5_CONFIG.
func Require(t testing.TB) *DC {
	t.Helper()
	if startDC() == nil {
		peers.Require(t, "Samba AD DC: "+unavailable, false)
	}
	return theDC
}

// Environment variables of the harness.
const (
	// envChild is set in the re-executed test binary inside the
	// namespace: the folder of the DC.
	envChild = "GOSSPI_ADTEST_DIR"
	// envOuterNS holds the network and mount namespaces of the test
	// binary that re-executed itself, which the inner one must not be in.
	envOuterNS = "GOSSPI_ADTEST_OUTER_NS"
	// envPath, when set, replaces PATH for finding samba-tool, samba,
	// unshare and the other tools (and /usr/sbin is then not searched):
	// GOSSPI_ADTEST_PATH=/nonexistent shows how the tests skip without
	// Samba.
	envPath = "GOSSPI_ADTEST_PATH"
	// envKeep=1 keeps the DC's folder after the run (its path is printed).
	envKeep = "GOSSPI_ADTEST_KEEP"
	// envShell, when set, is a command run with sh -c in the namespace
	// once the DC is up, instead of the tests (scripts/samba-dc.sh).
	envShell = "GOSSPI_ADTEST_SHELL"
)

// packagesHint names the Debian packages the harness needs.
const packagesHint = "apt-get install -y samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind smbclient krb5-user iproute2 util-linux"

// tools are the programs the harness runs.
type tools struct {
	sambaTool, samba, unshare, ip, python string
}

// errNotFound reports a tool that lookTool did not find.
var errNotFound = errors.New("not found")

// lookTool finds name in PATH, then /usr/sbin and /sbin, or only in
// GOSSPI_ADTEST_PATH when that is set.
func lookTool(name string) (string, error) {
	if p, ok := os.LookupEnv(envPath); ok {
		for _, dir := range filepath.SplitList(p) {
			f := filepath.Join(dir, name)
			if fi, err := os.Stat(f); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return f, nil
			}
		}
		return "", fmt.Errorf("%s %w in %s=%s", name, errNotFound, envPath, p)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		f := filepath.Join(dir, name)
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s %w in PATH, /usr/sbin or /sbin", name, errNotFound)
}

// provisionSchema is a file of samba-ad-provision, which samba's
// --no-install-recommends install leaves out.
const provisionSchema = "/usr/share/samba/setup/ad-schema"

// findTools checks everything the harness needs before it starts.
func findTools() (tools, error) {
	var t tools
	if runtime.GOOS != "linux" {
		return t, fmt.Errorf("the harness needs Linux namespaces, not %s", runtime.GOOS)
	}
	var missing []string
	where := "PATH, /usr/sbin or /sbin"
	if p, ok := os.LookupEnv(envPath); ok {
		where = envPath + "=" + p
	}
	for _, x := range []struct {
		dst  *string
		name string
	}{{&t.sambaTool, "samba-tool"}, {&t.samba, "samba"}, {&t.unshare, "unshare"}, {&t.ip, "ip"}, {&t.python, "python3"}} {
		p, err := lookTool(x.name)
		if err != nil {
			missing = append(missing, x.name)
			continue
		}
		*x.dst = p
	}
	// samba-tool and fixtures.py need Debian's interpreter, which has
	// the samba modules; another python3 may come first in PATH.
	if _, ok := os.LookupEnv(envPath); !ok {
		if _, err := os.Stat(peers.Python); err == nil {
			t.python = peers.Python
		}
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("%s not found in %s (%s)", strings.Join(missing, ", "), where, packagesHint)
	}
	if _, err := os.Stat(provisionSchema); err != nil {
		return t, fmt.Errorf("%s missing: samba-ad-provision is not installed (%s)", provisionSchema, packagesHint)
	}
	if os.Geteuid() != 0 {
		return t, errors.New("the DC runs in a network, mount, UTS and PID namespace, which needs root")
	}
	return t, nil
}
