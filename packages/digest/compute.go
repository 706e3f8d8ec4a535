package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"
)

// Algorithm names of RFC 7616 3.3 (the algorithm directive), as sent.
const (
	MD5           = "MD5"
	MD5Sess       = "MD5-sess"
	SHA256        = "SHA-256"
	SHA256Sess    = "SHA-256-sess"
	SHA512_256    = "SHA-512-256"
	SHA512_256Ses = "SHA-512-256-sess"
)

// algorithm is one HTTP Digest algorithm.
type algorithm struct {
	name string // as sent, e.g. "SHA-256-sess"
	base string // the hash family, e.g. "SHA-256": the key of stored HA1 values
	sess bool
	new  func() hash.Hash
	size int // digest bytes
}

// SHA-512-256 is FIPS 180-4 SHA-512/256 (sha512.New512_256), not SHA-512
// truncated; see RFC 7616 erratum 4897 and testdata/digest.
var algorithms = []*algorithm{
	{MD5, MD5, false, md5.New, md5.Size},
	{MD5Sess, MD5, true, md5.New, md5.Size},
	{SHA256, SHA256, false, sha256.New, sha256.Size},
	{SHA256Sess, SHA256, true, sha256.New, sha256.Size},
	{SHA512_256, SHA512_256, false, sha512.New512_256, sha512.Size256},
	{SHA512_256Ses, SHA512_256, true, sha512.New512_256, sha512.Size256},
}

// lookupAlgorithm finds an algorithm by name, ignoring case (RFC 7616 3.3:
// an absent directive means MD5).
func lookupAlgorithm(name string) *algorithm {
	if name == "" {
		return algorithms[0]
	}
	for _, a := range algorithms {
		if strings.EqualFold(a.name, name) {
			return a
		}
	}
	return nil
}

// digester hashes colon-joined fields to lower-case hex with one reusable
// hash state.
type digester struct {
	alg *algorithm
	h   hash.Hash
	buf []byte
	sum [64]byte
}

func newDigester(a *algorithm) *digester { return &digester{alg: a, h: a.new()} }

// hexOf returns hex(H(p[0] ":" p[1] ":" ...)).
func (d *digester) hexOf(parts ...string) string {
	d.buf = d.buf[:0]
	for i, p := range parts {
		if i > 0 {
			d.buf = append(d.buf, ':')
		}
		d.buf = append(d.buf, p...)
	}
	d.h.Reset()
	d.h.Write(d.buf)
	return hex.EncodeToString(d.h.Sum(d.sum[:0]))
}

// HTTP computations (RFC 7616 3.4.1-3.4.3, RFC 2617 3.2.2).

// baseHA1 is hex H(user ":" realm ":" password), the value a store may keep.
func (d *digester) baseHA1(user, realm, password string) string {
	return d.hexOf(user, realm, password)
}

// sessionHA1 turns a stored base HA1 into the H(A1) the response uses:
// itself for plain algorithms, H(base ":" nonce ":" cnonce) for "-sess".
func (d *digester) sessionHA1(base, nonce, cnonce string) string {
	if !d.alg.sess {
		return base
	}
	return d.hexOf(base, nonce, cnonce)
}

// ha2 is hex H(A2): A2 = method ":" uri [":" H(entity)] for auth-int.
func (d *digester) ha2(method, uri, hentity string, authInt bool) string {
	if authInt {
		return d.hexOf(method, uri, hentity)
	}
	return d.hexOf(method, uri)
}

// response is request-digest (RFC 7616 3.4.1). An empty qop gives the RFC
// 2069 form H(HA1 ":" nonce ":" HA2).
func (d *digester) response(ha1, nonce, nc, cnonce, qop, ha2 string) string {
	if qop == "" {
		return d.hexOf(ha1, nonce, ha2)
	}
	return d.hexOf(ha1, nonce, nc, cnonce, qop, ha2)
}

// userhash is H(user ":" realm) (RFC 7616 3.4.4).
func (d *digester) userhash(user, realm string) string {
	return d.hexOf(user, realm)
}

// entityHash is hex H(body) for auth-int.
func (d *digester) entityHash(body []byte) string {
	d.h.Reset()
	d.h.Write(body)
	return hex.EncodeToString(d.h.Sum(d.sum[:0]))
}

// SASL DIGEST-MD5 computations (RFC 2831 2.1.2.1).

// saslCharset converts s to ISO-8859-1 when utf8 is set and every rune
// fits (RFC 2831 2.1.2.1 "If the directive charset=utf-8 is present and
// all characters are in ISO 8859-1, convert to ISO 8859-1"); otherwise s is
// used as it is.
func saslCharset(s string, utf8 bool) string {
	if !utf8 {
		return s
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s
		}
		out = append(out, byte(r))
	}
	return string(out)
}

// saslUserKey is H(user ":" realm ":" password) as 16 raw bytes, with the
// RFC 2831 charset rule applied.
func saslUserKey(user, realm, password string, utf8 bool) [16]byte {
	return md5.Sum([]byte(saslCharset(user, utf8) + ":" + saslCharset(realm, utf8) + ":" + saslCharset(password, utf8)))
}

// saslHA1 is H(A1) raw: A1 = userKey ":" nonce ":" cnonce [":" authzid].
func saslHA1(userKey [16]byte, nonce, cnonce, authzid string) [16]byte {
	h := md5.New()
	h.Write(userKey[:])
	h.Write([]byte(":" + nonce + ":" + cnonce))
	if authzid != "" {
		h.Write([]byte(":" + authzid))
	}
	var out [16]byte
	h.Sum(out[:0])
	return out
}

// saslResponse is the response value, or rspauth when server is true
// (A2 without "AUTHENTICATE").
func saslResponse(ha1 [16]byte, nonce, nc, cnonce, qop, digestURI string, server bool) string {
	a2 := "AUTHENTICATE:" + digestURI
	if server {
		a2 = ":" + digestURI
	}
	if qop == qopAuthInt || qop == qopAuthConf {
		a2 += ":00000000000000000000000000000000"
	}
	ha2 := md5.Sum([]byte(a2))
	kd := hex.EncodeToString(ha1[:]) + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + hex.EncodeToString(ha2[:])
	sum := md5.Sum([]byte(kd))
	return hex.EncodeToString(sum[:])
}
