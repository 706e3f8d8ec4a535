package ccache

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"reflect"
	"testing"
)

func seedFiles() [][]byte {
	creds := []Credential{testCred(tgs, 1), testCred(http, 2), {Client: alice, Server: Principal{Realm: ConfigRealm, Components: []string{"krb5_ccache_conf_data", "pa_type"}}, Ticket: []byte("2")}}
	return [][]byte{
		(&File{Version: 4, Principal: alice, Credentials: creds}).Marshal(),
		(&File{Version: 4, HasTimeOffset: true, TimeOffset: 3, Principal: alice, Credentials: creds[:1]}).Marshal(),
		(&File{Version: 3, Principal: alice, Credentials: creds[1:]}).Marshal(),
		append([]byte{5, 1}, binary.NativeEndian.AppendUint32(nil, 1)...),
	}
}

// FuzzParseFile: a cache that parses marshals (as version 4) to bytes
// that parse to the same content; nothing panics.
func FuzzParseFile(f *testing.F) {
	for _, s := range seedFiles() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := ParseFile(b)
		if err != nil {
			return
		}
		if file.Version < 3 {
			file.Version = 4
		}
		again, err := ParseFile(file.Marshal())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(file, again) {
			t.Fatalf("round trip differs:\n%+v\n%+v", file, again)
		}
	})
}

// FuzzParseCredential: the version 4 credential of keyring keys and KCM
// replies round-trips.
func FuzzParseCredential(f *testing.F) {
	for _, c := range []Credential{testCred(tgs, 1), {}} {
		f.Add(MarshalCredential(&c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCredential(b)
		if err != nil {
			return
		}
		again, err := ParseCredential(MarshalCredential(&c))
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip: %v\n%v\n%v", err, c, again)
		}
	})
}

// FuzzParsePrincipal: the principal encoding is canonical, so what
// parses is a prefix of the input that marshals back byte for byte.
func FuzzParsePrincipal(f *testing.F) {
	f.Add(MarshalPrincipal(alice))
	f.Add(MarshalPrincipal(tgs))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePrincipal(b)
		if err != nil {
			return
		}
		if m := MarshalPrincipal(p); !bytes.HasPrefix(b, m) {
			t.Fatalf("%v marshals to % x, not a prefix of % x", p, m, b)
		}
	})
}

// FuzzParsePrimary: the krb_ccache:primary payload of a keyring
// collection.
func FuzzParsePrimary(f *testing.F) {
	f.Add(marshalPrimary("krb_ccache_Abc12345"))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 9, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := parsePrimary(b)
		if err != nil {
			return
		}
		if m := marshalPrimary(name); !bytes.HasPrefix(b, m) {
			t.Fatalf("%q marshals to % x, not a prefix of % x", name, m, b)
		}
	})
}

// scriptedKCM answers each request on a pipe with the next of replies,
// framed as a daemon frames them (length, transport code 0, then the
// reply: status and payload).
func scriptedKCM(replies [][]byte) func(context.Context) (net.Conn, error) {
	return func(context.Context) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			for _, r := range replies {
				var hdr [4]byte
				if _, err := io.ReadFull(server, hdr[:]); err != nil {
					return
				}
				n := binary.BigEndian.Uint32(hdr[:])
				if n > 1<<20 {
					return
				}
				if _, err := io.ReadFull(server, make([]byte, n)); err != nil {
					return
				}
				msg := binary.BigEndian.AppendUint32(nil, uint32(len(r)))
				msg = binary.BigEndian.AppendUint32(msg, 0)
				if _, err := server.Write(append(msg, r...)); err != nil {
					return
				}
			}
		}()
		return client, nil
	}
}

func ok(payload []byte) []byte { return append([]byte{0, 0, 0, 0}, payload...) }

// FuzzKCMReplies drives a KCM Load (GET_PRINCIPAL, GET_CRED_UUID_LIST,
// GET_CRED_BY_UUID...) against replies cut from the input: nothing
// panics, and what a successful Load returns round-trips and counts no
// more credentials than the UUID list did.
func FuzzKCMReplies(f *testing.F) {
	c := testCred(tgs, 1)
	good := [][]byte{ok(MarshalPrincipal(alice)), ok(make([]byte, 32)), ok(MarshalCredential(&c)), ok(MarshalCredential(&c))}
	var seed []byte
	for _, r := range good {
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(r)))
		seed = append(seed, r...)
	}
	f.Add(seed)
	f.Add([]byte{0, 4, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var replies [][]byte
		for len(b) >= 2 && len(replies) < 16 {
			n := int(binary.BigEndian.Uint16(b))
			b = b[2:]
			n = min(n, len(b))
			replies = append(replies, b[:n])
			b = b[n:]
		}
		uuids := -1
		if len(replies) > 1 {
			if ids, err := parseKCMUUIDs(replies[1][min(4, len(replies[1])):]); err == nil {
				uuids = len(ids)
			}
		}
		cache := &kcmCache{residual: "0", o: Options{dial: scriptedKCM(replies)}}
		p, creds, err := cache.Load(context.Background())
		if err != nil {
			return
		}
		if uuids < 0 || len(creds) > uuids {
			t.Fatalf("%d credentials from a list of %d", len(creds), uuids)
		}
		if m := MarshalPrincipal(p); !bytes.HasPrefix(replies[0][4:], m) {
			t.Fatal("principal does not match its reply")
		}
		for i := range creds {
			again, err := ParseCredential(MarshalCredential(&creds[i]))
			if err != nil || !reflect.DeepEqual(again, creds[i]) {
				t.Fatalf("credential %d does not round-trip", i)
			}
		}
	})
}

// The KCM client against a scripted daemon: a default cache, the load,
// and the failures a daemon reports.
func TestKCMScripted(t *testing.T) {
	c := testCred(tgs, 1)
	replies := [][]byte{ok([]byte("0\x00")), ok(MarshalPrincipal(alice)), ok(make([]byte, 16)), ok(MarshalCredential(&c))}
	cache, err := resolveKCM(bg(), "", &Options{dial: scriptedKCM(replies)})
	if err != nil || cache.Name() != "KCM:0" {
		t.Fatalf("%v %v", cache, err)
	}
	cache.(*kcmCache).o.dial = scriptedKCM(replies[1:])
	p, creds, err := cache.Load(bg())
	if err != nil || !p.Equal(alice) || len(creds) != 1 || !reflect.DeepEqual(creds[0], c) {
		t.Fatalf("%v %v %v", p, creds, err)
	}
	// Heimdal answers an uninitialised cache with an empty principal.
	cache.(*kcmCache).o.dial = scriptedKCM([][]byte{ok(nil)})
	if _, _, err := cache.Load(bg()); err == nil {
		t.Fatal("empty principal accepted")
	}
	// KRB5_FCC_NOFILE in the reply's status.
	cache.(*kcmCache).o.dial = scriptedKCM([][]byte{binary.BigEndian.AppendUint32(nil, uint32(0x100000000+kcmErrNoFile))})
	if _, _, err := cache.Load(bg()); err == nil {
		t.Fatal("error status accepted")
	}
}
