// Package packages is the provider contract of gosspi: the interfaces a
// security package implements so that the root package can expose it
// through the Windows-shaped flat API and the Go API.
//
// A provider is a [Package] (its [Info] and credential acquisition), the
// [Credentials] it acquires, and the [Context] those credentials create.
// Providers do no I/O except Kerberos talking to a KDC through a
// replaceable transport, start no goroutines (Schannel excepted, see its
// doc), and never import the root package.
//
// # Buffers
//
// A context step receives the caller's input and output buffers as
// []secbuffer.Buffer. Input buffers may be rewritten in place (a type may
// become SECBUFFER_EXTRA or SECBUFFER_MISSING). An output buffer's capacity
// is cap(Data); the provider stores its result with [secbuffer.Set], which
// allocates when the request carries ISC_REQ_ALLOCATE_MEMORY or
// ASC_REQ_ALLOCATE_MEMORY (both 0x100), and checks [secbuffer.Fits] before
// changing state so that SEC_E_BUFFER_TOO_SMALL leaves the context usable.
// A missing SECBUFFER_TOKEN output buffer is SEC_E_INVALID_TOKEN.
//
// # Errors
//
// Methods return (status.Status, error) or error. Informational codes
// (SEC_E_OK, SEC_I_CONTINUE_NEEDED, ...) come back as the Status with a nil
// error; failures come back as a non-nil error that carries its Status
// (a [status.Status] or a [*status.Error]), and the Status result is then
// that failure code too. Failure in a handshake is sticky: every later
// call returns the same error.
package packages

import (
	"context"
	"time"

	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Info is what a package reports about itself: SecPkgInfo.
type Info struct {
	Name         string // SecPkgInfo.Name, e.g. "NTLM"
	Comment      string // SecPkgInfo.Comment, e.g. "NTLM Security Package"
	Capabilities uint32 // SECPKG_FLAG_* bits
	Version      uint16 // wVersion; 1 for every Microsoft package
	RPCID        uint16 // wRPCID: RPC_C_AUTHN_* or 0xFFFF
	MaxToken     uint32 // cbMaxToken
}

// Package is a security package.
type Package interface {
	// Info returns the package's SecPkgInfo values.
	Info() Info

	// AcquireCredentials is AcquireCredentialsHandle: principal may be
	// empty; use is SECPKG_CRED_INBOUND, SECPKG_CRED_OUTBOUND or
	// SECPKG_CRED_BOTH; authData is nil (default credentials), an
	// *AuthIdentity, or a package-specific value. Unknown auth data gives
	// SEC_E_UNKNOWN_CREDENTIALS; no usable default, SEC_E_NO_CREDENTIALS.
	AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (Credentials, error)
}

// Credentials is an acquired credential handle's content. It must be safe
// for concurrent use: several contexts may be created from it at once.
type Credentials interface {
	// Use returns the SECPKG_CRED_* use the credentials were acquired for.
	Use() uint32

	// Expiry returns when the credentials expire; the zero Time means never.
	Expiry() time.Time

	// UserName returns SECPKG_CRED_ATTR_NAMES: the user the credentials
	// stand for (DOMAIN\user or user@REALM), or "" for none.
	UserName() string

	// NewClientContext creates an initiator context (the first
	// InitializeSecurityContext call) for target with ISC_REQ_* flags req.
	// Credentials acquired without SECPKG_CRED_OUTBOUND give
	// SEC_E_NO_CREDENTIALS (or SEC_E_UNSUPPORTED_FUNCTION).
	NewClientContext(target string, req uint32) (Context, error)

	// NewServerContext creates an acceptor context (the first
	// AcceptSecurityContext call) with ASC_REQ_* flags req.
	NewServerContext(req uint32) (Context, error)

	// Free releases the credentials and zeroes secrets. Contexts already
	// created stay usable.
	Free()
}

// Context is the handshake half of a security context, client or server:
// a state machine that takes one step per token. Step is only called by
// one goroutine at a time (the root serialises the handshake, and the
// attribute calls with it).
//
// When the handshake completes, the context hands over a [Session], the
// per-message half. The split is that of crypto/tls, where the handshake
// produces the keys and the record layer owns them: the session holds its
// own copies of the keys it needs, and the handshake may zero everything
// it kept. The root asks for the session once Step reports success, owns
// it from then on, and deletes it with the context. No message call ever
// reaches the handshake.
type Context interface {
	// Step runs one InitializeSecurityContext (client) or
	// AcceptSecurityContext (server) leg. in holds the input buffers
	// (SECBUFFER_TOKEN with the peer's token, SECBUFFER_CHANNEL_BINDINGS,
	// ...); out holds the output buffers (at least a SECBUFFER_TOKEN).
	// It returns SEC_E_OK when the context is established,
	// SEC_I_CONTINUE_NEEDED (or another informational code) when more legs
	// follow, or a failure.
	Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error)

	// Session returns the per-message half of the context once the
	// handshake has completed, and nil before. It returns the same
	// session on every call; the caller that takes it owns it and must
	// Delete it. A context whose handshake has completed is established.
	Session() Session

	// Flags returns the ISC_RET_* (client) or ASC_RET_* (server) bits in
	// force: *pfContextAttr.
	Flags() uint32

	// Expiry returns when the context expires; the zero Time means never.
	Expiry() time.Time

	// QueryAttribute answers QueryContextAttributes for attr
	// (SECPKG_ATTR_*). It returns one of the attribute types of this
	// package (*SecPkgContext_Sizes, *Names, ...) or a package-specific
	// value, or SEC_E_UNSUPPORTED_FUNCTION for an attribute the package does
	// not have. The root answers SECPKG_ATTR_PACKAGE_INFO, FLAGS and
	// LIFESPAN itself when the package does not, and SECPKG_ATTR_SIZES
	// from the session.
	QueryAttribute(attr uint32) (any, error)

	// Delete ends the handshake and zeroes the secrets it holds
	// (DeleteSecurityContext). It does not delete a session already
	// handed over: that is its owner's. It is idempotent.
	Delete()
}

