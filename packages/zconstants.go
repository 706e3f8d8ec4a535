//lint:file-ignore ST1003 Windows names are kept verbatim so readers can search for them.

package packages

// ISC_REQ_* flags: fContextReq of InitializeSecurityContext (sspi.h). Values above 32 bits travel only in a SECBUFFER_FLAGS buffer.
const (
	ISC_REQ_DELEGATE                 = 0x00000001         // Allow the server to delegate (Kerberos forwardable TGT).
	ISC_REQ_MUTUAL_AUTH              = 0x00000002         // Require the server to authenticate itself.
	ISC_REQ_REPLAY_DETECT            = 0x00000004         // Detect replayed messages.
	ISC_REQ_SEQUENCE_DETECT          = 0x00000008         // Detect out-of-order messages.
	ISC_REQ_CONFIDENTIALITY          = 0x00000010         // Encrypt messages (EncryptMessage allowed).
	ISC_REQ_USE_SESSION_KEY          = 0x00000020         // Kerberos user-to-user / new session key.
	ISC_REQ_PROMPT_FOR_CREDS         = 0x00000040         // Prompt for credentials if none (interactive; meaningless off Windows).
	ISC_REQ_USE_SUPPLIED_CREDS       = 0x00000080         // Schannel: do not pick a client cert automatically; use only supplied creds.
	ISC_REQ_ALLOCATE_MEMORY          = 0x00000100         // Package allocates output buffers; caller frees with FreeContextBuffer.
	ISC_REQ_USE_DCE_STYLE            = 0x00000200         // DCE/RPC 3-leg style.
	ISC_REQ_DATAGRAM                 = 0x00000400         // Datagram (connectionless) semantics.
	ISC_REQ_CONNECTION               = 0x00000800         // Connection-oriented semantics.
	ISC_REQ_CALL_LEVEL               = 0x00001000         // Per-call context.
	ISC_REQ_FRAGMENT_SUPPLIED        = 0x00002000         // Input is a fragment.
	ISC_REQ_EXTENDED_ERROR           = 0x00004000         // Report errors to the peer (Schannel sends alerts).
	ISC_REQ_STREAM                   = 0x00008000         // Stream semantics (Schannel: required).
	ISC_REQ_INTEGRITY                = 0x00010000         // Sign messages (MakeSignature allowed).
	ISC_REQ_IDENTIFY                 = 0x00020000         // Server may only identify, not impersonate.
	ISC_REQ_NULL_SESSION             = 0x00040000         // Anonymous / null session.
	ISC_REQ_MANUAL_CRED_VALIDATION   = 0x00080000         // Schannel: do not validate the server certificate automatically.
	ISC_REQ_RESERVED1                = 0x00100000         // Reserved.
	ISC_REQ_FRAGMENT_TO_FIT          = 0x00200000         // Fragment output to fit the supplied buffer.
	ISC_REQ_FORWARD_CREDENTIALS      = 0x00400000         // Forward credentials (Vista+).
	ISC_REQ_NO_INTEGRITY             = 0x00800000         // Do not sign (SPNEGO only).
	ISC_REQ_USE_HTTP_STYLE           = 0x01000000         // HTTP-style (Digest).
	ISC_REQ_UNVERIFIED_TARGET_NAME   = 0x20000000         // Target name is not verified (channel binding audit).
	ISC_REQ_CONFIDENTIALITY_ONLY     = 0x40000000         // Encryption without signing (SPNEGO/Kerberos).
	ISC_REQ_MESSAGES                 = 0x0000000100000000 // Schannel TLS 1.3: exchange TLS messages instead of records.
	ISC_REQ_DEFERRED_CRED_VALIDATION = 0x0000000200000000 // Schannel: validate server chain but do not fail the handshake (context-level SCH_CRED_DEFERRED_CRED_VALIDATION).
	ISC_REQ_NO_POST_HANDSHAKE_AUTH   = 0x0000000400000000 // Schannel: do not offer post_handshake_auth (TLS 1.3).
	ISC_REQ_REUSE_SESSION_TICKETS    = 0x0000000800000000 // Schannel: allow TLS 1.3 session ticket reuse.
	ISC_REQ_EXPLICIT_SESSION         = 0x0000001000000000 // Schannel: caller manages TLS 1.3 session tickets explicitly.
)

// ISC_RET_* flags: *pfContextAttr of InitializeSecurityContext.
const (
	ISC_RET_DELEGATE                 = 0x00000001
	ISC_RET_MUTUAL_AUTH              = 0x00000002
	ISC_RET_REPLAY_DETECT            = 0x00000004
	ISC_RET_SEQUENCE_DETECT          = 0x00000008
	ISC_RET_CONFIDENTIALITY          = 0x00000010
	ISC_RET_USE_SESSION_KEY          = 0x00000020
	ISC_RET_USED_COLLECTED_CREDS     = 0x00000040 // Credentials were collected (prompted).
	ISC_RET_USED_SUPPLIED_CREDS      = 0x00000080 // Supplied credentials were used.
	ISC_RET_ALLOCATED_MEMORY         = 0x00000100 // Output buffers were allocated by the package.
	ISC_RET_USED_DCE_STYLE           = 0x00000200
	ISC_RET_DATAGRAM                 = 0x00000400
	ISC_RET_CONNECTION               = 0x00000800
	ISC_RET_INTERMEDIATE_RETURN      = 0x00001000 // Intermediate return.
	ISC_RET_CALL_LEVEL               = 0x00002000 // Note: RET value 0x2000 differs from REQ 0x1000.
	ISC_RET_EXTENDED_ERROR           = 0x00004000
	ISC_RET_STREAM                   = 0x00008000
	ISC_RET_INTEGRITY                = 0x00010000
	ISC_RET_IDENTIFY                 = 0x00020000
	ISC_RET_NULL_SESSION             = 0x00040000
	ISC_RET_MANUAL_CRED_VALIDATION   = 0x00080000
	ISC_RET_RESERVED1                = 0x00100000
	ISC_RET_FRAGMENT_ONLY            = 0x00200000 // Output was fragmented.
	ISC_RET_FORWARD_CREDENTIALS      = 0x00400000
	ISC_RET_USED_HTTP_STYLE          = 0x01000000
	ISC_RET_NO_ADDITIONAL_TOKEN      = 0x02000000 // Internal: no further token will be produced.
	ISC_RET_REAUTHENTICATION         = 0x08000000 // Internal.
	ISC_RET_CONFIDENTIALITY_ONLY     = 0x40000000
	ISC_RET_MESSAGES                 = 0x0000000100000000
	ISC_RET_DEFERRED_CRED_VALIDATION = 0x0000000200000000
	ISC_RET_NO_POST_HANDSHAKE_AUTH   = 0x0000000400000000
	ISC_RET_REUSE_SESSION_TICKETS    = 0x0000000800000000
	ISC_RET_EXPLICIT_SESSION         = 0x0000001000000000
)

