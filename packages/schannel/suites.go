package schannel

import (
	"crypto/tls"
	"io"

	"github.com/gosspi/sspi/packages"
)

// suiteInfo describes a cipher suite for SecPkgContext_ConnectionInfo,
// SecPkgContext_CipherInfo and SecPkgContext_StreamSizes.
type suiteInfo struct {
	id         uint16
	tls13      bool
	cipherAlg  uint32 // CALG_*
	cipherName string // CNG name
	bits       uint32
	cbc        bool
	chacha     bool
	hashAlg    uint32 // CALG_* of the MAC (CBC) or PRF (AEAD) hash
	hashName   string
	hashBits   uint32
	auth       string // "RSA", "ECDSA" or "" (TLS 1.3: from the certificate)

	header  int // record header plus explicit nonce or IV
	trailer int // largest tag, MAC and padding (and TLS 1.3 content type)
	block   int // cbBlockSize
}

var suiteTable = []suiteInfo{
	// TLS 1.3 (RFC 8446 B.4): 5-byte header; tag and inner content type after the data.
	{id: tls.TLS_AES_128_GCM_SHA256, tls13: true, cipherAlg: packages.CALG_AES_128, cipherName: "AES", bits: 128, hashAlg: packages.CALG_SHA_256, hashName: "SHA256", hashBits: 256, header: 5, trailer: 17, block: 1},
	{id: tls.TLS_AES_256_GCM_SHA384, tls13: true, cipherAlg: packages.CALG_AES_256, cipherName: "AES", bits: 256, hashAlg: packages.CALG_SHA_384, hashName: "SHA384", hashBits: 384, header: 5, trailer: 17, block: 1},
	{id: tls.TLS_CHACHA20_POLY1305_SHA256, tls13: true, cipherName: "CHACHA20_POLY1305", bits: 256, chacha: true, hashAlg: packages.CALG_SHA_256, hashName: "SHA256", hashBits: 256, header: 5, trailer: 17, block: 1},

	// TLS 1.2 AES-GCM (RFC 5288): 8-byte explicit nonce after the header.
	{id: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, cipherAlg: packages.CALG_AES_128, cipherName: "AES", bits: 128, hashAlg: packages.CALG_SHA_256, hashName: "SHA256", hashBits: 256, auth: "ECDSA", header: 13, trailer: 16, block: 1},
	{id: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, cipherAlg: packages.CALG_AES_128, cipherName: "AES", bits: 128, hashAlg: packages.CALG_SHA_256, hashName: "SHA256", hashBits: 256, auth: "RSA", header: 13, trailer: 16, block: 1},
	{id: tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, cipherAlg: packages.CALG_AES_256, cipherName: "AES", bits: 256, hashAlg: packages.CALG_SHA_384, hashName: "SHA384", hashBits: 384, auth: "ECDSA", header: 13, trailer: 16, block: 1},
	{id: tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, cipherAlg: packages.CALG_AES_256, cipherName: "AES", bits: 256, hashAlg: packages.CALG_SHA_384, hashName: "SHA384", hashBits: 384, auth: "RSA", header: 13, trailer: 16, block: 1},
	// TLS 1.2 ChaCha20-Poly1305 (RFC 7905): no explicit nonce.
	{id: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, cipherName: "CHACHA20_POLY1305", bits: 256, chacha: true, hashAlg: packages.CALG_SHA_256, hashName: "SHA256", hashBits: 256, auth: "ECDSA", header: 5, trailer: 16, block: 1},
	{id: tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, cipherName: "CHACHA20_POLY1305", bits: 256, chacha: true, hashAlg: packages.CALG_SHA_256, hashName: "SHA256", hashBits: 256, auth: "RSA", header: 5, trailer: 16, block: 1},
	// TLS 1.2 AES-CBC with HMAC-SHA1 (RFC 5246 6.2.3.2): 16-byte IV, then
	// the 20-byte MAC and 1..16 bytes of padding.
	{id: tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, cipherAlg: packages.CALG_AES_128, cipherName: "AES", bits: 128, cbc: true, hashAlg: packages.CALG_SHA1, hashName: "SHA1", hashBits: 160, auth: "ECDSA", header: 21, trailer: 36, block: 16},
	{id: tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, cipherAlg: packages.CALG_AES_128, cipherName: "AES", bits: 128, cbc: true, hashAlg: packages.CALG_SHA1, hashName: "SHA1", hashBits: 160, auth: "RSA", header: 21, trailer: 36, block: 16},
	{id: tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, cipherAlg: packages.CALG_AES_256, cipherName: "AES", bits: 256, cbc: true, hashAlg: packages.CALG_SHA1, hashName: "SHA1", hashBits: 160, auth: "ECDSA", header: 21, trailer: 36, block: 16},
	{id: tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, cipherAlg: packages.CALG_AES_256, cipherName: "AES", bits: 256, cbc: true, hashAlg: packages.CALG_SHA1, hashName: "SHA1", hashBits: 160, auth: "RSA", header: 21, trailer: 36, block: 16},
}

