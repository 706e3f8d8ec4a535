package sspi

//lint:file-ignore ST1003 Windows names, as in the package this one mirrors.

import (
	"syscall"
	"unsafe"

	gosspi "github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/schannel"
	"github.com/gosspi/sspi/status"
)

// Layouts of the QueryContextAttributesW answers this package fills, as
// in sspi.h.
type (
	secPkgContextStreamSizes struct {
		Header, Trailer, MaximumMessage, Buffers, BlockSize uint32
	}
	secPkgContextNames       struct{ UserName *uint16 }
	secPkgContextNativeNames struct{ ClientName, ServerName *uint16 }
	secPkgContextKeyInfo     struct {
		SignatureAlgorithmName, EncryptAlgorithmName  *uint16
		KeySize, SignatureAlgorithm, EncryptAlgorithm uint32
	}
	secPkgContextSessionKey struct {
		SessionKeyLength uint32
		SessionKey       *byte
	}
	secPkgContextPackageInfo     struct{ PackageInfo *SecPkgInfo }
	secPkgContextNegotiationInfo struct {
		PackageInfo      *SecPkgInfo
		NegotiationState uint32
	}
	secPkgContextFlags     struct{ Flags uint32 }
	secPkgContextProtoInfo struct {
		ProtocolName               *uint16
		MajorVersion, MinorVersion uint32
	}
)

// secpkgAttrProtoInfo is SECPKG_ATTR_PROTO_INFO.
const secpkgAttrProtoInfo = 7

// QueryContextAttributes is QueryContextAttributesW: buf points to the
// structure of attribute. The attributes answered are SECPKG_ATTR_SIZES,
// NAMES, STREAM_SIZES, KEY_INFO, PROTO_INFO (Schannel: the TLS version),
// SESSION_KEY, PACKAGE_INFO, NEGOTIATION_INFO, NATIVE_NAMES and FLAGS;
// others return SEC_E_UNSUPPORTED_FUNCTION. Strings in the answers are Go
// memory.
func QueryContextAttributes(context *CtxtHandle, attribute uint32, buf *byte) (ret syscall.Errno) {
	if buf == nil {
		return errno(status.SEC_E_INVALID_PARAMETER)
	}
	h := (*gosspi.CtxtHandle)(context)
	p := unsafe.Pointer(buf)
	query := func(v any) status.Status { return gosspi.QueryContextAttributesW(h, attribute, v) }
	switch attribute {
	case _SECPKG_ATTR_SIZES:
		var s gosspi.SecPkgContext_Sizes
		if st := query(&s); st != status.SEC_E_OK {
			return errno(st)
		}
		*(*_SecPkgContext_Sizes)(p) = _SecPkgContext_Sizes{s.MaxToken, s.MaxSignature, s.BlockSize, s.SecurityTrailer}
	case _SECPKG_ATTR_STREAM_SIZES:
		var s gosspi.SecPkgContext_StreamSizes
		if st := query(&s); st != status.SEC_E_OK {
			return errno(st)
		}
		*(*secPkgContextStreamSizes)(p) = secPkgContextStreamSizes{s.Header, s.Trailer, s.MaximumMessage, s.Buffers, s.BlockSize}
	case _SECPKG_ATTR_NAMES:
		var n gosspi.SecPkgContext_NamesW
		if st := query(&n); st != status.SEC_E_OK {
			return errno(st)
		}
		*(*secPkgContextNames)(p) = secPkgContextNames{n.UserName}
	case _SECPKG_ATTR_NATIVE_NAMES:
		var n gosspi.SecPkgContext_NativeNamesW
		if st := query(&n); st != status.SEC_E_OK {
			return errno(st)
		}
		*(*secPkgContextNativeNames)(p) = secPkgContextNativeNames{n.ClientName, n.ServerName}
	case _SECPKG_ATTR_KEY_INFO:
		var k gosspi.SecPkgContext_KeyInfoW
		if st := query(&k); st != status.SEC_E_OK {
			return errno(st)
		}
		*(*secPkgContextKeyInfo)(p) = secPkgContextKeyInfo{k.SignatureAlgorithmName, k.EncryptAlgorithmName, k.KeySize, k.SignatureAlgorithm, k.EncryptAlgorithm}
	case _SECPKG_ATTR_SESSION_KEY:
		var k gosspi.SecPkgContext_SessionKey
		if st := query(&k); st != status.SEC_E_OK {
			return errno(st)
		}
		out := secPkgContextSessionKey{SessionKeyLength: uint32(len(k.SessionKey))}
		if len(k.SessionKey) > 0 {
			out.SessionKey = &k.SessionKey[0]
		}
		*(*secPkgContextSessionKey)(p) = out
	case _SECPKG_ATTR_PACKAGE_INFO:
		var i gosspi.SecPkgContext_PackageInfoW
		if st := query(&i); st != status.SEC_E_OK {
			return errno(st)
		}
		*(*secPkgContextPackageInfo)(p) = secPkgContextPackageInfo{pkgInfo(i.PackageInfo)}
	case _SECPKG_ATTR_NEGOTIATION_INFO:
		var i gosspi.SecPkgContext_NegotiationInfoW
		if st := query(&i); st != status.SEC_E_OK {
			return errno(st)
		}
		*(*secPkgContextNegotiationInfo)(p) = secPkgContextNegotiationInfo{pkgInfo(i.PackageInfo), i.NegotiationState}
	case _SECPKG_ATTR_FLAGS:
		var f gosspi.SecPkgContext_Flags
		if st := query(&f); st != status.SEC_E_OK {
			return errno(st)
		}
		*(*secPkgContextFlags)(p) = secPkgContextFlags{f.Flags}
	case secpkgAttrProtoInfo:
		var ci schannel.SecPkgContext_ConnectionInfo
		if st := gosspi.QueryContextAttributesW(h, gosspi.SECPKG_ATTR_CONNECTION_INFO, &ci); st != status.SEC_E_OK {
			return errno(st)
		}
		name, minor := "TLS", uint32(0)
		switch {
		case ci.Protocol&(gosspi.SP_PROT_TLS1_3_CLIENT|gosspi.SP_PROT_TLS1_3_SERVER) != 0:
			minor = 3
		case ci.Protocol&(gosspi.SP_PROT_TLS1_2_CLIENT|gosspi.SP_PROT_TLS1_2_SERVER) != 0:
			minor = 2
		default:
			return errno(status.SEC_E_UNSUPPORTED_FUNCTION)
		}
		pn, err := gosspi.UTF16PtrFromString(name)
		if err != nil {
			return errno(status.SEC_E_INTERNAL_ERROR)
		}
		*(*secPkgContextProtoInfo)(p) = secPkgContextProtoInfo{pn, 1, minor}
	default:
		return errno(status.SEC_E_UNSUPPORTED_FUNCTION)
	}
	return SEC_E_OK
}

func pkgInfo(pi *gosspi.SecPkgInfoW) *SecPkgInfo {
	if pi == nil {
		return nil
	}
	return &SecPkgInfo{Capabilities: pi.Capabilities, Version: pi.Version, RPCID: pi.RPCID, MaxToken: pi.MaxToken, Name: pi.Name, Comment: pi.Comment}
}
