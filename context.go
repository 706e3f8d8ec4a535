package sspi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosspi/sspi/internal/async"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// Context is a security context, client or server: what a CtxtHandle
// names in the flat API. Create one with [NewClientContext] or
// [NewServerContext], run the handshake with Step until Established
// reports true, then protect messages with MakeSignature/VerifySignature,
// EncryptMessage/DecryptMessage or Wrap/Unwrap, and release it with
// Delete.
//
// A Context is safe for concurrent use. Handshake calls (Step,
// CompleteAuthToken, ApplyControlToken, attribute calls) are serialised;
// after the handshake the sending side (MakeSignature, EncryptMessage,
// Wrap) and the receiving side (VerifySignature, DecryptMessage, Unwrap)
// each have their own lock, so one goroutine may send while another
// receives.
type Context struct {
	// constant
	info    packages.Info
	pc      packages.Context
	client  bool
	req     uint32
	created time.Time

	// asyncKey sits next to hsMu, which each handshake step takes: an
	// async step touches both.
	asyncKey async.Key // orders the SspiXxxAsync calls on the context

	hsMu   sync.Mutex // serialises handshake and attribute calls
	sendMu sync.Mutex // serialises MakeSignature and EncryptMessage
	recvMu sync.Mutex // serialises VerifySignature and DecryptMessage

	// sess is the per-message half the handshake handed over; it is set
	// (under hsMu) before established is first stored true, and read by
	// message calls only after they see established.
	sess packages.Session

	established atomic.Bool // set by the handshake
	deleted     atomic.Bool // set with all three locks held

	sizesOnce sync.Once // guards sizes
	sizes     packages.SecPkgContext_Sizes

	extra []byte // guarded by hsMu: the unconsumed input of the last stream Step

}

func newContext(info packages.Info, pc packages.Context, client bool, req uint32) *Context {
	c := &Context{info: info, pc: pc, client: client, req: req, created: time.Now()}
	c.takeSession()
	return c
}

// handshakeOp returns the Windows name of the handshake call of c.
func (c *Context) handshakeOp() string {
	if c.client {
		return "InitializeSecurityContext"
	}
	return "AcceptSecurityContext"
}

// deletedErr is the error of a call on a deleted context.
func (c *Context) deletedErr(op string) error {
	return newError(op, c.info.Name, status.SEC_E_INVALID_HANDLE, errDeletedContext)
}

// Step runs one handshake leg: InitializeSecurityContext on a client
// context, AcceptSecurityContext on a server context. in is the peer's
// last token (nil on a client's first call); out is the token to send to
// the peer, if not empty. err is nil while the handshake continues and
// when it completes; Established tells which. A side that completes with a
// non-empty out must still send it. A failed leg may also return a
// non-empty out that the peer must see (see [Context.StepBuffers]).
//
// When the package asks for CompleteAuthToken (SEC_I_COMPLETE_NEEDED),
// Step calls it on out before returning. Cancelling ctx stops a package
// that is waiting on the network (Kerberos talking to its KDC); the
// context is then failed and must be deleted.
//
// On a stream package (SECPKG_FLAG_STREAM: Schannel) Step is
// [Context.StepStream] with the unconsumed bytes kept for
// [Context.Extra]: in is whatever arrived from the peer, and a leg that
// needs more bytes fails with an [*IncompleteMessageError], after which
// the caller calls again with the same bytes and more.
func (c *Context) Step(ctx context.Context, in []byte) (out []byte, err error) {
	if c.stream() {
		out, extra, err := c.StepStream(ctx, in)
		c.hsMu.Lock()
		c.extra = extra
		c.hsMu.Unlock()
		return out, err
	}
	var bufs []secbuffer.Buffer
	if in != nil || !c.client {
		bufs = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: in}}
	}
	return c.StepBuffers(ctx, bufs)
}

// stream reports whether the package has stream semantics
// (SECPKG_FLAG_STREAM): its handshake input is a byte stream that may hold
// part of a message, or more than one.
func (c *Context) stream() bool {
	return c.info.Capabilities&packages.SECPKG_FLAG_STREAM != 0
}

