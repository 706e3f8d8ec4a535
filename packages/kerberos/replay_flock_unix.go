//go:build unix

package kerberos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

func checkFlock(*os.File) error { return nil }

// flockContext takes an exclusive flock of f, polling so that ctx can end
// the wait.
func flockContext(ctx context.Context, f *os.File) error {
	wait := 100 * time.Microsecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("kerberos: replay cache: flock: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
}

func funlock(f *os.File) {
	if f != nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
}
