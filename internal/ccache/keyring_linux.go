package ccache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// resolveKeyring opens KEYRING:[anchor:]collection[:subsidiary] with
// MIT's layout (lib/krb5/ccache/cc_keyring.c): a collection keyring
// "_krb_<collection>" linked from the anchor keyring (session, user,
// process, or the session for the legacy form with no anchor; for
// "persistent" the keyring "_krb" inside the user's persistent keyring),
// holding a user key "krb_ccache:primary" that names the primary cache,
// and one keyring per cache. A cache keyring holds its default principal
// in the user key "__krb5_princ__" and one key per credential, named by
// the server principal, in the FILE version 4 format.
func resolveKeyring(residual string) (Cache, error) {
	anchor, rest, ok := strings.Cut(residual, ":")
	if !ok {
		anchor, rest = "legacy", residual
	}
	collection, sub, hasSub := strings.Cut(rest, ":")
	c := &keyringCache{anchor: anchor, collection: collection, sub: sub}
	done, err := c.possess()
	if err != nil {
		return nil, err
	}
	defer done()
	if !hasSub {
		if c.sub, err = c.primaryName(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Key types and names of MIT's keyring layout.
const (
	keyTypeUser      = "user"
	keyTypeBig       = "big_key"
	keyTypeKeyring   = "keyring"
	keyPrincipal     = "__krb5_princ__"
	keyTimeOffsets   = "__krb5_time_offsets__"
	keyPrimary       = "krb_ccache:primary"
	collectionPrefix = "_krb_"
	persistentName   = "_krb"
	// keyringMaxPayload caps what is read of one key (a big_key holds up
	// to 1 MiB).
	keyringMaxPayload = MaxData + 64<<10
)

type keyringCache struct {
	anchor, collection, sub string
	colID                   int
}

// possess pins the goroutine to its OS thread and finds the collection
// again from it. Linux keeps the process keyring in each thread's
// credentials, so the link that gives possession of a user or persistent
// collection (made in the process keyring) holds for the thread that
// made it only; every operation runs on one thread that made it. The
// caller calls the function returned when done.
func (c *keyringCache) possess() (func(), error) {
	runtime.LockOSThread()
	id, err := c.collectionKeyring()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	c.colID = id
	return runtime.UnlockOSThread, nil
}

func (c *keyringCache) Name() string {
	return "KEYRING:" + c.anchor + ":" + c.collection + ":" + c.sub
}

func (c *keyringCache) legacy() bool { return c.anchor == "legacy" }

// sessionAnchor is the keyring the session anchor writes to: the user
// session keyring when the process has no session keyring of its own, so
// that other processes see the caches (as MIT does).
func sessionAnchor() int {
	s, err1 := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	u, err2 := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_SESSION_KEYRING, false)
	if err1 == nil && err2 == nil && s == u {
		return unix.KEY_SPEC_USER_SESSION_KEYRING
	}
	return unix.KEY_SPEC_SESSION_KEYRING
}

// findOrCreateKeyring finds the keyring name within parent, or creates
// it; with possess, the keyring is also linked from possess, which gives
// this process possession when parent does not.
func findOrCreateKeyring(parent, possess int, name string) (int, error) {
	id, err := unix.KeyctlSearch(parent, keyTypeKeyring, name, possess)
	if err == nil {
		return id, nil
	}
	if possess == 0 {
		id, err = unix.AddKey(keyTypeKeyring, name, nil, parent)
		if err != nil {
			return 0, fmt.Errorf("ccache: keyring %s: %w", name, err)
		}
		return id, nil
	}
	id, err = unix.AddKey(keyTypeKeyring, name, nil, possess)
	if err != nil {
		return 0, fmt.Errorf("ccache: keyring %s: %w", name, err)
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, parent, 0, 0); err != nil {
		return 0, fmt.Errorf("ccache: keyring %s: %w", name, err)
	}
	return id, nil
}

// collectionKeyring finds or creates the collection keyring.
func (c *keyringCache) collectionKeyring() (int, error) {
	switch c.anchor {
	case "persistent":
		uid := os.Geteuid()
		if c.collection != "" {
			n, err := strconv.Atoi(c.collection)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%w: KEYRING:persistent:%s is not a uid", ErrFormat, c.collection)
			}
			uid = n
		}
		pid, err := unix.KeyctlInt(unix.KEYCTL_GET_PERSISTENT, uid, unix.KEY_SPEC_PROCESS_KEYRING, 0, 0)
		if errors.Is(err, unix.EOPNOTSUPP) && uid == os.Geteuid() {
			pid, err = unix.KEY_SPEC_USER_KEYRING, nil
		}
		if err != nil {
			return 0, fmt.Errorf("ccache: persistent keyring of uid %d: %w", uid, err)
		}
		return findOrCreateKeyring(pid, unix.KEY_SPEC_PROCESS_KEYRING, persistentName)
	case "process":
		return findOrCreateKeyring(unix.KEY_SPEC_PROCESS_KEYRING, 0, collectionPrefix+c.collection)
	case "session", "legacy":
		return findOrCreateKeyring(sessionAnchor(), 0, collectionPrefix+c.collection)
	case "user":
		return findOrCreateKeyring(unix.KEY_SPEC_USER_KEYRING, unix.KEY_SPEC_PROCESS_KEYRING, collectionPrefix+c.collection)
	case "thread":
		return 0, fmt.Errorf("%w: KEYRING:thread: belongs to one OS thread, which goroutines do not keep", ErrUnsupported)
	}
	return 0, fmt.Errorf("%w: KEYRING anchor %q", ErrFormat, c.anchor)
}

// readKey reads a key's payload, up to keyringMaxPayload bytes.
func readKey(id int) ([]byte, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil {
			return nil, err
		}
		if n <= len(buf) {
			return buf[:n], nil
		}
		if n > keyringMaxPayload {
			return nil, fmt.Errorf("%w: key of %d bytes", ErrTooLarge, n)
		}
		clear(buf)
		buf = make([]byte, n)
	}
}

