//lint:file-ignore ST1003 Windows names are kept verbatim so readers can search for them.

package schannel

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"unicode/utf16"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// SecPkgContext_ConnectionInfo answers SECPKG_ATTR_CONNECTION_INFO (spec
// structures.md §6.6). Algorithms are CryptoAPI ALG_IDs; AEAD suites report
// the hash of their PRF, and ChaCha20-Poly1305 (which has no ALG_ID) a
// cipher of 0 with its strength.
type SecPkgContext_ConnectionInfo struct {
	Protocol       uint32 // dwProtocol: one SP_PROT_* bit
	Cipher         uint32 // aiCipher
	CipherStrength uint32 // dwCipherStrength, bits
	Hash           uint32 // aiHash
	HashStrength   uint32 // dwHashStrength, bits
	Exch           uint32 // aiExch
	ExchStrength   uint32 // dwExchStrength, bits
}

// SZ_ALG_MAX_SIZE is the length of the name arrays of
// SecPkgContext_CipherInfo.
const SZ_ALG_MAX_SIZE = 64

// SECPKGCONTEXT_CIPHERINFO_V1 is SecPkgContext_CipherInfo.Version.
const SECPKGCONTEXT_CIPHERINFO_V1 = 1

// SecPkgContext_CipherInfo answers SECPKG_ATTR_CIPHER_INFO: the IANA cipher
// suite and CNG algorithm names, as NUL-terminated UTF-16 arrays as in
// schannel.h (use [UTF16ToString] to read them).
type SecPkgContext_CipherInfo struct {
	Version         uint32
	Protocol        uint32
	CipherSuite     uint32
	BaseCipherSuite uint32
	CipherSuiteName [SZ_ALG_MAX_SIZE]uint16 // szCipherSuite
	Cipher          [SZ_ALG_MAX_SIZE]uint16 // szCipher
	CipherLen       uint32                  // bits
	CipherBlockLen  uint32                  // bytes
	Hash            [SZ_ALG_MAX_SIZE]uint16 // szHash
	HashLen         uint32
	Exchange        [SZ_ALG_MAX_SIZE]uint16 // szExchange
	MinExchangeLen  uint32
	MaxExchangeLen  uint32
	Certificate     [SZ_ALG_MAX_SIZE]uint16 // szCertificate
	KeyType         uint32
}

// SECPKGCONTEXT_CONNECTION_INFO_EX_V1 is SecPkgContext_ConnectionInfoEx.Version.
const SECPKGCONTEXT_CONNECTION_INFO_EX_V1 = 1

// SecPkgContext_ConnectionInfoEx answers SECPKG_ATTR_CONNECTION_INFO_EX:
// SecPkgContext_ConnectionInfo with CNG algorithm names instead of
// ALG_IDs.
type SecPkgContext_ConnectionInfoEx struct {
	Version        uint32
	Protocol       uint32
	Cipher         [SZ_ALG_MAX_SIZE]uint16 // szCipher
	CipherStrength uint32
	Hash           [SZ_ALG_MAX_SIZE]uint16 // szHash
	HashStrength   uint32
	Exchange       [SZ_ALG_MAX_SIZE]uint16 // szExchange
	ExchStrength   uint32
}

// SecPkgContext_SessionInfo answers SECPKG_ATTR_SESSION_INFO. Flags has
// SSL_SESSION_RECONNECT when the session was resumed. crypto/tls does not
// expose session ids, so SessionIdSize is 0.
type SecPkgContext_SessionInfo struct {
	Flags         uint32
	SessionIdSize uint32
	SessionId     [32]byte
}

// SecPkgContext_ApplicationProtocol answers
// SECPKG_ATTR_APPLICATION_PROTOCOL.
type SecPkgContext_ApplicationProtocol struct {
	ProtoNegoStatus uint32 // SecApplicationProtocolNegotiationStatus_*
	ProtoNegoExt    uint32 // SecApplicationProtocolNegotiationExt_*
	ProtocolIdSize  uint8
	ProtocolId      [255]byte
}

// Protocol returns the negotiated protocol id as a string.
func (a *SecPkgContext_ApplicationProtocol) Protocol() string {
	return string(a.ProtocolId[:a.ProtocolIdSize])
}

// SecPkgContext_Certificates answers SECPKG_ATTR_REMOTE_CERTIFICATES: the
// chain the peer sent, each certificate as a 32-bit little-endian length
// followed by its DER bytes.
type SecPkgContext_Certificates struct {
	Certificates     uint32
	CertificateChain []byte
}

// SecPkgContext_IssuerListInfoEx answers SECPKG_ATTR_ISSUER_LIST_EX on a
// client: the DER-encoded distinguished names of the certificate
// authorities the server accepts, known after the server asked for a
// client certificate.
type SecPkgContext_IssuerListInfoEx struct {
	Issuers [][]byte
}

