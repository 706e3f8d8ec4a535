package sspi

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func mustUTF16(t testing.TB, s string) *uint16 {
	t.Helper()
	p, err := UTF16PtrFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustBytes(t testing.TB, s string) *byte {
	t.Helper()
	p, err := BytePtrFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantStatus(t *testing.T, what string, got, want status.Status) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// flatPair holds the handles of a client and a server established through
// the flat W API.
type flatPair struct {
	r              *Registry
	ccred, scred   CredHandle
	client, server CtxtHandle
	clientFlags    uint32
	serverFlags    uint32
	tokens         []int
}

// tokenDesc returns an output Desc with one TOKEN buffer of capacity n.
func tokenDesc(n int) *secbuffer.Desc {
	return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, n)}}}
}

func inDesc(tok []byte) *secbuffer.Desc {
	return &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}}
}

// handshakeW runs the fake package's three legs through the flat W API.
func handshakeW(t *testing.T, r *Registry, password string) *flatPair {
	t.Helper()
	p := &flatPair{r: r}
	pkg := mustUTF16(t, "fake") // case-insensitive
	wantStatus(t, "AcquireCredentialsHandleW(outbound)",
		r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, nil, NewAuthIdentityW("alice", "EXAMPLE", password), 0, 0, &p.ccred, nil), SEC_E_OK)
	var expiry TimeStamp
	wantStatus(t, "AcquireCredentialsHandleW(inbound)",
		r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_INBOUND, nil, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: "pw"}, 0, 0, &p.scred, &expiry), SEC_E_OK)
	if expiry != TimeStampNever || !expiry.Time().IsZero() {
		t.Errorf("credential expiry = %d, want TimeStampNever", expiry)
	}
	target := mustUTF16(t, "HOST/server")
	req := uint32(ISC_REQ_CONFIDENTIALITY | ISC_REQ_INTEGRITY | ISC_REQ_ALLOCATE_MEMORY)

	out := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}}
	st := r.InitializeSecurityContextW(&p.ccred, nil, target, req, 0, SECURITY_NATIVE_DREP, nil, 0, &p.client, out, &p.clientFlags, nil)
	wantStatus(t, "ISC 1", st, SEC_I_CONTINUE_NEEDED)
	if string(out.Buffers[0].Data) != "NEG" {
		t.Fatalf("ISC 1 token = %q", out.Buffers[0].Data)
	}
	if p.clientFlags&ISC_RET_ALLOCATED_MEMORY == 0 {
		t.Errorf("ISC 1 flags %#x lack ISC_RET_ALLOCATED_MEMORY", p.clientFlags)
	}
	p.tokens = append(p.tokens, len(out.Buffers[0].Data))

	sout := tokenDesc(fakeMaxToken)
	st = r.AcceptSecurityContext(&p.scred, nil, inDesc(out.Buffers[0].Data), ASC_REQ_CONFIDENTIALITY|ASC_REQ_INTEGRITY, SECURITY_NATIVE_DREP, &p.server, sout, &p.serverFlags, nil)
	wantStatus(t, "ASC 1", st, SEC_I_CONTINUE_NEEDED)
	p.tokens = append(p.tokens, len(sout.Buffers[0].Data))

	out = tokenDesc(fakeMaxToken)
	newCtx := p.client
	st = r.InitializeSecurityContextW(nil, &p.client, target, req, 0, SECURITY_NATIVE_DREP, inDesc(sout.Buffers[0].Data), 0, &newCtx, out, &p.clientFlags, nil)
	if newCtx != p.client {
		t.Errorf("ISC 2 changed the handle: %v -> %v", p.client, newCtx)
	}
	wantStatus(t, "ISC 2", st, SEC_E_OK)
	p.tokens = append(p.tokens, len(out.Buffers[0].Data))

	sout = tokenDesc(fakeMaxToken)
	st = r.AcceptSecurityContext(nil, &p.server, inDesc(out.Buffers[0].Data), ASC_REQ_CONFIDENTIALITY|ASC_REQ_INTEGRITY, SECURITY_NATIVE_DREP, &p.server, sout, &p.serverFlags, nil)
	if password == "pw" {
		wantStatus(t, "ASC 2", st, SEC_E_OK)
	} else {
		wantStatus(t, "ASC 2", st, SEC_E_LOGON_DENIED)
	}
	return p
}

