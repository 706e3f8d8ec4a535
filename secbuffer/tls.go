package secbuffer

import (
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/gosspi/sspi/status"
)

// Prefixes of the channel-binding types derived from TLS (RFC 5056 §2.1:
// the application data is the type name, a colon, then the binding data).
const (
	PrefixTLSServerEndPoint = "tls-server-end-point:" // RFC 5929 §4
	PrefixTLSUnique         = "tls-unique:"           // RFC 5929 §3
	PrefixTLSExporter       = "tls-exporter:"         // RFC 9266 §2
)

// TLSExporterLabel is the exporter label of RFC 9266 §2; the exporter
// output is 32 bytes and the context is empty.
const TLSExporterLabel = "EXPORTER-Channel-Binding"

const tlsExporterLength = 32

// ServerEndPointHash returns the hash that tls-server-end-point applies to
// cert (RFC 5929 §4.1): the hash of the certificate's signature
// algorithm, except that MD5 and SHA-1 (and the older MD2) are replaced by
// SHA-256.
//
// RFC 5929 does not cover algorithms without a single hash function. This
// package decides:
//   - RSASSA-PSS uses its hash parameter (SHA-256, SHA-384 or SHA-512), the
//     hash the signature was made with, as for PKCS #1 v1.5;
//   - Ed25519 uses SHA-256, the RFC's default for weak or absent hashes and
//     the value Windows reports;
//   - any other algorithm (x509.UnknownSignatureAlgorithm, for example a
//     certificate signed with Ed448 or a PSS hash Go does not know) is an
//     error with status SEC_E_UNSUPPORTED_FUNCTION: guessing a hash would
//     give bindings the peer cannot reproduce.
func ServerEndPointHash(cert *x509.Certificate) (crypto.Hash, error) {
	if cert == nil {
		return 0, status.New("ServerEndPointHash", "", status.SEC_E_INVALID_PARAMETER,
			errors.New("secbuffer: no certificate"))
	}
	switch cert.SignatureAlgorithm {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return crypto.SHA256, nil // RFC 5929 §4.1: MD5 and SHA-1 are upgraded
	case x509.SHA256WithRSA, x509.DSAWithSHA256, x509.ECDSAWithSHA256, x509.SHA256WithRSAPSS:
		return crypto.SHA256, nil
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		return crypto.SHA384, nil
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		return crypto.SHA512, nil
	case x509.PureEd25519:
		return crypto.SHA256, nil
	}
	return 0, status.New("ServerEndPointHash", "", status.SEC_E_UNSUPPORTED_FUNCTION,
		fmt.Errorf("secbuffer: no tls-server-end-point hash for signature algorithm %v", cert.SignatureAlgorithm))
}

// CertificateServerEndPoint returns the tls-server-end-point channel
// bindings for the server certificate cert (RFC 5929 §4): all address
// fields zero and ApplicationData "tls-server-end-point:" followed by the
// hash of the certificate's DER encoding, with the hash chosen by
// [ServerEndPointHash]. A server calls it with its own leaf certificate,
// which [tls.ConnectionState] does not carry on the server side.
//
// The result matches what Schannel returns for
// SECPKG_ATTR_ENDPOINT_BINDINGS; its [ChannelBindings.Marshal] form is
// the content of a SECBUFFER_CHANNEL_BINDINGS buffer.
func CertificateServerEndPoint(cert *x509.Certificate) (*ChannelBindings, error) {
	h, err := ServerEndPointHash(cert)
	if err != nil {
		return nil, err
	}
	var sum []byte
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(cert.Raw)
		sum = s[:]
	case crypto.SHA384:
		s := sha512.Sum384(cert.Raw)
		sum = s[:]
	case crypto.SHA512:
		s := sha512.Sum512(cert.Raw)
		sum = s[:]
	default:
		// ServerEndPointHash returns only the three hashes above.
		panic("secbuffer: internal error: unexpected hash " + h.String())
	}
	return &ChannelBindings{ApplicationData: appendPrefixed(PrefixTLSServerEndPoint, sum)}, nil
}