// Session is the per-message half of an established context: it signs,
// verifies, seals and unseals, and owns the keys and sequence numbers
// that takes. The sending calls (MakeSignature, EncryptMessage) and the
// receiving calls (VerifySignature, DecryptMessage) may run concurrently
// with each other (one sender, one receiver), so each direction's state
// needs its own lock.
//
// A session that has a stream form of message protection also implements
// [Wrapper].
type Session interface {
	// Sizes returns SECPKG_ATTR_SIZES: the largest signature, security
	// trailer and block size of the session.
	Sizes() SecPkgContext_Sizes

	// MakeSignature signs the buffers of msg and writes the signature into
	// its SECBUFFER_TOKEN buffer (MakeSignature).
	MakeSignature(qop uint32, msg []secbuffer.Buffer, seq uint32) error

	// VerifySignature checks the signature in msg's SECBUFFER_TOKEN and
	// returns the QOP the sender used (VerifySignature).
	VerifySignature(msg []secbuffer.Buffer, seq uint32) (qop uint32, err error)

	// EncryptMessage seals msg in place (EncryptMessage).
	EncryptMessage(qop uint32, msg []secbuffer.Buffer, seq uint32) (status.Status, error)

	// DecryptMessage unseals msg in place and returns the QOP the sender
	// used (SECQOP_WRAP_NO_ENCRYPT for a signed-only message). Schannel may
	// return informational statuses (SEC_I_RENEGOTIATE,
	// SEC_I_CONTEXT_EXPIRED).
	DecryptMessage(msg []secbuffer.Buffer, seq uint32) (qop uint32, st status.Status, err error)

	// Delete zeroes the session's keys. Later calls fail with
	// SEC_E_INVALID_HANDLE. It is idempotent, and safe to call while
	// the other direction is in use.
	Delete()
}

