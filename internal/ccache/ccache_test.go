package ccache

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func bg() context.Context { return context.Background() }

var (
	alice = Principal{NameType: 1, Realm: "EXAMPLE.TEST", Components: []string{"alice"}}
	tgs   = Principal{NameType: 2, Realm: "EXAMPLE.TEST", Components: []string{"krbtgt", "EXAMPLE.TEST"}}
	http  = Principal{NameType: 3, Realm: "EXAMPLE.TEST", Components: []string{"HTTP", "web.example.test"}}
)

func testCred(server Principal, key byte) Credential {
	t0 := time.Unix(1700000000, 0).UTC()
	return Credential{
		Client: alice, Server: server, KeyType: 18, Key: bytes.Repeat([]byte{key}, 32),
		AuthTime: t0, StartTime: t0, EndTime: t0.Add(10 * time.Hour), RenewTill: t0.Add(24 * time.Hour),
		Flags: 0x40e10000, Ticket: []byte{0x61, 0x03, 0x02, 0x01, key},
		Addresses: []Address{{Type: 2, Data: []byte{127, 0, 0, 1}}},
		AuthData:  []AuthData{{Type: 1, Data: []byte("ad")}},
	}
}

// A cache marshalled in versions 3 and 4 (with and without the time
// offset header) parses back to the same content.
func TestFileRoundTrip(t *testing.T) {
	for _, f := range []*File{
		{Version: 4, Principal: alice, Credentials: []Credential{testCred(tgs, 1), testCred(http, 2)}},
		{Version: 4, HasTimeOffset: true, TimeOffset: -5, USecOffset: 7, Principal: alice, Credentials: []Credential{testCred(tgs, 1)}},
		{Version: 3, Principal: alice, Credentials: []Credential{testCred(tgs, 3)}},
		{Version: 4, Principal: alice},
	} {
		b := f.Marshal()
		g, err := ParseFile(b)
		if err != nil {
			t.Fatalf("v%d: %v", f.Version, err)
		}
		if !reflect.DeepEqual(f, g) {
			t.Errorf("v%d: round trip:\n got %+v\nwant %+v", f.Version, g, f)
		}
		if f.Version == 3 && !bytes.HasPrefix(b, []byte{5, 3}) {
			t.Errorf("v3 header % x", b[:2])
		}
	}
}

// A version 4 cache as MIT's kinit writes it (the layout of
// doc/formats/ccache_file_format.rst), built field by field.
func TestParseFileV4Layout(t *testing.T) {
	var b []byte
	u16 := func(v uint16) { b = binary.BigEndian.AppendUint16(b, v) }
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	data := func(s string) { u32(uint32(len(s))); b = append(b, s...) }
	princ := func(nt uint32, realm string, comps ...string) {
		u32(nt)
		u32(uint32(len(comps)))
		data(realm)
		for _, c := range comps {
			data(c)
		}
	}
	b = append(b, 5, 4)
	u16(12) // header: one DeltaTime tag
	u16(1)
	u16(8)
	u32(0xfffffffe)
	u32(0)
	princ(1, "R", "u")
	princ(1, "R", "u")
	princ(2, "R", "krbtgt", "R")
	u16(17)
	data("0123456789abcdef")
	for _, v := range []uint32{100, 101, 4000000000, 0} {
		u32(v)
	}
	b = append(b, 0)
	u32(0x50000000)
	u32(0)
	u32(0)
	data("TICKET")
	data("")
	f, err := ParseFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasTimeOffset || f.TimeOffset != -2 || len(f.Credentials) != 1 {
		t.Fatalf("%+v", f)
	}
	c := f.Credentials[0]
	if c.Server.String() != "krbtgt/R@R" || c.KeyType != 17 || string(c.Key) != "0123456789abcdef" ||
		c.EndTime.Unix() != 4000000000 || !c.RenewTill.IsZero() || c.Flags != 0x50000000 || string(c.Ticket) != "TICKET" {
		t.Fatalf("%+v", c)
	}
	if !bytes.Equal(f.Marshal(), b) {
		t.Error("Marshal does not give back the same bytes")
	}
}

