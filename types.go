//lint:file-ignore ST1003 Windows names are kept verbatim so readers can search for them.

package sspi

import (
	"encoding/binary"
	"errors"
	"unicode/utf16"

	"github.com/gosspi/sspi/internal/wire"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Windows types that are defined once in the lower packages, re-exported
// so that one import suffices.
type (
	// SECURITY_STATUS is the result of every flat-API call.
	SECURITY_STATUS = status.Status

	// SecBuffer is a SecBuffer: a type and its bytes. An output buffer's
	// capacity is cap(Data) and its result length len(Data).
	SecBuffer = secbuffer.Buffer

	// SecBufferDesc is a SecBufferDesc; Version is SECBUFFER_VERSION (0).
	SecBufferDesc = secbuffer.Desc

	// TimeStamp is a TimeStamp (FILETIME): 100-nanosecond intervals since
	// 1601-01-01 UTC. Its Time method converts it.
	TimeStamp = packages.TimeStamp

	// AuthIdentity is the Go form of SEC_WINNT_AUTH_IDENTITY(_EX): user,
	// domain, password and, for Negotiate, a package list.
	AuthIdentity = packages.AuthIdentity

	// SecPkgContext_Sizes answers SECPKG_ATTR_SIZES.
	SecPkgContext_Sizes = packages.SecPkgContext_Sizes

	// SecPkgContext_StreamSizes answers SECPKG_ATTR_STREAM_SIZES.
	SecPkgContext_StreamSizes = packages.SecPkgContext_StreamSizes

	// SecPkgContext_Flags answers SECPKG_ATTR_FLAGS.
	SecPkgContext_Flags = packages.SecPkgContext_Flags

	// SecPkgContext_Lifespan answers SECPKG_ATTR_LIFESPAN.
	SecPkgContext_Lifespan = packages.SecPkgContext_Lifespan

	// SecPkgContext_SessionKey answers SECPKG_ATTR_SESSION_KEY; the key is
	// a copy the caller owns.
	SecPkgContext_SessionKey = packages.SecPkgContext_SessionKey

	// SecPkgContext_Bindings answers SECPKG_ATTR_ENDPOINT_BINDINGS and
	// SECPKG_ATTR_UNIQUE_BINDINGS.
	SecPkgContext_Bindings = packages.Bindings
)

// TimeStampNever is the largest TimeStamp, which stands for "never
// expires".
const TimeStampNever = packages.TimeStampNever

// LUID is a locally unique identifier, the pvLogonId of
// AcquireCredentialsHandle. Logon sessions do not exist off Windows, so
// the flat API accepts only nil.
type LUID struct {
	LowPart  uint32
	HighPart int32
}

// SecPkgInfoW is SecPkgInfoW: what EnumerateSecurityPackagesW and
// QuerySecurityPackageInfoW return for a package (Windows' fCapabilities,
// wVersion, wRPCID, cbMaxToken, Name, Comment).
type SecPkgInfoW struct {
	Capabilities uint32 // SECPKG_FLAG_* bits
	Version      uint16 // 1 for every Microsoft package
	RPCID        uint16 // RPC_C_AUTHN_* or SECPKG_ID_NONE
	MaxToken     uint32 // largest token ISC/ASC produce
	Name         *uint16
	Comment      *uint16
}

// SecPkgInfoA is SecPkgInfoA: SecPkgInfoW with 8-bit strings.
type SecPkgInfoA struct {
	Capabilities uint32
	Version      uint16
	RPCID        uint16
	MaxToken     uint32
	Name         *byte
	Comment      *byte
}

// SecPkgContext_NamesW answers SECPKG_ATTR_NAMES through
// QueryContextAttributesW.
type SecPkgContext_NamesW struct {
	UserName *uint16
}

// SecPkgContext_NamesA answers SECPKG_ATTR_NAMES through
// QueryContextAttributesA.
type SecPkgContext_NamesA struct {
	UserName *byte
}

// SecPkgContext_NativeNamesW answers SECPKG_ATTR_NATIVE_NAMES (W).
type SecPkgContext_NativeNamesW struct {
	ClientName *uint16
	ServerName *uint16
}

// SecPkgContext_NativeNamesA answers SECPKG_ATTR_NATIVE_NAMES (A).
type SecPkgContext_NativeNamesA struct {
	ClientName *byte
	ServerName *byte
}

// SecPkgContext_PackageInfoW answers SECPKG_ATTR_PACKAGE_INFO (W).
type SecPkgContext_PackageInfoW struct {
	PackageInfo *SecPkgInfoW
}

// SecPkgContext_PackageInfoA answers SECPKG_ATTR_PACKAGE_INFO (A).
type SecPkgContext_PackageInfoA struct {
	PackageInfo *SecPkgInfoA
}

// SecPkgContext_NegotiationInfoW answers SECPKG_ATTR_NEGOTIATION_INFO (W):
// for Negotiate, the package it selected and a SECPKG_NEGOTIATION_* state.
type SecPkgContext_NegotiationInfoW struct {
	PackageInfo      *SecPkgInfoW
	NegotiationState uint32
}

// SecPkgContext_NegotiationInfoA answers SECPKG_ATTR_NEGOTIATION_INFO (A).
type SecPkgContext_NegotiationInfoA struct {
	PackageInfo      *SecPkgInfoA
	NegotiationState uint32
}

// SecPkgContext_KeyInfoW answers SECPKG_ATTR_KEY_INFO (W).
type SecPkgContext_KeyInfoW struct {
	SignatureAlgorithmName *uint16
	EncryptAlgorithmName   *uint16
	KeySize                uint32 // bits
	SignatureAlgorithm     uint32 // package-specific id
	EncryptAlgorithm       uint32 // package-specific id
}

// SecPkgContext_KeyInfoA answers SECPKG_ATTR_KEY_INFO (A).
type SecPkgContext_KeyInfoA struct {
	SignatureAlgorithmName *byte
	EncryptAlgorithmName   *byte
	KeySize                uint32
	SignatureAlgorithm     uint32
	EncryptAlgorithm       uint32
}

// SecPkgCredentials_NamesW answers SECPKG_CRED_ATTR_NAMES through
// QueryCredentialsAttributesW.
type SecPkgCredentials_NamesW struct {
	UserName *uint16
}

// SecPkgCredentials_NamesA answers SECPKG_CRED_ATTR_NAMES through
// QueryCredentialsAttributesA.
type SecPkgCredentials_NamesA struct {
	UserName *byte
}

// SEC_WINNT_AUTH_IDENTITY_W is SEC_WINNT_AUTH_IDENTITY_W: explicit
// credentials for NTLM, Kerberos, Negotiate and WDigest. The strings are
// counted (lengths in characters, without a NUL) and Flags must be
// SEC_WINNT_AUTH_IDENTITY_UNICODE. As on Windows, each pointer must address
// at least its length in characters.
type SEC_WINNT_AUTH_IDENTITY_W struct {
	User           *uint16
	UserLength     uint32
	Domain         *uint16
	DomainLength   uint32
	Password       *uint16
	PasswordLength uint32
	Flags          uint32
}

// SEC_WINNT_AUTH_IDENTITY_A is SEC_WINNT_AUTH_IDENTITY_A: the 8-bit form,
// Flags SEC_WINNT_AUTH_IDENTITY_ANSI.
type SEC_WINNT_AUTH_IDENTITY_A struct {
	User           *byte
	UserLength     uint32
	Domain         *byte
	DomainLength   uint32
	Password       *byte
	PasswordLength uint32
	Flags          uint32
}

// SEC_WINNT_AUTH_IDENTITY_EXW is SEC_WINNT_AUTH_IDENTITY_EXW: Version
// SEC_WINNT_AUTH_IDENTITY_VERSION, and a Negotiate PackageList such as
// "kerberos,!ntlm".
type SEC_WINNT_AUTH_IDENTITY_EXW struct {
	Version           uint32
	Length            uint32
	User              *uint16
	UserLength        uint32
	Domain            *uint16
	DomainLength      uint32
	Password          *uint16
	PasswordLength    uint32
	Flags             uint32
	PackageList       *uint16
	PackageListLength uint32
}

// SEC_WINNT_AUTH_IDENTITY_EXA is SEC_WINNT_AUTH_IDENTITY_EXA.
type SEC_WINNT_AUTH_IDENTITY_EXA struct {
	Version           uint32
	Length            uint32
	User              *byte
	UserLength        uint32
	Domain            *byte
	DomainLength      uint32
	Password          *byte
	PasswordLength    uint32
	Flags             uint32
	PackageList       *byte
	PackageListLength uint32
}

// NewAuthIdentityW returns a SEC_WINNT_AUTH_IDENTITY_W for user, domain and
// password, as C code builds one.
func NewAuthIdentityW(user, domain, password string) *SEC_WINNT_AUTH_IDENTITY_W {
	u, ul := utf16Counted(user)
	d, dl := utf16Counted(domain)
	p, pl := utf16Counted(password)
	return &SEC_WINNT_AUTH_IDENTITY_W{
		User: u, UserLength: ul, Domain: d, DomainLength: dl,
		Password: p, PasswordLength: pl,
		Flags: packages.SEC_WINNT_AUTH_IDENTITY_UNICODE,
	}
}

// NewAuthIdentityA returns a SEC_WINNT_AUTH_IDENTITY_A for user, domain and
// password.
func NewAuthIdentityA(user, domain, password string) *SEC_WINNT_AUTH_IDENTITY_A {
	return &SEC_WINNT_AUTH_IDENTITY_A{
		User: bytez(user), UserLength: uint32(len(user)),
		Domain: bytez(domain), DomainLength: uint32(len(domain)),
		Password: bytez(password), PasswordLength: uint32(len(password)),
		Flags: packages.SEC_WINNT_AUTH_IDENTITY_ANSI,
	}
}

// utf16Counted returns s as UTF-16 (NUL-terminated for safety) and its
// length in code units without the NUL.
func utf16Counted(s string) (*uint16, uint32) {
	p := utf16z(s)
	n := uint32(0)
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return p, n
}

// identity flags: the character-set bits and the rest.
const charsetFlags = packages.SEC_WINNT_AUTH_IDENTITY_ANSI | packages.SEC_WINNT_AUTH_IDENTITY_UNICODE

// convertAuthData turns the Windows identity structures into
// *AuthIdentity, *Credentials into its package's credentials, and passes
// everything else through. A structure whose
// Flags do not match its character set, or whose EX Version is wrong, is
// SEC_E_UNKNOWN_CREDENTIALS.
func convertAuthData(authData any) (any, error) {
	const (
		unicode = packages.SEC_WINNT_AUTH_IDENTITY_UNICODE
		ansi    = packages.SEC_WINNT_AUTH_IDENTITY_ANSI
		version = packages.SEC_WINNT_AUTH_IDENTITY_VERSION
	)
	switch a := authData.(type) {
	case *Credentials:
		if a == nil {
			return nil, nil
		}
		return a.authData() // delegated.go: the package's own credentials, to copy
	case *SEC_WINNT_AUTH_IDENTITY_W:
		if a == nil {
			return nil, nil
		}
		return identityFields[uint16]{a.User, a.UserLength, a.Domain, a.DomainLength, a.Password, a.PasswordLength, nil, 0, a.Flags}.convert(unicode, true)
	case *SEC_WINNT_AUTH_IDENTITY_A:
		if a == nil {
			return nil, nil
		}
		return identityFields[byte]{a.User, a.UserLength, a.Domain, a.DomainLength, a.Password, a.PasswordLength, nil, 0, a.Flags}.convert(ansi, true)
	case *SEC_WINNT_AUTH_IDENTITY_EXW:
		if a == nil {
			return nil, nil
		}
		return identityFields[uint16]{a.User, a.UserLength, a.Domain, a.DomainLength, a.Password, a.PasswordLength, a.PackageList, a.PackageListLength, a.Flags}.convert(unicode, a.Version == version)
	case *SEC_WINNT_AUTH_IDENTITY_EXA:
		if a == nil {
			return nil, nil
		}
		return identityFields[byte]{a.User, a.UserLength, a.Domain, a.DomainLength, a.Password, a.PasswordLength, a.PackageList, a.PackageListLength, a.Flags}.convert(ansi, a.Version == version)
	case SEC_WINNT_AUTH_IDENTITY_EX2:
		return a.convert()
	case *SEC_WINNT_AUTH_IDENTITY_EX2:
		if a == nil {
			return nil, nil
		}
		return a.convert()
	case *AuthIdentity:
		if a == nil {
			return nil, nil
		}
		return a, nil
	}
	return authData, nil
}

// identityFields are the counted strings and flags shared by the W, A and
// EX identity structures, with C the character type.
type identityFields[C uint16 | byte] struct {
	user        *C
	userLen     uint32
	domain      *C
	domainLen   uint32
	password    *C
	passwordLen uint32
	packageList *C
	packageLen  uint32
	flags       uint32
}

// convert checks that the flags name charset alone (and that the structure
// is otherwise well formed) and returns the *AuthIdentity.
func (f identityFields[C]) convert(charset uint32, wellFormed bool) (any, error) {
	if !wellFormed || f.flags&charsetFlags != charset {
		return nil, newError("", "", status.SEC_E_UNKNOWN_CREDENTIALS, errBadAuthData)
	}
	return &AuthIdentity{
		User:        counted(f.user, f.userLen),
		Domain:      counted(f.domain, f.domainLen),
		Password:    counted(f.password, f.passwordLen),
		PackageList: counted(f.packageList, f.packageLen),
		Flags:       f.flags &^ charsetFlags,
	}, nil
}

// SEC_WINNT_AUTH_IDENTITY_EX2 is a SEC_WINNT_AUTH_IDENTITY_EX2 (spec
// structures.md §6.3): the self-relative, Unicode-only identity that
// SspiEncodeStringsAsAuthIdentity and CredUIPromptForWindowsCredentials
// produce, here as its bytes (the 48-byte header, then the strings and
// the SEC_WINNT_AUTH_PACKED_CREDENTIALS its offsets point to). Pass it, or
// a pointer to it, as the auth data of AcquireCredentials.
//
// Only password credentials are understood (packed credentials of type
// SEC_WINNT_AUTH_DATA_TYPE_PASSWORD, or none); they become an
// [*AuthIdentity]. Other credential types (certificates, smart cards) and
// malformed structures give SEC_E_UNKNOWN_CREDENTIALS.
type SEC_WINNT_AUTH_IDENTITY_EX2 []byte

// SEC_WINNT_AUTH_DATA_TYPE_PASSWORD is the GUID
// {28BFC32F-10F6-4738-98D1-1AC061DF716A} of packed password credentials,
// in its in-memory (little-endian) byte order.
var SEC_WINNT_AUTH_DATA_TYPE_PASSWORD = [16]byte{
	0x2f, 0xc3, 0xbf, 0x28, 0xf6, 0x10, 0x38, 0x47,
	0x98, 0xd1, 0x1a, 0xc0, 0x61, 0xdf, 0x71, 0x6a,
}

// Layout of SEC_WINNT_AUTH_IDENTITY_EX2 and SEC_WINNT_AUTH_PACKED_CREDENTIALS.
const (
	ex2HeaderLen    = 48 // Version .. PackageListLength, with padding
	packedHeaderLen = 28 // cbHeaderLength, cbStructureLength, CredType, CredData
)

// NewAuthIdentityEX2 builds a SEC_WINNT_AUTH_IDENTITY_EX2 with password
// credentials, as SspiEncodeStringsAsAuthIdentity does, and packageList
// for Negotiate ("" for none). It returns nil when a string is too long
// for the structure's 16-bit lengths (32,767 UTF-16 units; 32,739 for the
// password, which shares its length with the packed header), which
// AcquireCredentials refuses with SEC_E_UNKNOWN_CREDENTIALS.
func NewAuthIdentityEX2(user, domain, password, packageList string) SEC_WINNT_AUTH_IDENTITY_EX2 {
	// SEC_WINNT_AUTH_PACKED_CREDENTIALS: cbHeaderLength, cbStructureLength,
	// CredType, CredData (ByteArrayOffset u32, ByteArrayLength u16, pad),
	// then the UTF-16 password right after the header.
	// Sized for the password's UTF-16 form (at most two bytes for each
	// byte of UTF-8), so that it is written once and this copy can be
	// zeroed.
	p := wire.NewBuilder(make([]byte, 0, packedHeaderLen+2*len(password)))
	p.AddLen16(packedHeaderLen)
	structLen := p.Reserve16()
	p.AddBytes(SEC_WINNT_AUTH_DATA_TYPE_PASSWORD[:])
	p.AddLen32(packedHeaderLen)
	pwLen := p.Reserve16()
	p.AddZeros(2)
	p.AddUTF16LE(password)
	p.Set16(pwLen, p.Len()-packedHeaderLen)
	p.Set16(structLen, p.Len())
	packed, err := p.Bytes()
	if err != nil {
		return nil
	}

	// The 48-byte header: each string an (offset u32, length u16, pad)
	// field, 0 and 0 when empty, its bytes after the header in field order.
	b := wire.NewBuilder(make([]byte, 0, ex2HeaderLen+2*(len(user)+len(domain)+len(packageList))+len(packed)))
	b.AddUint32LE(SEC_WINNT_AUTH_IDENTITY_VERSION_2)
	b.AddLen16(ex2HeaderLen)
	b.AddZeros(2)
	total := b.Reserve32()
	type field struct {
		off wire.Mark32
		n   wire.Mark16
	}
	addField := func() field {
		f := field{b.Reserve32(), b.Reserve16()}
		b.AddZeros(2)
		return f
	}
	fUser, fDomain, fPacked := addField(), addField(), addField()
	b.AddUint32LE(packages.SEC_WINNT_AUTH_IDENTITY_UNICODE)
	fPackages := addField()
	payload := func(f field, add func()) {
		start := b.Len()
		add()
		if n := b.Len() - start; n > 0 {
			b.Set32(f.off, start)
			b.Set16(f.n, n)
		}
	}
	payload(fUser, func() { b.AddUTF16LE(user) })
	payload(fDomain, func() { b.AddUTF16LE(domain) })
	payload(fPacked, func() { b.AddBytes(packed) })
	payload(fPackages, func() { b.AddUTF16LE(packageList) })
	clear(packed)
	b.Set32(total, b.Len())
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// errBadAuthIdentityEX2 and errPackedCredentialType are the causes of the
// SEC_E_UNKNOWN_CREDENTIALS a SEC_WINNT_AUTH_IDENTITY_EX2 may give.
var (
	errBadAuthIdentityEX2   = errors.New("sspi: malformed SEC_WINNT_AUTH_IDENTITY_EX2")
	errPackedCredentialType = errors.New("sspi: SEC_WINNT_AUTH_IDENTITY_EX2 holds credentials other than a password")
)

// ex2Field is an (offset u32, length u16, padding u16) field of
// SEC_WINNT_AUTH_IDENTITY_EX2 and of SEC_WINNT_AUTH_PACKED_CREDENTIALS.
type ex2Field struct {
	off uint32
	n   uint16
}

func readEX2Field(s *wire.String, f *ex2Field) bool {
	return s.ReadUint32LE(&f.off) && s.ReadUint16LE(&f.n) && s.Skip(2)
}

// convert checks the structure and returns the *AuthIdentity it holds.
// Every field is resolved through wire.Resolve, inside the declared and
// actual lengths and after the header.
func (a SEC_WINNT_AUTH_IDENTITY_EX2) convert() (any, error) {
	bad := func(cause error) (any, error) {
		return nil, newError("", "", status.SEC_E_UNKNOWN_CREDENTIALS, cause)
	}
	b := []byte(a)
	s := wire.String(b)
	var (
		version, total, flags              uint32
		hdr                                uint16
		fUser, fDomain, fPacked, fPackages ex2Field
	)
	if !s.ReadUint32LE(&version) || !s.ReadUint16LE(&hdr) || !s.Skip(2) || !s.ReadUint32LE(&total) ||
		!readEX2Field(&s, &fUser) || !readEX2Field(&s, &fDomain) || !readEX2Field(&s, &fPacked) ||
		!s.ReadUint32LE(&flags) || !readEX2Field(&s, &fPackages) {
		return bad(errBadAuthIdentityEX2)
	}
	if version != SEC_WINNT_AUTH_IDENTITY_VERSION_2 || hdr < ex2HeaderLen || uint64(total) < uint64(hdr) || uint64(total) > uint64(len(b)) {
		return bad(errBadAuthIdentityEX2)
	}
	b = b[:total]
	if flags&packages.SEC_WINNT_AUTH_IDENTITY_ANSI != 0 {
		return bad(errBadAuthIdentityEX2) // EX2 is Unicode only
	}
	text := func(p []byte) (string, bool) {
		if len(p)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(p)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(p[2*i:])
		}
		return string(utf16.Decode(u)), true
	}
	var strs [3]string // user, domain, package list
	for i, f := range [3]ex2Field{fUser, fDomain, fPackages} {
		var p []byte
		if !wire.Resolve(b, int(hdr), uint64(f.off), uint64(f.n), &p) {
			return bad(errBadAuthIdentityEX2)
		}
		var ok bool
		if strs[i], ok = text(p); !ok {
			return bad(errBadAuthIdentityEX2)
		}
	}
	var packed []byte
	if !wire.Resolve(b, int(hdr), uint64(fPacked.off), uint64(fPacked.n), &packed) {
		return bad(errBadAuthIdentityEX2)
	}
	password := ""
	if len(packed) > 0 {
		// SEC_WINNT_AUTH_PACKED_CREDENTIALS: cbHeaderLength,
		// cbStructureLength, then SEC_WINNT_AUTH_DATA (CredType GUID,
		// CredData offset and length, relative to the packed structure).
		ps := wire.String(packed)
		var (
			phdr, ptotal uint16
			credType     [16]byte
			credData     ex2Field
		)
		if !ps.ReadUint16LE(&phdr) || !ps.ReadUint16LE(&ptotal) || !ps.CopyBytes(credType[:]) || !readEX2Field(&ps, &credData) {
			return bad(errBadAuthIdentityEX2)
		}
		if phdr < packedHeaderLen || ptotal < phdr || int(ptotal) > len(packed) {
			return bad(errBadAuthIdentityEX2)
		}
		packed = packed[:ptotal]
		if credType != SEC_WINNT_AUTH_DATA_TYPE_PASSWORD {
			return bad(errPackedCredentialType)
		}
		var p []byte
		if !wire.Resolve(packed, int(phdr), uint64(credData.off), uint64(credData.n), &p) {
			return bad(errBadAuthIdentityEX2)
		}
		var ok bool
		if password, ok = text(p); !ok {
			return bad(errBadAuthIdentityEX2)
		}
	}
	return &AuthIdentity{
		User: strs[0], Domain: strs[1], Password: password, PackageList: strs[2],
		Flags: flags &^ charsetFlags,
	}, nil
}

// pkgInfoW converts Info to a SecPkgInfoW.
func pkgInfoW(i packages.Info) SecPkgInfoW {
	return SecPkgInfoW{
		Capabilities: i.Capabilities, Version: i.Version, RPCID: i.RPCID, MaxToken: i.MaxToken,
		Name: utf16z(i.Name), Comment: utf16z(i.Comment),
	}
}

// pkgInfoA converts Info to a SecPkgInfoA.
func pkgInfoA(i packages.Info) SecPkgInfoA {
	return SecPkgInfoA{
		Capabilities: i.Capabilities, Version: i.Version, RPCID: i.RPCID, MaxToken: i.MaxToken,
		Name: bytez(i.Name), Comment: bytez(i.Comment),
	}
}
