//go:build !linux

package adtest

import (
	"errors"
	"syscall"
)

// The harness needs Linux namespaces; elsewhere findTools reports that
// and every test skips (or fails under SSPI_INTEROP=1).

var errNotLinux = errors.New("adtest: the Samba DC harness needs Linux namespaces")

func parentDeathAttr() *syscall.SysProcAttr { return nil }

func groupAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, kill bool) {}

func enterNamespace(t tools, dir, outerNS string) error { return errNotLinux }

func namespaceIDs() string { return "" }

func bindMount(src, target string) error { return errNotLinux }

func killNamespace() {}
