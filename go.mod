module github.com/gosspi/sspi

go 1.25.0

require (
	github.com/Azure/go-ntlmssp v0.1.1 // indirect
	github.com/jcmturner/gokrb5/v8 v8.4.4 // indirect
	golang.org/x/crypto v0.50.0 // indirect
)
