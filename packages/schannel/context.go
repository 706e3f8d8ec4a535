package schannel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// ctxState is the handshake state of a context.
type ctxState int

const (
	stateNew         ctxState = iota // no call yet
	stateHandshake                   // handshake goroutine waiting for input
	stateNeedCert                    // SEC_I_INCOMPLETE_CREDENTIALS returned; goroutine waits for the decision
	stateEstablished                 // handshake complete
	stateFailed                      // sticky failure
	stateDeleted                     // DeleteSecurityContext was called
)

// replay keeps the result of a handshake call whose output did not fit the
// caller's buffer, so that the same call with a larger buffer returns it.
type replay struct {
	input []byte
	out   []byte
	st    status.Status
	extra int
}

// schannelContext is a Schannel security context, client or server. It is
// safe for concurrent use: handshake calls serialise on mu; after the
// handshake EncryptMessage and DecryptMessage serialise on ioMu (crypto/tls
// is driven through one private connection).
type schannelContext struct {
	// constant
	cred   *credentials
	pkg    *Package
	client bool
	target string
	req    uint32

	mu        sync.Mutex // guards the handshake fields below
	state     ctxState
	err       error // the sticky failure
	conn      *memConn
	tc        *tls.Conn
	keyLog    *secretLog            // our TLS 1.3 application secret, from crypto/tls
	exited    chan struct{}         // closed when the handshake goroutine ends
	certReply chan *tls.Certificate // answer to evNeedCert
	consumed  []byte                // input consumed by the SEC_I_INCOMPLETE_CREDENTIALS call
	deferred  bool                  // ISC_REQ_DEFERRED_CRED_VALIDATION (SECBUFFER_FLAGS)
	pending   *replay

	// written by the handshake goroutine before it reports evDone or
	// evNeedCert, read by the caller afterwards
	localLeaf   *x509.Certificate
	certReq     *tls.CertificateRequestInfo
	checkResult SecPkgContext_CertificateValidationResult

	// set once when the handshake completes
	established atomic.Bool
	sessOnce    sync.Once
	sess        *session // the record layer, built by Session
	cs          tls.ConnectionState
	suite       *suiteInfo
	flags       uint32
	expiry      time.Time

	ioMu       sync.Mutex // guards the record-layer fields below
	remembered []byte     // a post-handshake record already processed (SEC_I_RENEGOTIATE)
	reneg      bool       // remembered is an unprocessed TLS 1.2 renegotiation record
	shutdown   bool       // SCHANNEL_SHUTDOWN applied: the next handshake call sends close_notify
	sentClose  bool
	recvClose  bool
	ioErr      error // sticky record-layer failure
	deleted    bool
	capBuf     []byte // EncryptMessage output, reused
	scratch    [16]byte
	// TLS 1.3: our write direction (record13.go), and whether the peer
	// asked for our KeyUpdate, which the next handshake call returns and
	// only then moves w13 to the next key.
	w13             *sealer13
	answerKeyUpdate bool
	// TLS 1.3: the peer's write direction, opened by us (r13), and a
	// mirror of crypto/tls's read state (feed13) to re-seal the records
	// it must still process (post-handshake messages, alerts); feedBuf
	// holds such a record, hs13 a handshake message begun in an earlier
	// record.
	r13             *sealer13
	feed13          *sealer13
	feedBuf         []byte
	hs13            []byte
	open13Len       int  // open13: length of the application data
	open13KeyUpdate bool // open13: the record ends a KeyUpdate
}

func newContext(cred *credentials, client bool, target string, req uint32) *schannelContext {
	return &schannelContext{cred: cred, pkg: cred.pkg, client: client, target: target, req: req}
}

func (c *schannelContext) op() string {
	if c.client {
		return "InitializeSecurityContext"
	}
	return "AcceptSecurityContext"
}

func (c *schannelContext) errorf(op string, st status.Status, format string, args ...any) error {
	return status.New(op, c.pkg.name, st, fmt.Errorf(format, args...))
}

// fail makes err the context's sticky failure and stops the handshake
// goroutine.
func (c *schannelContext) fail(op string, st status.Status, cause error) (status.Status, error) {
	c.stopHandshake()
	c.forgetHandshakeSecrets()
	c.state = stateFailed
	c.err = status.New(op, c.pkg.name, st, cause)
	return st, c.err
}

// forgetHandshakeSecrets zeroes what the handshake left for the record
// layer once nothing else will take it (the handshake goroutine is gone).
func (c *schannelContext) forgetHandshakeSecrets() {
	if c.keyLog != nil {
		clear(c.keyLog.take())
		clear(c.keyLog.takePeer())
	}
	if c.conn != nil {
		c.conn.keepTail = false
		clear(c.conn.tail)
		c.conn.tail = nil
	}
}

// stopHandshake ends the handshake goroutine, if one runs, and waits for
// it.
func (c *schannelContext) stopHandshake() {
	if c.exited == nil {
		return
	}
	select {
	case <-c.conn.quit:
	default:
		close(c.conn.quit)
	}
	<-c.exited
	c.exited = nil
	c.conn.async = false
}

func (c *schannelContext) allocate() bool {
	return c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0 // same bit as ASC_REQ_ALLOCATE_MEMORY
}

// Step runs one InitializeSecurityContext (client) or
// AcceptSecurityContext (server) call.
func (c *schannelContext) Step(ctx context.Context, in, out []secbuffer.Buffer) (status.Status, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	op := c.op()
	switch c.state {
	case stateDeleted:
		return status.SEC_E_INVALID_HANDLE, status.New(op, c.pkg.name, status.SEC_E_INVALID_HANDLE, nil)
	case stateFailed:
		return status.Code(c.err), c.err
	}
	tok := secbuffer.Find(out, secbuffer.SECBUFFER_TOKEN)
	if tok == nil {
		return status.SEC_E_INVALID_TOKEN, c.errorf(op, status.SEC_E_INVALID_TOKEN, "schannel: no SECBUFFER_TOKEN output buffer")
	}
	var input []byte
	if t := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN); t != nil {
		input = t.Data
	}
	if c.pending != nil {
		p := c.pending
		if !bytes.Equal(input, p.input) {
			return c.fail(op, status.SEC_E_OUT_OF_SEQUENCE, errors.New("schannel: call repeated with different input after SEC_E_BUFFER_TOO_SMALL"))
		}
		if !secbuffer.Fits(tok, len(p.out), c.allocate()) {
			return status.SEC_E_BUFFER_TOO_SMALL, c.errorf(op, status.SEC_E_BUFFER_TOO_SMALL, "schannel: output token needs %d bytes", len(p.out))
		}
		c.pending = nil
		return c.deliver(op, in, input, tok, p.out, p.st, p.extra)
	}

	c.ioMu.Lock()
	shutdown := c.shutdown
	c.ioMu.Unlock()
	if shutdown && c.state != stateEstablished {
		// Shut down during the handshake: nothing can be sent.
		c.stopHandshake()
		c.state = stateFailed
		c.err = status.New(op, c.pkg.name, status.SEC_E_CONTEXT_EXPIRED, errors.New("schannel: context was shut down"))
		tok.Data = tok.Data[:0]
		return status.SEC_E_OK, nil
	}
	if c.state == stateEstablished {
		return c.stepEstablished(op, in, input, tok)
	}
	return c.stepHandshake(ctx, op, in, input, tok, out)
}

