package sasl

import (
	"context"
	"fmt"
	"sync"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/secbuffer"
)

// ServerConfig configures a [Server]. The zero value runs GSSAPI and
// offers every layer.
type ServerConfig struct {
	// Mechanism is GSSAPI (the default when empty) or GSSSPNEGO.
	Mechanism Mechanism

	// Layers is the set of layers (a bit mask) the server offers with
	// GSSAPI, or accepts from the context flags with GSS-SPNEGO; zero
	// means all three. Leave LayerNone out to require protection, as a
	// domain controller that requires LDAP signing does.
	Layers Layer

	// MaxReceive is the largest wrapped message this side accepts, and
	// with GSSAPI advertises; zero means DefaultMaxReceive. It is capped
	// at 2^24-1. With GSSAPI it also bounds the messages this side sends,
	// as Samba's clients require (see the package doc, Framing).
	MaxReceive int

	// MaxSend is the largest wrapped message sent under GSS-SPNEGO,
	// where the client advertises no size; zero means DefaultMaxSend.
	// With GSSAPI the client's advertised size is used.
	MaxSend int

	// ChannelBindings, if not nil, are the bindings of the channel under
	// the exchange as this side sees it (for TLS tls-server-end-point:
	// [secbuffer.CertificateServerEndPoint] of the server's certificate),
	// passed to every handshake leg as a SECBUFFER_CHANNEL_BINDINGS input
	// buffer. The acceptor refuses a client whose bindings differ
	// (SEC_E_BAD_BINDINGS); whether it also refuses one that sends none is
	// its package's setting (ntlm.Config.RequireChannelBindings,
	// kerberos.Config.RequireChannelBindings).
	ChannelBindings *secbuffer.ChannelBindings
}

func (c *ServerConfig) mech() Mechanism {
	if c.Mechanism == "" {
		return GSSAPI
	}
	return c.Mechanism
}

func (c *ServerConfig) layers() Layer {
	if c.Layers&allLayers == 0 {
		return allLayers
	}
	return c.Layers & allLayers
}

// serverState is where a Server stands in the exchange.
type serverState uint8

const (
	serverHandshake serverState = iota // running the context handshake
	serverEmpty                        // GSSAPI: sent the last context token, waiting for an empty response
	serverChoice                       // GSSAPI: sent the offer, waiting for the client's choice
	serverDone
	serverFailed
)

// Server is the server side of the GSSAPI (RFC 4752) or GSS-SPNEGO SASL
// mechanism over a server [sspi.Context]. Call Step with each client
// response until it reports done, then send the success outcome (with
// Step's last output as its additional data when not empty), and install
// the layer: for LDAP, write the successful BindResponse and call
// [Conn.Start] with [Server.Security].
//
// A Server runs one exchange; its methods are serialised.
type Server struct {
	config ServerConfig

	mu      sync.Mutex
	ctx     *sspi.Context
	state   serverState
	offer   offer
	sec     *Security
	authzID string
}

// NewServer returns a server over a new server context from cred, made
// with ServerFlags. config may be nil.
func NewServer(cred *sspi.Credentials, config *ServerConfig) (*Server, error) {
	ctx, err := sspi.NewServerContext(cred, ServerFlags())
	if err != nil {
		return nil, err
	}
	return NewServerFromContext(ctx, config), nil
}

// NewServerFromContext returns a server over ctx, a server context whose
// handshake has not begun. The server owns ctx from now on. config may
// be nil.
func NewServerFromContext(ctx *sspi.Context, config *ServerConfig) *Server {
	s := &Server{ctx: ctx}
	if config != nil {
		s.config = *config
	}
	return s
}

// Context returns the server's security context: once done, ask it who
// the client is ([sspi.Context.UserName]).
func (s *Server) Context() *sspi.Context { return s.ctx }

// Security returns the layer in force, nil until Step reports done.
func (s *Server) Security() *Security {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sec
}

// AuthzID returns the authorization identity the client asked for
// (GSSAPI), "" for the identity it authenticated as. RFC 4752 3.1 leaves
// the check that the authenticated client may act as it to the
// application.
func (s *Server) AuthzID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authzID
}