// ASC_REQ_* flags: fContextReq of AcceptSecurityContext. The layout differs from ISC above 0x800.
const (
	ASC_REQ_DELEGATE               = 0x00000001
	ASC_REQ_MUTUAL_AUTH            = 0x00000002 // Schannel server: request a client certificate.
	ASC_REQ_REPLAY_DETECT          = 0x00000004
	ASC_REQ_SEQUENCE_DETECT        = 0x00000008
	ASC_REQ_CONFIDENTIALITY        = 0x00000010
	ASC_REQ_USE_SESSION_KEY        = 0x00000020
	ASC_REQ_SESSION_TICKET         = 0x00000040 // Kerberos: return a session ticket.
	ASC_REQ_ALLOCATE_MEMORY        = 0x00000100 // Package allocates output buffers.
	ASC_REQ_USE_DCE_STYLE          = 0x00000200
	ASC_REQ_DATAGRAM               = 0x00000400
	ASC_REQ_CONNECTION             = 0x00000800
	ASC_REQ_CALL_LEVEL             = 0x00001000
	ASC_REQ_FRAGMENT_SUPPLIED      = 0x00002000
	ASC_REQ_EXTENDED_ERROR         = 0x00008000 // Note: 0x8000 (ISC uses 0x4000).
	ASC_REQ_STREAM                 = 0x00010000 // Note: 0x10000.
	ASC_REQ_INTEGRITY              = 0x00020000 // Note: 0x20000.
	ASC_REQ_LICENSING              = 0x00040000
	ASC_REQ_IDENTIFY               = 0x00080000
	ASC_REQ_ALLOW_NULL_SESSION     = 0x00100000 // Accept anonymous clients.
	ASC_REQ_ALLOW_NON_USER_LOGONS  = 0x00200000
	ASC_REQ_ALLOW_CONTEXT_REPLAY   = 0x00400000 // Deprecated.
	ASC_REQ_FRAGMENT_TO_FIT        = 0x00800000
	ASC_REQ_NO_TOKEN               = 0x01000000
	ASC_REQ_PROXY_BINDINGS         = 0x04000000         // Require channel bindings from the client.
	ASC_REQ_ALLOW_MISSING_BINDINGS = 0x10000000         // Accept clients that send no channel bindings.
	ASC_REQ_MESSAGES               = 0x0000000100000000 // Schannel TLS 1.3 messages mode.
	ASC_REQ_EXPLICIT_SESSION       = 0x0000001000000000 // Schannel: explicit TLS 1.3 session tickets.
)

// ASC_RET_* flags: *pfContextAttr of AcceptSecurityContext.
const (
	ASC_RET_DELEGATE              = 0x00000001
	ASC_RET_MUTUAL_AUTH           = 0x00000002
	ASC_RET_REPLAY_DETECT         = 0x00000004
	ASC_RET_SEQUENCE_DETECT       = 0x00000008
	ASC_RET_CONFIDENTIALITY       = 0x00000010
	ASC_RET_USE_SESSION_KEY       = 0x00000020
	ASC_RET_SESSION_TICKET        = 0x00000040
	ASC_RET_ALLOCATED_MEMORY      = 0x00000100
	ASC_RET_USED_DCE_STYLE        = 0x00000200
	ASC_RET_DATAGRAM              = 0x00000400
	ASC_RET_CONNECTION            = 0x00000800
	ASC_RET_CALL_LEVEL            = 0x00002000 // 0x2000, deliberately like ISC_RET.
	ASC_RET_THIRD_LEG_FAILED      = 0x00004000
	ASC_RET_EXTENDED_ERROR        = 0x00008000
	ASC_RET_STREAM                = 0x00010000
	ASC_RET_INTEGRITY             = 0x00020000
	ASC_RET_LICENSING             = 0x00040000
	ASC_RET_IDENTIFY              = 0x00080000
	ASC_RET_NULL_SESSION          = 0x00100000
	ASC_RET_ALLOW_NON_USER_LOGONS = 0x00200000
	ASC_RET_ALLOW_CONTEXT_REPLAY  = 0x00400000 // Deprecated.
	ASC_RET_FRAGMENT_ONLY         = 0x00800000
	ASC_RET_NO_TOKEN              = 0x01000000
	ASC_RET_NO_ADDITIONAL_TOKEN   = 0x02000000 // Internal.
	ASC_RET_MESSAGES              = 0x0000000100000000
	ASC_RET_REUSE_SESSION_TICKETS = 0x0000000800000000
	ASC_RET_EXPLICIT_SESSION      = 0x0000001000000000
)

