// Package sshgss plugs the library's Kerberos into golang.org/x/crypto/ssh
// for the "gssapi-with-mic" user authentication of RFC 4462: [Client] is
// an ssh.GSSAPIClient and [Server] an ssh.GSSAPIServer. Both take
// built-in types only, so this package does not import x/crypto/ssh.
//
// # Client
//
//	cred, err := sspi.AcquireCredentials(ctx, "Kerberos", sspi.CredentialsOutbound, nil) // kinit's ccache
//	auth := ssh.GSSAPIWithMICAuthMethod(sshgss.NewClient(cred, &sshgss.ClientConfig{Delegate: true}), "host.example.com")
//	conn, err := ssh.Dial("tcp", "host.example.com:22", &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{auth}, ...})
//
// x/crypto/ssh names the target "host@" plus the name given to
// GSSAPIWithMICAuthMethod, a GSS host-based service name, which the
// Kerberos package resolves to host/name@REALM through krb5.conf's
// domain_realm. The context asks for mutual authentication and integrity
// (as OpenSSH's ssh does) and, when [ClientConfig.Delegate] is set, for
// delegation (ISC_REQ_DELEGATE): the server then receives the client's
// forwarded TGT, as with "ssh -K". x/crypto/ssh itself never asks for
// delegation.
//
// # Server
//
// x/crypto/ssh calls the ssh.GSSAPIServer of a ServerConfig for one
// exchange at a time on each connection but shares it between the
// connections of that config; a [Server] holds one exchange, so give each
// connection its own (a copy of the ServerConfig per connection, or one
// per NewServerConn); a shared one refuses a second exchange while the
// first runs ([ErrBusy]) rather than mix their principals or delegated
// credentials. The same holds for a [Client] shared by ssh.ClientConfig
// between connections dialled at the same time. The principal the exchange authenticated
// ("alice@EXAMPLE.COM") is the srcName that AllowLogin receives; decide
// whether it may log in as the requested user with [LocalAuth], which
// applies ~/.k5login and krb5.conf's auth_to_local rules as MIT krb5
// does (krb5_kuserok, krb5_aname_to_localname). Within AllowLogin,
// [Server.DelegatedCredentials] gives the client's delegated credentials:
// x/crypto/ssh deletes the context right after AllowLogin returns.
//
// # Mechanisms
//
// x/crypto/ssh and OpenSSH offer the Kerberos V5 mechanism
// (1.2.840.113554.1.2.2) only, whose tokens are the Kerberos package's
// own: the client needs Kerberos credentials (Negotiate would send SPNEGO
// tokens, which the server does not expect). The server takes Kerberos
// credentials (a keytab with the host/ key) or Negotiate credentials over
// one, which accept the same bare Kerberos tokens.
package sshgss