// primaryName returns the collection's primary cache name, setting it to
// the collection name ("tkt" if empty) when the collection has none yet.
func (c *keyringCache) primaryName() (string, error) {
	id, err := unix.KeyctlSearch(c.colID, keyTypeUser, keyPrimary, 0)
	if err == nil {
		b, err := readKey(id)
		if err != nil {
			return "", fmt.Errorf("ccache: %s: %w", keyPrimary, err)
		}
		return parsePrimary(b)
	}
	name := c.collection
	if name == "" {
		name = "tkt"
	}
	if _, err := unix.AddKey(keyTypeUser, keyPrimary, marshalPrimary(name), c.colID); err != nil {
		return "", fmt.Errorf("ccache: %s: %w", keyPrimary, err)
	}
	if c.legacy() {
		// A cache made by older code, linked from the session keyring.
		if old, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, keyTypeKeyring, name, 0); err == nil {
			unix.KeyctlInt(unix.KEYCTL_LINK, old, c.colID, 0, 0)
		}
	}
	return name, nil
}

func (c *keyringCache) cacheKeyring() (int, error) {
	id, err := unix.KeyctlSearch(c.colID, keyTypeKeyring, c.sub, 0)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, c.Name())
	}
	return id, nil
}

// keyringEntry is a key of a cache keyring.
type keyringEntry struct {
	id         int
	typ, descr string
}

// entries lists the keys of the cache keyring with their types and
// names.
func entries(cacheID int) ([]keyringEntry, error) {
	b, err := readKey(cacheID)
	if err != nil {
		return nil, fmt.Errorf("ccache: %w", err)
	}
	if len(b)%4 != 0 || len(b)/4 > MaxCredentials+8 {
		return nil, fmt.Errorf("%w: keyring list of %d bytes", ErrFormat, len(b))
	}
	var out []keyringEntry
	for ; len(b) >= 4; b = b[4:] {
		id := int(int32(binary.NativeEndian.Uint32(b)))
		d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		if err != nil {
			continue // unlinked meanwhile
		}
		// type;uid;gid;perm;description
		parts := strings.SplitN(d, ";", 5)
		if len(parts) != 5 {
			continue
		}
		out = append(out, keyringEntry{id: id, typ: parts[0], descr: parts[4]})
	}
	return out, nil
}

