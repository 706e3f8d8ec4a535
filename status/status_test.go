package status_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gosspi/sspi/status"
)

// allCodes is every SECURITY_STATUS of spec constants.md §1 (tables 1.1
// and 1.2): 15 success and informational codes and 78 errors, with the
// values from winerror.h.
var allCodes = []struct {
	st    status.Status
	name  string
	value uint32
}{
	{status.SEC_E_OK, "SEC_E_OK", 0x00000000},
	{status.SEC_I_CONTINUE_NEEDED, "SEC_I_CONTINUE_NEEDED", 0x00090312},
	{status.SEC_I_COMPLETE_NEEDED, "SEC_I_COMPLETE_NEEDED", 0x00090313},
	{status.SEC_I_COMPLETE_AND_CONTINUE, "SEC_I_COMPLETE_AND_CONTINUE", 0x00090314},
	{status.SEC_I_LOCAL_LOGON, "SEC_I_LOCAL_LOGON", 0x00090315},
	{status.SEC_I_GENERIC_EXTENSION_RECEIVED, "SEC_I_GENERIC_EXTENSION_RECEIVED", 0x00090316},
	{status.SEC_I_CONTEXT_EXPIRED, "SEC_I_CONTEXT_EXPIRED", 0x00090317},
	{status.SEC_I_INCOMPLETE_CREDENTIALS, "SEC_I_INCOMPLETE_CREDENTIALS", 0x00090320},
	{status.SEC_I_RENEGOTIATE, "SEC_I_RENEGOTIATE", 0x00090321},
	{status.SEC_I_NO_LSA_CONTEXT, "SEC_I_NO_LSA_CONTEXT", 0x00090323},
	{status.SEC_I_SIGNATURE_NEEDED, "SEC_I_SIGNATURE_NEEDED", 0x0009035C},
	{status.SEC_I_NO_RENEGOTIATION, "SEC_I_NO_RENEGOTIATION", 0x00090360},
	{status.SEC_I_MESSAGE_FRAGMENT, "SEC_I_MESSAGE_FRAGMENT", 0x00090364},
	{status.SEC_I_CONTINUE_NEEDED_MESSAGE_OK, "SEC_I_CONTINUE_NEEDED_MESSAGE_OK", 0x00090366},
	{status.SEC_I_ASYNC_CALL_PENDING, "SEC_I_ASYNC_CALL_PENDING", 0x00090368},
	{status.SEC_E_INSUFFICIENT_MEMORY, "SEC_E_INSUFFICIENT_MEMORY", 0x80090300},
	{status.SEC_E_INVALID_HANDLE, "SEC_E_INVALID_HANDLE", 0x80090301},
	{status.SEC_E_UNSUPPORTED_FUNCTION, "SEC_E_UNSUPPORTED_FUNCTION", 0x80090302},
	{status.SEC_E_TARGET_UNKNOWN, "SEC_E_TARGET_UNKNOWN", 0x80090303},
	{status.SEC_E_INTERNAL_ERROR, "SEC_E_INTERNAL_ERROR", 0x80090304},
	{status.SEC_E_SECPKG_NOT_FOUND, "SEC_E_SECPKG_NOT_FOUND", 0x80090305},
	{status.SEC_E_NOT_OWNER, "SEC_E_NOT_OWNER", 0x80090306},
	{status.SEC_E_CANNOT_INSTALL, "SEC_E_CANNOT_INSTALL", 0x80090307},
	{status.SEC_E_INVALID_TOKEN, "SEC_E_INVALID_TOKEN", 0x80090308},
	{status.SEC_E_CANNOT_PACK, "SEC_E_CANNOT_PACK", 0x80090309},
	{status.SEC_E_QOP_NOT_SUPPORTED, "SEC_E_QOP_NOT_SUPPORTED", 0x8009030A},
	{status.SEC_E_NO_IMPERSONATION, "SEC_E_NO_IMPERSONATION", 0x8009030B},
	{status.SEC_E_LOGON_DENIED, "SEC_E_LOGON_DENIED", 0x8009030C},
	{status.SEC_E_UNKNOWN_CREDENTIALS, "SEC_E_UNKNOWN_CREDENTIALS", 0x8009030D},
	{status.SEC_E_NO_CREDENTIALS, "SEC_E_NO_CREDENTIALS", 0x8009030E},
	{status.SEC_E_MESSAGE_ALTERED, "SEC_E_MESSAGE_ALTERED", 0x8009030F},
	{status.SEC_E_OUT_OF_SEQUENCE, "SEC_E_OUT_OF_SEQUENCE", 0x80090310},
	{status.SEC_E_NO_AUTHENTICATING_AUTHORITY, "SEC_E_NO_AUTHENTICATING_AUTHORITY", 0x80090311},
	{status.SEC_E_BAD_PKGID, "SEC_E_BAD_PKGID", 0x80090316},
	{status.SEC_E_CONTEXT_EXPIRED, "SEC_E_CONTEXT_EXPIRED", 0x80090317},
	{status.SEC_E_INCOMPLETE_MESSAGE, "SEC_E_INCOMPLETE_MESSAGE", 0x80090318},
	{status.SEC_E_INCOMPLETE_CREDENTIALS, "SEC_E_INCOMPLETE_CREDENTIALS", 0x80090320},
	{status.SEC_E_BUFFER_TOO_SMALL, "SEC_E_BUFFER_TOO_SMALL", 0x80090321},
	{status.SEC_E_WRONG_PRINCIPAL, "SEC_E_WRONG_PRINCIPAL", 0x80090322},
	{status.SEC_E_TIME_SKEW, "SEC_E_TIME_SKEW", 0x80090324},
	{status.SEC_E_UNTRUSTED_ROOT, "SEC_E_UNTRUSTED_ROOT", 0x80090325},
	{status.SEC_E_ILLEGAL_MESSAGE, "SEC_E_ILLEGAL_MESSAGE", 0x80090326},
	{status.SEC_E_CERT_UNKNOWN, "SEC_E_CERT_UNKNOWN", 0x80090327},
	{status.SEC_E_CERT_EXPIRED, "SEC_E_CERT_EXPIRED", 0x80090328},
	{status.SEC_E_ENCRYPT_FAILURE, "SEC_E_ENCRYPT_FAILURE", 0x80090329},
	{status.SEC_E_DECRYPT_FAILURE, "SEC_E_DECRYPT_FAILURE", 0x80090330},
	{status.SEC_E_ALGORITHM_MISMATCH, "SEC_E_ALGORITHM_MISMATCH", 0x80090331},
	{status.SEC_E_SECURITY_QOS_FAILED, "SEC_E_SECURITY_QOS_FAILED", 0x80090332},
	{status.SEC_E_UNFINISHED_CONTEXT_DELETED, "SEC_E_UNFINISHED_CONTEXT_DELETED", 0x80090333},
	{status.SEC_E_NO_TGT_REPLY, "SEC_E_NO_TGT_REPLY", 0x80090334},
	{status.SEC_E_NO_IP_ADDRESSES, "SEC_E_NO_IP_ADDRESSES", 0x80090335},
	{status.SEC_E_WRONG_CREDENTIAL_HANDLE, "SEC_E_WRONG_CREDENTIAL_HANDLE", 0x80090336},
	{status.SEC_E_CRYPTO_SYSTEM_INVALID, "SEC_E_CRYPTO_SYSTEM_INVALID", 0x80090337},
	{status.SEC_E_MAX_REFERRALS_EXCEEDED, "SEC_E_MAX_REFERRALS_EXCEEDED", 0x80090338},
	{status.SEC_E_MUST_BE_KDC, "SEC_E_MUST_BE_KDC", 0x80090339},
	{status.SEC_E_STRONG_CRYPTO_NOT_SUPPORTED, "SEC_E_STRONG_CRYPTO_NOT_SUPPORTED", 0x8009033A},
	{status.SEC_E_TOO_MANY_PRINCIPALS, "SEC_E_TOO_MANY_PRINCIPALS", 0x8009033B},
	{status.SEC_E_NO_PA_DATA, "SEC_E_NO_PA_DATA", 0x8009033C},
	{status.SEC_E_PKINIT_NAME_MISMATCH, "SEC_E_PKINIT_NAME_MISMATCH", 0x8009033D},
	{status.SEC_E_SMARTCARD_LOGON_REQUIRED, "SEC_E_SMARTCARD_LOGON_REQUIRED", 0x8009033E},
	{status.SEC_E_SHUTDOWN_IN_PROGRESS, "SEC_E_SHUTDOWN_IN_PROGRESS", 0x8009033F},
	{status.SEC_E_KDC_INVALID_REQUEST, "SEC_E_KDC_INVALID_REQUEST", 0x80090340},
	{status.SEC_E_KDC_UNABLE_TO_REFER, "SEC_E_KDC_UNABLE_TO_REFER", 0x80090341},
	{status.SEC_E_KDC_UNKNOWN_ETYPE, "SEC_E_KDC_UNKNOWN_ETYPE", 0x80090342},
	{status.SEC_E_UNSUPPORTED_PREAUTH, "SEC_E_UNSUPPORTED_PREAUTH", 0x80090343},
	{status.SEC_E_DELEGATION_REQUIRED, "SEC_E_DELEGATION_REQUIRED", 0x80090345},
	{status.SEC_E_BAD_BINDINGS, "SEC_E_BAD_BINDINGS", 0x80090346},
	{status.SEC_E_MULTIPLE_ACCOUNTS, "SEC_E_MULTIPLE_ACCOUNTS", 0x80090347},
	{status.SEC_E_NO_KERB_KEY, "SEC_E_NO_KERB_KEY", 0x80090348},
	{status.SEC_E_CERT_WRONG_USAGE, "SEC_E_CERT_WRONG_USAGE", 0x80090349},
	{status.SEC_E_DOWNGRADE_DETECTED, "SEC_E_DOWNGRADE_DETECTED", 0x80090350},
	{status.SEC_E_SMARTCARD_CERT_REVOKED, "SEC_E_SMARTCARD_CERT_REVOKED", 0x80090351},
	{status.SEC_E_ISSUING_CA_UNTRUSTED, "SEC_E_ISSUING_CA_UNTRUSTED", 0x80090352},
	{status.SEC_E_REVOCATION_OFFLINE_C, "SEC_E_REVOCATION_OFFLINE_C", 0x80090353},
	{status.SEC_E_PKINIT_CLIENT_FAILURE, "SEC_E_PKINIT_CLIENT_FAILURE", 0x80090354},
	{status.SEC_E_SMARTCARD_CERT_EXPIRED, "SEC_E_SMARTCARD_CERT_EXPIRED", 0x80090355},
	{status.SEC_E_NO_S4U_PROT_SUPPORT, "SEC_E_NO_S4U_PROT_SUPPORT", 0x80090356},
	{status.SEC_E_CROSSREALM_DELEGATION_FAILURE, "SEC_E_CROSSREALM_DELEGATION_FAILURE", 0x80090357},
	{status.SEC_E_REVOCATION_OFFLINE_KDC, "SEC_E_REVOCATION_OFFLINE_KDC", 0x80090358},
	{status.SEC_E_ISSUING_CA_UNTRUSTED_KDC, "SEC_E_ISSUING_CA_UNTRUSTED_KDC", 0x80090359},
	{status.SEC_E_KDC_CERT_EXPIRED, "SEC_E_KDC_CERT_EXPIRED", 0x8009035A},
	{status.SEC_E_KDC_CERT_REVOKED, "SEC_E_KDC_CERT_REVOKED", 0x8009035B},
	{status.SEC_E_INVALID_PARAMETER, "SEC_E_INVALID_PARAMETER", 0x8009035D},
	{status.SEC_E_DELEGATION_POLICY, "SEC_E_DELEGATION_POLICY", 0x8009035E},
	{status.SEC_E_POLICY_NLTM_ONLY, "SEC_E_POLICY_NLTM_ONLY", 0x8009035F},
	{status.SEC_E_NO_CONTEXT, "SEC_E_NO_CONTEXT", 0x80090361},
	{status.SEC_E_PKU2U_CERT_FAILURE, "SEC_E_PKU2U_CERT_FAILURE", 0x80090362},
	{status.SEC_E_MUTUAL_AUTH_FAILED, "SEC_E_MUTUAL_AUTH_FAILED", 0x80090363},
	{status.SEC_E_ONLY_HTTPS_ALLOWED, "SEC_E_ONLY_HTTPS_ALLOWED", 0x80090365},
	{status.SEC_E_APPLICATION_PROTOCOL_MISMATCH, "SEC_E_APPLICATION_PROTOCOL_MISMATCH", 0x80090367},
	{status.SEC_E_INVALID_UPN_NAME, "SEC_E_INVALID_UPN_NAME", 0x80090369},
	{status.SEC_E_EXT_BUFFER_TOO_SMALL, "SEC_E_EXT_BUFFER_TOO_SMALL", 0x8009036A},
	{status.SEC_E_INSUFFICIENT_BUFFERS, "SEC_E_INSUFFICIENT_BUFFERS", 0x8009036B},
}

