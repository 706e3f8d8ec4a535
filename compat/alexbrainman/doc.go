// Package sspi is the API of github.com/alexbrainman/sspi (the Windows
// SSPI bindings go-ldap and others use) implemented on gosspi
// (github.com/gosspi/sspi), a pure-Go SSPI, so that code written for it
// builds and runs on Linux and macOS as well as Windows. A program adopts
// it with one line in its go.mod:
//
//	replace github.com/alexbrainman/sspi => github.com/gosspi/sspi/compat/alexbrainman
//
// (or a local path to this folder). The packages negotiate, ntlm,
// kerberos and schannel mirror the originals' exported API. Every call
// goes to gosspi's default registry through its Windows-shaped flat API:
// the handles, SecBuffer and SecBufferDesc memory layouts, flags and
// status codes are those of secur32.dll, and errors are syscall.Errno
// values holding the SECURITY_STATUS, as in the original.
//
// Differences from Windows: "current user" credentials are the ones
// gosspi's packages default to (the Kerberos credential cache named by
// KRB5CCNAME, filled by kinit; NTLM_USER_FILE for NTLM), server
// credentials are the keytab named by KRB5_KTNAME and the NTLM users of
// NTLM_USER_FILE; ImpersonateSecurityContext and RevertSecurityContext
// return SEC_E_UNSUPPORTED_FUNCTION; FreeContextBuffer does nothing (the
// memory is Go's); AcquireCredentialsHandle's expiry is a [Filetime], which
// is syscall.Filetime on Windows.
package sspi