// Optional interfaces a Context (or, for Wrapper, a Session) may
// implement. The root returns SEC_E_UNSUPPORTED_FUNCTION for one that
// does not.
type (
	// Completer implements CompleteAuthToken.
	Completer interface {
		CompleteAuthToken(bufs []secbuffer.Buffer) (status.Status, error)
	}

	// ControlTokenApplier implements ApplyControlToken.
	ControlTokenApplier interface {
		ApplyControlToken(in []secbuffer.Buffer) error
	}

	// AttributeSetter implements SetContextAttributes.
	AttributeSetter interface {
		SetAttribute(attr uint32, data []byte) error
	}

	// Exporter implements ExportSecurityContext: a versioned blob of the
	// package's own format, read back by the package's Importer.
	Exporter interface {
		Export() ([]byte, error)
	}

	// Importer is implemented by a Package whose contexts can be exported:
	// ImportSecurityContext.
	Importer interface {
		ImportContext(blob []byte) (Context, error)
	}

	// Wrapper is implemented by a [Session] that has a stream form of
	// message protection (gss_wrap and gss_unwrap), in the package's own
	// layout: Wrap returns one message
	// holding the security token and the data (sealed, or only signed
	// with SECQOP_WRAP_NO_ENCRYPT); Unwrap takes one such message and
	// returns the plaintext and the QOP it was made with. The root's
	// Context.Wrap and Unwrap dispatch to it, so that each package,
	// not the root, knows where its token goes. [WrapBuffers] and
	// [UnwrapStream] are the layouts most packages share.
	Wrapper interface {
		Wrap(qop uint32, plain []byte) ([]byte, error)
		Unwrap(msg []byte) (plain []byte, qop uint32, err error)
	}
)

// CredentialsAttributeQuerier is an optional interface of [Credentials]:
// QueryCredentialsAttributes for attributes other than
// SECPKG_CRED_ATTR_NAMES, which the root answers from UserName. It returns
// the package's value for attr (Schannel: *SecPkgCred_SupportedAlgs for
// SECPKG_ATTR_SUPPORTED_ALGS, ...) or SEC_E_UNSUPPORTED_FUNCTION for an
// attribute the package does not have. Credentials without it answer
// SEC_E_UNSUPPORTED_FUNCTION to every such attribute.
type CredentialsAttributeQuerier interface {
	QueryAttribute(attr uint32) (any, error)
}

// AuthIdentity is the Go form of SEC_WINNT_AUTH_IDENTITY(_EX): explicit
// user, domain and password. The root converts the W and A structures to
// it before a package sees them.
type AuthIdentity struct {
	User     string
	Domain   string
	Password string
	// PackageList is SEC_WINNT_AUTH_IDENTITY_EX.PackageList (Negotiate): a
	// comma-separated list of package names, "!name" excluding one.
	PackageList string
	// Flags are the SEC_WINNT_AUTH_IDENTITY_* flags other than ANSI and
	// UNICODE.
	Flags uint32
}

// TimeStamp is a Windows TimeStamp (FILETIME): 100-nanosecond intervals
// since 1601-01-01 UTC.
type TimeStamp int64

// TimeStampNever is the largest TimeStamp, used for "never expires".
const TimeStampNever TimeStamp = 0x7FFFFFFFFFFFFFFF

// unixEpochFiletime is 1970-01-01 as a FILETIME.
const unixEpochFiletime = 116444736000000000

// NewTimeStamp converts t to a TimeStamp; the zero Time is TimeStampNever.
func NewTimeStamp(t time.Time) TimeStamp {
	if t.IsZero() {
		return TimeStampNever
	}
	return TimeStamp(t.Unix()*10_000_000 + int64(t.Nanosecond())/100 + unixEpochFiletime)
}

// Time converts ts to a time.Time; TimeStampNever gives the zero Time.
func (ts TimeStamp) Time() time.Time {
	if ts == TimeStampNever {
		return time.Time{}
	}
	d := int64(ts) - unixEpochFiletime
	return time.Unix(d/10_000_000, (d%10_000_000)*100).UTC()
}
