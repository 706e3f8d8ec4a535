package negotiate

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// fakePkg is a stand-in mechanism for the state-machine tests: a toy
// protocol with the leg shape of NTLM (three messages starting with
// "NTLMSSP\0") or Kerberos (a 0x60-framed request, an optional mutual
// reply), and HMAC signatures with per-direction sequence numbers. It
// proves nothing about NTLM or Kerberos themselves.
type fakePkg struct {
	name       string // "NTLM" or "Kerberos"
	secret     string // shared by client and server
	acquireErr error  // AcquireCredentials fails with this
	startErr   error  // the client's first leg fails with this (no KDC)

	mu     sync.Mutex
	resets []bool // ResetMICState calls, in order
}

func (p *fakePkg) Info() packages.Info {
	return packages.Info{Name: p.name, Comment: "fake " + p.name, Version: 1, MaxToken: 1000}
}

func (p *fakePkg) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	if p.acquireErr != nil {
		return nil, p.acquireErr
	}
	secret := p.secret
	if id, ok := authData.(*packages.AuthIdentity); ok && id != nil {
		secret = id.Password
	}
	return &fakeCred{p: p, use: use, secret: secret}, nil
}

type fakeCred struct {
	p      *fakePkg
	use    uint32
	secret string
}

func (c *fakeCred) Use() uint32       { return c.use }
func (c *fakeCred) Expiry() time.Time { return time.Time{} }
func (c *fakeCred) UserName() string  { return "alice" }
func (c *fakeCred) Free()             {}
func (c *fakeCred) NewClientContext(target string, req uint32) (packages.Context, error) {
	return &fakeCtx{cred: c, client: true, req: req}, nil
}
func (c *fakeCred) NewServerContext(req uint32) (packages.Context, error) {
	return &fakeCtx{cred: c, req: req}, nil
}

type fakeCtx struct {
	cred    *fakeCred
	client  bool
	req     uint32
	leg     int
	nonce   []byte
	key     []byte
	done    bool
	deleted bool
	sendSeq uint32
	recvSeq uint32
	cb      []byte // channel bindings seen
}

var (
	errFakeDenied = status.New("", "fake", status.SEC_E_LOGON_DENIED, errors.New("fake: bad proof"))
	// errFakeKrbError is what a fake Kerberos client reports when it reads
	// the server's error token.
	errFakeKrbError = status.New("", "fake", status.SEC_E_LOGON_DENIED, errors.New("fake: error token from the server"))
)

func (c *fakeCtx) mac(parts ...[]byte) []byte {
	h := hmac.New(sha256.New, []byte(c.cred.secret))
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func fakeKrbFrame(body []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0x60), func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidKerberos)
		b.AddBytes(body)
	})
	return b.BytesOrPanic()
}

func fakeKrbBody(tok []byte) ([]byte, bool) {
	s := cryptobyte.String(tok)
	var inner cryptobyte.String
	if !s.ReadASN1(&inner, cbasn1.Tag(0x60)) || !s.Empty() {
		return nil, false
	}
	var o cryptobyte.String
	if !inner.ReadASN1(&o, cbasn1.OBJECT_IDENTIFIER) {
		return nil, false
	}
	return inner, true
}