func TestFlatHandshakeW(t *testing.T) {
	r := newFakeRegistry()
	p := handshakeW(t, r, "pw")
	if want := []int{3, 12, 4 + 6 + 32 + 16}; len(p.tokens) != 3 || p.tokens[0] != want[0] || p.tokens[1] != want[1] || p.tokens[2] != want[2] {
		t.Errorf("token sizes = %v, want %v", p.tokens, want)
	}

	var names SecPkgContext_NamesW
	wantStatus(t, "QueryContextAttributesW(NAMES)", r.QueryContextAttributesW(&p.server, SECPKG_ATTR_NAMES, &names), SEC_E_OK)
	if got := UTF16PtrToString(names.UserName); got != `EXAMPLE\alice` {
		t.Errorf("server NAMES = %q", got)
	}
	var native SecPkgContext_NativeNamesW
	wantStatus(t, "NATIVE_NAMES", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_NATIVE_NAMES, &native), SEC_E_OK)
	if c, s := UTF16PtrToString(native.ClientName), UTF16PtrToString(native.ServerName); c != "alice" || s != "HOST/server" {
		t.Errorf("NATIVE_NAMES = %q, %q", c, s)
	}
	var sizes SecPkgContext_Sizes
	wantStatus(t, "SIZES", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_SIZES, &sizes), SEC_E_OK)
	if sizes != (SecPkgContext_Sizes{MaxToken: fakeMaxToken, MaxSignature: 16, SecurityTrailer: 16}) {
		t.Errorf("SIZES = %+v", sizes)
	}
	var ck, sk SecPkgContext_SessionKey
	wantStatus(t, "SESSION_KEY client", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_SESSION_KEY, &ck), SEC_E_OK)
	wantStatus(t, "SESSION_KEY server", r.QueryContextAttributesW(&p.server, SECPKG_ATTR_SESSION_KEY, &sk), SEC_E_OK)
	if len(ck.SessionKey) != 16 || !bytes.Equal(ck.SessionKey, sk.SessionKey) {
		t.Errorf("session keys differ: %x %x", ck.SessionKey, sk.SessionKey)
	}
	var pi SecPkgContext_PackageInfoW
	wantStatus(t, "PACKAGE_INFO", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_PACKAGE_INFO, &pi), SEC_E_OK)
	if pi.PackageInfo == nil || UTF16PtrToString(pi.PackageInfo.Name) != "Fake" || pi.PackageInfo.MaxToken != fakeMaxToken {
		t.Errorf("PACKAGE_INFO = %+v", pi.PackageInfo)
	}
	var ni SecPkgContext_NegotiationInfoW
	wantStatus(t, "NEGOTIATION_INFO", r.QueryContextAttributesW(&p.server, SECPKG_ATTR_NEGOTIATION_INFO, &ni), SEC_E_OK)
	if ni.PackageInfo == nil || UTF16PtrToString(ni.PackageInfo.Comment) != "Fake Test Package" || ni.NegotiationState != SECPKG_NEGOTIATION_COMPLETE {
		t.Errorf("NEGOTIATION_INFO = %+v", ni)
	}
	var flags SecPkgContext_Flags
	wantStatus(t, "FLAGS", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_FLAGS, &flags), SEC_E_OK)
	if flags.Flags != ISC_REQ_CONFIDENTIALITY|ISC_REQ_INTEGRITY {
		t.Errorf("FLAGS = %#x", flags.Flags)
	}
	var life SecPkgContext_Lifespan
	wantStatus(t, "LIFESPAN", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_LIFESPAN, &life), SEC_E_OK)
	if life.Expiry != TimeStampNever || life.Start.Time().IsZero() {
		t.Errorf("LIFESPAN = %+v", life)
	}
	var ki SecPkgContext_KeyInfoW
	wantStatus(t, "KEY_INFO", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_KEY_INFO, &ki), SEC_E_OK)
	if UTF16PtrToString(ki.SignatureAlgorithmName) != "HMAC-SHA256" || UTF16PtrToString(ki.EncryptAlgorithmName) != "XOR-SHA256" || ki.KeySize != 256 || ki.EncryptAlgorithm != 2 {
		t.Errorf("KEY_INFO = %+v", ki)
	}
	var thing fakeThing
	wantStatus(t, "package attribute", r.QueryContextAttributesW(&p.client, fakeAttrThing, &thing), SEC_E_OK)
	if thing.Value != 42 {
		t.Errorf("package attribute = %+v", thing)
	}
	var anyThing any
	wantStatus(t, "package attribute into *any", r.QueryContextAttributesW(&p.client, fakeAttrThing, &anyThing), SEC_E_OK)
	if v, ok := anyThing.(*fakeThing); !ok || v.Value != 42 {
		t.Errorf("package attribute into *any = %#v", anyThing)
	}
	wantStatus(t, "mismatched buffer", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_NAMES, &sizes), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "nil buffer", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_NAMES, nil), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "unknown attribute", r.QueryContextAttributesW(&p.client, SECPKG_ATTR_DCE_INFO, &anyThing), SEC_E_UNSUPPORTED_FUNCTION)

	var credNames SecPkgCredentials_NamesW
	wantStatus(t, "QueryCredentialsAttributesW", r.QueryCredentialsAttributesW(&p.ccred, SECPKG_CRED_ATTR_NAMES, &credNames), SEC_E_OK)
	if got := UTF16PtrToString(credNames.UserName); got != `EXAMPLE\alice` {
		t.Errorf("credential NAMES = %q", got)
	}
	var credThing fakeThing
	wantStatus(t, "credential package attribute", r.QueryCredentialsAttributesW(&p.ccred, fakeAttrThing, &credThing), SEC_E_OK)
	if credThing.Value != 7 {
		t.Errorf("credential package attribute = %+v", credThing)
	}

	wantStatus(t, "SetContextAttributesW", r.SetContextAttributesW(&p.client, fakeAttrThing, []byte("abcdef"), 3), SEC_E_OK)
	wantStatus(t, "SetContextAttributesW(cb too big)", r.SetContextAttributesW(&p.client, fakeAttrThing, []byte("ab"), 3), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "SetContextAttributesW(unknown)", r.SetContextAttributesW(&p.client, 1, nil, 0), SEC_E_UNSUPPORTED_FUNCTION)
	c, _ := r.Context(&p.client)
	if got := c.pc.(*fakeContext).attrSet; string(got) != "abc" {
		t.Errorf("attribute set = %q", got)
	}

	var token uintptr = 99
	wantStatus(t, "QuerySecurityContextToken", r.QuerySecurityContextToken(&p.server, &token), SEC_E_UNSUPPORTED_FUNCTION)
	if token != 0 {
		t.Errorf("token = %d, want 0", token)
	}
	wantStatus(t, "ImpersonateSecurityContext", r.ImpersonateSecurityContext(&p.server), SEC_E_UNSUPPORTED_FUNCTION)
	wantStatus(t, "RevertSecurityContext", r.RevertSecurityContext(&p.server), SEC_E_UNSUPPORTED_FUNCTION)
	wantStatus(t, "CompleteAuthToken", r.CompleteAuthToken(&p.client, tokenDesc(0)), SEC_E_UNSUPPORTED_FUNCTION)
	wantStatus(t, "ApplyControlToken", r.ApplyControlToken(&p.client, inDesc([]byte{1, 0, 0, 0})), SEC_E_UNSUPPORTED_FUNCTION)

	flatMessages(t, r, &p.client, &p.server)
	flatMessages(t, r, &p.server, &p.client)

	// Export the client, import it as a new handle, and keep talking.
	var packed secbuffer.Buffer
	var tok uintptr = 1
	wantStatus(t, "ExportSecurityContext", r.ExportSecurityContext(&p.client, SECPKG_CONTEXT_EXPORT_DELETE_OLD, &packed, &tok), SEC_E_OK)
	if len(packed.Data) == 0 || tok != 0 {
		t.Fatalf("export gave %d bytes, token %d", len(packed.Data), tok)
	}
	wantStatus(t, "old handle after DELETE_OLD", r.DeleteSecurityContext(&p.client), SEC_E_INVALID_HANDLE)
	var imported CtxtHandle
	wantStatus(t, "ImportSecurityContextW", r.ImportSecurityContextW(mustUTF16(t, "Fake"), &packed, 0, &imported), SEC_E_OK)
	flatMessages(t, r, &imported, &p.server)
	wantStatus(t, "ImportSecurityContextW(unknown package)", r.ImportSecurityContextW(mustUTF16(t, "Nope"), &packed, 0, &imported), SEC_E_SECPKG_NOT_FOUND)
	wantStatus(t, "ImportSecurityContextW(bad blob)", r.ImportSecurityContextW(mustUTF16(t, "Fake"), &secbuffer.Buffer{Data: []byte{9}}, 0, &imported), SEC_E_INVALID_TOKEN)

	for _, h := range []*CtxtHandle{&imported, &p.server} {
		wantStatus(t, "DeleteSecurityContext", r.DeleteSecurityContext(h), SEC_E_OK)
	}
	for _, h := range []*CredHandle{&p.ccred, &p.scred} {
		wantStatus(t, "FreeCredentialsHandle", r.FreeCredentialsHandle(h), SEC_E_OK)
	}
	if n, m := r.ctxts.len(), r.creds.len(); n != 0 || m != 0 {
		t.Errorf("tables hold %d contexts and %d credentials after cleanup", n, m)
	}
}