// Credential use (fCredentialUse) and data representation.
const (
	SECPKG_CRED_INBOUND                = 0x00000001 // Server side: credentials to accept (ASC).
	SECPKG_CRED_OUTBOUND               = 0x00000002 // Client side: credentials to initiate (ISC).
	SECPKG_CRED_BOTH                   = 0x00000003 // INBOUND
	SECPKG_CRED_DEFAULT                = 0x00000004 // Use default credentials.
	SECPKG_CRED_AUTOLOGON_RESTRICTED   = 0x00000010 // SSP should prompt/obtain consent even for logged-on credentials.
	SECPKG_CRED_PROCESS_POLICY_ONLY    = 0x00000020 // ISC only processes policy; authentication always fails.
	SECPKG_CRED_KERB_ANCHOR_DS_VERSION = 0x00000040 // Kerberos: only use DCs of a given version. SDK-only.
	SECPKG_CRED_RESERVED               = 0xF0000000 // Reserved high bits.
	SECURITY_NATIVE_DREP               = 0x00000010 // TargetDataRep: native byte order (what most callers pass).
	SECURITY_NETWORK_DREP              = 0x00000000 // TargetDataRep: network byte order. Windows packages accept either; the value does not change token formats of NTLM/Kerberos/Schannel.
)

// Context attributes (SECPKG_ATTR_*) of QueryContextAttributes and SetContextAttributes.
const (
	SECPKG_ATTR_SIZES                       = 0  // SecPkgContext_Sizes
	SECPKG_ATTR_NAMES                       = 1  // SecPkgContext_Names (sUserName allocated)
	SECPKG_ATTR_LIFESPAN                    = 2  // SecPkgContext_Lifespan
	SECPKG_ATTR_DCE_INFO                    = 3  // SecPkgContext_DceInfo
	SECPKG_ATTR_STREAM_SIZES                = 4  // SecPkgContext_StreamSizes
	SECPKG_ATTR_KEY_INFO                    = 5  // SecPkgContext_KeyInfo (strings allocated)
	SECPKG_ATTR_AUTHORITY                   = 6  // SecPkgContext_Authority
	SECPKG_ATTR_PROTO_INFO                  = 7  // SecPkgContext_ProtoInfo
	SECPKG_ATTR_PASSWORD_EXPIRY             = 8  // SecPkgContext_PasswordExpiry
	SECPKG_ATTR_SESSION_KEY                 = 9  // SecPkgContext_SessionKey (key allocated)
	SECPKG_ATTR_PACKAGE_INFO                = 10 // SecPkgContext_PackageInfo (SecPkgInfo allocated)
	SECPKG_ATTR_USER_FLAGS                  = 11 // SecPkgContext_UserFlags
	SECPKG_ATTR_NEGOTIATION_INFO            = 12 // SecPkgContext_NegotiationInfo (SecPkgInfo allocated)
	SECPKG_ATTR_NATIVE_NAMES                = 13 // SecPkgContext_NativeNames
	SECPKG_ATTR_FLAGS                       = 14 // SecPkgContext_Flags
	SECPKG_ATTR_USE_VALIDATED               = 15 // (set)
	SECPKG_ATTR_CREDENTIAL_NAME             = 16 // SecPkgContext_CredentialName
	SECPKG_ATTR_TARGET_INFORMATION          = 17 // SecPkgContext_TargetInformation
	SECPKG_ATTR_ACCESS_TOKEN                = 18 // SecPkgContext_AccessToken (HANDLE)
	SECPKG_ATTR_TARGET                      = 19 // SecPkgContext_Target
	SECPKG_ATTR_AUTHENTICATION_ID           = 20 // SecPkgContext_AuthzID
	SECPKG_ATTR_LOGOFF_TIME                 = 21 // SecPkgContext_LogoffTime
	SECPKG_ATTR_NEGO_KEYS                   = 22 // SecPkgContext_NegoKeys
	SECPKG_ATTR_PROMPTING_NEEDED            = 24 // SecPkgContext_CredInfo
	SECPKG_ATTR_UNIQUE_BINDINGS             = 25 // SecPkgContext_Bindings
	SECPKG_ATTR_ENDPOINT_BINDINGS           = 26 // SecPkgContext_Bindings
	SECPKG_ATTR_CLIENT_SPECIFIED_TARGET     = 27 // SecPkgContext_ClientSpecifiedTarget
	SECPKG_ATTR_LAST_CLIENT_TOKEN_STATUS    = 30 // SecPkgContext_LastClientTokenStatus
	SECPKG_ATTR_NEGO_PKG_INFO               = 31 // SecPkgContext_NegoPackageInfo
	SECPKG_ATTR_NEGO_STATUS                 = 32 // SecPkgContext_NegoStatus
	SECPKG_ATTR_CONTEXT_DELETED             = 33
	SECPKG_ATTR_DTLS_MTU                    = 34  // SEC_DTLS_MTU (set)
	SECPKG_ATTR_APPLICATION_PROTOCOL        = 35  // SecPkgContext_ApplicationProtocol
	SECPKG_ATTR_NEGOTIATED_TLS_EXTENSIONS   = 36  // SecPkgContext_NegotiatedTlsExtensions
	SECPKG_ATTR_IS_LOOPBACK                 = 37  // (BOOL-like)
	SECPKG_ATTR_SUBJECT_SECURITY_ATTRIBUTES = 128 // SecPkgContext_SubjectAttributes
)

