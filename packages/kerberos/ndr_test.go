package kerberos

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/pac"

	"github.com/gosspi/sspi/packages"
)

// gokrb5LogonInfo decodes b with gokrb5's NDR decoder, the one the
// acceptor used before, as an independent reading to compare with.
func gokrb5LogonInfo(b []byte) (li *packages.LogonInfo, groups []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gokrb5 panic: %v", r)
		}
	}()
	var k pac.KerbValidationInfo
	if err := k.Unmarshal(b); err != nil {
		return nil, nil, err
	}
	li = &packages.LogonInfo{
		EffectiveName: k.EffectiveName.Value, FullName: k.FullName.Value,
		LogonServer: k.LogonServer.Value, LogonDomainName: k.LogonDomainName.Value,
		LogonDomainSID: k.LogonDomainID.String(), UserID: k.UserID, PrimaryGroupID: k.PrimaryGroupID,
		UserFlags: k.UserFlags, UserAccountControl: k.UserAccountControl,
		LogonCount: k.LogonCount, BadPasswordCount: k.BadPasswordCount,
	}
	for _, g := range k.GroupIDs {
		li.GroupIDs = append(li.GroupIDs, g.RelativeID)
	}
	for _, x := range k.ExtraSIDs {
		li.ExtraSIDs = append(li.ExtraSIDs, x.SID.String())
	}
	if k.ResourceGroupCount > 0 {
		li.ResourceGroupDomainSID = k.ResourceGroupDomainSID.String()
		for _, g := range k.ResourceGroupIDs {
			li.ResourceGroupIDs = append(li.ResourceGroupIDs, g.RelativeID)
		}
	}
	return li, k.GetGroupMembershipSIDs(), nil
}

// logonInfoBuffers returns the KERB_VALIDATION_INFO buffers of the
// published PACs.
func logonInfoBuffers(t testing.TB) [][]byte {
	var out [][]byte
	for _, v := range pacVectors(t) {
		_, bufs, err := parsePACFrame(v.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bufs {
			if b.typ == pacLogonInfo {
				out = append(out, b.data)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no logon info in the PAC vectors")
	}
	return out
}

// TestLogonInfoAgreesWithGokrb5: on the published PACs (Active Directory's
// and the MS-PAC sample), the decoder reads what gokrb5's does.
func TestLogonInfoAgreesWithGokrb5(t *testing.T) {
	for i, b := range logonInfoBuffers(t) {
		got, err := decodeLogonInfo(b)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		want, wantGroups, err := gokrb5LogonInfo(b)
		if err != nil {
			t.Fatalf("vector %d: gokrb5: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("vector %d:\n got %+v\nwant %+v", i, got, want)
		}
		if g := groupSIDs(got); !reflect.DeepEqual(g, wantGroups) {
			t.Errorf("vector %d: groups %v, want %v", i, g, wantGroups)
		}
		if len(got.GroupIDs) == 0 || got.EffectiveName == "" {
			t.Errorf("vector %d: an empty reading %+v", i, got)
		}
	}
}

// TestLogonInfoTruncated: no prefix of a logon info buffer decodes, and a
// count larger than the buffer is refused before anything is allocated.
func TestLogonInfoTruncated(t *testing.T) {
	b := logonInfoBuffers(t)[0]
	for n := 0; n < len(b)-8; n++ { // the tail may be alignment padding
		if li, err := decodeLogonInfo(b[:n]); err == nil {
			t.Fatalf("%d of %d bytes decoded: %+v", n, len(b), li)
		}
	}
	r := &ndrReader{b: []byte{0xff, 0xff, 0xff, 0x7f}}
	if r.count(8); r.err == nil {
		t.Fatal("a count of 2^31 elements was accepted")
	}
}

// FuzzLogonInfo: the decoder never panics, and whenever both it and
// gokrb5's decoder read a buffer, they read the same values (a
// differential oracle: two independent readings of untrusted NDR).
func FuzzLogonInfo(f *testing.F) {
	for _, b := range logonInfoBuffers(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeLogonInfo(b)
		if err != nil {
			return
		}
		want, _, err := gokrb5LogonInfo(b)
		if err != nil {
			return
		}
		// The group SID list is a function of these fields (compared on
		// the published PACs in TestLogonInfoAgreesWithGokrb5); on fuzzed
		// input gokrb5's differs in duplicates. gokrb5 drops a trailing NUL from strings; an RPC_UNICODE_STRING
		// is counted, and a NUL inside it is data, which we keep.
		for _, li := range []*packages.LogonInfo{got, want} {
			for _, s := range []*string{&li.EffectiveName, &li.FullName, &li.LogonServer, &li.LogonDomainName} {
				*s = strings.TrimRight(*s, "\x00")
			}
		}
		// SIDs with an identifier authority of 2^32 or more print in hex
		// (MS-DTYP 2.4.2.1), which gokrb5 writes in lower case.
		same := func(a, b any) bool { return strings.EqualFold(fmt.Sprintf("%#v", a), fmt.Sprintf("%#v", b)) }
		if !same(got, want) {
			t.Fatalf("decoders disagree:\n ours   %+v\n gokrb5 %+v", got, want)
		}
	})
}