// flatMessages signs, verifies, seals and unseals one message from a to b
// through the flat API, in both DecryptMessage layouts, and checks that
// tampering is detected.
func flatMessages(t *testing.T, r *Registry, a, b *CtxtHandle) {
	t.Helper()
	msg := []byte("attack at dawn")
	sig := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_DATA, Data: msg},
		{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 16)},
	}}
	wantStatus(t, "MakeSignature", r.MakeSignature(a, 0, sig, 0), SEC_E_OK)
	if len(sig.Buffers[1].Data) != 16 {
		t.Fatalf("signature length %d", len(sig.Buffers[1].Data))
	}
	qop := uint32(99)
	wantStatus(t, "VerifySignature", r.VerifySignature(b, sig, 0, &qop), SEC_E_OK)
	if qop != 0 {
		t.Errorf("qop = %#x", qop)
	}
	wantStatus(t, "VerifySignature(replay)", r.VerifySignature(b, sig, 0, nil), SEC_E_MESSAGE_ALTERED)
	wantStatus(t, "MakeSignature(qop)", r.MakeSignature(a, 1, sig, 0), SEC_E_QOP_NOT_SUPPORTED)

	for _, stream := range []bool{false, true} {
		data := append([]byte(nil), msg...)
		enc := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 16)},
			{Type: secbuffer.SECBUFFER_DATA, Data: data},
			{Type: secbuffer.SECBUFFER_PADDING, Data: make([]byte, 0, 8)},
		}}
		wantStatus(t, "EncryptMessage", r.EncryptMessage(a, 0, enc, 0), SEC_E_OK)
		if bytes.Equal(data, msg) {
			t.Fatal("EncryptMessage left the data in the clear")
		}
		var dec *secbuffer.Desc
		if stream {
			whole := append(append([]byte(nil), enc.Buffers[0].Data...), data...)
			dec = &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_STREAM, Data: whole}, {Type: secbuffer.SECBUFFER_DATA}}}
		} else {
			dec = &secbuffer.Desc{Buffers: []secbuffer.Buffer{enc.Buffers[0], enc.Buffers[1]}}
		}
		tampered := &secbuffer.Desc{Buffers: append([]secbuffer.Buffer(nil), dec.Buffers...)}
		last := &tampered.Buffers[0].Data
		*last = append([]byte(nil), *last...)
		(*last)[len(*last)-1] ^= 1
		wantStatus(t, "DecryptMessage(tampered)", r.DecryptMessage(b, tampered, 0, nil), SEC_E_MESSAGE_ALTERED)
		wantStatus(t, "DecryptMessage", r.DecryptMessage(b, dec, 0, &qop), SEC_E_OK)
		if got := dec.Buffers[1].Data; !bytes.Equal(got, msg) {
			t.Errorf("DecryptMessage(stream=%v) = %q", stream, got)
		}
	}
	small := &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4)}, {Type: secbuffer.SECBUFFER_DATA, Data: []byte("x")}}}
	wantStatus(t, "EncryptMessage(small token)", r.EncryptMessage(a, 0, small, 0), SEC_E_BUFFER_TOO_SMALL)
	wantStatus(t, "EncryptMessage(nil desc)", r.EncryptMessage(a, 0, nil, 0), SEC_E_INVALID_TOKEN)
	wantStatus(t, "EncryptMessage(bad version)", r.EncryptMessage(a, 0, &secbuffer.Desc{Version: 1}, 0), SEC_E_INVALID_PARAMETER)
}

