//go:build !unix

package kerberos

import (
	"context"
	"errors"
	"os"
)

var errNoFlock = errors.New("kerberos: the file replay cache needs flock (Unix)")

func checkFlock(*os.File) error                    { return errNoFlock }
func flockContext(context.Context, *os.File) error { return errNoFlock }
func funlock(*os.File)                             {}
