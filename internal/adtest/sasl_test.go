package adtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/sasl"
	"github.com/gosspi/sspi/secbuffer"
)

// The sasl package against the DC's LDAP server: its Client drives the
// bind (through the minimal LDAP codec of ldap_test.go, which reads and
// writes plaintext LDAP over any net.Conn) and its Conn carries the
// security layer the DC and the client agreed on, under a search whose
// response is many times the client's receive buffer.

// schemaDN is the subschema entry (MS-ADTS 3.1.1.3.1.1.5,
// subschemaSubentry of the root DSE). Its attributeTypes and
// objectClasses values, the whole AD schema, make one LDAP message of
// several hundred kilobytes.
const schemaDN = "CN=Aggregate,CN=Schema,CN=Configuration,DC=samba,DC=test"

// frameCounter is the raw connection under a sasl.Conn. Once armed (when
// the bind is over and the layer starts) it parses what each side sends
// as RFC 4422 3.7 frames, a 4-byte big-endian length then the wrapped
// message, independently of the sasl package.
type frameCounter struct {
	net.Conn

	mu      sync.Mutex
	armed   bool
	in, out frameStream // from the DC, to the DC
}

// frameStream is one direction of a framed connection.
type frameStream struct {
	raw     bytes.Buffer // every byte since armed
	parsed  int          // bytes of raw parsed into frames
	frames  int          // whole frames
	largest int          // the longest frame's length (without its 4 bytes)
}

func (s *frameStream) add(p []byte) {
	s.raw.Write(p)
	for b := s.raw.Bytes()[s.parsed:]; len(b) >= 4; b = s.raw.Bytes()[s.parsed:] {
		l := int(binary.BigEndian.Uint32(b))
		if len(b) < 4+l {
			break
		}
		s.frames++
		s.largest = max(s.largest, l)
		s.parsed += 4 + l
	}
}

func (f *frameCounter) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed {
		f.in.add(p[:n])
	}
	return n, err
}

func (f *frameCounter) Write(p []byte) (int, error) {
	n, err := f.Conn.Write(p)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed {
		f.out.add(p[:n])
	}
	return n, err
}

// arm starts counting frames; nothing may have been read past the bind.
func (f *frameCounter) arm() {
	f.mu.Lock()
	f.armed = true
	f.mu.Unlock()
}

// counts returns the frames received or (out) sent, the largest frame's
// length and whether the bytes since arm hold plain.
func (f *frameCounter) counts(out bool, plain []byte) (frames, largest int, visible bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &f.in
	if out {
		s = &f.out
	}
	return s.frames, s.largest, bytes.Contains(s.raw.Bytes(), plain)
}

// saslConn is an LDAP connection to the DC over a sasl.Conn.
type saslConn struct {
	*ldapConn
	raw  *frameCounter
	conn *sasl.Conn
	tls  *tls.ConnectionState // LDAPS only
}

// dialSASL connects to the DC's LDAP server (LDAPS when ldaps) through a
// frameCounter and a sasl.Conn, and runs the codec over the sasl.Conn.
func dialSASL(t *testing.T, dc *DC, ldaps bool) *saslConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	var nc net.Conn
	var err error
	var state *tls.ConnectionState
	if ldaps {
		var tc *tls.Conn
		tc, err = tls.DialWithDialer(&d, "tcp", dc.LDAPSAddr(), ldapsConfig(t, dc))
		if err == nil {
			st := tc.ConnectionState()
			nc, state = tc, &st
		}
	} else {
		nc, err = d.Dial("tcp", dc.LDAPAddr())
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	nc.SetDeadline(time.Now().Add(time.Minute))
	fc := &frameCounter{Conn: nc}
	conn := sasl.NewConn(fc)
	t.Cleanup(func() { conn.Close() })
	return &saslConn{ldapConn: &ldapConn{conn: conn, r: bufio.NewReader(conn)}, raw: fc, conn: conn, tls: state}
}

