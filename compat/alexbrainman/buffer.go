package sspi

import (
	"io"
	"unsafe"
)

// Set points b at data with type buftype; empty data leaves it empty.
func (b *SecBuffer) Set(buftype uint32, data []byte) {
	b.BufferType = buftype
	b.Buffer, b.BufferSize = nil, 0
	if len(data) > 0 {
		b.Buffer, b.BufferSize = &data[0], uint32(len(data))
	}
}

// Free is FreeContextBuffer on b's memory: a no-op, the memory is Go's.
func (b *SecBuffer) Free() error {
	if b.Buffer == nil {
		return nil
	}
	return FreeContextBuffer(b.Buffer)
}

// Bytes returns the BufferSize bytes at Buffer, without copying.
func (b *SecBuffer) Bytes() []byte {
	if b.Buffer == nil || b.BufferSize == 0 {
		return nil
	}
	return unsafe.Slice(b.Buffer, b.BufferSize)
}

// WriteAll writes b's bytes to w.
func (b *SecBuffer) WriteAll(w io.Writer) (int, error) {
	data := b.Bytes()
	n := 0
	for n < len(data) {
		m, err := w.Write(data[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrShortWrite
		}
	}
	return n, nil
}
