package adtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gosspi/sspi"
)

// A minimal LDAP client (RFC 4511) for the tests: SASL binds whose
// tokens come from an *sspi.Context, the SASL security layer (RFC 4422
// 3.7: a 4-byte big-endian length, then the sealed buffer, with Wrap and
// Unwrap), and base searches. Only what the tests need is encoded.

// LDAP result codes (RFC 4511 4.1.9) and protocolOp tags (RFC 4511 4.2
// to 4.5, [APPLICATION n]).
const (
	ldapSuccess            = 0
	ldapStrongAuthRequired = 8
	ldapSaslBindInProgress = 14

	ldapTagBindRequest           = 0
	ldapTagBindResponse          = 1
	ldapTagSearchRequest         = 3
	ldapTagSearchResultEntry     = 4
	ldapTagSearchResultDone      = 5
	ldapTagSearchResultReference = 19

	ldapMaxMessage = 1 << 20 // the largest message the tests accept
)

// appTag returns the tag [APPLICATION n], constructed.
func appTag(n int) asn1.Tag { return asn1.Tag(0x40 | n).Constructed() }

// ldapResult is an LDAPResult with the serverSaslCreds of a BindResponse.
type ldapResult struct {
	code       int
	matchedDN  string
	diagnostic string
	saslCreds  []byte
}

func (r *ldapResult) String() string {
	return fmt.Sprintf("resultCode %d, diagnosticMessage %q", r.code, r.diagnostic)
}

// ldapConn is one LDAP connection. It is not safe for concurrent use.
type ldapConn struct {
	conn    net.Conn
	r       *bufio.Reader
	id      int64
	sec     *sspi.Context // the SASL security layer, once installed
	pending []byte        // plaintext not yet parsed
}

// dialLDAP connects to addr, with TLS (LDAPS) when conf is not nil.
func dialLDAP(t *testing.T, addr string, conf *tls.Config) *ldapConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	if conf != nil {
		conn, err = tls.DialWithDialer(&d, "tcp", addr, conf)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	conn.SetDeadline(time.Now().Add(time.Minute))
	t.Cleanup(func() { conn.Close() })
	return &ldapConn{conn: conn, r: bufio.NewReader(conn)}
}

// ldapsConfig trusts the DC's CA.
func ldapsConfig(t *testing.T, dc *DC) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(dc.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", dc.CAFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: dc.Host}
}

// send writes an LDAPMessage with op, sealed when a security layer is on.
func (l *ldapConn) send(op func(*cryptobyte.Builder)) error {
	l.id++
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(l.id)
		op(b)
	})
	msg, err := b.Bytes()
	if err != nil {
		return err
	}
	if l.sec != nil {
		sealed, err := l.sec.Wrap(msg)
		if err != nil {
			return fmt.Errorf("SASL layer Wrap: %w", err)
		}
		msg = binary.BigEndian.AppendUint32(nil, uint32(len(sealed)))
		msg = append(msg, sealed...)
	}
	_, err = l.conn.Write(msg)
	return err
}