// deliver stores output and the EXTRA count and returns st, or keeps them
// for a later call when the output buffer is too small.
func (c *schannelContext) deliver(op string, in []secbuffer.Buffer, input []byte, tok *secbuffer.Buffer, output []byte, st status.Status, extra int) (status.Status, error) {
	if !secbuffer.Fits(tok, len(output), c.allocate()) {
		c.pending = &replay{input: append([]byte(nil), input...), out: output, st: st, extra: extra}
		return status.SEC_E_BUFFER_TOO_SMALL, c.errorf(op, status.SEC_E_BUFFER_TOO_SMALL, "schannel: output token needs %d bytes", len(output))
	}
	secbuffer.Set(tok, output, c.allocate())
	if extra > 0 && extra <= len(input) {
		setEmpty(in, secbuffer.SECBUFFER_EXTRA, input[len(input)-extra:])
	}
	return st, nil
}

// setEmpty turns the first SECBUFFER_EMPTY buffer of bufs into a buffer of
// type typ holding data, as Schannel does with input buffer 1.
func setEmpty(bufs []secbuffer.Buffer, typ uint32, data []byte) {
	for i := range bufs {
		if bufs[i].Type == secbuffer.SECBUFFER_EMPTY {
			bufs[i] = secbuffer.Buffer{Type: typ, Data: data}
			return
		}
	}
}

// incomplete reports SEC_E_INCOMPLETE_MESSAGE with a SECBUFFER_MISSING
// buffer of missing bytes (0 when unknown).
func (c *schannelContext) incomplete(op string, in []secbuffer.Buffer, tok *secbuffer.Buffer, missing int) (status.Status, error) {
	tok.Data = tok.Data[:0]
	setEmpty(in, secbuffer.SECBUFFER_MISSING, make([]byte, missing))
	return status.SEC_E_INCOMPLETE_MESSAGE, c.errorf(op, status.SEC_E_INCOMPLETE_MESSAGE, "schannel: %d more bytes needed", missing)
}

// stepHandshake feeds complete records of input to the handshake goroutine
// until it finishes, asks for a client certificate, or needs bytes that
// have not arrived.
func (c *schannelContext) stepHandshake(ctx context.Context, op string, in []secbuffer.Buffer, input []byte, tok *secbuffer.Buffer, out []secbuffer.Buffer) (status.Status, error) {
	if err := ctx.Err(); err != nil {
		return c.fail(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("schannel: handshake abandoned: %w", err))
	}
	progressed := false
	pos := 0
	var ev event
	haveEv := false

	switch c.state {
	case stateNew:
		if !c.client && len(c.cred.certs) == 0 {
			return c.fail(op, status.SEC_E_NO_CREDENTIALS, errors.New("schannel: server credentials hold no certificate"))
		}
		if fb := secbuffer.Find(in, secbuffer.SECBUFFER_FLAGS); fb != nil {
			if st, err := c.requestFlags(fb.Data); err != nil {
				return c.fail(op, st, err)
			}
		}
		var protos []string
		if ap := secbuffer.Find(in, secbuffer.SECBUFFER_APPLICATION_PROTOCOLS); ap != nil {
			var ok bool
			if protos, ok = parseApplicationProtocols(ap.Data); !ok {
				return c.fail(op, status.SEC_E_INVALID_TOKEN, errors.New("schannel: malformed SEC_APPLICATION_PROTOCOLS"))
			}
		}
		if !c.client {
			n, missing, err := nextRecord(input)
			if err != nil {
				return c.fail(op, status.SEC_E_ILLEGAL_MESSAGE, err)
			}
			if n == 0 {
				return c.incomplete(op, in, tok, missing)
			}
		}
		c.start(protos)
		c.state = stateHandshake
		// The goroutine runs until it first needs input (a client has
		// written its ClientHello by then).
		var err error
		if ev, err = c.wait(ctx); err != nil {
			return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
		}
		haveEv, progressed = true, c.client
	case stateNeedCert:
		// The caller goes on without a certificate: either with no input
		// or with the bytes the previous call consumed sent again.
		if len(input) >= len(c.consumed) && bytes.Equal(input[:len(c.consumed)], c.consumed) {
			pos = len(c.consumed)
		}
		c.consumed = nil
		c.certReply <- &tls.Certificate{}
		c.state = stateHandshake
		var err error
		if ev, err = c.wait(ctx); err != nil {
			return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
		}
		haveEv, progressed = true, true
	}

	missing := 0
	for {
		if haveEv {
			haveEv = false
			switch ev.kind {
			case evDone:
				return c.finishHandshake(op, in, input, pos, tok, out, ev.err)
			case evNeedCert:
				c.state = stateNeedCert
				c.certReq = ev.cri
				c.consumed = append([]byte(nil), input[:pos]...)
				return c.deliver(op, in, input, tok, c.conn.takeOut(), status.SEC_I_INCOMPLETE_CREDENTIALS, len(input)-pos)
			}
		}
		// Hand over every complete record at once; crypto/tls reads them
		// one by one and reports how many it began.
		var recs [][]byte
		var lens []int
		next := pos
		for {
			n, need, err := nextRecord(input[next:])
			if err != nil {
				if len(recs) == 0 {
					return c.fail(op, status.SEC_E_ILLEGAL_MESSAGE, err)
				}
				break
			}
			if n == 0 {
				if len(recs) == 0 {
					missing = need
				}
				break
			}
			recs = append(recs, input[next:next+n])
			lens = append(lens, n)
			next += n
		}
		if len(recs) == 0 {
			break
		}
		c.conn.feed <- recs
		var err error
		if ev, err = c.wait(ctx); err != nil {
			return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
		}
		for _, n := range lens[:ev.started] {
			pos += n
		}
		progressed = true
		haveEv = true
	}
	if !progressed {
		return c.incomplete(op, in, tok, missing)
	}
	return c.deliver(op, in, input, tok, c.conn.takeOut(), status.SEC_I_CONTINUE_NEEDED, len(input)-pos)
}

// wait receives the next event of the handshake goroutine.
func (c *schannelContext) wait(ctx context.Context) (event, error) {
	select {
	case ev := <-c.conn.events:
		return ev, nil
	case <-ctx.Done():
		return event{}, fmt.Errorf("schannel: handshake abandoned: %w", ctx.Err())
	}
}

// start creates the tls.Conn and its handshake goroutine.
func (c *schannelContext) start(protos []string) {
	c.conn = newMemConn()
	c.conn.async = true
	c.certReply = make(chan *tls.Certificate)
	c.keyLog = newSecretLog(c.client, c.conn)
	cfg := c.tlsConfig(protos)
	if c.client {
		c.tc = tls.Client(c.conn, cfg)
	} else {
		c.tc = tls.Server(c.conn, cfg)
	}
	c.exited = make(chan struct{})
	conn, tc, exited := c.conn, c.tc, c.exited
	go func() {
		defer close(exited)
		err := tc.Handshake()
		conn.send(event{kind: evDone, err: err})
	}()
}