// Versions 1 and 2 are in the host's byte order; version 1 has no name
// type and counts the realm among the components.
func TestParseFileV1V2(t *testing.T) {
	for _, v := range []int{1, 2} {
		var b []byte
		u32 := func(x uint32) { b = binary.NativeEndian.AppendUint32(b, x) }
		data := func(s string) { u32(uint32(len(s))); b = append(b, s...) }
		b = append(b, 5, byte(v))
		if v == 2 {
			u32(1)
			u32(1)
		} else {
			u32(2)
		}
		data("R")
		data("u")
		f, err := ParseFile(b)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if f.Principal.String() != "u@R" {
			t.Errorf("v%d: %v", v, f.Principal)
		}
	}
}

func TestParseFileErrors(t *testing.T) {
	good := (&File{Principal: alice, Credentials: []Credential{testCred(tgs, 1)}}).Marshal()
	for i := 0; i < len(good); i++ {
		f, err := ParseFile(good[:i])
		if i == 0 || i < len(good) {
			// Every strict prefix either fails or is a cache with
			// fewer credentials (the principal alone ends at a boundary).
			if err == nil && len(f.Credentials) != 0 {
				t.Fatalf("prefix %d parsed with %d credentials", i, len(f.Credentials))
			}
		}
	}
	huge := append([]byte{5, 4, 0, 0}, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 1), 1)...)
	huge = binary.BigEndian.AppendUint32(huge, MaxData+1)
	if _, err := ParseFile(huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized field: %v", err)
	}
	if _, err := ParseFile([]byte{5, 9}); !errors.Is(err, ErrFormat) {
		t.Errorf("version 9: %v", err)
	}
	if _, err := ParseFile(make([]byte, MaxFileSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized file: %v", err)
	}
	many := append([]byte{5, 4, 0, 0}, MarshalPrincipal(Principal{Realm: "R", Components: make([]string, MaxComponents+1)})...)
	if _, err := ParseFile(many); !errors.Is(err, ErrFormat) {
		t.Errorf("too many components: %v", err)
	}
}

// Formatting a credential never prints its key.
func TestCredentialRedacted(t *testing.T) {
	c := testCred(tgs, 0x41)
	f := &File{Principal: alice, Credentials: []Credential{c}}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c, c, c), fmt.Sprintf("%+v %#v", f, f), c.String()} {
		if strings.Contains(s, "AAAA") || strings.Contains(s, "4141") || strings.Contains(s, "65 65") {
			t.Fatalf("key printed: %s", s)
		}
		if !strings.Contains(s, "redacted") {
			t.Fatalf("no redaction marker: %s", s)
		}
	}
}