// bindSASL runs the SASL bind of cli (whose ClientConfig names s.conn)
// with the codec: each response of Client.Step goes out in a
// BindRequest, each saslBindInProgress's serverSaslCreds comes back to
// Step, and the success goes to Client.Finish, which starts the layer on
// the sasl.Conn. sent, if not nil, sees every token the client sends.
func (s *saslConn) bindSASL(ctx context.Context, cli *sasl.Client, mech sasl.Mechanism, sent func([]byte)) (*sasl.Security, error) {
	var challenge []byte
	for leg := 0; leg < 6; leg++ {
		resp, err := cli.Step(ctx, challenge)
		if err != nil {
			return nil, fmt.Errorf("client leg %d: %w", leg+1, err)
		}
		if resp == nil {
			resp = []byte{} // credentials present and empty (RFC 4752 3.1)
		}
		if sent != nil {
			sent(resp)
		}
		res, err := s.bind(string(mech), resp)
		if err != nil {
			return nil, err
		}
		switch res.code {
		case ldapSaslBindInProgress:
			challenge = res.saslCreds
			continue
		case ldapSuccess:
			s.raw.arm()
			sec, err := cli.Finish(ctx, res.saslCreds)
			if err != nil {
				return nil, fmt.Errorf("Finish: %w", err)
			}
			return sec, nil
		}
		return nil, fmt.Errorf("bind refused: %v", res)
	}
	return nil, errors.New("the SASL bind took more than 6 legs")
}

// searchSchema reads the subschema entry through the layer and checks it
// is whole.
func searchSchema(t *testing.T, s *saslConn) {
	t.Helper()
	vals, err := s.searchBase(schemaDN, "attributeTypes", "objectClasses")
	if err != nil {
		t.Fatalf("search of the schema: %v", err)
	}
	at, oc := vals["attributetypes"], vals["objectclasses"]
	// Samba 4.17's schema (2008 R2 and later) has over 1,400 attributes
	// and over 250 classes.
	if len(at) < 1000 || len(oc) < 200 {
		t.Fatalf("the schema has %d attributeTypes and %d objectClasses", len(at), len(oc))
	}
	if !slices.ContainsFunc(at, func(v []byte) bool { return bytes.Contains(v, []byte("NAME 'sAMAccountName'")) }) {
		t.Errorf("no sAMAccountName in attributeTypes")
	}
}

// checkFrames checks the DC's part of the layer after the search: at
// least minFrames frames, none over the client's receive buffer, the
// plaintext visible on the wire only on an integrity layer that does not
// seal.
func checkFrames(t *testing.T, s *saslConn, sec *sasl.Security, minFrames int) {
	t.Helper()
	frames, largest, visible := s.raw.counts(false, []byte("NAME 'sAMAccountName'"))
	t.Logf("layer %v (sealed %v): %d frames from the DC, the largest %d bytes; client buffer %d", sec.Layer(), sec.Confidential(), frames, largest, sec.MaxReceive())
	if frames < minFrames {
		t.Errorf("%d frames for the schema, want at least %d: the DC did not split it", frames, minFrames)
	}
	if largest > sec.MaxReceive() {
		t.Errorf("a frame of %d bytes, over the client's buffer of %d", largest, sec.MaxReceive())
	}
	if visible == sec.Confidential() {
		t.Errorf("plaintext on the wire: %v, sealed layer: %v", visible, sec.Confidential())
	}
}

// sendLarge sends the DC a search request of over 200 KB through the
// layer: a base search of the domain object with the filter
// (description=V), V a long string no entry has. It checks the DC
// answers with no entry and success, that the request went out in as
// many frames as sec's MaxPlaintext requires, none over the DC's buffer
// (sec.MaxSend), and that V is on the wire only if the layer does not
// seal.
func sendLarge(t *testing.T, s *saslConn, sec *sasl.Security) {
	t.Helper()
	value := bytes.Repeat([]byte("gosspi large request "), 10000)
	err := s.send(func(b *cryptobyte.Builder) {
		b.AddASN1(appTag(ldapTagSearchRequest), func(b *cryptobyte.Builder) {
			b.AddASN1OctetString([]byte("DC=samba,DC=test"))
			b.AddASN1Enum(0) // baseObject
			b.AddASN1Enum(0) // neverDerefAliases
			b.AddASN1Int64(0)
			b.AddASN1Int64(0)
			b.AddASN1Boolean(false)
			b.AddASN1(asn1.Tag(3).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { // equalityMatch
				b.AddASN1OctetString([]byte("description"))
				b.AddASN1OctetString(value)
			})
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString([]byte("1.1")) // no attributes
			})
		})
	})
	if err != nil {
		t.Fatalf("sending a request of %d bytes (DC buffer %d): %v", len(value), sec.MaxSend(), err)
	}
	for entries := 0; ; {
		tag, op, err := s.recv()
		if err != nil {
			frames, largest, _ := s.raw.counts(true, nil)
			t.Fatalf("answer to a request of %d bytes in %d frames (largest %d, DC buffer %d): %v", len(value), frames, largest, sec.MaxSend(), err)
		}
		switch tag {
		case appTag(ldapTagSearchResultEntry):
			entries++
			continue
		case appTag(ldapTagSearchResultDone):
		default:
			t.Fatalf("answer to a SearchRequest has tag %#x", tag)
		}
		res, err := readResult(op)
		if err != nil {
			t.Fatal(err)
		}
		if res.code != ldapSuccess || entries != 0 {
			t.Fatalf("search with a %d-byte filter: %v, %d entries; want success and none", len(value), res, entries)
		}
		break
	}
	frames, largest, visible := s.raw.counts(true, value[:200])
	t.Logf("request of %d bytes: %d frames to the DC, the largest %d bytes; DC buffer %d", len(value), frames, largest, sec.MaxSend())
	if want := (len(value) + sec.MaxPlaintext() - 1) / sec.MaxPlaintext(); frames < want {
		t.Errorf("%d frames for the request, want at least %d", frames, want)
	}
	if largest > sec.MaxSend() {
		t.Errorf("a frame of %d bytes, over the DC's buffer of %d", largest, sec.MaxSend())
	}
	if visible == sec.Confidential() {
		t.Errorf("plaintext on the wire: %v, sealed layer: %v", visible, sec.Confidential())
	}
}

