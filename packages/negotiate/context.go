package negotiate

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// negContext is what client and server contexts share: the selected
// mechanism's context, the mechListMIC bookkeeping and the per-message
// calls, which go to the selected mechanism.
type negContext struct {
	// constant
	cred     *credentials
	client   bool
	req      uint32
	allocate bool // ISC_REQ_ALLOCATE_MEMORY / ASC_REQ_ALLOCATE_MEMORY

	// set by the handshake; Step is serialised by the caller, and the
	// per-message calls read mech and inner only once established is set.
	mech         *mechanism       // the selected mechanism, nil before
	inner        packages.Context // its context
	direct       bool             // a bare mechanism token came in: no SPNEGO
	mechTypesDER []byte           // the MechTypeList the mechListMIC covers
	micRequired  bool             // RFC 4178 5: the MIC exchange is mandatory
	micSent      bool
	micReceived  bool
	fallback     error   // why Kerberos was not used when the client fell back to NTLM
	err          error   // sticky failure
	errToken     []byte  // the mechanism's error token of a failed leg
	pending      *result // an output that did not fit the caller's buffer

	// sess is the mechanism's session, taken from inner when it
	// completes (the mechListMIC needs it); the context owns it until
	// Session hands it over.
	sess       packages.Session
	handedOver bool

	established atomic.Bool
}

// innerSession returns the mechanism's session once its handshake has
// completed, and nil before.
func (c *negContext) innerSession() packages.Session {
	if c.sess == nil && c.inner != nil {
		c.sess = c.inner.Session()
	}
	return c.sess
}

// result is what one leg produces.
type result struct {
	token []byte
	st    status.Status
	done  bool // the context is established once the token is delivered
}

// errNotEstablished is the cause of per-message calls made too early.
var errNotEstablished = errors.New("negotiate: the context is not established")

func (c *negContext) op() string {
	if c.client {
		return "InitializeSecurityContext"
	}
	return "AcceptSecurityContext"
}

// innerReq returns the request flags given to the mechanism: the caller's,
// with integrity added (SPNEGO needs it for the mechListMIC; the caller
// can opt out with ISC_REQ_NO_INTEGRITY) and allocation asked for, since
// Negotiate copies the mechanism's tokens into its own.
func (c *negContext) innerReq() uint32 {
	if c.client {
		r := c.req | packages.ISC_REQ_ALLOCATE_MEMORY
		if r&packages.ISC_REQ_NO_INTEGRITY == 0 {
			r |= packages.ISC_REQ_INTEGRITY
		}
		return r &^ packages.ISC_REQ_NO_INTEGRITY
	}
	return c.req | packages.ASC_REQ_ALLOCATE_MEMORY
}

// begin does the checks every Step starts with. It returns done=true when
// the leg is already answered (a sticky failure or a pending output).
func (c *negContext) begin(out []secbuffer.Buffer) (bool, status.Status, error) {
	if c.err != nil {
		return true, status.Code(c.err), c.err
	}
	if secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN) == nil {
		err := status.New(c.op(), pkgName, status.SEC_E_INVALID_TOKEN, errors.New("negotiate: no output token buffer"))
		return true, err.Status, err
	}
	if c.pending != nil {
		st, err := c.deliver(out, *c.pending)
		return true, st, err
	}
	if c.established.Load() {
		err := status.New(c.op(), pkgName, status.SEC_E_OUT_OF_SEQUENCE, errors.New("negotiate: the context is already established"))
		return true, err.Status, err
	}
	return false, 0, nil
}

// deliver stores r's token in the caller's output buffer. A buffer too
// small keeps r for the next call and leaves the context usable.
func (c *negContext) deliver(out []secbuffer.Buffer, r result) (status.Status, error) {
	b := secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
	if st := secbuffer.Set(b, r.token, c.allocate); st != status.SEC_E_OK {
		c.pending = &r
		return st, status.New(c.op(), pkgName, st, fmt.Errorf("negotiate: output token of %d bytes does not fit", len(r.token)))
	}
	c.pending = nil
	if r.done {
		c.established.Store(true)
	}
	return r.st, nil
}

