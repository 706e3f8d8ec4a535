//go:build !linux

package kerberos

func unlinkKeyringCollection(string) {}
