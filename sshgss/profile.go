package sshgss

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Limits on the krb5.conf files LoadLocalAuth reads.
const (
	maxProfileSize  = 1 << 20
	maxProfileFiles = 64
	maxProfileDepth = 16
)

// profile holds the relations of MIT profile files (krb5.conf), in file
// order: each is its path of section, subsection and tag names, and its
// value.
type profile struct {
	relations []relation
	files     int
}

type relation struct {
	path  []string
	value string
}

// values returns the values of the relation at path, in order.
func (p *profile) values(path ...string) []string {
	var out []string
	for _, r := range p.relations {
		if equalPath(r.path, path) {
			out = append(out, r.value)
		}
	}
	return out
}

// first returns the first value at path.
func (p *profile) first(path ...string) (string, bool) {
	for _, r := range p.relations {
		if equalPath(r.path, path) {
			return r.value, true
		}
	}
	return "", false
}

// children returns the tags and values directly under path.
func (p *profile) children(path ...string) []relation {
	var out []relation
	for _, r := range p.relations {
		if len(r.path) == len(path)+1 && equalPath(r.path[:len(path)], path) {
			out = append(out, relation{path: r.path[len(path):], value: r.value})
		}
	}
	return out
}

func equalPath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// readFile parses one profile file, and the files it includes.
func (p *profile) readFile(path string, depth int) error {
	if depth > maxProfileDepth {
		return fmt.Errorf("sshgss: %s: includes nested too deep", path)
	}
	p.files++
	if p.files > maxProfileFiles {
		return fmt.Errorf("sshgss: more than %d krb5.conf files", maxProfileFiles)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxProfileSize+1))
	if err != nil {
		return err
	}
	if len(data) > maxProfileSize {
		return fmt.Errorf("sshgss: %s is larger than %d bytes", path, maxProfileSize)
	}
	return p.parse(string(data), path, depth)
}

// parse parses the profile syntax of krb5.conf(5): "[section]" headers,
// "tag = value" relations, "tag = {" ... "}" subsections, comments
// starting with '#' or ';', a '*' after a name or closing brace (final;
// ignored here), quoted values with \n \t \b and \\ escapes, and the
// include and includedir directives.
func (p *profile) parse(data, name string, depth int) error {
	var section string
	var stack []string // open subsections
	for n, line := range strings.Split(data, "\n") {
		bad := func(why string) error {
			return fmt.Errorf("sshgss: %s:%d: %s", name, n+1, why)
		}
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "include ") || strings.HasPrefix(line, "includedir ") {
			directive, arg, _ := strings.Cut(line, " ")
			arg = strings.TrimSpace(arg)
			if err := p.include(directive, arg, depth); err != nil {
				return bad(err.Error())
			}
			continue
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return bad("unterminated section header")
			}
			if rest := strings.TrimSpace(line[end+1:]); rest != "" && rest != "*" {
				return bad("text after the section header")
			}
			if len(stack) != 0 {
				return bad("section header inside a subsection")
			}
			section = line[1:end]
			continue
		case line[0] == '}':
			if rest := strings.TrimSpace(line[1:]); rest != "" && rest != "*" {
				return bad("text after '}'")
			}
			if len(stack) == 0 {
				return bad("'}' without a subsection")
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if section == "" {
			return bad("relation outside a section")
		}
		tag, value, ok := strings.Cut(line, "=")
		if !ok {
			return bad("no '=' in a relation")
		}
		tag = strings.TrimSpace(tag)
		tag = strings.TrimSuffix(tag, "*")
		tag = strings.TrimSpace(tag)
		if tag == "" || strings.ContainsAny(tag, " \t") {
			return bad("bad tag")
		}
		value = strings.TrimSpace(value)
		path := append(append([]string{section}, stack...), tag)
		if value == "{" {
			if len(stack) >= maxProfileDepth {
				return bad("subsections nested too deep")
			}
			stack = append(stack, tag)
			continue
		}
		if strings.HasPrefix(value, `"`) {
			v, err := unquote(value)
			if err != nil {
				return bad(err.Error())
			}
			value = v
		}
		p.relations = append(p.relations, relation{path: path, value: value})
	}
	if len(stack) != 0 {
		return fmt.Errorf("sshgss: %s: unterminated subsection %q", name, stack[len(stack)-1])
	}
	return nil
}

// include reads an included file, or the files of an included directory
// whose names are made of letters, digits, '-' and '_' or end in ".conf",
// as MIT does.
func (p *profile) include(directive, arg string, depth int) error {
	if !filepath.IsAbs(arg) {
		return fmt.Errorf("%s %q: not an absolute path", directive, arg)
	}
	if directive == "include" {
		return p.readFile(arg, depth+1)
	}
	entries, err := os.ReadDir(arg)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !includable(e.Name()) {
			continue
		}
		if err := p.readFile(filepath.Join(arg, e.Name()), depth+1); err != nil {
			return err
		}
	}
	return nil
}

func includable(name string) bool {
	if strings.HasSuffix(name, ".conf") {
		return true
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return name != ""
}

func unquote(v string) (string, error) {
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '"':
			return b.String(), nil
		case '\\':
			i++
			if i == len(v) {
				return "", errors.New("unterminated quoted value")
			}
			switch v[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			default:
				b.WriteByte(v[i])
			}
		default:
			b.WriteByte(v[i])
		}
	}
	return "", errors.New("unterminated quoted value")
}

// LoadLocalAuth reads a [LocalAuth] from krb5.conf files: libdefaults'
// default_realm, k5login_directory and k5login_authoritative, and the
// default realm's auth_to_local values and auth_to_local_names
// subsection. With no paths it reads the files KRB5_CONFIG names
// (colon-separated; missing ones are skipped, as with MIT), else
// /etc/krb5.conf. Where a relation is given more than once the first
// value counts, except auth_to_local, whose values add up in order.
func LoadLocalAuth(paths ...string) (*LocalAuth, error) {
	if len(paths) == 0 {
		if env := os.Getenv("KRB5_CONFIG"); env != "" {
			paths = strings.Split(env, ":")
		} else {
			paths = []string{"/etc/krb5.conf"}
		}
	}
	p := &profile{}
	read := 0
	for _, path := range paths {
		err := p.readFile(path, 0)
		if errors.Is(err, os.ErrNotExist) && len(paths) > 1 {
			continue
		}
		if err != nil {
			return nil, err
		}
		read++
	}
	if read == 0 {
		return nil, fmt.Errorf("sshgss: none of %q exists", paths)
	}
	return p.localAuth()
}

func (p *profile) localAuth() (*LocalAuth, error) {
	a := &LocalAuth{}
	a.DefaultRealm, _ = p.first("libdefaults", "default_realm")
	a.K5LoginDirectory, _ = p.first("libdefaults", "k5login_directory")
	if v, ok := p.first("libdefaults", "k5login_authoritative"); ok {
		switch strings.ToLower(v) {
		case "y", "yes", "true", "t", "1", "on":
		case "n", "no", "false", "nil", "0", "off":
			a.K5LoginNotAuthoritative = true
		default:
			return nil, fmt.Errorf("sshgss: k5login_authoritative = %q is not a boolean", v)
		}
	}
	if a.DefaultRealm == "" {
		return a, nil
	}
	a.Rules = p.values("realms", a.DefaultRealm, "auth_to_local")
	for _, r := range p.children("realms", a.DefaultRealm, "auth_to_local_names") {
		if a.Names == nil {
			a.Names = map[string]string{}
		}
		if _, dup := a.Names[r.path[0]]; !dup {
			a.Names[r.path[0]] = r.value
		}
	}
	return a, nil
}
