// Package negotiate is the Negotiate security package: SPNEGO (RFC 4178)
// with the Microsoft extensions of [MS-SPNG], choosing between the
// Kerberos and NTLM packages of this module.
//
// # Mechanisms
//
// A client lists Kerberos (the Microsoft OID 1.2.840.48018.1.2.2, then
// the standard 1.2.840.113554.1.2.2) and then NTLM, and sends an
// optimistic Kerberos AP-REQ when a ticket can be had. When it cannot
// (no Kerberos credentials, no KDC answers, the SPN is unknown), the
// client drops Kerberos from the list and starts NTLM, as Windows does,
// but visibly: SECPKG_ATTR_NEGOTIATION_INFO's FallbackReason (and the
// root's Context.FallbackReason) gives Kerberos's error, a debug record
// goes to [Config.Logger], and [Config.RefuseFallback] turns the fallback
// into that error. A NetBIOS domain name (SAMBA\alice) is mapped to its
// realm by the Kerberos package (DC locator) before any of this.
// NTLM is forbidden by the package list "!NTLM", either in
// [Config.PackageList] or in the PackageList of the
// [packages.AuthIdentity] given to AcquireCredentials; the Kerberos
// failure is then returned instead.
//
// A server picks the first mechanism of the client's list that it offers
// and holds credentials for, answers with supportedMech, and asks for the
// mechListMIC when the client's optimistic mechanism was not chosen. It
// also accepts a bare NTLM or Kerberos token in place of SPNEGO, as
// Windows does for HTTP clients that send one; such a context then
// speaks the bare mechanism.
//
// # mechListMIC
//
// The mechListMIC (RFC 4178 5) covers the DER MechTypeList the client
// sent. It is computed and checked with the selected mechanism's
// MakeSignature and VerifySignature. The rules, applied alike by client
// and server once the mechanism completes:
//
//   - A mechanism without integrity protection uses none (RFC 4178 5):
//     NTLM without SIGN, as with ISC_REQ_NO_INTEGRITY (LDAP over TLS
//     against Active Directory). A MIC received then is ignored, and
//     the peer completing without one is accepted, as Samba and Windows
//     do. Kerberos always has integrity.
//   - Otherwise it is mandatory when the server did not take the
//     client's first mechanism (request-mic), for DCE-style contexts,
//     and whenever the NTLM AUTHENTICATE message carried a MIC
//     (MsvAvFlags 0x2), as Windows acceptors require: that MIC covers
//     the negotiated flags, so an on-path attacker who rewrites the
//     mechanism list to [NTLM] and strips the mechListMIC is caught by
//     the server, not only by the client.
//   - Once one side sent it, the other answers with its own.
//
// Kerberos exchanges it when the server asks with request-mic or when
// the peer sends one. A MIC that does not verify, or one missing where it
// is mandatory, fails the handshake with SEC_E_MESSAGE_ALTERED; this is
// how a mechanism list altered in transit (a downgrade) is detected.
//
// With NTLM key exchange a signature consumes RC4 key stream. As
// [MS-SPNG] 3.3.5.1 says, and Windows, gss-ntlmssp and MIT's SPNEGO do,
// after signing its mechListMIC a side resets the RC4 state of its
// outbound direction, and after verifying the peer's the state of its
// inbound one (sequence numbers go on), so that the application's first
// message is sealed from fresh RC4 state: Negotiate calls the
// ResetMICState(outbound bool) method of the mechanism's session when it
// has one, as the NTLM package's sessions do.
//
// # Attributes and messages
//
// SECPKG_ATTR_NEGOTIATION_INFO reports the selected package's SecPkgInfo
// and SECPKG_NEGOTIATION_COMPLETE or SECPKG_NEGOTIATION_IN_PROGRESS;
// SECPKG_ATTR_PACKAGE_INFO reports Negotiate until a mechanism is
// selected, then that mechanism. Every other attribute, and
// MakeSignature, VerifySignature, EncryptMessage and DecryptMessage, are
// those of the selected mechanism. Input buffers other than the token
// (SECBUFFER_CHANNEL_BINDINGS, ...) are passed to the mechanism on every
// leg.
//
// # Status codes
//
// A server that has no mechanism in common with the client, or that gets
// a bare token of a mechanism it does not offer, fails with
// SEC_E_INVALID_TOKEN and writes an SPNEGO reject token to the output
// buffer (for SPNEGO input). A client that receives reject fails with
// SEC_E_LOGON_DENIED, unless the reject carries a mechanism token whose
// own failure comes first. A mechListMIC that does not verify, or one
// that is missing where RFC 4178 requires it, gives
// SEC_E_MESSAGE_ALTERED. Malformed SPNEGO gives SEC_E_INVALID_TOKEN: the
// decoder is strict DER (minimal lengths in short or long form) and
// accepts the extensions RFC 4178's ASN.1 allows. MakeSignature and the
// other per-message calls give SEC_E_INVALID_HANDLE until the handshake
// completes. A failure is sticky; an output buffer too small
// (SEC_E_BUFFER_TOO_SMALL) is not: the next call delivers the token.
//
// # Leg counts
//
// NTLM takes three client calls (the third reads the server's
// accept-completed and its mechListMIC) and two server calls; Kerberos
// takes two client calls and one server call. When the server selected a
// mechanism other than the client's first, one more round trip starts
// it. When the server's mechListMIC went out first (Kerberos after
// request-mic), the client's MIC ends the negotiation on both sides with
// no further token, as MIT krb5 does.
//
// DCE-style contexts (ISC_REQ_USE_DCE_STYLE, ASC_REQ_USE_DCE_STYLE)
// always exchange the mechListMIC.
//
// NegoEx is not implemented: it is never offered, and ignored when a peer
// offers it.
//
// [MS-SPNG]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-spng/
package negotiate

