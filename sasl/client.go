package sasl

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/secbuffer"
)

// ClientConfig configures a [Client]. The zero value runs GSSAPI and
// prefers confidentiality.
type ClientConfig struct {
	// Mechanism is GSSAPI (the default when empty) or GSSSPNEGO.
	Mechanism Mechanism

	// Target is the service principal name ("ldap/dc.example.com") of a
	// context the client creates: for Step, and for InitSecContext when
	// it is given no target.
	Target string

	// Layer is the security layer wanted; zero means
	// LayerConfidentiality. With GSSAPI the client takes it when the
	// server offers it, otherwise the offered layer closest to it (the
	// stronger on a tie); with GSS-SPNEGO it sets the context's flags
	// (see ClientFlags) and the context decides.
	Layer Layer

	// RequireLayer fails the exchange with ErrTooWeak unless Layer is in
	// force; LayerIntegrity is also satisfied by LayerConfidentiality,
	// which includes it (and which NTLM uses for integrity).
	RequireLayer bool

	// MaxReceive is the largest wrapped message this side accepts, and
	// with GSSAPI advertises (RFC 4752 3.1); zero means
	// DefaultMaxReceive. It is capped at 2^24-1. With GSSAPI it also
	// bounds the messages this side sends, as Samba requires (see the
	// package doc, Framing).
	MaxReceive int

	// MaxSend is the largest wrapped message sent under GSS-SPNEGO,
	// where the server advertises no size; zero means DefaultMaxSend.
	// With GSSAPI the server's advertised size is used.
	MaxSend int

	// AuthzID is the authorization identity Step sends (GSSAPI); empty
	// means the identity the credentials authenticate. go-ldap passes
	// its own to NegotiateSaslAuth.
	AuthzID string

	// Conn, if not nil, is the connection the exchange runs over: the
	// client installs the layer on it. NegotiateSaslAuth (the go-ldap
	// path) arms it with [Conn.StartAfterBind], so the layer starts right
	// after the successful BindResponse; Finish starts it at once.
	Conn *Conn

	// ChannelBindings, if not nil, binds the authentication to the
	// channel under it (RFC 5056), as LDAP over TLS does with
	// tls-server-end-point ([secbuffer.TLSServerEndPoint] of the
	// connection's tls.ConnectionState, what Windows' LDAP client sends
	// to a DC that enforces LDAP channel binding). It is passed to every
	// handshake leg of the context as a SECBUFFER_CHANNEL_BINDINGS input
	// buffer: NTLM puts its MD5 in MsvAvChannelBindings, Kerberos in the
	// authenticator checksum. Only the context handshake uses it; the
	// security layer is not affected.
	ChannelBindings *secbuffer.ChannelBindings
}

func (c *ClientConfig) mech() Mechanism {
	if c.Mechanism == "" {
		return GSSAPI
	}
	return c.Mechanism
}

func (c *ClientConfig) layer() Layer {
	if c.Layer == 0 {
		return LayerConfidentiality
	}
	return c.Layer
}

func maxReceive(n int) int {
	if n <= 0 || n > maxBufferLimit {
		return maxBufferLimit
	}
	return n
}

// clientState is where a Client stands in the exchange.
type clientState uint8

const (
	clientHandshake clientState = iota // running the context handshake
	clientOffer                        // GSSAPI: waiting for the server's layer offer
	clientDone                         // the exchange is complete on this side
	clientFailed
)

// Client is the client side of the GSSAPI (RFC 4752) or GSS-SPNEGO SASL
// mechanism over a client [sspi.Context].
//
// Its InitSecContext, InitSecContextWithOptions, NegotiateSaslAuth and
// DeleteSecContext methods take built-in types only, so a *Client is a
// go-ldap v3 GSSAPIClient (v3.4.15; since v3.4.11 the interface includes
// InitSecContextWithOptions) without this package importing go-ldap:
//
//	type GSSAPIClient interface {
//		InitSecContext(target string, token []byte) (outputToken []byte, needContinue bool, err error)
//		InitSecContextWithOptions(target string, token []byte, options []int) (outputToken []byte, needContinue bool, err error)
//		NegotiateSaslAuth(token []byte, authzid string) ([]byte, error)
//		DeleteSecContext() error
//	}
//
// go-ldap v3.4.10 and earlier have the interface without
// InitSecContextWithOptions, which a *Client satisfies too. go-ldap's
// GSSAPIBind speaks the GSSAPI mechanism only. Other callers
// use Step for each server challenge and Finish on the server's success,
// which work for both mechanisms.
//
// A Client runs one exchange; its methods are serialised.
type Client struct {
	config ClientConfig
	cred   *sspi.Credentials // nil when the context was given

	mu    sync.Mutex
	ctx   *sspi.Context
	state clientState
	sec   *Security
}

