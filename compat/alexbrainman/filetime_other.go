//go:build !windows

package sspi

// Filetime is a Windows FILETIME: 100-nanosecond intervals since January
// 1, 1601 UTC. On Windows it is syscall.Filetime, which exists only there.
type Filetime struct {
	LowDateTime  uint32
	HighDateTime uint32
}

// Nanoseconds returns ft as nanoseconds since the Unix epoch, as
// syscall.Filetime's method does on Windows.
func (ft *Filetime) Nanoseconds() int64 {
	n := int64(ft.HighDateTime)<<32 + int64(ft.LowDateTime)
	n -= 116444736000000000 // 1601 to 1970 in 100 ns
	return n * 100
}

func filetime(ft uint64) Filetime {
	return Filetime{LowDateTime: uint32(ft), HighDateTime: uint32(ft >> 32)}
}