func (c *schannelContext) tlsConfig(protos []string) *tls.Config {
	pc := c.pkg.config
	cfg := &tls.Config{
		Rand:                        pc.rand(),
		Time:                        pc.timeFunc(),
		NextProtos:                  protos,
		CipherSuites:                c.cred.suites,
		DynamicRecordSizingDisabled: true,
		Renegotiation:               tls.RenegotiateNever,
		KeyLogWriter:                c.keyLog,
	}
	if c.client {
		cfg.MinVersion, cfg.MaxVersion = versions(c.cred.protoClient, packages.SP_PROT_TLS1_2_CLIENT, packages.SP_PROT_TLS1_3_CLIENT)
		cfg.ServerName = c.target
		// Validation is ours (verifyServer), to report Schannel's codes
		// and honour the manual-validation flags.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = c.verifyServer
		cfg.GetClientCertificate = c.getClientCertificate
		if c.cred.cache != nil {
			cfg.ClientSessionCache = c.cred.cache
		}
	} else {
		cfg.MinVersion, cfg.MaxVersion = versions(c.cred.protoServer, packages.SP_PROT_TLS1_2_SERVER, packages.SP_PROT_TLS1_3_SERVER)
		cfg.GetCertificate = c.getCertificate
		if c.cred.flags&packages.SCH_CRED_DISABLE_RECONNECTS != 0 {
			cfg.SessionTicketsDisabled = true
		} else {
			cfg.SetSessionTicketKeys([][32]byte{c.cred.ticketKey})
			c.limitTickets(cfg)
		}
		if c.req&packages.ASC_REQ_MUTUAL_AUTH != 0 {
			cfg.ClientAuth = tls.RequestClientCert
			if c.cred.roots != nil {
				cfg.ClientAuth = tls.VerifyClientCertIfGiven
				cfg.ClientCAs = c.cred.roots
			}
		}
	}
	return cfg
}

// getCertificate picks the server certificate (on the handshake
// goroutine).
func (c *schannelContext) getCertificate(chi *tls.ClientHelloInfo) (*tls.Certificate, error) {
	i := 0
	for j := range c.cred.certs {
		if chi.SupportsCertificate(&c.cred.certs[j]) == nil {
			i = j
			break
		}
	}
	c.localLeaf = c.cred.leafs[i]
	return &c.cred.certs[i], nil
}

// getClientCertificate answers a CertificateRequest (on the handshake
// goroutine): a certificate of the credential, else one from the default
// store unless SCH_CRED_NO_DEFAULT_CREDS, else none with
// ISC_REQ_USE_SUPPLIED_CREDS, else it asks the caller
// (SEC_I_INCOMPLETE_CREDENTIALS).
func (c *schannelContext) getClientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	c.certReq = cri
	pick := func(certs []tls.Certificate, leafs []*x509.Certificate, any bool) *tls.Certificate {
		for i := range certs {
			if cri.SupportsCertificate(&certs[i]) == nil {
				if leafs != nil {
					c.localLeaf = leafs[i]
				}
				return &certs[i]
			}
		}
		if any && len(certs) > 0 {
			if leafs != nil {
				c.localLeaf = leafs[0]
			}
			return &certs[0]
		}
		return nil
	}
	if cert := pick(c.cred.certs, c.cred.leafs, true); cert != nil {
		return cert, nil
	}
	if c.cred.flags&packages.SCH_CRED_NO_DEFAULT_CREDS == 0 && c.req&packages.ISC_REQ_USE_SUPPLIED_CREDS == 0 && c.pkg.config != nil {
		if cert := pick(c.pkg.config.DefaultClientCertificates, nil, false); cert != nil {
			if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
				c.localLeaf = leaf
			}
			return cert, nil
		}
	}
	if c.req&packages.ISC_REQ_USE_SUPPLIED_CREDS != 0 {
		return &tls.Certificate{}, nil
	}
	if !c.conn.send(event{kind: evNeedCert, cri: cri}) {
		return nil, errors.New("schannel: context deleted")
	}
	select {
	case cert := <-c.certReply:
		return cert, nil
	case <-c.conn.quit:
		return nil, errors.New("schannel: context deleted")
	}
}

// certError carries the Schannel status of a failed server certificate
// validation out of crypto/tls.
type certError struct {
	st  status.Status
	err error
}

func (e *certError) Error() string { return e.err.Error() }
func (e *certError) Unwrap() error { return e.err }

// verifyServer validates the server certificate (on the handshake
// goroutine) unless manual validation was asked for.
func (c *schannelContext) verifyServer(cs tls.ConnectionState) error {
	if c.cred.flags&packages.SCH_CRED_MANUAL_CRED_VALIDATION != 0 || c.req&packages.ISC_REQ_MANUAL_CRED_VALIDATION != 0 {
		return nil
	}
	st, chainStatus, hr, err := c.checkServer(cs.PeerCertificates)
	c.checkResult = SecPkgContext_CertificateValidationResult{ChainErrorStatus: chainStatus, VerifyChainStatus: hr}
	if err == nil || c.deferred || c.cred.flags&packages.SCH_CRED_DEFERRED_CRED_VALIDATION != 0 {
		return nil
	}
	return &certError{st: st, err: err}
}