// Schannel context attributes (schannel.h).
const (
	SECPKG_ATTR_ISSUER_LIST                           = 0x50 // SecPkgContext_IssuerListInfo
	SECPKG_ATTR_REMOTE_CRED                           = 0x51 // SecPkgContext_RemoteCredentialInfo
	SECPKG_ATTR_LOCAL_CRED                            = 0x52 // SecPkgContext_LocalCredentialInfo
	SECPKG_ATTR_REMOTE_CERT_CONTEXT                   = 0x53 // PCCERT_CONTEXT (caller frees with CertFreeCertificateContext)
	SECPKG_ATTR_LOCAL_CERT_CONTEXT                    = 0x54 // PCCERT_CONTEXT
	SECPKG_ATTR_ROOT_STORE                            = 0x55 // HCERTSTORE
	SECPKG_ATTR_SUPPORTED_ALGS                        = 0x56 // SecPkgCred_SupportedAlgs
	SECPKG_ATTR_CIPHER_STRENGTHS                      = 0x57 // SecPkgCred_CipherStrengths
	SECPKG_ATTR_SUPPORTED_PROTOCOLS                   = 0x58 // SecPkgCred_SupportedProtocols
	SECPKG_ATTR_ISSUER_LIST_EX                        = 0x59 // SecPkgContext_IssuerListInfoEx
	SECPKG_ATTR_CONNECTION_INFO                       = 0x5A // SecPkgContext_ConnectionInfo
	SECPKG_ATTR_EAP_KEY_BLOCK                         = 0x5B // SecPkgContext_EapKeyBlock
	SECPKG_ATTR_MAPPED_CRED_ATTR                      = 0x5C // SecPkgContext_MappedCredAttr
	SECPKG_ATTR_SESSION_INFO                          = 0x5D // SecPkgContext_SessionInfo
	SECPKG_ATTR_APP_DATA                              = 0x5E // SecPkgContext_SessionAppData
	SECPKG_ATTR_REMOTE_CERTIFICATES                   = 0x5F // SecPkgContext_Certificates
	SECPKG_ATTR_CLIENT_CERT_POLICY                    = 0x60 // SecPkgCred_ClientCertPolicy
	SECPKG_ATTR_CC_POLICY_RESULT                      = 0x61 // SecPkgContext_ClientCertPolicyResult
	SECPKG_ATTR_USE_NCRYPT                            = 0x62
	SECPKG_ATTR_LOCAL_CERT_INFO                       = 0x63 // SecPkgContext_CertInfo
	SECPKG_ATTR_CIPHER_INFO                           = 0x64 // SecPkgContext_CipherInfo
	SECPKG_ATTR_EAP_PRF_INFO                          = 0x65 // SecPkgContext_EapPrfInfo
	SECPKG_ATTR_SUPPORTED_SIGNATURES                  = 0x66 // SecPkgContext_SupportedSignatures
	SECPKG_ATTR_REMOTE_CERT_CHAIN                     = 0x67 // PCCERT_CONTEXT
	SECPKG_ATTR_UI_INFO                               = 0x68 // SecPkgContext_UiInfo
	SECPKG_ATTR_EARLY_START                           = 0x69 // SecPkgContext_EarlyStart
	SECPKG_ATTR_KEYING_MATERIAL_INFO                  = 0x6A // SecPkgContext_KeyingMaterialInfo
	SECPKG_ATTR_KEYING_MATERIAL                       = 0x6B // SecPkgContext_KeyingMaterial
	SECPKG_ATTR_SRTP_PARAMETERS                       = 0x6C // SecPkgContext_SrtpParameters
	SECPKG_ATTR_TOKEN_BINDING                         = 0x6D // SecPkgContext_TokenBinding
	SECPKG_ATTR_CONNECTION_INFO_EX                    = 0x6E // SecPkgContext_ConnectionInfoEx
	SECPKG_ATTR_KEYING_MATERIAL_TOKEN_BINDING         = 0x6F // SecPkgContext_KeyingMaterial
	SECPKG_ATTR_KEYING_MATERIAL_INPROC                = 0x70 // SecPkgContext_KeyingMaterial_Inproc
	SECPKG_ATTR_CERT_CHECK_RESULT                     = 0x71 // SecPkgContext_CertificateValidationResult
	SECPKG_ATTR_CERT_CHECK_RESULT_INPROC              = 0x72 // SecPkgContext_CertificateValidationResult
	SECPKG_ATTR_SESSION_TICKET_KEYS                   = 0x73 // SecPkgCred_SessionTicketKeys
	SECPKG_ATTR_SERIALIZED_REMOTE_CERT_CONTEXT_INPROC = 0x74 // CERT_BLOB (serialized store)
	SECPKG_ATTR_SERIALIZED_REMOTE_CERT_CONTEXT        = 0x75 // CERT_BLOB (serialized store)
)

// Credential attributes (SECPKG_CRED_ATTR_*).
const (
	SECPKG_CRED_ATTR_NAMES              = 1 // SecPkgCredentials_Names (sUserName allocated)
	SECPKG_CRED_ATTR_SSI_PROVIDER       = 2 // SecPkgCredentials_SSIProvider
	SECPKG_CRED_ATTR_KDC_PROXY_SETTINGS = 3 // SecPkgCredentials_KdcProxySettingsW (same value as SECPKG_CRED_ATTR_KDC_NETWORK_SETTINGS, which uses SecPkgCredentials_KdcNetworkSettingsW)
	SECPKG_CRED_ATTR_CERT               = 4 // SecPkgCredentials_Cert
	SECPKG_CRED_ATTR_PAC_BYPASS         = 5
)

