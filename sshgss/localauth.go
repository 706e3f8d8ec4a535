package sshgss

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// LocalAuth decides which Kerberos principals may log in as which local
// users, as MIT krb5 (1.20) decides it for sshd: [LocalAuth.Userok] is
// krb5_kuserok (~/.k5login, then the principal's local name) and
// [LocalAuth.LocalName] is krb5_aname_to_localname (auth_to_local_names,
// then the auth_to_local rules, of the default realm). [LoadLocalAuth]
// reads them from krb5.conf; a LocalAuth can also be filled in directly.
// Its fields are read-only once it is in use; it is then safe for
// concurrent use.
type LocalAuth struct {
	// DefaultRealm is libdefaults' default_realm: principals without a
	// realm in .k5login are in it, and DEFAULT maps only its principals.
	DefaultRealm string

	// Rules are the auth_to_local values of the default realm's
	// [realms] section, in order: "RULE:[n:fmt](regexp)s/pattern/text/g"
	// and "DEFAULT". Nil means DEFAULT alone, as with MIT when the realm
	// has no auth_to_local.
	Rules []string

	// Names is the default realm's auth_to_local_names subsection: the
	// principal without its realm ("alice", "alice/admin") to a local
	// name. It is consulted before Rules.
	Names map[string]string

	// K5LoginDirectory is libdefaults' k5login_directory: when set, the
	// .k5login of user u is K5LoginDirectory/u instead of ~u/.k5login.
	K5LoginDirectory string

	// K5LoginNotAuthoritative is k5login_authoritative = false: a
	// principal missing from an existing .k5login may still log in
	// through its local name.
	K5LoginNotAuthoritative bool

	// LookupUser returns the home directory and uid of a local user; nil
	// means os/user.Lookup. A user it does not know is never authorized.
	LookupUser func(name string) (home string, uid int, err error)
}

// Limits on what LocalAuth reads.
const (
	maxK5LoginSize  = 1 << 20
	maxRules        = 256
	maxSelectionLen = 4096
	maxLocalNameLen = 4096
)

// ErrNoTranslation reports that no auth_to_local rule applies to the
// principal (MIT's KRB5_LNAME_NOTRANS).
var ErrNoTranslation = errors.New("sshgss: no translation to a local name")

// ErrNotAuthorized is the error of Authorize for a principal that may not
// log in as the user.
var ErrNotAuthorized = errors.New("sshgss: principal not authorized for the local user")

// principal is a parsed Kerberos principal name.
type principal struct {
	components []string
	realm      string
}

// parsePrincipal parses "c1/c2@REALM" with RFC 1964 2.1.1 escapes ('\'
// quotes the next character; \n, \t, \b and \0 as in MIT); a name with
// no realm is in defaultRealm.
func parsePrincipal(s, defaultRealm string) (principal, error) {
	var p principal
	var cur strings.Builder
	inRealm := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\':
			i++
			if i == len(s) {
				return principal{}, fmt.Errorf("sshgss: principal %q ends in a backslash", s)
			}
			switch s[i] {
			case 'n':
				cur.WriteByte('\n')
			case 't':
				cur.WriteByte('\t')
			case 'b':
				cur.WriteByte('\b')
			case '0':
				cur.WriteByte(0)
			default:
				cur.WriteByte(s[i])
			}
		case ch == '/' && !inRealm:
			p.components = append(p.components, cur.String())
			cur.Reset()
		case ch == '@' && !inRealm:
			p.components = append(p.components, cur.String())
			cur.Reset()
			inRealm = true
		case ch == '@' || (ch == '/' && inRealm):
			return principal{}, fmt.Errorf("sshgss: principal %q has %q in its realm", s, ch)
		default:
			cur.WriteByte(ch)
		}
	}
	if inRealm {
		p.realm = cur.String()
		if p.realm == "" {
			return principal{}, fmt.Errorf("sshgss: principal %q has an empty realm", s)
		}
	} else {
		p.components = append(p.components, cur.String())
		p.realm = defaultRealm
	}
	return p, nil
}

