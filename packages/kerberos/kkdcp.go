package kerberos

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// MS-KKDCP, the Kerberos KDC proxy: a KDC entry "https://host/KdcProxy"
// in krb5.conf (as MIT writes it) sends each request as the body of an
// HTTP POST (Content-Type application/kerberos) holding a
// KDC-PROXY-MESSAGE (MS-KKDCP 2.2.2):
//
//	KDC-PROXY-MESSAGE ::= SEQUENCE {
//	    kerb-message   [0] OCTET STRING,   -- the message with the TCP length prefix
//	    target-domain  [1] KERB-REALM OPTIONAL,
//	    dclocator-hint [2] INTEGER OPTIONAL
//	}
//
// The reply is a KDC-PROXY-MESSAGE too. The proxy's certificate is checked
// as any HTTPS server's ([Config.KDCProxyClient] sets the roots).

const (
	// maxKKDCPBody caps a proxy reply body: the Kerberos reply plus the
	// framing.
	maxKKDCPBody = maxTCPReply + 64
	// maxKKDCPRealm caps target-domain.
	maxKKDCPRealm = 1024
)

// kkdcpMessage is a KDC-PROXY-MESSAGE.
type kkdcpMessage struct {
	kerbMessage   []byte // the Kerberos message, without the length prefix
	targetDomain  string
	dclocatorHint int64
	hasHint       bool
}

// marshal encodes m, adding the 4-byte length prefix to the Kerberos
// message.
func (m *kkdcpMessage) marshal() ([]byte, error) {
	if len(m.kerbMessage) > maxTCPReply {
		return nil, errors.New("kerberos: KDC proxy message too long")
	}
	framed := make([]byte, 4+len(m.kerbMessage))
	binary.BigEndian.PutUint32(framed, uint32(len(m.kerbMessage)))
	copy(framed[4:], m.kerbMessage)
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(ctxTag(0), func(b *cryptobyte.Builder) { b.AddASN1OctetString(framed) })
		if m.targetDomain != "" {
			b.AddASN1(ctxTag(1), func(b *cryptobyte.Builder) { addGeneralString(b, m.targetDomain) })
		}
		if m.hasHint {
			b.AddASN1(ctxTag(2), func(b *cryptobyte.Builder) { b.AddASN1Int64(m.dclocatorHint) })
		}
	})
	return b.Bytes()
}

// unmarshal decodes a KDC-PROXY-MESSAGE, refusing trailing bytes, a
// length prefix that disagrees with the message, and oversized fields.
func (m *kkdcpMessage) unmarshal(p []byte) bool {
	*m = kkdcpMessage{}
	if len(p) > maxKKDCPBody {
		return false
	}
	in := cryptobyte.String(p)
	var seq, framed cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() {
		return false
	}
	var f0 cryptobyte.String
	if !seq.ReadASN1(&f0, ctxTag(0)) || !f0.ReadASN1(&framed, asn1.OCTET_STRING) || !f0.Empty() {
		return false
	}
	var n uint32
	if !framed.ReadUint32(&n) || int(n) != len(framed) || n > maxTCPReply {
		return false
	}
	var out kkdcpMessage
	out.kerbMessage = bytes.Clone(framed)
	if seq.PeekASN1Tag(ctxTag(1)) {
		var f1, s cryptobyte.String
		if !seq.ReadASN1(&f1, ctxTag(1)) || !f1.ReadASN1(&s, tagGeneralString) || !f1.Empty() ||
			len(s) == 0 || len(s) > maxKKDCPRealm {
			return false
		}
		out.targetDomain = string(s)
	}
	if seq.PeekASN1Tag(ctxTag(2)) {
		var f2 cryptobyte.String
		if !seq.ReadASN1(&f2, ctxTag(2)) || !f2.ReadASN1Integer(&out.dclocatorHint) || !f2.Empty() {
			return false
		}
		out.hasHint = true
	}
	if !seq.Empty() {
		return false
	}
	*m = out
	return true
}

// exchangeKKDCP sends req for realm through the KDC proxy at url.
func (p *Package) exchangeKKDCP(ctx context.Context, url, realm string, req []byte) ([]byte, error) {
	body, err := (&kkdcpMessage{kerbMessage: req, targetDomain: realm}).marshal()
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("kerberos: KDC proxy URL: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/kerberos")
	hreq.Header.Set("Cache-Control", "no-cache")
	hreq.Header.Set("Pragma", "no-cache")
	client := p.config.KDCProxyClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("kerberos: KDC proxy %s answered HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxKKDCPBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKKDCPBody {
		return nil, fmt.Errorf("kerberos: KDC proxy reply exceeds %d bytes", maxKKDCPBody)
	}
	var m kkdcpMessage
	if !m.unmarshal(b) {
		return nil, errors.New("kerberos: malformed KDC-PROXY-MESSAGE from the KDC proxy")
	}
	return m.kerbMessage, nil
}