// Package capability flags (SecPkgInfo.fCapabilities).
const (
	SECPKG_FLAG_INTEGRITY                    = 0x00000001 // MakeSignature/VerifySignature supported
	SECPKG_FLAG_PRIVACY                      = 0x00000002 // EncryptMessage/DecryptMessage supported
	SECPKG_FLAG_TOKEN_ONLY                   = 0x00000004 // Only looks at the TOKEN buffer of messages
	SECPKG_FLAG_DATAGRAM                     = 0x00000008 // Datagram contexts
	SECPKG_FLAG_CONNECTION                   = 0x00000010 // Connection contexts
	SECPKG_FLAG_MULTI_REQUIRED               = 0x00000020 // Multiple legs required
	SECPKG_FLAG_CLIENT_ONLY                  = 0x00000040 // No server side
	SECPKG_FLAG_EXTENDED_ERROR               = 0x00000080 // Extended error handling
	SECPKG_FLAG_IMPERSONATION                = 0x00000100 // Server contexts can impersonate
	SECPKG_FLAG_ACCEPT_WIN32_NAME            = 0x00000200 // Understands Windows principal/target names
	SECPKG_FLAG_STREAM                       = 0x00000400 // Stream semantics
	SECPKG_FLAG_NEGOTIABLE                   = 0x00000800 // Usable under Negotiate
	SECPKG_FLAG_GSS_COMPATIBLE               = 0x00001000 // GSS-API compatible tokens
	SECPKG_FLAG_LOGON                        = 0x00002000 // Supports LsaLogonUser
	SECPKG_FLAG_ASCII_BUFFERS                = 0x00004000 // Token buffers are ASCII
	SECPKG_FLAG_FRAGMENT                     = 0x00008000 // Can fragment to fit
	SECPKG_FLAG_MUTUAL_AUTH                  = 0x00010000 // Mutual authentication
	SECPKG_FLAG_DELEGATION                   = 0x00020000 // Delegation
	SECPKG_FLAG_READONLY_WITH_CHECKSUM       = 0x00040000 // Honours SECBUFFER_READONLY_WITH_CHECKSUM
	SECPKG_FLAG_RESTRICTED_TOKENS            = 0x00080000 // Supports restricted callers
	SECPKG_FLAG_NEGO_EXTENDER                = 0x00100000 // Is the SPNEGO extender (NegoEx)
	SECPKG_FLAG_NEGOTIABLE2                  = 0x00200000 // Negotiated under NegoEx
	SECPKG_FLAG_APPCONTAINER_PASSTHROUGH     = 0x00400000 // Receives all AppContainer calls
	SECPKG_FLAG_APPCONTAINER_CHECKS          = 0x00800000 // Receives AppContainer calls after checks
	SECPKG_FLAG_CREDENTIAL_ISOLATION_ENABLED = 0x01000000 // Running with Credential Guard
	SECPKG_FLAG_APPLY_LOOPBACK               = 0x02000000 // Reliable loopback detection
	SECPKG_ID_NONE                           = 0xFFFF     // `wRPCID` value for packages without a DCE RPC id
)

// Miscellaneous SSPI values.
const (
	SECPKG_NEGOTIATION_COMPLETE                   = 0x00000000 // SecPkgContext_NegotiationInfo.NegotiationState
	SECPKG_NEGOTIATION_OPTIMISTIC                 = 0x00000001
	SECPKG_NEGOTIATION_IN_PROGRESS                = 0x00000002
	SECPKG_NEGOTIATION_DIRECT                     = 0x00000003
	SECPKG_NEGOTIATION_TRY_MULTICRED              = 0x00000004
	SECPKG_CONTEXT_EXPORT_RESET_NEW               = 0x00000001 // ExportSecurityContext fFlags: new context reset to initial state
	SECPKG_CONTEXT_EXPORT_DELETE_OLD              = 0x00000002 // ExportSecurityContext fFlags: old context deleted
	SECPKG_CONTEXT_EXPORT_TO_KERNEL               = 0x00000004 // ExportSecurityContext fFlags: for kernel (W2K3 SP1+)
	SECQOP_WRAP_NO_ENCRYPT                        = 0x80000001 // fQOP of EncryptMessage: sign/wrap without encryption (Kerberos, NTLM); returned in *pfQOP by DecryptMessage when the message was not encrypted. Same value as `KERB_WRAP_NO_ENCRYPT` (ntsecapi.h)
	SECQOP_WRAP_OOB_DATA                          = 0x40000000 // fQOP: out-of-band data (DCE)
	SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION   = 0x00000001 // SecurityFunctionTable.dwVersion: table ends at DecryptMessage
	SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_2 = 0x00000002 // … through SetContextAttributes
	SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_3 = 0x00000003 // … through SetCredentialsAttributes
	SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_4 = 0x00000004 // … through ChangeAccountPassword
	SECURITY_SUPPORT_PROVIDER_INTERFACE_VERSION_5 = 0x00000005 // … through QueryCredentialsAttributesEx
	SECPKG_OPTIONS_TYPE_UNKNOWN                   = 0x00000000 // AddSecurityPackage
	SECPKG_OPTIONS_TYPE_LSA                       = 0x00000001
	SECPKG_OPTIONS_TYPE_SSPI                      = 0x00000002
	SECPKG_OPTIONS_PERMANENT                      = 0x00000001
	SEC_CHANNEL_BINDINGS_AUDIT_BINDINGS           = 0x1  // SEC_CHANNEL_BINDINGS_EX.flags (= `SEC_CHANNEL_BINDINGS_VALID_FLAGS`) (SDK-only)
	SEC_CHANNEL_BINDINGS_RESULT_CLIENT_SUPPORT    = 0x1  // SEC_CHANNEL_BINDINGS_RESULT.flags (SDK-only). `..._VALID` = 0x70, `..._NOTVALID` = 0xC
	SEC_CHANNEL_BINDINGS_RESULT_ABSENT            = 0x2  // SEC_CHANNEL_BINDINGS_RESULT.flags (SDK-only). `..._VALID` = 0x70, `..._NOTVALID` = 0xC
	SEC_CHANNEL_BINDINGS_RESULT_NOTVALID_MISMATCH = 0x4  // SEC_CHANNEL_BINDINGS_RESULT.flags (SDK-only). `..._VALID` = 0x70, `..._NOTVALID` = 0xC
	SEC_CHANNEL_BINDINGS_RESULT_NOTVALID_MISSING  = 0x8  // SEC_CHANNEL_BINDINGS_RESULT.flags (SDK-only). `..._VALID` = 0x70, `..._NOTVALID` = 0xC
	SEC_CHANNEL_BINDINGS_RESULT_VALID_MATCHED     = 0x10 // SEC_CHANNEL_BINDINGS_RESULT.flags (SDK-only). `..._VALID` = 0x70, `..._NOTVALID` = 0xC
	SEC_CHANNEL_BINDINGS_RESULT_VALID_PROXY       = 0x20 // SEC_CHANNEL_BINDINGS_RESULT.flags (SDK-only). `..._VALID` = 0x70, `..._NOTVALID` = 0xC
	SEC_CHANNEL_BINDINGS_RESULT_VALID_MISSING     = 0x40 // SEC_CHANNEL_BINDINGS_RESULT.flags (SDK-only). `..._VALID` = 0x70, `..._NOTVALID` = 0xC
)

