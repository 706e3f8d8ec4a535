package peers

import (
	"sync"

	"github.com/gosspi/sspi/internal/mitkdc"
)

// KDC is the MIT test realm of package mitkdc.
type KDC = mitkdc.KDC

// ErrNoKDC reports that MIT krb5kdc is not installed.
var ErrNoKDC = mitkdc.ErrNoKDC

// KDCInstalled reports whether the MIT KDC tools are present.
func KDCInstalled() bool { return mitkdc.KDCInstalled() }

// StartKDC creates a realm in a new temporary folder and starts its KDC.
func StartKDC() (*KDC, error) { return mitkdc.StartKDC() }

var (
	sharedOnce sync.Once
	shared     *KDC
	sharedErr  error
)

// SharedKDC starts one KDC per test binary on first use; the TestMain that
// uses it calls StopSharedKDC at the end.
func SharedKDC() (*KDC, error) {
	sharedOnce.Do(func() { shared, sharedErr = StartKDC() })
	return shared, sharedErr
}

// StopSharedKDC stops the KDC SharedKDC started, if any.
func StopSharedKDC() {
	if shared != nil {
		shared.Stop()
	}
}
