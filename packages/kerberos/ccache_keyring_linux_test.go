package kerberos

import "golang.org/x/sys/unix"

// unlinkKeyringCollection unlinks the keyring name from the session,
// user session and user keyrings, where MIT and the package put
// collections.
func unlinkKeyringCollection(name string) {
	for _, ring := range []int{unix.KEY_SPEC_SESSION_KEYRING, unix.KEY_SPEC_USER_SESSION_KEYRING, unix.KEY_SPEC_USER_KEYRING} {
		if id, err := unix.KeyctlSearch(ring, "keyring", name, 0); err == nil {
			unix.KeyctlInt(unix.KEYCTL_UNLINK, id, ring, 0, 0)
		}
	}
}