func TestAllCodes(t *testing.T) {
	if len(allCodes) != 93 {
		t.Fatalf("table has %d codes, constants.md §1 lists 93", len(allCodes))
	}
	seen := map[uint32]string{}
	successes := 0
	for _, c := range allCodes {
		if prev, dup := seen[c.value]; dup {
			t.Errorf("%s and %s share 0x%08X", prev, c.name, c.value)
		}
		seen[c.value] = c.name
		if uint32(c.st) != c.value {
			t.Errorf("%s = 0x%08X, want 0x%08X", c.name, uint32(c.st), c.value)
		}
		if c.value&0x80000000 == 0 {
			successes++
		}
	}
	if successes != 15 {
		t.Errorf("%d success codes, want 15", successes)
	}
	// 0x80090344 is unassigned (constants.md §1).
	if _, ok := seen[0x80090344]; ok {
		t.Error("0x80090344 should be unassigned")
	}
}

func TestString(t *testing.T) {
	for _, c := range allCodes {
		if got := c.st.String(); got != c.name {
			t.Errorf("Status(0x%08X).String() = %q, want %q", c.value, got, c.name)
		}
	}
	unknown := []struct {
		st   status.Status
		want string
	}{
		{0x80090344, "SECURITY_STATUS(0x80090344)"},
		{0x00000001, "SECURITY_STATUS(0x00000001)"},
		{0xFFFFFFFF, "SECURITY_STATUS(0xFFFFFFFF)"},
	}
	for _, u := range unknown {
		if got := u.st.String(); got != u.want {
			t.Errorf("String() = %q, want %q", got, u.want)
		}
		if got := u.st.Meaning(); got != "unknown status" {
			t.Errorf("%v.Meaning() = %q, want \"unknown status\"", u.st, got)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	for _, c := range allCodes {
		msg := c.st.Error()
		prefix := fmt.Sprintf("sspi: %s (0x%08X): ", c.name, c.value)
		meaning, ok := strings.CutPrefix(msg, prefix)
		if !ok {
			t.Errorf("%s: Error() = %q, want prefix %q", c.name, msg, prefix)
			continue
		}
		if meaning == "" || meaning == "unknown status" || meaning != c.st.Meaning() {
			t.Errorf("%s: meaning %q (Meaning() %q)", c.name, meaning, c.st.Meaning())
		}
		if strings.ContainsAny(meaning, "\n\r") {
			t.Errorf("%s: meaning spans lines: %q", c.name, meaning)
		}
	}
	want := "sspi: SEC_E_INVALID_TOKEN (0x80090308): input token malformed, truncated, meant for another package, or a required token buffer is missing"
	if got := status.SEC_E_INVALID_TOKEN.Error(); got != want {
		t.Errorf("SEC_E_INVALID_TOKEN.Error() = %q, want %q", got, want)
	}
	if got := status.Status(0x80090344).Error(); got != "sspi: SECURITY_STATUS(0x80090344) (0x80090344): unknown status" {
		t.Errorf("unknown Error() = %q", got)
	}
}

func TestFailedSucceededErr(t *testing.T) {
	for _, c := range allCodes {
		failure := c.value&0x80000000 != 0
		if c.st.Failed() != failure || c.st.Succeeded() == failure {
			t.Errorf("%s: Failed() = %v, Succeeded() = %v", c.name, c.st.Failed(), c.st.Succeeded())
		}
		err := c.st.Err()
		if failure {
			if err == nil || err.(status.Status) != c.st {
				t.Errorf("%s.Err() = %v, want the status", c.name, err)
			}
		} else if err != nil {
			t.Errorf("%s.Err() = %v, want nil", c.name, err)
		}
	}
	// The informational codes handshakes return must never be errors.
	for _, st := range []status.Status{status.SEC_E_OK, status.SEC_I_CONTINUE_NEEDED, status.SEC_I_COMPLETE_NEEDED,
		status.SEC_I_COMPLETE_AND_CONTINUE, status.SEC_I_ASYNC_CALL_PENDING} {
		if err := st.Err(); err != nil {
			t.Errorf("%v.Err() = %v, want nil", st, err)
		}
	}
}

func TestAliases(t *testing.T) {
	aliases := []struct {
		name       string
		alias, std status.Status
		value      uint32
	}{
		{"SEC_E_NOT_SUPPORTED", status.SEC_E_NOT_SUPPORTED, status.SEC_E_UNSUPPORTED_FUNCTION, 0x80090302},
		{"SEC_E_NO_SPM", status.SEC_E_NO_SPM, status.SEC_E_INTERNAL_ERROR, 0x80090304},
	}
	for _, a := range aliases {
		if uint32(a.alias) != a.value || a.alias != a.std {
			t.Errorf("%s = 0x%08X, want 0x%08X (%v)", a.name, uint32(a.alias), a.value, a.std)
		}
	}
}

func TestStatusIsUnsupported(t *testing.T) {
	for _, c := range allCodes {
		want := c.st == status.SEC_E_UNSUPPORTED_FUNCTION
		if got := errors.Is(c.st, errors.ErrUnsupported); got != want {
			t.Errorf("errors.Is(%s, ErrUnsupported) = %v, want %v", c.name, got, want)
		}
	}
	if !errors.Is(status.SEC_E_NOT_SUPPORTED, errors.ErrUnsupported) {
		t.Error("SEC_E_NOT_SUPPORTED is not errors.ErrUnsupported")
	}
	if status.SEC_E_UNSUPPORTED_FUNCTION.Is(io.EOF) {
		t.Error("SEC_E_UNSUPPORTED_FUNCTION.Is(io.EOF)")
	}
	e := status.New("QueryContextAttributes", "NTLM", status.SEC_E_UNSUPPORTED_FUNCTION, nil)
	if !errors.Is(e, errors.ErrUnsupported) {
		t.Error("*Error with SEC_E_UNSUPPORTED_FUNCTION is not errors.ErrUnsupported")
	}
	wrapped := fmt.Errorf("outer: %w", status.SEC_E_UNSUPPORTED_FUNCTION)
	if !errors.Is(wrapped, errors.ErrUnsupported) {
		t.Error("wrapped SEC_E_UNSUPPORTED_FUNCTION is not errors.ErrUnsupported")
	}
}

var errorTests = []struct {
	name  string
	err   *status.Error
	text  string
	is    []error
	isNot []error
	code  status.Status
	cause error
}{
	{
		name:  "status and cause",
		err:   status.New("AcceptSecurityContext", "NTLM", status.SEC_E_LOGON_DENIED, context.Canceled),
		text:  "sspi: NTLM AcceptSecurityContext: SEC_E_LOGON_DENIED (0x8009030C): context canceled",
		is:    []error{status.SEC_E_LOGON_DENIED, context.Canceled},
		isNot: []error{status.SEC_E_INVALID_TOKEN, context.DeadlineExceeded, errors.ErrUnsupported},
		code:  status.SEC_E_LOGON_DENIED,
		cause: context.Canceled,
	},
	{
		name:  "no cause",
		err:   status.New("InitializeSecurityContext", "Kerberos", status.SEC_E_TIME_SKEW, nil),
		text:  "sspi: Kerberos InitializeSecurityContext: SEC_E_TIME_SKEW (0x80090324): clock skew between client and server/KDC is too large",
		is:    []error{status.SEC_E_TIME_SKEW},
		isNot: []error{status.SEC_E_LOGON_DENIED, context.Canceled},
		code:  status.SEC_E_TIME_SKEW,
	},
	{
		name:  "no package",
		err:   status.New("DecryptMessage", "", status.SEC_E_MESSAGE_ALTERED, io.ErrUnexpectedEOF),
		text:  "sspi: DecryptMessage: SEC_E_MESSAGE_ALTERED (0x8009030F): unexpected EOF",
		is:    []error{status.SEC_E_MESSAGE_ALTERED, io.ErrUnexpectedEOF},
		isNot: []error{io.EOF},
		code:  status.SEC_E_MESSAGE_ALTERED,
		cause: io.ErrUnexpectedEOF,
	},
	{
		name:  "Errorf",
		err:   status.Errorf(status.SEC_E_INVALID_TOKEN, "ntlm: short message (%d bytes): %w", 7, io.ErrUnexpectedEOF),
		text:  "sspi: SEC_E_INVALID_TOKEN (0x80090308): ntlm: short message (7 bytes): unexpected EOF",
		is:    []error{status.SEC_E_INVALID_TOKEN, io.ErrUnexpectedEOF},
		isNot: []error{status.SEC_E_INVALID_HANDLE},
		code:  status.SEC_E_INVALID_TOKEN,
	},
}

func TestError(t *testing.T) {
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			var err error = tt.err
			if got := err.Error(); got != tt.text {
				t.Errorf("Error() = %q, want %q", got, tt.text)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) = false", target)
				}
				// Also through a further wrap.
				if !errors.Is(fmt.Errorf("handshake: %w", err), target) {
					t.Errorf("errors.Is(wrapped err, %v) = false", target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) = true", target)
				}
			}
			if got := status.Code(err); got != tt.code {
				t.Errorf("Code = %v, want %v", got, tt.code)
			}
			var st status.Status
			if !errors.As(err, &st) || st != tt.code {
				t.Errorf("errors.As Status = %v, want %v", st, tt.code)
			}
			var se *status.Error
			if !errors.As(fmt.Errorf("x: %w", err), &se) || se != tt.err {
				t.Errorf("errors.As *Error failed")
			}
			u := tt.err.Unwrap()
			if u[0] != error(tt.code) {
				t.Errorf("Unwrap()[0] = %v, want %v", u[0], tt.code)
			}
			if tt.cause != nil && (len(u) != 2 || u[1] != tt.cause) {
				t.Errorf("Unwrap() = %v, want [%v %v]", u, tt.code, tt.cause)
			}
			if tt.err.Err == nil && len(u) != 1 {
				t.Errorf("Unwrap() = %v, want only the status", u)
			}
		})
	}
}

