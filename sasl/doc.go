// Package sasl runs the SASL mechanisms GSSAPI (RFC 4752) and GSS-SPNEGO
// over [sspi.Context] values, client and server, and carries the
// security layer they negotiate over a net.Conn ([Conn], RFC 4422 3.7),
// as LDAP uses them (RFC 4513 5.2.1).
//
// # Mechanisms
//
// GSSAPI is the Kerberos V5 mechanism of RFC 4752: the context handshake
// (Kerberos package, or Negotiate), then one more round. The server wraps
// (conf_flag FALSE) four octets: a bit mask of the security layers it
// supports (1 none, 2 integrity, 4 confidentiality) and the largest
// wrapped message it can receive, in three octets. The client unwraps
// it, chooses one layer, and answers with its choice, its own receive
// buffer size and an optional authorization identity, wrapped the same
// way.
//
// GSS-SPNEGO is what Active Directory (MS-ADTS 3.1.1.3.4.5.2) and Samba
// offer for SPNEGO (RFC 4178, MS-SPNG) tokens, Kerberos or NTLM inside.
// It has no such round: the exchange ends with the context (the server's
// last SPNEGO token rides on the success result), and the layer follows
// the context's flags, confidentiality if it has that, else integrity
// if it has that, else none. Samba's LDAP client (source3/libads/sasl.c)
// and server, and Cyrus SASL's GSS-SPNEGO mechanism ("does not do SSF
// negotiation, instead it uses the flags negotiated by GSSAPI"), read it
// so; so does this package. The client asks for the flags with the
// request flags of its context ([ClientFlags]). Neither side advertises a
// buffer size: each sends messages of at most [DefaultMaxSend] bytes
// (ClientConfig.MaxSend, ServerConfig.MaxSend) and accepts up to its
// MaxReceive.
//
// # Layers
//
// [LayerNone] leaves the connection as it is after the bind.
// [LayerIntegrity] signs each message: for Kerberos an RFC 4121 Wrap
// token with conf_flag 0 (EncryptMessage with SECQOP_WRAP_NO_ENCRYPT),
// whose plaintext travels in the clear. [LayerConfidentiality] seals it.
// A received message must verify, in sequence, or the connection fails;
// on a confidentiality layer it must also have been encrypted.
//
// NTLM messages are the 16-byte MS-NLMP signature followed by the data,
// signed or sealed in place: the layout Samba's LDAP client and server
// use (ntlmssp_wrap) and Windows sends. Active Directory's and Samba's
// LDAP servers treat an NTLM session that negotiated SIGN as sealed
// (Samba's GENSEC_FEATURE_LDAP_STYLE: "We need to handle
// NTLMSSP_NEGOTIATE_SIGN as NTLMSSP_NEGOTIATE_SEAL"; its ntlmssp_unwrap
// notes that Windows LDAP clients seal even when only signing was
// negotiated), and Samba's client asks for SEAL whenever it wants SIGN
// over LDAP ("windows servers are broken with sign only"). This package
// follows that rule: when the mechanism may be NTLM, a client that wants
// integrity asks for confidentiality too ([ClientFlags]), and on NTLM
// both sides seal every message of an integrity or confidentiality layer
// ([Security.Confidential]).
//
// # Framing
//
// Once a layer other than none is installed, each message is a frame: a
// four-octet length in network byte order, then the wrapped message (RFC
// 4422 3.7). A frame is never larger than the receiver's buffer size:
// [Conn] splits each Write into as many frames as it needs, each carrying
// at most [Security.MaxPlaintext] bytes (the peer's size less the wrap
// overhead of SecPkgContext_Sizes: cbSecurityTrailer and cbBlockSize),
// and refuses a received frame longer than its own size, before reading
// it. Read returns plaintext across as many calls as the caller likes.
//
// With GSSAPI each side also keeps its frames within the size it
// advertised itself: RFC 4752 bounds them by the peer's size only, but
// Samba's gensec_gssapi (an AD DC's LDAP server, and Samba's client)
// keeps one size for both directions, the smaller of the two, and drops
// the connection on a larger frame ("WRAPPED data is larger than SASL
// negotiated maximum size"). Frames within both sizes are valid for
// every peer.
//
// # Starting the layer
//
// The bind runs over the same connection, in the clear. RFC 4513
// 5.2.1.4 has the layer start right after the BindResponse that ends a
// successful bind: the server installs it after writing that response,
// the client after reading it. A [Conn] passes bytes through until then:
//
//   - a server calls [Conn.Start] with [Server.Security] after writing
//     the successful BindResponse, before it reads again;
//   - a client that drives the bind itself calls [Client.Finish] when it
//     reads the success, which starts the layer on the Conn of its
//     ClientConfig;
//   - a client whose LDAP library does the bind (go-ldap reads the
//     connection in its own goroutine) names the Conn in ClientConfig:
//     [Client.NegotiateSaslAuth] arms it ([Conn.StartAfterBind]), and the
//     Conn installs the layer the moment it reads a BindResponse with
//     resultCode success, before handing it on, so that the next request
//     is already framed. Any other result leaves the connection clear.
//
// # Channel bindings
//
// A bind over TLS (LDAPS, or StartTLS) with no layer can be bound to the
// TLS channel: ClientConfig.ChannelBindings and
// ServerConfig.ChannelBindings go to every handshake leg as a
// SECBUFFER_CHANNEL_BINDINGS buffer, as Windows' LDAP client passes
// tls-server-end-point ([secbuffer.TLSServerEndPoint]) to a DC that
// enforces LDAP channel binding.
//
// # go-ldap
//
// [Client] has the method set of go-ldap v3's GSSAPIClient (v3.4.15:
// InitSecContext, InitSecContextWithOptions, NegotiateSaslAuth,
// DeleteSecContext; InitSecContextWithOptions appeared in v3.4.11) with
// built-in types only, so it plugs into GSSAPIBind without this package
// importing go-ldap. go-ldap has no security layer of its own ("SASL
// security layers are not supported currently"), so the ldap.Conn is
// made over a [Conn]:
//
//	raw, err := net.Dial("tcp", "dc.example.com:389")
//	if err != nil { ... }
//	conn := sasl.NewConn(raw)
//	l := ldap.NewConn(conn, false)
//	l.Start()
//	defer l.Close() // closes conn, which deletes the context
//	client := sasl.NewClient(cred, &sasl.ClientConfig{Layer: sasl.LayerConfidentiality, Conn: conn})
//	if err := l.GSSAPIBind(client, "ldap/dc.example.com", ""); err != nil { ... }
//	// Every request from here on is sealed.
//
// go-ldap calls DeleteSecContext as soon as the bind returns; the client
// then leaves the context to the Conn, which deletes it when closed.
// go-ldap speaks the GSSAPI mechanism only; GSS-SPNEGO needs a client
// that can send another mechanism name (use Step and Finish).
//
// # Interoperability
//
// The tests run our client against Cyrus SASL 2.1.28's GSSAPI plugin
// (sasl-sample-server, both mechanisms, each layer, over MIT Kerberos
// 1.20), and OpenLDAP's ldapsearch (the same plugin, and NTLM inside
// SPNEGO through gss-ntlmssp) against our server, with messages many
// times the peer's buffer each way; go-ldap v3.4.15's GSSAPIBind runs
// against our server in the nested module internal/goldaptest.
// internal/adtest runs our client against a Samba 4.17 AD DC's LDAP
// server: GSSAPI and GSS-SPNEGO over Kerberos, NTLM in GSS-SPNEGO, each
// protected layer, a response and a request of hundreds of kilobytes
// framed each way, and channel bindings over LDAPS.
//
// # Left out
//
// Security layers on top of TLS (Active Directory refuses them: MS-ADTS
// 5.1.2.1), replacing an installed layer by a second bind, a GSS-SPNEGO
// server that speaks first
// (an empty initial response fails), and NTLM sessions that negotiated
// SIGN without SEAL, which Windows LDAP clients seal anyway: sealing them
// needs the NTLM package's cooperation, so a peer must negotiate SEAL
// (this package's client does).
package sasl
