// Status codes as listed in the Windows headers (winerror.h, facility 9).

//lint:file-ignore ST1003 Windows names are kept verbatim so readers can search for them.

package status

// SECURITY_STATUS success and informational codes (constants.md §1.1).
const (
	SEC_E_OK                         Status = 0x00000000 // Success. For ISC/ASC: the context is fully established (send any output token that was produced).
	SEC_I_CONTINUE_NEEDED            Status = 0x00090312 // Handshake not finished: send the output token to the peer and call again with its reply.
	SEC_I_COMPLETE_NEEDED            Status = 0x00090313 // Finished, but CompleteAuthToken must be called on the output before sending it.
	SEC_I_COMPLETE_AND_CONTINUE      Status = 0x00090314 // Both of the above: call CompleteAuthToken, send the token, then call ISC/ASC again.
	SEC_I_LOCAL_LOGON                Status = 0x00090315 // Logon was completed locally without a network exchange.
	SEC_I_GENERIC_EXTENSION_RECEIVED Status = 0x00090316 // Schannel: a subscribed generic TLS extension was received.
	SEC_I_CONTEXT_EXPIRED            Status = 0x00090317 // Schannel DecryptMessage: peer sent close_notify; the connection is closed cleanly.
	SEC_I_INCOMPLETE_CREDENTIALS     Status = 0x00090320 // Schannel client: server asked for a client certificate; supply one (or none) and call ISC again.
	SEC_I_RENEGOTIATE                Status = 0x00090321 // Schannel DecryptMessage: handshake data arrived (renegotiation, TLS 1.3 post-handshake message). Pass the `SECBUFFER_EXTRA` bytes to ISC/ASC.
	SEC_I_NO_LSA_CONTEXT             Status = 0x00090323 // No LSA-side context exists (informational).
	SEC_I_SIGNATURE_NEEDED           Status = 0x0009035C // A signature operation must be done before continuing (smart card).
	SEC_I_NO_RENEGOTIATION           Status = 0x00090360 // Schannel: peer refused renegotiation.
	SEC_I_MESSAGE_FRAGMENT           Status = 0x00090364 // Schannel (DTLS/messages mode): a fragment was produced/consumed; call again.
	SEC_I_CONTINUE_NEEDED_MESSAGE_OK Status = 0x00090366 // Handshake continues, but the message was processed successfully (TLS 1.3 messages mode).
	SEC_I_ASYNC_CALL_PENDING         Status = 0x00090368 // Async SSPI: the queued call has not finished yet (returned by SspiGetAsyncCallStatus).
)

