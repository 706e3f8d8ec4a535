package sasl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// connState is where a Conn stands: in the clear, waiting for an LDAP
// bind's outcome, or framing.
type connState uint8

const (
	stateClear  connState = iota // bytes pass through
	stateArmed                   // StartAfterBind: clear until the BindResponse
	stateActive                  // the layer is installed
)

// Conn is a net.Conn that carries a SASL security layer (RFC 4422 3.7)
// once one is started. Until then bytes pass through unchanged, so the
// authentication exchange (an LDAP bind) runs over the same connection.
// After [Conn.Start] or [Conn.StartAfterBind] has installed a layer other
// than none:
//
//   - each Write goes out as one or more frames, a 4-octet length in
//     network byte order followed by a message wrapped by the
//     [Security]; no frame is larger than the peer's receive buffer
//     ([Security.MaxSend]), larger writes are split;
//   - Read reads frames, unwraps them and returns the plaintext, across
//     as many Read calls as the caller needs. A frame larger than this
//     side's receive buffer ([Security.MaxReceive]) or one that fails to
//     unwrap (altered, replayed, reordered, or only signed on a layer
//     that encrypts) is an error, after which every Read fails: no
//     plaintext of an unverified frame is ever returned.
//
// A Conn is safe for concurrent use by one reader and one writer. A read
// deadline that expires mid-frame keeps what was read, so Read may be
// called again; any other read or write error is final. Close closes the
// underlying connection and the Security it carries.
type Conn struct {
	conn net.Conn

	mu    sync.Mutex // guards state and sec
	state connState
	sec   *Security

	rmu   sync.Mutex // held by Read; guards the fields below
	in    []byte     // bytes read from conn; in[r:] not consumed yet
	r     int
	inErr error  // the error that ended conn's reads
	plain []byte // bytes ready for Read (aliases in)
	rerr  error  // sticky read error

	wmu  sync.Mutex // held by Write; guards out and werr
	out  []byte     // frames being written
	werr error      // sticky write error
}

// NewConn returns a Conn over conn, in the clear.
func NewConn(conn net.Conn) *Conn {
	return &Conn{conn: conn}
}

// NetConn returns the underlying connection. Writing to it or reading
// from it directly once a layer is started breaks the framing.
func (c *Conn) NetConn() net.Conn { return c.conn }

// Security returns the Security c was started with (or is waiting to
// start, see StartAfterBind), or nil.
func (c *Conn) Security() *Security {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sec
}

// Active reports whether a layer is installed (none included).
func (c *Conn) Active() bool {
	state, _ := c.current()
	return state == stateActive
}

func (c *Conn) current() (connState, *Security) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.sec
}

// Start installs sec in both directions at once, and hands it to c: Close
// closes it. With LayerNone the connection stays unframed.
//
// Call Start when the exchange has ended and neither side has sent a
// protected byte yet. RFC 4513 5.2.1.4 puts that point for LDAP right
// after the BindResponse that ends the bind: a server calls Start after
// writing the successful BindResponse and before reading again (a Read
// already waiting when Start is called takes what it then receives as
// frames); a client calls it after reading that BindResponse, or lets
// StartAfterBind do it. A layer cannot be replaced: Start fails on a Conn
// already started.
func (c *Conn) Start(sec *Security) error {
	if sec == nil {
		return errors.New("sasl: Start with a nil Security")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state == stateActive:
		return errors.New("sasl: a security layer is already installed")
	case c.state == stateArmed && c.sec != sec:
		return errors.New("sasl: another security layer waits for its bind")
	}
	c.state, c.sec = stateActive, sec
	return nil
}

// StartAfterBind arms c to install sec when the client reads the LDAP
// BindResponse that ends the bind, as RFC 4513 5.2.1.4 says: bytes pass
// in the clear until Read has received the next whole LDAPMessage
// carrying a BindResponse; if its resultCode is success the layer is
// installed in both directions before Read returns any of it, so that
// the client's next request is already framed. Any other result leaves c
// in the clear and drops sec, which the caller then closes; other LDAP
// messages (an unsolicited notification) pass through. A message that
// is not well-formed LDAP fails the Read rather than leave a layer that
// was asked for uninstalled.
//
// This is how a client whose LDAP library does the bind itself and
// reads through c in its own goroutine (go-ldap's GSSAPIBind) gets the
// layer at the right byte; [Client.NegotiateSaslAuth] arms its Conn this
// way.
func (c *Conn) StartAfterBind(sec *Security) error {
	if sec == nil {
		return errors.New("sasl: StartAfterBind with a nil Security")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateClear {
		return errors.New("sasl: a security layer is already installed or waiting")
	}
	c.state, c.sec = stateArmed, sec
	return nil
}

// holds reports whether c carries sec: installed, or waiting for its
// bind. Once it does, c closes sec.
func (c *Conn) holds(sec *Security) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sec == sec && c.state != stateClear
}

// disarm drops sec if c still waits to install it.
func (c *Conn) disarm(sec *Security) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateArmed && c.sec == sec {
		c.state, c.sec = stateClear, nil
	}
}