// StepStream is Step for a stream package (Schannel): in is the bytes
// received from the peer so far, passed as a SECBUFFER_TOKEN followed by a
// SECBUFFER_EMPTY buffer, as Windows callers do. extra is the unconsumed
// tail of in (SECBUFFER_EXTRA; a sub-slice of in, nil when every byte was
// used): while the handshake continues it is the start of the peer's next
// message, to pass first in the next call; once the context is established
// it is application data that arrived with the last handshake flight, for
// DecryptMessage.
//
// When in does not yet hold a whole message, StepStream returns no output
// and an [*IncompleteMessageError] (SEC_E_INCOMPLETE_MESSAGE with the
// SECBUFFER_MISSING count); the context is unchanged and the caller calls
// again with in and the bytes that arrived since. On a first server call
// this means no handshake has begun; the context remains usable.
//
// StepStream works on any package; one without stream semantics ignores
// the EMPTY buffer and consumes in whole.
func (c *Context) StepStream(ctx context.Context, in []byte) (out, extra []byte, err error) {
	var bufs []secbuffer.Buffer
	if in != nil || !c.client {
		bufs = []secbuffer.Buffer{
			{Type: secbuffer.SECBUFFER_TOKEN, Data: in},
			{Type: secbuffer.SECBUFFER_EMPTY},
		}
	}
	out, err = c.StepBuffers(ctx, bufs)
	if status.Code(err) == status.SEC_E_INCOMPLETE_MESSAGE {
		missing := 0
		if m := secbuffer.Find(bufs, secbuffer.SECBUFFER_MISSING); m != nil {
			missing = len(m.Data)
		}
		return nil, nil, &IncompleteMessageError{Missing: missing, Err: err}
	}
	if x := secbuffer.Find(bufs, secbuffer.SECBUFFER_EXTRA); x != nil && len(x.Data) > 0 && len(x.Data) <= len(in) {
		// SECBUFFER_EXTRA counts the last bytes of the input.
		extra = in[len(in)-len(x.Data):]
	}
	return out, extra, err
}

// Extra returns the bytes the last Step on a stream package did not
// consume (see [Context.StepStream]), or nil. The slice aliases that
// Step's input.
func (c *Context) Extra() []byte {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	return c.extra
}

// IncompleteMessageError is the error of a handshake leg of a stream
// package (Schannel) whose input ends inside a message:
// SEC_E_INCOMPLETE_MESSAGE, with the SECBUFFER_MISSING count. It is not
// fatal: call again with the same input followed by at least Missing more
// bytes. errors.Is(err, status.SEC_E_INCOMPLETE_MESSAGE) matches it.
type IncompleteMessageError struct {
	Missing int   // bytes still needed; 0 when the package cannot tell
	Err     error // the *status.Error of the call
}

func (e *IncompleteMessageError) Error() string {
	return fmt.Sprintf("%v (%d more bytes needed)", e.Err, e.Missing)
}

func (e *IncompleteMessageError) Unwrap() error { return e.Err }