// NewClient returns a client that creates its context from cred, for the
// target the first InitSecContext names (go-ldap passes the SPN given to
// GSSAPIBind, "ldap/dc.example.com") or else config.Target, with the
// flags ClientFlags gives for the configured mechanism and layer. config
// may be nil.
func NewClient(cred *sspi.Credentials, config *ClientConfig) *Client {
	c := &Client{cred: cred}
	if config != nil {
		c.config = *config
	}
	return c
}

// NewClientFromContext returns a client over ctx, a client context made
// by the caller (see ClientFlags for its request flags), established or
// not: on an established context the exchange goes straight to the
// layer negotiation. The client owns ctx from now on. config may be nil.
func NewClientFromContext(ctx *sspi.Context, config *ClientConfig) *Client {
	c := NewClient(nil, config)
	c.ctx = ctx
	return c
}

// Context returns the client's security context, nil before the first
// InitSecContext of a client made by NewClient.
func (c *Client) Context() *sspi.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx
}

// Security returns the layer negotiated, nil until the exchange is done
// on the client's side.
func (c *Client) Security() *Security {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sec
}

// InitSecContext is InitSecContextWithOptions without options.
func (c *Client) InitSecContext(target string, token []byte) (outputToken []byte, needContinue bool, err error) {
	return c.InitSecContextWithOptions(target, token, nil)
}