func (c *schannelContext) checkServer(chain []*x509.Certificate) (st status.Status, chainStatus, hr uint32, err error) {
	if len(chain) == 0 {
		return status.SEC_E_CERT_UNKNOWN, CERT_TRUST_IS_PARTIAL_CHAIN, packages.CERT_E_CHAINING, errors.New("schannel: server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	_, verr := chain[0].Verify(x509.VerifyOptions{
		Roots:         c.cred.roots,
		Intermediates: inter,
		CurrentTime:   c.pkg.config.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if verr != nil {
		var inv x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(verr, &inv) && inv.Reason == x509.Expired:
			return status.SEC_E_CERT_EXPIRED, CERT_TRUST_IS_NOT_TIME_VALID, packages.CERT_E_EXPIRED, fmt.Errorf("schannel: server certificate: %w", verr)
		case errors.As(verr, &inv) && inv.Reason == x509.IncompatibleUsage:
			return status.SEC_E_CERT_WRONG_USAGE, CERT_TRUST_IS_NOT_VALID_FOR_USAGE, packages.CERT_E_WRONG_USAGE, fmt.Errorf("schannel: server certificate: %w", verr)
		case errors.As(verr, &ua):
			return status.SEC_E_UNTRUSTED_ROOT, CERT_TRUST_IS_UNTRUSTED_ROOT, packages.CERT_E_UNTRUSTEDROOT, fmt.Errorf("schannel: server certificate: %w", verr)
		}
		return status.SEC_E_CERT_UNKNOWN, CERT_TRUST_IS_PARTIAL_CHAIN, packages.CERT_E_CHAINING, fmt.Errorf("schannel: server certificate: %w", verr)
	}
	if c.target != "" && c.cred.flags&packages.SCH_CRED_NO_SERVERNAME_CHECK == 0 {
		if herr := chain[0].VerifyHostname(c.target); herr != nil {
			return status.SEC_E_WRONG_PRINCIPAL, 0, packages.CERT_E_CN_NO_MATCH, fmt.Errorf("schannel: server certificate: %w", herr)
		}
	}
	return status.SEC_E_OK, 0, 0, nil
}

// startSealer takes over the TLS 1.3 write direction from crypto/tls
// (record13.go). It continues after the records crypto/tls sealed under
// our application secret during the handshake (a server's
// NewSessionTicket), which come last among those written since the
// secret was derived.
func (c *schannelContext) startSealer() (*sealer13, error) {
	secret := c.keyLog.take()
	if secret == nil {
		return nil, errors.New("schannel: crypto/tls did not report the TLS 1.3 application secret")
	}
	w, err := newSealer13(c.suite, secret)
	if err != nil {
		clear(secret)
		return nil, err
	}
	var sealed uint64
	for b := c.conn.tail; len(b) > 0; {
		n, _, err := nextRecord(b)
		if err != nil || n == 0 {
			break
		}
		if w.open(b[:n], sealed) {
			sealed++
		} else if sealed > 0 {
			w.zero()
			return nil, errors.New("schannel: crypto/tls wrote a record the application secret does not open after one it does")
		}
		b = b[n:]
	}
	w.seq = sealed
	return w, nil
}

// startOpener takes over opening the peer's TLS 1.3 records. crypto/tls
// has read none under the peer's application secret when the handshake
// ends (it reads no record beyond the peer's Finished; later ones come
// back as EXTRA), so both the opener and the mirror of crypto/tls's read
// state start at sequence number 0.
func (c *schannelContext) startOpener() (r, feed *sealer13, err error) {
	secret := c.keyLog.takePeer()
	if secret == nil {
		return nil, nil, errors.New("schannel: crypto/tls did not report the peer's TLS 1.3 application secret")
	}
	mirror := append([]byte(nil), secret...)
	if r, err = newSealer13(c.suite, secret); err != nil {
		clear(secret)
		clear(mirror)
		return nil, nil, err
	}
	if feed, err = newSealer13(c.suite, mirror); err != nil {
		r.zero()
		clear(mirror)
		return nil, nil, err
	}
	return r, feed, nil
}

// finishHandshake ends the handshake after the goroutine returned.
func (c *schannelContext) finishHandshake(op string, in []secbuffer.Buffer, input []byte, pos int, tok *secbuffer.Buffer, out []secbuffer.Buffer, herr error) (status.Status, error) {
	<-c.exited
	c.exited = nil
	c.conn.async = false
	output := c.conn.takeOut()
	if herr != nil {
		st := handshakeStatus(herr, output)
		// With ISC_REQ_EXTENDED_ERROR (or an ALERT buffer) the alert
		// crypto/tls sent goes back to the caller to send.
		if len(output) > 0 {
			if ab := secbuffer.Find(out, secbuffer.SECBUFFER_ALERT); ab != nil {
				secbuffer.Set(ab, output, c.allocate())
			} else if c.extendedError() {
				secbuffer.Set(tok, output, c.allocate())
			}
		}
		return c.fail(op, st, herr)
	}
	c.cs = c.tc.ConnectionState()
	c.suite = lookupSuite(c.cs.CipherSuite)
	if c.suite == nil {
		return c.fail(op, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("schannel: cipher suite %s has no record layout", tls.CipherSuiteName(c.cs.CipherSuite)))
	}
	if c.suite.tls13 {
		w, err := c.startSealer()
		if err != nil {
			return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
		}
		c.w13 = w
		if c.r13, c.feed13, err = c.startOpener(); err != nil {
			return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
		}
	}
	c.forgetHandshakeSecrets()
	c.flags = c.retFlags()
	if leaf := c.serverLeaf(); leaf != nil {
		c.expiry = leaf.NotAfter
	}
	c.state = stateEstablished
	c.established.Store(true)
	return c.deliver(op, in, input, tok, output, status.SEC_E_OK, len(input)-pos)
}

func (c *schannelContext) extendedError() bool {
	if c.client {
		return c.req&packages.ISC_REQ_EXTENDED_ERROR != 0
	}
	return c.req&packages.ASC_REQ_EXTENDED_ERROR != 0
}

// retFlags returns the ISC_RET_* or ASC_RET_* bits of an established
// context: Schannel always gives sequence and replay detection,
// confidentiality and stream semantics.
func (c *schannelContext) retFlags() uint32 {
	if c.client {
		f := uint32(packages.ISC_RET_SEQUENCE_DETECT | packages.ISC_RET_REPLAY_DETECT | packages.ISC_RET_CONFIDENTIALITY | packages.ISC_RET_STREAM)
		if c.req&packages.ISC_REQ_ALLOCATE_MEMORY != 0 {
			f |= packages.ISC_RET_ALLOCATED_MEMORY
		}
		if c.req&packages.ISC_REQ_EXTENDED_ERROR != 0 {
			f |= packages.ISC_RET_EXTENDED_ERROR
		}
		if c.req&packages.ISC_REQ_MANUAL_CRED_VALIDATION != 0 || c.cred.flags&packages.SCH_CRED_MANUAL_CRED_VALIDATION != 0 {
			f |= packages.ISC_RET_MANUAL_CRED_VALIDATION
		}
		if c.req&packages.ISC_REQ_USE_SUPPLIED_CREDS != 0 {
			f |= packages.ISC_RET_USED_SUPPLIED_CREDS
		}
		return f
	}
	f := uint32(packages.ASC_RET_SEQUENCE_DETECT | packages.ASC_RET_REPLAY_DETECT | packages.ASC_RET_CONFIDENTIALITY | packages.ASC_RET_STREAM)
	if c.req&packages.ASC_REQ_ALLOCATE_MEMORY != 0 {
		f |= packages.ASC_RET_ALLOCATED_MEMORY
	}
	if c.req&packages.ASC_REQ_EXTENDED_ERROR != 0 {
		f |= packages.ASC_RET_EXTENDED_ERROR
	}
	if c.req&packages.ASC_REQ_MUTUAL_AUTH != 0 {
		f |= packages.ASC_RET_MUTUAL_AUTH
	}
	return f
}

// serverLeaf is the server's certificate: the peer's on a client, ours on
// a server.
func (c *schannelContext) serverLeaf() *x509.Certificate {
	if c.client {
		if len(c.cs.PeerCertificates) == 0 {
			return nil
		}
		return c.cs.PeerCertificates[0]
	}
	return c.localLeaf
}

// stepEstablished is a handshake call after the handshake: it sends
// close_notify after SCHANNEL_SHUTDOWN, or takes the bytes DecryptMessage
// returned with SEC_I_RENEGOTIATE.
func (c *schannelContext) stepEstablished(op string, in []secbuffer.Buffer, input []byte, tok *secbuffer.Buffer) (status.Status, error) {
	c.ioMu.Lock()
	defer c.ioMu.Unlock()
	if c.shutdown {
		output := c.conn.takeOut()
		if !c.sentClose {
			if c.w13 != nil {
				rec, err := c.w13.record(recordTypeAlert, closeNotify[:])
				if err != nil {
					return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
				}
				output = append(output, rec...)
			} else {
				if err := c.tc.CloseWrite(); err != nil {
					return c.fail(op, status.SEC_E_INTERNAL_ERROR, err)
				}
				output = append(output, c.conn.takeOut()...)
			}
			c.sentClose = true
		}
		if !secbuffer.Fits(tok, len(output), c.allocate()) {
			c.conn.out = output
			return status.SEC_E_BUFFER_TOO_SMALL, c.errorf(op, status.SEC_E_BUFFER_TOO_SMALL, "schannel: output token needs %d bytes", len(output))
		}
		c.shutdown = false
		secbuffer.Set(tok, output, c.allocate())
		if len(input) > 0 {
			setEmpty(in, secbuffer.SECBUFFER_EXTRA, input)
		}
		return status.SEC_E_OK, nil
	}
	pos := 0
	if c.remembered != nil && bytes.HasPrefix(input, c.remembered) {
		pos = len(c.remembered)
		rec := c.remembered
		c.remembered = nil
		if c.reneg {
			// TLS 1.2 renegotiation is not supported: let crypto/tls
			// refuse it (it answers with an alert and ends the
			// connection) and return the alert.
			c.reneg = false
			c.conn.cur = rec
			_, err := c.tc.Read(c.scratch[:])
			c.conn.cur = nil
			output := c.conn.takeOut()
			if err == nil {
				err = errors.New("schannel: renegotiation is not supported")
			}
			secbuffer.Set(tok, output, c.allocate())
			c.ioErr = status.New(op, c.pkg.name, status.SEC_E_ILLEGAL_MESSAGE, fmt.Errorf("schannel: renegotiation refused: %w", err))
			c.state = stateFailed
			c.err = c.ioErr
			return status.SEC_E_ILLEGAL_MESSAGE, c.err
		}
	}
	output := c.conn.out
	need := len(output)
	if c.answerKeyUpdate {
		need += keyUpdateRecordLen
	}
	if !secbuffer.Fits(tok, need, c.allocate()) {
		return status.SEC_E_BUFFER_TOO_SMALL, c.errorf(op, status.SEC_E_BUFFER_TOO_SMALL, "schannel: output token needs %d bytes", need)
	}
	if c.answerKeyUpdate {
		// Our KeyUpdate, and from now on our records, under the next
		// key: this output goes on the wire before anything
		// EncryptMessage seals after this call.
		rec, err := c.w13.record(recordTypeHandshake, keyUpdateNotRequested[:])
		if err == nil {
			err = c.w13.update()
		}
		if err != nil {
			c.ioErr = status.New(op, c.pkg.name, status.SEC_E_INTERNAL_ERROR, err)
			return status.SEC_E_INTERNAL_ERROR, c.ioErr
		}
		c.answerKeyUpdate = false
		output = append(output, rec...)
	}
	c.conn.out = nil
	secbuffer.Set(tok, output, c.allocate())
	if pos < len(input) {
		setEmpty(in, secbuffer.SECBUFFER_EXTRA, input[pos:])
	}
	return status.SEC_E_OK, nil
}

// Session implements packages.Context: the record layer, once the first
// handshake has completed.
func (c *schannelContext) Session() packages.Session {
	if !c.established.Load() {
		return nil
	}
	c.sessOnce.Do(func() { c.sess = &session{c: c} })
	return c.sess
}

// Flags returns the ISC_RET_* or ASC_RET_* bits in force.
func (c *schannelContext) Flags() uint32 {
	if c.established.Load() {
		return c.flags
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.retFlags()
}

// Expiry is the server certificate's NotAfter.
func (c *schannelContext) Expiry() time.Time {
	if !c.established.Load() {
		return time.Time{}
	}
	return c.expiry
}

// QueryAttribute answers QueryContextAttributes.
func (c *schannelContext) QueryAttribute(attr uint32) (any, error) {
	switch attr {
	case packages.SECPKG_ATTR_FLAGS:
		return &packages.SecPkgContext_Flags{Flags: c.Flags()}, nil
	case packages.SECPKG_ATTR_ISSUER_LIST_EX:
		c.mu.Lock()
		defer c.mu.Unlock()
		il := &SecPkgContext_IssuerListInfoEx{}
		if c.certReq != nil {
			for _, dn := range c.certReq.AcceptableCAs {
				il.Issuers = append(il.Issuers, append([]byte(nil), dn...))
			}
		}
		return il, nil
	case packages.SECPKG_ATTR_CERT_CHECK_RESULT, packages.SECPKG_ATTR_CERT_CHECK_RESULT_INPROC:
		if !c.client {
			return nil, status.SEC_E_UNSUPPORTED_FUNCTION
		}
		if !c.established.Load() {
			return nil, status.SEC_E_INVALID_HANDLE
		}
		r := c.checkResult
		return &r, nil
	}
	if !c.established.Load() {
		switch attr {
		case packages.SECPKG_ATTR_SIZES, packages.SECPKG_ATTR_PACKAGE_INFO, packages.SECPKG_ATTR_NEGOTIATION_INFO:
			return nil, status.SEC_E_UNSUPPORTED_FUNCTION
		}
		return nil, status.SEC_E_INVALID_HANDLE
	}
	return c.query(attr)
}

// ApplyControlToken takes SCHANNEL_SHUTDOWN, SCHANNEL_ALERT (close_notify
// only) and SCHANNEL_SESSION tokens.
func (c *schannelContext) ApplyControlToken(in []secbuffer.Buffer) error {
	const op = "ApplyControlToken"
	tok := secbuffer.Find(in, secbuffer.SECBUFFER_TOKEN)
	if tok == nil || len(tok.Data) < 4 {
		return status.New(op, c.pkg.name, status.SEC_E_INVALID_TOKEN, errors.New("schannel: no control token"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateDeleted {
		return status.New(op, c.pkg.name, status.SEC_E_INVALID_HANDLE, nil)
	}
	le := binary.LittleEndian
	switch le.Uint32(tok.Data) {
	case packages.SCHANNEL_SHUTDOWN:
		c.ioMu.Lock()
		c.shutdown = true
		c.ioMu.Unlock()
		return nil
	case packages.SCHANNEL_ALERT:
		if len(tok.Data) < 12 {
			return status.New(op, c.pkg.name, status.SEC_E_INVALID_TOKEN, errors.New("schannel: short SCHANNEL_ALERT_TOKEN"))
		}
		if le.Uint32(tok.Data[8:]) != packages.TLS1_ALERT_CLOSE_NOTIFY {
			return status.New(op, c.pkg.name, status.SEC_E_UNSUPPORTED_FUNCTION, errors.New("schannel: only close_notify alerts can be sent"))
		}
		c.ioMu.Lock()
		c.shutdown = true
		c.ioMu.Unlock()
		return nil
	case packages.SCHANNEL_SESSION:
		if len(tok.Data) < 8 {
			return status.New(op, c.pkg.name, status.SEC_E_INVALID_TOKEN, errors.New("schannel: short SCHANNEL_SESSION_TOKEN"))
		}
		if le.Uint32(tok.Data[4:])&SSL_SESSION_DISABLE_RECONNECTS != 0 && c.client && c.cred.cache != nil {
			c.cred.cache.remove(c.target)
		}
		return nil
	case packages.SCHANNEL_RENEGOTIATE:
		return status.New(op, c.pkg.name, status.SEC_E_UNSUPPORTED_FUNCTION, errors.New("schannel: renegotiation is not supported"))
	}
	return status.New(op, c.pkg.name, status.SEC_E_INVALID_TOKEN, errors.New("schannel: unknown control token"))
}

// Delete ends the handshake goroutine and forgets the connection.
func (c *schannelContext) Delete() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateDeleted {
		return
	}
	c.stopHandshake()
	c.state = stateDeleted
	c.established.Store(false)
	c.ioMu.Lock()
	c.endRecords()
	c.forgetHandshakeSecrets()
	if c.conn != nil {
		c.conn.out, c.conn.cur = nil, nil
	}
	c.tc = nil
	c.ioMu.Unlock()
}

// endRecords ends the record layer: later EncryptMessage and
// DecryptMessage calls fail, and the TLS 1.3 record keys are zeroed.
// Call with ioMu held.
func (c *schannelContext) endRecords() {
	c.deleted = true
	c.remembered = nil
	c.capBuf = nil
	for _, w := range []*sealer13{c.w13, c.r13, c.feed13} {
		if w != nil {
			w.zero()
		}
	}
	c.w13, c.r13, c.feed13 = nil, nil, nil
	clear(c.feedBuf)
	clear(c.hs13)
	c.feedBuf, c.hs13 = nil, nil
}

// encryptMessage seals the DATA buffer into one TLS record: the record
// header (and explicit nonce or IV) goes to STREAM_HEADER, the encrypted
// data stays in DATA, the tag, MAC and padding go to STREAM_TRAILER, whose
// length shrinks to what was used.
func (c *schannelContext) encryptMessage(qop uint32, msg []secbuffer.Buffer) (status.Status, error) {
	const op = "EncryptMessage"
	if qop != 0 {
		return status.SEC_E_QOP_NOT_SUPPORTED, status.New(op, c.pkg.name, status.SEC_E_QOP_NOT_SUPPORTED, nil)
	}
	if !c.established.Load() {
		return status.SEC_E_INVALID_HANDLE, status.New(op, c.pkg.name, status.SEC_E_INVALID_HANDLE, errors.New("schannel: handshake not complete"))
	}
	c.ioMu.Lock()
	defer c.ioMu.Unlock()
	if c.deleted {
		return status.SEC_E_INVALID_HANDLE, status.New(op, c.pkg.name, status.SEC_E_INVALID_HANDLE, nil)
	}
	if c.ioErr != nil {
		return status.Code(c.ioErr), c.ioErr
	}
	if c.sentClose || c.recvClose {
		return status.SEC_E_CONTEXT_EXPIRED, status.New(op, c.pkg.name, status.SEC_E_CONTEXT_EXPIRED, nil)
	}
	hi := secbuffer.FindIndex(msg, secbuffer.SECBUFFER_STREAM_HEADER)
	di := secbuffer.FindIndex(msg, secbuffer.SECBUFFER_DATA)
	ti := secbuffer.FindIndex(msg, secbuffer.SECBUFFER_STREAM_TRAILER)
	if hi < 0 || di < 0 || ti < 0 {
		return status.SEC_E_INVALID_TOKEN, status.New(op, c.pkg.name, status.SEC_E_INVALID_TOKEN, errors.New("schannel: STREAM_HEADER, DATA and STREAM_TRAILER buffers are required"))
	}
	h, d, t := &msg[hi], &msg[di], &msg[ti]
	s := c.suite
	n := len(d.Data)
	if n > maxPlaintext {
		return status.SEC_E_INVALID_PARAMETER, status.New(op, c.pkg.name, status.SEC_E_INVALID_PARAMETER, fmt.Errorf("schannel: %d bytes exceed the maximum message of %d", n, maxPlaintext))
	}
	trailer := s.trailer
	if s.cbc {
		const macLen = 20 // HMAC-SHA1
		trailer = macLen + s.block - (n+macLen)%s.block
	}
	if len(h.Data) < s.header || len(t.Data) < trailer {
		return status.SEC_E_BUFFER_TOO_SMALL, status.New(op, c.pkg.name, status.SEC_E_BUFFER_TOO_SMALL, fmt.Errorf("schannel: need a %d-byte header and a %d-byte trailer", s.header, trailer))
	}
	if n == 0 {
		h.Data, t.Data = h.Data[:0], t.Data[:0]
		return status.SEC_E_OK, nil
	}
	if c.w13 != nil {
		return c.seal13(op, h, d, t, n)
	}
	c.capBuf = c.capBuf[:0]
	c.conn.capture = &c.capBuf
	_, err := c.tc.Write(d.Data)
	c.conn.capture = nil
	if err != nil {
		c.ioErr = status.New(op, c.pkg.name, status.SEC_E_ENCRYPT_FAILURE, err)
		return status.SEC_E_ENCRYPT_FAILURE, c.ioErr
	}
	rec := c.capBuf
	if rn, _, _ := nextRecord(rec); rn != len(rec) || len(rec) != s.header+n+trailer {
		c.ioErr = status.New(op, c.pkg.name, status.SEC_E_INTERNAL_ERROR, fmt.Errorf("schannel: crypto/tls wrote %d bytes, not one record of %d", len(rec), s.header+n+trailer))
		return status.SEC_E_INTERNAL_ERROR, c.ioErr
	}
	h.Data = h.Data[:s.header]
	copy(h.Data, rec)
	copy(d.Data, rec[s.header:])
	t.Data = t.Data[:trailer]
	copy(t.Data, rec[s.header+n:])
	return status.SEC_E_OK, nil
}

// open13 opens the TLS 1.3 record rec in place. For application data it
// returns SEC_E_OK with the length of the data in open13Len (the data
// starts after the header). For any other content it returns
// SEC_I_RENEGOTIATE with the record re-sealed for crypto/tls in feedBuf,
// open13KeyUpdate set when it ends a KeyUpdate message, and rec restored.
func (c *schannelContext) open13(rec []byte) (status.Status, error) {
	if len(rec)-recordHeaderLen > maxPlaintext+256 { // RFC 8446 §5.2
		return status.SEC_E_ILLEGAL_MESSAGE, errors.New("schannel: TLS 1.3 record overflow")
	}
	plain, err := c.r13.openInPlace(rec)
	if err != nil {
		return status.SEC_E_DECRYPT_FAILURE, fmt.Errorf("schannel: %w", err)
	}
	content, typ, ok := innerType(plain)
	if !ok {
		return status.SEC_E_ILLEGAL_MESSAGE, errors.New("schannel: TLS 1.3 record without a content type")
	}
	if typ == recordTypeApplicationData {
		if len(content) > maxPlaintext {
			return status.SEC_E_ILLEGAL_MESSAGE, errors.New("schannel: TLS 1.3 record overflow")
		}
		c.open13Len = len(content)
		return status.SEC_E_OK, nil
	}
	// The record for crypto/tls, under its read state.
	n := len(content)
	need := recordHeaderLen + n + 1 + aeadTagLen
	if cap(c.feedBuf) < need {
		c.feedBuf = make([]byte, need)
	}
	c.feedBuf = c.feedBuf[:need]
	copy(c.feedBuf[recordHeaderLen:], content)
	c.open13KeyUpdate = false
	if typ == recordTypeHandshake {
		c.open13KeyUpdate = c.scanHandshake(content)
	}
	if err := c.feed13.sealInPlace(c.feedBuf[recordHeaderLen:], n, typ); err != nil {
		return status.SEC_E_INTERNAL_ERROR, err
	}
	copy(c.feedBuf, c.feed13.ad[:])
	c.r13.resealInPlace(rec, len(plain))
	return status.SEC_I_RENEGOTIATE, nil
}

// scanHandshake follows the handshake messages of post-handshake records
// (RFC 8446 §4: type, 24-bit length, body; a message may span records)
// and reports whether one that ends in content is a KeyUpdate.
func (c *schannelContext) scanHandshake(content []byte) bool {
	c.hs13 = append(c.hs13, content...)
	keyUpdate := false
	b := c.hs13
	for len(b) >= 4 {
		n := 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3]))
		if len(b) < n {
			break
		}
		keyUpdate = keyUpdate || b[0] == keyUpdateNotRequested[0]
		b = b[n:]
	}
	if len(b) > 1<<18 {
		b = nil // crypto/tls refuses such a message itself
	}
	c.hs13 = append(c.hs13[:0], b...)
	return keyUpdate
}

// seal13 is EncryptMessage on TLS 1.3: the record is sealed in the
// caller's DATA and STREAM_TRAILER buffers when they are adjacent, as
// callers lay them out, else in a reused buffer copied back.
func (c *schannelContext) seal13(op string, h, d, t *secbuffer.Buffer, n int) (status.Status, error) {
	const trailer = 1 + aeadTagLen // content type and tag
	w := c.w13
	var err error
	if cap(d.Data) >= n+trailer && &d.Data[:n+trailer][n] == &t.Data[0] {
		err = w.sealInPlace(d.Data[:n+trailer], n, recordTypeApplicationData)
	} else {
		if cap(c.capBuf) < n+trailer {
			c.capBuf = make([]byte, n+trailer, maxPlaintext+trailer)
		}
		buf := c.capBuf[:n+trailer]
		copy(buf, d.Data)
		if err = w.sealInPlace(buf, n, recordTypeApplicationData); err == nil {
			copy(d.Data, buf[:n])
			copy(t.Data, buf[n:])
		}
	}
	if err != nil {
		c.ioErr = status.New(op, c.pkg.name, status.SEC_E_ENCRYPT_FAILURE, err)
		return status.SEC_E_ENCRYPT_FAILURE, c.ioErr
	}
	h.Data = h.Data[:recordHeaderLen]
	copy(h.Data, w.ad[:])
	t.Data = t.Data[:trailer]
	return status.SEC_E_OK, nil
}

// decryptMessage processes the one record at the start of the DATA buffer
// (spec packages.md §5.5) and rewrites the buffers in place: STREAM_HEADER,
// DATA (the plaintext, inside the caller's bytes), STREAM_TRAILER and, for
// bytes after the record, EXTRA.
func (c *schannelContext) decryptMessage(msg []secbuffer.Buffer) (uint32, status.Status, error) {
	const op = "DecryptMessage"
	if !c.established.Load() {
		return 0, status.SEC_E_INVALID_HANDLE, status.New(op, c.pkg.name, status.SEC_E_INVALID_HANDLE, errors.New("schannel: handshake not complete"))
	}
	c.ioMu.Lock()
	defer c.ioMu.Unlock()
	if c.deleted {
		return 0, status.SEC_E_INVALID_HANDLE, status.New(op, c.pkg.name, status.SEC_E_INVALID_HANDLE, nil)
	}
	if c.ioErr != nil {
		return 0, status.Code(c.ioErr), c.ioErr
	}
	if c.recvClose {
		return 0, status.SEC_E_CONTEXT_EXPIRED, status.New(op, c.pkg.name, status.SEC_E_CONTEXT_EXPIRED, errors.New("schannel: close_notify already received"))
	}
	di := secbuffer.FindIndex(msg, secbuffer.SECBUFFER_DATA)
	if di < 0 {
		return 0, status.SEC_E_INVALID_TOKEN, status.New(op, c.pkg.name, status.SEC_E_INVALID_TOKEN, errors.New("schannel: no DATA buffer"))
	}
	slots := [4]int{di}
	k := 1
	for i := range msg {
		if k < 4 && i != di && msg[i].Type == secbuffer.SECBUFFER_EMPTY {
			slots[k] = i
			k++
		}
	}
	if k < 4 {
		return 0, status.SEC_E_INVALID_TOKEN, status.New(op, c.pkg.name, status.SEC_E_INVALID_TOKEN, errors.New("schannel: DecryptMessage needs a DATA and three EMPTY buffers"))
	}
	in := msg[di].Data
	n, missing, err := nextRecord(in)
	if err != nil {
		c.ioErr = status.New(op, c.pkg.name, status.SEC_E_ILLEGAL_MESSAGE, err)
		return 0, status.SEC_E_ILLEGAL_MESSAGE, c.ioErr
	}
	if n == 0 {
		msg[slots[1]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_MISSING, Data: make([]byte, missing)}
		return 0, status.SEC_E_INCOMPLETE_MESSAGE, status.New(op, c.pkg.name, status.SEC_E_INCOMPLETE_MESSAGE, fmt.Errorf("schannel: %d more bytes needed", missing))
	}
	rec, extra := in[:n], in[n:]
	layout := func(hdr, data int, st status.Status) (uint32, status.Status, error) {
		msg[slots[0]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: rec[:hdr:hdr]}
		msg[slots[1]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_DATA, Data: rec[hdr : hdr+data : hdr+data]}
		msg[slots[2]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: rec[hdr+data:]}
		if len(extra) > 0 {
			msg[slots[3]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_EXTRA, Data: extra}
		}
		return 0, st, nil
	}
	renegotiate := func() (uint32, status.Status, error) {
		msg[slots[0]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: in[:0]}
		msg[slots[3]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_EXTRA, Data: in}
		return 0, status.SEC_I_RENEGOTIATE, nil
	}
	s := c.suite

	// A post-handshake record already processed and handed back with
	// SEC_I_RENEGOTIATE, now passed here again: skip it.
	if c.remembered != nil {
		if bytes.Equal(rec, c.remembered) && !c.reneg {
			c.remembered = nil
			return layout(recordHeaderLen, 0, status.SEC_E_OK)
		}
		if c.reneg && bytes.Equal(rec, c.remembered) {
			return renegotiate()
		}
		c.remembered, c.reneg = nil, false
	}
	if !s.tls13 && rec[0] == recordTypeHandshake {
		// TLS 1.2 renegotiation request: not processed here.
		c.remembered, c.reneg = append([]byte(nil), rec...), true
		return renegotiate()
	}

	hdr := recordHeaderLen
	if rec[0] == recordTypeApplicationData {
		hdr = s.header
	}
	dst := c.scratch[:0]
	if hdr < len(rec) {
		dst = rec[hdr:]
	} else {
		hdr = len(rec)
	}
	if len(dst) == 0 {
		dst = c.scratch[:]
	}
	feed, keyUpdate := rec, false
	if c.r13 != nil && rec[0] == recordTypeApplicationData {
		// TLS 1.3: we open the record in place. Application data
		// stays there; anything else goes to crypto/tls re-sealed
		// under its read state, and the caller's bytes are restored.
		st, err := c.open13(rec)
		switch {
		case err != nil:
			c.ioErr = status.New(op, c.pkg.name, st, err)
			return 0, st, c.ioErr
		case st == status.SEC_E_OK:
			return layout(recordHeaderLen, c.open13Len, status.SEC_E_OK)
		}
		feed, keyUpdate, dst = c.feedBuf, c.open13KeyUpdate, c.scratch[:]
	}
	c.conn.cur = feed
	nr, rerr := c.tc.Read(dst)
	c.conn.cur = nil
	if keyUpdate && (rerr == nil || errors.Is(rerr, errWouldBlock)) {
		// crypto/tls moved its read key; so do we, and our mirror.
		err := c.r13.update()
		if err == nil {
			err = c.feed13.update()
		}
		if err != nil {
			rerr = err
		}
	}
	if c.w13 != nil && len(c.conn.out) > 0 {
		// Without an error, the only record crypto/tls writes while
		// reading is its answer to a KeyUpdate that asked for ours
		// (handleKeyUpdate), sealed with its copy of our write state,
		// which it has now moved to the next key. Ours moves when the
		// next handshake call returns our KeyUpdate; until then
		// EncryptMessage seals under the key the peer still has.
		if rerr == nil || errors.Is(rerr, errWouldBlock) {
			c.answerKeyUpdate = true
		}
		c.conn.out = c.conn.out[:0]
	}
	switch {
	case rerr == nil:
		if len(rec) == hdr && nr > 0 {
			c.ioErr = status.New(op, c.pkg.name, status.SEC_E_INTERNAL_ERROR, errors.New("schannel: plaintext without room"))
			return 0, status.SEC_E_INTERNAL_ERROR, c.ioErr
		}
		return layout(hdr, nr, status.SEC_E_OK)
	case errors.Is(rerr, errWouldBlock):
		// The record carried no application data. In TLS 1.3 a record
		// longer than an empty one (content type and tag) held a
		// post-handshake message (NewSessionTicket, KeyUpdate).
		if s.tls13 && rec[0] == recordTypeApplicationData && len(rec)-recordHeaderLen > 17 {
			c.remembered, c.reneg = append([]byte(nil), rec...), false
			return renegotiate()
		}
		return layout(hdr, 0, status.SEC_E_OK)
	case rerr == io.EOF:
		c.recvClose = true
		msg[slots[0]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_HEADER, Data: rec[:recordHeaderLen]}
		msg[slots[2]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_STREAM_TRAILER, Data: rec[recordHeaderLen:]}
		if len(extra) > 0 {
			msg[slots[3]] = secbuffer.Buffer{Type: secbuffer.SECBUFFER_EXTRA, Data: extra}
		}
		return 0, status.SEC_I_CONTEXT_EXPIRED, nil
	}
	c.conn.out = nil // an alert crypto/tls would have sent
	st := recordStatus(rerr)
	c.ioErr = status.New(op, c.pkg.name, st, rerr)
	return 0, st, c.ioErr
}

// ticketTimeLabel marks the issue time a server stores in its tickets.
const ticketTimeLabel = "schannel-issued:"

// limitTickets makes the server's session tickets honour the credential's
// session lifespan (Schannel's ServerCacheTime): the issue time travels in
// the ticket, and an older ticket gives a full handshake.
func (c *schannelContext) limitTickets(cfg *tls.Config) {
	now := c.pkg.config.now
	lifespan := c.cred.lifespan
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		stamp := binary.BigEndian.AppendUint64([]byte(ticketTimeLabel), uint64(now().Unix()))
		ss.Extra = append(ss.Extra, stamp)
		return cfg.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := cfg.DecryptTicket(identity, cs)
		if err != nil || ss == nil {
			return nil, err
		}
		for _, e := range ss.Extra {
			if len(e) == len(ticketTimeLabel)+8 && bytes.HasPrefix(e, []byte(ticketTimeLabel)) {
				issued := time.Unix(int64(binary.BigEndian.Uint64(e[len(ticketTimeLabel):])), 0)
				if now().Sub(issued) < lifespan {
					return ss, nil
				}
			}
		}
		return nil, nil // expired or not ours: full handshake
	}
}