// StepBuffers is Step with a list of input buffers: the peer's token in a
// SECBUFFER_TOKEN buffer plus, for instance, a SECBUFFER_CHANNEL_BINDINGS
// buffer (see [secbuffer.ChannelBindings]). The package may rewrite the
// input buffers in place (Schannel turns unconsumed bytes into
// SECBUFFER_EXTRA, and reports SECBUFFER_MISSING with
// SEC_E_INCOMPLETE_MESSAGE, when the list holds a SECBUFFER_EMPTY).
//
// When the leg fails, out is the output token the package produced
// anyway, if any, returned with the error: as on Windows, a failed call
// may have a token the peer must receive, such as the TLS alert Schannel
// writes with ISC_REQ_EXTENDED_ERROR / ASC_REQ_EXTENDED_ERROR or the
// stale=true challenge Digest answers to an expired or foreign nonce
// (SEC_E_CONTEXT_EXPIRED, SEC_E_INVALID_TOKEN). Send a non-empty out, then
// act on the error.
func (c *Context) StepBuffers(ctx context.Context, in []secbuffer.Buffer) (out []byte, err error) {
	// Most tokens are far below the package's MaxToken (48000 bytes for
	// Kerberos and Negotiate): start small and let a package that needs
	// more say SEC_E_BUFFER_TOO_SMALL, rather than clearing MaxToken bytes
	// on every leg.
	n := min(int(c.info.MaxToken), stepBufferStart)
	if n == 0 {
		n = stepBufferStart
	}
	for {
		outBufs := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, n)}}
		st, err := c.step(ctx, in, outBufs)
		if status.Code(err) == status.SEC_E_BUFFER_TOO_SMALL && n < maxTokenRetry {
			n *= 4 // the package left its state unchanged: retry with more room
			continue
		}
		if err != nil {
			if status.Code(err) == status.SEC_E_BUFFER_TOO_SMALL || len(outBufs[0].Data) == 0 {
				return nil, err
			}
			return outBufs[0].Data, err
		}
		if st == status.SEC_I_COMPLETE_NEEDED || st == status.SEC_I_COMPLETE_AND_CONTINUE {
			if _, err := c.CompleteAuthToken(outBufs); err != nil {
				return nil, err
			}
		}
		return outBufs[0].Data, nil
	}
}

// stepBufferStart is the room StepBuffers first offers for a token.
const stepBufferStart = 4096

// maxTokenRetry bounds the output buffer StepBuffers offers a package that
// keeps answering SEC_E_BUFFER_TOO_SMALL.
const maxTokenRetry = 1 << 24

// step is the handshake primitive shared by StepBuffers and the flat API:
// the caller's buffers go to the package unchanged.
func (c *Context) step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	op := c.handshakeOp()
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() {
		return status.SEC_E_INVALID_HANDLE, c.deletedErr(op)
	}
	if err := ctx.Err(); err != nil {
		return status.SEC_E_INTERNAL_ERROR, newError(op, c.info.Name, status.SEC_E_INTERNAL_ERROR, err)
	}
	if secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN) == nil {
		return status.SEC_E_INVALID_TOKEN, newError(op, c.info.Name, status.SEC_E_INVALID_TOKEN, errNoOutputToken)
	}
	st, err := c.pc.Step(ctx, in, out)
	if err != nil {
		err = wrapErr(op, c.info.Name, err)
		return status.Code(err), err
	}
	if st.Failed() {
		// A provider that reports a failure without an error.
		err = newError(op, c.info.Name, st, nil)
		return st, err
	}
	c.takeSession()
	return st, nil
}

// takeSession takes the session the handshake hands over once it has
// completed: from then on the root owns it. Call with hsMu held (or
// before c is shared).
func (c *Context) takeSession() {
	s := c.pc.Session()
	if s != nil && c.sess == nil {
		c.sess = s
	}
	c.established.Store(s != nil)
}

// Established reports whether the handshake has completed.
func (c *Context) Established() bool { return c.established.Load() }

// IsClient reports whether c is the client (initiator) side.
func (c *Context) IsClient() bool { return c.client }

// PackageName returns the name of the package the context was created
// with ("Negotiate", "NTLM", ...). For the package Negotiate selected, see
// [Context.NegotiatedPackage].
func (c *Context) PackageName() string { return c.info.Name }

// Flags returns the ISC_RET_* (client) or ASC_RET_* (server) bits in force:
// *pfContextAttr.
func (c *Context) Flags() uint32 {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() {
		return 0
	}
	return c.pc.Flags()
}

// Expiry returns when the context expires; the zero Time means never.
func (c *Context) Expiry() time.Time {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() {
		return time.Time{}
	}
	return c.pc.Expiry()
}

