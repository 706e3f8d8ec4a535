package sspi

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// ntlmRegistry is a private Registry with an NTLM package whose server
// knows one user.
func ntlmRegistry() *Registry {
	r := NewRegistry()
	r.Register(ntlm.New(&ntlm.Config{ComputerName: "SERVER", DomainName: "EXAMPLE", Workstation: "CLIENT"}))
	return r
}

var ntlmUsers = ntlm.Users{`EXAMPLE\alice`: "Passw0rd!"}

// TestNTLMFlatW runs a real NTLM handshake through the flat W API, checks
// what Windows reports for it (three legs, SIZES 16/0/16, the client name
// on the server), then signs and seals messages both ways.
func TestNTLMFlatW(t *testing.T) {
	r := ntlmRegistry()
	pkg := mustUTF16(t, "NTLM")
	var ccred, scred CredHandle
	wantStatus(t, "acquire client", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_OUTBOUND, nil, NewAuthIdentityW("alice", "EXAMPLE", "Passw0rd!"), 0, 0, &ccred, nil), SEC_E_OK)
	wantStatus(t, "acquire server", r.AcquireCredentialsHandleW(nil, pkg, SECPKG_CRED_INBOUND, nil, ntlmUsers, 0, 0, &scred, nil), SEC_E_OK)
	defer r.FreeCredentialsHandle(&ccred)
	defer r.FreeCredentialsHandle(&scred)

	var pi *SecPkgInfoW
	wantStatus(t, "QuerySecurityPackageInfoW", r.QuerySecurityPackageInfoW(pkg, &pi), SEC_E_OK)
	req := uint32(ISC_REQ_CONFIDENTIALITY | ISC_REQ_INTEGRITY | ISC_REQ_REPLAY_DETECT | ISC_REQ_SEQUENCE_DETECT | ISC_REQ_CONNECTION)
	areq := uint32(ASC_REQ_CONFIDENTIALITY | ASC_REQ_INTEGRITY | ASC_REQ_REPLAY_DETECT | ASC_REQ_SEQUENCE_DETECT | ASC_REQ_CONNECTION)
	target := mustUTF16(t, "HOST/server.example.com")

	var client, server CtxtHandle
	var cattr, sattr uint32
	var legs []status.Status
	var in []byte
	for i := 0; i < 6; i++ {
		out := tokenDesc(int(pi.MaxToken))
		var st status.Status
		if i%2 == 0 {
			var input *secbuffer.Desc
			var phContext *CtxtHandle
			if i > 0 {
				input, phContext = inDesc(in), &client
			}
			st = r.InitializeSecurityContextW(&ccred, phContext, target, req, 0, SECURITY_NATIVE_DREP, input, 0, &client, out, &cattr, nil)
		} else {
			var phContext *CtxtHandle
			if i > 1 {
				phContext = &server
			}
			st = r.AcceptSecurityContext(&scred, phContext, inDesc(in), areq, SECURITY_NATIVE_DREP, &server, out, &sattr, nil)
		}
		legs = append(legs, st)
		if st.Failed() {
			t.Fatalf("leg %d: %v", i, st)
		}
		in = out.Buffers[0].Data
		if st == SEC_E_OK && len(in) == 0 {
			break
		}
	}
	if want := []status.Status{SEC_I_CONTINUE_NEEDED, SEC_I_CONTINUE_NEEDED, SEC_E_OK, SEC_E_OK}; len(legs) != len(want) || legs[0] != want[0] || legs[1] != want[1] || legs[2] != want[2] || legs[3] != want[3] {
		t.Fatalf("legs = %v, want %v", legs, want)
	}
	if cattr&ISC_RET_CONFIDENTIALITY == 0 || sattr&ASC_RET_CONFIDENTIALITY == 0 {
		t.Errorf("flags client %#x server %#x lack confidentiality", cattr, sattr)
	}
	defer r.DeleteSecurityContext(&client)
	defer r.DeleteSecurityContext(&server)

	var names SecPkgContext_NamesW
	wantStatus(t, "NAMES", r.QueryContextAttributesW(&server, SECPKG_ATTR_NAMES, &names), SEC_E_OK)
	if got := UTF16PtrToString(names.UserName); !equalFoldString(got, `EXAMPLE\alice`) {
		t.Errorf("server NAMES = %q", got)
	}
	var sizes SecPkgContext_Sizes
	wantStatus(t, "SIZES", r.QueryContextAttributesW(&client, SECPKG_ATTR_SIZES, &sizes), SEC_E_OK)
	if sizes.MaxSignature != 16 || sizes.SecurityTrailer != 16 || sizes.BlockSize != 0 {
		t.Errorf("SIZES = %+v, want 16/0/16", sizes)
	}
	var ck, sk SecPkgContext_SessionKey
	wantStatus(t, "client SESSION_KEY", r.QueryContextAttributesW(&client, SECPKG_ATTR_SESSION_KEY, &ck), SEC_E_OK)
	wantStatus(t, "server SESSION_KEY", r.QueryContextAttributesW(&server, SECPKG_ATTR_SESSION_KEY, &sk), SEC_E_OK)
	if len(ck.SessionKey) != 16 || !bytes.Equal(ck.SessionKey, sk.SessionKey) {
		t.Errorf("session keys %x / %x", ck.SessionKey, sk.SessionKey)
	}
	var pinfo SecPkgContext_PackageInfoW
	wantStatus(t, "PACKAGE_INFO", r.QueryContextAttributesW(&client, SECPKG_ATTR_PACKAGE_INFO, &pinfo), SEC_E_OK)
	if UTF16PtrToString(pinfo.PackageInfo.Name) != "NTLM" {
		t.Errorf("PACKAGE_INFO name = %q", UTF16PtrToString(pinfo.PackageInfo.Name))
	}

	for _, dir := range []struct{ a, b *CtxtHandle }{{&client, &server}, {&server, &client}, {&client, &server}} {
		msg := []byte("the quick brown fox")
		sig := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
			{Type: SECBUFFER_DATA, Data: msg},
			{Type: SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.MaxSignature)},
		}}
		wantStatus(t, "MakeSignature", r.MakeSignature(dir.a, 0, sig, 0), SEC_E_OK)
		wantStatus(t, "VerifySignature", r.VerifySignature(dir.b, sig, 0, nil), SEC_E_OK)

		data := append([]byte(nil), msg...)
		enc := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
			{Type: SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.SecurityTrailer)},
			{Type: SECBUFFER_DATA, Data: data},
		}}
		wantStatus(t, "EncryptMessage", r.EncryptMessage(dir.a, 0, enc, 0), SEC_E_OK)
		if bytes.Equal(data, msg) {
			t.Fatal("EncryptMessage did not encrypt")
		}
		var qop uint32
		wantStatus(t, "DecryptMessage", r.DecryptMessage(dir.b, enc, 0, &qop), SEC_E_OK)
		if !bytes.Equal(enc.Buffers[1].Data, msg) {
			t.Errorf("DecryptMessage = %q", enc.Buffers[1].Data)
		}
	}
	// A tampered message is SEC_E_MESSAGE_ALTERED.
	sig := &secbuffer.Desc{Buffers: []secbuffer.Buffer{
		{Type: SECBUFFER_DATA, Data: []byte("abc")},
		{Type: SECBUFFER_TOKEN, Data: make([]byte, 0, 16)},
	}}
	wantStatus(t, "MakeSignature", r.MakeSignature(&client, 0, sig, 0), SEC_E_OK)
	sig.Buffers[0].Data = []byte("abd")
	wantStatus(t, "VerifySignature(tampered)", r.VerifySignature(&server, sig, 0, nil), SEC_E_MESSAGE_ALTERED)
}

