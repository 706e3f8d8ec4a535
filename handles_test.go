package sspi

import (
	"sync"
	"testing"

	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// contextCalls are the flat calls that take a context handle, each with
// arguments that would otherwise be valid.
var contextCalls = []struct {
	name string
	call func(r *Registry, h *CtxtHandle) status.Status
}{
	{"InitializeSecurityContextW", func(r *Registry, h *CtxtHandle) status.Status {
		return r.InitializeSecurityContextW(nil, h, nil, 0, 0, 0, inDesc([]byte("CHAL")), 0, h, tokenDesc(64), nil, nil)
	}},
	{"InitializeSecurityContextA", func(r *Registry, h *CtxtHandle) status.Status {
		return r.InitializeSecurityContextA(nil, h, nil, 0, 0, 0, inDesc([]byte("CHAL")), 0, h, tokenDesc(64), nil, nil)
	}},
	{"AcceptSecurityContext", func(r *Registry, h *CtxtHandle) status.Status {
		return r.AcceptSecurityContext(nil, h, inDesc([]byte("AUTH")), 0, 0, h, tokenDesc(64), nil, nil)
	}},
	{"CompleteAuthToken", func(r *Registry, h *CtxtHandle) status.Status { return r.CompleteAuthToken(h, tokenDesc(0)) }},
	{"ApplyControlToken", func(r *Registry, h *CtxtHandle) status.Status { return r.ApplyControlToken(h, inDesc(nil)) }},
	{"QueryContextAttributesW", func(r *Registry, h *CtxtHandle) status.Status {
		var s SecPkgContext_Sizes
		return r.QueryContextAttributesW(h, SECPKG_ATTR_SIZES, &s)
	}},
	{"QueryContextAttributesA", func(r *Registry, h *CtxtHandle) status.Status {
		var s SecPkgContext_NamesA
		return r.QueryContextAttributesA(h, SECPKG_ATTR_NAMES, &s)
	}},
	{"SetContextAttributesW", func(r *Registry, h *CtxtHandle) status.Status {
		return r.SetContextAttributesW(h, fakeAttrThing, nil, 0)
	}},
	{"SetContextAttributesA", func(r *Registry, h *CtxtHandle) status.Status {
		return r.SetContextAttributesA(h, fakeAttrThing, nil, 0)
	}},
	{"MakeSignature", func(r *Registry, h *CtxtHandle) status.Status { return r.MakeSignature(h, 0, tokenDesc(16), 0) }},
	{"VerifySignature", func(r *Registry, h *CtxtHandle) status.Status {
		return r.VerifySignature(h, inDesc(make([]byte, 16)), 0, nil)
	}},
	{"EncryptMessage", func(r *Registry, h *CtxtHandle) status.Status { return r.EncryptMessage(h, 0, tokenDesc(16), 0) }},
	{"DecryptMessage", func(r *Registry, h *CtxtHandle) status.Status { return r.DecryptMessage(h, inDesc(nil), 0, nil) }},
	{"QuerySecurityContextToken", func(r *Registry, h *CtxtHandle) status.Status {
		var tok uintptr
		return r.QuerySecurityContextToken(h, &tok)
	}},
	{"ImpersonateSecurityContext", func(r *Registry, h *CtxtHandle) status.Status { return r.ImpersonateSecurityContext(h) }},
	{"RevertSecurityContext", func(r *Registry, h *CtxtHandle) status.Status { return r.RevertSecurityContext(h) }},
	{"ExportSecurityContext", func(r *Registry, h *CtxtHandle) status.Status {
		return r.ExportSecurityContext(h, 0, &secbuffer.Buffer{}, nil)
	}},
	{"DeleteSecurityContext", func(r *Registry, h *CtxtHandle) status.Status { return r.DeleteSecurityContext(h) }},
}

// credCalls are the flat calls that take a credential handle.
var credCalls = []struct {
	name string
	call func(r *Registry, h *CredHandle) status.Status
}{
	{"InitializeSecurityContextW", func(r *Registry, h *CredHandle) status.Status {
		var nc CtxtHandle
		return r.InitializeSecurityContextW(h, nil, nil, 0, 0, 0, nil, 0, &nc, tokenDesc(64), nil, nil)
	}},
	{"AcceptSecurityContext", func(r *Registry, h *CredHandle) status.Status {
		var nc CtxtHandle
		return r.AcceptSecurityContext(h, nil, inDesc([]byte("NEG")), 0, 0, &nc, tokenDesc(64), nil, nil)
	}},
	{"QueryCredentialsAttributesW", func(r *Registry, h *CredHandle) status.Status {
		var n SecPkgCredentials_NamesW
		return r.QueryCredentialsAttributesW(h, SECPKG_CRED_ATTR_NAMES, &n)
	}},
	{"QueryCredentialsAttributesA", func(r *Registry, h *CredHandle) status.Status {
		var n SecPkgCredentials_NamesA
		return r.QueryCredentialsAttributesA(h, SECPKG_CRED_ATTR_NAMES, &n)
	}},
	{"FreeCredentialsHandle", func(r *Registry, h *CredHandle) status.Status { return r.FreeCredentialsHandle(h) }},
}

// TestHandleMisuse passes every kind of bad handle to every call that takes
// one: each must answer SEC_E_INVALID_HANDLE and never panic.
func TestHandleMisuse(t *testing.T) {
	r := newFakeRegistry()
	other := newFakeRegistry()
	live := handshakeW(t, r, "pw")
	foreign := handshakeW(t, other, "pw")

	// A freed credential and a deleted context.
	var freedCred CredHandle
	wantStatus(t, "acquire", r.AcquireCredentialsHandleW(nil, mustUTF16(t, "Fake"), SECPKG_CRED_BOTH, nil, &AuthIdentity{User: "alice", Password: "pw"}, 0, 0, &freedCred, nil), SEC_E_OK)
	var deletedCtx CtxtHandle
	wantStatus(t, "ISC", r.InitializeSecurityContextW(&freedCred, nil, nil, 0, 0, 0, nil, 0, &deletedCtx, tokenDesc(64), nil, nil), SEC_I_CONTINUE_NEEDED)
	wantStatus(t, "free", r.FreeCredentialsHandle(&freedCred), SEC_E_OK)
	wantStatus(t, "delete", r.DeleteSecurityContext(&deletedCtx), SEC_E_OK)

	// Reuse of a slot: a new object in the freed slot must not answer to
	// the old handle.
	var reused CredHandle
	wantStatus(t, "acquire again", r.AcquireCredentialsHandleW(nil, mustUTF16(t, "Fake"), SECPKG_CRED_BOTH, nil, &AuthIdentity{User: "alice", Password: "pw"}, 0, 0, &reused, nil), SEC_E_OK)
	if reused.Lower != freedCred.Lower {
		t.Logf("slot not reused (%d vs %d)", reused.Lower, freedCred.Lower)
	}

	badCtx := map[string]*CtxtHandle{
		"nil":              nil,
		"zero":             {},
		"invalid":          &InvalidCtxtHandle,
		"deleted":          &deletedCtx,
		"forged serial":    {Lower: live.client.Lower, Upper: live.client.Upper + 1000},
		"forged index":     {Lower: live.client.Lower + 1000, Upper: live.client.Upper},
		"huge index":       {Lower: ^uintptr(0) - 1, Upper: 1},
		"cred as context":  {Lower: live.ccred.Lower, Upper: live.ccred.Upper},
		"other registry":   &foreign.client,
		"deleted sentinel": {Lower: ^uintptr(0) - 1, Upper: ^uintptr(0) - 1}, // SEC_DELETED_HANDLE
	}
	for _, call := range contextCalls {
		for name, h := range badCtx {
			t.Run(call.name+"/"+name, func(t *testing.T) {
				var hc *CtxtHandle
				if h != nil {
					cp := *h
					hc = &cp
				}
				wantStatus(t, call.name, call.call(r, hc), SEC_E_INVALID_HANDLE)
			})
		}
	}
	badCred := map[string]*CredHandle{
		"nil":             nil,
		"zero":            {},
		"invalid":         &InvalidCredHandle,
		"freed":           &freedCred,
		"forged serial":   {Lower: live.ccred.Lower, Upper: live.ccred.Upper ^ 0x5555},
		"context as cred": {Lower: live.client.Lower, Upper: live.client.Upper},
		"other registry":  &foreign.ccred,
	}
	for _, call := range credCalls {
		for name, h := range badCred {
			t.Run(call.name+"/"+name, func(t *testing.T) {
				var hc *CredHandle
				if h != nil {
					cp := *h
					hc = &cp
				}
				wantStatus(t, call.name, call.call(r, hc), SEC_E_INVALID_HANDLE)
			})
		}
	}

	// A context of the other side is the wrong kind for a handshake call.
	wantStatus(t, "ISC on a server context", r.InitializeSecurityContextW(nil, &live.server, nil, 0, 0, 0, inDesc(nil), 0, &live.server, tokenDesc(64), nil, nil), SEC_E_INVALID_HANDLE)
	wantStatus(t, "ASC on a client context", r.AcceptSecurityContext(nil, &live.client, inDesc(nil), 0, 0, &live.client, tokenDesc(64), nil, nil), SEC_E_INVALID_HANDLE)

	// The live handles still work after all that.
	var names SecPkgContext_NamesW
	wantStatus(t, "live context", r.QueryContextAttributesW(&live.server, SECPKG_ATTR_NAMES, &names), SEC_E_OK)
	// Double free and double delete.
	wantStatus(t, "free live", r.FreeCredentialsHandle(&live.ccred), SEC_E_OK)
	wantStatus(t, "free again", r.FreeCredentialsHandle(&live.ccred), SEC_E_INVALID_HANDLE)
	wantStatus(t, "delete live", r.DeleteSecurityContext(&live.client), SEC_E_OK)
	wantStatus(t, "delete again", r.DeleteSecurityContext(&live.client), SEC_E_INVALID_HANDLE)
	// A context outlives the credential it came from.
	wantStatus(t, "free server credential", r.FreeCredentialsHandle(&live.scred), SEC_E_OK)
	wantStatus(t, "context after its credential was freed", r.QueryContextAttributesW(&live.server, SECPKG_ATTR_NAMES, &names), SEC_E_OK)
}

func TestHandleValidity(t *testing.T) {
	if InvalidCredHandle.IsValid() || InvalidCtxtHandle.IsValid() {
		t.Error("invalid handles report valid")
	}
	if !(CtxtHandle{Lower: 1, Upper: 2}).IsValid() {
		t.Error("ordinary handle reports invalid")
	}
}

// TestHandleTableConcurrent adds, looks up and removes handles from many
// goroutines; run with -race.
func TestHandleTableConcurrent(t *testing.T) {
	var tab handleTable[int]
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				lo, up := tab.add(i)
				if v, ok := tab.get(lo, up); !ok || v != i {
					t.Errorf("get = %d, %v", v, ok)
					return
				}
				if _, ok := tab.remove(lo, up); !ok {
					t.Error("remove failed")
					return
				}
				if _, ok := tab.get(lo, up); ok {
					t.Error("stale handle resolved")
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := tab.len(); n != 0 {
		t.Errorf("%d handles left", n)
	}
}