func TestPrincipalString(t *testing.T) {
	p := Principal{Realm: "X-CACHECONF:", Components: []string{"krb5_ccache_conf_data", "pa_type", "krbtgt/R@R"}}
	if got, want := p.String(), `krb5_ccache_conf_data/pa_type/krbtgt\/R\@R@X-CACHECONF:`; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

// FILE: Initialize writes a version 4 cache with mode 0600; Store
// appends; Load reads both back.
func TestFileCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc")
	c, err := Resolve(bg(), "FILE:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Load(bg()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent cache: %v", err)
	}
	if err := c.Store(bg(), &Credential{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("store to an absent cache: %v", err)
	}
	if err := c.Initialize(bg(), alice, []Credential{testCred(tgs, 1)}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	want := testCred(http, 2)
	if err := c.Store(bg(), &want); err != nil {
		t.Fatal(err)
	}
	p, creds, err := c.Load(bg())
	if err != nil || !p.Equal(alice) || len(creds) != 2 || !reflect.DeepEqual(creds[1], want) {
		t.Fatalf("%v %d %v", p, len(creds), err)
	}
	if c.Name() != "FILE:"+path {
		t.Errorf("Name %s", c.Name())
	}
	// A bare path is a FILE cache.
	if c2, err := Resolve(bg(), path, nil); err != nil || c2.Name() != "FILE:"+path {
		t.Errorf("bare path: %v %v", c2, err)
	}
	// Store refuses a file that is not a v3/v4 cache.
	os.WriteFile(path, []byte("junk"), 0o600)
	if err := c.Store(bg(), &want); !errors.Is(err, ErrFormat) {
		t.Errorf("store into junk: %v", err)
	}
}

// DIR: a collection resolves to its primary ("tkt" when there is no
// primary file yet); Initialize creates the directory and the primary
// file as kinit does; DIR::path names one cache.
func TestDirCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "coll")
	c, err := Resolve(bg(), "DIR:"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "DIR::"+filepath.Join(dir, "tkt") {
		t.Fatalf("Name %s", c.Name())
	}
	if err := c.Initialize(bg(), alice, []Credential{testCred(tgs, 1)}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "primary")); err != nil || string(b) != "tkt\n" {
		t.Fatalf("primary %q %v", b, err)
	}
	// Another cache made primary.
	other, err := Resolve(bg(), "DIR::"+filepath.Join(dir, "tktOther"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Initialize(bg(), http, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "primary"), []byte("tktOther\n"), 0o600)
	c, err = Resolve(bg(), "DIR:"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := c.Load(bg())
	if err != nil || !p.Equal(http) {
		t.Fatalf("primary tktOther: %v %v", p, err)
	}
	for _, bad := range []string{"../x\n", "tkt/../x\n", "notkt\n", "tktnonewline"} {
		os.WriteFile(filepath.Join(dir, "primary"), []byte(bad), 0o600)
		if _, err := Resolve(bg(), "DIR:"+dir, nil); !errors.Is(err, ErrFormat) {
			t.Errorf("primary %q: %v", bad, err)
		}
	}
	if _, err := Resolve(bg(), "DIR::"+filepath.Join(dir, "cc"), nil); !errors.Is(err, ErrFormat) {
		t.Errorf("DIR:: without tkt: %v", err)
	}
}

func TestDefaultName(t *testing.T) {
	uid := strconv.Itoa(os.Getuid())
	t.Setenv("TMPDIR", "/var/tmp")
	for _, tc := range []struct{ env, conf, want string }{
		{"KCM:", "FILE:/x", "KCM:"},
		{"", "FILE:%{TEMP}/krb5cc_%{uid}", "FILE:/var/tmp/krb5cc_" + uid},
		{"", "DIR:/run/user/%{euid}/krb5cc%{null}", "DIR:/run/user/" + strconv.Itoa(os.Geteuid()) + "/krb5cc"},
		{"", "KEYRING:persistent:%{USERID}", "KEYRING:persistent:" + uid},
		{"FILE:/a/%{uid}", "", "FILE:/a/%{uid}"}, // KRB5CCNAME is not expanded
	} {
		got, err := DefaultName(tc.env, tc.conf)
		if err != nil || got != tc.want {
			t.Errorf("DefaultName(%q, %q) = %q, %v; want %q", tc.env, tc.conf, got, err, tc.want)
		}
	}
	for _, bad := range []string{"FILE:%{nosuch}", "FILE:%{uid"} {
		if _, err := DefaultName("", bad); err == nil {
			t.Errorf("%q expanded", bad)
		}
	}
	for goos, want := range map[string]string{"linux": "FILE:/tmp/krb5cc_" + uid, "freebsd": "FILE:/tmp/krb5cc_" + uid, "darwin": "API:", "windows": "MSLSA:"} {
		if got, err := defaultName(goos, "", ""); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", goos, got, err, want)
		}
	}
	// On macOS the default cache is out of reach, with advice.
	_, err := Resolve(bg(), "API:", nil)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "KRB5CCNAME=FILE:") {
		t.Errorf("API: %v", err)
	}
}

func TestSplitName(t *testing.T) {
	for name, want := range map[string][2]string{
		"FILE:/tmp/x":   {"FILE", "/tmp/x"},
		"/tmp/x":        {"FILE", "/tmp/x"},
		"KCM:":          {"KCM", ""},
		"DIR::/d/tkt":   {"DIR", ":/d/tkt"},
		"KEYRING:a:b:c": {"KEYRING", "a:b:c"},
	} {
		if typ, res := SplitName(name); typ != want[0] || res != want[1] {
			t.Errorf("%s: %s %s", name, typ, res)
		}
	}
}

// Marshal allocates its output once: the keys it copies leave no
// stale copies in buffers that grew.
func TestMarshalSizedOnce(t *testing.T) {
	f := &File{Principal: Principal{Realm: strings.Repeat("R", 300), Components: []string{strings.Repeat("c", 500)}},
		Credentials: []Credential{testCred(tgs, 1), testCred(http, 2)}}
	f.Credentials[0].Server.Components = []string{strings.Repeat("s", 700), "x"}
	b := f.Marshal()
	n := 64 + f.Principal.size()
	for i := range f.Credentials {
		n += f.Credentials[i].size()
	}
	if cap(b) != n || len(b) > n {
		t.Fatalf("len %d cap %d, want cap %d", len(b), cap(b), n)
	}
	c := &f.Credentials[0]
	if m := MarshalCredential(c); cap(m) != c.size() {
		t.Fatalf("MarshalCredential cap %d, want %d", cap(m), c.size())
	}
}