func equalFoldString(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// TestNTLMGoAPI runs NTLM through the Go API: a wrong password is
// SEC_E_LOGON_DENIED on the server, a right one gives working Wrap/Unwrap.
func TestNTLMGoAPI(t *testing.T) {
	ctx := context.Background()
	r := ntlmRegistry()
	run := func(password string) (*Context, *Context, error) {
		ccred, err := r.AcquireCredentials(ctx, "ntlm", CredentialsOutbound, &AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		scred, err := r.AcquireCredentials(ctx, "NTLM", CredentialsInbound, ntlmUsers)
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClientContext(ccred, "HOST/server", ISC_REQ_CONFIDENTIALITY|ISC_REQ_INTEGRITY)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewServerContext(scred, ASC_REQ_CONFIDENTIALITY|ASC_REQ_INTEGRITY)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Delete(); s.Delete(); ccred.Free(); scred.Free() })
		return c, s, goHandshake(ctx, c, s, nil, nil)
	}
	if _, _, err := run("wrong"); !errors.Is(err, SEC_E_LOGON_DENIED) {
		t.Fatalf("wrong password: %v", err)
	}
	c, s, err := run("Passw0rd!")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		sealed, err := c.Wrap([]byte("ping"))
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := s.Unwrap(sealed); err != nil || string(plain) != "ping" {
			t.Fatalf("Unwrap = %q, %v", plain, err)
		}
		sealed, err = s.Wrap([]byte("pong"))
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := c.Unwrap(sealed); err != nil || string(plain) != "pong" {
			t.Fatalf("Unwrap = %q, %v", plain, err)
		}
	}
	if name, err := s.UserName(); err != nil || !equalFoldString(name, `EXAMPLE\alice`) {
		t.Errorf("UserName = %q, %v", name, err)
	}
}
