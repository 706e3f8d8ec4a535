package sshgss

import (
	"strings"
	"testing"
)

// marshal writes the relations back in krb5.conf syntax, quoting every
// value.
func (p *profile) marshal() string {
	var b strings.Builder
	for _, r := range p.relations {
		b.WriteString("[" + r.path[0] + "]\n")
		for _, s := range r.path[1 : len(r.path)-1] {
			b.WriteString(s + " = {\n")
		}
		q := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "\b", `\b`).Replace(r.value)
		b.WriteString(r.path[len(r.path)-1] + ` = "` + q + "\"\n")
		for range r.path[1 : len(r.path)-1] {
			b.WriteString("}\n")
		}
	}
	return b.String()
}

// FuzzProfile: the krb5.conf parser never panics, and what it accepts
// round-trips: the relations written back and parsed again are the
// same.
func FuzzProfile(f *testing.F) {
	f.Add("[libdefaults]\n\tdefault_realm = R.TEST\n[realms]\n R.TEST = {\n  auth_to_local = RULE:[1:$1](a.*)s/a/b/g\n  auth_to_local_names = {\n   x = \"y z\"\n  }\n }*\n")
	f.Add("# c\n; d\n[a]*\nb = \"\\n\\t\\\\\"\n")
	f.Fuzz(func(t *testing.T, data string) {
		if len(data) > 1<<16 {
			return
		}
		p := &profile{}
		// Depth maxProfileDepth: an include fails instead of reading a
		// file.
		if err := p.parse(data, "fuzz", maxProfileDepth); err != nil {
			return
		}
		for _, r := range p.relations {
			for _, s := range r.path {
				// A trailing '*' is the "final" flag on the line that
				// names it, so a name ending in '*' cannot be written back.
				if s == "" || strings.ContainsAny(s, " \t\n=[]{}") || strings.HasPrefix(s, "#") || strings.HasPrefix(s, ";") || strings.HasSuffix(s, "*") {
					return // names marshal cannot write back
				}
			}
			if strings.HasPrefix(r.path[len(r.path)-1], "include") {
				return
			}
		}
		q := &profile{}
		if err := q.parse(p.marshal(), "again", maxProfileDepth); err != nil {
			t.Fatalf("reparse: %v\n%s", err, p.marshal())
		}
		if len(q.relations) != len(p.relations) {
			t.Fatalf("%d relations, then %d", len(p.relations), len(q.relations))
		}
		for i := range p.relations {
			if !equalPath(p.relations[i].path, q.relations[i].path) || p.relations[i].value != q.relations[i].value {
				t.Fatalf("relation %d: %q = %q, then %q = %q", i, p.relations[i].path, p.relations[i].value, q.relations[i].path, q.relations[i].value)
			}
		}
	})
}

// FuzzLocalName: a rule and a principal never panic, the answer is the
// same twice, bounded in size, and an error gives no name; a parsed
// principal unparses to a name that parses back to it.
func FuzzLocalName(f *testing.F) {
	f.Add(`RULE:[1:$1@$0](.*@R\.TEST)s/@.*//`, "alice@R.TEST")
	f.Add(`RULE:[2:$2.$1](.*)s/a*/Q/g`, `a\/b/c@R.TEST`)
	f.Add("DEFAULT", "alice")
	f.Fuzz(func(t *testing.T, rule, name string) {
		if len(rule) > 1024 || len(name) > 1024 {
			return
		}
		a := &LocalAuth{DefaultRealm: "R.TEST", Rules: []string{rule}}
		got, err := a.LocalName(name)
		again, err2 := a.LocalName(name)
		if got != again || (err == nil) != (err2 == nil) {
			t.Fatalf("two answers: %q %v, %q %v", got, err, again, err2)
		}
		if err != nil && got != "" {
			t.Fatalf("error %v with name %q", err, got)
		}
		if len(got) > maxLocalNameLen+maxSelectionLen {
			t.Fatalf("name of %d bytes", len(got))
		}
		p, err := parsePrincipal(name, "R.TEST")
		if err != nil {
			return
		}
		q, err := parsePrincipal(p.nameNoRealm()+"@"+strings.NewReplacer(`\`, `\\`, `@`, `\@`, `/`, `\/`).Replace(p.realm), "")
		if err != nil || !q.equal(p) {
			t.Fatalf("%q: parsed %q, unparsed and parsed %q (%v)", name, p, q, err)
		}
	})
}
