package sspi

import (
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// EnumerateSecurityPackagesW is EnumerateSecurityPackagesW on the default
// Registry.
func EnumerateSecurityPackagesW(pcPackages *uint32, ppPackageInfo **SecPkgInfoW) status.Status {
	return defaultRegistry().EnumerateSecurityPackagesW(pcPackages, ppPackageInfo)
}

// EnumerateSecurityPackagesA is EnumerateSecurityPackagesA on the default
// Registry.
func EnumerateSecurityPackagesA(pcPackages *uint32, ppPackageInfo **SecPkgInfoA) status.Status {
	return defaultRegistry().EnumerateSecurityPackagesA(pcPackages, ppPackageInfo)
}

// EnumerateSecurityPackagesW stores the number of packages in *pcPackages
// and, in *ppPackageInfo, a pointer to the first of that many SecPkgInfoW
// (nil when there are none), in registration order. Read them with
// unsafe.Slice(*ppPackageInfo, *pcPackages). The array is Go memory:
// FreeContextBuffer on it is a no-op.
func (r *Registry) EnumerateSecurityPackagesW(pcPackages *uint32, ppPackageInfo **SecPkgInfoW) status.Status {
	return enumerate(r, pcPackages, ppPackageInfo, pkgInfoW)
}

// EnumerateSecurityPackagesA is EnumerateSecurityPackagesW with
// SecPkgInfoA.
func (r *Registry) EnumerateSecurityPackagesA(pcPackages *uint32, ppPackageInfo **SecPkgInfoA) status.Status {
	return enumerate(r, pcPackages, ppPackageInfo, pkgInfoA)
}

func enumerate[T any](r *Registry, pcPackages *uint32, ppPackageInfo **T, conv func(packages.Info) T) status.Status {
	if pcPackages == nil || ppPackageInfo == nil {
		return status.SEC_E_INVALID_PARAMETER
	}
	infos := r.Packages()
	*pcPackages, *ppPackageInfo = uint32(len(infos)), nil
	if len(infos) > 0 {
		out := make([]T, len(infos))
		for i, info := range infos {
			out[i] = conv(info)
		}
		*ppPackageInfo = &out[0]
	}
	return status.SEC_E_OK
}

// QuerySecurityPackageInfoW is QuerySecurityPackageInfoW on the default
// Registry.
func QuerySecurityPackageInfoW(pszPackageName *uint16, ppPackageInfo **SecPkgInfoW) status.Status {
	return defaultRegistry().QuerySecurityPackageInfoW(pszPackageName, ppPackageInfo)
}

// QuerySecurityPackageInfoA is QuerySecurityPackageInfoA on the default
// Registry.
func QuerySecurityPackageInfoA(pszPackageName *byte, ppPackageInfo **SecPkgInfoA) status.Status {
	return defaultRegistry().QuerySecurityPackageInfoA(pszPackageName, ppPackageInfo)
}

// QuerySecurityPackageInfoW stores in *ppPackageInfo the SecPkgInfoW of the
// package named pszPackageName (compared case-insensitively), or nil and
// SEC_E_SECPKG_NOT_FOUND.
func (r *Registry) QuerySecurityPackageInfoW(pszPackageName *uint16, ppPackageInfo **SecPkgInfoW) status.Status {
	return queryPackageInfo(r, pszPackageName == nil, UTF16PtrToString(pszPackageName), ppPackageInfo, pkgInfoW)
}

// QuerySecurityPackageInfoA is QuerySecurityPackageInfoW with SecPkgInfoA.
func (r *Registry) QuerySecurityPackageInfoA(pszPackageName *byte, ppPackageInfo **SecPkgInfoA) status.Status {
	return queryPackageInfo(r, pszPackageName == nil, BytePtrToString(pszPackageName), ppPackageInfo, pkgInfoA)
}

func queryPackageInfo[T any](r *Registry, noName bool, name string, ppPackageInfo **T, conv func(packages.Info) T) status.Status {
	if ppPackageInfo == nil {
		return status.SEC_E_INVALID_PARAMETER
	}
	*ppPackageInfo = nil
	reg, err := r.lookup(name)
	if err != nil || noName {
		return status.SEC_E_SECPKG_NOT_FOUND
	}
	info := conv(reg.info)
	*ppPackageInfo = &info
	return status.SEC_E_OK
}

// FreeContextBuffer releases memory a package returned. Everything this
// emulation returns is Go memory, reclaimed by the garbage collector, so it
// accepts any value (including nil) and returns SEC_E_OK; calling it keeps
// code ported from Windows unchanged.
func FreeContextBuffer(pvContextBuffer any) status.Status {
	return status.SEC_E_OK
}
