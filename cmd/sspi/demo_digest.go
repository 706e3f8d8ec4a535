package main

import (
	"fmt"
	"io"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/secbuffer"
)

const digestUser, digestPassword = "demo", "demo-Passw0rd"

func digestCredentials() (client, server any, skip string) {
	return sspi.NewAuthIdentityW(digestUser, "", digestPassword),
		digest.Users{{Name: digestUser, Password: digestPassword}},
		""
}

// digestDemo runs WDigest as SASL DIGEST-MD5 with qop auth-conf (the form
// that has signing and sealing), an explicit identity on the client and an
// in-memory user store on the server.
var digestDemo = &demoCase{
	pkg:         "WDigest",
	label:       "SASL DIGEST-MD5",
	target:      "ldap/localhost",
	clientReq:   sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_REPLAY_DETECT | sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_CONNECTION,
	serverReq:   sspi.ASC_REQ_CONFIDENTIALITY | sspi.ASC_REQ_INTEGRITY | sspi.ASC_REQ_REPLAY_DETECT | sspi.ASC_REQ_SEQUENCE_DETECT | sspi.ASC_REQ_CONNECTION,
	credentials: digestCredentials,
}

// digestHTTPURI is the request URI of the HTTP demo: the target name, and
// what the server compares digest-uri with.
const digestHTTPURI = "/demo/index.html"

func pkgParams(values ...string) []secbuffer.Buffer {
	var out []secbuffer.Buffer
	for _, v := range values {
		out = append(out, secbuffer.Buffer{Type: sspi.SECBUFFER_PKG_PARAMS, Data: []byte(v)})
	}
	return out
}

// digestHTTPDemo runs WDigest as HTTP Digest: the server's challenge, the
// client's Authorization for GET digestHTTPURI, the server's check; then
// the client verifies rspauth and signs a second request on the same
// nonce, which the server verifies.
var digestHTTPDemo = &demoCase{
	pkg:         "WDigest",
	label:       "HTTP Digest",
	target:      digestHTTPURI,
	clientReq:   sspi.ISC_REQ_USE_HTTP_STYLE | sspi.ISC_REQ_MUTUAL_AUTH,
	serverReq:   digest.ASC_REQ_HTTP,
	serverFirst: true,
	// packages.md 4.2 and 4.3: method and H(entity) for the client;
	// method, request URL, H(entity) and realm for the server.
	clientIn:    pkgParams("GET", ""),
	serverIn:    pkgParams("GET", digestHTTPURI, "", ""),
	credentials: digestCredentials,
	messages:    digestHTTPMessages,
}

func digestHTTPMessages(w io.Writer, client, server *sspi.CtxtHandle) error {
	// A second request on the same nonce: MakeSignature writes its
	// Authorization (nc=00000002) into the PADDING buffer.
	const uri2 = "/demo/second.html"
	req := &secbuffer.Desc{Buffers: append(append([]secbuffer.Buffer{{Type: sspi.SECBUFFER_TOKEN}},
		pkgParams("GET", uri2, "")...),
		secbuffer.Buffer{Type: sspi.SECBUFFER_PADDING, Data: make([]byte, 0, 1024)})}
	if err := check("MakeSignature", sspi.MakeSignature(client, 0, req, 0)); err != nil {
		return err
	}
	auth := req.Buffers[4].Data
	ver := &secbuffer.Desc{Buffers: append([]secbuffer.Buffer{{Type: sspi.SECBUFFER_TOKEN, Data: auth}},
		pkgParams("GET", uri2, "", "")...)}
	st := sspi.VerifySignature(server, ver, 0, nil)
	fmt.Fprintf(w, "   %-28s %-28s %5d-byte Authorization (nc=00000002)\n", "MakeSignature/Verify", st.String(), len(auth))
	if err := check("VerifySignature", st); err != nil {
		return err
	}
	// The same Authorization again is a replay.
	if st := sspi.VerifySignature(server, ver, 0, nil); st != sspi.SEC_E_OUT_OF_SEQUENCE {
		return fmt.Errorf("replayed request: %v, want SEC_E_OUT_OF_SEQUENCE", st)
	}
	fmt.Fprintf(w, "   %-28s %s\n", "VerifySignature (replay)", sspi.SEC_E_OUT_OF_SEQUENCE.String())
	return nil
}
