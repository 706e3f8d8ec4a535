package kerberos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

// netTransport sends to the KDCs of krb5.conf: UDP first for requests
// below udp_preference_limit, TCP otherwise or when the reply was too big.
type netTransport struct{ p *Package }

const defaultUDPLimit = 1465

func (t *netTransport) RoundTrip(ctx context.Context, realm string, req []byte) ([]byte, error) {
	conf, err := t.p.krb5conf()
	if err != nil {
		return nil, err
	}
	limit := conf.LibDefaults.UDPPreferenceLimit
	if limit <= 0 {
		limit = defaultUDPLimit
	}
	if len(req) < limit {
		rep, err := t.try(ctx, realm, req, false)
		if err == nil && !tooBig(rep) {
			return rep, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return t.try(ctx, realm, req, true)
}

// tooBig reports whether rep is KRB_ERR_RESPONSE_TOO_BIG.
func tooBig(rep []byte) bool {
	if len(rep) == 0 || rep[0] != 0x7e {
		return false
	}
	var e messages.KRBError
	return e.Unmarshal(rep) == nil && e.ErrorCode == errorcode.KRB_ERR_RESPONSE_TOO_BIG
}

func (t *netTransport) try(ctx context.Context, realm string, req []byte, tcp bool) ([]byte, error) {
	conf, _ := t.p.krb5conf()
	n, kdcs, err := conf.GetKDCs(realm, tcp)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("%w for realm %q", ErrNoKDC, realm)
	}
	var last error
	for i := 1; i <= n; i++ {
		addr, ok := kdcs[i]
		if !ok {
			continue
		}
		rep, err := exchange(ctx, addr, req, tcp)
		if err == nil {
			return rep, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("%w for realm %q: %w", ErrNoKDC, realm, last)
}

// exchange sends req to one KDC and reads the reply. Cancelling ctx closes
// the connection.
func exchange(ctx context.Context, addr string, req []byte, tcp bool) ([]byte, error) {
	network := "udp"
	if tcp {
		network = "tcp"
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	deadline := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if !tcp {
		if _, err := conn.Write(req); err != nil {
			return nil, err
		}
		buf := make([]byte, 65536)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	// RFC 4120 7.2.2: a 4-byte big-endian length before each message.
	msg := make([]byte, 4+len(req))
	binary.BigEndian.PutUint32(msg, uint32(len(req)))
	copy(msg[4:], req)
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 1<<24 {
		return nil, errors.New("kerberos: KDC reply too long")
	}
	rep := make([]byte, n)
	if _, err := io.ReadFull(conn, rep); err != nil {
		return nil, err
	}
	return rep, nil
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