// fail makes err the context's sticky failure.
func (c *negContext) fail(err error) (status.Status, error) {
	err = wrapErr(c.op(), err)
	c.err = err
	return status.Code(err), err
}

// extras returns the input buffers other than the token, which go to the
// mechanism unchanged (channel bindings, target host, ...).
func extras(in []secbuffer.Buffer) []secbuffer.Buffer {
	var x []secbuffer.Buffer
	for _, b := range in {
		if b.BaseType() != secbuffer.SECBUFFER_TOKEN {
			x = append(x, b)
		}
	}
	return x
}

// inputToken returns the input token, or nil.
func inputToken(in []secbuffer.Buffer) []byte {
	if b := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN); b != nil {
		return b.Data
	}
	return nil
}

// stepInner runs one leg of a mechanism context. When the leg fails, the
// error token the mechanism produced, if any (a KRB-ERROR), is kept in
// errToken for the peer.
func (c *negContext) stepInner(ctx context.Context, inner packages.Context, token []byte, extra []secbuffer.Buffer) ([]byte, error) {
	in := make([]secbuffer.Buffer, 0, len(extra)+1)
	if token != nil {
		in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: token})
	}
	in = append(in, extra...)
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN}}
	if _, err := inner.Step(ctx, in, out); err != nil {
		if len(out[0].Data) > 0 {
			c.errToken = out[0].Data
		}
		return nil, err
	}
	return out[0].Data, nil
}

// micResetter is implemented by a mechanism session whose per-message
// state must be reset after the mechListMIC: the NTLM package's
// ResetMICState re-keys the RC4 cipher of the direction that signed
// (outbound) or verified (inbound) it, leaving the sequence numbers alone
// (MS-SPNG 3.3.5.1; gss-ntlmssp's reset-crypto context option does the
// same).
type micResetter interface {
	ResetMICState(outbound bool)
}

// micPresenter is implemented by the NTLM package's contexts: whether
// the AUTHENTICATE message carried a MIC (MsvAvFlags 0x2).
type micPresenter interface {
	MICPresent() bool
}

// mechIntegrity reports whether the selected mechanism's completed
// context can sign: Kerberos always can; NTLM only when SIGN (or SEAL)
// was negotiated. RFC 4178 5: a mechanism without integrity protection
// uses no mechListMIC.
func (c *negContext) mechIntegrity() bool {
	if !c.mech.ntlm {
		return true
	}
	f := c.inner.Flags()
	if c.client {
		return f&packages.ISC_RET_INTEGRITY != 0
	}
	return f&packages.ASC_RET_INTEGRITY != 0
}

// settleMICRule fixes, once the mechanism completed, whether the
// mechListMIC exchange is mandatory (packages.md 3.4, RFC 4178 5,
// MS-SPNG): never when the mechanism gives no integrity (NTLM without
// SIGN, as Samba and Windows do for LDAP over TLS); otherwise when it
// already was (the optimistic mechanism was not chosen, DCE style), and
// when NTLM's AUTHENTICATE carried a MIC, as Windows acceptors require.
// The NTLM MIC covers the negotiated flags and cannot be stripped, so
// an on-path rewrite of the mechanism list with the mechListMIC removed
// is caught on both sides.
func (c *negContext) settleMICRule() {
	if !c.mechIntegrity() {
		c.micRequired = false
		return
	}
	if !c.mech.ntlm {
		return
	}
	// An NTLM package that cannot tell is taken to have sent a MIC, as
	// every NTLMv2 client of this century does.
	if p, ok := c.inner.(micPresenter); !ok || p.MICPresent() {
		c.micRequired = true
	}
}

// signMIC returns the mechListMIC: the mechanism's MakeSignature over the
// DER MechTypeList (RFC 4178 5).
func (c *negContext) signMIC() ([]byte, error) {
	sess := c.innerSession()
	if sess == nil {
		return nil, errNotEstablished
	}
	size := sess.Sizes().MaxSignature
	if size == 0 {
		size = 64
	}
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_DATA, Data: append([]byte(nil), c.mechTypesDER...)},
		{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, size)},
	}
	if err := sess.MakeSignature(0, msg, 0); err != nil {
		return nil, fmt.Errorf("negotiate: computing the mechListMIC: %w", err)
	}
	if r, ok := sess.(micResetter); ok {
		r.ResetMICState(true)
	}
	c.micSent = true
	return append([]byte{}, msg[1].Data...), nil
}

