package sshgss

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gosspi/sspi"
)

// DefaultTimeout bounds each handshake step (and so the KDC exchange it
// may make) when a config sets no Timeout.
const DefaultTimeout = 30 * time.Second

// ClientConfig configures a [Client]. The zero value asks for mutual
// authentication and integrity without delegation.
type ClientConfig struct {
	// Delegate asks the server to receive the client's forwardable TGT
	// (ISC_REQ_DELEGATE, GSS_C_DELEG_FLAG), as "ssh -K" does. The
	// client's TGT must be forwardable (kinit -f, or forwardable = true
	// in krb5.conf); otherwise nothing is delegated and the login goes
	// on, as with MIT.
	Delegate bool

	// Flags are more ISC_REQ_ flags for the context, added to
	// ISC_REQ_MUTUAL_AUTH|ISC_REQ_INTEGRITY.
	Flags uint32

	// Timeout bounds each handshake step; zero means DefaultTimeout.
	Timeout time.Duration
}

// Client is an ssh.GSSAPIClient (golang.org/x/crypto/ssh) over a Kerberos
// client [sspi.Context]:
//
//	type GSSAPIClient interface {
//		InitSecContext(target string, token []byte, isGSSDelegCreds bool) (outputToken []byte, needContinue bool, err error)
//		GetMIC(micField []byte) ([]byte, error)
//		DeleteSecContext() error
//	}
//
// A Client runs one exchange at a time: x/crypto/ssh calls it from the
// connection being authenticated, and calls DeleteSecContext at the end
// of each attempt, after which the Client can be used again. Connections
// dialled at the same time need a Client each (an ssh.ClientConfig each);
// a second exchange started while one runs fails with ErrBusy. Its
// methods are safe for concurrent use.
type Client struct {
	cred   *sspi.Credentials
	config ClientConfig

	mu  sync.Mutex
	ctx *sspi.Context // nil between exchanges
}

// NewClient returns a client whose contexts come from cred, Kerberos
// outbound credentials (a password, a keytab or a credential cache). The
// caller keeps ownership of cred and frees it after the last exchange.
// config may be nil.
func NewClient(cred *sspi.Credentials, config *ClientConfig) *Client {
	c := &Client{cred: cred}
	if config != nil {
		c.config = *config
	}
	return c
}

func timeout(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}

// ErrBusy reports an exchange started on a Client or Server while
// another one runs on it: a Client or Server shared between connections
// that authenticate at the same time.
var ErrBusy = errors.New("sshgss: another exchange is running on this Client or Server; use one per connection")

// ErrNotKerberos reports credentials of a package other than Kerberos for
// the client, or other than Kerberos or Negotiate for the server.
var ErrNotKerberos = errors.New("sshgss: gssapi-with-mic needs Kerberos credentials")

// InitSecContext runs one step of the client's context (gss_init_sec_context):
// token is nil on the first call of an exchange, then each token the
// server sent. target is a GSS host-based name ("host@server.example.com",
// as x/crypto/ssh forms it) or an SPN ("host/server.example.com").
// needContinue reports that the server's answer is awaited. Delegation is
// asked for when isGSSDelegCreds or ClientConfig.Delegate is set.
func (c *Client) InitSecContext(target string, token []byte, isGSSDelegCreds bool) (outputToken []byte, needContinue bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token == nil && c.ctx != nil {
		// x/crypto/ssh deletes the context at the end of every
		// attempt, so another exchange is running on this Client: a
		// second connection sharing it.
		return nil, false, ErrBusy
	}
	if c.ctx == nil {
		if token != nil {
			return nil, false, errors.New("sshgss: a token arrived with no exchange under way")
		}
		if c.cred == nil || c.cred.PackageName() != "Kerberos" {
			return nil, false, ErrNotKerberos
		}
		req := sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_INTEGRITY | c.config.Flags
		if isGSSDelegCreds || c.config.Delegate {
			req |= sspi.ISC_REQ_DELEGATE
		}
		ctx, err := sspi.NewClientContext(c.cred, target, req)
		if err != nil {
			return nil, false, fmt.Errorf("sshgss: %w", err)
		}
		c.ctx = ctx
	}
	if c.ctx.Established() {
		return nil, false, errors.New("sshgss: a token arrived after the context was established")
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout(c.config.Timeout))
	defer cancel()
	out, cont, err := c.ctx.GSSStep(sctx, token)
	if err != nil {
		c.ctx.Delete()
		c.ctx = nil
		return nil, false, fmt.Errorf("sshgss: %w", err)
	}
	return out, cont, nil
}

// GetMIC returns the MIC token over micField (gss_get_mic; RFC 4462 3.5:
// the session identifier and the user authentication request) on the
// established context.
func (c *Client) GetMIC(micField []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil || !c.ctx.Established() {
		return nil, errors.New("sshgss: GetMIC before the context is established")
	}
	mic, err := c.ctx.GetMIC(micField)
	if err != nil {
		return nil, fmt.Errorf("sshgss: %w", err)
	}
	return mic, nil
}

// DeleteSecContext deletes the context of the current exchange, complete
// or not (gss_delete_sec_context); it never fails.
func (c *Client) DeleteSecContext() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil {
		c.ctx.Delete()
		c.ctx = nil
	}
	return nil
}
