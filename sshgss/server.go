package sshgss

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gosspi/sspi"
)

// ServerConfig configures a [Server]. The zero value is ready to use.
type ServerConfig struct {
	// Flags are more ASC_REQ_ flags for the context, added to
	// ASC_REQ_MUTUAL_AUTH|ASC_REQ_INTEGRITY.
	Flags uint32

	// Timeout bounds each handshake step; zero means DefaultTimeout.
	Timeout time.Duration
}

// Server is an ssh.GSSAPIServer (golang.org/x/crypto/ssh) over a server
// [sspi.Context]:
//
//	type GSSAPIServer interface {
//		AcceptSecContext(token []byte) (outputToken []byte, srcName string, needContinue bool, err error)
//		VerifyMIC(micField []byte, micToken []byte) error
//		DeleteSecContext() error
//	}
//
// A Server holds one exchange: x/crypto/ssh calls it for one connection
// at a time only if each connection has its own (see the package doc). A
// token arriving while an established exchange has not been deleted
// fails with ErrBusy. Its methods are safe for concurrent use.
type Server struct {
	cred   *sspi.Credentials
	config ServerConfig

	mu   sync.Mutex
	ctx  *sspi.Context // nil between exchanges
	name string        // the client principal, once established
}

// NewServer returns a server whose contexts come from cred: Kerberos
// inbound credentials (a keytab holding the host/ key), or Negotiate
// credentials over them. The caller keeps ownership of cred. config may
// be nil.
func NewServer(cred *sspi.Credentials, config *ServerConfig) *Server {
	s := &Server{cred: cred}
	if config != nil {
		s.config = *config
	}
	return s
}

// AcceptSecContext runs one step of the server's context
// (gss_accept_sec_context) with a token from the client. Once the
// context is established, srcName is the client principal
// ("alice@EXAMPLE.COM"), which x/crypto/ssh passes to AllowLogin.
func (s *Server) AcceptSecContext(token []byte) (outputToken []byte, srcName string, needContinue bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx != nil && s.ctx.Established() {
		// x/crypto/ssh deletes the context at the end of every
		// exchange: this token starts an exchange of another
		// connection sharing this Server. Refuse it rather than let
		// one connection see another's principal or credentials.
		return nil, "", false, ErrBusy
	}
	if s.ctx == nil {
		if s.cred == nil {
			return nil, "", false, ErrNotKerberos
		}
		if p := s.cred.PackageName(); p != "Kerberos" && p != "Negotiate" {
			return nil, "", false, ErrNotKerberos
		}
		ctx, err := sspi.NewServerContext(s.cred, sspi.ASC_REQ_MUTUAL_AUTH|sspi.ASC_REQ_INTEGRITY|s.config.Flags)
		if err != nil {
			return nil, "", false, fmt.Errorf("sshgss: %w", err)
		}
		s.ctx = ctx
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout(s.config.Timeout))
	defer cancel()
	out, cont, err := s.ctx.GSSStep(sctx, token)
	if err != nil {
		s.deleteLocked()
		return nil, "", false, fmt.Errorf("sshgss: %w", err)
	}
	if cont {
		return out, "", true, nil
	}
	if pkg := s.ctx.NegotiatedPackage(); pkg != "Kerberos" {
		s.deleteLocked()
		return nil, "", false, fmt.Errorf("sshgss: the client authenticated with %s: %w", pkg, ErrNotKerberos)
	}
	name, err := s.ctx.UserName()
	if err != nil {
		s.deleteLocked()
		return nil, "", false, fmt.Errorf("sshgss: %w", err)
	}
	s.name = name
	return out, name, false, nil
}

// VerifyMIC checks the client's MIC token over micField (gss_verify_mic)
// on the established context.
func (s *Server) VerifyMIC(micField []byte, micToken []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || !s.ctx.Established() {
		return errors.New("sshgss: VerifyMIC before the context is established")
	}
	if err := s.ctx.VerifyMIC(micField, micToken); err != nil {
		return fmt.Errorf("sshgss: %w", err)
	}
	return nil
}

// DeleteSecContext deletes the context of the current exchange
// (gss_delete_sec_context), zeroing its keys and any delegated
// credentials not taken; it never fails.
func (s *Server) DeleteSecContext() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLocked()
	return nil
}

func (s *Server) deleteLocked() {
	if s.ctx != nil {
		s.ctx.Delete()
		s.ctx = nil
	}
	s.name = ""
}

// Principal returns the client principal of the established exchange,
// "" when there is none.
func (s *Server) Principal() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// Context returns the established server context of the current exchange
// (for its PAC, flags or session key), nil when there is none. It stays
// owned by the Server and is deleted with the exchange: do not keep it
// past AllowLogin.
func (s *Server) Context() *sspi.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || !s.ctx.Established() {
		return nil
	}
	return s.ctx
}

// DelegatedCredentials returns outbound Kerberos credentials acting as the
// client, built from the TGT it delegated ("ssh -K", or a [Client] with
// Delegate): see [sspi.Context.DelegatedCredentials]. Call it from
// AllowLogin, before x/crypto/ssh deletes the context. The caller owns the
// copy returned and frees it. It fails with SEC_E_NO_CREDENTIALS when the
// client delegated nothing.
func (s *Server) DelegatedCredentials() (*sspi.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || !s.ctx.Established() {
		return nil, fmt.Errorf("sshgss: no established exchange: %w", sspi.SEC_E_NO_CREDENTIALS)
	}
	dc, err := s.ctx.DelegatedCredentials()
	if err != nil {
		return nil, fmt.Errorf("sshgss: %w", err)
	}
	return dc, nil
}
