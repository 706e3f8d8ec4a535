package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/ntlm"
	"github.com/gosspi/sspi/secbuffer"
)

// ntlmTokens runs an NTLM handshake (through Negotiate when nego is set)
// in process and returns its tokens in order.
func handshakeTokens(t *testing.T, pkg string, serverData any) [][]byte {
	t.Helper()
	ctx := context.Background()
	reg := sspi.NewRegistry()
	reg.Register(ntlm.New(nil))
	ccred, err := sspi.AcquireCredentials(ctx, pkg, sspi.CredentialsOutbound, &sspi.AuthIdentity{User: "alice", Domain: "DEMO", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	scred, err := sspi.AcquireCredentials(ctx, pkg, sspi.CredentialsInbound, serverData)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sspi.NewClientContext(ccred, "HTTP/web.demo", sspi.ISC_REQ_MUTUAL_AUTH)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sspi.NewServerContext(scred, 0)
	if err != nil {
		t.Fatal(err)
	}
	cb := &secbuffer.ChannelBindings{ApplicationData: []byte("tls-server-end-point:0123")}
	var toks [][]byte
	var in []byte
	for i := 0; i < 6 && !(c.Established() && s.Established()); i++ {
		var bufs []secbuffer.Buffer
		if in != nil {
			bufs = append(bufs, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: in})
		}
		bufs = append(bufs, cb.Buffer())
		out, err := c.StepBuffers(ctx, bufs)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) == 0 {
			break
		}
		toks = append(toks, out)
		if s.Established() {
			break
		}
		if in, err = s.StepBuffers(ctx, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: out}, cb.Buffer()}); err != nil {
			t.Fatal(err)
		}
		if len(in) == 0 {
			break
		}
		toks = append(toks, in)
	}
	return toks
}

func decodeString(t *testing.T, arg string) (int, string) {
	t.Helper()
	code, out, errOut := runCmd(t, "decode", arg)
	if errOut != "" && code == exitOK {
		t.Errorf("stderr: %s", errOut)
	}
	return code, out + errOut
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
}

func TestDecodeNTLM(t *testing.T) {
	toks := handshakeTokens(t, "NTLM", ntlm.Users{`DEMO\alice`: "pw"})
	if len(toks) != 3 {
		t.Fatalf("%d tokens", len(toks))
	}
	want := [][]string{
		{"NTLM NEGOTIATE_MESSAGE: 40 bytes", "NEGOTIATE_UNICODE", "NEGOTIATE_VERSION", "Version: 10.0"},
		{"NTLM CHALLENGE_MESSAGE", "ServerChallenge: ", "TargetInfo (AV pairs)", "MsvAvTimestamp: ", "MsvAvEOL"},
		{"NTLM AUTHENTICATE_MESSAGE", `DomainName: "DEMO"`, `UserName: "alice"`, "NTLMv2_RESPONSE", "NTProofStr: ",
			`MsvAvTargetName: "HTTP/web.demo"`, "MsvAvFlags: 0x00000002 MIC present", "MsvAvChannelBindings: MD5 ", "padding: Z(4)", "MIC: "},
	}
	headers := []string{"Authorization: NTLM ", "WWW-Authenticate: NTLM ", "> Authorization: NTLM "}
	for i, tok := range toks {
		code, out := decodeString(t, headers[i]+base64.StdEncoding.EncodeToString(tok))
		if code != exitOK {
			t.Errorf("token %d: exit %d\n%s", i, code, out)
		}
		wantLines(t, out, want[i]...)
		// The same token in hex.
		code, out2 := decodeString(t, hex.EncodeToString(tok))
		if code != exitOK || !strings.Contains(out2, want[i][0]) {
			t.Errorf("hex token %d: exit %d\n%s", i, code, out2)
		}
	}
}

func TestDecodeSPNEGO(t *testing.T) {
	toks := handshakeTokens(t, "Negotiate", ntlm.Users{`DEMO\alice`: "pw"})
	if len(toks) < 3 {
		t.Fatalf("%d tokens", len(toks))
	}
	_, out := decodeString(t, "Negotiate "+base64.StdEncoding.EncodeToString(toks[0]))
	wantLines(t, out, "GSS-API InitialContextToken", "mechanism: 1.3.6.1.5.5.2 (SPNEGO)", "NegTokenInit", "mechTypes",
		"mech: 1.3.6.1.4.1.311.2.2.10 (NTLM)", "mechToken: 40 bytes", "NTLM NEGOTIATE_MESSAGE")
	_, out = decodeString(t, "WWW-Authenticate: Negotiate "+base64.StdEncoding.EncodeToString(toks[1]))
	wantLines(t, out, "NegTokenResp", "negState: 1 (accept-incomplete)", "supportedMech: 1.3.6.1.4.1.311.2.2.10 (NTLM)", "NTLM CHALLENGE_MESSAGE")
	_, out = decodeString(t, "Authorization: Negotiate "+base64.StdEncoding.EncodeToString(toks[2]))
	wantLines(t, out, "NTLM AUTHENTICATE_MESSAGE", "mechListMIC: 16 bytes", "NTLMSSP_MESSAGE_SIGNATURE")
}

