// Package sspi is a pure-Go emulation of the Windows Security Support
// Provider Interface (SSPI).
//
//go:generate go run ./internal/cmd/genexports -o zexports.go
package sspi
