// Package schannel is the Schannel security package ("Schannel", also
// registered as "Microsoft Unified Security Protocol Provider"): TLS 1.2
// and TLS 1.3 driven through SSPI token passing, on top of crypto/tls.
//
// It follows the Windows Schannel SSPI behaviour described in the
// project's spec (packages.md §5 and §6.1):
//
//   - AcquireCredentials takes a [*SCHANNEL_CRED] or [*SCH_CREDENTIALS]
//     (Go forms of the Windows structures, with tls.Certificate standing in
//     for PCCERT_CONTEXT and *x509.CertPool for HCERTSTORE), a
//     *tls.Certificate, or nil. [LoadPEM] and [LoadPKCS12] read
//     certificates and keys from files.
//   - InitializeSecurityContext and AcceptSecurityContext take whatever
//     bytes arrived in a SECBUFFER_TOKEN (part of a record, several records,
//     the last flight plus application data) and return the bytes to send.
//     SEC_E_INCOMPLETE_MESSAGE turns the first SECBUFFER_EMPTY input buffer
//     into SECBUFFER_MISSING; bytes not consumed are reported as
//     SECBUFFER_EXTRA. Whole records only are consumed, as Schannel does.
//   - The target name is sent as SNI (not for IP literals), checked against
//     the server certificate (SEC_E_WRONG_PRINCIPAL, SEC_E_UNTRUSTED_ROOT,
//     SEC_E_CERT_EXPIRED) unless manual validation was asked for, and keys
//     the client session cache.
//   - EncryptMessage and DecryptMessage use the STREAM_HEADER, DATA,
//     STREAM_TRAILER and EXTRA buffers; DecryptMessage decrypts in place.
//     TLS 1.3 post-handshake messages come back as SEC_I_RENEGOTIATE, a
//     received close_notify as SEC_I_CONTEXT_EXPIRED, and
//     ApplyControlToken(SCHANNEL_SHUTDOWN) followed by a handshake call
//     produces our close_notify.
//   - QueryAttribute answers STREAM_SIZES, CONNECTION_INFO, CIPHER_INFO,
//     SESSION_INFO, APPLICATION_PROTOCOL, REMOTE_CERT_CONTEXT,
//     LOCAL_CERT_CONTEXT, REMOTE_CERTIFICATES, ISSUER_LIST_EX,
//     CERT_CHECK_RESULT, ENDPOINT_BINDINGS (tls-server-end-point, RFC 5929)
//     and UNIQUE_BINDINGS (tls-unique on TLS 1.2, tls-exporter from RFC 9266
//     on TLS 1.3) for channel binding of NTLM, Kerberos or Negotiate.
//
// # Goroutines
//
// crypto/tls runs a handshake as blocking code, so each context that is
// handshaking owns one goroutine running it over a private in-memory
// connection. Every call hands bytes to it and waits, through channels,
// until it needs more input or has finished: calls stay synchronous from
// the caller's view. The goroutine ends when the handshake ends (success
// or failure) or when the context is deleted; a context abandoned in the
// middle of a handshake without Delete keeps its goroutine. After the
// handshake no goroutine runs: records are encrypted and decrypted on the
// caller's goroutine.
//
// # Left out
//
// TLS 1.0 and 1.1, SSL, DTLS, PSK, renegotiation (a TLS 1.2 HelloRequest
// or renegotiating ClientHello is refused with an alert and ends the
// context), TLS 1.3 post-handshake client authentication, the messages mode
// (ISC_REQ_MESSAGES), revocation checking, certificate mapping to accounts,
// arbitrary alerts through SCHANNEL_ALERT after the handshake (crypto/tls
// cannot send them), and TLS 1.3 cipher suite limits (crypto/tls does not
// make them configurable). MakeSignature and VerifySignature return
// SEC_E_UNSUPPORTED_FUNCTION, as for Schannel on Windows.
package schannel

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// Package names (UNISP_NAME and SCHANNEL_NAME of schannel.h).
const (
	SCHANNEL_NAME = "Schannel"
	UNISP_NAME    = "Microsoft Unified Security Protocol Provider"
)

// SecPkgInfo values as Windows 10 reports them (spec structures.md §7).
const (
	comment      = "Schannel Security Package"
	capabilities = 0x004107B3
	maxToken     = 24576
)

// Config configures the package. It is read-only once passed to [New].
type Config struct {
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
	// Time returns the current time (certificate validity, session
	// lifetimes); nil means time.Now.
	Time func() time.Time
	// Roots is the trust store used by credentials that name none (the
	// machine's root store on Windows); nil means the system roots.
	Roots *x509.CertPool
	// DefaultClientCertificates stands for the user's certificate store:
	// a client credential without certificates picks one of these when a
	// server asks for a client certificate, unless SCH_CRED_NO_DEFAULT_CREDS
	// is set.
	DefaultClientCertificates []tls.Certificate
	// SessionCacheSize bounds each credential's client session cache;
	// 0 means 1000.
	SessionCacheSize int
}

func (c *Config) rand() io.Reader {
	if c == nil || c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c *Config) now() time.Time {
	if c == nil || c.Time == nil {
		return time.Now()
	}
	return c.Time()
}

func (c *Config) timeFunc() func() time.Time {
	if c == nil || c.Time == nil {
		return nil
	}
	return c.Time
}

func (c *Config) roots() *x509.CertPool {
	if c == nil {
		return nil
	}
	return c.Roots
}

func (c *Config) cacheSize() int {
	if c == nil || c.SessionCacheSize <= 0 {
		return 1000
	}
	return c.SessionCacheSize
}

// Package is the Schannel security package. It is safe for concurrent use.
type Package struct {
	name   string
	config *Config
}

// New returns the package registered as "Schannel". A nil config means
// defaults.
func New(config *Config) *Package {
	return &Package{name: SCHANNEL_NAME, config: config}
}

// NewUnified returns the same provider registered as "Microsoft Unified
// Security Protocol Provider".
func NewUnified(config *Config) *Package {
	return &Package{name: UNISP_NAME, config: config}
}

// Info returns the SecPkgInfo values of Schannel.
func (p *Package) Info() packages.Info {
	return packages.Info{
		Name:         p.name,
		Comment:      comment,
		Capabilities: capabilities,
		Version:      1,
		RPCID:        packages.RPC_C_AUTHN_GSS_SCHANNEL,
		MaxToken:     maxToken,
	}
}

// AcquireCredentials is AcquireCredentialsHandle for Schannel. authData is
// nil, a *SCHANNEL_CRED, a *SCH_CREDENTIALS (or either by value), or a
// *tls.Certificate. principal is ignored, as Schannel ignores it.
func (p *Package) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	return p.acquire(use, authData)
}

func (p *Package) fail(op string, st status.Status, err error) error {
	return status.New(op, p.name, st, err)
}
