package ntlm

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Printing with fmt never shows a password, a hash or a key: the types
// that hold one implement fmt.Formatter, String and GoString with the
// secret replaced by redacted, for every verb (%v, %+v, %#v, %s, %q, %x...).
// Without this, fmt would print an unexported field's bytes through
// reflection, for example the passwords of a Users map held by
// credentials, or a context's session key.

const redacted = "<redacted>"

// formatRedacted writes s, or gs for %#v, quoted for %q; other verbs get s
// as %s would.
func formatRedacted(f fmt.State, verb rune, s, gs string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, gs)
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(s))
	default:
		fmt.Fprint(f, s)
	}
}

// String returns the user names with their passwords redacted.
func (u Users) String() string {
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range slices.Sorted(maps.Keys(u)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + ":" + redacted)
	}
	b.WriteString("]")
	return b.String()
}

// GoString returns u in Go syntax with the passwords redacted.
func (u Users) GoString() string {
	if u == nil {
		return "ntlm.Users(nil)"
	}
	var b strings.Builder
	b.WriteString("ntlm.Users{")
	for i, k := range slices.Sorted(maps.Keys(u)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(k) + ":" + strconv.Quote(redacted))
	}
	b.WriteString("}")
	return b.String()
}

// Format implements fmt.Formatter: the passwords are redacted whatever the
// verb.
func (u Users) Format(f fmt.State, verb rune) { formatRedacted(f, verb, u.String(), u.GoString()) }

// String returns the user and domain with the hash redacted.
func (h NTHash) String() string {
	return "{" + h.User + " " + h.Domain + " " + redacted + "}"
}

// GoString returns h in Go syntax with the hash redacted.
func (h NTHash) GoString() string {
	return "ntlm.NTHash{User:" + strconv.Quote(h.User) + ", Domain:" + strconv.Quote(h.Domain) + ", Hash:" + redacted + "}"
}

// Format implements fmt.Formatter: the hash is redacted whatever the verb.
func (h NTHash) Format(f fmt.State, verb rune) { formatRedacted(f, verb, h.String(), h.GoString()) }

// Format implements fmt.Formatter for the package: its Config may hold a
// Users store.
func (p *Package) Format(f fmt.State, verb rune) {
	s := "ntlm.Package{" + redacted + "}"
	formatRedacted(f, verb, s, "&"+s)
}

// Format implements fmt.Formatter for credentials: the user's name only.
func (c *credentials) Format(f fmt.State, verb rune) {
	s := "ntlm.credentials{user:" + strconv.Quote(c.UserName()) + ", keys:" + redacted + "}"
	formatRedacted(f, verb, s, "&"+s)
}

// Format implements fmt.Formatter for client and server contexts: their
// side and state only, never the session key or the user's keys.
func (c *ntlmContext) Format(f fmt.State, verb rune) {
	side := "server"
	if c.client {
		side = "client"
	}
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	s := "ntlm." + side + "Context{state:" + strconv.Quote(st.String()) + ", keys:" + redacted + "}"
	formatRedacted(f, verb, s, "&"+s)
}
