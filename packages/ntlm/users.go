package ntlm

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrUnknownUser is returned by a UserStore that does not know the user;
// the acceptor answers SEC_E_LOGON_DENIED.
var ErrUnknownUser = errors.New("ntlm: unknown user")

// UserStore is where a server context finds the NT hash (NTOWFv1) of the
// user a client authenticates as. Users, UserFile and LookupFunc implement
// it. LookupNTHash returns ErrUnknownUser for a user it does not know; any
// other error fails the handshake with SEC_E_INTERNAL_ERROR.
type UserStore interface {
	LookupNTHash(ctx context.Context, domain, user string) ([16]byte, error)
}

// Users is an in-memory UserStore: passwords keyed by "DOMAIN\user", or by
// "user" for an entry that matches any domain. Names compare without
// regard to case.
type Users map[string]string

// LookupNTHash implements UserStore.
func (u Users) LookupNTHash(_ context.Context, domain, user string) ([16]byte, error) {
	var wildcard *string
	for k, pw := range u {
		d, n, ok := strings.Cut(k, `\`)
		if !ok {
			d, n = "", k
		}
		if !strings.EqualFold(n, user) {
			continue
		}
		if strings.EqualFold(d, domain) {
			return ntowfv1(pw), nil
		}
		if d == "" {
			wildcard = &pw
		}
	}
	if wildcard != nil {
		return ntowfv1(*wildcard), nil
	}
	return [16]byte{}, ErrUnknownUser
}

// UserFile is a UserStore read from a file in the format of gss-ntlmssp's
// NTLM_USER_FILE: one "DOMAIN:USER:PASSWORD" entry a line (an empty DOMAIN
// matches any domain), or a smbpasswd line "USER:UID:LMHASH:NTHASH:..."
// whose USER may be "DOMAIN\user". Lines starting with '#' are comments.
// The file is read at each lookup, so edits take effect at once.
type UserFile string

// LookupNTHash implements UserStore.
func (f UserFile) LookupNTHash(_ context.Context, domain, user string) ([16]byte, error) {
	entries, err := readUserFile(string(f))
	if err != nil {
		return [16]byte{}, err
	}
	var anyDomain *userEntry
	for i := range entries {
		e := &entries[i]
		if !strings.EqualFold(e.user, user) {
			continue
		}
		if strings.EqualFold(e.domain, domain) {
			return e.nt, nil
		}
		if e.domain == "" && anyDomain == nil {
			anyDomain = e
		}
	}
	if anyDomain != nil {
		return anyDomain.nt, nil
	}
	return [16]byte{}, ErrUnknownUser
}

// LookupFunc adapts a function to UserStore: for example a directory
// lookup that returns the NT hash held for domain\user.
type LookupFunc func(ctx context.Context, domain, user string) ([16]byte, error)

// LookupNTHash implements UserStore.
func (f LookupFunc) LookupNTHash(ctx context.Context, domain, user string) ([16]byte, error) {
	return f(ctx, domain, user)
}

type userEntry struct {
	domain, user string
	nt           [16]byte
}

// readUserFile parses an NTLM_USER_FILE.
func readUserFile(name string) ([]userEntry, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("ntlm: user file: %w", err)
	}
	defer f.Close()
	var out []userEntry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		e, ok := parseUserLine(line)
		if !ok {
			return nil, fmt.Errorf("ntlm: user file %q: line %d is malformed", name, n)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ntlm: user file: %w", err)
	}
	return out, nil
}

func parseUserLine(line string) (userEntry, bool) {
	parts := strings.Split(line, ":")
	// smbpasswd: USER:UID:LMHASH:NTHASH:[FLAGS]:LCT-...
	if len(parts) >= 6 && len(parts[3]) == 32 {
		if h, err := hex.DecodeString(parts[3]); err == nil {
			e := userEntry{}
			copy(e.nt[:], h)
			e.user, e.domain = parts[0], ""
			if d, u, ok := strings.Cut(parts[0], `\`); ok {
				e.domain, e.user = d, u
			}
			return e, e.user != ""
		}
	}
	// DOMAIN:USER:PASSWORD, the password running to the end of the line.
	p := strings.SplitN(line, ":", 3)
	if len(p) != 3 || p[1] == "" {
		return userEntry{}, false
	}
	return userEntry{domain: p[0], user: p[1], nt: ntowfv1(p[2])}, true
}
