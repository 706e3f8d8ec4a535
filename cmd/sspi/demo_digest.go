package main

import (
	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/digest"
)

// digestDemo runs WDigest as SASL DIGEST-MD5 with qop auth-conf (the form
// that has signing and sealing), an explicit identity on the client and an
// in-memory user store on the server. The HTTP form needs PKG_PARAMS
// input buffers and has no message functions; see packages/digest.
var digestDemo = &demoCase{
	pkg:       "WDigest",
	target:    "ldap/localhost",
	clientReq: sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_REPLAY_DETECT | sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_CONNECTION,
	serverReq: sspi.ASC_REQ_CONFIDENTIALITY | sspi.ASC_REQ_INTEGRITY | sspi.ASC_REQ_REPLAY_DETECT | sspi.ASC_REQ_SEQUENCE_DETECT | sspi.ASC_REQ_CONNECTION,
	credentials: func() (client, server any, skip string) {
		const user, password = "demo", "demo-Passw0rd"
		return sspi.NewAuthIdentityW(user, "", password),
			digest.Users{{Name: user, Password: password}},
			""
	},
}