func (c *fakeCtx) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	tok := inputToken(in)
	if b := secbuffer.Find(in, secbuffer.SECBUFFER_CHANNEL_BINDINGS); b != nil {
		c.cb = append([]byte(nil), b.Data...)
	}
	o := secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
	emit := func(p []byte, done bool) (status.Status, error) {
		secbuffer.Set(o, p, true)
		c.done = done
		if done {
			return status.SEC_E_OK, nil
		}
		return status.SEC_I_CONTINUE_NEEDED, nil
	}
	c.leg++
	if c.cred.p.name == "Kerberos" {
		mutual := c.req&packages.ISC_REQ_MUTUAL_AUTH != 0
		switch {
		case c.client && c.leg == 1:
			if err := c.cred.p.startErr; err != nil {
				return status.Code(err), err
			}
			c.nonce = []byte("krbnonce")
			c.key = c.mac([]byte("key"), c.nonce)
			flag := byte(0)
			if mutual {
				flag = 1
			}
			body := append(append([]byte("REQ"), flag), c.nonce...)
			body = append(body, c.mac(body)...)
			return emit(fakeKrbFrame(body), !mutual)
		case c.client && c.leg == 2:
			body, ok := fakeKrbBody(tok)
			if ok && string(body) == "ERR" {
				return status.SEC_E_LOGON_DENIED, errFakeKrbError
			}
			if !ok || !hmac.Equal(body, append([]byte("REP"), c.mac([]byte("REP"), c.nonce)...)) {
				return status.SEC_E_LOGON_DENIED, errFakeDenied
			}
			return emit(nil, true)
		case !c.client && c.leg == 1:
			body, ok := fakeKrbBody(tok)
			if !ok || len(body) != 3+1+8+32 || !bytes.HasPrefix(body, []byte("REQ")) {
				return status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
			}
			if !hmac.Equal(body[12:], c.mac(body[:12])) {
				secbuffer.Set(o, fakeKrbFrame([]byte("ERR")), true) // like a KRB-ERROR
				return status.SEC_E_LOGON_DENIED, errFakeDenied
			}
			c.nonce = append([]byte(nil), body[4:12]...)
			c.key = c.mac([]byte("key"), c.nonce)
			if body[3] == 1 {
				return emit(fakeKrbFrame(append([]byte("REP"), c.mac([]byte("REP"), c.nonce)...)), true)
			}
			return emit(nil, true)
		}
		return status.SEC_E_OUT_OF_SEQUENCE, status.SEC_E_OUT_OF_SEQUENCE
	}
	sig := []byte("NTLMSSP\x00")
	switch {
	case c.client && c.leg == 1:
		c.nonce = []byte("clientnc")
		return emit(append(append(sig, 1), c.nonce...), false)
	case c.client && c.leg == 2:
		if len(tok) != 17 || !bytes.HasPrefix(tok, append(sig, 2)) {
			return status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
		}
		c.nonce = append(c.nonce, tok[9:]...)
		c.key = c.mac([]byte("key"), c.nonce)
		return emit(append(append(sig, 3), c.mac([]byte("auth"), c.nonce, c.cb)...), true)
	case !c.client && c.leg == 1:
		if len(tok) != 17 || !bytes.HasPrefix(tok, append(sig, 1)) {
			return status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
		}
		c.nonce = append(append([]byte(nil), tok[9:]...), "servernc"...)
		return emit(append(append(sig, 2), "servernc"...), false)
	case !c.client && c.leg == 2:
		if !bytes.HasPrefix(tok, append(sig, 3)) || !hmac.Equal(tok[9:], c.mac([]byte("auth"), c.nonce, c.cb)) {
			return status.SEC_E_LOGON_DENIED, errFakeDenied
		}
		c.key = c.mac([]byte("key"), c.nonce)
		return emit(nil, true)
	}
	return status.SEC_E_OUT_OF_SEQUENCE, status.SEC_E_OUT_OF_SEQUENCE
}

// Session: the fake is its own session.
func (c *fakeCtx) Session() packages.Session {
	if !c.done {
		return nil
	}
	return c
}

func (c *fakeCtx) Sizes() packages.SecPkgContext_Sizes {
	return packages.SecPkgContext_Sizes{MaxToken: 1000, MaxSignature: 16, SecurityTrailer: 16}
}

// Flags reports integrity on both sides, as NTLM with SIGN and Kerberos
// do.
func (c *fakeCtx) Flags() uint32 {
	f := c.req &^ (packages.ISC_REQ_ALLOCATE_MEMORY | packages.ISC_REQ_NO_INTEGRITY)
	if c.client {
		return f | packages.ISC_RET_INTEGRITY
	}
	return f | packages.ASC_RET_INTEGRITY
}

