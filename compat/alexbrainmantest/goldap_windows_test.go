package alexbrainmantest

import (
	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldap/v3/gssapi"
)

// Built for Windows, go-ldap's SSPI client is an ldap.GSSAPIClient over
// the mirror (TestGoLDAPGSSAPIBuildsWithMirror cross-compiles this).
var _ ldap.GSSAPIClient = (*gssapi.SSPIClient)(nil)
