package sspihttp

import (
	"io"
	"log"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/digest"
	"github.com/gosspi/sspi/packages/ntlm"
)

func nullLogger() *log.Logger { return log.New(io.Discard, "", 0) }

type kerberosIdentity struct{ User, Realm, Password string }

func (k *kerberosIdentity) authIdentity() *packages.AuthIdentity {
	return &packages.AuthIdentity{User: k.User, Domain: k.Realm, Password: k.Password}
}

func ntlmUsers(user, pass string) ntlm.Users { return ntlm.Users{user: pass} }

func digestUsers(user, pass string) digest.Users {
	return digest.Users{{Name: user, Password: pass}}
}

// withIdentity is t with its kerberosIdentity credentials turned into an
// AuthIdentity.
func (t *Transport) withIdentity() *Transport {
	if k, ok := t.Credentials.(*kerberosIdentity); ok {
		t.Credentials = k.authIdentity()
	}
	return t
}
