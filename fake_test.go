package sspi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// fakePackage is a test-only security package with a three-leg handshake
// shaped like NTLM's (NEG, CHAL+nonce, AUTH+proof) and HMAC signatures, so
// that the root can be tested without any real provider.
//
// Wire: "NEG"; "CHAL" nonce(8); "AUTH" user NUL proof(32) bindings-hash(16).
type fakePackage struct {
	name     string
	maxToken uint32 // reported cbMaxToken; 0 means fakeMaxToken
}

const (
	fakeMaxToken  = 64
	fakeSigLen    = 16
	fakeAttrThing = 0x7777 // a package-specific attribute
)

// fakeThing is the answer to fakeAttrThing, passed through untouched.
type fakeThing struct{ Value int }

func (p *fakePackage) Info() packages.Info {
	maxToken := p.maxToken
	if maxToken == 0 {
		maxToken = fakeMaxToken
	}
	return packages.Info{
		Name:         p.name,
		Comment:      p.name + " Test Package",
		Capabilities: packages.SECPKG_FLAG_INTEGRITY | packages.SECPKG_FLAG_PRIVACY | packages.SECPKG_FLAG_CONNECTION,
		Version:      1,
		RPCID:        packages.SECPKG_ID_NONE,
		MaxToken:     maxToken,
	}
}

func (p *fakePackage) AcquireCredentials(ctx context.Context, principal string, use uint32, authData any) (packages.Credentials, error) {
	switch a := authData.(type) {
	case nil:
		return nil, status.New("AcquireCredentials", p.name, status.SEC_E_NO_CREDENTIALS, errors.New("fake: no default credentials"))
	case *packages.AuthIdentity:
		return &fakeCred{pkg: p, use: use, id: *a}, nil
	}
	return nil, status.SEC_E_UNKNOWN_CREDENTIALS
}

func (p *fakePackage) ImportContext(blob []byte) (packages.Context, error) {
	if len(blob) != 1+32+8 || blob[0]&^0x80 != 1 {
		return nil, status.SEC_E_INVALID_TOKEN
	}
	c := &fakeContext{state: fakeDone, client: blob[0]&0x80 != 0}
	c.key = append([]byte(nil), blob[1:33]...)
	c.sendSeq = binary.LittleEndian.Uint32(blob[33:])
	c.recvSeq = binary.LittleEndian.Uint32(blob[37:])
	return c, nil
}

type fakeCred struct {
	pkg *fakePackage
	use uint32
	id  packages.AuthIdentity

	mu    sync.Mutex
	freed bool
}

