package adtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

//go:embed fixtures.py
var fixturesScript []byte

// Time limits of the setup steps (2 cores: provision takes 5-10 s, the
// start under 5 s, the fixtures about 2 s).
const (
	provisionTimeout = 4 * time.Minute
	startTimeout     = 2 * time.Minute
	stopTimeout      = 10 * time.Second
)

// start sets up the namespace and starts the DC in dir. outerNS
// identifies the namespaces of the test binary that re-executed this one.
func start(dir, outerNS string) (*DC, error) {
	t, err := findTools()
	if err != nil {
		return nil, err
	}
	if err := enterNamespace(t, dir, outerNS); err != nil {
		return nil, err
	}
	dc := &DC{
		Realm: Realm, Domain: DNSDomain, NetBIOS: NetBIOSDomain, Host: DCHost, Addr: DCAddr,
		Dir:      dir,
		Krb5Conf: filepath.Join(dir, "krb5.conf"),
		SMBConf:  filepath.Join(dir, "dc", "etc", "smb.conf"),
		tools:    t,
		logPath:  filepath.Join(dir, "samba.log"),
		keytabs:  map[string]string{},
	}
	for _, sub := range []string{"logs", "pid", "ncalrpc", "winbindd", "tls", "ccache"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	if err := dc.writeKrb5Conf(); err != nil {
		return nil, err
	}
	if err := dc.writeCertificates(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := dc.provision(); err != nil {
		return nil, err
	}
	t1 := time.Now()
	if err := dc.startSamba(); err != nil {
		return nil, err
	}
	// The fixtures are written while samba starts; both go through
	// sam.ldb's locks.
	fixtures := make(chan error, 1)
	go func() { fixtures <- dc.createFixtures() }()
	err = dc.waitReady()
	if ferr := <-fixtures; err == nil {
		err = ferr
	}
	if err != nil {
		dc.stop()
		return nil, fmt.Errorf("%w\n--- samba's log (last 40 lines):\n%s", err, dc.LogTail(40))
	}
	dc.timing = fmt.Sprintf("provision %v, start and fixtures %v", t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	return dc, nil
}

// writeKrb5Conf writes the realm's krb5.conf and points the process's
// Kerberos environment at the DC: KRB5_CONFIG, a private default
// credential cache and replay cache folder, and WINBINDD_SOCKET_DIR for
// wbinfo. /etc/krb5.conf, if present, is covered by the same file.
func (dc *DC) writeKrb5Conf() error {
	enctypes := "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 rc4-hmac"
	conf := fmt.Sprintf(`# krb5.conf of the gosspi adtest realm: the Samba AD DC on %[2]s only.
[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	allow_weak_crypto = true
	allow_rc4 = true
	permitted_enctypes = %[4]s
	default_tkt_enctypes = %[4]s
	default_tgs_enctypes = %[4]s
	forwardable = true
	default_ccache_name = FILE:%[5]s

[realms]
	%[1]s = {
		kdc = %[2]s
		admin_server = %[2]s
		default_domain = %[3]s
	}

[domain_realm]
	.%[3]s = %[1]s
	%[3]s = %[1]s
`, dc.Realm, dc.Addr, dc.Domain, enctypes, filepath.Join(dc.Dir, "ccache", "krb5cc_default"))
	if err := os.WriteFile(dc.Krb5Conf, []byte(conf), 0o644); err != nil {
		return err
	}
	if _, err := os.Stat("/etc/krb5.conf"); err == nil {
		if err := bindMount(dc.Krb5Conf, "/etc/krb5.conf"); err != nil {
			return err
		}
	}
	env := map[string]string{
		"KRB5_CONFIG":         dc.Krb5Conf,
		"KRB5CCNAME":          "FILE:" + filepath.Join(dc.Dir, "ccache", "krb5cc_default"),
		"KRB5RCACHEDIR":       filepath.Join(dc.Dir, "ccache"),
		"WINBINDD_SOCKET_DIR": filepath.Join(dc.Dir, "winbindd"),
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// writeCertificates makes a CA and the DC's LDAPS certificate (ECDSA
// P-256; samba would otherwise make a self-signed one with a negative
// serial number, which Go's x509 refuses).
func (dc *DC) writeCertificates() error {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gosspi adtest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dc.Host},
		DNSNames:     []string{dc.Host, DCHostName, dc.Domain},
		IPAddresses:  []net.IP{net.ParseIP(dc.Addr)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	dc.CAFile = filepath.Join(dc.Dir, "tls", "ca.pem")
	files := []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{"ca.pem", "CERTIFICATE", caDER, 0o644},
		{"cert.pem", "CERTIFICATE", leafDER, 0o644},
		{"key.pem", "PRIVATE KEY", keyDER, 0o600}, // samba wants 0600
	}
	for _, f := range files {
		b := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dc.Dir, "tls", f.name), b, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// smbOptions are the smb.conf settings of the DC besides the provision's
// own: every path private to the run, only the services the tests use,
// TLS with our certificate, SASL over LDAPS allowed without sign/seal
// (plain LDAP still requires them), and authentication audit logging.
func (dc *DC) smbOptions() []string {
	d := dc.Dir
	return []string{
		"interfaces=" + dc.Addr + "/8",
		"bind interfaces only=yes",
		"server services=rpc, ldap, cldap, kdc, winbindd, dns",
		"ldap server require strong auth=allow_sasl_over_tls",
		"log level=1 auth_audit:3",
		"log file=" + filepath.Join(d, "logs", "log.%m"),
		"pid directory=" + filepath.Join(d, "pid"),
		"ncalrpc dir=" + filepath.Join(d, "ncalrpc"),
		"winbindd socket directory=" + filepath.Join(d, "winbindd"),
		"tls enabled=yes",
		"tls keyfile=" + filepath.Join(d, "tls", "key.pem"),
		"tls certfile=" + filepath.Join(d, "tls", "cert.pem"),
		"tls cafile=" + filepath.Join(d, "tls", "ca.pem"),
		"prefork children=2",
	}
}

// provision runs samba-tool domain provision into Dir/dc.
func (dc *DC) provision() error {
	ctx, cancel := context.WithTimeout(context.Background(), provisionTimeout)
	defer cancel()
	args := []string{"domain", "provision",
		"--realm=" + dc.Realm, "--domain=" + dc.NetBIOS, "--server-role=dc",
		"--dns-backend=SAMBA_INTERNAL", "--host-name=" + DCHostName, "--host-ip=" + dc.Addr,
		"--adminpass=" + AdminPassword, "--targetdir=" + filepath.Join(dc.Dir, "dc"),
	}
	for _, o := range dc.smbOptions() {
		args = append(args, "--option="+o)
	}
	logPath := filepath.Join(dc.Dir, "provision.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, dc.tools.sambaTool, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", provisionTimeout)
		}
		return fmt.Errorf("samba-tool domain provision: %v\n--- provision log (last 30 lines):\n%s", err, tail(logPath, 30))
	}
	return nil
}

// startSamba starts samba in the foreground (-i: logs to standard output,
// exits when its standard input closes) in its own process group.
func (dc *DC) startSamba() error {
	log, err := os.Create(dc.logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(dc.tools.samba, "-i", "-s", dc.SMBConf)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, log, log
	cmd.SysProcAttr = groupAttr()
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start samba: %w", err)
	}
	dc.samba, dc.stdin, dc.exited = cmd, w, make(chan struct{})
	go func() { cmd.Wait(); close(dc.exited) }()
	return nil
}

// waitReady waits until the KDC and the LDAP and LDAPS servers accept
// connections.
func (dc *DC) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for _, port := range []string{"88", "389", "636"} {
		addr := net.JoinHostPort(dc.Addr, port)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-dc.exited:
				return fmt.Errorf("samba exited (%v) before %s answered", dc.samba.ProcessState, addr)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("samba did not answer on %s within %v: %v", addr, startTimeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// fixtureUser is a User as fixtures.py reads it.
type fixtureUser struct {
	Name           string   `json:"name"`
	Password       string   `json:"password"`
	SPNs           []string `json:"spns,omitempty"`
	EncTypes       uint32   `json:"enctypes,omitempty"`
	Groups         []string `json:"groups,omitempty"`
	Disabled       bool     `json:"disabled,omitempty"`
	MustChange     bool     `json:"must_change,omitempty"`
	AccountExpired bool     `json:"account_expired,omitempty"`
}

// createFixtures creates the groups, users and policy of fixtures.go
// with fixtures.py, and reads the domain SID.
func (dc *DC) createFixtures() error {
	spec := struct {
		Groups           []string      `json:"groups"`
		Users            []fixtureUser `json:"users"`
		LockoutThreshold int           `json:"lockout_threshold"`
		LockoutMinutes   int           `json:"lockout_minutes"`
		DCAccount        string        `json:"dc_account"`
		DCSPNs           []string      `json:"dc_spns"`
	}{
		Groups:           []string{GroupEngineers, GroupReaders},
		LockoutThreshold: LockoutThreshold,
		LockoutMinutes:   LockoutMinutes,
		DCAccount:        strings.ToUpper(DCHostName) + "$",
		DCSPNs:           dcSPNs,
	}
	for _, u := range Fixtures {
		spec.Users = append(spec.Users, fixtureUser{
			Name: u.Name, Password: u.Password, SPNs: u.SPNs, EncTypes: u.EncTypes, Groups: u.Groups,
			Disabled: u.Disabled, MustChange: u.MustChangePassword, AccountExpired: u.AccountExpired,
		})
	}
	in, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	script := filepath.Join(dc.Dir, "fixtures.py")
	if err := os.WriteFile(script, fixturesScript, 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, dc.tools.python, script, dc.SMBConf)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("fixtures.py: %v: %s", err, lastLines(stderr.String(), 30))
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "domain_sid="); ok {
			dc.DomainSID = v
		}
	}
	if !strings.HasPrefix(dc.DomainSID, "S-1-5-21-") {
		return fmt.Errorf("fixtures.py printed no domain SID: %q", stdout.String())
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop stops samba: it closes samba's standard input (samba -i then
// exits), then signals its process group, SIGTERM and at last SIGKILL.
func (dc *DC) stop() {
	if dc.samba == nil || dc.samba.Process == nil {
		return
	}
	dc.stdin.Close()
	pid := dc.samba.Process.Pid
	wait := func(d time.Duration) bool {
		select {
		case <-dc.exited:
			return true
		case <-time.After(d):
			return false
		}
	}
	if !wait(stopTimeout / 2) {
		signalGroup(pid, false)
		if !wait(stopTimeout / 2) {
			signalGroup(pid, true)
			wait(stopTimeout)
		}
	}
	// Children that outlived the master (the master is gone, so its
	// group may still hold them).
	signalGroup(pid, true)
}