func TestFlatHandshakeA(t *testing.T) {
	r := newFakeRegistry()
	var ccred, scred CredHandle
	pkg := mustBytes(t, "FAKE")
	wantStatus(t, "AcquireCredentialsHandleA", r.AcquireCredentialsHandleA(nil, pkg, SECPKG_CRED_OUTBOUND, nil, NewAuthIdentityA("bob", "DOM", "pw"), 0, 0, &ccred, nil), SEC_E_OK)
	wantStatus(t, "AcquireCredentialsHandleA", r.AcquireCredentialsHandleA(nil, pkg, SECPKG_CRED_INBOUND, nil, NewAuthIdentityA("bob", "DOM", "pw"), 0, 0, &scred, nil), SEC_E_OK)
	var client, server CtxtHandle
	var attr uint32
	out := tokenDesc(fakeMaxToken)
	target := mustBytes(t, "HOST/ünïcode")
	wantStatus(t, "ISC A 1", r.InitializeSecurityContextA(&ccred, nil, target, 0, 0, 0, nil, 0, &client, out, &attr, nil), SEC_I_CONTINUE_NEEDED)
	sout := tokenDesc(fakeMaxToken)
	wantStatus(t, "ASC 1", r.AcceptSecurityContext(&scred, nil, inDesc(out.Buffers[0].Data), 0, 0, &server, sout, &attr, nil), SEC_I_CONTINUE_NEEDED)
	out = tokenDesc(fakeMaxToken)
	wantStatus(t, "ISC A 2", r.InitializeSecurityContextA(&ccred, &client, target, 0, 0, 0, inDesc(sout.Buffers[0].Data), 0, &client, out, &attr, nil), SEC_E_OK)
	wantStatus(t, "ASC 2", r.AcceptSecurityContext(&scred, &server, inDesc(out.Buffers[0].Data), 0, 0, &server, tokenDesc(fakeMaxToken), &attr, nil), SEC_E_OK)

	var names SecPkgContext_NamesA
	wantStatus(t, "QueryContextAttributesA(NAMES)", r.QueryContextAttributesA(&server, SECPKG_ATTR_NAMES, &names), SEC_E_OK)
	if got := BytePtrToString(names.UserName); got != `DOM\bob` {
		t.Errorf("NAMES A = %q", got)
	}
	var native SecPkgContext_NativeNamesA
	wantStatus(t, "NATIVE_NAMES A", r.QueryContextAttributesA(&client, SECPKG_ATTR_NATIVE_NAMES, &native), SEC_E_OK)
	if got := BytePtrToString(native.ServerName); got != "HOST/ünïcode" {
		t.Errorf("NATIVE_NAMES A server = %q", got)
	}
	var pi SecPkgContext_PackageInfoA
	wantStatus(t, "PACKAGE_INFO A", r.QueryContextAttributesA(&client, SECPKG_ATTR_PACKAGE_INFO, &pi), SEC_E_OK)
	if BytePtrToString(pi.PackageInfo.Name) != "Fake" {
		t.Errorf("PACKAGE_INFO A name = %q", BytePtrToString(pi.PackageInfo.Name))
	}
	var ni SecPkgContext_NegotiationInfoA
	wantStatus(t, "NEGOTIATION_INFO A", r.QueryContextAttributesA(&client, SECPKG_ATTR_NEGOTIATION_INFO, &ni), SEC_E_OK)
	var ki SecPkgContext_KeyInfoA
	wantStatus(t, "KEY_INFO A", r.QueryContextAttributesA(&client, SECPKG_ATTR_KEY_INFO, &ki), SEC_E_OK)
	if BytePtrToString(ki.SignatureAlgorithmName) != "HMAC-SHA256" {
		t.Errorf("KEY_INFO A = %q", BytePtrToString(ki.SignatureAlgorithmName))
	}
	var cn SecPkgCredentials_NamesA
	wantStatus(t, "QueryCredentialsAttributesA", r.QueryCredentialsAttributesA(&ccred, SECPKG_CRED_ATTR_NAMES, &cn), SEC_E_OK)
	if got := BytePtrToString(cn.UserName); got != `DOM\bob` {
		t.Errorf("credential NAMES A = %q", got)
	}
	wantStatus(t, "QueryCredentialsAttributesA(wrong type)", r.QueryCredentialsAttributesA(&ccred, SECPKG_CRED_ATTR_NAMES, &names), SEC_E_INVALID_PARAMETER)
	flatMessages(t, r, &client, &server)
}

