// Package peers starts and drives the real GSSAPI peers the interop tests
// run against: the test Kerberos realm (kdc.go) and, through gssdriver.py,
// any MIT GSSAPI mechanism (krb5, SPNEGO, and NTLM through gss-ntlmssp) on
// either side of a context.
//
// # The test realm
//
// [TestKDC] gives the shared realm GOSSPI.TEST of scripts/testkdc.sh on
// MIT krb5kdc when it is installed, and otherwise on the KDC of package
// kdc (same principals, passwords, keytabs and krb5.conf), so that the
// Kerberos tests run on a machine with only Go. SSPI_TEST_KDC=go forces
// the Go KDC, SSPI_TEST_KDC=mit MIT's. [MITKDC] is for the tests that
// need MIT's KDC itself (kadmin.local); [KDC.Kinit] gets a TGT into a
// credential cache with MIT kinit or, on the Go KDC, with this module's
// Kerberos package.
//
// # Skipping and failing
//
// [Interop] reports SSPI_INTEROP=1 (CI sets it); [Require] skips a test
// whose peer is missing, or fails it under SSPI_INTEROP=1, with a message
// naming the package to install.
//
// # The GSSAPI driver
//
// [StartGSS] runs internal/peers/gssdriver.py with /usr/bin/python3 (the
// interpreter python3-gssapi is installed for). The script holds one
// security context and speaks a line protocol on stdin/stdout, binary data
// in base64:
//
//	driver → test   token <b64>                     a context token for the peer
//	test → driver   token <b64>                     the peer's answer
//	driver → test   established mech=<oid> peer=<name> flags=<hex> key=<hex|->
//	test → driver   wrap 0|1 <b64>                  → ok <b64 token> <encrypted 0|1>
//	test → driver   unwrap <b64>                    → ok <b64 message> <encrypted 0|1>
//	test → driver   get_signature <b64>             → ok <b64 MIC>
//	test → driver   verify_signature <b64> <b64>    → ok
//	test → driver   info                            → established ...
//	test → driver   quit
//	driver → test   error <kind> <message>          for any failure
//
// The initiator writes its first token at once; after that each side
// answers every token it reads with its own, if any, and writes the
// established line when its context is complete. The options
// ([GSSOptions]) choose the role, the mechanism (ntlm, krb5, spnego), the
// target name and its type, password credentials, channel-binding
// application data and the request flags (mutual, delegate, replay,
// sequence, integ, conf, anonymous); the environment passes what the MIT
// libraries read: NTLM_USER_FILE, KRB5_CONFIG, KRB5CCNAME, KRB5_KTNAME,
// KRB5_CLIENT_KTNAME, GSSNTLMSSP_DEBUG, KRB5_TRACE. [GSSDriver.Next],
// [GSSDriver.SendToken], [GSSDriver.Wrap], [GSSDriver.Unwrap],
// [GSSDriver.GetMIC] and [GSSDriver.VerifyMIC] wrap the protocol, each
// exchange bounded by GSSOptions.Timeout.
package peers
