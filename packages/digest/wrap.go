package digest

import "github.com/gosspi/sspi/packages"

// Wrap implements packages.Wrapper for the SASL DIGEST-MD5 security layer:
// one message of the layout the package's doc gives.
func (c *clientContext) Wrap(qop uint32, plain []byte) ([]byte, error) {
	return packages.WrapBuffers(c, qop, plain)
}

// Unwrap implements packages.Wrapper.
func (c *clientContext) Unwrap(msg []byte) ([]byte, uint32, error) {
	return packages.UnwrapStream(c, msg)
}

// Wrap implements packages.Wrapper.
func (s *serverContext) Wrap(qop uint32, plain []byte) ([]byte, error) {
	return packages.WrapBuffers(s, qop, plain)
}

// Unwrap implements packages.Wrapper.
func (s *serverContext) Unwrap(msg []byte) ([]byte, uint32, error) {
	return packages.UnwrapStream(s, msg)
}