// TestSASLKerberosLayers: the sasl package's client binds to the DC's
// LDAP server as alice with Kerberos (password, AES tickets for
// ldap/dc1.samba.test), by the GSSAPI mechanism (RFC 4752: the DC wraps
// its offer of layers and buffer size, our client answers with its
// choice and a 4 KiB receive buffer) and by GSS-SPNEGO (the layer follows
// the context's flags), with an integrity-only and a sealed layer. It then
// reads the whole schema (one LDAP message of hundreds of kilobytes) and
// alice's tokenGroups through the layer (sasl.Conn), and looks at the
// wire independently: the DC sent many frames, under GSSAPI none larger
// than the 4 KiB the client advertised (the DC honours it: over 50 frames
// for the schema; sasl.Conn would refuse a larger one), and the schema's
// text is readable on the wire under integrity and not when sealed. It
// then sends the DC a 210 KB request (sendLarge), which goes out in
// frames within the DC's buffer, and under GSSAPI also within the 4 KiB
// the client advertised: the DC advertises 64 KiB but, like all of
// Samba's gensec_gssapi, accepts only the smaller of the two sizes, and
// reset the connection on the first 64 KiB frame before the sasl
// package kept to both (sasl.sendLimit).
//
// Under GSS-SPNEGO neither side advertises a size; the DC splits at 64
// KiB (Samba's gensec "max wrap buf size"), which is sasl.DefaultMaxSend:
// the client's buffer is set to that, and the schema takes several
// frames.
func TestSASLKerberosLayers(t *testing.T) {
	dc := Require(t)
	engineers := showSID(t, dc, "group", GroupEngineers)
	const small = 4096
	for _, tc := range []struct {
		name       string
		mech       sasl.Mechanism
		pkg        string
		layer      sasl.Layer
		maxReceive int
		minFrames  int
	}{
		{"GSSAPI integrity", sasl.GSSAPI, "Kerberos", sasl.LayerIntegrity, small, 40},
		{"GSSAPI confidentiality", sasl.GSSAPI, "Kerberos", sasl.LayerConfidentiality, small, 40},
		{"GSS-SPNEGO integrity", sasl.GSSSPNEGO, "Negotiate", sasl.LayerIntegrity, sasl.DefaultMaxSend, 3},
		{"GSS-SPNEGO confidentiality", sasl.GSSSPNEGO, "Negotiate", sasl.LayerConfidentiality, sasl.DefaultMaxSend, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t, dc, registryOptions{})
			id := identity(Alice, Realm)
			id.PackageList = "Kerberos"
			cred := acquire(t, r, tc.pkg, "", sspi.CredentialsOutbound, id)
			// Flags for a Kerberos mechanism, so that GSS-SPNEGO's
			// integrity layer asks for no confidentiality (ClientFlags
			// adds it whenever NTLM may run).
			x, err := sspi.NewClientContext(cred, ldapSPN, sasl.ClientFlags(tc.mech, tc.layer, "Kerberos"))
			if err != nil {
				t.Fatal(err)
			}
			s := dialSASL(t, dc, false)
			cli := sasl.NewClientFromContext(x, &sasl.ClientConfig{
				Mechanism: tc.mech, Target: ldapSPN, Layer: tc.layer, RequireLayer: true,
				MaxReceive: tc.maxReceive, Conn: s.conn,
			})
			defer cli.DeleteSecContext()
			sec, err := s.bindSASL(testCtx(t), cli, tc.mech, nil)
			if err != nil {
				t.Fatalf("%v\n--- samba's log:\n%s", err, dc.LogTail(6))
			}
			if got := x.NegotiatedPackage(); got != "Kerberos" {
				t.Errorf("NegotiatedPackage() = %q, want Kerberos", got)
			}
			if sec.Layer() != tc.layer {
				t.Fatalf("layer %v, want %v", sec.Layer(), tc.layer)
			}
			if !s.conn.Active() {
				t.Fatal("the sasl.Conn carries no layer after the bind")
			}
			searchSchema(t, s)
			checkFrames(t, s, sec, tc.minFrames)
			sendLarge(t, s, sec)
			if groups := tokenGroups(t, s.ldapConn); !slices.Contains(groups, engineers) {
				t.Errorf("tokenGroups %v lack %s (%s): not bound as alice?", groups, engineers, GroupEngineers)
			}
		})
	}
}

