package ccache

import (
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
)

// DefaultName returns the name of the default credential cache as MIT
// chooses it: krb5ccname (the KRB5CCNAME environment variable, taken as
// it is), else confName (krb5.conf's [libdefaults] default_ccache_name)
// with its tokens expanded, else the platform's default: FILE:/tmp/krb5cc_UID
// on Linux and the BSDs; API: on macOS and MSLSA: on Windows, which
// [Resolve] refuses with an error that says to set KRB5CCNAME.
func DefaultName(krb5ccname, confName string) (string, error) {
	return defaultName(runtime.GOOS, krb5ccname, confName)
}

func defaultName(goos, krb5ccname, confName string) (string, error) {
	if krb5ccname != "" {
		return krb5ccname, nil
	}
	if confName != "" {
		return ExpandTokens(confName)
	}
	switch goos {
	case "darwin", "ios":
		return "API:", nil
	case "windows":
		return "MSLSA:", nil
	}
	return ExpandTokens("FILE:/tmp/krb5cc_%{uid}")
}

// ExpandTokens expands the %{...} tokens of a krb5.conf path as MIT
// does on Unix: %{uid} and %{USERID} (the real user ID), %{euid},
// %{username} (the effective user's login name), %{TEMP} (TMPDIR, else
// /tmp) and %{null}. Another token, or an unterminated one, is an error.
func ExpandTokens(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "%{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("ccache: unterminated token in %q", s)
		}
		tok := s[i+2 : i+j]
		s = s[i+j+1:]
		switch tok {
		case "uid", "USERID":
			b.WriteString(strconv.Itoa(os.Getuid()))
		case "euid":
			b.WriteString(strconv.Itoa(os.Geteuid()))
		case "username":
			u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
			if err != nil {
				return "", fmt.Errorf("ccache: %%{username}: %w", err)
			}
			b.WriteString(u.Username)
		case "TEMP":
			t := os.Getenv("TMPDIR")
			if t == "" {
				t = "/tmp"
			}
			b.WriteString(t)
		case "null":
		default:
			return "", fmt.Errorf("ccache: unknown token %%{%s}", tok)
		}
	}
}