// Step processes one client response (the initial response first) and
// returns the challenge to send, or, with done, the additional data of
// the success outcome (GSS-SPNEGO: the server's last context token, if
// any; GSSAPI: none). An error fails the exchange; send a failure outcome
// (LDAP: invalidCredentials, or strongAuthRequired for ErrTooWeak).
// Cancelling ctx stops the handshake leg.
func (s *Server) Step(ctx context.Context, response []byte) (challenge []byte, done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case serverHandshake:
		return s.handshake(ctx, response)
	case serverEmpty:
		// RFC 4752 3.1: after the last context token the server
		// "expects a reply from the client with no data".
		if len(response) != 0 {
			return nil, false, s.fail(fmt.Errorf("%w: data where an empty response was due", ErrProtocol))
		}
		out, err := s.sendOffer()
		return out, false, err
	case serverChoice:
		return nil, true, s.readChoice(response)
	}
	return nil, false, s.fail(fmt.Errorf("%w: a response after the exchange ended", ErrProtocol))
}

func (s *Server) fail(err error) error {
	s.state = serverFailed
	return err
}

// handshake runs one leg of the context handshake. s.mu is held.
func (s *Server) handshake(ctx context.Context, in []byte) ([]byte, bool, error) {
	out, err := stepContext(ctx, s.ctx, in, s.config.ChannelBindings)
	if err != nil {
		return nil, false, s.fail(err)
	}
	if !s.ctx.Established() {
		return out, false, nil
	}
	if s.config.mech() == GSSAPI {
		if len(out) > 0 {
			s.state = serverEmpty
			return out, false, nil
		}
		out, err := s.sendOffer()
		return out, false, err
	}
	// GSS-SPNEGO: the layer is the context's (see ClientFlags).
	layer := flagLayer(s.ctx)
	if s.config.layers()&layer == 0 {
		return nil, false, s.fail(fmt.Errorf("%w: the client's context gives %v, the server accepts %v", ErrTooWeak, layer, s.config.layers()))
	}
	maxSend := s.config.MaxSend
	if maxSend <= 0 {
		maxSend = DefaultMaxSend
	}
	sec, err := newSecurity(s.ctx, layer, maxSend, maxReceive(s.config.MaxReceive))
	if err != nil {
		return nil, false, s.fail(err)
	}
	s.sec, s.state = sec, serverDone
	return out, true, nil
}

// sendOffer builds the wrapped offer (RFC 4752 3.1). s.mu is held.
func (s *Server) sendOffer() ([]byte, error) {
	layers := s.config.layers() & offerable(s.ctx)
	if layers == 0 {
		return nil, s.fail(fmt.Errorf("%w: the context carries none of the layers %v", ErrTooWeak, s.config.layers()))
	}
	s.offer = offer{layers: layers}
	if layers != LayerNone {
		s.offer.maxBuf = maxReceive(s.config.MaxReceive)
	}
	out, err := wrapOnce(s.ctx, s.offer.marshal())
	if err != nil {
		return nil, s.fail(err)
	}
	s.state = serverChoice
	return out, nil
}

// readChoice reads the client's wrapped choice and sets up the layer.
// s.mu is held.
func (s *Server) readChoice(token []byte) error {
	plain, err := unwrapOnce(s.ctx, token)
	if err != nil {
		return s.fail(err)
	}
	ch, err := parseChoice(plain)
	if err != nil {
		return s.fail(err)
	}
	layer, err := s.offer.accept(ch)
	if err != nil {
		return s.fail(err)
	}
	sec, err := newSecurity(s.ctx, layer, sendLimit(ch.maxBuf, s.offer.maxBuf), s.offer.maxBuf)
	if err != nil {
		return s.fail(err)
	}
	s.sec, s.authzID, s.state = sec, ch.authzID, serverDone
	return nil
}

// Close releases the context, unless a Security was made: that then owns
// it, and is closed by Security.Close or by the Conn it was started on.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sec == nil {
		s.ctx.Delete()
		if s.state != serverDone {
			s.state = serverFailed
		}
	}
}