// Read reads plaintext: bytes from the peer in the clear, or the
// unwrapped content of its frames once a layer is installed.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if len(c.plain) > 0 {
			n := copy(p, c.plain)
			c.plain = c.plain[n:]
			return n, nil
		}
		if c.rerr != nil {
			return 0, c.rerr
		}
		if len(p) == 0 {
			return 0, nil
		}
		state, sec := c.current()
		var err error
		switch {
		case state == stateArmed:
			err = c.readBindResponse()
		case state == stateActive && sec.layer != LayerNone:
			err = c.readFrame(sec)
		default:
			if c.r < len(c.in) {
				n := copy(p, c.in[c.r:])
				c.r += n
				return n, nil
			}
			if c.inErr != nil {
				return 0, c.inErr
			}
			n, err := c.conn.Read(p)
			if n > 0 {
				if now, sec := c.current(); now == stateArmed || (now == stateActive && sec.layer != LayerNone) {
					// Start or StartAfterBind came while this Read
					// waited (a reader goroutine, as go-ldap's, always
					// waits): what arrived since is the BindResponse or
					// frames. Take it back and read it as such.
					c.in = append(c.in[:0], p[:n]...)
					c.r = 0
					clear(p[:n])
					if err != nil && !isTimeout(err) {
						c.inErr = err
					}
					continue
				}
			}
			return n, err
		}
		if err != nil {
			if isTimeout(err) {
				return 0, err
			}
			c.rerr = err
		}
	}
}

// readFrame reads one frame and unwraps it into c.plain.
func (c *Conn) readFrame(sec *Security) error {
	if err := c.fill(4); err != nil {
		if err == io.EOF && c.r == len(c.in) {
			return io.EOF
		}
		return unexpectedEOF(err)
	}
	n := binary.BigEndian.Uint32(c.in[c.r:])
	if n > uint32(sec.maxRecv) {
		return fmt.Errorf("%w: %d bytes, over %d", ErrFrameTooLarge, n, sec.maxRecv)
	}
	end := 4 + int(n)
	if err := c.fill(end); err != nil {
		return unexpectedEOF(err)
	}
	token := c.in[c.r+4 : c.r+end]
	c.r += end
	plain, err := sec.open(token)
	if err != nil {
		clear(token)
		return err
	}
	c.plain = plain
	return nil
}

// readBindResponse reads one whole LDAPMessage in the clear while a layer
// waits for the bind, installs or drops the layer according to it, then
// hands it to Read.
func (c *Conn) readBindResponse() error {
	var hdr, n int
	for k := 2; ; k++ {
		if err := c.fill(k); err != nil {
			if err == io.EOF && c.r == len(c.in) {
				return io.EOF
			}
			return unexpectedEOF(err)
		}
		var ok bool
		var err error
		hdr, n, ok, err = berHeader(c.in[c.r:])
		if err != nil {
			return fmt.Errorf("%w: reading the bind's result: %v", ErrProtocol, err)
		}
		if ok {
			break
		}
	}
	if n > maxBindElement-hdr {
		return fmt.Errorf("%w: a %d-byte LDAP message while the bind ends", ErrProtocol, n)
	}
	if err := c.fill(hdr + n); err != nil {
		return unexpectedEOF(err)
	}
	msg := c.in[c.r : c.r+hdr+n]
	isBind, code, err := bindResult(msg)
	if err != nil {
		return fmt.Errorf("%w: reading the bind's result: %v", ErrProtocol, err)
	}
	c.r += hdr + n
	if isBind {
		c.mu.Lock()
		if c.state == stateArmed {
			if code == 0 {
				c.state = stateActive
			} else {
				c.state, c.sec = stateClear, nil
			}
		}
		c.mu.Unlock()
	}
	c.plain = msg
	return nil
}

// fill reads from conn until in[r:] holds at least k bytes. The buffer
// grows as bytes arrive, so a peer announcing a large frame and sending
// nothing costs little.
func (c *Conn) fill(k int) error {
	for len(c.in)-c.r < k {
		if c.inErr != nil {
			return c.inErr
		}
		if len(c.in) == cap(c.in) || c.r == len(c.in) {
			m := copy(c.in, c.in[c.r:])
			c.in, c.r = c.in[:m], 0
		}
		if len(c.in) == cap(c.in) {
			size := min(max(2*cap(c.in), 4096), max(k, 4096))
			c.in = append(make([]byte, 0, size), c.in...)
		}
		m, err := c.conn.Read(c.in[len(c.in):cap(c.in)])
		c.in = c.in[:len(c.in)+m]
		if err != nil {
			if isTimeout(err) {
				return err
			}
			c.inErr = err
		}
	}
	return nil
}

// Write writes p: unchanged in the clear, or as frames once a layer is
// installed. It returns how many bytes of p were sent; after an error
// every Write fails, since frames are sequenced.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	state, sec := c.current()
	if state != stateActive || sec.layer == LayerNone {
		return c.conn.Write(p)
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), sec.maxText)
		var err error
		c.out, err = sec.appendFrame(c.out[:0], p[:k])
		if err == nil {
			_, err = c.conn.Write(c.out)
		}
		if err != nil {
			c.werr = err
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// Close closes the underlying connection and the Security c carries or
// waits to install.
func (c *Conn) Close() error {
	err := c.conn.Close()
	c.mu.Lock()
	sec := c.sec
	if c.state == stateClear {
		sec = nil
	}
	c.mu.Unlock()
	if sec != nil {
		sec.Close()
	}
	return err
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the underlying
// connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
// A write that times out mid-frame breaks the framing: later writes fail.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
