package ntlm

import "github.com/gosspi/sspi/packages"

// Wrap implements packages.Wrapper: the 16-byte NTLMSSP_MESSAGE_SIGNATURE
// followed by the data, sealed (or only signed with
// SECQOP_WRAP_NO_ENCRYPT), the layout of gss-ntlmssp's gss_wrap and of
// Windows' LDAP SASL layer.
func (n *ntlmSession) Wrap(qop uint32, plain []byte) ([]byte, error) {
	return packages.WrapBuffers(n, qop, plain)
}

// Unwrap implements packages.Wrapper for the layout of Wrap.
func (n *ntlmSession) Unwrap(msg []byte) ([]byte, uint32, error) {
	return packages.UnwrapFixed(n, msg, sigLen)
}
