package schannel

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// alertByText maps the text of crypto/tls's alert errors back to alert
// numbers: the alert type crypto/tls wraps in a *net.OpError is
// unexported, but its text is the one tls.AlertError gives.
var alertByText = func() map[string]uint8 {
	m := make(map[string]uint8)
	for i := 0; i < 256; i++ {
		m[tls.AlertError(uint8(i)).Error()] = uint8(i)
	}
	return m
}()

// alertOf returns the alert carried by a crypto/tls error and whether it
// was received ("remote error") or sent ("local error").
func alertOf(err error) (a uint8, remote, ok bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil && (op.Op == "remote error" || op.Op == "local error") {
		if a, ok := alertByText[op.Err.Error()]; ok {
			return a, op.Op == "remote error", true
		}
	}
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return uint8(ae), false, true
	}
	return 0, false, false
}

// plainAlert returns the alert of a plaintext alert record at the start
// of b (one crypto/tls sent before encryption started).
func plainAlert(b []byte) (uint8, bool) {
	if len(b) == recordHeaderLen+2 && b[0] == recordTypeAlert && b[3] == 0 && b[4] == 2 {
		return b[6], true
	}
	return 0, false
}

// alertStatus maps a TLS alert to the status Schannel reports.
func alertStatus(a uint8) status.Status {
	switch a {
	case packages.TLS1_ALERT_HANDSHAKE_FAILURE, packages.TLS1_ALERT_PROTOCOL_VERSION, packages.TLS1_ALERT_INSUFFIENT_SECURITY:
		return status.SEC_E_ALGORITHM_MISMATCH
	case packages.TLS1_ALERT_BAD_RECORD_MAC, packages.TLS1_ALERT_DECRYPTION_FAILED:
		return status.SEC_E_DECRYPT_FAILURE
	case packages.TLS1_ALERT_NO_APP_PROTOCOL:
		return status.SEC_E_APPLICATION_PROTOCOL_MISMATCH
	}
	return status.SEC_E_ILLEGAL_MESSAGE
}

// handshakeStatus maps a handshake failure to a Schannel status; out is
// what crypto/tls wrote before failing.
func handshakeStatus(err error, out []byte) status.Status {
	var ce *certError
	if errors.As(err, &ce) {
		return ce.st
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		return x509Status(cve.Err)
	}
	if a, _, ok := alertOf(err); ok {
		return alertStatus(a)
	}
	if a, ok := plainAlert(out); ok {
		return alertStatus(a)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no cipher suite"), strings.Contains(msg, "protocol version"), strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "no mutual"):
		return status.SEC_E_ALGORITHM_MISMATCH
	case strings.Contains(msg, "application protocol"):
		return status.SEC_E_APPLICATION_PROTOCOL_MISMATCH
	}
	return status.SEC_E_ILLEGAL_MESSAGE
}

// x509Status maps a client certificate validation failure (on a server).
func x509Status(err error) status.Status {
	var inv x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return status.SEC_E_CERT_EXPIRED
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return status.SEC_E_CERT_WRONG_USAGE
	case errors.As(err, &ua):
		return status.SEC_E_UNTRUSTED_ROOT
	}
	return status.SEC_E_CERT_UNKNOWN
}

// recordStatus maps a failure while reading a record after the handshake.
func recordStatus(err error) status.Status {
	if a, remote, ok := alertOf(err); ok {
		if remote {
			return status.SEC_E_ILLEGAL_MESSAGE
		}
		return alertStatus(a)
	}
	return status.SEC_E_ILLEGAL_MESSAGE
}
