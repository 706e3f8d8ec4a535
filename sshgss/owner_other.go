//go:build !unix

package sshgss

import "io/fs"

// fileOwner reports no owner: files have no uid off Unix, and .k5login
// is a Unix convention.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
