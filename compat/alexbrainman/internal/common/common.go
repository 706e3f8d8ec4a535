// Package common holds what the negotiate, ntlm and kerberos packages
// share: identity building, one handshake step, and the per-message calls
// over a context.
package common

import (
	"errors"
	"unicode/utf16"
	"unsafe"

	"github.com/alexbrainman/sspi"
	gosspi "github.com/gosspi/sspi"
)

// BuildAuthIdentity returns a SEC_WINNT_AUTH_IDENTITY (UTF-16) for
// domain, username and password. username must not be empty.
func BuildAuthIdentity(domain, username, password string) (*sspi.SEC_WINNT_AUTH_IDENTITY, error) {
	if username == "" {
		return nil, errors.New("username parameter cannot be empty")
	}
	ptr := func(s string) (*uint16, uint32, error) {
		for _, r := range s {
			if r == 0 {
				return nil, 0, errors.New("sspi: string contains NUL")
			}
		}
		u := utf16.Encode([]rune(s + "\x00"))
		return &u[0], uint32(len(u) - 1), nil
	}
	var id sspi.SEC_WINNT_AUTH_IDENTITY
	var err error
	if id.User, id.UserLength, err = ptr(username); err != nil {
		return nil, err
	}
	if id.Domain, id.DomainLength, err = ptr(domain); err != nil {
		return nil, err
	}
	if id.Password, id.PasswordLength, err = ptr(password); err != nil {
		return nil, err
	}
	id.Flags = sspi.SEC_WINNT_AUTH_IDENTITY_UNICODE
	return &id, nil
}

// UpdateContext runs one handshake step of c with the peer's token src
// (and extra input buffers, such as channel bindings), writing the answer
// into dst. It reports whether the context is complete and the answer's
// length.
func UpdateContext(c *sspi.Context, dst, src []byte, targetName *uint16, extra ...sspi.SecBuffer) (authCompleted bool, n int, err error) {
	in := make([]sspi.SecBuffer, 1, 1+len(extra))
	in[0].Set(sspi.SECBUFFER_TOKEN, src)
	in = append(in, extra...)
	var out [1]sspi.SecBuffer
	out[0].Set(sspi.SECBUFFER_TOKEN, dst)
	outDesc := sspi.NewSecBufferDesc(out[:])
	ret := c.Update(targetName, outDesc, sspi.NewSecBufferDesc(in))
	switch ret {
	case sspi.SEC_E_OK:
		return true, int(out[0].BufferSize), nil
	case sspi.SEC_I_CONTINUE_NEEDED:
		return false, int(out[0].BufferSize), nil
	case sspi.SEC_I_COMPLETE_NEEDED, sspi.SEC_I_COMPLETE_AND_CONTINUE:
		if ret2 := sspi.CompleteAuthToken(c.Handle, outDesc); ret2 != sspi.SEC_E_OK {
			return false, 0, ret2
		}
		return ret == sspi.SEC_I_COMPLETE_NEEDED, int(out[0].BufferSize), nil
	}
	return false, 0, ret
}

// ChannelBindingsBuffer is a SECBUFFER_CHANNEL_BINDINGS input over cb, a
// SEC_CHANNEL_BINDINGS structure; nil for none.
func ChannelBindingsBuffer(cb []byte) []sspi.SecBuffer {
	if len(cb) == 0 {
		return nil
	}
	var b sspi.SecBuffer
	b.Set(sspi.SECBUFFER_CHANNEL_BINDINGS, cb)
	return []sspi.SecBuffer{b}
}

// MakeSignature signs msg with c: the signature is returned.
func MakeSignature(c *sspi.Context, msg []byte, qop, seqno uint32) ([]byte, error) {
	_, maxSig, _, _, err := c.Sizes()
	if err != nil {
		return nil, err
	}
	if maxSig == 0 {
		return nil, errors.New("integrity services are not requested or unavailable")
	}
	var b [2]sspi.SecBuffer
	b[0].Set(sspi.SECBUFFER_DATA, msg)
	b[1].Set(sspi.SECBUFFER_TOKEN, make([]byte, maxSig))
	if ret := sspi.MakeSignature(c.Handle, qop, sspi.NewSecBufferDesc(b[:]), seqno); ret != sspi.SEC_E_OK {
		return nil, ret
	}
	return b[1].Bytes(), nil
}

// VerifySignature checks token, a signature of msg, and returns the
// sender's QOP.
func VerifySignature(c *sspi.Context, msg, token []byte, seqno uint32) (uint32, error) {
	var b [2]sspi.SecBuffer
	b[0].Set(sspi.SECBUFFER_DATA, msg)
	b[1].Set(sspi.SECBUFFER_TOKEN, token)
	var qop uint32
	if ret := sspi.VerifySignature(c.Handle, sspi.NewSecBufferDesc(b[:]), seqno, &qop); ret != sspi.SEC_E_OK {
		return 0, ret
	}
	return qop, nil
}

// EncryptMessage seals msg in place and returns the message to send:
// security trailer, sealed data, padding.
func EncryptMessage(c *sspi.Context, msg []byte, qop, seqno uint32) ([]byte, error) {
	_, maxSig, block, trailer, err := c.Sizes()
	if err != nil {
		return nil, err
	}
	if maxSig == 0 {
		return nil, errors.New("integrity services are not requested or unavailable")
	}
	var b [3]sspi.SecBuffer
	b[0].Set(sspi.SECBUFFER_TOKEN, make([]byte, trailer))
	b[1].Set(sspi.SECBUFFER_DATA, msg)
	b[2].Set(sspi.SECBUFFER_PADDING, make([]byte, block))
	if ret := sspi.EncryptMessage(c.Handle, qop, sspi.NewSecBufferDesc(b[:]), seqno); ret != sspi.SEC_E_OK {
		return nil, ret
	}
	out := make([]byte, 0, int(b[0].BufferSize+b[1].BufferSize+b[2].BufferSize))
	out = append(out, b[0].Bytes()...)
	out = append(out, b[1].Bytes()...)
	return append(out, b[2].Bytes()...), nil
}

// DecryptMessage opens msg (in place) and returns the sender's QOP and
// the data.
func DecryptMessage(c *sspi.Context, msg []byte, seqno uint32) (uint32, []byte, error) {
	var b [2]sspi.SecBuffer
	b[0].Set(sspi.SECBUFFER_STREAM, msg)
	b[1].Set(sspi.SECBUFFER_DATA, nil)
	var qop uint32
	if ret := sspi.DecryptMessage(c.Handle, sspi.NewSecBufferDesc(b[:]), seqno, &qop); ret != sspi.SEC_E_OK {
		return qop, nil, ret
	}
	return qop, b[1].Bytes(), nil
}

// secPkgContextNativeNames is SecPkgContext_NativeNamesW.
type secPkgContextNativeNames struct{ ClientName, ServerName *uint16 }

// secpkgAttrNativeNames is SECPKG_ATTR_NATIVE_NAMES.
const secpkgAttrNativeNames = 13

// ClientName returns the authenticated client's name (SECPKG_ATTR_NATIVE_NAMES).
func ClientName(c *sspi.Context) (string, error) {
	var ns secPkgContextNativeNames
	if ret := sspi.QueryContextAttributes(c.Handle, secpkgAttrNativeNames, (*byte)(unsafe.Pointer(&ns))); ret != sspi.SEC_E_OK {
		return "", ret
	}
	return gosspi.UTF16PtrToString(ns.ClientName), nil
}