func TestFlatLogonDenied(t *testing.T) {
	r := newFakeRegistry()
	p := handshakeW(t, r, "wrong")
	// The failed server context keeps its handle until deleted.
	wantStatus(t, "ASC after failure", r.AcceptSecurityContext(nil, &p.server, inDesc([]byte("x")), 0, 0, &p.server, tokenDesc(64), nil, nil), SEC_E_LOGON_DENIED)
	wantStatus(t, "DeleteSecurityContext(failed)", r.DeleteSecurityContext(&p.server), SEC_E_OK)
	wantStatus(t, "DeleteSecurityContext(client)", r.DeleteSecurityContext(&p.client), SEC_E_OK)
}

func TestFlatFirstCallFailureCreatesNoContext(t *testing.T) {
	r := newFakeRegistry()
	var cred CredHandle
	wantStatus(t, "acquire", r.AcquireCredentialsHandleW(nil, mustUTF16(t, "Fake"), SECPKG_CRED_BOTH, nil, &AuthIdentity{User: "u", Password: "pw"}, 0, 0, &cred, nil), SEC_E_OK)

	tests := []struct {
		name   string
		client bool
		in     *secbuffer.Desc
		out    *secbuffer.Desc
		want   status.Status
	}{
		{"client no output desc", true, nil, nil, SEC_E_INVALID_TOKEN},
		{"client no TOKEN output buffer", true, nil, &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_DATA}}}, SEC_E_INVALID_TOKEN},
		{"client output too small", true, nil, tokenDesc(2), SEC_E_BUFFER_TOO_SMALL},
		{"client output nil, no ALLOCATE_MEMORY", true, nil, &secbuffer.Desc{Buffers: []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}}, SEC_E_BUFFER_TOO_SMALL},
		{"server garbage token", false, inDesc([]byte("garbage")), tokenDesc(64), SEC_E_INVALID_TOKEN},
		{"server no input", false, nil, tokenDesc(64), SEC_E_INVALID_TOKEN},
		{"server output too small", false, inDesc([]byte("NEG")), tokenDesc(4), SEC_E_BUFFER_TOO_SMALL},
		{"bad input version", true, &secbuffer.Desc{Version: 2}, tokenDesc(64), SEC_E_INVALID_PARAMETER},
		{"bad output version", true, nil, &secbuffer.Desc{Version: 2}, SEC_E_INVALID_PARAMETER},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := InvalidCtxtHandle
			var st status.Status
			if tt.client {
				st = r.InitializeSecurityContextW(&cred, nil, nil, 0, 0, 0, tt.in, 0, &h, tt.out, nil, nil)
			} else {
				st = r.AcceptSecurityContext(&cred, nil, tt.in, 0, 0, &h, tt.out, nil, nil)
			}
			wantStatus(t, "status", st, tt.want)
			if h != InvalidCtxtHandle {
				t.Errorf("phNewContext written on failure: %+v", h)
			}
			if n := r.ctxts.len(); n != 0 {
				t.Errorf("%d contexts in the table after a failed first call", n)
			}
		})
	}

	// A too-small buffer on a later call leaves the context usable.
	var h CtxtHandle
	wantStatus(t, "ISC 1", r.InitializeSecurityContextW(&cred, nil, nil, 0, 0, 0, nil, 0, &h, tokenDesc(64), nil, nil), SEC_I_CONTINUE_NEEDED)
	var s CtxtHandle
	sout := tokenDesc(64)
	wantStatus(t, "ASC 1", r.AcceptSecurityContext(&cred, nil, inDesc([]byte("NEG")), 0, 0, &s, sout, nil, nil), SEC_I_CONTINUE_NEEDED)
	wantStatus(t, "ISC 2 small", r.InitializeSecurityContextW(nil, &h, nil, 0, 0, 0, inDesc(sout.Buffers[0].Data), 0, &h, tokenDesc(8), nil, nil), SEC_E_BUFFER_TOO_SMALL)
	wantStatus(t, "ISC 2 retry", r.InitializeSecurityContextW(nil, &h, nil, 0, 0, 0, inDesc(sout.Buffers[0].Data), 0, &h, tokenDesc(64), nil, nil), SEC_E_OK)
}

