//lint:file-ignore ST1003 Windows names are kept verbatim so readers can search for them.

package packages

// Values a Context returns from QueryAttribute. Structures without strings
// keep their Windows names and are what QueryContextAttributesW/A fill in;
// the string-bearing ones have Go forms here, and the root converts them to
// the W and A structures.

// SecPkgContext_Sizes answers SECPKG_ATTR_SIZES.
type SecPkgContext_Sizes struct {
	MaxToken        uint32
	MaxSignature    uint32
	BlockSize       uint32
	SecurityTrailer uint32
}

// SecPkgContext_StreamSizes answers SECPKG_ATTR_STREAM_SIZES (Schannel).
type SecPkgContext_StreamSizes struct {
	Header         uint32
	Trailer        uint32
	MaximumMessage uint32
	Buffers        uint32
	BlockSize      uint32
}

// SecPkgContext_Flags answers SECPKG_ATTR_FLAGS.
type SecPkgContext_Flags struct {
	Flags uint32
}

// SecPkgContext_Lifespan answers SECPKG_ATTR_LIFESPAN.
type SecPkgContext_Lifespan struct {
	Start  TimeStamp
	Expiry TimeStamp
}

// SecPkgContext_SessionKey answers SECPKG_ATTR_SESSION_KEY. The key is a
// copy the caller owns.
type SecPkgContext_SessionKey struct {
	SessionKey []byte
}

// Names answers SECPKG_ATTR_NAMES: the authenticated client (on a server
// context) or the user the client authenticated as.
type Names struct {
	UserName string
}

// NativeNames answers SECPKG_ATTR_NATIVE_NAMES.
type NativeNames struct {
	ClientName string
	ServerName string
}

// KeyInfo answers SECPKG_ATTR_KEY_INFO.
type KeyInfo struct {
	SignatureAlgorithmName string
	EncryptAlgorithmName   string
	KeySize                uint32 // bits
	SignatureAlgorithm     uint32 // package-specific id
	EncryptAlgorithm       uint32 // package-specific id
}

// NegotiationInfo answers SECPKG_ATTR_NEGOTIATION_INFO: the package in use
// (for Negotiate, the one selected) and a SECPKG_NEGOTIATION_* state.
type NegotiationInfo struct {
	PackageInfo      Info
	NegotiationState uint32

	// FallbackReason (Go only) is, on a Negotiate client that fell back
	// from Kerberos to NTLM, why Kerberos was not used (no credentials,
	// no KDC for the realm, an unknown SPN, ...); nil otherwise.
	FallbackReason error
}

// Bindings answers SECPKG_ATTR_ENDPOINT_BINDINGS and
// SECPKG_ATTR_UNIQUE_BINDINGS: a complete SEC_CHANNEL_BINDINGS blob ready to
// be passed as a SECBUFFER_CHANNEL_BINDINGS buffer.
type Bindings struct {
	Bindings []byte
}
