package digest

import (
	"errors"
	"fmt"
	"strings"
)

// Limits on what the parsers accept. RFC 2831 2.1.1 and 2.1.2 cap a SASL
// challenge at 2048 bytes and a response at 4096; HTTP has no limit, so the
// HTTP side uses the larger bound below.
const (
	maxParamsLen = 16384 // one parameter list
	maxValueLen  = 4096  // one value
	maxParams    = 64    // parameters in one list
)

// param is one auth-param: name=value or name="quoted value". name is
// lower-cased; value is unquoted and unescaped.
type param struct {
	name  string
	value string
}

// parseError is why a parameter list was rejected; the caller answers
// SEC_E_INVALID_TOKEN and keeps the text for its error chain.
type parseError struct {
	off int
	msg string
}

func (e *parseError) Error() string {
	return fmt.Sprintf("digest: parameter list, offset %d: %s", e.off, e.msg)
}

var errDuplicate = errors.New("digest: duplicate parameter")

// isTokenChar reports whether c is an RFC 9110 5.6.2 tchar.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseParams parses a comma-separated list of auth-params (RFC 9110
// 11.2, RFC 2831 7.1 "#rule"): empty list elements are allowed, a value is
// a token or a quoted-string with backslash escapes. Unquoted values are
// accepted in the broader form some peers send (anything but separators,
// quotes and controls), so a nonce with '/' or '=' parses either way.
func parseParams(s string) ([]param, error) {
	if len(s) > maxParamsLen {
		return nil, &parseError{0, "list too long"}
	}
	var out []param
	i := 0
	skipOWS := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
	}
	for {
		// Empty elements: ", ,".
		for {
			skipOWS()
			if i < len(s) && s[i] == ',' {
				i++
				continue
			}
			break
		}
		if i == len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && isTokenChar(s[i]) {
			i++
		}
		if i == start {
			return nil, &parseError{i, "expected a parameter name"}
		}
		name := strings.ToLower(s[start:i])
		skipOWS()
		if i == len(s) || s[i] != '=' {
			return nil, &parseError{i, "expected '=' after " + name}
		}
		i++
		skipOWS()
		var value string
		if i < len(s) && s[i] == '"' {
			i++
			// Fast path: no escapes, no controls up to the closing quote.
			if j := strings.IndexByte(s[i:], '"'); j >= 0 && j <= maxValueLen && strings.IndexByte(s[i:i+j], '\\') < 0 && !hasControl(s[i:i+j]) {
				out = append(out, param{name, s[i : i+j]})
				i += j + 1
				if len(out) > maxParams {
					return nil, &parseError{i, "too many parameters"}
				}
				skipOWS()
				if i < len(s) && s[i] != ',' {
					return nil, &parseError{i, "expected ',' between parameters"}
				}
				continue
			}
			var b strings.Builder
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '"' {
					i++
					closed = true
					break
				}
				if c == '\\' {
					i++
					if i == len(s) {
						break
					}
					c = s[i]
				}
				if (c < 0x20 && c != '\t') || c == 0x7f {
					return nil, &parseError{i, "control character in quoted value"}
				}
				b.WriteByte(c)
				if b.Len() > maxValueLen {
					return nil, &parseError{i, "value too long"}
				}
				i++
			}
			if !closed {
				return nil, &parseError{i, "unterminated quoted value"}
			}
			value = b.String()
		} else {
			vs := i
			for i < len(s) {
				c := s[i]
				if c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '\\' || c < 0x20 || c == 0x7f {
					break
				}
				i++
			}
			if i == vs {
				return nil, &parseError{i, "empty value for " + name}
			}
			value = s[vs:i]
			if len(value) > maxValueLen {
				return nil, &parseError{vs, "value too long"}
			}
		}
		out = append(out, param{name, value})
		if len(out) > maxParams {
			return nil, &parseError{i, "too many parameters"}
		}
		skipOWS()
		if i < len(s) && s[i] != ',' {
			return nil, &parseError{i, "expected ',' between parameters"}
		}
	}
}

// paramSet indexes a parsed list by name. repeatable names collect every
// value; any other name given twice is an error (RFC 2831 2.1.1 and 2.1.2;
// RFC 7616 3.3 and 3.4 allow each directive once).
type paramSet struct {
	one   map[string]string
	multi map[string][]string
}

