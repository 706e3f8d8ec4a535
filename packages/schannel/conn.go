package schannel

import (
	"crypto/tls"
	"net"
	"time"
)

// errWouldBlock is what the in-memory connection returns to crypto/tls
// when no input is left after the handshake. It is a temporary net.Error,
// which crypto/tls does not record as a permanent connection failure, so
// the next record can be read by a later call.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "schannel: no input record" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// eventKind is what the handshake goroutine reports to the caller.
type eventKind int

const (
	evNeedInput eventKind = iota // blocked in Read: every byte handed over was consumed
	evNeedCert                   // the server asked for a client certificate and none is at hand
	evDone                       // Handshake returned
)

type event struct {
	kind    eventKind
	started int                         // records of the last hand-over that crypto/tls began to read
	err     error                       // evDone
	cri     *tls.CertificateRequestInfo // evNeedCert
}

// memConn is the private transport under a context's tls.Conn. During
// the handshake a goroutine runs tls.Conn.Handshake over it and its Read
// blocks until the caller hands over the next record; afterwards it is
// used synchronously and Read reports errWouldBlock when the current
// record is consumed. Writes are collected for the caller.
//
// Hand-over is by channels: the caller owns cur and out between receiving
// an event and sending the next record; the goroutine owns them in
// between.
type memConn struct {
	async  bool // handshake goroutine running; set before start, cleared after it ends
	feed   chan [][]byte
	events chan event
	quit   chan struct{}

	queue   [][]byte // records handed over and not yet begun (handshake)
	started int      // how many records of the last hand-over were begun
	cur     []byte   // unread bytes of the record being read
	out     []byte   // bytes written, waiting to be returned
	capture *[]byte  // when set, writes go there instead of out

	// From the moment the TLS 1.3 application secret is known until the
	// handshake ends, tail keeps a copy of every write (secretLog).
	keepTail bool
	tail     []byte
}

func newMemConn() *memConn {
	return &memConn{
		feed:   make(chan [][]byte),
		events: make(chan event),
		quit:   make(chan struct{}),
	}
}

func (c *memConn) Read(p []byte) (int, error) {
	if len(c.cur) == 0 && len(c.queue) > 0 {
		c.cur, c.queue = c.queue[0], c.queue[1:]
		c.started++
	}
	if len(c.cur) == 0 {
		if !c.async {
			return 0, errWouldBlock
		}
		if !c.send(event{kind: evNeedInput}) {
			return 0, net.ErrClosed
		}
		select {
		case q := <-c.feed:
			c.queue, c.started = q[1:], 1
			c.cur = q[0]
		case <-c.quit:
			return 0, net.ErrClosed
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// send delivers ev to the caller, with the count of records begun and
// the records not begun dropped (the caller reports them as EXTRA), or
// reports false once the context is being deleted.
func (c *memConn) send(ev event) bool {
	ev.started = c.started
	c.queue, c.started = nil, 0
	select {
	case c.events <- ev:
		return true
	case <-c.quit:
		return false
	}
}

func (c *memConn) Write(p []byte) (int, error) {
	if c.keepTail {
		c.tail = append(c.tail, p...)
	}
	if c.capture != nil {
		*c.capture = append(*c.capture, p...)
	} else {
		c.out = append(c.out, p...)
	}
	return len(p), nil
}

// takeOut returns the pending output and empties it.
func (c *memConn) takeOut() []byte {
	b := c.out
	c.out = nil
	return b
}

func (c *memConn) Close() error                       { return nil }
func (c *memConn) LocalAddr() net.Addr                { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr               { return memAddr{} }
func (c *memConn) SetDeadline(t time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "sspi" }
func (memAddr) String() string  { return "schannel" }
