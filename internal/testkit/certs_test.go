package testkit

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func TestCAIssue(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ca, err := NewCA("testkit CA", now)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "testkit CA" || !ca.Cert.NotBefore.Equal(now.AddDate(-1, 0, 0)) || !ca.Cert.NotAfter.Equal(now.AddDate(5, 0, 0)) {
		t.Fatalf("CA certificate: %+v", ca.Cert)
	}
	tmpl := func() *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
			NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
	}
	leaf, err := ca.Issue(tmpl())
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{DNSName: "localhost", Roots: ca.Pool(), CurrentTime: now}
	if _, err := leaf.Leaf.Verify(opts); err != nil {
		t.Errorf("issued certificate does not chain to the CA: %v", err)
	}
	self, err := (*CA)(nil).Issue(tmpl())
	if err != nil {
		t.Fatal(err)
	}
	if err := self.Leaf.CheckSignature(self.Leaf.SignatureAlgorithm, self.Leaf.RawTBSCertificate, self.Leaf.Signature); err != nil {
		t.Errorf("nil CA: not self-signed: %v", err)
	}
	if _, err := self.Leaf.Verify(opts); err == nil {
		t.Error("self-signed certificate chains to the CA")
	}
}