func indexParams(list []param, repeatable ...string) (*paramSet, error) {
	ps := &paramSet{one: make(map[string]string, len(list))}
	for _, p := range list {
		rep := false
		for _, r := range repeatable {
			if p.name == r {
				rep = true
			}
		}
		if rep {
			if ps.multi == nil {
				ps.multi = map[string][]string{}
			}
			ps.multi[p.name] = append(ps.multi[p.name], p.value)
			continue
		}
		if _, dup := ps.one[p.name]; dup {
			return nil, fmt.Errorf("%w %q", errDuplicate, p.name)
		}
		ps.one[p.name] = p.value
	}
	return ps, nil
}

func (ps *paramSet) get(name string) (string, bool) {
	v, ok := ps.one[name]
	return v, ok
}

// splitList splits a quoted list value such as qop="auth,auth-int" into
// its trimmed, non-empty elements.
func splitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// paramWriter builds a parameter list.
type paramWriter struct {
	b []byte
}

func (w *paramWriter) sep() {
	if len(w.b) > 0 {
		w.b = append(w.b, ", "...)
	}
}

// quoted appends name="value", escaping '"' and '\'.
func (w *paramWriter) quoted(name, value string) {
	w.sep()
	w.b = append(w.b, name...)
	w.b = append(w.b, '=', '"')
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == '"' || c == '\\' {
			w.b = append(w.b, '\\')
		}
		w.b = append(w.b, c)
	}
	w.b = append(w.b, '"')
}

// token appends name=value without quotes, or quoted when value is not a
// token (RFC 9110 5.6.2), so that whatever was parsed can be written back.
func (w *paramWriter) token(name, value string) {
	for i := 0; i < len(value); i++ {
		if !isTokenChar(value[i]) {
			w.quoted(name, value)
			return
		}
	}
	if value == "" {
		w.quoted(name, value)
		return
	}
	w.sep()
	w.b = append(w.b, name...)
	w.b = append(w.b, '=')
	w.b = append(w.b, value...)
}

// stripScheme removes a leading "Digest " when the caller passed the whole
// header value instead of the parameter list packages.md 4.2 describes.
func stripScheme(s string) string {
	t := strings.TrimLeft(s, " \t")
	if len(t) > 7 && strings.EqualFold(t[:6], "digest") && (t[6] == ' ' || t[6] == '\t') {
		return t[7:]
	}
	return s
}

// percentEncode encodes s as an RFC 8187 value-chars string (attr-char
// kept, everything else %XX).
func percentEncode(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

// isAttrChar reports whether c is an RFC 8187 attr-char, which an
// ext-value carries as it is; every other byte is percent-encoded.
func isAttrChar(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// decodeExtValue decodes an RFC 8187 ext-value (charset'lang'pct-encoded);
// only UTF-8 is accepted (RFC 7616 3.4 username*). A byte that is neither
// an attr-char nor part of an escape is refused, as RFC 8187 3.2.1
// value-chars has it: taking it would let a value grow threefold when it
// is written again, past what the parser takes back.
func decodeExtValue(v string) (string, error) {
	cs, rest, ok := strings.Cut(v, "'")
	if !ok || !strings.EqualFold(cs, "UTF-8") {
		return "", errors.New("digest: username* is not UTF-8 ext-value")
	}
	_, enc, ok := strings.Cut(rest, "'")
	if !ok {
		return "", errors.New("digest: malformed username*")
	}
	out := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != '%' {
			if !isAttrChar(c) {
				return "", errors.New("digest: character not allowed in username*")
			}
			out = append(out, c)
			continue
		}
		if i+2 >= len(enc) {
			return "", errors.New("digest: truncated escape in username*")
		}
		hi, lo := unhex(enc[i+1]), unhex(enc[i+2])
		if hi < 0 || lo < 0 {
			return "", errors.New("digest: bad escape in username*")
		}
		out = append(out, byte(hi<<4|lo))
		i += 2
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// isHex reports whether s is n hex digits, either case.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if unhex(s[i]) < 0 {
			return false
		}
	}
	return true
}

// hasControl reports whether s holds a control character other than tab,
// which a quoted-string may not (RFC 9110 5.6.4 qdtext).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}