func (p principal) equal(q principal) bool {
	if p.realm != q.realm || len(p.components) != len(q.components) {
		return false
	}
	for i := range p.components {
		if p.components[i] != q.components[i] {
			return false
		}
	}
	return true
}

// nameNoRealm is the principal without its realm, escaped as MIT
// unparses it.
func (p principal) nameNoRealm() string {
	r := strings.NewReplacer(`\`, `\\`, `/`, `\/`, `@`, `\@`, "\n", `\n`, "\t", `\t`, "\b", `\b`, "\x00", `\0`)
	parts := make([]string, len(p.components))
	for i, c := range p.components {
		parts[i] = r.Replace(c)
	}
	return strings.Join(parts, "/")
}

// LocalName maps a principal ("alice@EXAMPLE.COM") to a local user name
// as krb5_aname_to_localname does: an auth_to_local_names entry for it,
// else the first auth_to_local rule that applies to it. A rule applies
// when the principal has the rule's number of components and the
// selection string matches the rule's regular expression in full; a
// malformed rule, or one naming a component the principal lacks, ends the
// mapping with an error, as with MIT. DEFAULT applies to one-component
// principals of the default realm and gives that component.
//
// Regular expressions are POSIX extended (leftmost-longest); the
// replacement text is literal (no \1 or &), and each s/// command runs
// on the result of the previous one. Unlike MIT, a g substitution whose
// pattern matches the empty string does not loop forever: it moves on by
// one character.
func (a *LocalAuth) LocalName(name string) (string, error) {
	p, err := parsePrincipal(name, a.DefaultRealm)
	if err != nil {
		return "", err
	}
	return a.localName(p)
}

func (a *LocalAuth) localName(p principal) (string, error) {
	if ln, ok := a.Names[p.nameNoRealm()]; ok {
		return ln, nil
	}
	rules := a.Rules
	if rules == nil {
		rules = []string{"DEFAULT"}
	}
	if len(rules) > maxRules {
		return "", fmt.Errorf("sshgss: more than %d auth_to_local rules", maxRules)
	}
	for _, r := range rules {
		ln, ok, err := applyRule(strings.TrimSpace(r), p, a.DefaultRealm)
		if err != nil {
			return "", err
		}
		if ok {
			return ln, nil
		}
	}
	return "", ErrNoTranslation
}

// applyRule applies one auth_to_local value to p: ok false when it does
// not apply.
func applyRule(rule string, p principal, defaultRealm string) (string, bool, error) {
	switch {
	case rule == "DEFAULT":
		if len(p.components) != 1 || p.realm != defaultRealm {
			return "", false, nil
		}
		return p.components[0], true, nil
	case strings.HasPrefix(rule, "RULE:"):
		return applyRuleExpr(rule[len("RULE:"):], p)
	default:
		return "", false, fmt.Errorf("sshgss: unsupported auth_to_local value %q", rule)
	}
}

// applyRuleExpr applies "[n:fmt](regexp)s/pattern/text/[g]..." (the
// regexp and substitutions optional) to p.
func applyRuleExpr(expr string, p principal) (string, bool, error) {
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("sshgss: auth_to_local rule %q: %s", "RULE:"+expr, why)
	}
	if !strings.HasPrefix(expr, "[") {
		return bad("no [n:format]")
	}
	end := strings.IndexByte(expr, ']')
	if end < 0 {
		return bad("unterminated [n:format]")
	}
	nStr, format, ok := strings.Cut(expr[1:end], ":")
	if !ok {
		return bad("no ':' in [n:format]")
	}
	n, err := strconv.Atoi(nStr)
	if err != nil || n < 0 || n > maxRules {
		return bad("bad component count")
	}
	rest := expr[end+1:]
	if len(p.components) != n {
		return "", false, nil
	}
	sel, err := selection(format, p)
	if err != nil {
		return bad(err.Error())
	}
	if strings.HasPrefix(rest, "(") {
		re, after, err := readFilter(rest)
		if err != nil {
			return bad(err.Error())
		}
		rest = after
		loc := re.FindStringIndex(sel)
		if loc == nil || loc[0] != 0 || loc[1] != len(sel) {
			// MIT takes the filter to match only when it spans the
			// whole selection string; otherwise the next rule is tried
			// (the substitutions unread, as with MIT).
			return "", false, nil
		}
	}
	substs, err := parseSubsts(rest)
	if err != nil {
		return bad(err.Error())
	}
	out := sel
	for _, s := range substs {
		out = s.apply(out)
		if len(out) > maxLocalNameLen {
			return bad("the local name grows too long")
		}
	}
	return out, true, nil
}

// selection forms the selection string of a rule: $0 is the realm, $n the
// nth component; a '$' without digits is $0, as with MIT.
func selection(format string, p principal) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '$' {
			b.WriteByte(format[i])
			continue
		}
		j := i + 1
		for j < len(format) && format[j] >= '0' && format[j] <= '9' && j-i <= 4 {
			j++
		}
		k := 0
		if j > i+1 {
			k, _ = strconv.Atoi(format[i+1 : j])
		}
		i = j - 1
		switch {
		case k == 0:
			b.WriteString(p.realm)
		case k <= len(p.components):
			b.WriteString(p.components[k-1])
		default:
			return "", fmt.Errorf("$%d: the principal has %d components", k, len(p.components))
		}
		if b.Len() > maxSelectionLen {
			return "", errors.New("selection string too long")
		}
	}
	return b.String(), nil
}

// readFilter reads "(regexp)" with nested parentheses and returns what
// follows it.
func readFilter(s string) (*regexp.Regexp, string, error) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				re, err := regexp.CompilePOSIX(s[1:i])
				if err != nil {
					return nil, "", err
				}
				return re, s[i+1:], nil
			}
		}
	}
	return nil, "", errors.New("unterminated (regexp)")
}

// subst is one s/pattern/text/[g] command.
type subst struct {
	re     *regexp.Regexp
	text   string
	global bool
}

// parseSubsts parses zero or more s/pattern/text/[g] commands; trailing
// white space is allowed, anything else is an error.
func parseSubsts(s string) ([]subst, error) {
	var out []subst
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if len(out) >= maxRules {
			return nil, errors.New("too many substitutions")
		}
		if !strings.HasPrefix(s, "s/") {
			return nil, fmt.Errorf("unexpected %q", s)
		}
		s = s[2:]
		pat, rest, ok := strings.Cut(s, "/")
		if !ok {
			return nil, errors.New("unterminated s/// pattern")
		}
		text, rest, ok := strings.Cut(rest, "/")
		if !ok {
			return nil, errors.New("unterminated s/// text")
		}
		re, err := regexp.CompilePOSIX(pat)
		if err != nil {
			return nil, err
		}
		sub := subst{re: re, text: text}
		if strings.HasPrefix(rest, "g") {
			sub.global = true
			rest = rest[1:]
		}
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' && !strings.HasPrefix(rest, "s/") {
			return nil, fmt.Errorf("unexpected %q", rest)
		}
		out = append(out, sub)
		s = rest
	}
}

func (s subst) apply(in string) string {
	if !s.global {
		loc := s.re.FindStringIndex(in)
		if loc == nil {
			return in
		}
		return in[:loc[0]] + s.text + in[loc[1]:]
	}
	var b strings.Builder
	last := 0
	for _, loc := range s.re.FindAllStringIndex(in, -1) {
		b.WriteString(in[last:loc[0]])
		b.WriteString(s.text)
		last = loc[1]
		if b.Len() > maxLocalNameLen {
			break
		}
	}
	b.WriteString(in[last:])
	return b.String()
}

// Userok reports whether principal may log in as the local user, as
// krb5_kuserok decides: the user must exist (unless
// K5LoginNotAuthoritative); if the user's .k5login exists it must be
// owned by the user or root, and a principal listed in it (one per line,
// exactly, realm included) may log in; a principal not listed may not,
// unless K5LoginNotAuthoritative. Otherwise (no .k5login) the principal
// may log in when LocalName maps it to user.
func (a *LocalAuth) Userok(principalName, localUser string) bool {
	return a.Authorize(principalName, localUser) == nil
}

// Authorize is Userok with the reason for a refusal, an error that
// matches ErrNotAuthorized (and names no secret). It fits
// x/crypto/ssh's GSSAPIWithMICConfig.AllowLogin:
//
//	AllowLogin: func(c ssh.ConnMetadata, principal string) (*ssh.Permissions, error) {
//		return nil, auth.Authorize(principal, c.User())
//	},
func (a *LocalAuth) Authorize(principalName, localUser string) error {
	deny := func(why string) error {
		return fmt.Errorf("%w: %q as %q: %s", ErrNotAuthorized, principalName, localUser, why)
	}
	p, err := parsePrincipal(principalName, a.DefaultRealm)
	if err != nil {
		return deny(err.Error())
	}
	home, uid, err := a.lookupUser(localUser)
	if err != nil {
		// MIT's k5login module takes an unknown user as an
		// authoritative refusal; the local name may still decide when
		// .k5login is not authoritative.
		if !a.K5LoginNotAuthoritative {
			return deny("no such user")
		}
	} else {
		path := filepath.Join(home, ".k5login")
		if a.K5LoginDirectory != "" {
			if strings.ContainsAny(localUser, "/\x00") || localUser == "." || localUser == ".." {
				return deny("bad user name")
			}
			path = filepath.Join(a.K5LoginDirectory, localUser)
		}
		listed, exists, err := k5loginLists(path, uid, p)
		switch {
		case err != nil:
			return deny(err.Error())
		case listed:
			return nil
		case exists && !a.K5LoginNotAuthoritative:
			return deny("not in " + path)
		}
	}
	ln, err := a.localName(p)
	if err != nil {
		return deny(err.Error())
	}
	if ln != localUser {
		return deny("maps to " + strconv.Quote(ln))
	}
	return nil
}

func (a *LocalAuth) lookupUser(name string) (string, int, error) {
	if a.LookupUser != nil {
		return a.LookupUser(name)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return "", 0, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return "", 0, err
	}
	return u.HomeDir, uid, nil
}

// k5loginLists reads a .k5login: whether it lists p, and whether it
// exists. A file owned by someone other than uid or root is an error.
func k5loginLists(path string, uid int, p principal) (listed, exists bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	} else if err != nil {
		return false, true, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, true, err
	}
	if owner, ok := fileOwner(fi); ok && owner != uid && owner != 0 {
		return false, true, fmt.Errorf("%s is owned by uid %d", path, owner)
	}
	if fi.Size() > maxK5LoginSize {
		return false, true, fmt.Errorf("%s is larger than %d bytes", path, maxK5LoginSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxK5LoginSize+1))
	if err != nil {
		return false, true, err
	}
	if len(data) > maxK5LoginSize {
		return false, true, fmt.Errorf("%s is larger than %d bytes", path, maxK5LoginSize)
	}
	return k5loginHas(data, p), true, nil
}

// k5loginHas reports whether a .k5login's content lists p: one
// principal a line with its realm (MIT 1.20 matches no line without
// one), the newline (only) removed; lines that do not parse are skipped.
func k5loginHas(data []byte, p principal) bool {
	for _, line := range strings.Split(string(data), "\n") {
		q, err := parsePrincipal(line, "")
		if err == nil && q.realm != "" && q.equal(p) {
			return true
		}
	}
	return false
}