// verifyMIC checks the peer's mechListMIC.
func (c *negContext) verifyMIC(mic []byte) error {
	sess := c.innerSession()
	if sess == nil {
		return status.New(c.op(), pkgName, status.SEC_E_INTERNAL_ERROR, errNotEstablished)
	}
	msg := []secbuffer.Buffer{
		{Type: secbuffer.SECBUFFER_DATA, Data: append([]byte(nil), c.mechTypesDER...)},
		{Type: secbuffer.SECBUFFER_TOKEN, Data: append([]byte(nil), mic...)},
	}
	if _, err := sess.VerifySignature(msg, 0); err != nil {
		code := status.Code(err)
		if code == status.SEC_E_INTERNAL_ERROR || !code.Failed() {
			code = status.SEC_E_MESSAGE_ALTERED
		}
		return status.New(c.op(), pkgName, code, fmt.Errorf("negotiate: the mechListMIC does not verify: %w", err))
	}
	if r, ok := sess.(micResetter); ok {
		r.ResetMICState(false)
	}
	c.micReceived = true
	return nil
}

// Session hands over the selected mechanism's session once the
// Negotiate handshake (the mechListMIC exchange included) has completed.
func (c *negContext) Session() packages.Session {
	if !c.established.Load() {
		return nil
	}
	sess := c.innerSession()
	if sess != nil {
		c.handedOver = true
	}
	return sess
}

// Flags returns the selected mechanism's flags, with ALLOCATED_MEMORY as
// the caller asked (Negotiate itself does the allocating).
func (c *negContext) Flags() uint32 {
	var f uint32
	if c.inner != nil {
		f = c.inner.Flags() &^ packages.ISC_RET_ALLOCATED_MEMORY
	}
	if c.allocate {
		f |= packages.ISC_RET_ALLOCATED_MEMORY // ASC_RET_ALLOCATED_MEMORY is the same bit
	}
	return f
}

// Expiry returns the selected mechanism's expiry.
func (c *negContext) Expiry() time.Time {
	if c.inner != nil {
		return c.inner.Expiry()
	}
	return time.Time{}
}

// QueryAttribute answers NEGOTIATION_INFO, PACKAGE_INFO and FLAGS itself
// and passes every other attribute to the selected mechanism.
func (c *negContext) QueryAttribute(attr uint32) (any, error) {
	switch attr {
	case packages.SECPKG_ATTR_NEGOTIATION_INFO:
		ni := &packages.NegotiationInfo{PackageInfo: info, NegotiationState: packages.SECPKG_NEGOTIATION_IN_PROGRESS}
		if c.mech != nil {
			ni.PackageInfo = c.mech.pkg.Info()
		}
		if c.established.Load() {
			ni.NegotiationState = packages.SECPKG_NEGOTIATION_COMPLETE
		}
		ni.FallbackReason = c.fallback
		return ni, nil
	case packages.SECPKG_ATTR_PACKAGE_INFO:
		pi := info
		if c.mech != nil && c.established.Load() {
			pi = c.mech.pkg.Info()
		}
		return &pi, nil
	case packages.SECPKG_ATTR_FLAGS:
		return &packages.SecPkgContext_Flags{Flags: c.Flags()}, nil
	}
	if c.inner == nil {
		if attr == packages.SECPKG_ATTR_SIZES {
			return &packages.SecPkgContext_Sizes{MaxToken: info.MaxToken}, nil
		}
		return nil, status.New("QueryContextAttributes", pkgName, status.SEC_E_UNSUPPORTED_FUNCTION, errNotEstablished)
	}
	return c.inner.QueryAttribute(attr)
}

// Delete deletes the mechanism's context, and its session unless it was
// handed over. It is idempotent.
func (c *negContext) Delete() {
	if c.inner != nil {
		c.inner.Delete()
	}
	if c.sess != nil && !c.handedOver {
		c.sess.Delete()
	}
	c.pending = nil
}
