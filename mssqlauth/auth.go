// Package mssqlauth plugs gosspi into go-mssqldb's integrated
// authentication: an integratedauth.Provider whose authenticators run
// Negotiate, Kerberos or NTLM through package sspi, on any platform, with
// the channel bindings go-mssqldb passes for Extended Protection (EPA).
//
// Importing the package registers the provider under [ProviderName]
// ("gosspi"); a connection selects it with authenticator=gosspi:
//
//	import _ "github.com/gosspi/sspi/mssqlauth"
//
//	db, err := sql.Open("sqlserver",
//		"sqlserver://sql.example.com?authenticator=gosspi&sspi-package=Kerberos")
//
// The connection's user id and password, when given, are the identity
// ("DOMAIN\user", "user@REALM" or "user"); without them the package's
// default credentials are used (the Kerberos credential cache named by
// KRB5CCNAME, NTLM_USER_FILE for NTLM), as Windows uses the logged-on
// user's. The target is go-mssqldb's ServerSPN (by default
// "MSSQLSvc/host:port"). The connection parameter sspi-package picks the
// package: Negotiate (the default), Kerberos or NTLM.
//
// [Register] adds a provider under another name, for instance one built
// on a private [sspi.Registry].
package mssqlauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/microsoft/go-mssqldb/integratedauth"
	"github.com/microsoft/go-mssqldb/msdsn"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/secbuffer"
)

// ProviderName is the name the package registers its default [Provider]
// under: connection strings select it with authenticator=gosspi.
const ProviderName = "gosspi"

// PackageParameter is the connection parameter naming the security
// package: "Negotiate" (the default), "Kerberos" or "NTLM".
const PackageParameter = "sspi-package"

// DefaultRequest is the ISC_REQ_* set an authenticator asks for, the one
// Windows' SQL Server clients ask for: mutual authentication with replay
// and sequence detection and confidentiality, over a connection.
const DefaultRequest = sspi.ISC_REQ_MUTUAL_AUTH | sspi.ISC_REQ_REPLAY_DETECT |
	sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_CONNECTION

func init() {
	if err := Register(ProviderName, &Provider{}); err != nil {
		panic(err)
	}
}

// Register registers p with go-mssqldb under name; connection strings
// select it with authenticator=name. Call it before opening connections.
func Register(name string, p *Provider) error {
	if p == nil {
		return integratedauth.ErrProviderCannotBeNil
	}
	return integratedauth.SetIntegratedAuthenticationProvider(name, p)
}

// Provider is an integratedauth.Provider over package sspi. The zero
// value uses the default registry and the connection's settings. A
// Provider is safe for concurrent use; do not change its fields once it
// is registered.
type Provider struct {
	// Registry is where credentials come from; nil means the default
	// registry of package sspi.
	Registry *sspi.Registry
	// Package names the security package when the connection does not
	// (its sspi-package parameter); "" means Negotiate.
	Package string
	// Credentials, if set, are used instead of acquiring them from the
	// connection's user id and password. The Provider does not free them.
	Credentials *sspi.Credentials
	// Request is the ISC_REQ_* set; zero means DefaultRequest.
	Request uint32
	// Timeout bounds each handshake step (a Kerberos step may talk to the
	// KDC); zero means 30 seconds.
	Timeout time.Duration
}

// GetIntegratedAuthenticator implements integratedauth.Provider: it
// returns an [*Authenticator] for one login with config's identity and
// server SPN.
func (p *Provider) GetIntegratedAuthenticator(config msdsn.Config) (integratedauth.IntegratedAuthenticator, error) {
	pkg := p.Package
	if v := config.Parameters[PackageParameter]; v != "" {
		pkg = v
	}
	if pkg == "" {
		pkg = "Negotiate"
	}
	switch strings.ToLower(pkg) {
	case "negotiate", "kerberos", "ntlm":
	default:
		return nil, fmt.Errorf("mssqlauth: %s=%q: want Negotiate, Kerberos or NTLM", PackageParameter, pkg)
	}
	target := config.ServerSPN
	if target == "" {
		target = defaultSPN(config)
	}
	a := &Authenticator{
		registry: p.Registry,
		pkg:      pkg,
		target:   target,
		cred:     p.Credentials,
		req:      p.Request,
		timeout:  p.Timeout,
	}
	if a.registry == nil {
		a.registry = sspi.DefaultRegistry()
	}
	if a.req == 0 {
		a.req = DefaultRequest
	}
	if a.timeout == 0 {
		a.timeout = 30 * time.Second
	}
	if a.cred == nil && config.User != "" {
		a.identity = identity(config.User, config.Password)
	}
	return a, nil
}

