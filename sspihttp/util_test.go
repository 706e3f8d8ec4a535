package sspihttp

import (
	"io"
	"log"

	"github.com/gosspi/sspi/packages"
)

func nullLogger() *log.Logger { return log.New(io.Discard, "", 0) }

type kerberosIdentity struct{ User, Realm, Password string }

func (k *kerberosIdentity) authIdentity() *packages.AuthIdentity {
	return &packages.AuthIdentity{User: k.User, Domain: k.Realm, Password: k.Password}
}