// A KRB-ERROR built by hand from RFC 4120 5.9.1: error-code 37
// (KRB_AP_ERR_SKEW), realm EXAMPLE.COM, sname HTTP/web, e-text "skew".
func TestDecodeKerberosError(t *testing.T) {
	const krbError = "7e" + "4f" + "304d" +
		"a003020105" + "a10302011e" +
		"a411180f32303236303130313030303030305a" + "a503020100" +
		"a603020125" +
		"a90d1b0b4558414d504c452e434f4d" +
		"aa163014a003020102a10d300b1b04485454501b03776562" +
		"ab061b04736b6577"
	// Fix the outer lengths from the parts.
	body := krbError[8:]
	seq := "30" + hex.EncodeToString([]byte{byte(len(body) / 2)}) + body
	tok := "7e" + hex.EncodeToString([]byte{byte(len(seq) / 2)}) + seq
	code, out := decodeString(t, tok)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	wantLines(t, out, "KRB_ERROR", "pvno: 5", "msg-type: 30", "stime: 20260101000000Z", "error-code: 37 (KRB_AP_ERR_SKEW)",
		`realm: "EXAMPLE.COM"`, "sname: HTTP/web (name-type 2)", `e-text: "skew"`)
}

func TestDecodeDigest(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`WWW-Authenticate: Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			[]string{"Digest challenge (WWW-Authenticate)", `realm: "http-auth@example.org"`, "algorithm: SHA-256", `qop: "auth, auth-int"`}},
		{`Authorization: Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			[]string{"Digest response (Authorization)", `username: "Mufasa"`, "nc: 00000001   (nonce count (hex))", `uri: "/dir/index.html"`}},
		{`Authentication-Info: rspauth="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", nc=00000001, qop=auth`,
			[]string{"Digest Authentication-Info", "rspauth: "}},
	}
	for _, tt := range tests {
		code, out := decodeString(t, tt.in)
		if code != exitOK {
			t.Errorf("%.30s: exit %d\n%s", tt.in, code, out)
		}
		wantLines(t, out, tt.want...)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"decode", "NTLM TlRMTVNTUAAFAAAA"}, exitFailure, "NTLM message type 5"},
		{[]string{"decode", "Negotiate YAUGAQA="}, exitFailure, "malformed"},
		{[]string{"decode", "%%%"}, exitFailure, "neither base64 nor hex"},
		{[]string{"decode", "zz"}, exitFailure, "not an NTLM, SPNEGO, GSS-API or Kerberos token (1 bytes: cf)"},
		{[]string{"decode", "WWW-Authenticate: Negotiate"}, exitOK, "a bare challenge"},
		{[]string{"decode", "Authorization: Basic YWxpY2U6c2VjcmV0"}, exitOK, "password (6 bytes, not shown)"},
	}
	for _, tt := range tests {
		code, out, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%q: exit %d, output %q; want exit %d with %q", tt.args, code, out+errOut, tt.code, tt.want)
		}
		if strings.Contains(out, "secret") {
			t.Errorf("%q printed a password", tt.args)
		}
	}
}

func TestDecodeStdin(t *testing.T) {
	toks := handshakeTokens(t, "NTLM", ntlm.Users{`DEMO\alice`: "pw"})
	old := decodeStdin
	defer func() { decodeStdin = old }()
	decodeStdin = strings.NewReader("* Connected to web\n> GET / HTTP/1.1\n> Host: web\n> Authorization: NTLM " +
		base64.StdEncoding.EncodeToString(toks[0]) + "\n< HTTP/1.1 401 Unauthorized\n< WWW-Authenticate: NTLM " +
		base64.StdEncoding.EncodeToString(toks[1]) + "\n<\n")
	code, out, errOut := runCmd(t, "decode")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantLines(t, out, "NTLM NEGOTIATE_MESSAGE", "NTLM CHALLENGE_MESSAGE")
	if strings.Count(out, "scheme: NTLM") != 2 {
		t.Errorf("decoded other lines too:\n%s", out)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("NTLM TlRMTVNTUAABAAAAB4II4gAAAAAoAAAAAAAAACgAAAAKAExPAAAADw==")
	f.Add("Negotiate YEgGBisGAQUFAqA+MDygDjAMBgorBgEEAYI3AgIKoioEKE5UTE1TU1AAAQAAABeCCOIAAAAAKAAAAAAAAAAoAAAACgBMTwAAAA8=")
	f.Add("Negotiate oX0we6ADCgEBoQwGCisGAQQBgjcCAgqiZgRkTlRMTVNTUAACAAAABAAEADgAAAAVgoriUNLZjHNPTSoAAAAAAAAAACgAKAA8AAAACgBMTwAAAA9WAE0AAgAEAFYATQABAAQAVgBNAAMABAB2AG0ABwAIAGnvnVWhe90BAAAAAA==")
	f.Add(`Digest realm="a", nonce="b", qop="auth"`)
	f.Add("7e4f304da003020105")
	f.Fuzz(func(t *testing.T, s string) {
		in, err := parseInput(s)
		if err != nil {
			return
		}
		var sb strings.Builder
		decodeInput(in).print(&sb, "")
	})
}

// FuzzDecodeBinary feeds raw bytes to every binary decoder.
func FuzzDecodeBinary(f *testing.F) {
	for _, s := range []string{"TlRMTVNTUAADAAAAGAAYAG4AAACUAJQAhgAAAAwADABYAAAABgAGAGQAAAAEAAQAagAAAAAAAAAaAQAABYKK4goATE8AAAAP",
		"oRQwEqADCgEBoQsGCSqGSIb3EgECAg=="} {
		b, _ := base64.StdEncoding.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		root := &node{label: "token"}
		decodeBinary(root, b, 0)
		decodeNTLM(root, append([]byte("NTLMSSP\x00"), b...))
		decodeKerberos(root, b)
		decodeSPNEGO(root, b, 0)
	})
}
