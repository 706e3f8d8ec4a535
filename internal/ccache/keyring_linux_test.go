package ccache

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// keyringOrSkip skips t when the kernel refuses keyrings (a seccomp
// policy, or a kernel without them); keyrings are part of the kernel,
// not a peer to install.
func keyringOrSkip(t *testing.T) {
	t.Helper()
	if _, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false); err != nil {
		t.Skipf("kernel keyrings unavailable here: %v", err)
	}
}

func keyringName(t *testing.T) string {
	var b [4]byte
	rand.Read(b[:])
	return "gosspitest" + hex.EncodeToString(b[:])
}

// The layout MIT uses: resolving a collection sets its primary to the
// collection's name; Initialize makes the cache keyring with its
// principal key; Store adds a key named by the server principal; Load
// reads them back.
func TestKeyringCache(t *testing.T) {
	keyringOrSkip(t)
	for _, anchor := range []string{"process", "session", "user"} {
		t.Run(anchor, func(t *testing.T) {
			name := keyringName(t)
			t.Cleanup(func() {
				for _, ring := range []int{unix.KEY_SPEC_SESSION_KEYRING, unix.KEY_SPEC_USER_SESSION_KEYRING, unix.KEY_SPEC_USER_KEYRING, unix.KEY_SPEC_PROCESS_KEYRING} {
					if id, err := unix.KeyctlSearch(ring, "keyring", "_krb_"+name, 0); err == nil {
						unix.KeyctlInt(unix.KEYCTL_UNLINK, id, ring, 0, 0)
					}
				}
			})
			c, err := Resolve(bg(), "KEYRING:"+anchor+":"+name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := "KEYRING:" + anchor + ":" + name + ":" + name; c.Name() != want {
				t.Fatalf("Name %s, want %s", c.Name(), want)
			}
			if _, _, err := c.Load(bg()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("uninitialised: %v", err)
			}
			tgt := testCred(tgs, 1)
			tgt.EndTime = tgt.EndTime.AddDate(50, 0, 0) // keys expire with their credential
			if err := c.Initialize(bg(), alice, []Credential{tgt}); err != nil {
				t.Fatal(err)
			}
			svc := testCred(http, 2)
			svc.EndTime = tgt.EndTime
			if err := c.Store(bg(), &svc); err != nil {
				t.Fatal(err)
			}
			// The same server again replaces the key.
			if err := c.Store(bg(), &svc); err != nil {
				t.Fatal(err)
			}
			p, creds, err := c.Load(bg())
			if err != nil || !p.Equal(alice) || len(creds) != 2 {
				t.Fatalf("%v %d %v", p, len(creds), err)
			}
			if creds[0].Server.Equal(http) {
				creds[0], creds[1] = creds[1], creds[0]
			}
			if !reflect.DeepEqual(creds[0], tgt) || !reflect.DeepEqual(creds[1], svc) {
				t.Errorf("credentials differ:\n%v\n%v", creds[0], creds[1])
			}
			col, err := unix.KeyctlSearch(unix.KEY_SPEC_PROCESS_KEYRING, "keyring", "_krb_"+name, 0)
			if anchor == "session" {
				col, err = unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "keyring", "_krb_"+name, 0)
			}
			if err != nil {
				t.Fatalf("collection keyring _krb_%s: %v", name, err)
			}
			id, err := unix.KeyctlSearch(col, "user", "krb_ccache:primary", 0)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := readKey(id)
			if got, err := parsePrimary(b); err != nil || got != name {
				t.Errorf("primary %q %v", got, err)
			}
			if _, err := unix.KeyctlSearch(col, "user", "__krb5_princ__", 0); err != nil {
				t.Errorf("no __krb5_princ__: %v", err)
			}
		})
	}
	if _, err := Resolve(bg(), "KEYRING:thread:x", nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("thread: %v", err)
	}
	if _, err := Resolve(bg(), "KEYRING:nosuch:x", nil); !errors.Is(err, ErrFormat) {
		t.Errorf("bad anchor: %v", err)
	}
}
