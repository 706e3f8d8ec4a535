package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/packages/schannel"
)

// schannelDemo runs TLS between two Schannel contexts: the server holds a
// self-signed certificate for "localhost" made on the spot, and the client
// trusts it as its only root, so the certificate is validated as usual.
var schannelDemo = &demoCase{
	pkg:         "Schannel",
	target:      "localhost",
	clientReq:   sspi.ISC_REQ_SEQUENCE_DETECT | sspi.ISC_REQ_REPLAY_DETECT | sspi.ISC_REQ_CONFIDENTIALITY | sspi.ISC_REQ_EXTENDED_ERROR | sspi.ISC_REQ_STREAM,
	serverReq:   sspi.ASC_REQ_SEQUENCE_DETECT | sspi.ASC_REQ_REPLAY_DETECT | sspi.ASC_REQ_CONFIDENTIALITY | sspi.ASC_REQ_EXTENDED_ERROR | sspi.ASC_REQ_STREAM,
	credentials: schannelCredentials,
	stream:      true,
}

// unispDemo is the same package under its other name.
var unispDemo = func() *demoCase {
	dc := *schannelDemo
	dc.pkg = "Microsoft Unified Security Protocol Provider"
	return &dc
}()

func schannelCredentials() (client, server any, skip string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "cannot make a key: " + err.Error()
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, "cannot make a certificate: " + err.Error()
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, "cannot make a certificate: " + err.Error()
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &schannel.SCHANNEL_CRED{Version: sspi.SCHANNEL_CRED_VERSION, RootStore: roots},
		&schannel.SCHANNEL_CRED{Version: sspi.SCHANNEL_CRED_VERSION, Creds: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}},
		""
}