// InitSecContextWithOptions runs one leg of the context handshake
// (InitializeSecurityContext) with the server's token (nil first) and
// returns the token to send and whether the server's answer is needed
// (RFC 4752 3.1). It uses context.Background: a KDC exchange cannot be
// cancelled on this path; use Step for that.
//
// options are the Kerberos AP options go-ldap passes through
// GSSAPIBindRequestWithAPOptions (RFC 4120 5.5.1 bit numbers). Only
// mutual-required (2) is supported, which the client requests anyway
// (ISC_REQ_MUTUAL_AUTH); others fail.
func (c *Client) InitSecContextWithOptions(target string, token []byte, options []int) (outputToken []byte, needContinue bool, err error) {
	for _, o := range options {
		if o != 2 {
			return nil, false, fmt.Errorf("sasl: AP option %d is not supported", o)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.handshake(context.Background(), target, token)
	if err != nil {
		return nil, false, err
	}
	return out, !c.ctx.Established(), nil
}

// handshake runs one leg. c.mu is held.
func (c *Client) handshake(ctx context.Context, target string, token []byte) ([]byte, error) {
	if c.state != clientHandshake {
		return nil, c.fail(fmt.Errorf("%w: a handshake token after the context was established", ErrProtocol))
	}
	if c.ctx == nil {
		if c.cred == nil {
			return nil, c.fail(errors.New("sasl: a Client without credentials or context"))
		}
		if target == "" {
			target = c.config.Target
		}
		x, err := sspi.NewClientContext(c.cred, target,
			ClientFlags(c.config.mech(), c.config.layer(), c.cred.PackageName()))
		if err != nil {
			return nil, c.fail(err)
		}
		c.ctx = x
	}
	if c.ctx.Established() && token == nil {
		c.handshakeDone()
		return nil, nil
	}
	out, err := stepContext(ctx, c.ctx, token, c.config.ChannelBindings)
	if err != nil {
		return nil, c.fail(err)
	}
	if c.ctx.Established() {
		c.handshakeDone()
	}
	return out, nil
}

// stepContext runs one handshake leg of x with the peer's token and, when
// cb is not nil, cb as a SECBUFFER_CHANNEL_BINDINGS input buffer (after
// the token, as Windows callers pass them).
func stepContext(ctx context.Context, x *sspi.Context, token []byte, cb *secbuffer.ChannelBindings) ([]byte, error) {
	if cb == nil {
		return x.Step(ctx, token)
	}
	bufs := make([]secbuffer.Buffer, 0, 2)
	if token != nil || !x.IsClient() {
		bufs = append(bufs, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: token})
	}
	return x.StepBuffers(ctx, append(bufs, cb.Buffer()))
}

// handshakeDone moves on once the context is established: GSSAPI waits
// for the server's offer, GSS-SPNEGO has its layer.
func (c *Client) handshakeDone() {
	if c.config.mech() == GSSAPI {
		c.state = clientOffer
	}
}

// fail ends the exchange with err.
func (c *Client) fail(err error) error {
	c.state = clientFailed
	return err
}

// NegotiateSaslAuth performs the last step of the GSSAPI exchange (RFC
// 4752 3.1): it unwraps the server's offer (the layers it supports and
// its receive buffer size), chooses a layer as the configuration says,
// and returns the wrapped choice, with this side's receive buffer size
// and authzid. The layer is then ready ([Client.Security]); if the
// configuration names a Conn, it is armed to install the layer after the
// server's successful BindResponse ([Conn.StartAfterBind]).
func (c *Client) NegotiateSaslAuth(token []byte, authzid string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.negotiate(token, authzid)
	if err != nil {
		return nil, err
	}
	if conn := c.config.Conn; conn != nil && c.sec.layer != LayerNone {
		if err := conn.StartAfterBind(c.sec); err != nil {
			return nil, c.fail(err)
		}
	}
	return out, nil
}

// negotiate reads the offer and builds the choice. c.mu is held.
func (c *Client) negotiate(token []byte, authzid string) ([]byte, error) {
	if c.config.mech() != GSSAPI {
		return nil, c.fail(fmt.Errorf("%w: %s has no security layer negotiation", ErrProtocol, c.config.mech()))
	}
	if c.state != clientOffer {
		return nil, c.fail(fmt.Errorf("%w: a security layer offer before the context was established", ErrProtocol))
	}
	plain, err := unwrapOnce(c.ctx, token)
	if err != nil {
		return nil, c.fail(err)
	}
	o, err := parseOffer(plain)
	if err != nil {
		return nil, c.fail(err)
	}
	// RFC 4752 3.1: only layers the context can carry.
	layer, err := choose(o.layers&offerable(c.ctx), c.config.layer(), c.config.RequireLayer)
	if err != nil {
		return nil, c.fail(fmt.Errorf("%w: the server offers %v, %v wanted", err, o.layers&allLayers, c.config.layer()))
	}
	ch := choice{layer: layer, authzID: authzid}
	maxRecv := maxReceive(c.config.MaxReceive)
	if layer != LayerNone {
		ch.maxBuf = maxRecv
	}
	sec, err := newSecurity(c.ctx, layer, sendLimit(o.maxBuf, maxRecv), maxRecv)
	if err != nil {
		return nil, c.fail(err)
	}
	out, err := wrapOnce(c.ctx, ch.marshal())
	if err != nil {
		return nil, c.fail(err)
	}
	c.sec, c.state = sec, clientDone
	return out, nil
}

// Step processes one server challenge (nil for the first call) and
// returns the response to send: context tokens for config.Target, then
// with GSSAPI the layer choice, which carries the configured AuthzID.
// Cancelling ctx stops a KDC exchange. When the server reports success,
// call Finish.
func (c *Client) Step(ctx context.Context, challenge []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case clientHandshake:
		if len(challenge) == 0 {
			challenge = nil
		}
		return c.handshake(ctx, c.config.Target, challenge)
	case clientOffer:
		return c.negotiate(challenge, c.config.AuthzID)
	}
	return nil, c.fail(fmt.Errorf("%w: a challenge after the exchange ended", ErrProtocol))
}