// SecPkgContext_CertificateValidationResult answers
// SECPKG_ATTR_CERT_CHECK_RESULT: the result of the automatic validation of
// the server certificate (VerifyChainStatus is a CERT_E_* HRESULT, 0 when
// valid). With SCH_CRED_DEFERRED_CRED_VALIDATION the handshake succeeds
// and the caller reads the result here.
type SecPkgContext_CertificateValidationResult struct {
	ChainErrorStatus  uint32 // CERT_TRUST_* error bits
	VerifyChainStatus uint32 // HRESULT
}

// CERT_TRUST_* error bits of SecPkgContext_CertificateValidationResult.
const (
	CERT_TRUST_NO_ERROR               = 0x00000000
	CERT_TRUST_IS_NOT_TIME_VALID      = 0x00000001
	CERT_TRUST_IS_UNTRUSTED_ROOT      = 0x00000020
	CERT_TRUST_IS_NOT_VALID_FOR_USAGE = 0x00000010
	CERT_TRUST_IS_PARTIAL_CHAIN       = 0x00010000
)

// UTF16ToString converts a NUL-terminated UTF-16 array to a string.
func UTF16ToString(s []uint16) string {
	for i, v := range s {
		if v == 0 {
			s = s[:i]
			break
		}
	}
	return string(utf16.Decode(s))
}

func utf16Array(s string) (a [SZ_ALG_MAX_SIZE]uint16) {
	u := utf16.Encode([]rune(s))
	if len(u) > SZ_ALG_MAX_SIZE-1 {
		u = u[:SZ_ALG_MAX_SIZE-1]
	}
	copy(a[:], u)
	return a
}

// protocolBit returns the SP_PROT_* bit of a version on one side.
func protocolBit(vers uint16, client bool) uint32 {
	var b uint32
	switch vers {
	case tls.VersionTLS13:
		b = packages.SP_PROT_TLS1_3_SERVER
	case tls.VersionTLS12:
		b = packages.SP_PROT_TLS1_2_SERVER
	case tls.VersionTLS11:
		b = packages.SP_PROT_TLS1_1_SERVER
	case tls.VersionTLS10:
		b = packages.SP_PROT_TLS1_0_SERVER
	}
	if client {
		b <<= 1
	}
	return b
}

// exchangeBits is the strength of the key exchange group.
func exchangeBits(id tls.CurveID) uint32 {
	switch id {
	case tls.X25519, tls.X25519MLKEM768:
		return 255
	case tls.CurveP256:
		return 256
	case tls.CurveP384:
		return 384
	case tls.CurveP521:
		return 521
	}
	return 0
}

func exchangeName(id tls.CurveID) string {
	if id == tls.X25519MLKEM768 {
		return "X25519MLKEM768"
	}
	return "ECDH"
}

// certKind names the public key algorithm of a certificate.
func certKind(c *x509.Certificate) (string, uint32) {
	if c == nil {
		return "", 0
	}
	switch c.PublicKeyAlgorithm {
	case x509.RSA:
		return "RSA", packages.CALG_RSA_SIGN
	case x509.ECDSA:
		return "ECDSA", packages.CALG_ECDSA
	case x509.Ed25519:
		return "Ed25519", 0
	}
	return "", 0
}

