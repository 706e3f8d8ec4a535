package sspi

import "syscall"

// Filetime is syscall.Filetime on Windows, so that the signatures here
// are those of the package this one mirrors.
type Filetime = syscall.Filetime

func filetime(ft uint64) Filetime {
	return Filetime{LowDateTime: uint32(ft), HighDateTime: uint32(ft >> 32)}
}