func (c *keyringCache) Load(ctx context.Context) (Principal, []Credential, error) {
	done, err := c.possess()
	if err != nil {
		return Principal{}, nil, err
	}
	defer done()
	return c.load()
}

func (c *keyringCache) load() (Principal, []Credential, error) {
	cacheID, err := c.cacheKeyring()
	if err != nil {
		return Principal{}, nil, err
	}
	es, err := entries(cacheID)
	if err != nil {
		return Principal{}, nil, err
	}
	var p Principal
	havePrincipal := false
	var creds []Credential
	fail := func(err error) (Principal, []Credential, error) {
		for i := range creds {
			creds[i].Zero()
		}
		return Principal{}, nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	for _, e := range es {
		if e.typ != keyTypeUser && e.typ != keyTypeBig {
			continue
		}
		switch e.descr {
		case keyTimeOffsets:
			continue
		case keyPrincipal:
			b, err := readKey(e.id)
			if err != nil {
				return fail(err)
			}
			if p, err = ParsePrincipal(b); err != nil {
				return fail(err)
			}
			havePrincipal = true
			continue
		}
		b, err := readKey(e.id)
		if err != nil {
			continue // expired or unlinked meanwhile
		}
		cred, err := ParseCredential(b)
		clear(b)
		if err != nil {
			return fail(err)
		}
		creds = append(creds, cred)
	}
	if !havePrincipal {
		return fail(fmt.Errorf("%w: no default principal", ErrNotFound))
	}
	return p, creds, nil
}

// addCred adds one credential key, named by its server principal, with
// a timeout at its end time.
func (c *keyringCache) addCred(cacheID int, cred *Credential) error {
	b := MarshalCredential(cred)
	defer clear(b)
	name := cred.Server.String()
	var id int
	var err error
	if !c.legacy() {
		id, err = unix.AddKey(keyTypeBig, name, b, cacheID)
	}
	if c.legacy() || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENODEV) {
		id, err = unix.AddKey(keyTypeUser, name, b, cacheID)
	}
	if err != nil {
		return fmt.Errorf("ccache: %s: add %s: %w", c.Name(), name, err)
	}
	if d := time.Until(cred.EndTime); !cred.EndTime.IsZero() && d > 0 {
		unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, id, int(d/time.Second)+1, 0, 0)
	}
	return nil
}

// updateExpiration makes the cache keyring expire with its last
// credential, as MIT does.
func (c *keyringCache) updateExpiration(cacheID int) {
	_, creds, err := c.load()
	if err != nil {
		return
	}
	var end time.Time
	for i := range creds {
		if creds[i].EndTime.After(end) {
			end = creds[i].EndTime
		}
		creds[i].Zero()
	}
	if end.IsZero() {
		return
	}
	secs := 1
	if d := time.Until(end); d > time.Second {
		secs = int(d / time.Second)
	}
	unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, cacheID, secs, 0, 0)
}

func (c *keyringCache) Store(ctx context.Context, cred *Credential) error {
	done, err := c.possess()
	if err != nil {
		return err
	}
	defer done()
	cacheID, err := c.cacheKeyring()
	if err != nil {
		return err
	}
	if err := c.addCred(cacheID, cred); err != nil {
		return err
	}
	c.updateExpiration(cacheID)
	return nil
}

func (c *keyringCache) Initialize(ctx context.Context, p Principal, creds []Credential) error {
	done, err := c.possess()
	if err != nil {
		return err
	}
	defer done()
	cacheID, err := findOrCreateKeyring(c.colID, 0, c.sub)
	if err != nil {
		return err
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_CLEAR, cacheID, 0, 0, 0); err != nil {
		return fmt.Errorf("ccache: %s: clear: %w", c.Name(), err)
	}
	if c.legacy() && c.sub == c.collection {
		unix.KeyctlInt(unix.KEYCTL_LINK, cacheID, sessionAnchor(), 0, 0)
	}
	if _, err := unix.AddKey(keyTypeUser, keyPrincipal, MarshalPrincipal(p), cacheID); err != nil {
		return fmt.Errorf("ccache: %s: principal: %w", c.Name(), err)
	}
	for i := range creds {
		if err := c.addCred(cacheID, &creds[i]); err != nil {
			return err
		}
	}
	c.updateExpiration(cacheID)
	return nil
}