// query answers the attributes that exist once the handshake is complete.
func (c *schannelContext) query(attr uint32) (any, error) {
	cs := &c.cs
	s := c.suite
	switch attr {
	case packages.SECPKG_ATTR_STREAM_SIZES:
		return &packages.SecPkgContext_StreamSizes{
			Header:         uint32(s.header),
			Trailer:        uint32(s.trailer),
			MaximumMessage: maxPlaintext,
			Buffers:        4,
			BlockSize:      uint32(s.block),
		}, nil
	case packages.SECPKG_ATTR_CONNECTION_INFO:
		return &SecPkgContext_ConnectionInfo{
			Protocol:       protocolBit(cs.Version, c.client),
			Cipher:         s.cipherAlg,
			CipherStrength: s.bits,
			Hash:           s.hashAlg,
			HashStrength:   s.hashBits,
			Exch:           packages.CALG_ECDH_EPHEM,
			ExchStrength:   exchangeBits(cs.CurveID),
		}, nil
	case packages.SECPKG_ATTR_CONNECTION_INFO_EX:
		return &SecPkgContext_ConnectionInfoEx{
			Version:        SECPKGCONTEXT_CONNECTION_INFO_EX_V1,
			Protocol:       protocolBit(cs.Version, c.client),
			Cipher:         utf16Array(s.cipherName),
			CipherStrength: s.bits,
			Hash:           utf16Array(s.hashName),
			HashStrength:   s.hashBits,
			Exchange:       utf16Array(exchangeName(cs.CurveID)),
			ExchStrength:   exchangeBits(cs.CurveID),
		}, nil
	case packages.SECPKG_ATTR_CIPHER_INFO:
		kind, keyType := certKind(c.serverLeaf())
		block := uint32(0)
		if !s.chacha {
			block = 16
		}
		bits := exchangeBits(cs.CurveID)
		return &SecPkgContext_CipherInfo{
			Version:         SECPKGCONTEXT_CIPHERINFO_V1,
			Protocol:        protocolBit(cs.Version, c.client),
			CipherSuite:     uint32(cs.CipherSuite),
			BaseCipherSuite: uint32(cs.CipherSuite),
			CipherSuiteName: utf16Array(tls.CipherSuiteName(cs.CipherSuite)),
			Cipher:          utf16Array(s.cipherName),
			CipherLen:       s.bits,
			CipherBlockLen:  block,
			Hash:            utf16Array(s.hashName),
			HashLen:         s.hashBits,
			Exchange:        utf16Array(exchangeName(cs.CurveID)),
			MinExchangeLen:  bits,
			MaxExchangeLen:  bits,
			Certificate:     utf16Array(kind),
			KeyType:         keyType,
		}, nil
	case packages.SECPKG_ATTR_KEY_INFO:
		return &packages.KeyInfo{
			SignatureAlgorithmName: s.hashName,
			EncryptAlgorithmName:   s.cipherName,
			KeySize:                s.bits,
			SignatureAlgorithm:     s.hashAlg,
			EncryptAlgorithm:       s.cipherAlg,
		}, nil
	case packages.SECPKG_ATTR_SESSION_INFO:
		si := &SecPkgContext_SessionInfo{}
		if cs.DidResume {
			si.Flags = SSL_SESSION_RECONNECT
		}
		return si, nil
	case packages.SECPKG_ATTR_APPLICATION_PROTOCOL:
		ap := &SecPkgContext_ApplicationProtocol{}
		if cs.NegotiatedProtocol != "" {
			ap.ProtoNegoStatus = SecApplicationProtocolNegotiationStatus_Success
			ap.ProtoNegoExt = SecApplicationProtocolNegotiationExt_ALPN
			ap.ProtocolIdSize = uint8(copy(ap.ProtocolId[:], cs.NegotiatedProtocol))
		}
		return ap, nil
	case packages.SECPKG_ATTR_REMOTE_CERT_CONTEXT:
		if len(cs.PeerCertificates) == 0 {
			return nil, status.SEC_E_NO_CREDENTIALS
		}
		return cs.PeerCertificates[0], nil
	case packages.SECPKG_ATTR_REMOTE_CERT_CHAIN:
		if len(cs.PeerCertificates) == 0 {
			return nil, status.SEC_E_NO_CREDENTIALS
		}
		return append([]*x509.Certificate(nil), cs.PeerCertificates...), nil
	case packages.SECPKG_ATTR_REMOTE_CERTIFICATES:
		rc := &SecPkgContext_Certificates{Certificates: uint32(len(cs.PeerCertificates))}
		for _, pc := range cs.PeerCertificates {
			rc.CertificateChain = binary.LittleEndian.AppendUint32(rc.CertificateChain, uint32(len(pc.Raw)))
			rc.CertificateChain = append(rc.CertificateChain, pc.Raw...)
		}
		return rc, nil
	case packages.SECPKG_ATTR_LOCAL_CERT_CONTEXT:
		if c.localLeaf == nil {
			return nil, status.SEC_E_NO_CREDENTIALS
		}
		return c.localLeaf, nil
	case packages.SECPKG_ATTR_NAMES:
		if len(cs.PeerCertificates) == 0 {
			return nil, status.SEC_E_NO_CREDENTIALS
		}
		return &packages.Names{UserName: cs.PeerCertificates[0].Subject.String()}, nil
	case packages.SECPKG_ATTR_LIFESPAN:
		leaf := c.serverLeaf()
		if leaf == nil {
			return &packages.SecPkgContext_Lifespan{Start: packages.TimeStampNever, Expiry: packages.TimeStampNever}, nil
		}
		return &packages.SecPkgContext_Lifespan{Start: packages.NewTimeStamp(leaf.NotBefore), Expiry: packages.NewTimeStamp(leaf.NotAfter)}, nil
	case packages.SECPKG_ATTR_ENDPOINT_BINDINGS:
		cb, err := secbuffer.CertificateServerEndPoint(c.serverLeaf())
		if err != nil {
			return nil, err
		}
		return &packages.Bindings{Bindings: cb.Marshal()}, nil
	case packages.SECPKG_ATTR_UNIQUE_BINDINGS:
		var cb *secbuffer.ChannelBindings
		var err error
		if cs.Version >= tls.VersionTLS13 {
			cb, err = secbuffer.TLSExporter(cs)
		} else {
			cb, err = secbuffer.TLSUnique(cs)
		}
		if err != nil {
			return nil, err
		}
		return &packages.Bindings{Bindings: cb.Marshal()}, nil
	}
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}
