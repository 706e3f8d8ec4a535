package sspi

import (
	"context"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Context returns the context h names, or SEC_E_INVALID_HANDLE: the bridge
// from a flat-API handle to the Go API.
func (r *Registry) Context(h *CtxtHandle) (*Context, error) {
	if h == nil {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	c, ok := r.ctxts.get(h.Lower, h.Upper)
	if !ok {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	return c, nil
}

// InitializeSecurityContextW is InitializeSecurityContextW on the default
// Registry; see [Registry.InitializeSecurityContextW].
func InitializeSecurityContextW(phCredential *CredHandle, phContext *CtxtHandle, pszTargetName *uint16, fContextReq uint32, Reserved1 uint32, TargetDataRep uint32, pInput *secbuffer.Desc, Reserved2 uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().InitializeSecurityContextW(phCredential, phContext, pszTargetName, fContextReq, Reserved1, TargetDataRep, pInput, Reserved2, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// InitializeSecurityContextA is InitializeSecurityContextA on the default
// Registry.
func InitializeSecurityContextA(phCredential *CredHandle, phContext *CtxtHandle, pszTargetName *byte, fContextReq uint32, Reserved1 uint32, TargetDataRep uint32, pInput *secbuffer.Desc, Reserved2 uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().InitializeSecurityContextA(phCredential, phContext, pszTargetName, fContextReq, Reserved1, TargetDataRep, pInput, Reserved2, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// InitializeSecurityContextW runs one client leg of the handshake. On the
// first call phContext is nil, phCredential names outbound credentials and
// *phNewContext receives the new context handle; later calls pass that
// handle as phContext (phCredential is then ignored) and the server's
// reply in a SECBUFFER_TOKEN buffer of pInput.
//
// pOutput must hold a SECBUFFER_TOKEN buffer (otherwise SEC_E_INVALID_TOKEN)
// whose capacity is at least the package's cbMaxToken, or fContextReq must
// include ISC_REQ_ALLOCATE_MEMORY so that the package allocates it (then
// *pfContextAttr includes ISC_RET_ALLOCATED_MEMORY). A buffer that is too
// small gives SEC_E_BUFFER_TOO_SMALL and leaves the context unchanged.
// Reserved1 and Reserved2 must be 0; TargetDataRep is ignored.
//
// It returns SEC_E_OK when the context is established (send any output
// token), SEC_I_CONTINUE_NEEDED, SEC_I_COMPLETE_NEEDED or
// SEC_I_COMPLETE_AND_CONTINUE (call CompleteAuthToken first), or a failure.
// A first call that fails creates no context; after a later failure the
// context is dead but its handle must still be deleted.
func (r *Registry) InitializeSecurityContextW(phCredential *CredHandle, phContext *CtxtHandle, pszTargetName *uint16, fContextReq uint32, Reserved1 uint32, TargetDataRep uint32, pInput *secbuffer.Desc, Reserved2 uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	if Reserved1 != 0 || Reserved2 != 0 {
		return status.SEC_E_INVALID_PARAMETER
	}
	return r.handshake(context.Background(), true, phCredential, phContext, UTF16PtrToString(pszTargetName), fContextReq, pInput, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// InitializeSecurityContextA is InitializeSecurityContextW with an 8-bit
// target name.
func (r *Registry) InitializeSecurityContextA(phCredential *CredHandle, phContext *CtxtHandle, pszTargetName *byte, fContextReq uint32, Reserved1 uint32, TargetDataRep uint32, pInput *secbuffer.Desc, Reserved2 uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	if Reserved1 != 0 || Reserved2 != 0 {
		return status.SEC_E_INVALID_PARAMETER
	}
	return r.handshake(context.Background(), true, phCredential, phContext, BytePtrToString(pszTargetName), fContextReq, pInput, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// AcceptSecurityContext is AcceptSecurityContext on the default Registry.
func AcceptSecurityContext(phCredential *CredHandle, phContext *CtxtHandle, pInput *secbuffer.Desc, fContextReq uint32, TargetDataRep uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().AcceptSecurityContext(phCredential, phContext, pInput, fContextReq, TargetDataRep, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// AcceptSecurityContext runs one server leg of the handshake, with the
// client's token in a SECBUFFER_TOKEN buffer of pInput (and optionally a
// SECBUFFER_CHANNEL_BINDINGS buffer). Handles, output buffers and results
// follow [Registry.InitializeSecurityContextW], with ASC_REQ_* and ASC_RET_*
// flags. After SEC_E_OK, QueryContextAttributesW(SECPKG_ATTR_NAMES) names
// the authenticated client.
func (r *Registry) AcceptSecurityContext(phCredential *CredHandle, phContext *CtxtHandle, pInput *secbuffer.Desc, fContextReq uint32, TargetDataRep uint32, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	return r.handshake(context.Background(), false, phCredential, phContext, "", fContextReq, pInput, phNewContext, pOutput, pfContextAttr, ptsExpiry)
}

// handshake is the common body of InitializeSecurityContext and
// AcceptSecurityContext. ctx reaches the package's Step: the flat calls
// pass context.Background(); the async calls pass the context of their
// call, which ends when the async context is freed, so that a package
// waiting on the network (Kerberos and its KDC) gives up at once. A call
// cut short that way fails as a cancelled Step does: a first call creates
// no context, a later one leaves the context failed.
func (r *Registry) handshake(ctx context.Context, client bool, phCredential *CredHandle, phContext *CtxtHandle, target string, req uint32, pInput *secbuffer.Desc, phNewContext *CtxtHandle, pOutput *secbuffer.Desc, pfContextAttr *uint32, ptsExpiry *TimeStamp) status.Status {
	var in []secbuffer.Buffer
	if pInput != nil {
		if pInput.Version != secbuffer.SECBUFFER_VERSION {
			return status.SEC_E_INVALID_PARAMETER
		}
		in = pInput.Buffers
	}
	if pOutput == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	if pOutput.Version != secbuffer.SECBUFFER_VERSION {
		return status.SEC_E_INVALID_PARAMETER
	}

	var c *Context
	var err error
	first := phContext == nil
	if first {
		cred, err := r.Credentials(phCredential)
		if err != nil {
			return status.Code(err)
		}
		if phNewContext == nil {
			return status.SEC_E_INVALID_PARAMETER
		}
		if client {
			c, err = NewClientContext(cred, target, req)
		} else {
			c, err = NewServerContext(cred, req)
		}
		if err != nil {
			return status.Code(err)
		}
	} else if c, err = r.Context(phContext); err != nil {
		return status.Code(err)
	} else if c.client != client {
		return status.SEC_E_INVALID_HANDLE // a server context passed to ISC, or the reverse
	}

	st, err := c.step(ctx, in, pOutput.Buffers)
	if err != nil {
		if first {
			c.Delete() // a failed first call creates no context
		}
		return st
	}
	if first {
		phNewContext.Lower, phNewContext.Upper = r.ctxts.add(c)
	} else if phNewContext != nil && phNewContext != phContext {
		*phNewContext = *phContext
	}
	if pfContextAttr != nil {
		flags := c.Flags()
		if req&packages.ISC_REQ_ALLOCATE_MEMORY != 0 { // = ASC_REQ_ALLOCATE_MEMORY
			flags |= packages.ISC_RET_ALLOCATED_MEMORY // = ASC_RET_ALLOCATED_MEMORY
		}
		*pfContextAttr = flags
	}
	if ptsExpiry != nil {
		*ptsExpiry = packages.NewTimeStamp(c.Expiry())
	}
	return st
}

// CompleteAuthToken is CompleteAuthToken on the default Registry.
func CompleteAuthToken(phContext *CtxtHandle, pToken *secbuffer.Desc) status.Status {
	return defaultRegistry().CompleteAuthToken(phContext, pToken)
}

// CompleteAuthToken finishes the output buffers pToken of a handshake call
// that returned SEC_I_COMPLETE_NEEDED or SEC_I_COMPLETE_AND_CONTINUE. A
// package that never asks for it answers SEC_E_UNSUPPORTED_FUNCTION.
func (r *Registry) CompleteAuthToken(phContext *CtxtHandle, pToken *secbuffer.Desc) status.Status {
	c, err := r.Context(phContext)
	if err != nil {
		return status.Code(err)
	}
	if pToken == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	st, err := c.CompleteAuthToken(pToken.Buffers)
	if err != nil {
		return status.Code(err)
	}
	return st
}

// ApplyControlToken is ApplyControlToken on the default Registry.
func ApplyControlToken(phContext *CtxtHandle, pInput *secbuffer.Desc) status.Status {
	return defaultRegistry().ApplyControlToken(phContext, pInput)
}

// ApplyControlToken passes the control token in pInput (Schannel:
// SCHANNEL_SHUTDOWN, an alert, ...) to the context's package. Packages
// without control tokens answer SEC_E_UNSUPPORTED_FUNCTION.
func (r *Registry) ApplyControlToken(phContext *CtxtHandle, pInput *secbuffer.Desc) status.Status {
	c, err := r.Context(phContext)
	if err != nil {
		return status.Code(err)
	}
	if pInput == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	return status.Code(c.ApplyControlToken(pInput.Buffers))
}

// DeleteSecurityContext is DeleteSecurityContext on the default Registry.
func DeleteSecurityContext(phContext *CtxtHandle) status.Status {
	return defaultRegistry().DeleteSecurityContext(phContext)
}

// DeleteSecurityContext deletes the context *phContext names and zeroes its
// keys; it sends nothing to the peer. A second call, or any handle r did
// not issue, gives SEC_E_INVALID_HANDLE.
func (r *Registry) DeleteSecurityContext(phContext *CtxtHandle) status.Status {
	if phContext == nil {
		return status.SEC_E_INVALID_HANDLE
	}
	c, ok := r.ctxts.remove(phContext.Lower, phContext.Upper)
	if !ok {
		return status.SEC_E_INVALID_HANDLE
	}
	c.Delete()
	return status.SEC_E_OK
}

// QueryContextAttributesW is QueryContextAttributesW on the default
// Registry.
func QueryContextAttributesW(phContext *CtxtHandle, ulAttribute uint32, pBuffer any) status.Status {
	return defaultRegistry().QueryContextAttributesW(phContext, ulAttribute, pBuffer)
}

// QueryContextAttributesA is QueryContextAttributesA on the default
// Registry.
func QueryContextAttributesA(phContext *CtxtHandle, ulAttribute uint32, pBuffer any) status.Status {
	return defaultRegistry().QueryContextAttributesA(phContext, ulAttribute, pBuffer)
}

// QueryContextAttributesW fills pBuffer, a pointer to the structure of
// ulAttribute: *SecPkgContext_Sizes (SECPKG_ATTR_SIZES),
// *SecPkgContext_StreamSizes, *SecPkgContext_NamesW,
// *SecPkgContext_NativeNamesW, *SecPkgContext_PackageInfoW,
// *SecPkgContext_NegotiationInfoW, *SecPkgContext_SessionKey,
// *SecPkgContext_Lifespan, *SecPkgContext_Flags, *SecPkgContext_KeyInfoW. A
// package-specific value is stored when pBuffer points to its type (or is
// a *any). Strings and arrays in the answer are Go memory; FreeContextBuffer
// on them is a no-op.
//
// It returns SEC_E_OK, SEC_E_INVALID_HANDLE, SEC_E_UNSUPPORTED_FUNCTION
// (the package lacks the attribute), SEC_E_INVALID_PARAMETER (pBuffer does
// not fit the answer) or the package's failure.
func (r *Registry) QueryContextAttributesW(phContext *CtxtHandle, ulAttribute uint32, pBuffer any) status.Status {
	return r.queryContextAttributes(phContext, ulAttribute, pBuffer)
}

// QueryContextAttributesA is QueryContextAttributesW with the A structures
// (*SecPkgContext_NamesA, *SecPkgContext_PackageInfoA, ...).
func (r *Registry) QueryContextAttributesA(phContext *CtxtHandle, ulAttribute uint32, pBuffer any) status.Status {
	return r.queryContextAttributes(phContext, ulAttribute, pBuffer)
}

func (r *Registry) queryContextAttributes(phContext *CtxtHandle, attr uint32, pBuffer any) status.Status {
	c, err := r.Context(phContext)
	if err != nil {
		return status.Code(err)
	}
	v, err := c.QueryAttribute(attr)
	if err != nil {
		return status.Code(err)
	}
	return fillContextAttribute(v, pBuffer)
}

// fillContextAttribute converts a package's Go answer into the W or A
// structure pBuffer points to.
func fillContextAttribute(v, pBuffer any) status.Status {
	switch b := pBuffer.(type) {
	case *SecPkgContext_NamesW:
		return fill(v, b, func(n *packages.Names, b *SecPkgContext_NamesW) { b.UserName = utf16z(n.UserName) })
	case *SecPkgContext_NamesA:
		return fill(v, b, func(n *packages.Names, b *SecPkgContext_NamesA) { b.UserName = bytez(n.UserName) })
	case *SecPkgContext_NativeNamesW:
		return fill(v, b, func(n *packages.NativeNames, b *SecPkgContext_NativeNamesW) {
			b.ClientName, b.ServerName = utf16z(n.ClientName), utf16z(n.ServerName)
		})
	case *SecPkgContext_NativeNamesA:
		return fill(v, b, func(n *packages.NativeNames, b *SecPkgContext_NativeNamesA) {
			b.ClientName, b.ServerName = bytez(n.ClientName), bytez(n.ServerName)
		})
	case *SecPkgContext_PackageInfoW:
		return fill(v, b, func(i *packages.Info, b *SecPkgContext_PackageInfoW) {
			info := pkgInfoW(*i)
			b.PackageInfo = &info
		})
	case *SecPkgContext_PackageInfoA:
		return fill(v, b, func(i *packages.Info, b *SecPkgContext_PackageInfoA) {
			info := pkgInfoA(*i)
			b.PackageInfo = &info
		})
	case *SecPkgContext_NegotiationInfoW:
		return fill(v, b, func(n *packages.NegotiationInfo, b *SecPkgContext_NegotiationInfoW) {
			info := pkgInfoW(n.PackageInfo)
			b.PackageInfo, b.NegotiationState = &info, n.NegotiationState
		})
	case *SecPkgContext_NegotiationInfoA:
		return fill(v, b, func(n *packages.NegotiationInfo, b *SecPkgContext_NegotiationInfoA) {
			info := pkgInfoA(n.PackageInfo)
			b.PackageInfo, b.NegotiationState = &info, n.NegotiationState
		})
	case *SecPkgContext_KeyInfoW:
		return fill(v, b, func(k *packages.KeyInfo, b *SecPkgContext_KeyInfoW) {
			*b = SecPkgContext_KeyInfoW{
				SignatureAlgorithmName: utf16z(k.SignatureAlgorithmName),
				EncryptAlgorithmName:   utf16z(k.EncryptAlgorithmName),
				KeySize:                k.KeySize, SignatureAlgorithm: k.SignatureAlgorithm, EncryptAlgorithm: k.EncryptAlgorithm,
			}
		})
	case *SecPkgContext_KeyInfoA:
		return fill(v, b, func(k *packages.KeyInfo, b *SecPkgContext_KeyInfoA) {
			*b = SecPkgContext_KeyInfoA{
				SignatureAlgorithmName: bytez(k.SignatureAlgorithmName),
				EncryptAlgorithmName:   bytez(k.EncryptAlgorithmName),
				KeySize:                k.KeySize, SignatureAlgorithm: k.SignatureAlgorithm, EncryptAlgorithm: k.EncryptAlgorithm,
			}
		})
	case *SecPkgContext_SessionKey:
		return fill(v, b, func(k *SecPkgContext_SessionKey, b *SecPkgContext_SessionKey) {
			b.SessionKey = append([]byte(nil), k.SessionKey...)
		})
	}
	if !assignAttribute(pBuffer, v) {
		return status.SEC_E_INVALID_PARAMETER
	}
	return status.SEC_E_OK
}

// fill calls set when v is a non-nil *V and b is non-nil.
func fill[V, B any](v any, b *B, set func(*V, *B)) status.Status {
	vv, ok := v.(*V)
	if !ok || vv == nil || b == nil {
		return status.SEC_E_INVALID_PARAMETER
	}
	set(vv, b)
	return status.SEC_E_OK
}

// SetContextAttributesW is SetContextAttributesW on the default Registry.
func SetContextAttributesW(phContext *CtxtHandle, ulAttribute uint32, pBuffer []byte, cbBuffer uint32) status.Status {
	return defaultRegistry().SetContextAttributesW(phContext, ulAttribute, pBuffer, cbBuffer)
}

// SetContextAttributesA is SetContextAttributesA on the default Registry.
func SetContextAttributesA(phContext *CtxtHandle, ulAttribute uint32, pBuffer []byte, cbBuffer uint32) status.Status {
	return defaultRegistry().SetContextAttributesA(phContext, ulAttribute, pBuffer, cbBuffer)
}

// SetContextAttributesW passes the first cbBuffer bytes of pBuffer for
// ulAttribute to the context's package. cbBuffer larger than len(pBuffer)
// is SEC_E_INVALID_PARAMETER; a package without settable attributes
// answers SEC_E_UNSUPPORTED_FUNCTION.
func (r *Registry) SetContextAttributesW(phContext *CtxtHandle, ulAttribute uint32, pBuffer []byte, cbBuffer uint32) status.Status {
	return r.setContextAttributes(phContext, ulAttribute, pBuffer, cbBuffer)
}

// SetContextAttributesA is SetContextAttributesW; the attribute data has
// no strings to convert.
func (r *Registry) SetContextAttributesA(phContext *CtxtHandle, ulAttribute uint32, pBuffer []byte, cbBuffer uint32) status.Status {
	return r.setContextAttributes(phContext, ulAttribute, pBuffer, cbBuffer)
}

func (r *Registry) setContextAttributes(phContext *CtxtHandle, attr uint32, data []byte, n uint32) status.Status {
	c, err := r.Context(phContext)
	if err != nil {
		return status.Code(err)
	}
	if uint64(n) > uint64(len(data)) {
		return status.SEC_E_INVALID_PARAMETER
	}
	return status.Code(c.SetAttribute(attr, data[:n]))
}

// QuerySecurityContextToken is QuerySecurityContextToken on the default
// Registry.
func QuerySecurityContextToken(phContext *CtxtHandle, Token *uintptr) status.Status {
	return defaultRegistry().QuerySecurityContextToken(phContext, Token)
}

// QuerySecurityContextToken would return a Windows access token for the
// client of a server context. There are no access tokens off Windows: it
// sets *Token to 0 and returns SEC_E_UNSUPPORTED_FUNCTION for a valid
// context (SEC_E_INVALID_HANDLE otherwise). The authenticated names are
// available through SECPKG_ATTR_NAMES and SECPKG_ATTR_NATIVE_NAMES.
func (r *Registry) QuerySecurityContextToken(phContext *CtxtHandle, Token *uintptr) status.Status {
	if Token != nil {
		*Token = 0
	}
	return r.unsupportedOnContext(phContext)
}

// ImpersonateSecurityContext is ImpersonateSecurityContext on the default
// Registry.
func ImpersonateSecurityContext(phContext *CtxtHandle) status.Status {
	return defaultRegistry().ImpersonateSecurityContext(phContext)
}

// ImpersonateSecurityContext returns SEC_E_UNSUPPORTED_FUNCTION for a valid
// context and SEC_E_INVALID_HANDLE otherwise: off Windows there is no
// per-thread identity to switch, and the process's credentials are never
// changed.
func (r *Registry) ImpersonateSecurityContext(phContext *CtxtHandle) status.Status {
	return r.unsupportedOnContext(phContext)
}

// RevertSecurityContext is RevertSecurityContext on the default Registry.
func RevertSecurityContext(phContext *CtxtHandle) status.Status {
	return defaultRegistry().RevertSecurityContext(phContext)
}

// RevertSecurityContext returns SEC_E_UNSUPPORTED_FUNCTION for a valid
// context and SEC_E_INVALID_HANDLE otherwise, as ImpersonateSecurityContext.
func (r *Registry) RevertSecurityContext(phContext *CtxtHandle) status.Status {
	return r.unsupportedOnContext(phContext)
}

func (r *Registry) unsupportedOnContext(phContext *CtxtHandle) status.Status {
	if _, err := r.Context(phContext); err != nil {
		return status.Code(err)
	}
	return status.SEC_E_UNSUPPORTED_FUNCTION
}

// ExportSecurityContext is ExportSecurityContext on the default Registry.
func ExportSecurityContext(phContext *CtxtHandle, fFlags uint32, pPackedContext *secbuffer.Buffer, pToken *uintptr) status.Status {
	return defaultRegistry().ExportSecurityContext(phContext, fFlags, pPackedContext, pToken)
}

// ExportSecurityContext serialises the context into pPackedContext.Data (a
// new slice, the package's own versioned format) for
// ImportSecurityContextW. With SECPKG_CONTEXT_EXPORT_DELETE_OLD the context
// is deleted afterwards and its handle becomes invalid. *pToken, if given,
// is set to 0: there are no access tokens off Windows. The blob holds keys.
func (r *Registry) ExportSecurityContext(phContext *CtxtHandle, fFlags uint32, pPackedContext *secbuffer.Buffer, pToken *uintptr) status.Status {
	if pToken != nil {
		*pToken = 0
	}
	c, err := r.Context(phContext)
	if err != nil {
		return status.Code(err)
	}
	if pPackedContext == nil {
		return status.SEC_E_INVALID_PARAMETER
	}
	blob, err := c.Export()
	if err != nil {
		return status.Code(err)
	}
	pPackedContext.Data = blob
	if fFlags&packages.SECPKG_CONTEXT_EXPORT_DELETE_OLD != 0 {
		r.DeleteSecurityContext(phContext)
	}
	return status.SEC_E_OK
}

// ImportSecurityContextW is ImportSecurityContextW on the default Registry.
func ImportSecurityContextW(pszPackage *uint16, pPackedContext *secbuffer.Buffer, Token uintptr, phContext *CtxtHandle) status.Status {
	return defaultRegistry().ImportSecurityContextW(pszPackage, pPackedContext, Token, phContext)
}

// ImportSecurityContextA is ImportSecurityContextA on the default Registry.
func ImportSecurityContextA(pszPackage *byte, pPackedContext *secbuffer.Buffer, Token uintptr, phContext *CtxtHandle) status.Status {
	return defaultRegistry().ImportSecurityContextA(pszPackage, pPackedContext, Token, phContext)
}

// ImportSecurityContextW rebuilds a context of package pszPackage from a
// blob made by ExportSecurityContext and stores its handle in *phContext.
// Token is ignored. An unknown package is SEC_E_SECPKG_NOT_FOUND; a blob
// the package does not accept, its failure (SEC_E_INVALID_TOKEN, ...).
func (r *Registry) ImportSecurityContextW(pszPackage *uint16, pPackedContext *secbuffer.Buffer, Token uintptr, phContext *CtxtHandle) status.Status {
	return r.importSecurityContext(UTF16PtrToString(pszPackage), pPackedContext, phContext)
}

// ImportSecurityContextA is ImportSecurityContextW with an 8-bit package
// name.
func (r *Registry) ImportSecurityContextA(pszPackage *byte, pPackedContext *secbuffer.Buffer, Token uintptr, phContext *CtxtHandle) status.Status {
	return r.importSecurityContext(BytePtrToString(pszPackage), pPackedContext, phContext)
}

func (r *Registry) importSecurityContext(pkg string, packed *secbuffer.Buffer, phContext *CtxtHandle) status.Status {
	if packed == nil || phContext == nil {
		return status.SEC_E_INVALID_PARAMETER
	}
	c, err := r.ImportContext(pkg, packed.Data)
	if err != nil {
		return status.Code(err)
	}
	phContext.Lower, phContext.Upper = r.ctxts.add(c)
	return status.SEC_E_OK
}
