// Package kdcinterop holds only tests: MIT Kerberos clients and servers
// (kinit, klist, gss-client, gss-server, python3-gssapi) working with
// tickets from the KDC of package kdc, and the PAC that MIT's acceptor
// and this module's acceptor read from the same ticket. They run under
// SSPI_INTEROP=1 (as CI sets it) and skip otherwise.
package kdcinterop
