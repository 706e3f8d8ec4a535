//go:build !linux

package ccache

import "fmt"

// resolveKeyring refuses KEYRING: names: the kernel keyrings exist on
// Linux only.
func resolveKeyring(residual string) (Cache, error) {
	return nil, fmt.Errorf("%w: KEYRING:%s: kernel keyrings exist on Linux only", ErrUnsupported, residual)
}
