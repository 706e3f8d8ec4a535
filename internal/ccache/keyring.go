package ccache

import (
	"encoding/binary"
	"fmt"
)

// parsePrimary parses the payload of krb_ccache:primary: version 1, then
// a counted name.
func parsePrimary(b []byte) (string, error) {
	if len(b) < 8 {
		return "", fmt.Errorf("%w: primary key of %d bytes", ErrFormat, len(b))
	}
	if v := binary.BigEndian.Uint32(b); v != 1 {
		return "", fmt.Errorf("%w: keyring collection version %d", ErrFormat, v)
	}
	n := binary.BigEndian.Uint32(b[4:])
	if uint64(n) > uint64(len(b)-8) || n == 0 {
		return "", fmt.Errorf("%w: primary name of %d bytes", ErrFormat, n)
	}
	return string(b[8 : 8+n]), nil
}

func marshalPrimary(name string) []byte {
	b := binary.BigEndian.AppendUint32(nil, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	return append(b, name...)
}