// TestSASLNTLM: the sasl package's client binds to the DC's LDAP server
// as SAMBA\alice with NTLM inside GSS-SPNEGO (raw NTLMSSP tokens, as
// Windows' LDAP client sends them), checked by Samba's NTLMSSP server:
//
//   - sealed: confidentiality asked for (SIGN and SEAL);
//   - signed as the sasl package asks for it: LayerIntegrity, for which
//     ClientFlags asks for SEAL too, since the DC treats NTLM SIGN as SEAL;
//   - signed as Windows' LDAP client with LDAP_OPT_SIGN asks for it: a
//     context made with ISC_REQ_INTEGRITY only (NTLMSSP_NEGOTIATE_SIGN
//     without SEAL), whose frames the DC expects sealed anyway (issue 12,
//     failure 5): both sides seal, and the schema's text is not on the
//     wire;
//
// each followed by the schema search through the layer, a 210 KB
// request to the DC (in 64 KiB frames) and alice's tokenGroups. With NTLM the DC sends frames of up to 128 KiB (its
// NTLMSSP wrap size), twice what it sends with Kerberos under GSS-SPNEGO,
// so the client keeps sasl.DefaultMaxReceive (a client buffer of 64 KiB
// fails with ErrFrameTooLarge): the schema takes two frames; and
//
//   - over LDAPS with no layer, with the tls-server-end-point channel
//     bindings of the TLS connection (ClientConfig.ChannelBindings): the
//     bind succeeds and our AUTHENTICATE carries their MD5 in
//     MsvAvChannelBindings; without them it carries 16 zero bytes. Samba
//     4.17 does not check channel bindings (it accepts wrong ones, see
//     PEERS.md), so the DC cannot prove they are right: the test checks
//     what we send, and that the DC takes it.
func TestSASLNTLM(t *testing.T) {
	dc := Require(t)
	engineers := showSID(t, dc, "group", GroupEngineers)
	for _, tc := range []struct {
		name     string
		layer    sasl.Layer // wanted
		req      uint32     // the context's flags; 0: sasl.ClientFlags
		want     sasl.Layer // in force
		ldaps    bool
		bindings bool
	}{
		{"sealed", sasl.LayerConfidentiality, 0, sasl.LayerConfidentiality, false, false},
		{"signed, sasl flags", sasl.LayerIntegrity, 0, sasl.LayerConfidentiality, false, false},
		{"signed, SIGN only", sasl.LayerIntegrity, sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_SEQUENCE_DETECT, sasl.LayerIntegrity, false, false},
		{"LDAPS with channel bindings", sasl.LayerNone, 0, sasl.LayerNone, true, true},
		{"LDAPS without channel bindings", sasl.LayerNone, 0, sasl.LayerNone, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t, dc, registryOptions{})
			cred := acquire(t, r, "NTLM", "", sspi.CredentialsOutbound, identity(Alice, NetBIOSDomain))
			req := tc.req
			if req == 0 {
				req = sasl.ClientFlags(sasl.GSSSPNEGO, tc.layer, "NTLM")
			}
			x, err := sspi.NewClientContext(cred, ldapSPN, req)
			if err != nil {
				t.Fatal(err)
			}
			s := dialSASL(t, dc, tc.ldaps)
			var cb *secbuffer.ChannelBindings
			if tc.bindings {
				if cb, err = secbuffer.TLSServerEndPoint(s.tls); err != nil {
					t.Fatal(err)
				}
			}
			cli := sasl.NewClientFromContext(x, &sasl.ClientConfig{
				Mechanism: sasl.GSSSPNEGO, Target: ldapSPN, Layer: tc.layer, RequireLayer: true,
				Conn: s.conn, ChannelBindings: cb,
			})
			defer cli.DeleteSecContext()
			var authenticate []byte
			sec, err := s.bindSASL(testCtx(t), cli, sasl.GSSSPNEGO, func(tok []byte) {
				if len(tok) >= 12 && string(tok[:8]) == "NTLMSSP\x00" && binary.LittleEndian.Uint32(tok[8:]) == 3 {
					authenticate = bytes.Clone(tok)
				}
			})
			if err != nil {
				t.Fatalf("%v\n--- samba's log:\n%s", err, dc.LogTail(6))
			}
			if sec.Layer() != tc.want {
				t.Fatalf("layer %v, want %v", sec.Layer(), tc.want)
			}
			if tc.want == sasl.LayerNone {
				if s.conn.Active() {
					t.Error("the sasl.Conn carries a layer on LDAPS")
				}
				checkBindings(t, authenticate, cb)
			} else {
				if !sec.Confidential() {
					t.Error("an NTLM layer that does not seal")
				}
				if tc.req != 0 && x.Flags()&sspi.ISC_RET_CONFIDENTIALITY != 0 {
					t.Errorf("a context asked for integrity only has flags %#x (confidentiality)", x.Flags())
				}
				searchSchema(t, s)
				checkFrames(t, s, sec, 2)
				sendLarge(t, s, sec)
			}
			if groups := tokenGroups(t, s.ldapConn); !slices.Contains(groups, engineers) {
				t.Errorf("tokenGroups %v lack %s (%s): not bound as alice?", groups, engineers, GroupEngineers)
			}
		})
	}
}

