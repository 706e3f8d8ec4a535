//lint:file-ignore ST1003 Windows names are kept verbatim so readers can search for them.

package secbuffer

// SecBuffer types and attribute flags (sspi.h; spec constants.md §4).
const (
	SECBUFFER_EMPTY                           = 0x00000000 // Placeholder; the package may fill it in and change its type (e.g. to EXTRA/MISSING/STREAM_HEADER).
	SECBUFFER_DATA                            = 0x00000001 // Application data (plaintext in, or plaintext out after DecryptMessage).
	SECBUFFER_TOKEN                           = 0x00000002 // Security token: handshake token, signature, or NTLM/Kerberos wrap trailer.
	SECBUFFER_PKG_PARAMS                      = 0x00000003 // Package-specific parameters.
	SECBUFFER_MISSING                         = 0x00000004 // Output of SEC_E_INCOMPLETE_MESSAGE: cbBuffer = number of additional bytes needed (an estimate), pvBuffer unused.
	SECBUFFER_EXTRA                           = 0x00000005 // Output: cbBuffer = count of trailing input bytes that were NOT consumed; they are the last cbBuffer bytes of the input (pvBuffer may be NULL for handshake calls).
	SECBUFFER_STREAM_TRAILER                  = 0x00000006 // Schannel record trailer (MAC/padding/tag).
	SECBUFFER_STREAM_HEADER                   = 0x00000007 // Schannel record header (5 bytes for TLS).
	SECBUFFER_NEGOTIATION_INFO                = 0x00000008 // Hints from the negotiate package.
	SECBUFFER_PADDING                         = 0x00000009 // Non-data padding (Kerberos wrap with block ciphers).
	SECBUFFER_STREAM                          = 0x0000000A // Whole encrypted message (Kerberos/NTLM DecryptMessage stream form; Schannel).
	SECBUFFER_MECHLIST                        = 0x0000000B // SPNEGO mechanism list.
	SECBUFFER_MECHLIST_SIGNATURE              = 0x0000000C // SPNEGO mechListMIC.
	SECBUFFER_TARGET                          = 0x0000000D // Obsolete.
	SECBUFFER_CHANNEL_BINDINGS                = 0x0000000E // Input: SEC_CHANNEL_BINDINGS structure (+ data) for ISC/ASC.
	SECBUFFER_CHANGE_PASS_RESPONSE            = 0x0000000F // Password-change response.
	SECBUFFER_TARGET_HOST                     = 0x00000010 // Target host name (Digest, etc.).
	SECBUFFER_ALERT                           = 0x00000011 // Schannel output: TLS alert to send to the peer when a handshake call fails.
	SECBUFFER_APPLICATION_PROTOCOLS           = 0x00000012 // Input: SEC_APPLICATION_PROTOCOLS (ALPN/NPN offer) for Schannel ISC/ASC.
	SECBUFFER_SRTP_PROTECTION_PROFILES        = 0x00000013 // DTLS-SRTP profiles.
	SECBUFFER_SRTP_MASTER_KEY_IDENTIFIER      = 0x00000014 // DTLS-SRTP MKI.
	SECBUFFER_TOKEN_BINDING                   = 0x00000015 // Token Binding parameters.
	SECBUFFER_PRESHARED_KEY                   = 0x00000016 // TLS PSK.
	SECBUFFER_PRESHARED_KEY_IDENTITY          = 0x00000017 // TLS PSK identity.
	SECBUFFER_DTLS_MTU                        = 0x00000018 // DTLS path MTU.
	SECBUFFER_SEND_GENERIC_TLS_EXTENSION      = 0x00000019 // Generic TLS extension to send.
	SECBUFFER_SUBSCRIBE_GENERIC_TLS_EXTENSION = 0x0000001A // Generic TLS extensions to receive.
	SECBUFFER_FLAGS                           = 0x0000001B // SEC_FLAGS: 64-bit ISC/ASC request flags.
	SECBUFFER_TRAFFIC_SECRETS                 = 0x0000001C // TLS 1.3 traffic secrets (messages mode).
	SECBUFFER_CERTIFICATE_REQUEST_CONTEXT     = 0x0000001D // TLS 1.3 certificate request context.
	SECBUFFER_CHANNEL_BINDINGS_RESULT         = 0x0000001E // Output of channel-binding audit (SEC_CHANNEL_BINDINGS_RESULT). SDK-only.
	SECBUFFER_APP_SESSION_STATE               = 0x0000001F // TLS 1.3 server session-ticket app state. SDK-only.
	SECBUFFER_SESSION_TICKET                  = 0x00000020 // TLS 1.3 client session ticket. SDK-only.
	SECBUFFER_VERSION                         = 0x00000000 // Required value of SecBufferDesc.ulVersion.
	SECBUFFER_ATTRMASK                        = 0xF0000000 // Mask of all attribute bits.
	SECBUFFER_READONLY                        = 0x80000000 // Buffer is input-only and not covered by the signature/checksum (e.g. a header that must not be modified).
	SECBUFFER_READONLY_WITH_CHECKSUM          = 0x10000000 // Buffer is input-only but IS included in the checksum (Kerberos/NTLM sign-only associated data; package advertises SECPKG_FLAG_READONLY_WITH_CHECKSUM).
	SECBUFFER_RESERVED                        = 0x60000000 // Reserved to the system (0x40000000 and 0x20000000 below).
	SECBUFFER_UNMAPPED                        = 0x40000000 // Kernel/LSA internal (ntsecpkg.h).
	SECBUFFER_KERNEL_MAP                      = 0x20000000 // Kernel/LSA internal (ntsecpkg.h).
)
