package sspihttp

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gosspi/sspi/internal/peers"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/packages/negotiate"
)

// An Active Directory style logon: the user and its groups as
// KERB_VALIDATION_INFO (MS-PAC 2.5) lists them, RIDs relative to the
// logon domain SID.
const (
	adDomainSID = "S-1-5-21-1004336348-1177238915-682003330"
	adUserRID   = 1105
)

var adGroupRIDs = []uint32{513, 1108} // Domain Users (primary), one more

// ndrWriter writes little-endian NDR (MS-RPCE 2.2.5, NDR20) with the
// natural alignment of each primitive.
type ndrWriter struct{ b []byte }

func (w *ndrWriter) align(n int) {
	for len(w.b)%n != 0 {
		w.b = append(w.b, 0)
	}
}
func (w *ndrWriter) u8(v uint8)   { w.b = append(w.b, v) }
func (w *ndrWriter) u16(v uint16) { w.align(2); w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *ndrWriter) u32(v uint32) { w.align(4); w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *ndrWriter) filetime()    { w.u32(0); w.u32(0) }

// unicodeString writes an RPC_UNICODE_STRING's inline part: the lengths
// in bytes and a referent (0 for a null pointer).
func (w *ndrWriter) unicodeString(s []uint16, ref uint32) {
	w.u16(uint16(2 * len(s)))
	w.u16(uint16(2 * len(s)))
	w.u32(ref)
}

// unicodeBody writes the deferred conformant varying array of a string.
func (w *ndrWriter) unicodeBody(s []uint16) {
	w.u32(uint32(len(s))) // maximum count
	w.u32(0)              // offset
	w.u32(uint32(len(s))) // actual count
	for _, c := range s {
		w.u16(c)
	}
}

// kerbValidationInfo returns the type-serialized (MS-RPCE 2.2.6)
// KERB_VALIDATION_INFO of the test logon.
func kerbValidationInfo(user, domain string) []byte {
	name, dom := utf16.Encode([]rune(user)), utf16.Encode([]rune(domain))
	var w ndrWriter
	w.u32(0x00020000) // the top-level pointer's referent
	for range 6 {     // LogonTime .. PasswordMustChange
		w.filetime()
	}
	w.unicodeString(name, 0x00020004) // EffectiveName
	for range 5 {                     // FullName .. HomeDirectoryDrive
		w.unicodeString(nil, 0)
	}
	w.u16(1) // LogonCount
	w.u16(0) // BadPasswordCount
	w.u32(adUserRID)
	w.u32(adGroupRIDs[0]) // PrimaryGroupId
	w.u32(uint32(len(adGroupRIDs)))
	w.u32(0x00020008) // GroupIds
	w.u32(0x20)       // UserFlags: LOGON_EXTRA_SIDS
	for range 4 {     // UserSessionKey
		w.u32(0)
	}
	w.unicodeString(nil, 0)          // LogonServer
	w.unicodeString(dom, 0x0002000c) // LogonDomainName
	w.u32(0x00020010)                // LogonDomainId
	w.u32(0)                         // Reserved1
	w.u32(0)
	w.u32(0x10) // UserAccountControl: USER_NORMAL_ACCOUNT
	w.u32(0)    // SubAuthStatus
	w.filetime()
	w.filetime()
	w.u32(0) // FailedILogonCount
	w.u32(0) // Reserved3
	w.u32(0) // SidCount
	w.u32(0) // ExtraSids
	w.u32(0) // ResourceGroupDomainSid
	w.u32(0) // ResourceGroupCount
	w.u32(0) // ResourceGroupIds
	// The referents, in order.
	w.unicodeBody(name)
	w.u32(uint32(len(adGroupRIDs)))
	for _, rid := range adGroupRIDs {
		w.u32(rid)
		w.u32(7) // SE_GROUP_MANDATORY | ENABLED_BY_DEFAULT | ENABLED
	}
	w.unicodeBody(dom)
	// RPC_SID S-1-5-21-a-b-c: the conformant count first.
	subs := []uint32{21, 1004336348, 1177238915, 682003330}
	w.u32(uint32(len(subs)))
	w.u8(1) // Revision
	w.u8(uint8(len(subs)))
	w.b = append(w.b, 0, 0, 0, 0, 0, 5) // SECURITY_NT_AUTHORITY
	for _, s := range subs {
		w.u32(s)
	}
	w.align(8)
	// Common and private type serialization headers.
	h := []byte{1, 0x10, 8, 0, 0xcc, 0xcc, 0xcc, 0xcc}
	h = binary.LittleEndian.AppendUint32(h, uint32(len(w.b)))
	h = binary.LittleEndian.AppendUint32(h, 0)
	return append(h, w.b...)
}

