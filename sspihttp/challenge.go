package sspihttp

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// Scheme names as they appear in WWW-Authenticate and Authorization
// (RFC 4559 Negotiate; Microsoft's NTLM and Kerberos; RFC 7616 Digest).
const (
	SchemeNegotiate = "Negotiate"
	SchemeKerberos  = "Kerberos"
	SchemeNTLM      = "NTLM"
	SchemeDigest    = "Digest"
)

// defaultSchemes is the order of preference of a Transport whose Schemes
// field is nil.
var defaultSchemes = []string{SchemeNegotiate, SchemeKerberos, SchemeNTLM, SchemeDigest}

// packageOf returns the SSPI package that runs an HTTP scheme.
func packageOf(scheme string) string {
	switch scheme {
	case SchemeDigest:
		return "WDigest"
	default:
		return scheme
	}
}

// connectionBound reports whether a scheme's handshake spans several
// requests on one connection (RFC 4559 4.2 and the NTLM HTTP practice).
func connectionBound(scheme string) bool { return scheme != SchemeDigest }

// canonicalScheme returns the spelling of a known scheme, compared
// case-insensitively (RFC 7235 2.1), or "" for an unknown one.
func canonicalScheme(s string) string {
	for _, k := range defaultSchemes {
		if strings.EqualFold(s, k) {
			return k
		}
	}
	return ""
}

// challenge is one challenge of a WWW-Authenticate or Proxy-Authenticate
// field, or the credentials of an Authorization field: the scheme and
// everything after it, unparsed (a token68 or an auth-param list).
type challenge struct {
	scheme string // canonical for known schemes, as received otherwise
	params string // the rest, trimmed
}

// token decodes a token68 payload (Negotiate, NTLM, Kerberos); nil with
// ok=true when there is none.
func (c challenge) token() (b []byte, ok bool) {
	if c.params == "" {
		return nil, true
	}
	b, err := base64.StdEncoding.DecodeString(c.params)
	if err != nil {
		return nil, false
	}
	return b, true
}

func isTokenChar(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseChallenges splits the values of a WWW-Authenticate-style field into
// challenges (RFC 7235 4.1): `Negotiate, NTLM, Digest realm="a, b", qop=auth`
// gives three. A malformed remainder ends the list; nothing panics.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		out = append(out, parseChallengeList(v)...)
	}
	return out
}

func parseChallengeList(s string) []challenge {
	var out []challenge
	i := 0
	n := len(s)
	skipSpace := func() {
		for i < n && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for i < n {
		skipSpace()
		if i < n && s[i] == ',' {
			i++
			continue
		}
		start := i
		for i < n && isTokenChar(s[i]) {
			i++
		}
		if i == start {
			return out // not a scheme token
		}
		ch := challenge{scheme: s[start:i]}
		if k := canonicalScheme(ch.scheme); k != "" {
			ch.scheme = k
		}
		skipSpace()
		pstart := i
		// The parameters run until a comma that is followed by a new
		// scheme (token SP token, or token followed by a comma or the
		// end), outside quoted strings.
		for i < n {
			if s[i] == '"' {
				i++
				for i < n && s[i] != '"' {
					if s[i] == '\\' {
						i++
					}
					i++
				}
				if i < n {
					i++
				}
				continue
			}
			if s[i] == ',' && startsChallenge(s[i+1:]) {
				break
			}
			i++
		}
		ch.params = strings.TrimRight(strings.TrimSpace(s[pstart:min(i, n)]), ",")
		ch.params = strings.TrimSpace(ch.params)
		out = append(out, ch)
	}
	return out
}

// startsChallenge reports whether s (what follows a comma) begins a new
// challenge rather than another auth-param: a token followed by white
// space and something other than '=', or by a comma, or by nothing.
func startsChallenge(s string) bool {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
		i++
	}
	start := i
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	if i == start {
		return false
	}
	if i == len(s) || s[i] == ',' {
		return true
	}
	if s[i] == '=' {
		return false
	}
	if s[i] != ' ' && s[i] != '\t' {
		return false
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	// "token SP token68" or "token SP param=..." both start a challenge;
	// "token SP = value" is a parameter with bad spacing.
	return i == len(s) || s[i] != '='
}

// parseCredentials parses an Authorization or Proxy-Authorization value.
func parseCredentials(v string) (challenge, bool) {
	v = strings.TrimSpace(v)
	scheme, rest, _ := strings.Cut(v, " ")
	if scheme == "" {
		return challenge{}, false
	}
	for i := 0; i < len(scheme); i++ {
		if !isTokenChar(scheme[i]) {
			return challenge{}, false
		}
	}
	c := challenge{scheme: scheme, params: strings.TrimSpace(rest)}
	if k := canonicalScheme(scheme); k != "" {
		c.scheme = k
	}
	return c, true
}

// header names for origin and proxy authentication (RFC 7235 4.1-4.4).
type headerNames struct {
	challenge string // WWW-Authenticate / Proxy-Authenticate
	response  string // Authorization / Proxy-Authorization
	info      string // Authentication-Info / Proxy-Authentication-Info (RFC 7615)
	status    int    // 401 / 407
}

var (
	originHeaders = headerNames{"Www-Authenticate", "Authorization", "Authentication-Info", http.StatusUnauthorized}
	proxyHeaders  = headerNames{"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Authentication-Info", http.StatusProxyAuthRequired}
)