// checkBindings checks the MsvAvChannelBindings of an NTLM AUTHENTICATE
// message: the MD5 of cb, or 16 zero bytes when cb is nil.
func checkBindings(t *testing.T, authenticate []byte, cb *secbuffer.ChannelBindings) {
	t.Helper()
	if authenticate == nil {
		t.Fatal("the client sent no NTLM AUTHENTICATE")
	}
	got, err := avChannelBindings(authenticate)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 16)
	if cb != nil {
		h := cb.Hash()
		want = h[:]
		if bytes.Equal(got, make([]byte, 16)) {
			t.Fatal("MsvAvChannelBindings is zero: the bindings did not reach NTLM")
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("MsvAvChannelBindings % x, want % x", got, want)
	}
}

// avChannelBindings returns the MsvAvChannelBindings value (AvId 10) of
// an NTLM AUTHENTICATE message (MS-NLMP 2.2.1.3): its NtChallengeResponse
// is an NTLMv2_RESPONSE (2.2.2.8), NTProofStr then the
// NTLMv2_CLIENT_CHALLENGE (2.2.2.7) whose AV pairs start 28 bytes in.
func avChannelBindings(msg []byte) ([]byte, error) {
	if len(msg) < 28 {
		return nil, errors.New("short AUTHENTICATE message")
	}
	n, off := int(binary.LittleEndian.Uint16(msg[20:])), int(binary.LittleEndian.Uint32(msg[24:]))
	if off > len(msg) || n > len(msg)-off || n < 16+28 {
		return nil, fmt.Errorf("NtChallengeResponse of %d bytes at %d in %d: not NTLMv2", n, off, len(msg))
	}
	av := msg[off+16+28 : off+n]
	for len(av) >= 4 {
		id, l := binary.LittleEndian.Uint16(av), int(binary.LittleEndian.Uint16(av[2:]))
		if l > len(av)-4 {
			break
		}
		switch id {
		case 0: // MsvAvEOL
			return nil, errors.New("no MsvAvChannelBindings")
		case 10:
			if l != 16 {
				return nil, fmt.Errorf("MsvAvChannelBindings of %d bytes", l)
			}
			return av[4 : 4+l], nil
		}
		av = av[4+l:]
	}
	return nil, errors.New("malformed AV pairs")
}
