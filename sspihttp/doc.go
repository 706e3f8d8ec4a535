// Package sspihttp plugs the security packages of
// github.com/gosspi/sspi into net/http: a client [Transport] that answers
// authentication challenges, a [ProxyDialer] for proxies that want
// authentication on CONNECT, and server middleware ([Server.Middleware])
// that authenticates requests and hands the handler the client's
// [Identity]. It is kept out of the root package so that programs that do
// not speak HTTP do not link net/http.
//
// # Schemes
//
//   - Negotiate (RFC 4559): SPNEGO choosing Kerberos, or NTLM when no
//     ticket can be had; the server's last token proves its identity
//     (mutual authentication, [Transport.MutualAuth]).
//   - Kerberos: the bare Kerberos scheme some Microsoft servers offer.
//   - NTLM: the three-message handshake of MS-NLMP over two round trips.
//   - Digest (RFC 7616, RFC 2617): MD5, MD5-sess and the SHA-256 and
//     SHA-512/256 algorithms, qop=auth, nonce reuse with a counted nc.
//
// Negotiate, Kerberos and NTLM authenticate a connection, not a request:
// every leg of one handshake must travel over the same HTTP/1.1
// connection. The Transport runs each handshake on a private
// single-connection clone of its Base; the Server keeps the handshake of
// each connection in the connection's context, which is why an
// http.Server using it must set ConnContext to [ConnContext].
//
// # Client
//
//	client := &http.Client{Transport: &sspihttp.Transport{
//		Credentials: &sspi.AuthIdentity{User: "alice", Domain: "EXAMPLE", Password: pw},
//	}}
//	resp, err := client.Get("https://intranet.example.com/")
//
// With no Credentials the packages' defaults apply: the Kerberos
// credential cache (kinit) and NTLM_USER_FILE. [WithCredentials] sets the
// credentials of one request. [Transport.Flags] adds ISC_REQ_* flags
// (ISC_REQ_DELEGATE, ISC_REQ_MUTUAL_AUTH, ...) and [Transport.Kerberos],
// [Transport.NTLM] and [Transport.Negotiate] give the Transport packages
// configured its own way, leaving the Registry as it is. Bodies are sent again for each leg through
// Request.GetBody ([ErrBodyNotRewindable] otherwise). After a redirect to
// another host, or from https to http, challenges are left unanswered
// unless [Transport.AllowHost] allows the host.
//
// # Server
//
//	s := &sspihttp.Server{
//		Negotiate: &negotiate.AuthData{Kerberos: &kerberos.Keytab{Path: "/etc/http.keytab"}},
//		Digest:    digest.Users{{Name: "alice", Password: pw}},
//	}
//	srv := s.HTTPServer(":8443", mux) // timeouts and per-connection hooks set
//	log.Fatal(srv.ListenAndServeTLS("cert.pem", "key.pem"))
//
// [Server.HTTPServer] gives an http.Server with a read-header timeout, an
// idle timeout and the hooks that free a connection's handshake when it
// closes; the Server drops a handshake whose client does not send its
// next leg within [Server.HandshakeTimeout], bounds the handshakes
// pending from one client address ([Server.MaxPendingPerAddr]), and
// records every failed authentication in [Server.AuditLog] (log/slog)
// with its reason and without any token or credential. A hand-made
// http.Server must set ConnContext (to [ConnContext] or
// [Server.ConnContext]) and should set the same timeouts.
//
// The handler reads who authenticated with [IdentityFromContext]: the
// client's name, the scheme and package used and, for Kerberos and
// Negotiate-over-Kerberos logins, the PAC of the client's ticket with the
// user and group SIDs it lists. With
// [Server.ChannelBindings] ([TLSServerEndPoint] of the server certificate)
// the Negotiate, Kerberos and NTLM handshakes must carry the TLS
// connection's bindings (Windows' Extended Protection for
// Authentication).
package sspihttp
