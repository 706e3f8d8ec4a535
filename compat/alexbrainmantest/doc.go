// Package alexbrainmantest tests the github.com/alexbrainman/sspi mirror
// (../alexbrainman) as its users use it: through a replace line, with
// code written against the original API, against MIT Kerberos and
// gss-ntlmssp. It is a module of its own so that neither the mirror nor
// gosspi depends on go-ldap.
package alexbrainmantest
