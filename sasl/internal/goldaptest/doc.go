// Package goldaptest tests package sasl with go-ldap, which the main
// module does not depend on: a nested module of its own.
package goldaptest
