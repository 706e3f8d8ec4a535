package negotiate

import (
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// Wrap implements packages.Wrapper with the selected mechanism's layout.
func (c *negContext) Wrap(qop uint32, plain []byte) ([]byte, error) {
	w, err := c.wrapper("EncryptMessage")
	if err != nil {
		return nil, err
	}
	return w.Wrap(qop, plain)
}

// Unwrap implements packages.Wrapper with the selected mechanism's layout.
func (c *negContext) Unwrap(msg []byte) ([]byte, uint32, error) {
	w, err := c.wrapper("DecryptMessage")
	if err != nil {
		return nil, 0, err
	}
	return w.Unwrap(msg)
}

func (c *negContext) wrapper(op string) (packages.Wrapper, error) {
	inner, err := c.ready(op)
	if err != nil {
		return nil, err
	}
	w, ok := inner.(packages.Wrapper)
	if !ok {
		return nil, status.New(op, pkgName, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	return w, nil
}