// QueryAttribute is QueryContextAttributes in Go form: it returns the
// package's answer for attr (SECPKG_ATTR_*): *SecPkgContext_Sizes,
// *packages.Names, *packages.NativeNames, *packages.KeyInfo,
// *SecPkgContext_SessionKey, ... or a package-specific value. The root
// answers SECPKG_ATTR_PACKAGE_INFO (*packages.Info),
// SECPKG_ATTR_NEGOTIATION_INFO (*packages.NegotiationInfo), SECPKG_ATTR_FLAGS
// and SECPKG_ATTR_LIFESPAN itself when the package does not. An attribute
// the package lacks gives SEC_E_UNSUPPORTED_FUNCTION.
func (c *Context) QueryAttribute(attr uint32) (any, error) {
	const op = "QueryContextAttributes"
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() {
		return nil, c.deletedErr(op)
	}
	v, err := c.pc.QueryAttribute(attr)
	if err == nil && v == nil {
		err = newError(op, c.info.Name, status.SEC_E_INTERNAL_ERROR, errNilResult)
	}
	if err == nil {
		return v, nil
	}
	if status.Code(err) == status.SEC_E_UNSUPPORTED_FUNCTION {
		if v := c.rootAttribute(attr); v != nil {
			return v, nil
		}
	}
	return nil, wrapErr(op, c.info.Name, err)
}

// rootAttribute answers the attributes every context has when the package
// does not. c.hsMu is held.
func (c *Context) rootAttribute(attr uint32) any {
	switch attr {
	case packages.SECPKG_ATTR_PACKAGE_INFO:
		info := c.info
		return &info
	case packages.SECPKG_ATTR_NEGOTIATION_INFO:
		state := uint32(packages.SECPKG_NEGOTIATION_IN_PROGRESS)
		if c.established.Load() {
			state = packages.SECPKG_NEGOTIATION_COMPLETE
		}
		return &packages.NegotiationInfo{PackageInfo: c.info, NegotiationState: state}
	case packages.SECPKG_ATTR_FLAGS:
		return &packages.SecPkgContext_Flags{Flags: c.pc.Flags()}
	case packages.SECPKG_ATTR_LIFESPAN:
		return &packages.SecPkgContext_Lifespan{
			Start:  packages.NewTimeStamp(c.created),
			Expiry: packages.NewTimeStamp(c.pc.Expiry()),
		}
	}
	return nil
}

// queryInto queries attr and stores the answer in *dst, which must have
// the answer's type.
func queryInto[T any](c *Context, attr uint32) (*T, error) {
	v, err := c.QueryAttribute(attr)
	if err != nil {
		return nil, err
	}
	if t, ok := v.(*T); ok && t != nil {
		return t, nil
	}
	return nil, newError("QueryContextAttributes", c.info.Name, status.SEC_E_INTERNAL_ERROR, errAttributeMismatch)
}

// UserName returns SECPKG_ATTR_NAMES: on a server context the
// authenticated client, on a client context the user it authenticated as.
func (c *Context) UserName() (string, error) {
	n, err := queryInto[packages.Names](c, packages.SECPKG_ATTR_NAMES)
	if err != nil {
		return "", err
	}
	return n.UserName, nil
}

// SessionKey returns SECPKG_ATTR_SESSION_KEY: the NTLM exported session
// key or the Kerberos (sub)session key. The slice is a copy the caller
// owns; it is a secret.
func (c *Context) SessionKey() ([]byte, error) {
	k, err := queryInto[packages.SecPkgContext_SessionKey](c, packages.SECPKG_ATTR_SESSION_KEY)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), k.SessionKey...), nil
}

// Sizes returns SECPKG_ATTR_SIZES: the buffer sizes MakeSignature and
// EncryptMessage need. The answer is fetched once the handshake has
// completed and cached.
func (c *Context) Sizes() (SecPkgContext_Sizes, error) {
	if !c.Established() {
		s, err := queryInto[packages.SecPkgContext_Sizes](c, packages.SECPKG_ATTR_SIZES)
		if err != nil {
			return SecPkgContext_Sizes{}, err
		}
		return *s, nil
	}
	c.sizesOnce.Do(func() { c.sizes = c.sess.Sizes() })
	return c.sizes, nil
}

