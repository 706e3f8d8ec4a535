package sshgss_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"golang.org/x/crypto/ssh"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/kerberos"
	"github.com/gosspi/sspi/sshgss"
)

// This example logs in to an SSH server with the Kerberos ticket of the
// user's credential cache (kinit), delegating it as "ssh -K" does, and
// runs a command. It needs a KDC and a server, so it has no output to
// check.
func ExampleClient() {
	cred, err := sspi.AcquireCredentials(context.Background(), "Kerberos", sspi.CredentialsOutbound, &kerberos.CCache{})
	if err != nil {
		log.Fatal(err)
	}
	defer cred.Free()
	var hostKey ssh.PublicKey // the server's host key, known beforehand
	conn, err := ssh.Dial("tcp", "server.example.com:22", &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.GSSAPIWithMICAuthMethod(sshgss.NewClient(cred, &sshgss.ClientConfig{Delegate: true}), "server.example.com")},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("klist")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", out)
}

// This example is an SSH server that accepts gssapi-with-mic logins with
// the host/ key of a keytab, lets in the principals MIT's rules let in
// (krb5.conf's auth_to_local, ~/.k5login), and keeps the credentials a
// client delegated. It needs a keytab and clients, so it has no output
// to check.
func ExampleServer() {
	cred, err := sspi.AcquireCredentials(context.Background(), "Kerberos", sspi.CredentialsInbound,
		&kerberos.Keytab{Path: "/etc/krb5.keytab"})
	if err != nil {
		log.Fatal(err)
	}
	defer cred.Free()
	auth, err := sshgss.LoadLocalAuth() // KRB5_CONFIG or /etc/krb5.conf
	if err != nil {
		log.Fatal(err)
	}
	var base ssh.ServerConfig // host keys added, other methods if any
	l, err := net.Listen("tcp", ":2222")
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			// One Server per connection: it holds one exchange.
			gss := sshgss.NewServer(cred, nil)
			var delegated *sspi.Credentials
			conf := base
			conf.GSSAPIWithMICConfig = &ssh.GSSAPIWithMICConfig{
				Server: gss,
				AllowLogin: func(cm ssh.ConnMetadata, principal string) (*ssh.Permissions, error) {
					if err := auth.Authorize(principal, cm.User()); err != nil {
						return nil, err
					}
					delegated, _ = gss.DelegatedCredentials() // nil if nothing was delegated
					return nil, nil
				},
			}
			_, chans, reqs, err := ssh.NewServerConn(c, &conf)
			if err != nil {
				return
			}
			if delegated != nil {
				defer delegated.Free()
				// delegated acts as the client: sspi.NewClientContext(delegated, "HTTP/backend", ...)
				// or delegated.WriteCCache(f) for the session's KRB5CCNAME.
			}
			go ssh.DiscardRequests(reqs)
			for nc := range chans {
				nc.Reject(ssh.Prohibited, "sessions are handled elsewhere")
			}
		}()
	}
}

// LocalName maps principals to local user names with krb5.conf's
// auth_to_local rules, as MIT's krb5_aname_to_localname does.
func ExampleLocalAuth_LocalName() {
	auth := &sshgss.LocalAuth{
		DefaultRealm: "EXAMPLE.COM",
		Rules: []string{
			`RULE:[2:$1;$2](.*;admin)s/;admin$//`,            // alice/admin@EXAMPLE.COM → alice
			`RULE:[1:$1@$0](.*@PARTNER\.ORG)s/@.*/-partner/`, // bob@PARTNER.ORG → bob-partner
			"DEFAULT", // carol@EXAMPLE.COM → carol
		},
	}
	for _, p := range []string{"alice/admin@EXAMPLE.COM", "bob@PARTNER.ORG", "carol@EXAMPLE.COM", "dave@ELSEWHERE.NET"} {
		name, err := auth.LocalName(p)
		if err != nil {
			fmt.Printf("%s: %v\n", p, err)
			continue
		}
		fmt.Printf("%s → %s\n", p, name)
	}
	// Output:
	// alice/admin@EXAMPLE.COM → alice
	// bob@PARTNER.ORG → bob-partner
	// carol@EXAMPLE.COM → carol
	// dave@ELSEWHERE.NET: sshgss: no translation to a local name
}
