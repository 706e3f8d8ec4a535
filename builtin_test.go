package sspi

import (
	"testing"
	"unsafe"
)

// windowsPackages are the SecPkgInfo values Windows 10 reports for the
// built-in packages, in its enumeration order (spec structures.md §7).
var windowsPackages = []struct {
	name, comment string
	caps          uint32
	rpcID         uint16
	maxToken      uint32
}{
	{"Negotiate", "Microsoft Package Negotiator", 0x00883BB3, 9, 48256},
	{"Kerberos", "Microsoft Kerberos V1.0", 0x008F3BBF, 16, 48000},
	{"NTLM", "NTLM Security Package", 0x00882B37, 10, 2888},
	{"WDigest", "Digest Authentication for Windows", 0x00800304, 21, 4096},
	{"Schannel", "Schannel Security Package", 0x004107B3, 14, 24576},
	{"Microsoft Unified Security Protocol Provider", "Schannel Security Package", 0x004107B3, 14, 24576},
}

// TestBuiltinPackages checks that the default registry lists the built-in
// packages it has in Windows' order, with Windows' values.
func TestBuiltinPackages(t *testing.T) {
	var n uint32
	var first *SecPkgInfoW
	wantStatus(t, "EnumerateSecurityPackagesW", EnumerateSecurityPackagesW(&n, &first), SEC_E_OK)
	got := unsafe.Slice(first, n)
	if len(got) == 0 {
		t.Fatal("no built-in packages")
	}
	next := 0 // index in windowsPackages the next listed package may have
	for _, p := range got {
		name := UTF16PtrToString(p.Name)
		i := next
		for i < len(windowsPackages) && windowsPackages[i].name != name {
			i++
		}
		if i == len(windowsPackages) {
			t.Errorf("%q is not a built-in package, or is out of Windows' order", name)
			continue
		}
		next = i + 1
		w := windowsPackages[i]
		if c := UTF16PtrToString(p.Comment); c != w.comment || p.Capabilities != w.caps || p.Version != 1 || p.RPCID != w.rpcID || p.MaxToken != w.maxToken {
			t.Errorf("%s: comment %q caps %#08x version %d rpc %d maxToken %d; want %q %#08x 1 %d %d",
				name, c, p.Capabilities, p.Version, p.RPCID, p.MaxToken, w.comment, w.caps, w.rpcID, w.maxToken)
		}
	}
}