// TLSServerEndPoint returns the tls-server-end-point channel bindings of a
// TLS connection as its client sees it: those of the peer's leaf
// certificate, state.PeerCertificates[0]. It is an error if the handshake
// is not complete or the peer sent no certificate (a server asking about
// a client that sent none); servers use [CertificateServerEndPoint] with
// their own certificate instead.
func TLSServerEndPoint(state *tls.ConnectionState) (*ChannelBindings, error) {
	if err := checkState("TLSServerEndPoint", state); err != nil {
		return nil, err
	}
	if len(state.PeerCertificates) == 0 {
		return nil, status.New("TLSServerEndPoint", "", status.SEC_E_INVALID_PARAMETER,
			errors.New("secbuffer: tls-server-end-point: the peer sent no certificate"))
	}
	return CertificateServerEndPoint(state.PeerCertificates[0])
}

// TLSUnique returns the tls-unique channel bindings of a TLS 1.2 (or
// older) connection (RFC 5929 §3): ApplicationData is "tls-unique:"
// followed by the first Finished message of the latest handshake, which
// Go exposes as state.TLSUnique (the client's Finished for a full
// handshake, the server's for a resumption). It matches Schannel's
// SECPKG_ATTR_UNIQUE_BINDINGS.
//
// tls-unique is not defined for TLS 1.3 (RFC 8446 §C.5, RFC 9266 §1):
// there the error has status SEC_E_UNSUPPORTED_FUNCTION and matches
// [errors.ErrUnsupported]; use [TLSExporter] instead.
func TLSUnique(state *tls.ConnectionState) (*ChannelBindings, error) {
	if err := checkState("TLSUnique", state); err != nil {
		return nil, err
	}
	if state.Version >= tls.VersionTLS13 {
		return nil, status.New("TLSUnique", "", status.SEC_E_UNSUPPORTED_FUNCTION,
			errors.New("secbuffer: tls-unique is not defined for TLS 1.3; use tls-exporter"))
	}
	if len(state.TLSUnique) == 0 {
		return nil, status.New("TLSUnique", "", status.SEC_E_UNSUPPORTED_FUNCTION,
			errors.New("secbuffer: the connection has no tls-unique value"))
	}
	return &ChannelBindings{ApplicationData: appendPrefixed(PrefixTLSUnique, state.TLSUnique)}, nil
}

// TLSExporter returns the tls-exporter channel bindings of a TLS
// connection (RFC 9266 §2): ApplicationData is "tls-exporter:" followed by
// 32 bytes of keying material exported with the label
// "EXPORTER-Channel-Binding" and no context.
//
// It is defined for TLS 1.3. For TLS 1.2 RFC 9266 §2 defines it only
// with the extended master secret (RFC 7627); crypto/tls refuses to export
// keying material from a TLS 1.2 connection without it, and TLSExporter
// then returns an error with status SEC_E_UNSUPPORTED_FUNCTION (which
// matches [errors.ErrUnsupported]). Running with GODEBUG=tlsunsafeekm=1
// lifts the crypto/tls check, and then this one too: do not set it.
//
// state must come from a crypto/tls connection
// ((*tls.Conn).ConnectionState); a hand-built ConnectionState has no
// exporter.
func TLSExporter(state *tls.ConnectionState) (*ChannelBindings, error) {
	if err := checkState("TLSExporter", state); err != nil {
		return nil, err
	}
	ekm, err := state.ExportKeyingMaterial(TLSExporterLabel, nil, tlsExporterLength)
	if err != nil {
		return nil, status.New("TLSExporter", "", status.SEC_E_UNSUPPORTED_FUNCTION,
			fmt.Errorf("secbuffer: tls-exporter unavailable (TLS 1.2 without extended master secret?): %w", err))
	}
	return &ChannelBindings{ApplicationData: appendPrefixed(PrefixTLSExporter, ekm)}, nil
}

func checkState(op string, state *tls.ConnectionState) error {
	if state == nil || !state.HandshakeComplete {
		return status.New(op, "", status.SEC_E_INVALID_PARAMETER,
			errors.New("secbuffer: the TLS handshake is not complete"))
	}
	return nil
}

func appendPrefixed(prefix string, data []byte) []byte {
	b := make([]byte, 0, len(prefix)+len(data))
	b = append(b, prefix...)
	return append(b, data...)
}