import (
	"context"
	"encoding/asn1"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// pkgName is the package's SecPkgInfo name.
const pkgName = "Negotiate"

// info is SecPkgInfo for Negotiate (structures.md 7): the Windows 10
// capabilities, and Kerberos cbMaxToken (48000) plus 256.
var info = packages.Info{
	Name:         pkgName,
	Comment:      "Microsoft Package Negotiator",
	Capabilities: 0x00883BB3,
	Version:      1,
	RPCID:        9, // RPC_C_AUTHN_GSS_NEGOTIATE
	MaxToken:     48256,
}

// Config configures the Negotiate package. A Config is read, never
// written, once passed to [New]; the zero value is the default.
type Config struct {
	// Kerberos is the Kerberos package Negotiate uses; nil means
	// kerberos.New(nil).
	Kerberos packages.Package

	// NTLM is the NTLM package Negotiate uses; nil means ntlm.New(nil).
	// Its sessions should implement ResetMICState(outbound bool) (see
	// the mechListMIC section above) or not negotiate key exchange;
	// otherwise the first message sealed after the handshake does not
	// match what Windows and gss-ntlmssp peers expect.
	NTLM packages.Package

	// PackageList chooses the mechanisms offered, in the syntax of
	// SEC_WINNT_AUTH_IDENTITY_EX.PackageList: comma-separated package
	// names ("Kerberos", "NTLM"), a leading '!' excluding one. Named
	// packages are used in the order given; "" means Kerberos then NTLM.
	// "!NTLM" forbids the NTLM fallback on clients and the NTLM offer on
	// servers. A credential's own PackageList narrows this further.
	PackageList string

	// RefuseFallback makes a client whose Kerberos cannot be used (no
	// credentials, no KDC, an unknown SPN) fail with Kerberos's error
	// instead of falling back to NTLM. Unlike "!NTLM", NTLM is still
	// offered after Kerberos, so a server without Kerberos may select
	// it; only the silent downgrade on the client is refused.
	RefuseFallback bool

	// Logger receives a debug record for every fallback from Kerberos to
	// NTLM, with the target and the reason. Nil means slog.Default().
	Logger *slog.Logger
}

// AuthData is authentication data for AcquireCredentials that gives each
// mechanism its own: for example a keytab for Kerberos and a user store
// for NTLM on a server. A nil field means that mechanism's default
// credentials.
type AuthData struct {
	Kerberos any
	NTLM     any
	// PackageList narrows the mechanisms as AuthIdentity.PackageList does.
	PackageList string
}

// mechanism is one package Negotiate can select.
type mechanism struct {
	name string                  // SecPkgInfo name: "Kerberos", "NTLM"
	oids []asn1.ObjectIdentifier // OIDs offered, in order
	pkg  packages.Package        // the package itself
	data func(a *AuthData) any   // picks this mechanism's field of AuthData
	ntlm bool                    // NTLM: the mechListMIC is always exchanged
}

// Package is the Negotiate package. It is safe for concurrent use.
type Package struct {
	mechs          []*mechanism // offered, in order of preference
	refuseFallback bool
	logger         *slog.Logger
}

var _ packages.Package = (*Package)(nil)

// New returns the Negotiate package for config; nil means defaults.
func New(config *Config) *Package {
	if config == nil {
		config = &Config{}
	}
	krb := config.Kerberos
	if krb == nil {
		krb = defaultKerberos()
	}
	nt := config.NTLM
	if nt == nil {
		nt = defaultNTLM()
	}
	var all []*mechanism
	if krb != nil {
		all = append(all, &mechanism{
			name: "Kerberos",
			oids: []asn1.ObjectIdentifier{oidMSKRB5, oidKerberos},
			pkg:  krb,
			data: func(a *AuthData) any { return a.Kerberos },
		})
	}
	if nt != nil {
		all = append(all, &mechanism{
			name: "NTLM",
			oids: []asn1.ObjectIdentifier{oidNTLM},
			pkg:  nt,
			data: func(a *AuthData) any { return a.NTLM },
			ntlm: true,
		})
	}
	return &Package{mechs: filterMechs(all, config.PackageList),
		refuseFallback: config.RefuseFallback, logger: config.Logger}
}

// log returns the logger for fallback records.
func (p *Package) log() *slog.Logger {
	if p.logger != nil {
		return p.logger
	}
	return slog.Default()
}

// Info returns Negotiate's SecPkgInfo.
func (p *Package) Info() packages.Info { return info }

// filterMechs applies a PackageList to mechs.
func filterMechs(mechs []*mechanism, list string) []*mechanism {
	var include, exclude []string
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.HasPrefix(f, "!"):
			exclude = append(exclude, strings.TrimSpace(f[1:]))
		default:
			include = append(include, f)
		}
	}
	excluded := func(m *mechanism) bool {
		for _, e := range exclude {
			if strings.EqualFold(e, m.name) {
				return true
			}
		}
		return false
	}
	var out []*mechanism
	if len(include) == 0 {
		for _, m := range mechs {
			if !excluded(m) {
				out = append(out, m)
			}
		}
		return out
	}
	for _, name := range include {
		for _, m := range mechs {
			if strings.EqualFold(name, m.name) && !excluded(m) && !containsMech(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

func containsMech(ms []*mechanism, m *mechanism) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// mechCred is a mechanism with the credentials acquired for it.
type mechCred struct {
	mech *mechanism
	cred packages.Credentials
}

// credentials are Negotiate credentials: one credential per usable
// mechanism, in order of preference.
type credentials struct {
	pkg   *Package
	use   uint32
	mechs []mechCred // constant
	// failed records why a mechanism offered by the list has no
	// credentials (for example Kerberos without a KDC); constant.
	failed []mechFailure
}

type mechFailure struct {
	mech *mechanism
	err  error
}

// AcquireCredentials acquires credentials for every mechanism the package
// list allows, with the same principal, use and authData (an
// *[AuthData] gives each mechanism its own). Mechanisms whose credentials
// cannot be had are left out; if none remains, the first failure is
// returned.
func (p *Package) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	const op = "AcquireCredentialsHandle"
	if use&packages.SECPKG_CRED_BOTH == 0 {
		return nil, status.New(op, pkgName, status.SEC_E_UNKNOWN_CREDENTIALS, errors.New("negotiate: credential use is neither inbound nor outbound"))
	}
	mechs := p.mechs
	var ad *AuthData
	switch a := authData.(type) {
	case *packages.AuthIdentity:
		if a != nil {
			mechs = filterMechs(mechs, a.PackageList)
		}
	case *AuthData:
		if a != nil {
			ad = a
			mechs = filterMechs(mechs, a.PackageList)
		}
	}
	c := &credentials{pkg: p, use: use}
	for _, m := range mechs {
		data := authData
		if ad != nil {
			data = m.data(ad)
		}
		cred, err := m.pkg.AcquireCredentials(ctx, principal, use, data)
		if err != nil {
			if ctx.Err() != nil {
				return nil, status.New(op, pkgName, status.SEC_E_NO_AUTHENTICATING_AUTHORITY, ctx.Err())
			}
			c.failed = append(c.failed, mechFailure{m, err})
			continue
		}
		c.mechs = append(c.mechs, mechCred{m, cred})
	}
	if len(c.mechs) == 0 {
		if len(c.failed) > 0 {
			return nil, wrapErr(op, c.failed[0].err)
		}
		return nil, status.New(op, pkgName, status.SEC_E_NO_CREDENTIALS, errors.New("negotiate: no security package is allowed"))
	}
	return c, nil
}

// wrapErr returns err as an error carrying its status, for op.
func wrapErr(op string, err error) error {
	var se *status.Error
	if errors.As(err, &se) && se.Package == pkgName {
		return err
	}
	code := status.Code(err)
	if !code.Failed() {
		code = status.SEC_E_INTERNAL_ERROR
	}
	return status.New(op, pkgName, code, err)
}

func (c *credentials) Use() uint32 { return c.use }

// Expiry returns the earliest expiry of the mechanisms' credentials.
func (c *credentials) Expiry() time.Time {
	var t time.Time
	for _, m := range c.mechs {
		if e := m.cred.Expiry(); !e.IsZero() && (t.IsZero() || e.Before(t)) {
			t = e
		}
	}
	return t
}

// UserName returns the user of the first mechanism that has one.
func (c *credentials) UserName() string {
	for _, m := range c.mechs {
		if n := m.cred.UserName(); n != "" {
			return n
		}
	}
	return ""
}

func (c *credentials) Free() {
	for _, m := range c.mechs {
		m.cred.Free()
	}
}

func (c *credentials) NewClientContext(target string, req uint32) (packages.Context, error) {
	if c.use&packages.SECPKG_CRED_OUTBOUND == 0 {
		return nil, status.New("InitializeSecurityContext", pkgName, status.SEC_E_NO_CREDENTIALS, errors.New("negotiate: credentials are not outbound"))
	}
	return newClientContext(c, target, req), nil
}

func (c *credentials) NewServerContext(req uint32) (packages.Context, error) {
	if c.use&packages.SECPKG_CRED_INBOUND == 0 {
		return nil, status.New("AcceptSecurityContext", pkgName, status.SEC_E_NO_CREDENTIALS, errors.New("negotiate: credentials are not inbound"))
	}
	return newServerContext(c, req), nil
}
