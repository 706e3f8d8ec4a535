package kerberos

import "github.com/gosspi/sspi/packages"

// Wrap implements packages.Wrapper: the Windows header-in-token layout
// (token ‖ data ‖ padding), which RFC 4121 peers read as one Wrap token.
func (s *session) Wrap(qop uint32, plain []byte) ([]byte, error) {
	return packages.WrapBuffers(s, qop, plain)
}

// Unwrap implements packages.Wrapper: DecryptMessage finds the token in a
// SECBUFFER_STREAM.
func (s *session) Unwrap(msg []byte) ([]byte, uint32, error) {
	return packages.UnwrapStream(s, msg)
}
