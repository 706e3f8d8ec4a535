package schannel

import (
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Wrap implements packages.Wrapper: plain as TLS records of at most
// cbMaximumMessage bytes each (SECPKG_ATTR_STREAM_SIZES), one
// EncryptMessage (STREAM_HEADER, DATA, STREAM_TRAILER) per record.
func (s *session) Wrap(qop uint32, plain []byte) ([]byte, error) {
	c := s.c
	v, err := c.QueryAttribute(packages.SECPKG_ATTR_STREAM_SIZES)
	if err != nil {
		return nil, err
	}
	sz := v.(*packages.SecPkgContext_StreamSizes)
	h, tr, max := int(sz.Header), int(sz.Trailer), int(sz.MaximumMessage)
	if max <= 0 {
		return nil, status.New("EncryptMessage", c.pkg.name, status.SEC_E_INTERNAL_ERROR, nil)
	}
	n := (len(plain) + max - 1) / max
	if n == 0 {
		n = 1
	}
	out := make([]byte, 0, len(plain)+n*(h+tr))
	for first := true; first || len(plain) > 0; first = false {
		chunk := plain[:min(len(plain), max)]
		plain = plain[len(chunk):]
		start := len(out)
		out = append(out, make([]byte, h+len(chunk)+tr)...)
		rec := out[start:]
		copy(rec[h:], chunk)
		bufs := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: rec[:h:h]},
			{Type: secbuffer.SECBUFFER_DATA, Data: rec[h : h+len(chunk) : h+len(chunk)]},
			{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: rec[h+len(chunk):]},
			{Type: secbuffer.SECBUFFER_EMPTY},
		}
		if _, err := s.EncryptMessage(qop, bufs, 0); err != nil {
			return nil, err
		}
		// Close up a trailer shorter than the maximum.
		out = out[:start+len(bufs[0].Data)+len(bufs[1].Data)+len(bufs[2].Data)]
	}
	return out, nil
}

// Unwrap implements packages.Wrapper: msg holds whole TLS records, each
// decrypted in turn; their plaintexts are returned together. A partial
// record is SEC_E_INCOMPLETE_MESSAGE; a record that is not application data
// (a renegotiation request, close_notify) ends with the status
// DecryptMessage gives it, SEC_I_RENEGOTIATE or SEC_I_CONTEXT_EXPIRED, as
// an error.
func (s *session) Unwrap(msg []byte) ([]byte, uint32, error) {
	const op = "DecryptMessage"
	c := s.c
	rest := append([]byte(nil), msg...)
	var plain []byte
	for len(rest) > 0 {
		bufs := []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_DATA, Data: rest},
			{Type: secbuffer.SECBUFFER_EMPTY},
			{Type: secbuffer.SECBUFFER_EMPTY},
			{Type: secbuffer.SECBUFFER_EMPTY},
		}
		_, st, err := s.DecryptMessage(bufs, 0)
		if err != nil {
			return nil, 0, err
		}
		if st != status.SEC_E_OK {
			return nil, 0, status.New(op, c.pkg.name, st, nil)
		}
		if d := secbuffer.Find(bufs, secbuffer.SECBUFFER_DATA); d != nil {
			plain = append(plain, d.Data...)
		}
		next := secbuffer.Find(bufs, secbuffer.SECBUFFER_EXTRA)
		if next == nil {
			break
		}
		rest = next.Data
	}
	return plain, 0, nil
}