// fill reads more plaintext: one SASL buffer, or what the socket has.
func (l *ldapConn) fill() error {
	if l.sec == nil {
		var buf [4096]byte
		n, err := l.r.Read(buf[:])
		l.pending = append(l.pending, buf[:n]...)
		if n > 0 {
			return nil
		}
		return err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(l.r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > ldapMaxMessage {
		return fmt.Errorf("SASL buffer of %d bytes", n)
	}
	sealed := make([]byte, n)
	if _, err := io.ReadFull(l.r, sealed); err != nil {
		return err
	}
	plain, err := l.sec.Unwrap(sealed)
	if err != nil {
		return fmt.Errorf("SASL layer Unwrap: %w", err)
	}
	l.pending = append(l.pending, plain...)
	return nil
}

// berLength returns the length of the whole BER element at the start of
// b, or 0 when b does not hold its header yet.
func berLength(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	if b[1] < 0x80 {
		return 2 + int(b[1]), nil
	}
	n := int(b[1] & 0x7f)
	if n == 0 || n > 4 {
		return 0, fmt.Errorf("BER length of %d bytes", n)
	}
	if len(b) < 2+n {
		return 0, nil
	}
	length := 0
	for _, c := range b[2 : 2+n] {
		length = length<<8 | int(c)
	}
	if length > ldapMaxMessage {
		return 0, fmt.Errorf("LDAP message of %d bytes", length)
	}
	return 2 + n + length, nil
}

// recv reads the next LDAPMessage and returns its protocolOp's tag and
// contents.
func (l *ldapConn) recv() (asn1.Tag, cryptobyte.String, error) {
	for {
		n, err := berLength(l.pending)
		if err != nil {
			return 0, nil, err
		}
		if n > 0 && len(l.pending) >= n {
			msg := cryptobyte.String(l.pending[:n])
			l.pending = l.pending[n:]
			var seq, op cryptobyte.String
			var id int64
			var tag asn1.Tag
			if !msg.ReadASN1(&seq, asn1.SEQUENCE) || !seq.ReadASN1Int64WithTag(&id, asn1.INTEGER) || !seq.ReadAnyASN1(&op, &tag) {
				return 0, nil, errors.New("malformed LDAPMessage")
			}
			if id != l.id && id != 0 {
				return 0, nil, fmt.Errorf("LDAPMessage id %d, want %d", id, l.id)
			}
			return tag, op, nil
		}
		if err := l.fill(); err != nil {
			return 0, nil, err
		}
	}
}

// readResult parses an LDAPResult (and a BindResponse's serverSaslCreds).
func readResult(op cryptobyte.String) (*ldapResult, error) {
	var r ldapResult
	var dn, diag []byte
	if !op.ReadASN1Enum(&r.code) || !op.ReadASN1Bytes(&dn, asn1.OCTET_STRING) || !op.ReadASN1Bytes(&diag, asn1.OCTET_STRING) {
		return nil, errors.New("malformed LDAPResult")
	}
	r.matchedDN, r.diagnostic = string(dn), string(diag)
	for !op.Empty() {
		var v cryptobyte.String
		var tag asn1.Tag
		if !op.ReadAnyASN1(&v, &tag) {
			return nil, errors.New("malformed LDAPResult")
		}
		if tag == asn1.Tag(7).ContextSpecific() { // serverSaslCreds [7]
			r.saslCreds = append([]byte(nil), v...)
		}
	}
	return &r, nil
}

// bind sends one SASL BindRequest and returns the BindResponse.
func (l *ldapConn) bind(mech string, creds []byte) (*ldapResult, error) {
	err := l.send(func(b *cryptobyte.Builder) {
		b.AddASN1(appTag(ldapTagBindRequest), func(b *cryptobyte.Builder) {
			b.AddASN1Int64(3)
			b.AddASN1OctetString(nil) // name
			b.AddASN1(asn1.Tag(3).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1OctetString([]byte(mech))
				if creds != nil {
					b.AddASN1OctetString(creds)
				}
			})
		})
	})
	if err != nil {
		return nil, err
	}
	tag, op, err := l.recv()
	if err != nil {
		return nil, err
	}
	if tag != appTag(ldapTagBindResponse) {
		return nil, fmt.Errorf("answer to a BindRequest has tag %#x", tag)
	}
	return readResult(op)
}

// saslBind runs the SASL bind with mech (GSS-SPNEGO) driven by c. It
// returns the last BindResponse, and an error when the bind did not
// succeed. With layer, the security layer is on once the bind succeeds.
func (l *ldapConn) saslBind(ctx context.Context, c *sspi.Context, mech string, layer bool) (*ldapResult, error) {
	var in []byte
	for i := 0; i < 5; i++ {
		out, err := c.Step(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("client leg %d: %w", i+1, err)
		}
		res, err := l.bind(mech, out)
		if err != nil {
			return nil, err
		}
		switch res.code {
		case ldapSaslBindInProgress:
			in = res.saslCreds
			continue
		case ldapSuccess:
			if !c.Established() {
				// The final token (AP-REP, SPNEGO accept-completed and
				// mechListMIC) comes with the success.
				if _, err := c.Step(ctx, res.saslCreds); err != nil {
					return res, fmt.Errorf("client's last leg after the bind: %w", err)
				}
			}
			if !c.Established() {
				return res, errors.New("the bind succeeded but the client context is not established")
			}
			if layer {
				l.sec = c
			}
			return res, nil
		}
		return res, fmt.Errorf("bind refused: %v", res)
	}
	return nil, errors.New("the SASL bind took more than 5 legs")
}

// searchBase reads attributes of the entry dn ("" is the root DSE) and
// returns their values.
func (l *ldapConn) searchBase(dn string, attrs ...string) (map[string][][]byte, error) {
	err := l.send(func(b *cryptobyte.Builder) {
		b.AddASN1(appTag(ldapTagSearchRequest), func(b *cryptobyte.Builder) {
			b.AddASN1OctetString([]byte(dn))
			b.AddASN1Enum(0) // baseObject
			b.AddASN1Enum(0) // neverDerefAliases
			b.AddASN1Int64(0)
			b.AddASN1Int64(0)
			b.AddASN1Boolean(false)
			b.AddASN1(asn1.Tag(7).ContextSpecific(), func(b *cryptobyte.Builder) { // present
				b.AddBytes([]byte("objectClass"))
			})
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, a := range attrs {
					b.AddASN1OctetString([]byte(a))
				}
			})
		})
	})
	if err != nil {
		return nil, err
	}
	vals := map[string][][]byte{}
	for {
		tag, op, err := l.recv()
		if err != nil {
			return nil, err
		}
		switch tag {
		case appTag(ldapTagSearchResultEntry):
			var name []byte
			var list cryptobyte.String
			if !op.ReadASN1Bytes(&name, asn1.OCTET_STRING) || !op.ReadASN1(&list, asn1.SEQUENCE) {
				return nil, errors.New("malformed SearchResultEntry")
			}
			for !list.Empty() {
				var attr, set cryptobyte.String
				var typ []byte
				if !list.ReadASN1(&attr, asn1.SEQUENCE) || !attr.ReadASN1Bytes(&typ, asn1.OCTET_STRING) || !attr.ReadASN1(&set, asn1.SET) {
					return nil, errors.New("malformed PartialAttribute")
				}
				for !set.Empty() {
					var v []byte
					if !set.ReadASN1Bytes(&v, asn1.OCTET_STRING) {
						return nil, errors.New("malformed attribute value")
					}
					vals[strings.ToLower(string(typ))] = append(vals[strings.ToLower(string(typ))], v)
				}
			}
		case appTag(ldapTagSearchResultReference):
		case appTag(ldapTagSearchResultDone):
			res, err := readResult(op)
			if err != nil {
				return nil, err
			}
			if res.code != ldapSuccess {
				return vals, fmt.Errorf("search of %q: %v", dn, res)
			}
			return vals, nil
		default:
			return nil, fmt.Errorf("answer to a SearchRequest has tag %#x", tag)
		}
	}
}

// sidString formats a binary SID (MS-DTYP 2.4.2.2).
func sidString(b []byte) (string, error) {
	if len(b) < 8 || b[0] != 1 || len(b) != 8+4*int(b[1]) {
		return "", fmt.Errorf("malformed SID % x", b)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	s := fmt.Sprintf("S-1-%d", auth)
	for i := 0; i < int(b[1]); i++ {
		s += fmt.Sprintf("-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return s, nil
}
