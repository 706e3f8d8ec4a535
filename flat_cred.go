package sspi

import (
	"context"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// AcquireCredentialsHandleW is AcquireCredentialsHandleW on the default
// Registry; see [Registry.AcquireCredentialsHandleW].
func AcquireCredentialsHandleW(pszPrincipal *uint16, pszPackage *uint16, fCredentialUse uint32, pvLogonId *LUID, pAuthData any, pGetKeyFn, pvGetKeyArgument uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().AcquireCredentialsHandleW(pszPrincipal, pszPackage, fCredentialUse, pvLogonId, pAuthData, pGetKeyFn, pvGetKeyArgument, phCredential, ptsExpiry)
}

// AcquireCredentialsHandleA is AcquireCredentialsHandleA on the default
// Registry; see [Registry.AcquireCredentialsHandleW].
func AcquireCredentialsHandleA(pszPrincipal *byte, pszPackage *byte, fCredentialUse uint32, pvLogonId *LUID, pAuthData any, pGetKeyFn, pvGetKeyArgument uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	return defaultRegistry().AcquireCredentialsHandleA(pszPrincipal, pszPackage, fCredentialUse, pvLogonId, pAuthData, pGetKeyFn, pvGetKeyArgument, phCredential, ptsExpiry)
}

// AcquireCredentialsHandleW acquires credentials of the package named
// pszPackage for fCredentialUse (SECPKG_CRED_INBOUND, _OUTBOUND or _BOTH)
// and stores their handle in *phCredential. pAuthData is nil (default
// credentials), a *SEC_WINNT_AUTH_IDENTITY_W, *SEC_WINNT_AUTH_IDENTITY_EXW
// (or their A forms), an [*AuthIdentity], or a package's own credential
// type. pGetKeyFn and pvGetKeyArgument must be 0: there are no RPC key
// callbacks off Windows. pvLogonId is nil, or a LUID from
// [Registry.QueryContextLogonID] with SECPKG_CRED_OUTBOUND and no
// pAuthData: the credentials the client of that server context
// delegated (SEC_E_NO_CREDENTIALS when it delegated none or the context
// is gone).
//
// It returns SEC_E_OK, SEC_E_SECPKG_NOT_FOUND, SEC_E_UNKNOWN_CREDENTIALS,
// SEC_E_NO_CREDENTIALS, SEC_E_INVALID_PARAMETER or the package's failure.
// Free the handle with FreeCredentialsHandle.
func (r *Registry) AcquireCredentialsHandleW(pszPrincipal *uint16, pszPackage *uint16, fCredentialUse uint32, pvLogonId *LUID, pAuthData any, pGetKeyFn, pvGetKeyArgument uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	return r.acquireCredentialsHandle(context.Background(), UTF16PtrToString(pszPrincipal), pszPackage == nil, UTF16PtrToString(pszPackage), fCredentialUse, pvLogonId, pAuthData, pGetKeyFn, pvGetKeyArgument, phCredential, ptsExpiry)
}

// AcquireCredentialsHandleA is AcquireCredentialsHandleW with 8-bit
// strings.
func (r *Registry) AcquireCredentialsHandleA(pszPrincipal *byte, pszPackage *byte, fCredentialUse uint32, pvLogonId *LUID, pAuthData any, pGetKeyFn, pvGetKeyArgument uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	return r.acquireCredentialsHandle(context.Background(), BytePtrToString(pszPrincipal), pszPackage == nil, BytePtrToString(pszPackage), fCredentialUse, pvLogonId, pAuthData, pGetKeyFn, pvGetKeyArgument, phCredential, ptsExpiry)
}

// acquireCredentialsHandle is the common body of AcquireCredentialsHandleW
// and A. ctx reaches the package's AcquireCredentials (Kerberos may ask
// its KDC for a TGT): context.Background() from the flat calls, the
// call's context from the async ones.
func (r *Registry) acquireCredentialsHandle(ctx context.Context, principal string, noPackage bool, pkg string, use uint32, logonID *LUID, authData any, getKeyFn, getKeyArg uintptr, phCredential *CredHandle, ptsExpiry *TimeStamp) status.Status {
	switch {
	case noPackage:
		return status.SEC_E_SECPKG_NOT_FOUND
	case phCredential == nil:
		return status.SEC_E_INVALID_PARAMETER
	case getKeyFn != 0 || getKeyArg != 0:
		return status.SEC_E_UNSUPPORTED_FUNCTION
	}
	var cred *Credentials
	var err error
	if logonID != nil {
		cred, err = r.acquireLogonCredentials(ctx, principal, pkg, use, logonID, authData) // delegated.go
	} else {
		cred, err = r.acquireCredentials(ctx, "AcquireCredentialsHandle", principal, pkg, use, authData)
	}
	if err != nil {
		return status.Code(err)
	}
	phCredential.Lower, phCredential.Upper = r.creds.add(cred)
	if ptsExpiry != nil {
		*ptsExpiry = packages.NewTimeStamp(cred.Expiry())
	}
	return status.SEC_E_OK
}

// Credentials returns the credentials h names, or SEC_E_INVALID_HANDLE: the
// bridge from a flat-API handle to the Go API.
func (r *Registry) Credentials(h *CredHandle) (*Credentials, error) {
	if h == nil {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	c, ok := r.creds.get(h.Lower, h.Upper)
	if !ok {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	return c, nil
}

// FreeCredentialsHandle is FreeCredentialsHandle on the default Registry.
func FreeCredentialsHandle(phCredential *CredHandle) status.Status {
	return defaultRegistry().FreeCredentialsHandle(phCredential)
}

// FreeCredentialsHandle frees the credentials *phCredential names. Contexts
// created from them stay usable. A second call, or any handle r did not
// issue, gives SEC_E_INVALID_HANDLE.
func (r *Registry) FreeCredentialsHandle(phCredential *CredHandle) status.Status {
	if phCredential == nil {
		return status.SEC_E_INVALID_HANDLE
	}
	c, ok := r.creds.remove(phCredential.Lower, phCredential.Upper)
	if !ok {
		return status.SEC_E_INVALID_HANDLE
	}
	c.Free()
	return status.SEC_E_OK
}

// QueryCredentialsAttributesW is QueryCredentialsAttributesW on the
// default Registry.
func QueryCredentialsAttributesW(phCredential *CredHandle, ulAttribute uint32, pBuffer any) status.Status {
	return defaultRegistry().QueryCredentialsAttributesW(phCredential, ulAttribute, pBuffer)
}

// QueryCredentialsAttributesA is QueryCredentialsAttributesA on the
// default Registry.
func QueryCredentialsAttributesA(phCredential *CredHandle, ulAttribute uint32, pBuffer any) status.Status {
	return defaultRegistry().QueryCredentialsAttributesA(phCredential, ulAttribute, pBuffer)
}

// QueryCredentialsAttributesW answers SECPKG_CRED_ATTR_NAMES into a
// *SecPkgCredentials_NamesW; other attributes are passed to the package,
// whose answer is stored in pBuffer when it points to the answer's type
// (or is a *any).
func (r *Registry) QueryCredentialsAttributesW(phCredential *CredHandle, ulAttribute uint32, pBuffer any) status.Status {
	return r.queryCredentialsAttributes(phCredential, ulAttribute, pBuffer)
}

// QueryCredentialsAttributesA is QueryCredentialsAttributesW with
// *SecPkgCredentials_NamesA.
func (r *Registry) QueryCredentialsAttributesA(phCredential *CredHandle, ulAttribute uint32, pBuffer any) status.Status {
	return r.queryCredentialsAttributes(phCredential, ulAttribute, pBuffer)
}

func (r *Registry) queryCredentialsAttributes(phCredential *CredHandle, attr uint32, pBuffer any) status.Status {
	c, err := r.Credentials(phCredential)
	if err != nil {
		return status.Code(err)
	}
	// One implementation: the Go API answers, the flat API translates.
	v, err := c.QueryAttribute(attr)
	if err != nil {
		return status.Code(err)
	}
	if n, ok := v.(*packages.Names); ok && attr == packages.SECPKG_CRED_ATTR_NAMES {
		switch b := pBuffer.(type) {
		case *SecPkgCredentials_NamesW:
			if b != nil {
				b.UserName = utf16z(n.UserName)
				return status.SEC_E_OK
			}
		case *SecPkgCredentials_NamesA:
			if b != nil {
				b.UserName = bytez(n.UserName)
				return status.SEC_E_OK
			}
		}
		return status.SEC_E_INVALID_PARAMETER
	}
	if !assignAttribute(pBuffer, v) {
		return status.SEC_E_INVALID_PARAMETER
	}
	return status.SEC_E_OK
}
