package main

import (
	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/ntlm"
)

// ntlmDemo runs NTLM with an explicit identity on the client and an
// in-memory user store holding the same password on the server.
var ntlmDemo = &demoCase{
	pkg:       "NTLM",
	target:    "HOST/localhost",
	clientReq: sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_INTEGRITY | sspi.ISC_REQ_REPLAY_DETECT | sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_CONNECTION,
	serverReq: sspi.ASC_REQ_CONFIDENTIALITY | sspi.ASC_REQ_INTEGRITY | sspi.ASC_REQ_REPLAY_DETECT | sspi.ASC_REQ_SEQUENCE_DETECT | sspi.ASC_REQ_CONNECTION,
	credentials: func() (client, server any, skip string) {
		const user, domain, password = "demo", "GOSSPI", "demo-Passw0rd"
		return sspi.NewAuthIdentityW(user, domain, password),
			ntlm.Users{domain + `\` + user: password},
			""
	},
}