func lookupSuite(id uint16) *suiteInfo {
	for i := range suiteTable {
		if suiteTable[i].id == id {
			return &suiteTable[i]
		}
	}
	return nil
}

// filterSuites applies the cipher limits of a credential to the TLS 1.2
// suites crypto/tls enables by default. restricted is false when no limit
// was given (crypto/tls then keeps its own defaults).
func filterSuites(algs []uint32, minBits, maxBits uint32, disabled []CRYPTO_SETTINGS) (suites []uint16, restricted bool) {
	if len(algs) == 0 && minBits == 0 && maxBits == 0 && len(disabled) == 0 {
		return nil, false
	}
	var ciphers, kex, hashes []uint32
	for _, a := range algs {
		switch a {
		case packages.CALG_AES_128, packages.CALG_AES_192, packages.CALG_AES_256, packages.CALG_AES,
			packages.CALG_3DES, packages.CALG_DES, packages.CALG_RC4, packages.CALG_NULLCIPHER:
			ciphers = append(ciphers, a)
		case packages.CALG_ECDH_EPHEM, packages.CALG_ECDH, packages.CALG_DH_EPHEM, packages.CALG_RSA_KEYX:
			kex = append(kex, a)
		case packages.CALG_SHA1, packages.CALG_SHA_256, packages.CALG_SHA_384, packages.CALG_SHA_512, packages.CALG_MD5:
			hashes = append(hashes, a)
		}
	}
	has := func(set []uint32, v ...uint32) bool {
		for _, s := range set {
			for _, x := range v {
				if s == x {
					return true
				}
			}
		}
		return false
	}
	for i := range suiteTable {
		s := &suiteTable[i]
		if s.tls13 {
			continue
		}
		if len(ciphers) > 0 && (s.chacha || !has(ciphers, s.cipherAlg, packages.CALG_AES)) {
			continue
		}
		if len(kex) > 0 && !has(kex, packages.CALG_ECDH_EPHEM, packages.CALG_ECDH) {
			continue
		}
		if len(hashes) > 0 && !has(hashes, s.hashAlg) {
			continue
		}
		if minBits != 0 && s.bits < minBits || maxBits != 0 && s.bits > maxBits {
			continue
		}
		if disabledBy(s, disabled) {
			continue
		}
		suites = append(suites, s.id)
	}
	return suites, true
}

func disabledBy(s *suiteInfo, settings []CRYPTO_SETTINGS) bool {
	for _, cs := range settings {
		var match bool
		var bits uint32
		switch cs.AlgorithmUsage {
		case TlsParametersCngAlgUsageCipher:
			bits = s.bits
			switch cs.CngAlgId {
			case "AES":
				match = !s.chacha
			case "CHACHA20_POLY1305":
				match = s.chacha
			}
			if match && len(cs.ChainingModes) > 0 {
				mode := "ChainingModeGCM"
				if s.cbc {
					mode = "ChainingModeCBC"
				}
				match = false
				for _, m := range cs.ChainingModes {
					if m == mode {
						match = true
					}
				}
			}
		case TlsParametersCngAlgUsageDigest:
			match, bits = cs.CngAlgId == s.hashName, s.hashBits
		case TlsParametersCngAlgUsageKeyExchange:
			match = cs.CngAlgId == "ECDH" || cs.CngAlgId == "ECDHE"
		case TlsParametersCngAlgUsageSignature, TlsParametersCngAlgUsageCertSig:
			match = cs.CngAlgId == s.auth
		}
		if !match {
			continue
		}
		if cs.MinBitLength == 0 && cs.MaxBitLength == 0 {
			return true
		}
		if bits < cs.MinBitLength || cs.MaxBitLength != 0 && bits > cs.MaxBitLength {
			return true
		}
	}
	return false
}

func readFull(r io.Reader, b []byte) (int, error) { return io.ReadFull(r, b) }
