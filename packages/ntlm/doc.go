// Package ntlm is the NTLM security package: connection-oriented NTLM of
// [MS-NLMP], client and server, with session security, behind the
// provider contract of [packages].
//
// # Handshake
//
// The client's first Step (InitializeSecurityContext) sends NEGOTIATE,
// always with VERSION as Windows does; the server answers with CHALLENGE;
// the client's second Step reads it and sends AUTHENTICATE and returns
// SEC_E_OK (the token must still be sent); the server's second Step checks
// it and returns SEC_E_OK with no token, or SEC_E_LOGON_DENIED,
// SEC_E_BAD_BINDINGS or SEC_E_INVALID_TOKEN. A failure is sticky. The
// server accepts the NEGOTIATE forms of every client seen in the wild: 40
// bytes (Windows), 32 bytes without VERSION (curl) and the 16-byte minimal
// one.
//
// # Responses
//
// As on Windows at LmCompatibilityLevel 3 and above, clients send NTLMv2
// only and servers accept NTLMv2 only; [Config.LMCompatibility] enables
// NTLMv1 (with extended session security when offered) and, on the client,
// the LM response. The client adds to the server's AV pairs MsvAvFlags
// (MIC present), MsvAvTargetName (the target given to
// InitializeSecurityContext) and MsvAvChannelBindings (the MD5 of a
// SECBUFFER_CHANNEL_BINDINGS input buffer, 16 zero bytes without one),
// keeps the server's MsvAvTimestamp and computes the MIC over the three
// messages. The server checks the NTLMv2 proof, the MIC, and the channel
// bindings against its own SECBUFFER_CHANNEL_BINDINGS buffer
// (SEC_E_BAD_BINDINGS on a mismatch; [Config.RequireChannelBindings] or
// ASC_REQ_PROXY_BINDINGS refuse clients that send none).
//
// As on Windows ([MS-NLMP] 3.2.5.1.2), the server requires and checks the
// MIC when the client's MsvAvFlags announces one: a message whose flag
// announces a MIC that is absent, zeroed or wrong is refused with
// SEC_E_LOGON_DENIED. MsvAvFlags lies inside the NTLMv2 blob that
// NTProofStr covers, so stripping the MIC by clearing the flag breaks the
// proof: SEC_E_LOGON_DENIED as well. Clients whose MsvAvFlags announces no
// MIC (gss-ntlmssp 1.2, go-ntlmssp, curl) are accepted;
// [Config.RequireMIC] refuses them, and NTLMv1, on hardened servers
// (anonymous logons, which ASC_REQ_ALLOW_NULL_SESSION alone admits, carry
// no MIC and are not refused).
//
// Anonymous authentication works on both sides: an empty
// [packages.AuthIdentity] or ISC_REQ_NULL_SESSION on the client,
// ASC_REQ_ALLOW_NULL_SESSION on the server.
//
// # Credentials
//
// A client credential is a [packages.AuthIdentity], an [NTHash], or nil
// for the NTLM_USER_FILE file of gss-ntlmssp. A server credential names a
// [UserStore]: [Users] in memory, a [UserFile], or a [LookupFunc] that
// returns the NT hash of a user; nil means [Config.Users] or
// NTLM_USER_FILE.
//
// Who owns the keys: credentials hold the user's NT hash, NTOWFv2 and,
// with [AllowLM], LM hash, and zero them on Free. A client context takes
// its own copy when it is created, so that credentials freed between its
// two steps do not break the handshake; it zeroes that copy when its
// second step completes or fails, and on Delete. The session keys of an
// established context are zeroed on Delete. Printing a [Users], an
// [NTHash], credentials, a context or the [Package] with fmt shows no
// password, hash or key, whatever the verb.
//
// # Limits
//
// Every message a context reads is refused with SEC_E_INVALID_TOKEN above
// 16 KiB, before it is copied. A message whose fields would not fit their
// 16-bit lengths is never sent with a truncated length: a CHALLENGE whose
// TargetInfo cannot fit in the AUTHENTICATE, or a user name over 32,767
// UTF-16 units, makes the client's second step fail with
// SEC_E_INVALID_TOKEN, as Windows refuses such a CHALLENGE.
//
// # Session security
//
// Key exchange (KEY_EXCH), 128-bit keys and extended session security are
// requested by default; SIGN follows ISC_REQ_INTEGRITY, REPLAY_DETECT and
// SEQUENCE_DETECT, SEAL follows ISC_REQ_CONFIDENTIALITY. MakeSignature,
// VerifySignature, EncryptMessage and DecryptMessage use the Windows buffer
// layout: the 16-byte NTLMSSP_MESSAGE_SIGNATURE in the SECBUFFER_TOKEN
// buffer, SECBUFFER_DATA buffers sealed in place as one RC4 stream, buffers
// flagged SECBUFFER_READONLY neither sealed nor signed, those flagged
// SECBUFFER_READONLY_WITH_CHECKSUM signed but not sealed. SECQOP_WRAP_NO_ENCRYPT
// signs without sealing, and DecryptMessage reports it (the signature does
// not say whether data was sealed, so a message that fails the sealed
// reading is tried as signed-only). Each direction keeps its own sequence
// number and RC4 state under its own lock, so sending and receiving run
// concurrently (without extended session security, NTLMv1 shares one of
// each between the directions, as Windows does). A replayed or reordered
// message gives SEC_E_OUT_OF_SEQUENCE and leaves the context usable; a
// modified one gives SEC_E_MESSAGE_ALTERED. The MessageSeqNo arguments are
// ignored, as by every connection-oriented package. When SPNEGO carries
// NTLM, the mechListMIC is the first signature of each direction and, with
// key exchange, consumes RC4 key stream; as [MS-SPNG] 3.3.5.1 says and
// Windows and gss-ntlmssp do, the session's ResetMICState method re-keys
// the RC4 cipher of the direction that signed or verified it (the sequence
// numbers go on), so that the application's first message starts from
// fresh RC4 state. The Negotiate package calls it. The session keys are
// derived by the first per-message call, so contexts that only
// authenticate skip that work; later calls do not allocate.
//
// # Key exchange
//
// Whenever KEY_EXCH is negotiated (the default), the client sends a
// random exported session key encrypted with the key exchange key, with
// or without SIGN and SEAL, as MS-NLMP 3.1.5.1.2 says and Windows does;
// the MIC is keyed with it. (Samba refuses, and gss-ntlmssp 1.2 crashes
// on, an AUTHENTICATE that sets KEY_EXCH with no key.)
//
// # LDAP signing against Active Directory
//
// Active Directory's LDAP server (Samba's says so in its source, for
// Windows compatibility) treats an NTLM session that negotiated SIGN as
// sealed: its SASL security layer wraps and expects sealed messages, and
// a signed-only message is refused. Windows LDAP clients follow the same
// rule: they seal (EncryptMessage) every frame even when only SIGN was
// negotiated. This package follows it on both sides: a session that
// negotiated SIGN without SEAL seals and unseals when asked, with the
// sealing key SIGN derives anyway (MS-NLMP 3.4.5.3 does not depend on
// SEAL). An LDAP client that wants signing over NTLM should request
// ISC_REQ_INTEGRITY|ISC_REQ_CONFIDENTIALITY (as Samba's client does,
// for older servers) and seal every frame; the sasl package does both
// for GSS-SPNEGO when NTLM may be selected. With no layer at all (LDAP
// over TLS), request ISC_REQ_NO_INTEGRITY through Negotiate: SIGN is
// then not negotiated, and the DC refuses SIGN or SEAL over TLS. A
// session with neither SIGN nor SEAL cannot seal
// (SEC_E_UNSUPPORTED_FUNCTION).
//
// # Left out
//
// Connectionless (datagram) NTLM: ISC_REQ_DATAGRAM and ASC_REQ_DATAGRAM
// give SEC_E_UNSUPPORTED_FUNCTION. The server does not offer the LM_KEY and
// REQUEST_NON_NT_SESSION_KEY session keys (its user store holds NT hashes
// only; the client computes them), does not accept LM-only responses, does
// not check MsvAvTimestamp against its clock, MsvAvTargetName against its
// own SPNs or MsvAvSingleHost, and does no pass-through authentication to a
// domain controller (NETLOGON): it verifies against its own [UserStore].
//
// [MS-NLMP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/
// [MS-SPNG]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-spng/
package ntlm