// NegotiatedPackage returns the name of the package doing the work: for a
// Negotiate context the one it selected (SECPKG_ATTR_NEGOTIATION_INFO),
// otherwise the context's own package.
func (c *Context) NegotiatedPackage() string {
	ni, err := queryInto[packages.NegotiationInfo](c, packages.SECPKG_ATTR_NEGOTIATION_INFO)
	if err != nil || ni.PackageInfo.Name == "" {
		return c.info.Name
	}
	return ni.PackageInfo.Name
}

// FallbackReason returns, for a Negotiate client context that fell back
// from Kerberos to NTLM, why Kerberos was not used (the
// FallbackReason of SECPKG_ATTR_NEGOTIATION_INFO); nil when there was no
// fallback. Windows falls back silently; here a caller can log, count or
// refuse it (negotiate.Config.RefuseFallback refuses it up front).
func (c *Context) FallbackReason() error {
	ni, err := queryInto[packages.NegotiationInfo](c, packages.SECPKG_ATTR_NEGOTIATION_INFO)
	if err != nil {
		return nil
	}
	return ni.FallbackReason
}

// SetAttribute is SetContextAttributes: it passes data for attr to the
// package, or returns SEC_E_UNSUPPORTED_FUNCTION.
func (c *Context) SetAttribute(attr uint32, data []byte) error {
	const op = "SetContextAttributes"
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() {
		return c.deletedErr(op)
	}
	s, ok := c.pc.(packages.AttributeSetter)
	if !ok {
		return newError(op, c.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	return wrapErr(op, c.info.Name, s.SetAttribute(attr, data))
}

// CompleteAuthToken finishes the output buffers of a handshake step that
// returned SEC_I_COMPLETE_NEEDED or SEC_I_COMPLETE_AND_CONTINUE. Step calls
// it itself; the flat API leaves it to the caller, as Windows does.
func (c *Context) CompleteAuthToken(bufs []secbuffer.Buffer) (status.Status, error) {
	const op = "CompleteAuthToken"
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() {
		return status.SEC_E_INVALID_HANDLE, c.deletedErr(op)
	}
	comp, ok := c.pc.(packages.Completer)
	if !ok {
		return status.SEC_E_UNSUPPORTED_FUNCTION, newError(op, c.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	st, err := comp.CompleteAuthToken(bufs)
	if err != nil {
		err = wrapErr(op, c.info.Name, err)
		return status.Code(err), err
	}
	c.takeSession()
	return st, nil
}

// ApplyControlToken passes a control token (Schannel: SCHANNEL_SHUTDOWN,
// an alert, ...) to the package, or returns SEC_E_UNSUPPORTED_FUNCTION.
func (c *Context) ApplyControlToken(in []secbuffer.Buffer) error {
	const op = "ApplyControlToken"
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.deleted.Load() {
		return c.deletedErr(op)
	}
	a, ok := c.pc.(packages.ControlTokenApplier)
	if !ok {
		return newError(op, c.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	return wrapErr(op, c.info.Name, a.ApplyControlToken(in))
}

// errIncomplete is the cause of a message call made before the handshake
// completed.
var errIncomplete = errors.New("sspi: the handshake is not complete")

// ready checks, for a per-message call, that the context is neither
// deleted nor still in its handshake. The root owns this check so that
// no package's message code runs while its handshake writes the keys
// (established is stored after the last Step returns, so the handshake's
// writes happen before any message call reads them).
func (c *Context) ready(op string) error {
	if c.deleted.Load() {
		return c.deletedErr(op)
	}
	if !c.established.Load() {
		return newError(op, c.info.Name, status.SEC_E_INVALID_HANDLE, errIncomplete)
	}
	return nil
}

// MakeSignatureBuffers is MakeSignature on a buffer list: SECBUFFER_DATA
// buffers and one SECBUFFER_TOKEN buffer of at least Sizes().MaxSignature
// bytes of capacity that receives the signature.
func (c *Context) MakeSignatureBuffers(qop uint32, msg []secbuffer.Buffer, seq uint32) error {
	const op = "MakeSignature"
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.ready(op); err != nil {
		return err
	}
	return wrapErr(op, c.info.Name, c.sess.MakeSignature(qop, msg, seq))
}

// MakeSignature signs msg and returns the signature (MakeSignature with
// one DATA and one TOKEN buffer). qop is 0 for every Microsoft package;
// seq is 0 except for packages where the caller numbers messages.
func (c *Context) MakeSignature(msg []byte, qop, seq uint32) (sig []byte, err error) {
	sizes, err := c.Sizes()
	if err != nil {
		return nil, err
	}
	bufs := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_DATA, Data: msg},
		{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, sizes.MaxSignature)},
	}
	if err := c.MakeSignatureBuffers(qop, bufs, seq); err != nil {
		return nil, err
	}
	return bufs[1].Data, nil
}

// VerifySignatureBuffers is VerifySignature on a buffer list: the
// SECBUFFER_DATA buffers and the SECBUFFER_TOKEN holding the signature. It
// returns the QOP the sender used.
func (c *Context) VerifySignatureBuffers(msg []secbuffer.Buffer, seq uint32) (qop uint32, err error) {
	const op = "VerifySignature"
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	if err := c.ready(op); err != nil {
		return 0, err
	}
	qop, err = c.sess.VerifySignature(msg, seq)
	if err != nil {
		return 0, wrapErr(op, c.info.Name, err)
	}
	return qop, nil
}

// VerifySignature checks sig over msg. A bad signature is
// SEC_E_MESSAGE_ALTERED; a replayed or reordered one SEC_E_OUT_OF_SEQUENCE.
func (c *Context) VerifySignature(msg, sig []byte, seq uint32) (qop uint32, err error) {
	bufs := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_DATA, Data: msg},
		{Type: secbuffer.SECBUFFER_TOKEN, Data: sig},
	}
	return c.VerifySignatureBuffers(bufs, seq)
}

// EncryptMessage seals the buffer list msg in place (EncryptMessage). For
// NTLM and Kerberos msg is a SECBUFFER_TOKEN with capacity
// Sizes().SecurityTrailer, the SECBUFFER_DATA to encrypt, and optionally a
// SECBUFFER_PADDING of Sizes().BlockSize; Schannel takes STREAM_HEADER,
// DATA, STREAM_TRAILER and EMPTY. qop 0 encrypts; SECQOP_WRAP_NO_ENCRYPT
// only signs. The package sets each buffer's length to what it used.
func (c *Context) EncryptMessage(qop uint32, msg []secbuffer.Buffer, seq uint32) error {
	const op = "EncryptMessage"
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.ready(op); err != nil {
		return err
	}
	_, err := c.sess.EncryptMessage(qop, msg, seq)
	return wrapErr(op, c.info.Name, err)
}

// DecryptMessage unseals the buffer list msg in place (DecryptMessage) and
// returns the QOP the sender used (SECQOP_WRAP_NO_ENCRYPT for a message
// that was only signed) and the status, which Schannel may set to
// SEC_I_RENEGOTIATE or SEC_I_CONTEXT_EXPIRED; it is SEC_E_OK otherwise.
func (c *Context) DecryptMessage(msg []secbuffer.Buffer, seq uint32) (qop uint32, st status.Status, err error) {
	const op = "DecryptMessage"
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	if err := c.ready(op); err != nil {
		return 0, status.Code(err), err
	}
	qop, st, err = c.sess.DecryptMessage(msg, seq)
	if err != nil {
		err = wrapErr(op, c.info.Name, err)
		return 0, status.Code(err), err
	}
	return qop, st, nil
}

// Wrap seals plain (gss_wrap) and returns one message in the package's
// own layout: for NTLM and Kerberos the security token followed by the
// ciphertext (and any padding), the layout Windows callers such as LDAP
// SASL and .NET NegotiateStream exchange; for Schannel whole TLS records.
// plain is not modified. The package decides the layout
// ([packages.Wrapper]); one without a stream form gives
// SEC_E_UNSUPPORTED_FUNCTION.
func (c *Context) Wrap(plain []byte) (sealed []byte, err error) {
	return c.wrap(0, plain)
}

// Unwrap opens a message made by the peer's Wrap and returns the
// plaintext. sealed is not modified.
func (c *Context) Unwrap(sealed []byte) (plain []byte, err error) {
	plain, _, err = c.unwrap(sealed)
	return plain, err
}

// errNoStreamForm is the cause of Wrap and Unwrap on a package without
// one.
var errNoStreamForm = errors.New("sspi: the package has no stream form of message protection (packages.Wrapper)")

// wrapper returns the package's stream form, after the state checks of
// every message call.
func (c *Context) wrapper(op string) (packages.Wrapper, error) {
	if err := c.ready(op); err != nil {
		return nil, err
	}
	w, ok := c.sess.(packages.Wrapper)
	if !ok {
		return nil, newError(op, c.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, errNoStreamForm)
	}
	return w, nil
}

// Export serialises the context (ExportSecurityContext) into a blob of
// the package's own versioned format that [Registry.ImportContext] reads
// back. The blob holds keys: treat it as a secret.
func (c *Context) Export() ([]byte, error) {
	const op = "ExportSecurityContext"
	c.lockAll()
	defer c.unlockAll()
	if c.deleted.Load() {
		return nil, c.deletedErr(op)
	}
	e, ok := c.pc.(packages.Exporter)
	if !ok {
		return nil, newError(op, c.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	blob, err := e.Export()
	if err != nil {
		return nil, wrapErr(op, c.info.Name, err)
	}
	return blob, nil
}

// ImportContext is ImportSecurityContext in Go form: it rebuilds a context
// of the package named pkg from a blob made by [Context.Export].
func (r *Registry) ImportContext(pkg string, blob []byte) (*Context, error) {
	const op = "ImportSecurityContext"
	reg, err := r.lookup(pkg)
	if err != nil {
		return nil, wrapErr(op, pkg, err)
	}
	imp, ok := reg.pkg.(packages.Importer)
	if !ok {
		return nil, newError(op, reg.info.Name, status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	}
	pc, err := imp.ImportContext(blob)
	if err != nil {
		return nil, wrapErr(op, reg.info.Name, err)
	}
	if pc == nil {
		return nil, newError(op, reg.info.Name, status.SEC_E_INTERNAL_ERROR, errNilResult)
	}
	return newContext(reg.info, pc, false, 0), nil
}

// Delete releases the context and zeroes its keys (DeleteSecurityContext).
// Later calls on c fail with SEC_E_INVALID_HANDLE. Delete is idempotent and
// safe on a context whose handshake never finished.
func (c *Context) Delete() {
	c.lockAll()
	defer c.unlockAll()
	if c.deleted.Load() {
		return
	}
	c.deleted.Store(true)
	c.established.Store(false)
	c.pc.Delete()
	if c.sess != nil {
		c.sess.Delete()
	}
}

func (c *Context) lockAll() {
	c.hsMu.Lock()
	c.sendMu.Lock()
	c.recvMu.Lock()
}

func (c *Context) unlockAll() {
	c.recvMu.Unlock()
	c.sendMu.Unlock()
	c.hsMu.Unlock()
}

// assignAttribute stores v, a package's answer, in *dst when dst is a
// pointer to v's type (or to what v points to): the pass-through of
// package-specific attribute values. It reports whether it did.
func assignAttribute(dst, v any) bool {
	if p, ok := dst.(*any); ok && p != nil {
		*p = v
		return true
	}
	dv := reflect.ValueOf(dst)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return false
	}
	vv := reflect.ValueOf(v)
	if vv.Kind() == reflect.Pointer && !vv.IsNil() && vv.Type() == dv.Type() {
		dv.Elem().Set(vv.Elem())
		return true
	}
	if vv.IsValid() && vv.Type() == dv.Type().Elem() {
		dv.Elem().Set(vv)
		return true
	}
	return false
}