// SECURITY_STATUS error codes (constants.md §1.2).
const (
	SEC_E_INSUFFICIENT_MEMORY           Status = 0x80090300
	SEC_E_INVALID_HANDLE                Status = 0x80090301
	SEC_E_UNSUPPORTED_FUNCTION          Status = 0x80090302
	SEC_E_TARGET_UNKNOWN                Status = 0x80090303
	SEC_E_INTERNAL_ERROR                Status = 0x80090304
	SEC_E_SECPKG_NOT_FOUND              Status = 0x80090305
	SEC_E_NOT_OWNER                     Status = 0x80090306
	SEC_E_CANNOT_INSTALL                Status = 0x80090307
	SEC_E_INVALID_TOKEN                 Status = 0x80090308
	SEC_E_CANNOT_PACK                   Status = 0x80090309
	SEC_E_QOP_NOT_SUPPORTED             Status = 0x8009030A
	SEC_E_NO_IMPERSONATION              Status = 0x8009030B
	SEC_E_LOGON_DENIED                  Status = 0x8009030C
	SEC_E_UNKNOWN_CREDENTIALS           Status = 0x8009030D
	SEC_E_NO_CREDENTIALS                Status = 0x8009030E
	SEC_E_MESSAGE_ALTERED               Status = 0x8009030F
	SEC_E_OUT_OF_SEQUENCE               Status = 0x80090310
	SEC_E_NO_AUTHENTICATING_AUTHORITY   Status = 0x80090311
	SEC_E_BAD_PKGID                     Status = 0x80090316
	SEC_E_CONTEXT_EXPIRED               Status = 0x80090317
	SEC_E_INCOMPLETE_MESSAGE            Status = 0x80090318
	SEC_E_INCOMPLETE_CREDENTIALS        Status = 0x80090320
	SEC_E_BUFFER_TOO_SMALL              Status = 0x80090321
	SEC_E_WRONG_PRINCIPAL               Status = 0x80090322
	SEC_E_TIME_SKEW                     Status = 0x80090324
	SEC_E_UNTRUSTED_ROOT                Status = 0x80090325
	SEC_E_ILLEGAL_MESSAGE               Status = 0x80090326
	SEC_E_CERT_UNKNOWN                  Status = 0x80090327
	SEC_E_CERT_EXPIRED                  Status = 0x80090328
	SEC_E_ENCRYPT_FAILURE               Status = 0x80090329
	SEC_E_DECRYPT_FAILURE               Status = 0x80090330
	SEC_E_ALGORITHM_MISMATCH            Status = 0x80090331
	SEC_E_SECURITY_QOS_FAILED           Status = 0x80090332
	SEC_E_UNFINISHED_CONTEXT_DELETED    Status = 0x80090333
	SEC_E_NO_TGT_REPLY                  Status = 0x80090334
	SEC_E_NO_IP_ADDRESSES               Status = 0x80090335
	SEC_E_WRONG_CREDENTIAL_HANDLE       Status = 0x80090336
	SEC_E_CRYPTO_SYSTEM_INVALID         Status = 0x80090337
	SEC_E_MAX_REFERRALS_EXCEEDED        Status = 0x80090338
	SEC_E_MUST_BE_KDC                   Status = 0x80090339
	SEC_E_STRONG_CRYPTO_NOT_SUPPORTED   Status = 0x8009033A
	SEC_E_TOO_MANY_PRINCIPALS           Status = 0x8009033B
	SEC_E_NO_PA_DATA                    Status = 0x8009033C
	SEC_E_PKINIT_NAME_MISMATCH          Status = 0x8009033D
	SEC_E_SMARTCARD_LOGON_REQUIRED      Status = 0x8009033E
	SEC_E_SHUTDOWN_IN_PROGRESS          Status = 0x8009033F
	SEC_E_KDC_INVALID_REQUEST           Status = 0x80090340
	SEC_E_KDC_UNABLE_TO_REFER           Status = 0x80090341
	SEC_E_KDC_UNKNOWN_ETYPE             Status = 0x80090342
	SEC_E_UNSUPPORTED_PREAUTH           Status = 0x80090343
	SEC_E_DELEGATION_REQUIRED           Status = 0x80090345
	SEC_E_BAD_BINDINGS                  Status = 0x80090346
	SEC_E_MULTIPLE_ACCOUNTS             Status = 0x80090347
	SEC_E_NO_KERB_KEY                   Status = 0x80090348
	SEC_E_CERT_WRONG_USAGE              Status = 0x80090349
	SEC_E_DOWNGRADE_DETECTED            Status = 0x80090350
	SEC_E_SMARTCARD_CERT_REVOKED        Status = 0x80090351
	SEC_E_ISSUING_CA_UNTRUSTED          Status = 0x80090352
	SEC_E_REVOCATION_OFFLINE_C          Status = 0x80090353
	SEC_E_PKINIT_CLIENT_FAILURE         Status = 0x80090354
	SEC_E_SMARTCARD_CERT_EXPIRED        Status = 0x80090355
	SEC_E_NO_S4U_PROT_SUPPORT           Status = 0x80090356
	SEC_E_CROSSREALM_DELEGATION_FAILURE Status = 0x80090357
	SEC_E_REVOCATION_OFFLINE_KDC        Status = 0x80090358
	SEC_E_ISSUING_CA_UNTRUSTED_KDC      Status = 0x80090359
	SEC_E_KDC_CERT_EXPIRED              Status = 0x8009035A
	SEC_E_KDC_CERT_REVOKED              Status = 0x8009035B
	SEC_E_INVALID_PARAMETER             Status = 0x8009035D
	SEC_E_DELEGATION_POLICY             Status = 0x8009035E
	SEC_E_POLICY_NLTM_ONLY              Status = 0x8009035F
	SEC_E_NO_CONTEXT                    Status = 0x80090361
	SEC_E_PKU2U_CERT_FAILURE            Status = 0x80090362
	SEC_E_MUTUAL_AUTH_FAILED            Status = 0x80090363
	SEC_E_ONLY_HTTPS_ALLOWED            Status = 0x80090365
	SEC_E_APPLICATION_PROTOCOL_MISMATCH Status = 0x80090367
	SEC_E_INVALID_UPN_NAME              Status = 0x80090369
	SEC_E_EXT_BUFFER_TOO_SMALL          Status = 0x8009036A
	SEC_E_INSUFFICIENT_BUFFERS          Status = 0x8009036B

	// Aliases defined by the Windows headers.
	SEC_E_NOT_SUPPORTED = SEC_E_UNSUPPORTED_FUNCTION
	SEC_E_NO_SPM        = SEC_E_INTERNAL_ERROR
)