// requestFlags reads the 64-bit request flags of a SECBUFFER_FLAGS buffer
// (SEC_FLAGS), whose low 32 bits must be zero.
func (c *schannelContext) requestFlags(b []byte) (status.Status, error) {
	if len(b) < 8 {
		return status.SEC_E_INVALID_PARAMETER, errors.New("schannel: SEC_FLAGS is 8 bytes")
	}
	f := binary.LittleEndian.Uint64(b)
	if uint32(f) != 0 {
		return status.SEC_E_INVALID_PARAMETER, errors.New("schannel: SEC_FLAGS carries only the flags above 32 bits")
	}
	if c.client {
		if f&packages.ISC_REQ_MESSAGES != 0 {
			return status.SEC_E_UNSUPPORTED_FUNCTION, errors.New("schannel: ISC_REQ_MESSAGES is not supported")
		}
		// ISC_REQ_NO_POST_HANDSHAKE_AUTH: post-handshake authentication is
		// never offered anyway.
		c.deferred = f&packages.ISC_REQ_DEFERRED_CRED_VALIDATION != 0
	} else if f&packages.ASC_REQ_MESSAGES != 0 {
		return status.SEC_E_UNSUPPORTED_FUNCTION, errors.New("schannel: ASC_REQ_MESSAGES is not supported")
	}
	return status.SEC_E_OK, nil
}

// KeyingMaterialExporter is implemented by Schannel contexts: RFC 5705 /
// RFC 8446 §7.5 keying material export, what SECPKG_ATTR_KEYING_MATERIAL
// returns on Windows after SetContextAttributes with
// SECPKG_ATTR_KEYING_MATERIAL_INFO. Type-assert a packages.Context to it.
type KeyingMaterialExporter interface {
	ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error)
}

// ExportKeyingMaterial exports length bytes of keying material for label
// and context (nil context differs from an empty one, as in RFC 5705). On
// TLS 1.2 it needs the extended master secret.
func (c *schannelContext) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	const op = "QueryContextAttributes"
	if !c.established.Load() {
		return nil, status.New(op, c.pkg.name, status.SEC_E_INVALID_HANDLE, errors.New("schannel: handshake not complete"))
	}
	b, err := c.cs.ExportKeyingMaterial(label, context, length)
	if err != nil {
		return nil, status.New(op, c.pkg.name, status.SEC_E_UNSUPPORTED_FUNCTION, fmt.Errorf("schannel: %w", err))
	}
	return b, nil
}