func TestFlatParameters(t *testing.T) {
	r := newFakeRegistry()
	var cred CredHandle
	id := &AuthIdentity{User: "u", Password: "pw"}
	pkg := mustUTF16(t, "Fake")
	wantStatus(t, "unknown package", r.AcquireCredentialsHandleW(nil, mustUTF16(t, "Kerberos"), SECPKG_CRED_OUTBOUND, nil, id, 0, 0, &cred, nil), SEC_E_SECPKG_NOT_FOUND)
	wantStatus(t, "nil package", r.AcquireCredentialsHandleW(nil, nil, SECPKG_CRED_OUTBOUND, nil, id, 0, 0, &cred, nil), SEC_E_SECPKG_NOT_FOUND)
	wantStatus(t, "nil handle", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, nil, id, 0, 0, nil, nil), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "logon id", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, &LUID{LowPart: 1}, id, 0, 0, &cred, nil), SEC_E_UNSUPPORTED_FUNCTION)
	wantStatus(t, "get key fn", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, nil, id, 1, 0, &cred, nil), SEC_E_UNSUPPORTED_FUNCTION)
	wantStatus(t, "bad use", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_DEFAULT, nil, id, 0, 0, &cred, nil), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "no default credentials", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, nil, nil, 0, 0, &cred, nil), SEC_E_NO_CREDENTIALS)
	wantStatus(t, "unknown auth data", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, nil, 42, 0, 0, &cred, nil), SEC_E_UNKNOWN_CREDENTIALS)
	if n := r.creds.len(); n != 0 {
		t.Fatalf("%d credentials after failed acquisitions", n)
	}
	wantStatus(t, "inbound only", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_INBOUND, nil, id, 0, 0, &cred, nil), SEC_E_OK)
	var h CtxtHandle
	wantStatus(t, "ISC with inbound credentials", r.InitializeSecurityContextW(&cred, nil, nil, 0, 0, 0, nil, 0, &h, tokenDesc(64), nil, nil), SEC_E_NO_CREDENTIALS)
	wantStatus(t, "Reserved1", r.InitializeSecurityContextW(&cred, nil, nil, 0, 1, 0, nil, 0, &h, tokenDesc(64), nil, nil), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "Reserved2", r.InitializeSecurityContextW(&cred, nil, nil, 0, 0, 0, nil, 1, &h, tokenDesc(64), nil, nil), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "nil phNewContext", r.InitializeSecurityContextW(&cred, nil, nil, 0, 0, 0, nil, 0, nil, tokenDesc(64), nil, nil), SEC_E_INVALID_PARAMETER)
	wantStatus(t, "FreeContextBuffer(nil)", FreeContextBuffer(nil), SEC_E_OK)
}