func (c *fakeCred) Use() uint32       { return c.use }
func (c *fakeCred) Expiry() time.Time { return time.Time{} }
func (c *fakeCred) UserName() string  { return c.id.Domain + `\` + c.id.User }
func (c *fakeCred) Free()             { c.mu.Lock(); c.freed = true; c.id.Password = ""; c.mu.Unlock() }
func (c *fakeCred) QueryAttribute(attr uint32) (any, error) {
	if attr == fakeAttrThing {
		return &fakeThing{Value: 7}, nil
	}
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}

func (c *fakeCred) NewClientContext(target string, req uint32) (packages.Context, error) {
	if c.use&packages.SECPKG_CRED_OUTBOUND == 0 {
		return nil, status.SEC_E_NO_CREDENTIALS
	}
	return &fakeContext{client: true, id: c.id, target: target, req: req}, nil
}

func (c *fakeCred) NewServerContext(req uint32) (packages.Context, error) {
	if c.use&packages.SECPKG_CRED_INBOUND == 0 {
		return nil, status.SEC_E_NO_CREDENTIALS
	}
	return &fakeContext{id: c.id, req: req}, nil
}

const (
	fakeStart = iota
	fakeSentNeg
	fakeSentChal
	fakeDone
	fakeFailed
)

type fakeContext struct {
	client bool
	id     packages.AuthIdentity
	target string
	req    uint32

	hs      sync.Mutex
	state   int
	nonce   []byte
	peer    string
	key     []byte
	attrSet []byte
	err     error

	send, recv       sync.Mutex
	sendSeq, recvSeq uint32
}

var fakeNonce = []byte("nonce-01")

func (c *fakeContext) proof(nonce, bindings []byte) []byte {
	m := hmac.New(sha256.New, []byte(c.id.Password))
	m.Write(nonce)
	m.Write(bindings)
	return m.Sum(nil)
}

func fakeKey(password string, nonce []byte) []byte {
	m := hmac.New(sha256.New, []byte(password))
	m.Write(nonce)
	m.Write([]byte("key"))
	return m.Sum(nil)
}

func (c *fakeContext) fail(st status.Status) (status.Status, error) {
	c.state = fakeFailed
	c.err = status.New("step", "Fake", st, errors.New("fake: handshake failed"))
	return st, c.err
}

func bindingsOf(in []secbuffer.Buffer) []byte {
	if b := secbuffer.Find(in, secbuffer.SECBUFFER_CHANNEL_BINDINGS); b != nil {
		cb, err := secbuffer.ParseChannelBindings(b.Data)
		if err == nil {
			h := cb.Hash()
			return h[:]
		}
	}
	return make([]byte, 16)
}

func (c *fakeContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	c.hs.Lock()
	defer c.hs.Unlock()
	if c.state == fakeFailed {
		return status.Code(c.err), c.err
	}
	tok := secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
	}
	alloc := c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0
	var input []byte
	if b := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN); b != nil {
		input = b.Data
	}
	emit := func(p []byte, st status.Status, next int) (status.Status, error) {
		if !secbuffer.Fits(tok, len(p), alloc) {
			return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
		}
		secbuffer.Set(tok, p, alloc)
		c.state = next
		return st, nil
	}
	switch {
	case c.client && c.state == fakeStart:
		return emit([]byte("NEG"), status.SEC_I_CONTINUE_NEEDED, fakeSentNeg)
	case c.client && c.state == fakeSentNeg:
		if len(input) != 12 || !bytes.HasPrefix(input, []byte("CHAL")) {
			return c.fail(status.SEC_E_INVALID_TOKEN)
		}
		nonce := input[4:]
		cb := bindingsOf(in)
		msg := append([]byte("AUTH"+c.id.User+"\x00"), c.proof(nonce, cb)...)
		msg = append(msg, cb...)
		st, err := emit(msg, status.SEC_E_OK, fakeDone)
		if err == nil {
			c.key = fakeKey(c.id.Password, nonce)
			c.peer = c.target
		}
		return st, err
	case !c.client && c.state == fakeStart:
		if string(input) != "NEG" {
			return c.fail(status.SEC_E_INVALID_TOKEN)
		}
		st, err := emit(append([]byte("CHAL"), fakeNonce...), status.SEC_I_CONTINUE_NEEDED, fakeSentChal)
		if err == nil {
			c.nonce = fakeNonce
		}
		return st, err
	case !c.client && c.state == fakeSentChal:
		body, ok := bytes.CutPrefix(input, []byte("AUTH"))
		i := bytes.IndexByte(body, 0)
		if !ok || i < 0 || len(body)-i-1 != 32+16 {
			return c.fail(status.SEC_E_INVALID_TOKEN)
		}
		user, proof, cb := string(body[:i]), body[i+1:i+33], body[i+33:]
		if user != c.id.User {
			return c.fail(status.SEC_E_LOGON_DENIED)
		}
		if !hmac.Equal(proof, c.proof(c.nonce, cb)) {
			return c.fail(status.SEC_E_LOGON_DENIED)
		}
		if !bytes.Equal(cb, bindingsOf(in)) {
			return c.fail(status.SEC_E_BAD_BINDINGS)
		}
		st, err := emit(nil, status.SEC_E_OK, fakeDone)
		if err == nil {
			c.key = fakeKey(c.id.Password, c.nonce)
			c.peer = c.id.Domain + `\` + user
		}
		return st, err
	}
	return c.fail(status.SEC_E_OUT_OF_SEQUENCE)
}

// Session: the fake is its own session.
func (c *fakeContext) Session() packages.Session {
	c.hs.Lock()
	defer c.hs.Unlock()
	if c.state != fakeDone {
		return nil
	}
	return c
}

func (c *fakeContext) Sizes() packages.SecPkgContext_Sizes {
	return packages.SecPkgContext_Sizes{MaxToken: fakeMaxToken, MaxSignature: fakeSigLen, BlockSize: 0, SecurityTrailer: fakeSigLen}
}
func (c *fakeContext) Flags() uint32     { return c.req &^ packages.ISC_REQ_ALLOCATE_MEMORY }
func (c *fakeContext) Expiry() time.Time { return time.Time{} }

func (c *fakeContext) QueryAttribute(attr uint32) (any, error) {
	c.hs.Lock()
	defer c.hs.Unlock()
	switch attr {
	case packages.SECPKG_ATTR_SIZES:
		return &packages.SecPkgContext_Sizes{MaxToken: fakeMaxToken, MaxSignature: fakeSigLen, BlockSize: 0, SecurityTrailer: fakeSigLen}, nil
	case fakeAttrThing:
		return &fakeThing{Value: 42}, nil
	}
	if c.state != fakeDone {
		return nil, status.SEC_E_INVALID_HANDLE
	}
	switch attr {
	case packages.SECPKG_ATTR_NAMES:
		if c.client {
			return &packages.Names{UserName: c.id.Domain + `\` + c.id.User}, nil
		}
		return &packages.Names{UserName: c.peer}, nil
	case packages.SECPKG_ATTR_NATIVE_NAMES:
		return &packages.NativeNames{ClientName: c.id.User, ServerName: c.target}, nil
	case packages.SECPKG_ATTR_SESSION_KEY:
		return &packages.SecPkgContext_SessionKey{SessionKey: append([]byte(nil), c.key[:16]...)}, nil
	case packages.SECPKG_ATTR_KEY_INFO:
		return &packages.KeyInfo{SignatureAlgorithmName: "HMAC-SHA256", EncryptAlgorithmName: "XOR-SHA256", KeySize: 256, SignatureAlgorithm: 1, EncryptAlgorithm: 2}, nil
	}
	return nil, status.SEC_E_UNSUPPORTED_FUNCTION
}

func (c *fakeContext) SetAttribute(attr uint32, data []byte) error {
	c.hs.Lock()
	defer c.hs.Unlock()
	if attr != fakeAttrThing {
		return status.SEC_E_UNSUPPORTED_FUNCTION
	}
	c.attrSet = append([]byte(nil), data...)
	return nil
}

func (c *fakeContext) Export() ([]byte, error) {
	if c.key == nil {
		return nil, status.SEC_E_NO_CONTEXT
	}
	v := byte(1)
	if c.client {
		v |= 0x80
	}
	b := append([]byte{v}, c.key...)
	b = binary.LittleEndian.AppendUint32(b, c.sendSeq)
	return binary.LittleEndian.AppendUint32(b, c.recvSeq), nil
}

// mac signs the DATA buffers with the direction's sequence number.
func (c *fakeContext) mac(fromClient bool, seq uint32, data [][]byte) []byte {
	m := hmac.New(sha256.New, c.key)
	if fromClient {
		m.Write([]byte{'c'})
	} else {
		m.Write([]byte{'s'})
	}
	m.Write(binary.LittleEndian.AppendUint32(nil, seq))
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)[:fakeSigLen]
}

func dataOf(msg []secbuffer.Buffer) [][]byte {
	var d [][]byte
	for i := range msg {
		if msg[i].BaseType() == secbuffer.SECBUFFER_DATA {
			d = append(d, msg[i].Data)
		}
	}
	return d
}

func (c *fakeContext) xor(fromClient bool, seq uint32, p []byte) {
	ks := sha256.Sum256(append(append([]byte(nil), c.key...), byte(seq), map[bool]byte{true: 'c', false: 's'}[fromClient]))
	for i := range p {
		p[i] ^= ks[i%len(ks)]
	}
}

func (c *fakeContext) MakeSignature(qop uint32, msg []secbuffer.Buffer, seq uint32) error {
	c.send.Lock()
	defer c.send.Unlock()
	if c.key == nil {
		return status.SEC_E_NO_AUTHENTICATING_AUTHORITY
	}
	if qop != 0 {
		return status.SEC_E_QOP_NOT_SUPPORTED
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return status.SEC_E_INVALID_TOKEN
	}
	if st := secbuffer.Set(tok, c.mac(c.client, c.sendSeq, dataOf(msg)), false); st.Failed() {
		return st
	}
	c.sendSeq++
	return nil
}

func (c *fakeContext) VerifySignature(msg []secbuffer.Buffer, seq uint32) (uint32, error) {
	c.recv.Lock()
	defer c.recv.Unlock()
	if c.key == nil {
		return 0, status.SEC_E_NO_AUTHENTICATING_AUTHORITY
	}
	tok := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN)
	if tok == nil || len(tok.Data) != fakeSigLen {
		return 0, status.SEC_E_INVALID_TOKEN
	}
	if !hmac.Equal(tok.Data, c.mac(!c.client, c.recvSeq, dataOf(msg))) {
		return 0, status.SEC_E_MESSAGE_ALTERED
	}
	c.recvSeq++
	return 0, nil
}

func (c *fakeContext) EncryptMessage(qop uint32, msg []secbuffer.Buffer, seq uint32) (status.Status, error) {
	c.send.Lock()
	defer c.send.Unlock()
	if c.key == nil {
		return status.SEC_E_NO_AUTHENTICATING_AUTHORITY, status.SEC_E_NO_AUTHENTICATING_AUTHORITY
	}
	tok, data := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN), secbuffer.Find(msg, secbuffer.SECBUFFER_DATA)
	if tok == nil || data == nil {
		return status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
	}
	if !secbuffer.Fits(tok, fakeSigLen, false) {
		return status.SEC_E_BUFFER_TOO_SMALL, status.SEC_E_BUFFER_TOO_SMALL
	}
	secbuffer.Set(tok, c.mac(c.client, c.sendSeq, [][]byte{data.Data}), false)
	c.xor(c.client, c.sendSeq, data.Data)
	if p := secbuffer.Find(msg, secbuffer.SECBUFFER_PADDING); p != nil {
		p.Data = p.Data[:0]
	}
	c.sendSeq++
	return status.SEC_E_OK, nil
}

func (c *fakeContext) DecryptMessage(msg []secbuffer.Buffer, seq uint32) (uint32, status.Status, error) {
	c.recv.Lock()
	defer c.recv.Unlock()
	if c.key == nil {
		return 0, status.SEC_E_NO_AUTHENTICATING_AUTHORITY, status.SEC_E_NO_AUTHENTICATING_AUTHORITY
	}
	data := secbuffer.Find(msg, secbuffer.SECBUFFER_DATA)
	if data == nil {
		return 0, status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
	}
	var sig []byte
	if s := secbuffer.Find(msg, secbuffer.SECBUFFER_STREAM); s != nil {
		if len(s.Data) < fakeSigLen {
			return 0, status.SEC_E_INCOMPLETE_MESSAGE, status.SEC_E_INCOMPLETE_MESSAGE
		}
		sig, data.Data = s.Data[:fakeSigLen], s.Data[fakeSigLen:]
	} else if t := secbuffer.Find(msg, secbuffer.SECBUFFER_TOKEN); t != nil {
		sig = t.Data
	} else {
		return 0, status.SEC_E_INVALID_TOKEN, status.SEC_E_INVALID_TOKEN
	}
	plain := append([]byte(nil), data.Data...)
	c.xor(!c.client, c.recvSeq, plain)
	if !hmac.Equal(sig, c.mac(!c.client, c.recvSeq, [][]byte{plain})) {
		return 0, status.SEC_E_MESSAGE_ALTERED, status.SEC_E_MESSAGE_ALTERED
	}
	copy(data.Data, plain)
	c.recvSeq++
	return 0, status.SEC_E_OK, nil
}

func (c *fakeContext) Delete() {
	c.hs.Lock()
	defer c.hs.Unlock()
	clear(c.key)
	c.key = nil
}

// newFakeRegistry returns a private Registry holding the fake package
// under the name "Fake" (and, with more names, further instances).
func newFakeRegistry(names ...string) *Registry {
	r := NewRegistry()
	if len(names) == 0 {
		names = []string{"Fake"}
	}
	for _, n := range names {
		r.Register(&fakePackage{name: n})
	}
	return r
}

// Wrap implements packages.Wrapper: the fake's token, then the data.
func (c *fakeContext) Wrap(qop uint32, plain []byte) ([]byte, error) {
	return packages.WrapBuffers(c, qop, plain)
}

// Unwrap implements packages.Wrapper.
func (c *fakeContext) Unwrap(msg []byte) ([]byte, uint32, error) {
	return packages.UnwrapFixed(c, msg, fakeSigLen)
}
