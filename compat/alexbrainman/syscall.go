package sspi

//lint:file-ignore ST1003 Windows names, as in the package this one mirrors.

import (
	"syscall"
	"unicode/utf16"
	"unsafe"

	gosspi "github.com/gosspi/sspi"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// SECURITY_STATUS values, as syscall.Errno.
const (
	SEC_E_OK = syscall.Errno(0)

	SEC_I_COMPLETE_AND_CONTINUE = syscall.Errno(0x00090314)
	SEC_I_COMPLETE_NEEDED       = syscall.Errno(0x00090313)
	SEC_I_CONTINUE_NEEDED       = syscall.Errno(0x00090312)

	SEC_E_LOGON_DENIED       = syscall.Errno(0x8009030c)
	SEC_E_CONTEXT_EXPIRED    = syscall.Errno(0x80090317)
	SEC_E_INCOMPLETE_MESSAGE = syscall.Errno(0x80090318)
)

// Security package names.
const (
	NTLMSP_NAME             = "NTLM"
	MICROSOFT_KERBEROS_NAME = "Kerberos"
	NEGOSSP_NAME            = "Negotiate"
	UNISP_NAME              = "Microsoft Unified Security Protocol Provider"
)

// QueryContextAttributes attributes this package answers.
const (
	_SECPKG_ATTR_SIZES            = 0
	_SECPKG_ATTR_NAMES            = 1
	_SECPKG_ATTR_STREAM_SIZES     = 4
	_SECPKG_ATTR_KEY_INFO         = 5
	_SECPKG_ATTR_SESSION_KEY      = 9
	_SECPKG_ATTR_PACKAGE_INFO     = 10
	_SECPKG_ATTR_NEGOTIATION_INFO = 12
	_SECPKG_ATTR_NATIVE_NAMES     = 13
	_SECPKG_ATTR_FLAGS            = 14
)

// SecPkgInfo is SecPkgInfoW.
type SecPkgInfo struct {
	Capabilities uint32
	Version      uint16
	RPCID        uint16
	MaxToken     uint32
	Name         *uint16
	Comment      *uint16
}

type _SecPkgContext_Sizes struct {
	MaxToken        uint32
	MaxSignature    uint32
	BlockSize       uint32
	SecurityTrailer uint32
}

// Credential use and identity flags.
const (
	SECPKG_CRED_INBOUND  = 1
	SECPKG_CRED_OUTBOUND = 2
	SECPKG_CRED_BOTH     = SECPKG_CRED_OUTBOUND | SECPKG_CRED_INBOUND

	SEC_WINNT_AUTH_IDENTITY_UNICODE = 0x2
)

// secWinntAuthIdentityANSI is the flag of an identity in 8-bit strings.
const secWinntAuthIdentityANSI = 0x1

// SEC_WINNT_AUTH_IDENTITY is SEC_WINNT_AUTH_IDENTITY_W: pointers to
// UTF-16 strings with their lengths in characters, without the NUL.
type SEC_WINNT_AUTH_IDENTITY struct {
	User           *uint16
	UserLength     uint32
	Domain         *uint16
	DomainLength   uint32
	Password       *uint16
	PasswordLength uint32
	Flags          uint32
}

// LUID is a logon session identifier.
type LUID struct {
	LowPart  uint32
	HighPart int32
}

// CredHandle is a credentials handle.
type CredHandle struct {
	Lower uintptr
	Upper uintptr
}

// Buffer types, request flags and data representation.
const (
	SECURITY_NATIVE_DREP = 16

	SECBUFFER_DATA             = 1
	SECBUFFER_TOKEN            = 2
	SECBUFFER_PKG_PARAMS       = 3
	SECBUFFER_MISSING          = 4
	SECBUFFER_EXTRA            = 5
	SECBUFFER_STREAM_TRAILER   = 6
	SECBUFFER_STREAM_HEADER    = 7
	SECBUFFER_PADDING          = 9
	SECBUFFER_STREAM           = 10
	SECBUFFER_CHANNEL_BINDINGS = 14
	SECBUFFER_READONLY         = 0x80000000
	SECBUFFER_ATTRMASK         = 0xf0000000
	SECBUFFER_VERSION          = 0
	SECBUFFER_EMPTY            = 0

	ISC_REQ_DELEGATE               = 1
	ISC_REQ_MUTUAL_AUTH            = 2
	ISC_REQ_REPLAY_DETECT          = 4
	ISC_REQ_SEQUENCE_DETECT        = 8
	ISC_REQ_CONFIDENTIALITY        = 16
	ISC_REQ_USE_SESSION_KEY        = 32
	ISC_REQ_PROMPT_FOR_CREDS       = 64
	ISC_REQ_USE_SUPPLIED_CREDS     = 128
	ISC_REQ_ALLOCATE_MEMORY        = 256
	ISC_REQ_USE_DCE_STYLE          = 512
	ISC_REQ_DATAGRAM               = 1024
	ISC_REQ_CONNECTION             = 2048
	ISC_REQ_EXTENDED_ERROR         = 16384
	ISC_REQ_STREAM                 = 32768
	ISC_REQ_INTEGRITY              = 65536
	ISC_REQ_MANUAL_CRED_VALIDATION = 524288
	ISC_REQ_HTTP                   = 268435456

	ASC_REQ_DELEGATE        = 1
	ASC_REQ_MUTUAL_AUTH     = 2
	ASC_REQ_REPLAY_DETECT   = 4
	ASC_REQ_SEQUENCE_DETECT = 8
	ASC_REQ_CONFIDENTIALITY = 16
	ASC_REQ_USE_SESSION_KEY = 32
	ASC_REQ_ALLOCATE_MEMORY = 256
	ASC_REQ_USE_DCE_STYLE   = 512
	ASC_REQ_DATAGRAM        = 1024
	ASC_REQ_CONNECTION      = 2048
	ASC_REQ_EXTENDED_ERROR  = 32768
	ASC_REQ_STREAM          = 65536
	ASC_REQ_INTEGRITY       = 131072
)

// CtxtHandle is a security context handle.
type CtxtHandle struct {
	Lower uintptr
	Upper uintptr
}

// SecBuffer is one buffer of a SecBufferDesc: BufferSize bytes at Buffer.
type SecBuffer struct {
	BufferSize uint32
	BufferType uint32
	Buffer     *byte
}

// SecBufferDesc describes BuffersCount SecBuffers starting at Buffers.
type SecBufferDesc struct {
	Version      uint32
	BuffersCount uint32
	Buffers      *SecBuffer
}

// errno turns a status into the syscall.Errno this API returns.
func errno(st status.Status) syscall.Errno { return syscall.Errno(st) }

// maxBuffers bounds the buffers of one SecBufferDesc.
const maxBuffers = 64

// sizeCap bounds what a SecBuffer may claim to hold (1 GiB), as a
// sanity check on caller memory.
const sizeCap = 1 << 30

// descBuffers views desc's SecBuffers.
func descBuffers(desc *SecBufferDesc) ([]SecBuffer, bool) {
	if desc == nil || desc.BuffersCount == 0 {
		return nil, true
	}
	if desc.Buffers == nil || desc.BuffersCount > maxBuffers {
		return nil, false
	}
	return unsafe.Slice(desc.Buffers, desc.BuffersCount), true
}

// bufferRole says how a SecBuffer's memory is handed to gosspi: as input
// (length BufferSize) or as room for output (length 0, capacity
// BufferSize).
type bufferRole func(typ uint32) (output bool)

func inputOnly(uint32) bool { return false }

// toGo converts a SecBufferDesc into gosspi's, over the same memory.
func toGo(desc *SecBufferDesc, role bufferRole) (*secbuffer.Desc, []SecBuffer, status.Status) {
	raw, ok := descBuffers(desc)
	if !ok {
		return nil, nil, status.SEC_E_INVALID_PARAMETER
	}
	if desc == nil {
		return nil, nil, status.SEC_E_OK
	}
	bufs := make([]secbuffer.Buffer, len(raw))
	for i, b := range raw {
		if b.BufferSize > sizeCap {
			return nil, nil, status.SEC_E_INVALID_PARAMETER
		}
		bufs[i].Type = b.BufferType
		if b.Buffer == nil || b.BufferSize == 0 {
			continue
		}
		mem := unsafe.Slice(b.Buffer, b.BufferSize)
		if role(b.BufferType &^ SECBUFFER_ATTRMASK) {
			mem = mem[:0]
		}
		bufs[i].Data = mem
	}
	return &secbuffer.Desc{Version: desc.Version, Buffers: bufs}, raw, status.SEC_E_OK
}

// fromGo writes gosspi's results back into the SecBuffers: types, sizes,
// and the memory each buffer now describes (the caller's, or memory the
// package allocated).
func fromGo(d *secbuffer.Desc, raw []SecBuffer) {
	if d == nil {
		return
	}
	for i := range raw {
		if i >= len(d.Buffers) {
			break
		}
		b := d.Buffers[i]
		raw[i].BufferType = b.Type
		raw[i].BufferSize = uint32(len(b.Data))
		switch {
		case len(b.Data) > 0:
			raw[i].Buffer = &b.Data[0]
		case cap(b.Data) > 0:
			raw[i].Buffer = &b.Data[:1][0]
		}
	}
}

// utf16String reads n UTF-16 code units at p.
func utf16String(p *uint16, n uint32) string {
	if p == nil || n == 0 || n > sizeCap/2 {
		return ""
	}
	return string(utf16.Decode(unsafe.Slice(p, n)))
}

// identity reads the SEC_WINNT_AUTH_IDENTITY authdata points to.
func identity(authdata *byte) *gosspi.AuthIdentity {
	ai := (*SEC_WINNT_AUTH_IDENTITY)(unsafe.Pointer(authdata))
	if ai.Flags&secWinntAuthIdentityANSI != 0 {
		str := func(p *uint16, n uint32) string {
			if p == nil || n == 0 || n > sizeCap {
				return ""
			}
			return string(unsafe.Slice((*byte)(unsafe.Pointer(p)), n))
		}
		return &gosspi.AuthIdentity{User: str(ai.User, ai.UserLength), Domain: str(ai.Domain, ai.DomainLength), Password: str(ai.Password, ai.PasswordLength)}
	}
	return &gosspi.AuthIdentity{
		User:     utf16String(ai.User, ai.UserLength),
		Domain:   utf16String(ai.Domain, ai.DomainLength),
		Password: utf16String(ai.Password, ai.PasswordLength),
	}
}

// QuerySecurityPackageInfo is QuerySecurityPackageInfoW.
func QuerySecurityPackageInfo(pkgname *uint16, pkginfo **SecPkgInfo) (ret syscall.Errno) {
	var pi *gosspi.SecPkgInfoW
	if st := gosspi.QuerySecurityPackageInfoW(pkgname, &pi); st != status.SEC_E_OK {
		return errno(st)
	}
	if pkginfo == nil {
		return errno(status.SEC_E_INVALID_PARAMETER)
	}
	*pkginfo = &SecPkgInfo{Capabilities: pi.Capabilities, Version: pi.Version, RPCID: pi.RPCID, MaxToken: pi.MaxToken, Name: pi.Name, Comment: pi.Comment}
	return SEC_E_OK
}

// FreeContextBuffer is FreeContextBuffer. The memory this package hands
// out is Go's, so it does nothing.
func FreeContextBuffer(buf *byte) (ret syscall.Errno) { return SEC_E_OK }

// AcquireCredentialsHandle is AcquireCredentialsHandleW. authdata, if
// not nil, points to a SEC_WINNT_AUTH_IDENTITY, except for the Schannel
// package (UNISP_NAME), whose SCHANNEL_CRED is not read: Schannel
// credentials are gosspi's defaults.
func AcquireCredentialsHandle(principal *uint16, pkgname *uint16, creduse uint32, logonid *LUID, authdata *byte, getkeyfn uintptr, getkeyarg uintptr, handle *CredHandle, expiry *Filetime) (ret syscall.Errno) {
	var auth any
	pkg := gosspi.UTF16PtrToString(pkgname)
	if authdata != nil && pkg != UNISP_NAME && pkg != "Schannel" {
		auth = identity(authdata)
	}
	var ts gosspi.TimeStamp
	st := gosspi.AcquireCredentialsHandleW(principal, pkgname, creduse, (*gosspi.LUID)(logonid), auth,
		getkeyfn, getkeyarg, (*gosspi.CredHandle)(handle), &ts)
	if st == status.SEC_E_OK && expiry != nil {
		*expiry = filetime(uint64(ts))
	}
	return errno(st)
}

// FreeCredentialsHandle is FreeCredentialsHandle.
func FreeCredentialsHandle(handle *CredHandle) (ret syscall.Errno) {
	return errno(gosspi.FreeCredentialsHandle((*gosspi.CredHandle)(handle)))
}

// handshakeOutput treats every output buffer of ISC and ASC as room for
// output.
func handshakeOutput(uint32) bool { return true }

// handshake runs an ISC or ASC call over converted buffers.
func handshake(input, output *SecBufferDesc, call func(in, out *secbuffer.Desc) status.Status) syscall.Errno {
	in, rawIn, st := toGo(input, inputOnly)
	if st != status.SEC_E_OK {
		return errno(st)
	}
	out, rawOut, st := toGo(output, handshakeOutput)
	if st != status.SEC_E_OK {
		return errno(st)
	}
	st = call(in, out)
	fromGo(in, rawIn)
	fromGo(out, rawOut)
	return errno(st)
}

// InitializeSecurityContext is InitializeSecurityContextW.
func InitializeSecurityContext(credential *CredHandle, context *CtxtHandle, targname *uint16, contextreq uint32, reserved1 uint32, targdatarep uint32, input *SecBufferDesc, reserved2 uint32, newcontext *CtxtHandle, output *SecBufferDesc, contextattr *uint32, expiry *Filetime) (ret syscall.Errno) {
	return handshake(input, output, func(in, out *secbuffer.Desc) status.Status {
		var ts gosspi.TimeStamp
		st := gosspi.InitializeSecurityContextW((*gosspi.CredHandle)(credential), (*gosspi.CtxtHandle)(context), targname,
			contextreq, reserved1, targdatarep, in, reserved2, (*gosspi.CtxtHandle)(newcontext), out, contextattr, &ts)
		if expiry != nil && !st.Failed() {
			*expiry = filetime(uint64(ts))
		}
		return st
	})
}

// AcceptSecurityContext is AcceptSecurityContext.
func AcceptSecurityContext(credential *CredHandle, context *CtxtHandle, input *SecBufferDesc, contextreq uint32, targdatarep uint32, newcontext *CtxtHandle, output *SecBufferDesc, contextattr *uint32, expiry *Filetime) (ret syscall.Errno) {
	return handshake(input, output, func(in, out *secbuffer.Desc) status.Status {
		var ts gosspi.TimeStamp
		st := gosspi.AcceptSecurityContext((*gosspi.CredHandle)(credential), (*gosspi.CtxtHandle)(context), in,
			contextreq, targdatarep, (*gosspi.CtxtHandle)(newcontext), out, contextattr, &ts)
		if expiry != nil && !st.Failed() {
			*expiry = filetime(uint64(ts))
		}
		return st
	})
}

// CompleteAuthToken is CompleteAuthToken.
func CompleteAuthToken(context *CtxtHandle, token *SecBufferDesc) (ret syscall.Errno) {
	d, raw, st := toGo(token, inputOnly)
	if st != status.SEC_E_OK {
		return errno(st)
	}
	st = gosspi.CompleteAuthToken((*gosspi.CtxtHandle)(context), d)
	fromGo(d, raw)
	return errno(st)
}

// DeleteSecurityContext is DeleteSecurityContext.
func DeleteSecurityContext(context *CtxtHandle) (ret syscall.Errno) {
	return errno(gosspi.DeleteSecurityContext((*gosspi.CtxtHandle)(context)))
}

// ImpersonateSecurityContext is ImpersonateSecurityContext: off Windows
// it returns SEC_E_UNSUPPORTED_FUNCTION.
func ImpersonateSecurityContext(context *CtxtHandle) (ret syscall.Errno) {
	return errno(gosspi.ImpersonateSecurityContext((*gosspi.CtxtHandle)(context)))
}

// RevertSecurityContext is RevertSecurityContext: off Windows it returns
// SEC_E_UNSUPPORTED_FUNCTION.
func RevertSecurityContext(context *CtxtHandle) (ret syscall.Errno) {
	return errno(gosspi.RevertSecurityContext((*gosspi.CtxtHandle)(context)))
}

// ApplyControlToken is ApplyControlToken.
func ApplyControlToken(context *CtxtHandle, input *SecBufferDesc) (ret syscall.Errno) {
	d, raw, st := toGo(input, inputOnly)
	if st != status.SEC_E_OK {
		return errno(st)
	}
	st = gosspi.ApplyControlToken((*gosspi.CtxtHandle)(context), d)
	fromGo(d, raw)
	return errno(st)
}

// signatureOutput: MakeSignature writes the TOKEN buffer.
func signatureOutput(typ uint32) bool { return typ == SECBUFFER_TOKEN }

// encryptOutput: EncryptMessage writes the TOKEN and PADDING buffers,
// whose size is room for output; DATA is sealed in place, and the stream
// header and trailer (Schannel) are filled in place at their full size.
func encryptOutput(typ uint32) bool {
	return typ == SECBUFFER_TOKEN || typ == SECBUFFER_PADDING
}

// message runs a per-message call over converted buffers.
func message(msg *SecBufferDesc, role bufferRole, call func(d *secbuffer.Desc) status.Status) syscall.Errno {
	if msg == nil {
		return errno(status.SEC_E_INVALID_TOKEN)
	}
	d, raw, st := toGo(msg, role)
	if st != status.SEC_E_OK {
		return errno(st)
	}
	st = call(d)
	fromGo(d, raw)
	return errno(st)
}

// EncryptMessage is EncryptMessage.
func EncryptMessage(context *CtxtHandle, qop uint32, message_ *SecBufferDesc, messageseqno uint32) (ret syscall.Errno) {
	return message(message_, encryptOutput, func(d *secbuffer.Desc) status.Status {
		return gosspi.EncryptMessage((*gosspi.CtxtHandle)(context), qop, d, messageseqno)
	})
}

// DecryptMessage is DecryptMessage.
func DecryptMessage(context *CtxtHandle, message_ *SecBufferDesc, messageseqno uint32, qop *uint32) (ret syscall.Errno) {
	return message(message_, inputOnly, func(d *secbuffer.Desc) status.Status {
		return gosspi.DecryptMessage((*gosspi.CtxtHandle)(context), d, messageseqno, qop)
	})
}

// MakeSignature is MakeSignature.
func MakeSignature(context *CtxtHandle, qop uint32, message_ *SecBufferDesc, messageseqno uint32) (ret syscall.Errno) {
	return message(message_, signatureOutput, func(d *secbuffer.Desc) status.Status {
		return gosspi.MakeSignature((*gosspi.CtxtHandle)(context), qop, d, messageseqno)
	})
}

// VerifySignature is VerifySignature.
func VerifySignature(context *CtxtHandle, message_ *SecBufferDesc, messageseqno uint32, qop *uint32) (ret syscall.Errno) {
	return message(message_, inputOnly, func(d *secbuffer.Desc) status.Status {
		return gosspi.VerifySignature((*gosspi.CtxtHandle)(context), d, messageseqno, qop)
	})
}
