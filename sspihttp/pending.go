package sspihttp

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/status"
)

// Defaults of the production settings of a [Server] and of the
// http.Server that [Server.HTTPServer] returns.
const (
	// DefaultHandshakeTimeout is how long a handshake may wait for the
	// client's next leg (after NTLM's CHALLENGE, or a Negotiate
	// continuation) before it is dropped.
	DefaultHandshakeTimeout = 30 * time.Second
	// DefaultMaxPendingPerAddr bounds the handshakes waiting for their
	// next leg from one client IP address.
	DefaultMaxPendingPerAddr = 256
	// DefaultReadHeaderTimeout is the http.Server ReadHeaderTimeout set
	// by [Server.HTTPServer].
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout is the http.Server IdleTimeout set by
	// [Server.HTTPServer].
	DefaultIdleTimeout = 2 * time.Minute
)

// Reasons of the audit records of a [Server] (the "reason" attribute),
// beside the packages' own errors.
const (
	reasonTimeout  = "handshake timed out waiting for the client's next leg"
	reasonTooMany  = "too many pending handshakes from this address: the oldest was dropped"
	reasonBadToken = "malformed token (not base64)"
	reasonDropped  = "the connection's handshake had been dropped"
)

// pending is a handshake waiting for the client's next leg. While it
// waits, the table owns its context: the next leg takes it back
// ([pendingTable.take]), or the timer or the per-address bound drops it,
// deleting the context and closing the connection.
type pending struct {
	ctx    *sspi.Context
	scheme string
	addr   string   // the client's IP address
	conn   net.Conn // nil when the connection is not known
	timer  *time.Timer
	live   bool // guarded by pendingTable.mu: still in the table
}

// pendingTable holds the pending handshakes of a Server, by client
// address, oldest first.
type pendingTable struct {
	mu     sync.Mutex
	byAddr map[string][]*pending
	n      int
}

// add registers p, started by s, and returns the handshake the
// per-address bound pushes out, if any: the caller drops it.
func (t *pendingTable) add(s *Server, p *pending) (evicted *pending) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byAddr == nil {
		t.byAddr = make(map[string][]*pending)
	}
	list := t.byAddr[p.addr]
	if max := s.maxPending(); max > 0 && len(list) >= max {
		evicted = list[0]
		evicted.live = false
		if evicted.timer != nil {
			evicted.timer.Stop()
		}
		list[0] = nil
		list = list[1:]
		t.n--
	}
	p.live = true
	t.byAddr[p.addr] = append(list, p)
	t.n++
	if d := s.handshakeTimeout(); d > 0 {
		p.timer = time.AfterFunc(d, func() {
			if t.remove(p) {
				s.drop(p, reasonTimeout)
			}
		})
	}
	return evicted
}

// remove takes p out of the table; it reports whether p was still there
// (whoever removes it owns its context).
func (t *pendingTable) remove(p *pending) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !p.live {
		return false
	}
	p.live = false
	if p.timer != nil {
		p.timer.Stop()
	}
	list := t.byAddr[p.addr]
	for i, q := range list {
		if q == p {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.byAddr, p.addr)
	} else {
		t.byAddr[p.addr] = list
	}
	t.n--
	return true
}

// count returns the number of pending handshakes (for tests).
func (t *pendingTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// drop ends a pending handshake the table gave up: the context is
// deleted, the connection closed, and the audit log told why.
func (s *Server) drop(p *pending, reason string) {
	p.ctx.Delete()
	s.audit(context.Background(), p.scheme, p.addr, reason, nil)
	if p.conn != nil {
		p.conn.Close()
	}
}

func (s *Server) handshakeTimeout() time.Duration {
	if s.HandshakeTimeout == 0 {
		return DefaultHandshakeTimeout
	}
	return s.HandshakeTimeout
}

func (s *Server) maxPending() int {
	if s.MaxPendingPerAddr == 0 {
		return DefaultMaxPendingPerAddr
	}
	return s.MaxPendingPerAddr
}

// audit records a failed authentication: the scheme, the client's
// address, the reason and, for a package's failure, its SECURITY_STATUS.
// Tokens and credentials are never part of it.
func (s *Server) audit(ctx context.Context, scheme, addr, reason string, err error) {
	l := s.AuditLog
	if l == nil {
		l = slog.Default()
	}
	attrs := []slog.Attr{slog.String("scheme", scheme), slog.String("remote", addr)}
	if err != nil {
		reason = err.Error()
		attrs = append(attrs, slog.String("status", status.Code(err).String()))
	}
	attrs = append(attrs, slog.String("reason", reason))
	l.LogAttrs(ctx, slog.LevelWarn, "sspihttp: authentication failed", attrs...)
}

// clientAddr returns the IP address of a request's client (RemoteAddr
// without its port).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// HTTPServer returns an http.Server that serves h behind s's
// [Server.Middleware] on addr, with the settings a server exposed to a
// network needs: ReadHeaderTimeout [DefaultReadHeaderTimeout] and
// IdleTimeout [DefaultIdleTimeout] (so that neither a slow request
// header nor an idle connection holds a goroutine and its buffers
// forever), ConnContext set to [Server.ConnContext] and ConnState to
// [Server.ConnState] (so that a connection's handshake is freed when the
// connection closes). The handshakes themselves are bounded by
// s.HandshakeTimeout and s.MaxPendingPerAddr. Callers may change any
// field before serving, TLSConfig included.
func (s *Server) HTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Middleware(h),
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		ConnContext:       s.ConnContext,
		ConnState:         s.ConnState,
	}
}

// ConnContext is the http.Server ConnContext hook of s: like the
// package's [ConnContext], and it lets [Server.ConnState] find the
// connection's handshake when the connection closes.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	cs := &connState{conn: c}
	s.connsMu.Lock()
	if s.conns == nil {
		s.conns = make(map[net.Conn]*connState)
	}
	s.conns[c] = cs
	s.connsMu.Unlock()
	return context.WithValue(ctx, connKey{}, cs)
}

// ConnState is the http.Server ConnState hook of s: when a connection
// closes (or is hijacked), the handshake it holds, pending or done, is
// deleted. It must be used with [Server.ConnContext].
func (s *Server) ConnState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	s.connsMu.Lock()
	cs := s.conns[c]
	delete(s.conns, c)
	s.connsMu.Unlock()
	if cs == nil {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.release(s)
}

// release deletes the connection's handshake, pending or done. Call with
// cs.mu held.
func (cs *connState) release(s *Server) {
	if p := cs.pending; p != nil {
		cs.pending = nil
		if s.pend.remove(p) {
			p.ctx.Delete()
		}
	}
	if cs.ctx != nil {
		cs.ctx.Delete()
		cs.ctx = nil
	}
}