// codes maps each status to its Windows name and a one-line meaning.
var codes = map[Status]struct{ name, meaning string }{
	SEC_E_OK:                            {"SEC_E_OK", "success"},
	SEC_I_CONTINUE_NEEDED:               {"SEC_I_CONTINUE_NEEDED", "handshake not finished: send the output token to the peer and call again with its reply"},
	SEC_I_COMPLETE_NEEDED:               {"SEC_I_COMPLETE_NEEDED", "finished, but CompleteAuthToken must be called on the output before sending it"},
	SEC_I_COMPLETE_AND_CONTINUE:         {"SEC_I_COMPLETE_AND_CONTINUE", "both of the above: call CompleteAuthToken, send the token, then call ISC/ASC again"},
	SEC_I_LOCAL_LOGON:                   {"SEC_I_LOCAL_LOGON", "logon was completed locally without a network exchange"},
	SEC_I_GENERIC_EXTENSION_RECEIVED:    {"SEC_I_GENERIC_EXTENSION_RECEIVED", "schannel: a subscribed generic TLS extension was received"},
	SEC_I_CONTEXT_EXPIRED:               {"SEC_I_CONTEXT_EXPIRED", "schannel DecryptMessage: peer sent close_notify; the connection is closed cleanly"},
	SEC_I_INCOMPLETE_CREDENTIALS:        {"SEC_I_INCOMPLETE_CREDENTIALS", "schannel client: server asked for a client certificate; supply one (or none) and call ISC again"},
	SEC_I_RENEGOTIATE:                   {"SEC_I_RENEGOTIATE", "schannel DecryptMessage: handshake data arrived (renegotiation, TLS 1.3 post-handshake message)"},
	SEC_I_NO_LSA_CONTEXT:                {"SEC_I_NO_LSA_CONTEXT", "no LSA-side context exists (informational)"},
	SEC_I_SIGNATURE_NEEDED:              {"SEC_I_SIGNATURE_NEEDED", "a signature operation must be done before continuing (smart card)"},
	SEC_I_NO_RENEGOTIATION:              {"SEC_I_NO_RENEGOTIATION", "schannel: peer refused renegotiation"},
	SEC_I_MESSAGE_FRAGMENT:              {"SEC_I_MESSAGE_FRAGMENT", "schannel (DTLS/messages mode): a fragment was produced/consumed; call again"},
	SEC_I_CONTINUE_NEEDED_MESSAGE_OK:    {"SEC_I_CONTINUE_NEEDED_MESSAGE_OK", "handshake continues, but the message was processed successfully (TLS 1.3 messages mode)"},
	SEC_I_ASYNC_CALL_PENDING:            {"SEC_I_ASYNC_CALL_PENDING", "async SSPI: the queued call has not finished yet (returned by SspiGetAsyncCallStatus)"},
	SEC_E_INSUFFICIENT_MEMORY:           {"SEC_E_INSUFFICIENT_MEMORY", "allocation failed (also seen from some packages when an output buffer is unusable; see api.md §3.1 for the too-small-buffer question)"},
	SEC_E_INVALID_HANDLE:                {"SEC_E_INVALID_HANDLE", "credential or context handle is unknown, already freed, or of the wrong kind"},
	SEC_E_UNSUPPORTED_FUNCTION:          {"SEC_E_UNSUPPORTED_FUNCTION", "function, attribute or request flag not implemented by this package (alias SEC_E_NOT_SUPPORTED)"},
	SEC_E_TARGET_UNKNOWN:                {"SEC_E_TARGET_UNKNOWN", "target (SPN / host name) was not recognised"},
	SEC_E_INTERNAL_ERROR:                {"SEC_E_INTERNAL_ERROR", "failure that maps to no other code (alias SEC_E_NO_SPM)"},
	SEC_E_SECPKG_NOT_FOUND:              {"SEC_E_SECPKG_NOT_FOUND", "no package of the requested name is installed"},
	SEC_E_NOT_OWNER:                     {"SEC_E_NOT_OWNER", "caller may not use the requested credentials"},
	SEC_E_CANNOT_INSTALL:                {"SEC_E_CANNOT_INSTALL", "package could not be installed/loaded"},
	SEC_E_INVALID_TOKEN:                 {"SEC_E_INVALID_TOKEN", "input token malformed, truncated, meant for another package, or a required token buffer is missing"},
	SEC_E_CANNOT_PACK:                   {"SEC_E_CANNOT_PACK", "context could not be marshalled (export)"},
	SEC_E_QOP_NOT_SUPPORTED:             {"SEC_E_QOP_NOT_SUPPORTED", "the fQOP value is not supported by the package"},
	SEC_E_NO_IMPERSONATION:              {"SEC_E_NO_IMPERSONATION", "context cannot be used for impersonation"},
	SEC_E_LOGON_DENIED:                  {"SEC_E_LOGON_DENIED", "authentication failed (bad user/password, account restrictions)"},
	SEC_E_UNKNOWN_CREDENTIALS:           {"SEC_E_UNKNOWN_CREDENTIALS", "pAuthData / supplied credentials not understood by the package"},
	SEC_E_NO_CREDENTIALS:                {"SEC_E_NO_CREDENTIALS", "no credentials available (no default logon credentials, no ticket)"},
	SEC_E_MESSAGE_ALTERED:               {"SEC_E_MESSAGE_ALTERED", "signature/MIC check failed: message was modified"},
	SEC_E_OUT_OF_SEQUENCE:               {"SEC_E_OUT_OF_SEQUENCE", "message arrived out of the expected sequence (replay / sequence detection)"},
	SEC_E_NO_AUTHENTICATING_AUTHORITY:   {"SEC_E_NO_AUTHENTICATING_AUTHORITY", "no KDC/DC/authority could be contacted"},
	SEC_E_BAD_PKGID:                     {"SEC_E_BAD_PKGID", "bad package id (alias of SECPKG_NOT_FOUND in the 16-bit header only)"},
	SEC_E_CONTEXT_EXPIRED:               {"SEC_E_CONTEXT_EXPIRED", "context has expired (or peer shut it down) and can no longer be used"},
	SEC_E_INCOMPLETE_MESSAGE:            {"SEC_E_INCOMPLETE_MESSAGE", "not enough input bytes"},
	SEC_E_INCOMPLETE_CREDENTIALS:        {"SEC_E_INCOMPLETE_CREDENTIALS", "credentials are incomplete (the server demands a client certificate that was not supplied)"},
	SEC_E_BUFFER_TOO_SMALL:              {"SEC_E_BUFFER_TOO_SMALL", "a supplied buffer is too small"},
	SEC_E_WRONG_PRINCIPAL:               {"SEC_E_WRONG_PRINCIPAL", "target principal does not match the target name given (mutual-auth failure); also SPN/cert name mismatch"},
	SEC_E_TIME_SKEW:                     {"SEC_E_TIME_SKEW", "clock skew between client and server/KDC is too large"},
	SEC_E_UNTRUSTED_ROOT:                {"SEC_E_UNTRUSTED_ROOT", "certificate chain ends in an untrusted root"},
	SEC_E_ILLEGAL_MESSAGE:               {"SEC_E_ILLEGAL_MESSAGE", "peer sent a message that violates the protocol (TLS: received fatal alert / bad record)"},
	SEC_E_CERT_UNKNOWN:                  {"SEC_E_CERT_UNKNOWN", "unknown error while processing a certificate"},
	SEC_E_CERT_EXPIRED:                  {"SEC_E_CERT_EXPIRED", "certificate has expired"},
	SEC_E_ENCRYPT_FAILURE:               {"SEC_E_ENCRYPT_FAILURE", "encryption failed"},
	SEC_E_DECRYPT_FAILURE:               {"SEC_E_DECRYPT_FAILURE", "decryption failed (bad MAC / AEAD tag on a TLS record)"},
	SEC_E_ALGORITHM_MISMATCH:            {"SEC_E_ALGORITHM_MISMATCH", "no common algorithm / cipher suite / protocol version"},
	SEC_E_SECURITY_QOS_FAILED:           {"SEC_E_SECURITY_QOS_FAILED", "the requested quality of service (such as mutual authentication) could not be met"},
	SEC_E_UNFINISHED_CONTEXT_DELETED:    {"SEC_E_UNFINISHED_CONTEXT_DELETED", "a context was deleted before the handshake finished"},
	SEC_E_NO_TGT_REPLY:                  {"SEC_E_NO_TGT_REPLY", "kerberos user-to-user: no TGT reply received"},
	SEC_E_NO_IP_ADDRESSES:               {"SEC_E_NO_IP_ADDRESSES", "kerberos: no local IP addresses"},
	SEC_E_WRONG_CREDENTIAL_HANDLE:       {"SEC_E_WRONG_CREDENTIAL_HANDLE", "credential handle does not match the one used for the context"},
	SEC_E_CRYPTO_SYSTEM_INVALID:         {"SEC_E_CRYPTO_SYSTEM_INVALID", "required crypto function unavailable"},
	SEC_E_MAX_REFERRALS_EXCEEDED:        {"SEC_E_MAX_REFERRALS_EXCEEDED", "kerberos: too many referrals"},
	SEC_E_MUST_BE_KDC:                   {"SEC_E_MUST_BE_KDC", "operation must be performed on a KDC"},
	SEC_E_STRONG_CRYPTO_NOT_SUPPORTED:   {"SEC_E_STRONG_CRYPTO_NOT_SUPPORTED", "strong crypto not available on the other side"},
	SEC_E_TOO_MANY_PRINCIPALS:           {"SEC_E_TOO_MANY_PRINCIPALS", "KDC found multiple matching principals"},
	SEC_E_NO_PA_DATA:                    {"SEC_E_NO_PA_DATA", "kerberos: expected pre-authentication data missing"},
	SEC_E_PKINIT_NAME_MISMATCH:          {"SEC_E_PKINIT_NAME_MISMATCH", "PKINIT: certificate name mismatch"},
	SEC_E_SMARTCARD_LOGON_REQUIRED:      {"SEC_E_SMARTCARD_LOGON_REQUIRED", "smart-card logon required"},
	SEC_E_SHUTDOWN_IN_PROGRESS:          {"SEC_E_SHUTDOWN_IN_PROGRESS", "system shutting down"},
	SEC_E_KDC_INVALID_REQUEST:           {"SEC_E_KDC_INVALID_REQUEST", "KDC rejected the request as invalid"},
	SEC_E_KDC_UNABLE_TO_REFER:           {"SEC_E_KDC_UNABLE_TO_REFER", "KDC could not produce a referral"},
	SEC_E_KDC_UNKNOWN_ETYPE:             {"SEC_E_KDC_UNKNOWN_ETYPE", "no common Kerberos encryption type"},
	SEC_E_UNSUPPORTED_PREAUTH:           {"SEC_E_UNSUPPORTED_PREAUTH", "unsupported pre-authentication mechanism"},
	SEC_E_DELEGATION_REQUIRED:           {"SEC_E_DELEGATION_REQUIRED", "delegation is required but was not available"},
	SEC_E_BAD_BINDINGS:                  {"SEC_E_BAD_BINDINGS", "channel bindings supplied by the client do not match the server's"},
	SEC_E_MULTIPLE_ACCOUNTS:             {"SEC_E_MULTIPLE_ACCOUNTS", "certificate maps to multiple accounts"},
	SEC_E_NO_KERB_KEY:                   {"SEC_E_NO_KERB_KEY", "no Kerberos key available"},
	SEC_E_CERT_WRONG_USAGE:              {"SEC_E_CERT_WRONG_USAGE", "certificate not valid for the requested usage (EKU)"},
	SEC_E_DOWNGRADE_DETECTED:            {"SEC_E_DOWNGRADE_DETECTED", "protocol downgrade attack detected"},
	SEC_E_SMARTCARD_CERT_REVOKED:        {"SEC_E_SMARTCARD_CERT_REVOKED", "smart-card certificate revoked"},
	SEC_E_ISSUING_CA_UNTRUSTED:          {"SEC_E_ISSUING_CA_UNTRUSTED", "issuing CA of the (smart-card) certificate not trusted"},
	SEC_E_REVOCATION_OFFLINE_C:          {"SEC_E_REVOCATION_OFFLINE_C", "revocation status of the client certificate could not be checked"},
	SEC_E_PKINIT_CLIENT_FAILURE:         {"SEC_E_PKINIT_CLIENT_FAILURE", "PKINIT client failure"},
	SEC_E_SMARTCARD_CERT_EXPIRED:        {"SEC_E_SMARTCARD_CERT_EXPIRED", "smart-card certificate expired"},
	SEC_E_NO_S4U_PROT_SUPPORT:           {"SEC_E_NO_S4U_PROT_SUPPORT", "KDC does not support S4U2Self"},
	SEC_E_CROSSREALM_DELEGATION_FAILURE: {"SEC_E_CROSSREALM_DELEGATION_FAILURE", "cross-realm constrained delegation failed"},
	SEC_E_REVOCATION_OFFLINE_KDC:        {"SEC_E_REVOCATION_OFFLINE_KDC", "revocation status of the KDC certificate could not be checked"},
	SEC_E_ISSUING_CA_UNTRUSTED_KDC:      {"SEC_E_ISSUING_CA_UNTRUSTED_KDC", "issuing CA of the KDC certificate not trusted"},
	SEC_E_KDC_CERT_EXPIRED:              {"SEC_E_KDC_CERT_EXPIRED", "KDC certificate expired"},
	SEC_E_KDC_CERT_REVOKED:              {"SEC_E_KDC_CERT_REVOKED", "KDC certificate revoked"},
	SEC_E_INVALID_PARAMETER:             {"SEC_E_INVALID_PARAMETER", "one or more parameters are invalid"},
	SEC_E_DELEGATION_POLICY:             {"SEC_E_DELEGATION_POLICY", "delegation blocked by policy"},
	SEC_E_POLICY_NLTM_ONLY:              {"SEC_E_POLICY_NLTM_ONLY", "policy allows only NTLM (note the historical misspelling NLTM)"},
	SEC_E_NO_CONTEXT:                    {"SEC_E_NO_CONTEXT", "required security context does not exist"},
	SEC_E_PKU2U_CERT_FAILURE:            {"SEC_E_PKU2U_CERT_FAILURE", "PKU2U certificate problem"},
	SEC_E_MUTUAL_AUTH_FAILED:            {"SEC_E_MUTUAL_AUTH_FAILED", "server identity could not be verified (mutual authentication failed)"},
	SEC_E_ONLY_HTTPS_ALLOWED:            {"SEC_E_ONLY_HTTPS_ALLOWED", "only HTTPS is allowed"},
	SEC_E_APPLICATION_PROTOCOL_MISMATCH: {"SEC_E_APPLICATION_PROTOCOL_MISMATCH", "ALPN: no common application protocol"},
	SEC_E_INVALID_UPN_NAME:              {"SEC_E_INVALID_UPN_NAME", "user name in UPN form not accepted"},
	SEC_E_EXT_BUFFER_TOO_SMALL:          {"SEC_E_EXT_BUFFER_TOO_SMALL", "buffer for generic TLS extensions is too small"},
	SEC_E_INSUFFICIENT_BUFFERS:          {"SEC_E_INSUFFICIENT_BUFFERS", "not enough buffers were supplied in the SecBufferDesc"},
}