// signedPAC returns a PACTYPE (MS-PAC 2.3) with the logon info, the
// client info and a server signature made with key (MS-PAC 2.8), or
// with one bit of it flipped when forged is set.
func signedPAC(t testing.TB, key types.EncryptionKey, user string, authTime time.Time, forged bool) []byte {
	t.Helper()
	name := utf16.Encode([]rune(user))
	ci := binary.LittleEndian.AppendUint64(nil, uint64(authTime.Unix()+11644473600)*10000000)
	ci = binary.LittleEndian.AppendUint16(ci, uint16(2*len(name)))
	for _, c := range name {
		ci = binary.LittleEndian.AppendUint16(ci, c)
	}
	const hmacSHA196AES256 = 16
	sig := binary.LittleEndian.AppendUint32(nil, hmacSHA196AES256)
	sig = append(sig, make([]byte, 12)...)
	bufs := []struct {
		typ  uint32
		data []byte
	}{
		{1, kerbValidationInfo(user, "GOSSPI")}, // PAC_LOGON_INFO
		{10, ci},                                // PAC_CLIENT_INFO
		{6, slices.Clone(sig)},                  // server signature
		{7, slices.Clone(sig)},                  // KDC signature
	}
	off := 8 + 16*len(bufs)
	pac := binary.LittleEndian.AppendUint32(nil, uint32(len(bufs)))
	pac = binary.LittleEndian.AppendUint32(pac, 0)
	var body []byte
	var serverOff int
	for _, b := range bufs {
		pac = binary.LittleEndian.AppendUint32(pac, b.typ)
		pac = binary.LittleEndian.AppendUint32(pac, uint32(len(b.data)))
		pac = binary.LittleEndian.AppendUint64(pac, uint64(off+len(body)))
		if b.typ == 6 {
			serverOff = off + len(body)
		}
		body = append(body, b.data...)
		for len(body)%8 != 0 {
			body = append(body, 0)
		}
	}
	pac = append(pac, body...)
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		t.Fatal(err)
	}
	mac, err := et.GetChecksumHash(key.KeyValue, pac, keyusage.KERB_NON_KERB_CKSUM_SALT)
	if err != nil {
		t.Fatal(err)
	}
	copy(pac[serverOff+4:serverOff+16], mac)
	if forged {
		pac[serverOff+4] ^= 1
	}
	return pac
}

// Kerberos ASN.1 (RFC 4120 5.3) written with cryptobyte.
func ctxTag(n int) cbasn1.Tag { return cbasn1.Tag(n).ContextSpecific().Constructed() }

