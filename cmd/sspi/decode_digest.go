package main

import (
	"strings"
)

// maxDigestParams bounds the parameters decoded from one Digest list.
const maxDigestParams = 64

// digestParam is one auth-param of a Digest list (RFC 7616 3.3-3.5).
type digestParam struct {
	name, value string
	quoted      bool
}

// parseDigestParams splits `a=b, c="d, e"` into parameters; ok is false
// for a list that does not end cleanly.
func parseDigestParams(s string) (params []digestParam, ok bool) {
	i := 0
	for i < len(s) && len(params) < maxDigestParams {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i == len(s) {
			return params, true
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' && s[i] != ' ' {
			i++
		}
		p := digestParam{name: s[start:i]}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) || s[i] != '=' || p.name == "" {
			return params, false
		}
		i++
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i < len(s) && s[i] == '"' {
			p.quoted = true
			i++
			var sb strings.Builder
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				sb.WriteByte(s[i])
				i++
			}
			if i >= len(s) {
				return params, false
			}
			i++
			p.value = sb.String()
		} else {
			start := i
			for i < len(s) && s[i] != ',' && s[i] != ' ' {
				i++
			}
			p.value = s[start:i]
		}
		params = append(params, p)
	}
	return params, i >= len(s)
}

// What each parameter is (RFC 7616 3.3, 3.4, 3.5; RFC 2831 for SASL).
var digestParamNotes = map[string]string{
	"realm": "protection space", "nonce": "server nonce", "opaque": "returned unchanged",
	"stale": "true: the nonce expired, the password was right", "algorithm": "hash algorithm",
	"qop": "quality of protection", "userhash": "user name is hashed", "charset": "UTF-8 names",
	"username": "user", "username*": "user (RFC 8187 encoded)", "uri": "request target",
	"response": "the proof", "cnonce": "client nonce", "nc": "nonce count (hex)",
	"rspauth": "server's proof (mutual authentication)", "nextnonce": "nonce for the next request",
	"domain": "URIs in the protection space", "maxbuf": "SASL maximum buffer", "cipher": "SASL ciphers",
	"digest-uri": "SASL service/host", "authzid": "SASL authorization identity",
}

func decodeDigest(n *node, s, header string) {
	params, ok := parseDigestParams(s)
	kind := "Digest parameters"
	has := func(name string) bool {
		for _, p := range params {
			if strings.EqualFold(p.name, name) {
				return true
			}
		}
		return false
	}
	switch {
	case has("response"):
		kind = "Digest response (Authorization)"
	case has("rspauth") || has("nextnonce") && !has("nonce"):
		kind = "Digest Authentication-Info"
	case has("nonce"):
		kind = "Digest challenge (WWW-Authenticate)"
	}
	d := n.add(kind, "")
	for _, p := range params {
		v := p.value
		if p.quoted {
			v = `"` + v + `"`
		}
		c := d.add(p.name, "%s", v)
		if note := digestParamNotes[strings.ToLower(p.name)]; note != "" {
			c.value += "   (" + note + ")"
		}
	}
	if !ok {
		d.add("error", "malformed parameter list after %d parameters", len(params))
	}
	_ = header
}