// SEC_WINNT_AUTH_IDENTITY flags and versions.
const (
	SEC_WINNT_AUTH_IDENTITY_ANSI                               = 0x00000001 // Strings are 8-bit (the _A structure)
	SEC_WINNT_AUTH_IDENTITY_UNICODE                            = 0x00000002 // Strings are UTF-16 (the _W structure)
	SEC_WINNT_AUTH_IDENTITY_MARSHALLED                         = 0x00000004 // All data in one buffer
	SEC_WINNT_AUTH_IDENTITY_ONLY                               = 0x00000008 // Identity only, no PAC needed
	SEC_WINNT_AUTH_IDENTITY_FLAGS_PROCESS_ENCRYPTED            = 0x00000010 // Encrypted with RtlEncryptMemory (same process)
	SEC_WINNT_AUTH_IDENTITY_FLAGS_SYSTEM_PROTECTED             = 0x00000020 // Protected by local system (same logon)
	SEC_WINNT_AUTH_IDENTITY_FLAGS_USER_PROTECTED               = 0x00000040 // Encrypted by a non-system context
	SEC_WINNT_AUTH_IDENTITY_FLAGS_SYSTEM_ENCRYPTED             = 0x00000080 // Encrypted for system
	SEC_WINNT_AUTH_IDENTITY_FLAGS_RESERVED                     = 0x00010000
	SEC_WINNT_AUTH_IDENTITY_FLAGS_NULL_USER                    = 0x00020000 // User intentionally empty
	SEC_WINNT_AUTH_IDENTITY_FLAGS_NULL_DOMAIN                  = 0x00040000 // Domain intentionally empty
	SEC_WINNT_AUTH_IDENTITY_FLAGS_ID_PROVIDER                  = 0x00080000
	SEC_WINNT_AUTH_IDENTITY_FLAGS_SSPIPFC_USE_MASK             = 0xFF000000 // Bits reserved for SspiPromptForCredentials
	SEC_WINNT_AUTH_IDENTITY_FLAGS_SSPIPFC_CREDPROV_DO_NOT_SAVE = 0x80000000 // (old name `..._SAVE_CRED_BY_CALLER`)
	SEC_WINNT_AUTH_IDENTITY_FLAGS_SSPIPFC_SAVE_CRED_CHECKED    = 0x40000000
	SEC_WINNT_AUTH_IDENTITY_FLAGS_SSPIPFC_NO_CHECKBOX          = 0x20000000
	SEC_WINNT_AUTH_IDENTITY_FLAGS_SSPIPFC_CREDPROV_DO_NOT_LOAD = 0x10000000
	SEC_WINNT_AUTH_IDENTITY_VERSION                            = 0x00000200 // Version field of SEC_WINNT_AUTH_IDENTITY_EX(W/A)
	SEC_WINNT_AUTH_IDENTITY_VERSION_2                          = 0x00000201 // Version field of SEC_WINNT_AUTH_IDENTITY_EX2
	SEC_WINNT_AUTH_IDENTITY_ENCRYPT_SAME_LOGON                 = 0x00000001 // Options of SspiEncryptAuthIdentityEx (mingw-w64 + SDK)
	SEC_WINNT_AUTH_IDENTITY_ENCRYPT_SAME_PROCESS               = 0x00000002
	SEC_WINNT_AUTH_IDENTITY_ENCRYPT_FOR_SYSTEM                 = 0x00000004
)

// Schannel control tokens (ApplyControlToken).
const (
	SCHANNEL_RENEGOTIATE = 0 // DWORD (request renegotiation)
	SCHANNEL_SHUTDOWN    = 1 // a single DWORD = 1; the next ISC/ASC call then produces the close_notify alert record
	SCHANNEL_ALERT       = 2 // SCHANNEL_ALERT_TOKEN {dwTokenType=2, dwAlertType, dwAlertNumber}; next ISC/ASC produces the alert
	SCHANNEL_SESSION     = 3 // SCHANNEL_SESSION_TOKEN {dwTokenType=3, dwFlags = SSL_SESSION_ENABLE_RECONNECTS 1 / SSL_SESSION_DISABLE_RECONNECTS 2}
)

// TLS alert numbers (SCHANNEL_ALERT_TOKEN.dwAlertNumber).
const (
	TLS1_ALERT_CLOSE_NOTIFY         = 0
	TLS1_ALERT_UNEXPECTED_MESSAGE   = 10
	TLS1_ALERT_BAD_RECORD_MAC       = 20
	TLS1_ALERT_DECRYPTION_FAILED    = 21
	TLS1_ALERT_RECORD_OVERFLOW      = 22
	TLS1_ALERT_DECOMPRESSION_FAIL   = 30
	TLS1_ALERT_HANDSHAKE_FAILURE    = 40
	TLS1_ALERT_BAD_CERTIFICATE      = 42
	TLS1_ALERT_UNSUPPORTED_CERT     = 43
	TLS1_ALERT_CERTIFICATE_REVOKED  = 44
	TLS1_ALERT_CERTIFICATE_EXPIRED  = 45
	TLS1_ALERT_CERTIFICATE_UNKNOWN  = 46
	TLS1_ALERT_ILLEGAL_PARAMETER    = 47
	TLS1_ALERT_UNKNOWN_CA           = 48
	TLS1_ALERT_ACCESS_DENIED        = 49
	TLS1_ALERT_DECODE_ERROR         = 50
	TLS1_ALERT_DECRYPT_ERROR        = 51
	TLS1_ALERT_EXPORT_RESTRICTION   = 60
	TLS1_ALERT_PROTOCOL_VERSION     = 70
	TLS1_ALERT_INSUFFIENT_SECURITY  = 71
	TLS1_ALERT_INTERNAL_ERROR       = 80
	TLS1_ALERT_USER_CANCELED        = 90
	TLS1_ALERT_NO_RENEGOTIATION     = 100
	TLS1_ALERT_UNSUPPORTED_EXT      = 110
	TLS1_ALERT_UNKNOWN_PSK_IDENTITY = 115
	TLS1_ALERT_NO_APP_PROTOCOL      = 120
)

