package main

import (
	encasn1 "encoding/asn1"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Kerberos messages (RFC 4120 5.5.1, 5.5.2, 5.9.1): the clear headers.

// RFC 3961 8, RFC 8009, RFC 4757 encryption types.
var etypeNames = map[int64]string{
	1: "des-cbc-crc", 3: "des-cbc-md5", 16: "des3-cbc-sha1", 17: "aes128-cts-hmac-sha1-96",
	18: "aes256-cts-hmac-sha1-96", 19: "aes128-cts-hmac-sha256-128", 20: "aes256-cts-hmac-sha384-192",
	23: "rc4-hmac", 24: "rc4-hmac-exp",
}

// RFC 4120 7.5.9 error codes most seen over HTTP.
var krbErrorNames = map[int64]string{
	6: "KDC_ERR_C_PRINCIPAL_UNKNOWN", 7: "KDC_ERR_S_PRINCIPAL_UNKNOWN", 14: "KDC_ERR_ETYPE_NOSUPP",
	18: "KDC_ERR_CLIENT_REVOKED", 23: "KDC_ERR_KEY_EXPIRED", 24: "KDC_ERR_PREAUTH_FAILED",
	25: "KDC_ERR_PREAUTH_REQUIRED", 31: "KRB_AP_ERR_BAD_INTEGRITY", 32: "KRB_AP_ERR_TKT_EXPIRED",
	33: "KRB_AP_ERR_TKT_NYV", 34: "KRB_AP_ERR_REPEAT", 35: "KRB_AP_ERR_NOT_US", 36: "KRB_AP_ERR_BADMATCH",
	37: "KRB_AP_ERR_SKEW", 38: "KRB_AP_ERR_BADADDR", 39: "KRB_AP_ERR_BADVERSION", 40: "KRB_AP_ERR_MSG_TYPE",
	41: "KRB_AP_ERR_MODIFIED", 42: "KRB_AP_ERR_BADORDER", 44: "KRB_AP_ERR_BADKEYVER", 45: "KRB_AP_ERR_NOKEY",
	46: "KRB_AP_ERR_MUT_FAIL", 47: "KRB_AP_ERR_BADDIRECTION", 48: "KRB_AP_ERR_METHOD", 49: "KRB_AP_ERR_BADSEQ",
	50: "KRB_AP_ERR_INAPP_CKSUM", 60: "KRB_ERR_GENERIC", 61: "KRB_ERR_FIELD_TOOLONG", 68: "KDC_ERR_WRONG_REALM",
}

func ctxTag(n int) cbasn1.Tag { return cbasn1.Tag(n).Constructed().ContextSpecific() }

// field reads the optional explicitly tagged field [n].
func field(s *cryptobyte.String, n int) (cryptobyte.String, bool, bool) {
	var f cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&f, &present, ctxTag(n)) {
		return nil, false, false
	}
	return f, present, true
}

func readInt(f cryptobyte.String) (int64, bool) {
	var v int64
	return v, f.ReadASN1Int64WithTag(&v, cbasn1.INTEGER)
}

func readString(f cryptobyte.String) (string, bool) {
	var v cryptobyte.String
	var tag cbasn1.Tag
	if !f.ReadAnyASN1(&v, &tag) {
		return "", false
	}
	return string(v), true
}

// principalName reads a PrincipalName.
func principalName(f cryptobyte.String) (string, bool) {
	var seq cryptobyte.String
	if !f.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return "", false
	}
	t, ok1, _ := field(&seq, 0)
	l, ok2, _ := field(&seq, 1)
	if !ok1 || !ok2 {
		return "", false
	}
	typ, ok := readInt(t)
	if !ok {
		return "", false
	}
	var list cryptobyte.String
	if !l.ReadASN1(&list, cbasn1.SEQUENCE) {
		return "", false
	}
	var parts []string
	for !list.Empty() {
		var c cryptobyte.String
		if !list.ReadASN1(&c, cbasn1.GeneralString) {
			return "", false
		}
		parts = append(parts, string(c))
	}
	return fmt.Sprintf("%s (name-type %d)", strings.Join(parts, "/"), typ), true
}

func encryptedData(n *node, label string, f cryptobyte.String) {
	var seq cryptobyte.String
	if !f.ReadASN1(&seq, cbasn1.SEQUENCE) {
		n.add("error", "malformed %s", label)
		return
	}
	e := n.add(label, "")
	if v, ok, _ := field(&seq, 0); ok {
		if et, ok := readInt(v); ok {
			name := etypeNames[et]
			if name == "" {
				name = "unknown"
			}
			e.add("etype", "%d (%s)", et, name)
		}
	}
	if v, ok, _ := field(&seq, 1); ok {
		if kv, ok := readInt(v); ok {
			e.add("kvno", "%d", kv)
		}
	}
	if v, ok, _ := field(&seq, 2); ok {
		var c cryptobyte.String
		if v.ReadASN1(&c, cbasn1.OCTET_STRING) {
			e.add("cipher", "%d bytes", len(c))
		}
	}
}