// Finish completes the exchange when the server reports success, with
// the additional data that came with it (GSS-SPNEGO: the server's last
// token, if any; GSSAPI: none). It returns the layer in force and, when
// the configuration names a Conn, installs it there ([Conn.Start]),
// unless NegotiateSaslAuth already armed it.
func (c *Client) Finish(ctx context.Context, outcome []byte) (*Security, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil || c.state == clientFailed {
		return nil, fmt.Errorf("%w: Finish without a successful exchange", ErrProtocol)
	}
	if c.config.mech() == GSSSPNEGO && c.sec == nil {
		if !c.ctx.Established() {
			if len(outcome) == 0 {
				return nil, c.fail(fmt.Errorf("%w: the server reported success before the context was established", ErrProtocol))
			}
			out, err := stepContext(ctx, c.ctx, outcome, c.config.ChannelBindings)
			if err != nil {
				return nil, c.fail(err)
			}
			if len(out) > 0 || !c.ctx.Established() {
				return nil, c.fail(fmt.Errorf("%w: the context needs more legs after the server's success", ErrProtocol))
			}
		} else if len(outcome) > 0 {
			return nil, c.fail(fmt.Errorf("%w: data with the success after the context was established", ErrProtocol))
		}
		layer := flagLayer(c.ctx)
		if !acceptable(layer, c.config.layer(), c.config.RequireLayer) {
			return nil, c.fail(fmt.Errorf("%w: the context gives %v, %v required", ErrTooWeak, layer, c.config.layer()))
		}
		maxSend := c.config.MaxSend
		if maxSend <= 0 {
			maxSend = DefaultMaxSend
		}
		sec, err := newSecurity(c.ctx, layer, maxSend, maxReceive(c.config.MaxReceive))
		if err != nil {
			return nil, c.fail(err)
		}
		c.sec, c.state = sec, clientDone
	}
	if c.state != clientDone {
		return nil, c.fail(fmt.Errorf("%w: the server reported success before the exchange ended", ErrProtocol))
	}
	if len(outcome) > 0 && c.config.mech() == GSSAPI {
		// RFC 4752 3.1: "The server is not expected to return any
		// additional data with the success indicator."
		return nil, c.fail(fmt.Errorf("%w: data with the success indicator", ErrProtocol))
	}
	if conn := c.config.Conn; conn != nil && c.sec.layer != LayerNone && !conn.Active() {
		if err := conn.Start(c.sec); err != nil {
			return nil, c.fail(err)
		}
	}
	return c.sec, nil
}

// DeleteSecContext ends the client's hold on its context. go-ldap calls
// it as soon as GSSAPIBind returns, but the layer must outlive the bind:
// a context carried by a Conn (installed, or armed and still waiting for
// the BindResponse) is left to it, and Conn.Close deletes it; a layer
// other than none that is not on a Conn is left to the Security, which
// the caller closes. Otherwise (no layer, or a failed exchange) the
// context is deleted. If the bind failed after NegotiateSaslAuth armed
// the Conn, the Conn is disarmed and the context deleted.
func (c *Client) DeleteSecContext() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ctx == nil:
		return nil
	case c.sec == nil:
		c.ctx.Delete()
	case c.config.Conn != nil && c.sec.layer != LayerNone:
		conn := c.config.Conn
		if conn.Active() && conn.holds(c.sec) {
			return nil
		}
		conn.disarm(c.sec)
		c.sec.Close()
	case c.sec.layer == LayerNone:
		c.sec.Close()
	}
	if c.state != clientDone {
		c.state = clientFailed
	}
	return nil
}

// sendLimit is the largest wrapped message a side sends under GSSAPI: the
// peer's advertised buffer (RFC 4752 3.1), and no more than the side's
// own. Samba's gensec_gssapi keeps a single size for both directions,
// the smaller one (its STAGE_SASL_SSF_NEG and STAGE_SASL_SSF_ACCEPT take
// the MIN of the two), and refuses a larger message in
// gensec_gssapi_unwrap, which ends an LDAP connection; frames within both
// sizes are valid for every peer.
func sendLimit(peer, own int) int { return min(peer, own) }

// wrapOnce wraps a negotiation message with conf_flag FALSE (RFC 4752
// 3.1): EncryptMessage with SECQOP_WRAP_NO_ENCRYPT, in the layout the
// Security uses.
func wrapOnce(ctx *sspi.Context, msg []byte) ([]byte, error) {
	s, err := negotiationSecurity(ctx)
	if err != nil {
		return nil, err
	}
	return s.appendToken(nil, msg)
}

// unwrapOnce unwraps a negotiation message (wrapped with conf_flag
// FALSE; a sealed one is accepted too).
func unwrapOnce(ctx *sspi.Context, token []byte) ([]byte, error) {
	s, err := negotiationSecurity(ctx)
	if err != nil {
		return nil, err
	}
	return s.open(append([]byte(nil), token...))
}

// negotiationSecurity is a Security for the negotiation messages: signed
// only, whatever the context (NTLM included), with no size limits.
func negotiationSecurity(ctx *sspi.Context) (*Security, error) {
	s, err := newSecurity(ctx, LayerIntegrity, maxBufferLimit, maxBufferLimit)
	if err != nil {
		return nil, err
	}
	s.qop, s.sealed = sspi.SECQOP_WRAP_NO_ENCRYPT, false
	return s, nil
}