// SP_PROT_* protocol bits.
const (
	SP_PROT_NONE               = 0x00000000
	SP_PROT_PCT1_SERVER        = 0x00000001
	SP_PROT_PCT1_CLIENT        = 0x00000002
	SP_PROT_SSL2_SERVER        = 0x00000004
	SP_PROT_SSL2_CLIENT        = 0x00000008
	SP_PROT_SSL3_SERVER        = 0x00000010
	SP_PROT_SSL3_CLIENT        = 0x00000020
	SP_PROT_TLS1_SERVER        = 0x00000040
	SP_PROT_TLS1_CLIENT        = 0x00000080
	SP_PROT_TLS1_1_SERVER      = 0x00000100
	SP_PROT_TLS1_1_CLIENT      = 0x00000200
	SP_PROT_TLS1_2_SERVER      = 0x00000400
	SP_PROT_TLS1_2_CLIENT      = 0x00000800
	SP_PROT_TLS1_3_SERVER      = 0x00001000
	SP_PROT_TLS1_3_CLIENT      = 0x00002000
	SP_PROT_DTLS_SERVER        = 0x00010000
	SP_PROT_DTLS_CLIENT        = 0x00020000
	SP_PROT_DTLS1_2_SERVER     = 0x00040000
	SP_PROT_DTLS1_2_CLIENT     = 0x00080000
	SP_PROT_UNI_SERVER         = 0x40000000
	SP_PROT_UNI_CLIENT         = 0x80000000
	SP_PROT_ALL                = 0xFFFFFFFF
	SP_PROT_PCT1               = 0x00000003
	SP_PROT_SSL2               = 0x0000000C
	SP_PROT_SSL3               = 0x00000030
	SP_PROT_TLS1               = 0x000000C0
	SP_PROT_TLS1_0_SERVER      = 0x00000040
	SP_PROT_TLS1_0_CLIENT      = 0x00000080
	SP_PROT_TLS1_0             = 0x000000C0
	SP_PROT_TLS1_1             = 0x00000300
	SP_PROT_TLS1_2             = 0x00000C00
	SP_PROT_TLS1_3             = 0x00003000
	SP_PROT_DTLS               = 0x00030000
	SP_PROT_DTLS1_0_SERVER     = 0x00010000
	SP_PROT_DTLS1_0_CLIENT     = 0x00020000
	SP_PROT_DTLS1_0            = 0x00030000
	SP_PROT_DTLS1_2            = 0x000C0000
	SP_PROT_UNI                = 0xC0000000
	SP_PROT_SSL3TLS1_CLIENTS   = 0x000000A0
	SP_PROT_SSL3TLS1_SERVERS   = 0x00000050
	SP_PROT_SSL3TLS1           = 0x000000F0
	SP_PROT_CLIENTS            = 0x800000AA
	SP_PROT_SERVERS            = 0x40000055
	SP_PROT_TLS1_1PLUS_SERVER  = 0x00001500
	SP_PROT_TLS1_1PLUS_CLIENT  = 0x00002A00
	SP_PROT_TLS1_1PLUS         = 0x00003F00
	SP_PROT_TLS1_3PLUS_SERVER  = 0x00001000
	SP_PROT_TLS1_3PLUS_CLIENT  = 0x00002000
	SP_PROT_TLS1_3PLUS         = 0x00003000
	SP_PROT_TLS1_X_SERVER      = 0x00001540
	SP_PROT_TLS1_X_CLIENT      = 0x00002A80
	SP_PROT_TLS1_X             = 0x00003FC0
	SP_PROT_DTLS1_X_SERVER     = 0x00050000
	SP_PROT_DTLS1_X_CLIENT     = 0x000A0000
	SP_PROT_DTLS1_X            = 0x000F0000
	SP_PROT_SSL3TLS1_X_CLIENTS = 0x00002AA0
	SP_PROT_SSL3TLS1_X_SERVERS = 0x00001550
	SP_PROT_SSL3TLS1_X         = 0x00003FF0
	SP_PROT_X_CLIENTS          = 0x800A2AAA
	SP_PROT_X_SERVERS          = 0x40051555
)