func addInt(b *cryptobyte.Builder, n int, v int64) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) { b.AddASN1Int64(v) })
}
func addOctets(b *cryptobyte.Builder, n int, v []byte) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) { b.AddASN1OctetString(v) })
}
func addGeneralString(b *cryptobyte.Builder, s string) {
	b.AddASN1(cbasn1.Tag(27), func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}
func addTime(b *cryptobyte.Builder, n int, t time.Time) {
	b.AddASN1(ctxTag(n), func(b *cryptobyte.Builder) { b.AddASN1GeneralizedTime(t.UTC().Truncate(time.Second)) })
}

// pacTicketCCache mints a ticket for HTTP/localhost whose authorization
// data holds pac-signed logon info, as an Active Directory KDC would
// issue it, encrypted in the service's keytab key; it returns a FILE
// credential cache holding it for alice. forged spoils the PAC's server
// signature.
func pacTicketCCache(t testing.TB, keytabPath, realm string, forged bool) string {
	t.Helper()
	kt, err := keytab.Load(keytabPath)
	if err != nil {
		t.Fatal(err)
	}
	const aes256 = 18
	sname := types.PrincipalName{NameType: 2, NameString: []string{"HTTP", "localhost"}}
	skey, kvno, err := kt.GetEncryptionKey(sname, realm, 0, aes256)
	if err != nil {
		t.Fatal(err)
	}
	session := types.EncryptionKey{KeyType: aes256, KeyValue: make([]byte, 32)}
	if _, err := rand.Read(session.KeyValue); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	end := now.Add(time.Hour)
	pac := signedPAC(t, skey, "alice", now, forged)

	var ad cryptobyte.Builder // AD-IF-RELEVANT { AD-WIN2K-PAC }
	ad.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addInt(b, 0, 128)
			addOctets(b, 1, pac)
		})
	})
	ifRelevant := ad.BytesOrPanic()
	flags := []byte{0x40, 0, 0, 0} // forwardable
	var etp cryptobyte.Builder
	etp.AddASN1(cbasn1.Tag(3).Constructed()|0x40, func(b *cryptobyte.Builder) { // [APPLICATION 3]
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1BitString(flags) })
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addInt(b, 0, int64(session.KeyType))
					addOctets(b, 1, session.KeyValue)
				})
			})
			b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { addGeneralString(b, realm) })
			b.AddASN1(ctxTag(3), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addInt(b, 0, 1) // NT-PRINCIPAL
					b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { addGeneralString(b, "alice") })
					})
				})
			})
			b.AddASN1(ctxTag(4), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					addInt(b, 0, 1) // DOMAIN-X500-COMPRESS
					addOctets(b, 1, nil)
				})
			})
			addTime(b, 5, now)
			addTime(b, 6, now)
			addTime(b, 7, end)
			b.AddASN1(ctxTag(10), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						addInt(b, 0, 1) // AD-IF-RELEVANT
						addOctets(b, 1, ifRelevant)
					})
				})
			})
		})
	})
	ed, err := crypto.GetEncryptedData(etp.BytesOrPanic(), skey, keyusage.KDC_REP_TICKET, kvno)
	if err != nil {
		t.Fatal(err)
	}
	tkt := messages.Ticket{TktVNO: 5, Realm: realm, SName: sname, EncPart: ed}
	tb, err := tkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	// A version 4 FILE ccache (big-endian).
	be := binary.BigEndian
	data := func(b []byte, v []byte) []byte { return append(be.AppendUint32(b, uint32(len(v))), v...) }
	princ := func(b []byte, typ uint32, realm string, names ...string) []byte {
		b = be.AppendUint32(b, typ)
		b = be.AppendUint32(b, uint32(len(names)))
		b = data(b, []byte(realm))
		for _, n := range names {
			b = data(b, []byte(n))
		}
		return b
	}
	cc := []byte{5, 4, 0, 0} // version 4, no header fields
	cc = princ(cc, 1, realm, "alice")
	cc = princ(cc, 1, realm, "alice")
	cc = princ(cc, 2, realm, "HTTP", "localhost")
	cc = be.AppendUint16(cc, uint16(session.KeyType))
	cc = data(cc, session.KeyValue)
	for _, tm := range []time.Time{now, now, end, end} {
		cc = be.AppendUint32(cc, uint32(tm.Unix()))
	}
	cc = append(cc, 0)          // is_skey
	cc = append(cc, flags...)   // ticket flags
	cc = be.AppendUint32(cc, 0) // addresses
	cc = be.AppendUint32(cc, 0) // authdata
	cc = data(cc, tb)           // ticket
	cc = data(cc, nil)          // second ticket
	path := filepath.Join(t.TempDir(), "ccache")
	if err := os.WriteFile(path, cc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A ticket whose PAC has logon info, as Active Directory issues them:
// the acceptor checks the PAC's server signature, decodes the logon info,
// and the identity carries the user SID and the group SIDs, through
// Negotiate and the bare Kerberos scheme.
func TestIdentitySIDsFromLogonInfo(t *testing.T) {
	k := peers.TestKDC(t)
	reg := testRegistry(t, k)
	url, ids := identityServer(t, &Server{Registry: reg, Schemes: []string{SchemeNegotiate, SchemeKerberos},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}},
		Kerberos:  &kerberos.Keytab{Path: k.ServiceKeytab}})
	cc := &kerberos.CCache{Path: pacTicketCCache(t, k.ServiceKeytab, k.Realm, false)}
	wantGroups := []string{adDomainSID + "-513", adDomainSID + "-1108"}
	for _, tt := range []struct {
		scheme string
		creds  any
	}{
		{SchemeKerberos, cc},
		{SchemeNegotiate, &negotiate.AuthData{Kerberos: cc}},
	} {
		t.Run(tt.scheme, func(t *testing.T) {
			id := login(t, reg, url, ids, tt.scheme, tt.creds)
			if id.Name != "alice@"+k.Realm || id.Package != "Kerberos" {
				t.Fatalf("identity %q via %s", id.Name, id.Package)
			}
			if want := adDomainSID + "-1105"; id.UserSID != want {
				t.Errorf("UserSID %q, want %q", id.UserSID, want)
			}
			if !slices.Equal(id.Groups, wantGroups) {
				t.Errorf("Groups %q, want %q", id.Groups, wantGroups)
			}
			if id.PAC == nil || id.PAC.LogonInfo == nil || id.PAC.ClientName != "alice" {
				t.Fatalf("PAC %+v", id.PAC)
			}
			if got := id.PAC.LogonInfo.LogonDomainName; got != "GOSSPI" {
				t.Errorf("logon domain %q", got)
			}
		})
	}
}

