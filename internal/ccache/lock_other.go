//go:build !unix

package ccache

import (
	"context"
	"os"
)

// lockFile does nothing where POSIX record locks do not exist.
func lockFile(context.Context, *os.File, bool) error { return nil }

func unlockFile(*os.File) {}
