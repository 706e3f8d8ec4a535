package peers

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Go KDC's realm has the shape of scripts/testkdc.sh's (realm,
// files, a krb5.conf naming its port), Kinit writes alice a credential
// cache through the Kerberos package and refuses a wrong password, and
// Stop removes the realm's folder.
func TestGoKDC(t *testing.T) {
	k, err := StartGoKDC()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	if k.MIT() || k.Name() != "the built-in Go KDC" || k.Realm != "GOSSPI.TEST" || k.Port == 0 {
		t.Fatalf("realm %+v (%s)", k, k.Name())
	}
	conf, err := os.ReadFile(k.Krb5Conf)
	if err != nil || !strings.Contains(string(conf), "kdc = 127.0.0.1:") || !strings.Contains(string(conf), "localhost = GOSSPI.TEST") {
		t.Fatalf("krb5.conf: %v\n%s", err, conf)
	}
	for _, kt := range []string{k.ServiceKeytab, k.ClientKeytab} {
		if b, err := os.ReadFile(kt); err != nil || !bytes.HasPrefix(b, []byte{5, 2}) {
			t.Fatalf("keytab %s: %v", kt, err)
		}
	}
	cc := filepath.Join(t.TempDir(), "cc")
	if err := k.Kinit("alice", "alice-pw", cc); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cc)
	if err != nil || !bytes.HasPrefix(b, []byte{5, 4}) || !bytes.Contains(b, []byte("krbtgt")) {
		t.Fatalf("ccache: %v %x", err, b[:min(16, len(b))])
	}
	if err := k.Kinit("alice", "wrong-pw", filepath.Join(t.TempDir(), "cc")); err == nil {
		t.Fatal("Kinit with a wrong password succeeded")
	}
	dir := k.Dir
	k.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Stop left %s: %v", dir, err)
	}
}