// MICPresent: the fake NTLM's last message stands for an AUTHENTICATE
// with a MIC, as modern NTLM sends.
func (c *fakeCtx) MICPresent() bool  { return c.done }
func (c *fakeCtx) Expiry() time.Time { return time.Time{} }
func (c *fakeCtx) Delete()           { c.deleted = true }

func (c *fakeCtx) QueryAttribute(attr uint32) (any, error) {
	switch attr {
	case packages.SECPKG_ATTR_SIZES:
		return &packages.SecPkgContext_Sizes{MaxToken: 1000, MaxSignature: 16}, nil
	case packages.SECPKG_ATTR_NAMES:
		return &packages.Names{UserName: "alice"}, nil
	case packages.SECPKG_ATTR_SESSION_KEY:
		return &packages.SecPkgContext_SessionKey{SessionKey: append([]byte(nil), c.key...)}, nil
	}
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}

// signature is seq(4) || HMAC(key, direction || seq || data)[:12].
func (c *fakeCtx) signature(fromClient bool, seq uint32, data []byte) []byte {
	dir := byte('S')
	if fromClient {
		dir = 'C'
	}
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], seq)
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte{dir})
	h.Write(s[:])
	h.Write(data)
	return append(s[:], h.Sum(nil)[:12]...)
}

func msgData(msg []secbuffer.Buffer) []byte {
	var d []byte
	for _, b := range msg {
		if b.BaseType() == secbuffer.SECBUFFER_DATA {
			d = append(d, b.Data...)
		}
	}
	return d
}

func (c *fakeCtx) MakeSignature(qop uint32, msg []secbuffer.Buffer, seq uint32) error {
	t := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if c.key == nil || t == nil || cap(t.Data) < 16 {
		return status.SEC_E_INVALID_TOKEN
	}
	t.Data = t.Data[:16]
	copy(t.Data, c.signature(c.client, c.sendSeq, msgData(msg)))
	c.sendSeq++
	return nil
}

func (c *fakeCtx) VerifySignature(msg []secbuffer.Buffer, seq uint32) (uint32, error) {
	t := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if c.key == nil || t == nil {
		return 0, status.SEC_E_INVALID_TOKEN
	}
	if !hmac.Equal(t.Data, c.signature(!c.client, c.recvSeq, msgData(msg))) {
		return 0, status.SEC_E_MESSAGE_ALTERED
	}
	c.recvSeq++
	return 0, nil
}

func (c *fakeCtx) xor(msg []secbuffer.Buffer, fromClient bool, seq uint32) {
	pad := c.signature(fromClient, seq, []byte("pad"))
	for i := range msg {
		if msg[i].BaseType() == secbuffer.SECBUFFER_DATA {
			for j := range msg[i].Data {
				msg[i].Data[j] ^= pad[4+j%12]
			}
		}
	}
}

func (c *fakeCtx) EncryptMessage(qop uint32, msg []secbuffer.Buffer, seq uint32) (status.Status, error) {
	s := c.sendSeq
	if err := c.MakeSignature(qop, msg, seq); err != nil {
		return status.Code(err), err
	}
	c.xor(msg, c.client, s)
	return status.SEC_E_OK, nil
}

func (c *fakeCtx) DecryptMessage(msg []secbuffer.Buffer, seq uint32) (uint32, status.Status, error) {
	c.xor(msg, !c.client, c.recvSeq)
	if _, err := c.VerifySignature(msg, seq); err != nil {
		return 0, status.Code(err), err
	}
	return 0, status.SEC_E_OK, nil
}

func (c *fakeCtx) ResetMICState(outbound bool) {
	c.cred.p.mu.Lock()
	c.cred.p.resets = append(c.cred.p.resets, outbound)
	c.cred.p.mu.Unlock()
}