// decodeKerberos reads an AP-REQ, AP-REP or KRB-ERROR.
func decodeKerberos(n *node, b []byte) {
	s := cryptobyte.String(b)
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&body, &tag) || !s.Empty() {
		n.add("error", "malformed Kerberos message")
		return
	}
	var seq cryptobyte.String
	if !body.ReadASN1(&seq, cbasn1.SEQUENCE) {
		n.add("error", "malformed Kerberos message: no SEQUENCE")
		return
	}
	app := application
	var m *node
	switch tag {
	case app(14):
		m = n.add("KRB_AP_REQ", "")
	case app(15):
		m = n.add("KRB_AP_REP", "")
	case app(30):
		m = n.add("KRB_ERROR", "")
	default:
		n.add("error", "not an AP-REQ, AP-REP or KRB-ERROR (tag %#x)", uint8(tag))
		return
	}
	if v, ok, _ := field(&seq, 0); ok {
		if pv, ok := readInt(v); ok {
			m.add("pvno", "%d", pv)
		}
	}
	if v, ok, _ := field(&seq, 1); ok {
		if mt, ok := readInt(v); ok {
			m.add("msg-type", "%d", mt)
		}
	}
	switch tag {
	case app(14):
		if v, ok, _ := field(&seq, 2); ok {
			var bits encasn1.BitString
			if v.ReadASN1BitString(&bits) {
				var names []string
				for i, name := range []string{"reserved", "use-session-key", "mutual-required"} {
					if bits.At(i) == 1 {
						names = append(names, name)
					}
				}
				m.add("ap-options", "%x %s", bits.Bytes, strings.Join(names, " | "))
			}
		}
		if v, ok, _ := field(&seq, 3); ok {
			var tkt, ts cryptobyte.String
			if !v.ReadASN1(&tkt, app(1)) || !tkt.ReadASN1(&ts, cbasn1.SEQUENCE) {
				m.add("error", "malformed ticket")
				return
			}
			t := m.add("ticket", "")
			if f, ok, _ := field(&ts, 0); ok {
				if vno, ok := readInt(f); ok {
					t.add("tkt-vno", "%d", vno)
				}
			}
			if f, ok, _ := field(&ts, 1); ok {
				if r, ok := readString(f); ok {
					t.add("realm", "%q", r)
				}
			}
			if f, ok, _ := field(&ts, 2); ok {
				if p, ok := principalName(f); ok {
					t.add("sname", "%s", p)
				}
			}
			if f, ok, _ := field(&ts, 3); ok {
				encryptedData(t, "enc-part", f)
			}
		}
		if v, ok, _ := field(&seq, 4); ok {
			encryptedData(m, "authenticator", v)
		}
	case app(15):
		if v, ok, _ := field(&seq, 2); ok {
			encryptedData(m, "enc-part", v)
		}
	case app(30):
		for i := 2; i <= 12; i++ {
			v, ok, good := field(&seq, i)
			if !good {
				m.add("error", "malformed field [%d]", i)
				return
			}
			if !ok {
				continue
			}
			switch i {
			case 2, 4:
				if t, ok := readString(v); ok {
					m.add(map[int]string{2: "ctime", 4: "stime"}[i], "%s", t)
				}
			case 3, 5:
				if us, ok := readInt(v); ok {
					m.add(map[int]string{3: "cusec", 5: "susec"}[i], "%d", us)
				}
			case 6:
				if code, ok := readInt(v); ok {
					m.add("error-code", "%d (%s)", code, krbErrorNames[code])
				}
			case 7, 9:
				if r, ok := readString(v); ok {
					m.add(map[int]string{7: "crealm", 9: "realm"}[i], "%q", r)
				}
			case 8, 10:
				if p, ok := principalName(v); ok {
					m.add(map[int]string{8: "cname", 10: "sname"}[i], "%s", p)
				}
			case 11:
				if t, ok := readString(v); ok {
					m.add("e-text", "%q", t)
				}
			case 12:
				var d cryptobyte.String
				if v.ReadASN1(&d, cbasn1.OCTET_STRING) {
					m.add("e-data", "%d bytes", len(d))
				}
			}
		}
	}
}

// application returns the tag [APPLICATION n], constructed (X.690 8.1.2).
func application(n int) cbasn1.Tag { return cbasn1.Tag(n) | 0x40 | 0x20 }
