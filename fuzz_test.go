package sspi

import (
	"encoding/binary"
	"testing"

	"github.com/gosspi/sspi/status"
)

// FuzzAcceptSecurityContext feeds arbitrary tokens to an NTLM server
// through the flat API, as its first and as its second input: the result
// must be a status (a failure for garbage), never a panic, and a failed
// first call must leave no context behind.
func FuzzAcceptSecurityContext(f *testing.F) {
	r := ntlmRegistry()
	negotiate, authenticate := ntlmSeeds(f, r)
	f.Add([]byte("NTLMSSP\x00\x01\x00\x00\x00"), []byte("NTLMSSP\x00\x03\x00\x00\x00"))
	f.Add(negotiate, authenticate)
	f.Add([]byte{}, []byte{0xff})
	var cred CredHandle
	if st := r.AcquireCredentialsHandleW(nil, mustUTF16(f, "NTLM"), SECPKG_CRED_INBOUND, nil, ntlmUsers, 0, 0, &cred, nil); st != SEC_E_OK {
		f.Fatal(st)
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		before := r.ctxts.len()
		var h CtxtHandle
		st := r.AcceptSecurityContext(&cred, nil, inDesc(first), 0, 0, &h, tokenDesc(4096), nil, nil)
		if st.Failed() {
			if n := r.ctxts.len(); n != before {
				t.Fatalf("failed first call left %d contexts (was %d)", n, before)
			}
			return
		}
		st = r.AcceptSecurityContext(nil, &h, inDesc(second), 0, 0, &h, tokenDesc(4096), nil, nil)
		if st == SEC_E_OK {
			// The server's challenge is new in every iteration and no
			// fuzz input was computed from it, and anonymous logons are
			// not allowed (no ASC_REQ_ALLOW_NULL_SESSION): any
			// AUTHENTICATE that verifies is forged.
			t.Fatalf("a forged %d-byte AUTHENTICATE was accepted", len(second))
		}
		if del := r.DeleteSecurityContext(&h); del != SEC_E_OK {
			t.Fatalf("DeleteSecurityContext = %v", del)
		}
	})
}

// ntlmSeeds returns the NEGOTIATE and AUTHENTICATE messages of a real
// exchange, to start the fuzzer near valid input.
func ntlmSeeds(tb testing.TB, r *Registry) (negotiate, authenticate []byte) {
	tb.Helper()
	var ccred, scred CredHandle
	if st := r.AcquireCredentialsHandleW(nil, mustUTF16(tb, "NTLM"), SECPKG_CRED_OUTBOUND, nil, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "x"}, 0, 0, &ccred, nil); st != SEC_E_OK {
		tb.Fatal(st)
	}
	if st := r.AcquireCredentialsHandleW(nil, mustUTF16(tb, "NTLM"), SECPKG_CRED_INBOUND, nil, ntlmUsers, 0, 0, &scred, nil); st != SEC_E_OK {
		tb.Fatal(st)
	}
	var c, s CtxtHandle
	out := tokenDesc(4096)
	if st := r.InitializeSecurityContextW(&ccred, nil, nil, 0, 0, 0, nil, 0, &c, out, nil, nil); st != SEC_I_CONTINUE_NEEDED {
		tb.Fatal(st)
	}
	negotiate = out.Buffers[0].Data
	sout := tokenDesc(4096)
	if st := r.AcceptSecurityContext(&scred, nil, inDesc(negotiate), 0, 0, &s, sout, nil, nil); st != SEC_I_CONTINUE_NEEDED {
		tb.Fatal(st)
	}
	out = tokenDesc(4096)
	if st := r.InitializeSecurityContextW(nil, &c, nil, 0, 0, 0, inDesc(sout.Buffers[0].Data), 0, &c, out, nil, nil); st != SEC_E_OK {
		tb.Fatal(st)
	}
	r.DeleteSecurityContext(&c)
	r.DeleteSecurityContext(&s)
	r.FreeCredentialsHandle(&ccred)
	r.FreeCredentialsHandle(&scred)
	return negotiate, out.Buffers[0].Data
}

// FuzzHandles resolves arbitrary handle words against a registry holding
// live objects: only the issued values may resolve.
func FuzzHandles(f *testing.F) {
	r := newFakeRegistry()
	var cred CredHandle
	if st := r.AcquireCredentialsHandleW(nil, mustUTF16(f, "Fake"), SECPKG_CRED_BOTH, nil, &AuthIdentity{User: "u"}, 0, 0, &cred, nil); st != SEC_E_OK {
		f.Fatal(st)
	}
	var ctx CtxtHandle
	if st := r.InitializeSecurityContextW(&cred, nil, nil, 0, 0, 0, nil, 0, &ctx, tokenDesc(64), nil, nil); st != SEC_I_CONTINUE_NEEDED {
		f.Fatal(st)
	}
	f.Add(uint64(cred.Lower), uint64(cred.Upper))
	f.Add(uint64(ctx.Lower), uint64(ctx.Upper))
	f.Add(uint64(0), uint64(0))
	f.Add(^uint64(0), ^uint64(0))
	f.Fuzz(func(t *testing.T, lower, upper uint64) {
		h := CtxtHandle{Lower: uintptr(lower), Upper: uintptr(upper)}
		var sizes SecPkgContext_Sizes
		st := r.QueryContextAttributesW(&h, SECPKG_ATTR_SIZES, &sizes)
		if (h == ctx) != (st == SEC_E_OK) {
			t.Fatalf("handle %+v: %v", h, st)
		}
		ch := CredHandle{Lower: uintptr(lower), Upper: uintptr(upper)}
		var names SecPkgCredentials_NamesW
		st = r.QueryCredentialsAttributesW(&ch, SECPKG_CRED_ATTR_NAMES, &names)
		if (ch == cred) != (st == SEC_E_OK) {
			t.Fatalf("credential handle %+v: %v", ch, st)
		}
		if st.Failed() && st != status.SEC_E_INVALID_HANDLE {
			t.Fatalf("credential handle %+v: %v", ch, st)
		}
	})
}

// FuzzAuthIdentityEX2 feeds arbitrary bytes as a
// SEC_WINNT_AUTH_IDENTITY_EX2: the result is an *AuthIdentity or
// SEC_E_UNKNOWN_CREDENTIALS, never a panic, and any proper prefix of a
// valid structure is refused.
func FuzzAuthIdentityEX2(f *testing.F) {
	f.Add(ex2Literal())
	f.Add([]byte(NewAuthIdentityEX2("bob", "EXAMPLE", "pässwörd 🔑", "kerberos,!ntlm")))
	f.Add([]byte(NewAuthIdentityEX2("", "", "", "")))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := convertAuthData(SEC_WINNT_AUTH_IDENTITY_EX2(b))
		if err != nil {
			if v != nil || status.Code(err) != status.SEC_E_UNKNOWN_CREDENTIALS {
				t.Fatalf("failure %v with value %v", err, v)
			}
			return
		}
		if _, ok := v.(*AuthIdentity); !ok {
			t.Fatalf("value %T", v)
		}
		total := int(binary.LittleEndian.Uint32(b[8:]))
		for n := 0; n < total; n++ {
			if _, err := convertAuthData(SEC_WINNT_AUTH_IDENTITY_EX2(b[:n])); err == nil {
				t.Fatalf("prefix of %d of %d bytes accepted", n, total)
			}
		}
	})
}
