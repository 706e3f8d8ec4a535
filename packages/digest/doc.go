// Package digest is the WDigest security package: HTTP Digest
// authentication (RFC 7616, compatible with RFC 2617) and the SASL
// DIGEST-MD5 mechanism (RFC 2831) with its integrity and confidentiality
// layer, behind the SSPI calls Windows' "Digest Authentication for
// Windows" package answers.
//
// # Modes
//
// A client context runs HTTP Digest when InitializeSecurityContext is given
// ISC_REQ_USE_HTTP_STYLE, a server context when AcceptSecurityContext is
// given [ASC_REQ_HTTP]; otherwise both run SASL DIGEST-MD5 (packages.md
// 4.1). The qop a server offers follows its ASC_REQ flags (INTEGRITY,
// REPLAY_DETECT or SEQUENCE_DETECT add auth-int, CONFIDENTIALITY adds
// auth-conf in SASL); a client picks the strongest offered qop its
// ISC_REQ flags ask for, else auth.
//
// # HTTP client
//
// Tokens are parameter lists without the "Digest" scheme name (a leading
// one is tolerated). InitializeSecurityContext takes [TOKEN challenge,
// PKG_PARAMS method, PKG_PARAMS H(entity-body) hex] with the request URI as
// the target name, and returns the Authorization list with SEC_E_OK. When
// auth-int was chosen and no H(entity) was supplied it returns
// SEC_I_COMPLETE_NEEDED, and CompleteAuthToken([TOKEN, PKG_PARAMS method,
// PKG_PARAMS uri, PKG_PARAMS H(entity)]) finishes the response. As an
// extension, a SECBUFFER_DATA buffer may carry the entity body itself,
// which the package hashes with the algorithm in use. MakeSignature([TOKEN
// empty or a new challenge, PKG_PARAMS method, PKG_PARAMS URI, PKG_PARAMS
// H(entity), PADDING]) writes the Authorization of a later request on the
// same nonce with the next nc. A further InitializeSecurityContext with a
// stale=true challenge answers it with the same credentials; one without
// stale fails with SEC_E_LOGON_DENIED (the server refused the password).
// One with the Authentication-Info list verifies rspauth (SEC_E_OK or
// SEC_E_MUTUAL_AUTH_FAILED) and adopts nextnonce. The algorithms are MD5,
// MD5-sess, SHA-256, SHA-256-sess, SHA-512-256 and SHA-512-256-sess
// (FIPS 180-4 SHA-512/256, not the truncated SHA-512 of the RFC 7616
// 3.9.2 example, erratum 4897), with userhash and username* (RFC 8187) for
// names a quoted string cannot carry.
//
// # HTTP server
//
// AcceptSecurityContext with no token returns a challenge
// (SEC_I_CONTINUE_NEEDED) whose nonce is bound to the time, a server key
// ([Config].NonceKey) and the realm, with an opaque bound to the nonce, so
// no per-challenge state is kept. With [TOKEN Authorization, PKG_PARAMS
// method, PKG_PARAMS request URL, PKG_PARAMS H(entity), PKG_PARAMS realm]
// it checks the response against a [UserStore] (a password, or H(A1) per
// hash family as htdigest files keep it) in constant time, then the nonce,
// then the nonce count: SEC_E_OK with the Authentication-Info list (rspauth)
// as output; SEC_E_LOGON_DENIED for a wrong password or unknown user;
// SEC_E_CONTEXT_EXPIRED for an expired nonce and SEC_E_INVALID_TOKEN for a
// nonce or opaque this server did not issue, both with a stale=true
// challenge in the output token for the 401, which both the flat API and
// sspi's Context.StepBuffers return with the failure (these two failures
// leave the context usable: the client's answer is checked as usual);
// SEC_E_OUT_OF_SEQUENCE for a
// replayed nc; SEC_E_INVALID_TOKEN for a digest-uri that is not the request
// URL or a malformed list. VerifySignature with the same buffers checks a
// later request on an established context without ending it on failure.
//
// # SASL
//
// The client's first call may have no input (SEC_I_CONTINUE_NEEDED, no
// output); the second takes the digest-challenge and returns the
// digest-response; the third checks rspauth. The target name is the
// digest-uri ("ldap/dc1.example.com"). The server answers an empty first
// call with a challenge and the response with "rspauth=..." and SEC_E_OK;
// a principal given to AcquireCredentials, if any, is the digest-uri
// responses must name (SEC_E_WRONG_PRINCIPAL otherwise). After auth-int or
// auth-conf, MakeSignature/VerifySignature use [DATA..., TOKEN(16)] and
// EncryptMessage/DecryptMessage use [DATA, PADDING, TOKEN(16)] (the
// trailer: encrypted MAC tail, 00 01, sequence number) or, to decrypt,
// [STREAM, DATA]; the four-byte length prefix is the application's.
// Ciphers: rc4, rc4-56, rc4-40, des, 3des (RFC 2831 2.4). Sequence numbers
// are kept per direction; a wrong one is SEC_E_OUT_OF_SEQUENCE, a bad MAC
// SEC_E_MESSAGE_ALTERED.
//
// # Peers tested
//
// The tests run, on 127.0.0.1: curl --digest (MD5, MD5-sess, SHA-256,
// SHA-256-sess, userhash) against the acceptor; the initiator against
// lighttpd's mod_auth (MD5, SHA-256, SHA-512-256, userhash); ldapsearch
// (Cyrus SASL) binding to the acceptor and curl's DIGEST-MD5 (POP3) logging
// in to it; the initiator against Cyrus SASL's sample server; with Cyrus,
// messages cross the auth-int layer and the rc4, rc4-56, rc4-40 and des
// auth-conf layers both ways. 3des is checked only against itself: the
// Cyrus build at hand cannot start it.
//
// # Left out
//
// RFC 2831 2.2 subsequent authentication (a SASL response with no new
// challenge) is refused. Channel bindings (SECBUFFER_CHANNEL_BINDINGS,
// SECBUFFER_TARGET_HOST) are accepted and ignored: no Digest wire field
// carries them and how Windows binds them is not public; an acceptor asked
// for ASC_REQ_PROXY_BINDINGS therefore refuses every response with
// SEC_E_BAD_BINDINGS. HTTP responses
// carry no charset directive (RFC 7616 3.4 has none), and an HTTP server
// offers one algorithm per challenge (the first of [Config].Algorithms),
// accepting any listed one. For auth-int, the server's rspauth assumes an
// empty response body. Windows never selects the RFC 7616 algorithms;
// this package uses them only when configured or challenged with them.
package digest
