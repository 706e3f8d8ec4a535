// Package schannel is the Schannel security package ("Schannel", also
// registered as "Microsoft Unified Security Protocol Provider"): TLS 1.2
// and TLS 1.3 driven through SSPI token passing, on top of crypto/tls.
//
// It follows the Windows Schannel SSPI behaviour described in the
// project's spec (packages.md §5 and §6.1).
//
// # Credentials
//
// AcquireCredentials takes a [*SCHANNEL_CRED] or [*SCH_CREDENTIALS] (Go
// forms of the Windows structures, with tls.Certificate standing in for
// PCCERT_CONTEXT and *x509.CertPool for HCERTSTORE), a *tls.Certificate, or
// nil. [LoadPEM] and [LoadPKCS12] read certificates and keys from files.
// Protocol masks select TLS 1.2 and 1.3 (a mask with neither gives
// SEC_E_ALGORITHM_MISMATCH); palgSupportedAlgs, the cipher strengths and
// CRYPTO_SETTINGS limit the TLS 1.2 cipher suites. Flags with an effect:
// SCH_CRED_MANUAL_CRED_VALIDATION, SCH_CRED_NO_SERVERNAME_CHECK,
// SCH_CRED_DEFERRED_CRED_VALIDATION (the result is in
// SECPKG_ATTR_CERT_CHECK_RESULT), SCH_CRED_NO_DEFAULT_CREDS (no client
// certificate from [Config.DefaultClientCertificates]),
// SCH_CRED_DISABLE_RECONNECTS and SCH_SEND_ROOT_CERT. SCH_CRED_AUTO_CRED_VALIDATION
// and SCH_CRED_USE_DEFAULT_CREDS describe the default; the revocation flags
// and SCH_USE_STRONG_CRYPTO (crypto/tls offers no weak suite) are accepted
// and change nothing. A server credential without a certificate fails at
// the first AcceptSecurityContext with SEC_E_NO_CREDENTIALS.
//
// # Handshake
//
// InitializeSecurityContext and AcceptSecurityContext take whatever bytes
// arrived in a SECBUFFER_TOKEN (part of a record, several records, the last
// flight followed by application data) and return the bytes to send. Only
// whole records are consumed, as Schannel does: with none complete the
// call returns SEC_E_INCOMPLETE_MESSAGE and turns the first SECBUFFER_EMPTY
// input buffer into SECBUFFER_MISSING with the count of bytes needed;
// bytes not consumed come back as SECBUFFER_EXTRA. The target name is sent
// as SNI (not for IP literals), checked against the server certificate
// (SEC_E_UNTRUSTED_ROOT, SEC_E_CERT_EXPIRED, SEC_E_WRONG_PRINCIPAL,
// SEC_E_CERT_WRONG_USAGE) unless manual validation was asked for, and keys
// the client session cache: a session is resumed only for the same target
// name and credential handle within the session lifespan (10 hours by
// default); a server honours its own credential's lifespan for the session
// tickets it issued. When a server asks for a client certificate and the credential
// has none, the client returns SEC_I_INCOMPLETE_CREDENTIALS (never with
// ISC_REQ_USE_SUPPLIED_CREDS); the next call, with no input or the same
// input again, goes on without one. ASC_REQ_MUTUAL_AUTH asks the client for
// a certificate, validated against the credential's root store when it
// has one. ALPN comes in a SECBUFFER_APPLICATION_PROTOCOLS buffer of the
// first call ([MarshalApplicationProtocols]) and the result in
// SECPKG_ATTR_APPLICATION_PROTOCOL. With ISC_REQ_EXTENDED_ERROR or
// ASC_REQ_EXTENDED_ERROR (or a SECBUFFER_ALERT output buffer) a failed
// handshake returns the alert to send.
//
// # Messages
//
// EncryptMessage fills STREAM_HEADER, DATA (in place) and STREAM_TRAILER
// with one record of at most 16384 bytes of data; DecryptMessage processes
// the one record at the start of its DATA buffer and rewrites the buffers
// as STREAM_HEADER, DATA (the plaintext, in place inside the caller's
// bytes), STREAM_TRAILER and EXTRA. TLS 1.3 post-handshake messages
// (NewSessionTicket, KeyUpdate) come back as SEC_I_RENEGOTIATE with the
// record in EXTRA: the next handshake call, with those bytes or with none,
// returns SEC_E_OK and any answer to send (our KeyUpdate), and the record is
// skipped if it is passed to DecryptMessage again.
//
// A TLS 1.3 KeyUpdate that asks for ours does not change our write key at
// once: EncryptMessage keeps sealing under the key the peer has until the
// handshake call that follows SEC_I_RENEGOTIATE returns our KeyUpdate; the
// records sealed after that call are under the next key. The rule for the
// caller is the one every TLS stream already has (records carry sequence
// numbers): send each output in the order the calls produced it. A writer
// goroutine and the goroutine that reads and answers SEC_I_RENEGOTIATE
// therefore hold one lock around "call, then send" (EncryptMessage and
// send; InitializeSecurityContext or AcceptSecurityContext and send).
// .NET's SslStream over Windows Schannel keeps the same order by holding
// its writes from DecryptMessage's SEC_I_RENEGOTIATE until its answering
// handshake call has been sent (SslStream.IO.cs, _handshakeWaiter); here a
// writer need not wait. A received close_notify
// gives SEC_I_CONTEXT_EXPIRED; ApplyControlToken(SCHANNEL_SHUTDOWN) followed
// by a handshake call produces our close_notify. MakeSignature and
// VerifySignature return SEC_E_UNSUPPORTED_FUNCTION, as on Windows.
//
// QueryAttribute answers STREAM_SIZES, CONNECTION_INFO, CONNECTION_INFO_EX,
// CIPHER_INFO, KEY_INFO, SESSION_INFO, APPLICATION_PROTOCOL,
// REMOTE_CERT_CONTEXT (a *x509.Certificate), REMOTE_CERT_CHAIN,
// REMOTE_CERTIFICATES, LOCAL_CERT_CONTEXT, ISSUER_LIST_EX, CERT_CHECK_RESULT,
// NAMES, LIFESPAN, FLAGS, ENDPOINT_BINDINGS (tls-server-end-point, RFC
// 5929) and UNIQUE_BINDINGS (tls-unique on TLS 1.2, tls-exporter of RFC
// 9266 on TLS 1.3), the last two as SEC_CHANNEL_BINDINGS blobs ready for a
// SECBUFFER_CHANNEL_BINDINGS buffer of NTLM, Kerberos or Negotiate.
//
// # Goroutines
//
// crypto/tls runs a handshake as blocking code, so a context that is
// handshaking owns one goroutine running it over a private in-memory
// connection. Each call hands the complete records to it and waits,
// through channels, until it needs more input, asks for a client
// certificate or has finished: calls stay synchronous from the caller's
// view. The goroutine ends with the handshake (success or failure) or
// when the context is deleted; a context abandoned in the middle of a
// handshake without Delete keeps its goroutine. Cancelling the
// context.Context of a call abandons the handshake: the call fails with
// SEC_E_INTERNAL_ERROR and the context is dead. After the handshake no
// goroutine runs: records are encrypted and decrypted on the caller's
// goroutine, and EncryptMessage and DecryptMessage on one context take
// turns. Full-duplex use (one goroutine encrypting while another
// decrypts) is supported under the ordering rule of "Messages".
//
// On TLS 1.3 the package runs the record layer itself after the
// handshake, from the application traffic secrets crypto/tls reports
// through tls.Config.KeyLogWriter: it seals our records (crypto/tls would
// move its write key when it reads the peer's KeyUpdate, before our answer
// can reach the wire) and opens the peer's in place in the caller's
// buffer. Records that are not application data (post-handshake
// messages, alerts) still go to crypto/tls, re-sealed under a copy of its
// read state, so that it stores session tickets and follows KeyUpdates as
// before.
//
// # Left out
//
// TLS 1.0 and 1.1, SSL, DTLS, PSK and TLS 1.3 early data; renegotiation
// (a TLS 1.2 HelloRequest or renegotiating ClientHello comes back as
// SEC_I_RENEGOTIATE, and the handshake call that takes it answers with an
// alert and SEC_E_ILLEGAL_MESSAGE); TLS 1.3 post-handshake client
// authentication; the messages mode (ISC_REQ_MESSAGES in a SECBUFFER_FLAGS
// buffer gives SEC_E_UNSUPPORTED_FUNCTION; of the flags above 32 bits only
// ISC_REQ_DEFERRED_CRED_VALIDATION has an effect); revocation checking;
// mapping client certificates to accounts; arbitrary alerts through
// SCHANNEL_ALERT after the handshake (crypto/tls cannot send them; only
// close_notify is accepted); TLS 1.3 cipher suite limits (crypto/tls fixes
// them); SetContextAttributes (keying material is exported through
// [KeyingMaterialExporter] instead of SECPKG_ATTR_KEYING_MATERIAL_INFO and
// SECPKG_ATTR_KEYING_MATERIAL); the session id in SESSION_INFO (crypto/tls
// does not expose it). Only the legacy PKCS #12 encryption is read.
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