// defaultSPN is the SPN go-mssqldb's TCP dialer sets: MSSQLSvc/host:port,
// or MSSQLSvc/host:instance for a named instance.
func defaultSPN(config msdsn.Config) string {
	if config.Instance != "" {
		return "MSSQLSvc/" + config.Host + ":" + config.Instance
	}
	port := config.Port
	if port == 0 {
		port = 1433
	}
	return "MSSQLSvc/" + config.Host + ":" + strconv.FormatUint(port, 10)
}

// identity splits "DOMAIN\user" as Windows does; "user@REALM" and "user"
// are passed on whole for the package to interpret.
func identity(user, password string) *sspi.AuthIdentity {
	if domain, name, ok := strings.Cut(user, `\`); ok {
		return &sspi.AuthIdentity{User: name, Domain: domain, Password: password}
	}
	return &sspi.AuthIdentity{User: user, Password: password}
}

// Authenticator is one login's security context: go-mssqldb calls
// InitialBytes, NextBytes with each SSPI token the server sends, and Free.
// It also implements integratedauth.AuthenticatorWithEPA. It is not safe
// for concurrent use, as go-mssqldb uses it from one goroutine.
type Authenticator struct {
	registry *sspi.Registry
	pkg      string
	target   string
	identity *sspi.AuthIdentity
	req      uint32
	timeout  time.Duration

	cred     *sspi.Credentials
	ownsCred bool
	ctx      *sspi.Context
	bindings *secbuffer.ChannelBindings
}

var (
	_ integratedauth.IntegratedAuthenticator = (*Authenticator)(nil)
	_ integratedauth.AuthenticatorWithEPA    = (*Authenticator)(nil)
)

// SetChannelBinding implements integratedauth.AuthenticatorWithEPA:
// go-mssqldb passes the TLS channel bindings before InitialBytes, and
// every handshake step then carries them (a SECBUFFER_CHANNEL_BINDINGS
// input, as Windows' SQL clients pass it). The empty bindings
// go-mssqldb uses for "none" send none.
func (a *Authenticator) SetChannelBinding(cb *integratedauth.ChannelBindings) {
	if cb == nil || cb.Type == integratedauth.ChannelBindingsTypeEmpty {
		a.bindings = nil
		return
	}
	a.bindings = &secbuffer.ChannelBindings{
		InitiatorAddrType: cb.InitiatorAddrType,
		InitiatorAddress:  append([]byte(nil), cb.InitiatorAddress...),
		AcceptorAddrType:  cb.AcceptorAddrType,
		AcceptorAddress:   append([]byte(nil), cb.AcceptorAddress...),
		ApplicationData:   append([]byte(nil), cb.ApplicationData...),
	}
}

// Target returns the SPN the authenticator authenticates to.
func (a *Authenticator) Target() string { return a.target }

// Context returns the security context once InitialBytes has created it,
// for per-message calls or attribute queries after the login; nil before.
func (a *Authenticator) Context() *sspi.Context { return a.ctx }

// InitialBytes implements integratedauth.IntegratedAuthenticator: it
// acquires credentials and returns the first token of the login.
func (a *Authenticator) InitialBytes() ([]byte, error) {
	if a.ctx != nil {
		return nil, errors.New("mssqlauth: InitialBytes called twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	if a.cred == nil {
		var auth any
		if a.identity != nil {
			auth = a.identity
		}
		cred, err := a.registry.AcquireCredentials(ctx, a.pkg, sspi.CredentialsOutbound, auth)
		if err != nil {
			return nil, err
		}
		a.cred, a.ownsCred = cred, true
	}
	c, err := sspi.NewClientContext(a.cred, a.target, a.req)
	if err != nil {
		return nil, err
	}
	a.ctx = c
	return a.step(ctx, nil)
}

// NextBytes implements integratedauth.IntegratedAuthenticator: it takes
// the server's token and returns the next one, empty when the client has
// nothing more to send.
func (a *Authenticator) NextBytes(in []byte) ([]byte, error) {
	if a.ctx == nil {
		return nil, errors.New("mssqlauth: NextBytes before InitialBytes")
	}
	if a.ctx.Established() {
		return nil, errors.New("mssqlauth: token received after the context was established")
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	return a.step(ctx, in)
}

func (a *Authenticator) step(ctx context.Context, in []byte) ([]byte, error) {
	bufs := make([]secbuffer.Buffer, 0, 2)
	if in != nil {
		bufs = append(bufs, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: in})
	}
	if a.bindings != nil {
		bufs = append(bufs, a.bindings.Buffer())
	}
	return a.ctx.StepBuffers(ctx, bufs)
}

// Free implements integratedauth.IntegratedAuthenticator: it deletes the
// context (zeroing its keys) and frees the credentials it acquired.
func (a *Authenticator) Free() {
	if a.ctx != nil {
		a.ctx.Delete()
		a.ctx = nil
	}
	if a.ownsCred && a.cred != nil {
		a.cred.Free()
	}
	a.cred = nil
}
