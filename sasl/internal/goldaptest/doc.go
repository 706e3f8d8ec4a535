// Package goldaptest tests package sasl with go-ldap, which the main
// module does not depend on: a nested module of its own. Its tests bind
// with go-ldap's GSSAPIBind to the package's own server, and to OpenLDAP
// slapd over the MIT test realm (slapd_interop_test.go); package ad binds
// to the Samba AD DC of internal/adtest, whose harness runs the test
// binary inside private namespaces.
package goldaptest