// A PAC whose server signature does not verify fails the logon, as on
// Windows: the request gets a 401 and no identity reaches the handler.
func TestIdentityForgedPAC(t *testing.T) {
	k := peers.TestKDC(t)
	reg := testRegistry(t, k)
	url, ids := identityServer(t, &Server{Registry: reg, Schemes: []string{SchemeKerberos},
		Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}})
	cc := &kerberos.CCache{Path: pacTicketCCache(t, k.ServiceKeytab, k.Realm, true)}
	tr := &Transport{Registry: reg, Schemes: []string{SchemeKerberos}, Credentials: cc}
	defer tr.CloseIdleConnections()
	code, _, _ := get(t, &http.Client{Transport: tr}, "GET", url, "")
	if code != http.StatusUnauthorized {
		t.Fatalf("status %d with a forged PAC, want %d", code, http.StatusUnauthorized)
	}
	select {
	case id := <-ids:
		t.Fatalf("forged PAC reached the handler: %+v", id)
	default:
	}
}

// BenchmarkRequestKerberosPAC measures one Kerberos-authenticated request
// whose ticket carries a PAC with logon info (signature check, NDR
// decoding, identity SIDs), against the unauthenticated baseline of the
// same run. The ticket comes from a ccache: no KDC exchange is measured.
func BenchmarkRequestKerberosPAC(b *testing.B) {
	k := peers.TestKDC(b)
	reg := testRegistry(b, k)
	srv := &Server{Registry: reg, Schemes: []string{SchemeNegotiate, SchemeKerberos},
		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: k.ServiceKeytab}},
		Kerberos:  &kerberos.Keytab{Path: k.ServiceKeytab}}
	cc := &kerberos.CCache{Path: pacTicketCCache(b, k.ServiceKeytab, k.Realm, false)}
	for _, bc := range []struct {
		name   string
		server *Server
		scheme string
		creds  any
	}{
		{"baseline", nil, "", nil},
		{"Kerberos", srv, SchemeKerberos, cc},
		{"Negotiate-Kerberos", srv, SchemeNegotiate, &negotiate.AuthData{Kerberos: cc}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var groups atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if id, ok := IdentityFromContext(r.Context()); ok {
					groups.Store(int32(len(id.Groups)))
				}
			})
			var handler http.Handler = h
			if bc.server != nil {
				bc.server.ErrorLog = nullLogger()
				handler = bc.server.Middleware(h)
			}
			url := strings.Replace(startServerHandler(b, handler), "127.0.0.1", "localhost", 1)
			var rt http.RoundTripper = &http.Transport{}
			if bc.scheme != "" {
				rt = &Transport{Registry: reg, Schemes: []string{bc.scheme}, Credentials: bc.creds, Base: rt}
			}
			c := &http.Client{Transport: rt}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			if bc.server != nil && int(groups.Load()) != len(adGroupRIDs) {
				b.Fatalf("%d groups in the identity", groups.Load())
			}
		})
	}
}
