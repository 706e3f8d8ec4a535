// Package mitkdc starts a throwaway MIT Kerberos realm on 127.0.0.1 with
// scripts/testkdc.sh, for the demo and the tests. It does not import
// testing, so the shipped command can use it; internal/peers wraps it for
// tests.
package mitkdc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// KDC is a throwaway MIT Kerberos realm started by scripts/testkdc.sh on
// 127.0.0.1: realm GOSSPI.TEST with users alice (password alice-pw) and
// bob (bob-pw), services HTTP/localhost and host/localhost with every
// enctype, and e17/localhost ... e23/localhost with one enctype each.
type KDC struct {
	Dir           string // the realm's folder
	Realm         string
	Port          int
	Krb5Conf      string // krb5.conf with DNS lookups off
	ServiceKeytab string // keys of every service principal
	ClientKeytab  string // alice's keys
}

// ErrNoKDC reports that MIT krb5kdc is not installed.
var ErrNoKDC = errors.New("mitkdc: MIT krb5kdc, kdb5_util or kadmin.local not found (apt-get install -y krb5-kdc krb5-admin-server krb5-user)")

func kdcRepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// KDCInstalled reports whether the MIT KDC tools are present.
func KDCInstalled() bool {
	for _, tool := range []string{"krb5kdc", "kdb5_util", "kadmin.local"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool); err != nil {
				return false
			}
		}
	}
	return true
}

// StartKDC creates a realm in a new temporary folder and starts its KDC.
// Call Stop when done.
func StartKDC() (*KDC, error) {
	if !KDCInstalled() {
		return nil, ErrNoKDC
	}
	dir, err := os.MkdirTemp("", "gosspi-kdc-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", filepath.Join(kdcRepoRoot(), "scripts", "testkdc.sh"), "start", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mitkdc: testkdc.sh start: %v: %s", err, stderr.String())
	}
	k := &KDC{Dir: dir, ServiceKeytab: filepath.Join(dir, "service.keytab"), ClientKeytab: filepath.Join(dir, "alice.keytab")}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch key {
		case "KRB5_CONFIG":
			k.Krb5Conf = v
		case "TESTKDC_REALM":
			k.Realm = v
		case "TESTKDC_PORT":
			k.Port, _ = strconv.Atoi(v)
		}
	}
	if k.Krb5Conf == "" || k.Port == 0 {
		k.Stop()
		return nil, fmt.Errorf("mitkdc: testkdc.sh printed no configuration: %q", out)
	}
	return k, nil
}

// Env returns the environment for MIT tools using this realm (KRB5_CONFIG
// and a private credential cache and replay cache location).
func (k *KDC) Env(ccache string) []string {
	env := append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf, "KRB5RCACHEDIR="+k.Dir)
	if ccache != "" {
		env = append(env, "KRB5CCNAME=FILE:"+ccache)
	}
	return env
}

// Stop stops the KDC and removes its folder. It is idempotent.
func (k *KDC) Stop() {
	if k == nil || k.Dir == "" {
		return
	}
	exec.Command("bash", filepath.Join(kdcRepoRoot(), "scripts", "testkdc.sh"), "stop", k.Dir).Run()
	os.RemoveAll(k.Dir)
	k.Dir = ""
}
