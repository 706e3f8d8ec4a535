package kerberos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/gosspi/sspi/status"
)

// Transport carries one request to a KDC of realm and returns its reply.
// Implementations must honour ctx (cancellation and deadline).
type Transport interface {
	RoundTrip(ctx context.Context, realm string, req []byte) ([]byte, error)
}

// ErrNoKDC is the cause reported when no KDC of the realm answered.
var ErrNoKDC = errors.New("kerberos: no KDC reachable")

// netTransport sends to the KDCs of the realm, found in krb5.conf or DNS
// (locate.go), over UDP, TCP or a KDC proxy with MIT's timing
// (sendto.go): UDP first for requests below udp_preference_limit, TCP
// first otherwise, and TCP alone again when a UDP reply was
// KRB_ERR_RESPONSE_TOO_BIG.
type netTransport struct{ p *Package }

const defaultUDPLimit = 1465

func (t *netTransport) RoundTrip(ctx context.Context, realm string, req []byte) ([]byte, error) {
	conf, err := t.p.krb5conf()
	if err != nil {
		return nil, err
	}
	servers, _, err := t.p.locateKDCs(ctx, realm)
	if err != nil {
		return nil, err
	}
	limit := conf.LibDefaults.UDPPreferenceLimit
	if limit <= 0 {
		limit = defaultUDPLimit
	}
	start := time.Now()
	for _, tcpOnly := range []bool{false, true} {
		addrs, err := t.p.expandServers(ctx, servers, len(req) > limit, tcpOnly)
		if err != nil {
			return nil, fmt.Errorf("%w for realm %q", err, realm)
		}
		rep, from, err := t.p.sendto(ctx, realm, addrs, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("realm %q: %w", realm, err)
		}
		if from.transport == transportUDP && tooBig(rep) && !tcpOnly {
			continue
		}
		logKDC(ctx, realm, from, start)
		return rep, nil
	}
	return nil, fmt.Errorf("%w for realm %q: every reply was too big for UDP", ErrNoKDC, realm)
}

// tooBig reports whether rep is KRB_ERR_RESPONSE_TOO_BIG.
func tooBig(rep []byte) bool {
	if len(rep) == 0 || rep[0] != 0x7e {
		return false
	}
	var e messages.KRBError
	return e.Unmarshal(rep) == nil && e.ErrorCode == errorcode.KRB_ERR_RESPONSE_TOO_BIG
}

// krbErrorStatus maps a KRB-ERROR code to the SSPI status Windows reports.
func krbErrorStatus(code int32) status.Status {
	switch code {
	case errorcode.KDC_ERR_PREAUTH_FAILED, errorcode.KRB_AP_ERR_BAD_INTEGRITY,
		errorcode.KDC_ERR_CLIENT_REVOKED, errorcode.KDC_ERR_C_PRINCIPAL_UNKNOWN,
		errorcode.KRB_AP_ERR_MODIFIED:
		return status.SEC_E_LOGON_DENIED
	case errorcode.KDC_ERR_S_PRINCIPAL_UNKNOWN:
		return status.SEC_E_TARGET_UNKNOWN
	case errorcode.KRB_AP_ERR_SKEW:
		return status.SEC_E_TIME_SKEW
	case errorcode.KDC_ERR_KEY_EXPIRED:
		return status.SEC_E_LOGON_DENIED
	case errorcode.KDC_ERR_ETYPE_NOSUPP:
		return status.SEC_E_KDC_UNKNOWN_ETYPE
	case errorcode.KRB_AP_ERR_TKT_EXPIRED:
		return status.SEC_E_CONTEXT_EXPIRED
	case errorcode.KRB_AP_ERR_REPEAT:
		return status.SEC_E_OUT_OF_SEQUENCE
	case errorcode.KRB_AP_ERR_BADMATCH, errorcode.KRB_AP_ERR_NOT_US:
		return status.SEC_E_WRONG_PRINCIPAL
	case errorcode.KDC_ERR_BADOPTION, errorcode.KDC_ERR_POLICY:
		return status.SEC_E_DELEGATION_POLICY
	}
	return status.SEC_E_INTERNAL_ERROR
}

// kdcError turns a KRB-ERROR reply into an error with the mapped status;
// the messages.KRBError stays reachable with errors.As.
func kdcError(op string, e messages.KRBError) error {
	st := krbErrorStatus(e.ErrorCode)
	if st == status.SEC_E_INTERNAL_ERROR {
		st = status.SEC_E_LOGON_DENIED
	}
	return errorf(op, st, &kdcErr{e})
}

// kdcErr wraps a KRB-ERROR with a message that quotes the peer's text and
// the NTSTATUS of an Active Directory KDC.
type kdcErr struct{ e messages.KRBError }

// NTStatus returns the NTSTATUS an Active Directory KDC gave as the cause
// (STATUS_ACCOUNT_DISABLED, STATUS_ACCOUNT_LOCKED_OUT, ...), if any.
func (k *kdcErr) NTStatus() (uint32, bool) { return edataNTStatus(k.e.EData) }

func (k *kdcErr) Error() string {
	msg := fmt.Sprintf("kerberos: KRB-ERROR %d (%s)", k.e.ErrorCode, errorcode.Lookup(k.e.ErrorCode))
	if k.e.EText != "" {
		msg += fmt.Sprintf(": %q", k.e.EText)
	}
	if code, ok := edataNTStatus(k.e.EData); ok {
		msg += ", " + ntStatusText(code)
	}
	return msg
}

// As lets errors.As reach the gokrb5 KRBError value.
func (k *kdcErr) As(target any) bool {
	switch t := target.(type) {
	case *messages.KRBError:
		*t = k.e
		return true
	case **messages.KRBError:
		e := k.e
		*t = &e
		return true
	}
	return false
}

// roundTrip sends req to realm's KDC and maps transport failures. It
// runs on a flight's goroutine (singleflight.go) or, for a forwarded TGT,
// on the caller's, which then counts as waiting for the network on the
// async engine (packages.NetworkBound), so a slow KDC cannot starve local
// handshakes.
func (c *credentials) roundTrip(ctx context.Context, op, realm string, req []byte) ([]byte, error) {
	rep, err := c.p.transport().RoundTrip(ctx, realm, req)
	if err != nil {
		ctxErr := ctx.Err()
		var ne net.Error
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) && ctxErr == nil && errors.As(err, &ne) && ne.Timeout() {
			// The connection's deadline is the context's; the socket may
			// notice it a moment before the context does.
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil {
			return nil, errorf(op, status.SEC_E_NO_AUTHENTICATING_AUTHORITY, errors.Join(ErrNoKDC, ctxErr))
		}
		if !errors.Is(err, ErrNoKDC) {
			err = fmt.Errorf("%w: %w", ErrNoKDC, err)
		}
		return nil, errorf(op, status.SEC_E_NO_AUTHENTICATING_AUTHORITY, err)
	}
	if len(rep) > 0 && rep[0] == 0x7e {
		var e messages.KRBError
		if err := e.Unmarshal(rep); err != nil {
			return nil, errorf(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("kerberos: malformed KRB-ERROR from KDC: %w", err))
		}
		return nil, kdcError(op, e)
	}
	return rep, nil
}