// SCHANNEL_CRED and SCH_CREDENTIALS values.
const (
	SCH_CRED_V1                                  = 0x00000001 // legacy
	SCH_CRED_V2                                  = 0x00000002 // legacy
	SCH_CRED_VERSION                             = 0x00000002 // legacy (=2)
	SCH_CRED_V3                                  = 0x00000003 // legacy
	SCHANNEL_CRED_VERSION                        = 0x00000004 // dwVersion of SCHANNEL_CRED
	SCH_CREDENTIALS_VERSION                      = 0x00000005 // dwVersion of SCH_CREDENTIALS (Win10 1809+ style)
	SCH_CRED_FORMAT_CERT_CONTEXT                 = 0          // paCred is an array of PCCERT_CONTEXT
	SCH_CRED_FORMAT_CERT_HASH                    = 1          // paCred[0] points to SCHANNEL_CERT_HASH (kernel)
	SCH_CRED_FORMAT_CERT_HASH_STORE              = 2          // paCred[0] points to SCHANNEL_CERT_HASH_STORE (kernel)
	SCH_CRED_MAX_STORE_NAME_SIZE                 = 128
	SCH_CRED_MAX_SUPPORTED_ALGS                  = 256
	SCH_CRED_MAX_SUPPORTED_CERTS                 = 100
	SCH_MACHINE_CERT_HASH                        = 1          // SCHANNEL_CERT_HASH.dwFlags
	SCH_CRED_MAX_SUPPORTED_PARAMETERS            = 16         // max cTlsParameters
	SCH_CRED_MAX_SUPPORTED_ALPN_IDS              = 16         // max cAlpnIds
	SCH_CRED_MAX_SUPPORTED_CRYPTO_SETTINGS       = 16         // max cDisabledCrypto
	SCH_CRED_MAX_SUPPORTED_CHAINING_MODES        = 16         // max cChainingModes
	TLS_PARAMS_OPTIONAL                          = 1          // TLS_PARAMETERS.dwFlags: ignore this entry if unsupported
	SCH_MAX_EXT_SUBSCRIPTIONS                    = 2          // generic TLS extension subscriptions
	SCH_CRED_NO_SYSTEM_MAPPER                    = 0x00000002 // Server: do not map client certs to accounts
	SCH_CRED_NO_SERVERNAME_CHECK                 = 0x00000004 // Client: skip name check of server cert against target name
	SCH_CRED_MANUAL_CRED_VALIDATION              = 0x00000008 // Client: do not validate server cert at all; app does it
	SCH_CRED_NO_DEFAULT_CREDS                    = 0x00000010 // Client: never pick a client cert automatically
	SCH_CRED_AUTO_CRED_VALIDATION                = 0x00000020 // Client: validate server cert (default on client)
	SCH_CRED_USE_DEFAULT_CREDS                   = 0x00000040 // Client: pick a client cert automatically when asked
	SCH_CRED_DISABLE_RECONNECTS                  = 0x00000080 // Disable session resumption (server: full handshakes only)
	SCH_CRED_REVOCATION_CHECK_END_CERT           = 0x00000100 // Revocation check of leaf
	SCH_CRED_REVOCATION_CHECK_CHAIN              = 0x00000200 // Revocation check of whole chain
	SCH_CRED_REVOCATION_CHECK_CHAIN_EXCLUDE_ROOT = 0x00000400 // Chain except root
	SCH_CRED_IGNORE_NO_REVOCATION_CHECK          = 0x00000800 // Ignore CRYPT_E_NO_REVOCATION_CHECK
	SCH_CRED_IGNORE_REVOCATION_OFFLINE           = 0x00001000 // Ignore CRYPT_E_REVOCATION_OFFLINE
	SCH_CRED_RESTRICTED_ROOTS                    = 0x00002000 // Server: restrict trusted roots
	SCH_CRED_REVOCATION_CHECK_CACHE_ONLY         = 0x00004000 // Only cached revocation data
	SCH_CRED_CACHE_ONLY_URL_RETRIEVAL            = 0x00008000 // No network for URL retrieval
	SCH_CRED_MEMORY_STORE_CERT                   = 0x00010000 // Cert lives in a memory store
	SCH_CRED_CACHE_ONLY_URL_RETRIEVAL_ON_CREATE  = 0x00020000
	SCH_SEND_ROOT_CERT                           = 0x00040000 // Server: include root in sent chain
	SCH_CRED_SNI_CREDENTIAL                      = 0x00080000
	SCH_CRED_SNI_ENABLE_OCSP                     = 0x00100000
	SCH_SEND_AUX_RECORD                          = 0x00200000 // Split records (1/n-1) for CBC
	SCH_USE_STRONG_CRYPTO                        = 0x00400000 // Disable weak ciphers
	SCH_USE_PRESHAREDKEY_ONLY                    = 0x00800000 // PSK only
	SCH_USE_DTLS_ONLY                            = 0x01000000 // DTLS only
	SCH_ALLOW_NULL_ENCRYPTION                    = 0x02000000 // Allow NULL ciphers
	SCH_CRED_DEFERRED_CRED_VALIDATION            = 0x04000000 // Client: validate server chain but do not fail the handshake; result via SECPKG_ATTR_CERT_CHECK_RESULT
)

// RPC authentication-service ids (SecPkgInfo.wRPCID).
const (
	RPC_C_AUTHN_NONE          = 0
	RPC_C_AUTHN_GSS_NEGOTIATE = 9  // Negotiate
	RPC_C_AUTHN_WINNT         = 10 // NTLM
	RPC_C_AUTHN_GSS_SCHANNEL  = 14 // Schannel / Microsoft Unified Security Protocol Provider
	RPC_C_AUTHN_GSS_KERBEROS  = 16 // Kerberos
	RPC_C_AUTHN_DPA           = 17
	RPC_C_AUTHN_MSN           = 18
	RPC_C_AUTHN_DIGEST        = 21 // WDigest
	RPC_C_AUTHN_MQ            = 100
	RPC_C_AUTHN_DEFAULT       = 0xFFFFFFFF
)

// CryptoAPI ALG_IDs reported by Schannel.
const (
	CALG_MD5        = 0x8003
	CALG_SHA1       = 0x8004
	CALG_SHA_256    = 0x800C
	CALG_SHA_384    = 0x800D
	CALG_SHA_512    = 0x800E
	CALG_TLS1PRF    = 0x800A
	CALG_RSA_KEYX   = 0xA400
	CALG_RSA_SIGN   = 0x2400
	CALG_DH_EPHEM   = 0xAA02
	CALG_ECDH       = 0xAA05
	CALG_ECDH_EPHEM = 0xAE06
	CALG_ECDSA      = 0x2203
	CALG_AES_128    = 0x660E
	CALG_AES_192    = 0x660F
	CALG_AES_256    = 0x6610
	CALG_AES        = 0x6611
	CALG_3DES       = 0x6603
	CALG_DES        = 0x6601
	CALG_RC4        = 0x6801
	CALG_NULLCIPHER = 0x6000
)

// Certificate and trust HRESULTs seen with Schannel manual validation.
const (
	CERT_E_EXPIRED              = 0x800B0101
	CERT_E_UNTRUSTEDROOT        = 0x800B0109
	CERT_E_CHAINING             = 0x800B010A
	CERT_E_REVOKED              = 0x800B010C
	CERT_E_UNTRUSTEDTESTROOT    = 0x800B010D
	CERT_E_REVOCATION_FAILURE   = 0x800B010E
	CERT_E_CN_NO_MATCH          = 0x800B010F
	CERT_E_WRONG_USAGE          = 0x800B0110
	CRYPT_E_REVOKED             = 0x80092010
	CRYPT_E_NO_REVOCATION_CHECK = 0x80092012
	CRYPT_E_REVOCATION_OFFLINE  = 0x80092013
	TRUST_E_CERT_SIGNATURE      = 0x80096004
)