func TestAuthIdentityConversion(t *testing.T) {
	w := func(s string) (*uint16, uint32) { return utf16Counted(s) }
	user, ul := w("üser😀")
	dom, dl := w("DOMAIN")
	pw, pl := w("pässword")
	list, ll := w("kerberos,!ntlm")
	tests := []struct {
		name    string
		in      any
		want    *AuthIdentity
		wantErr status.Status
	}{
		{"W", &SEC_WINNT_AUTH_IDENTITY_W{User: user, UserLength: ul, Domain: dom, DomainLength: dl, Password: pw, PasswordLength: pl, Flags: SEC_WINNT_AUTH_IDENTITY_UNICODE},
			&AuthIdentity{User: "üser😀", Domain: "DOMAIN", Password: "pässword"}, 0},
		{"W counted shorter than string", &SEC_WINNT_AUTH_IDENTITY_W{User: user, UserLength: 2, Flags: SEC_WINNT_AUTH_IDENTITY_UNICODE},
			&AuthIdentity{User: "üs"}, 0},
		{"W with ANSI flag", &SEC_WINNT_AUTH_IDENTITY_W{Flags: SEC_WINNT_AUTH_IDENTITY_ANSI}, nil, SEC_E_UNKNOWN_CREDENTIALS},
		{"W with both flags", &SEC_WINNT_AUTH_IDENTITY_W{Flags: SEC_WINNT_AUTH_IDENTITY_ANSI | SEC_WINNT_AUTH_IDENTITY_UNICODE}, nil, SEC_E_UNKNOWN_CREDENTIALS},
		{"A", NewAuthIdentityA("bob", "D", "pässword"), &AuthIdentity{User: "bob", Domain: "D", Password: "pässword"}, 0},
		{"A with UNICODE flag", &SEC_WINNT_AUTH_IDENTITY_A{Flags: SEC_WINNT_AUTH_IDENTITY_UNICODE}, nil, SEC_E_UNKNOWN_CREDENTIALS},
		{"EXW", &SEC_WINNT_AUTH_IDENTITY_EXW{Version: SEC_WINNT_AUTH_IDENTITY_VERSION, User: user, UserLength: ul, PackageList: list, PackageListLength: ll,
			Flags: SEC_WINNT_AUTH_IDENTITY_UNICODE | SEC_WINNT_AUTH_IDENTITY_ONLY},
			&AuthIdentity{User: "üser😀", PackageList: "kerberos,!ntlm", Flags: SEC_WINNT_AUTH_IDENTITY_ONLY}, 0},
		{"EXW bad version", &SEC_WINNT_AUTH_IDENTITY_EXW{Version: 0x201, Flags: SEC_WINNT_AUTH_IDENTITY_UNICODE}, nil, SEC_E_UNKNOWN_CREDENTIALS},
		{"EXA", &SEC_WINNT_AUTH_IDENTITY_EXA{Version: SEC_WINNT_AUTH_IDENTITY_VERSION, User: bytez("x"), UserLength: 1, PackageList: bytez("NTLM"), PackageListLength: 4, Flags: SEC_WINNT_AUTH_IDENTITY_ANSI},
			&AuthIdentity{User: "x", PackageList: "NTLM"}, 0},
		{"EXA bad flags", &SEC_WINNT_AUTH_IDENTITY_EXA{Version: SEC_WINNT_AUTH_IDENTITY_VERSION}, nil, SEC_E_UNKNOWN_CREDENTIALS},
		{"Go identity", &AuthIdentity{User: "g"}, &AuthIdentity{User: "g"}, 0},
		{"nil W", (*SEC_WINNT_AUTH_IDENTITY_W)(nil), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convertAuthData(tt.in)
			if st := status.Code(err); st != tt.wantErr {
				t.Fatalf("status %v, want %v", st, tt.wantErr)
			}
			if tt.want == nil {
				if got != nil {
					t.Fatalf("got %#v, want nil", got)
				}
				return
			}
			id, ok := got.(*AuthIdentity)
			if !ok || *id != *tt.want {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
	// A package's own type passes through.
	type keytab struct{ path string }
	kt := &keytab{"x"}
	if got, err := convertAuthData(kt); err != nil || got != any(kt) {
		t.Errorf("pass-through = %v, %v", got, err)
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "NTLM", "Microsoft Unified Security Protocol Provider", "ünïcødé", "😀 outside the BMP", "HTTP/web.example.com@EXAMPLE.COM"} {
		w, err := UTF16PtrFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := UTF16PtrToString(w); got != s {
			t.Errorf("UTF-16 round trip %q -> %q", s, got)
		}
		a, err := BytePtrFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := BytePtrToString(a); got != s {
			t.Errorf("8-bit round trip %q -> %q", s, got)
		}
	}
	if _, err := UTF16PtrFromString("a\x00b"); err != SEC_E_INVALID_PARAMETER {
		t.Errorf("UTF16PtrFromString with NUL: %v", err)
	}
	if _, err := BytePtrFromString("a\x00b"); err != SEC_E_INVALID_PARAMETER {
		t.Errorf("BytePtrFromString with NUL: %v", err)
	}
	if UTF16PtrToString(nil) != "" || BytePtrToString(nil) != "" {
		t.Error("nil strings are not empty")
	}
	// Surrogate pairs count as two characters in the W identity lengths.
	if _, n := utf16Counted("a😀"); n != 3 {
		t.Errorf("utf16Counted = %d, want 3", n)
	}
}

func TestEnumerateSecurityPackages(t *testing.T) {
	r := newFakeRegistry("Alpha", "Beta", "Gamma")
	var n uint32
	var pw *SecPkgInfoW
	wantStatus(t, "EnumerateSecurityPackagesW", r.EnumerateSecurityPackagesW(&n, &pw), SEC_E_OK)
	infos := unsafe.Slice(pw, n)
	var names []string
	for _, i := range infos {
		names = append(names, UTF16PtrToString(i.Name))
		if i.Version != 1 || i.RPCID != SECPKG_ID_NONE || i.MaxToken != fakeMaxToken ||
			i.Capabilities != SECPKG_FLAG_INTEGRITY|SECPKG_FLAG_PRIVACY|SECPKG_FLAG_CONNECTION ||
			UTF16PtrToString(i.Comment) != UTF16PtrToString(i.Name)+" Test Package" {
			t.Errorf("SecPkgInfoW = %+v", i)
		}
	}
	if got := names; len(got) != 3 || got[0] != "Alpha" || got[1] != "Beta" || got[2] != "Gamma" {
		t.Errorf("order = %v", got)
	}
	wantStatus(t, "FreeContextBuffer", FreeContextBuffer(pw), SEC_E_OK)

	var pa *SecPkgInfoA
	wantStatus(t, "EnumerateSecurityPackagesA", r.EnumerateSecurityPackagesA(&n, &pa), SEC_E_OK)
	if a := unsafe.Slice(pa, n); len(a) != 3 || BytePtrToString(a[2].Name) != "Gamma" || a[2].MaxToken != fakeMaxToken {
		t.Errorf("SecPkgInfoA = %+v", a)
	}

	wantStatus(t, "QuerySecurityPackageInfoW", r.QuerySecurityPackageInfoW(mustUTF16(t, "bEtA"), &pw), SEC_E_OK)
	if UTF16PtrToString(pw.Name) != "Beta" {
		t.Errorf("QuerySecurityPackageInfoW name = %q", UTF16PtrToString(pw.Name))
	}
	wantStatus(t, "QuerySecurityPackageInfoW(unknown)", r.QuerySecurityPackageInfoW(mustUTF16(t, "Delta"), &pw), SEC_E_SECPKG_NOT_FOUND)
	if pw != nil {
		t.Error("QuerySecurityPackageInfoW left a value on failure")
	}
	wantStatus(t, "QuerySecurityPackageInfoA", r.QuerySecurityPackageInfoA(mustBytes(t, "GAMMA"), &pa), SEC_E_OK)
	if BytePtrToString(pa.Comment) != "Gamma Test Package" {
		t.Errorf("QuerySecurityPackageInfoA comment = %q", BytePtrToString(pa.Comment))
	}
	wantStatus(t, "QuerySecurityPackageInfoA(nil)", r.QuerySecurityPackageInfoA(nil, &pa), SEC_E_SECPKG_NOT_FOUND)

	empty := NewRegistry()
	wantStatus(t, "empty enumerate", empty.EnumerateSecurityPackagesW(&n, &pw), SEC_E_OK)
	if n != 0 || pw != nil {
		t.Errorf("empty registry: n=%d p=%v", n, pw)
	}
	wantStatus(t, "nil count", r.EnumerateSecurityPackagesW(nil, &pw), SEC_E_INVALID_PARAMETER)
}

func TestRegistryRegister(t *testing.T) {
	r := newFakeRegistry("One")
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("duplicate", func() { r.Register(&fakePackage{name: "one"}) })
	mustPanic("nil", func() { r.Register(nil) })
	mustPanic("empty name", func() { r.Register(&fakePackage{}) })
	if p, err := r.Package("ONE"); err != nil || p.Info().Name != "One" {
		t.Errorf("Package(ONE) = %v, %v", p, err)
	}
	if _, err := r.Package("two"); err != SEC_E_SECPKG_NOT_FOUND {
		t.Errorf("Package(two) error = %v", err)
	}
	var _ packages.Package = &fakePackage{}
}