func TestNewPanicsOnSuccess(t *testing.T) {
	for _, st := range []status.Status{status.SEC_E_OK, status.SEC_I_CONTINUE_NEEDED} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with %v did not panic", st)
				}
			}()
			_ = status.New("op", "pkg", st, nil)
		}()
	}
}

func TestCode(t *testing.T) {
	codeTests := []struct {
		name string
		err  error
		want status.Status
	}{
		{"nil", nil, status.SEC_E_OK},
		{"bare status", status.SEC_E_INVALID_HANDLE, status.SEC_E_INVALID_HANDLE},
		{"wrapped status", fmt.Errorf("flat: %w", status.SEC_E_BUFFER_TOO_SMALL), status.SEC_E_BUFFER_TOO_SMALL},
		{"*Error", status.New("op", "", status.SEC_E_BAD_BINDINGS, nil), status.SEC_E_BAD_BINDINGS},
		{"wrapped *Error", fmt.Errorf("a: %w", status.New("op", "", status.SEC_E_NO_CREDENTIALS, io.EOF)), status.SEC_E_NO_CREDENTIALS},
		{"joined", errors.Join(io.EOF, status.SEC_E_WRONG_PRINCIPAL), status.SEC_E_WRONG_PRINCIPAL},
		{"plain error", io.EOF, status.SEC_E_INTERNAL_ERROR},
		{"context error", context.Canceled, status.SEC_E_INTERNAL_ERROR},
	}
	for _, tt := range codeTests {
		if got := status.Code(tt.err); got != tt.want {
			t.Errorf("%s: Code = %v, want %v", tt.name, got, tt.want)
		}
	}
}
