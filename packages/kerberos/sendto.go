package kerberos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// The KDC client sends a request the way MIT krb5's k5_sendto does
// (lib/krb5/os/sendto_kdc.c, as its documentation and behaviour describe
// it):
//
//   - the KDCs' addresses are tried one after another, those of the
//     preferred transport first (UDP for requests below
//     udp_preference_limit, else TCP) and those of the other transport
//     after them, waiting up to 1 s for an answer after each send while
//     the earlier ones stay open, so a second KDC is asked in parallel
//     once the first has been silent for a second;
//   - at the end of the first pass it waits 2 s more, then makes two more
//     passes that resend the UDP requests (TCP and HTTPS requests are sent
//     once), waiting 1 s after each and 4 s, then 8 s, at the end of each
//     pass;
//   - the first reply wins; a connection refused or reset ends that
//     attempt at once, and when every attempt started has failed the
//     wait moves on to the next address without the rest of its second.
//
// Beyond MIT (as Heimdal and Windows do), a KDC that did not answer is
// remembered for deadKDCTime, process-wide: it is tried after the others
// until then, not skipped, so a realm whose only KDC was down is still
// tried. The context's deadline and cancellation end the exchange at any
// point.
const (
	sendWait      = 1 * time.Second
	firstPassWait = 2 * time.Second
	laterPassWait = 4 * time.Second
	maxPasses     = 3
	deadKDCTime   = 90 * time.Second

	maxUDPReply = 65536
	maxTCPReply = 1 << 20 // a KDC reply is a few KiB; PACs with many groups stay far below
)

// deadKDCs remembers the KDC addresses that did not answer, for every
// Package of the process.
var deadKDCs = struct {
	mu sync.Mutex
	m  map[string]time.Time // "udp/addr" → dead until
}{m: map[string]time.Time{}}

func markDead(key string, until time.Time) {
	deadKDCs.mu.Lock()
	deadKDCs.m[key] = until
	deadKDCs.mu.Unlock()
}

func markAlive(key string) {
	deadKDCs.mu.Lock()
	delete(deadKDCs.m, key)
	deadKDCs.mu.Unlock()
}

func isDead(key string, now time.Time) bool {
	deadKDCs.mu.Lock()
	defer deadKDCs.mu.Unlock()
	until, ok := deadKDCs.m[key]
	if ok && !now.Before(until) {
		delete(deadKDCs.m, key)
		return false
	}
	return ok
}

// kdcAddr is one resolved destination of a request.
type kdcAddr struct {
	transport kdcTransport
	addr      string // host:port, or the URL for HTTPS
	deferred  bool   // of the non-preferred transport
}

func (a kdcAddr) key() string { return a.transport.String() + "/" + a.addr }

// expandServers resolves the KDC entries into addresses in MIT's order:
// each entry's addresses of the preferred transport, then (deferred) the
// other transport's.
func (p *Package) expandServers(ctx context.Context, servers []kdcServer, tcpFirst, tcpOnly bool) ([]kdcAddr, error) {
	var preferred, deferred []kdcAddr
	var errs []error
	res := p.resolver()
	for _, s := range servers {
		if s.transport == transportHTTPS {
			preferred = append(preferred, kdcAddr{transport: transportHTTPS, addr: s.url})
			continue
		}
		var ips []string
		if ip := net.ParseIP(s.host); ip != nil {
			ips = []string{s.host}
		} else {
			got, err := res.LookupHost(ctx, s.host)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ips = got
		}
		for _, ip := range ips {
			hp := net.JoinHostPort(ip, s.port)
			switch s.transport {
			case transportUDP:
				if !tcpOnly {
					a := kdcAddr{transport: transportUDP, addr: hp, deferred: tcpFirst}
					if tcpFirst {
						deferred = append(deferred, a)
					} else {
						preferred = append(preferred, a)
					}
				}
			case transportTCP:
				a := kdcAddr{transport: transportTCP, addr: hp, deferred: !tcpFirst && !tcpOnly}
				if a.deferred {
					deferred = append(deferred, a)
				} else {
					preferred = append(preferred, a)
				}
			default:
				if tcpOnly {
					preferred = append(preferred, kdcAddr{transport: transportTCP, addr: hp})
					continue
				}
				udp := kdcAddr{transport: transportUDP, addr: hp}
				tcp := kdcAddr{transport: transportTCP, addr: hp}
				if tcpFirst {
					udp.deferred = true
					preferred, deferred = append(preferred, tcp), append(deferred, udp)
				} else {
					tcp.deferred = true
					preferred, deferred = append(preferred, udp), append(deferred, tcp)
				}
			}
		}
	}
	out := append(preferred, deferred...)
	// Addresses remembered as dead go last, keeping their order.
	now := time.Now()
	slices.SortStableFunc(out, func(a, b kdcAddr) int {
		return boolInt(isDead(a.key(), now)) - boolInt(isDead(b.key(), now))
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no KDC address: %w", ErrNoKDC, errors.Join(errs...))
	}
	return out, nil
}

// attemptResult is the outcome of one attempt at one address.
type attemptResult struct {
	i   int
	rep []byte
	err error
}

// attempt is the live state of one address.
type attempt struct {
	a      kdcAddr
	conn   net.Conn // UDP: kept for resends
	sent   bool
	failed bool
}

// sendto sends req to the addresses in order with MIT's timing and
// returns the first reply accepted by accept (a reply it refuses, such as
// KRB_ERR_RESPONSE_TOO_BIG over UDP, counts as that address's answer but
// does not end the exchange unless no other can come).
func (p *Package) sendto(ctx context.Context, realm string, addrs []kdcAddr, req []byte) ([]byte, kdcAddr, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan attemptResult, 4*len(addrs)+4)
	atts := make([]*attempt, len(addrs))
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for _, at := range atts {
			if at != nil && at.conn != nil {
				at.conn.Close()
			}
		}
		wg.Wait()
	}()
	var errs []error
	pending := 0 // attempts sent and not failed

	send := func(i int) {
		at := atts[i]
		if at == nil {
			at = &attempt{a: addrs[i]}
			atts[i] = at
		}
		if at.failed || (at.sent && at.a.transport != transportUDP) {
			return
		}
		switch at.a.transport {
		case transportUDP:
			if at.conn == nil {
				var d net.Dialer
				c, err := d.DialContext(ctx, "udp", at.a.addr)
				if err != nil {
					at.failed = true
					errs = append(errs, err)
					return
				}
				at.conn = c
				wg.Add(1)
				go func() {
					defer wg.Done()
					readUDP(ctx, c, i, results)
				}()
			}
			if _, err := at.conn.Write(req); err != nil {
				at.failed = true
				errs = append(errs, err)
				return
			}
		case transportTCP:
			wg.Add(1)
			go func() {
				defer wg.Done()
				rep, err := exchangeTCP(ctx, at.a.addr, req)
				results <- attemptResult{i: i, rep: rep, err: err}
			}()
		case transportHTTPS:
			wg.Add(1)
			go func() {
				defer wg.Done()
				rep, err := p.exchangeKKDCP(ctx, at.a.addr, realm, req)
				results <- attemptResult{i: i, rep: rep, err: err}
			}()
		}
		if !at.sent {
			pending++
		}
		at.sent = true
	}

	var refused []byte // a reply accept refused, kept as a last resort
	var refusedAddr kdcAddr
	// wait waits up to d for a reply. It returns early, with done false,
	// when no attempt is pending.
	wait := func(d time.Duration) (rep []byte, from int, done bool, err error) {
		t := time.NewTimer(d)
		defer t.Stop()
		for {
			if pending == 0 {
				return nil, 0, false, nil
			}
			select {
			case <-ctx.Done():
				return nil, 0, true, ctx.Err()
			case <-t.C:
				return nil, 0, false, nil
			case r := <-results:
				at := atts[r.i]
				if r.err != nil {
					if !at.failed {
						at.failed = true
						pending--
						errs = append(errs, fmt.Errorf("%s: %w", at.a.key(), r.err))
					}
					continue
				}
				if tooBig(r.rep) && at.a.transport == transportUDP {
					if !at.failed {
						at.failed = true
						pending--
					}
					refused, refusedAddr = r.rep, at.a
					continue
				}
				return r.rep, r.i, true, nil
			}
		}
	}

	finish := func(winner int) {
		now := time.Now()
		for i, at := range atts {
			if at == nil || !at.sent {
				continue
			}
			if i == winner {
				markAlive(at.a.key())
			} else if at.failed || winner < 0 || i < winner {
				// Silent or refusing while a later one (or none) answered.
				markDead(at.a.key(), now.Add(deadKDCTime))
			}
		}
	}

	run := func() ([]byte, int, error) {
		// First pass: preferred transport, then the deferred one.
		for _, deferredPhase := range []bool{false, true} {
			for i, a := range addrs {
				if a.deferred != deferredPhase {
					continue
				}
				send(i)
				if rep, from, done, err := wait(sendWait); done {
					return rep, from, err
				}
			}
		}
		if rep, from, done, err := wait(firstPassWait); done {
			return rep, from, err
		}
		delay := laterPassWait
		for pass := 1; pass < maxPasses; pass++ {
			resent := false
			for i := range addrs {
				if atts[i] == nil || atts[i].failed || atts[i].a.transport != transportUDP {
					continue
				}
				resent = true
				send(i)
				if rep, from, done, err := wait(sendWait); done {
					return rep, from, err
				}
			}
			if !resent && pending == 0 {
				break
			}
			if rep, from, done, err := wait(delay); done {
				return rep, from, err
			}
			delay *= 2
		}
		return nil, -1, nil
	}

	rep, from, err := run()
	if err != nil {
		return nil, kdcAddr{}, err
	}
	if rep != nil {
		finish(from)
		return rep, addrs[from], nil
	}
	finish(-1)
	if refused != nil {
		return refused, refusedAddr, nil
	}
	return nil, kdcAddr{}, fmt.Errorf("%w: %w", ErrNoKDC, errors.Join(errs...))
}

// readUDP forwards the datagrams read on c until it is closed.
func readUDP(ctx context.Context, c net.Conn, i int, results chan<- attemptResult) {
	for {
		buf := make([]byte, maxUDPReply)
		n, err := c.Read(buf)
		if err != nil {
			select {
			case results <- attemptResult{i: i, err: err}:
			case <-ctx.Done():
			}
			return
		}
		if n == 0 {
			continue
		}
		select {
		case results <- attemptResult{i: i, rep: buf[:n]}:
		case <-ctx.Done():
			return
		}
	}
}

// exchangeTCP sends req over TCP with the 4-byte length prefix of RFC 4120
// 7.2.2 and reads one reply. Cancelling ctx closes the connection.
func exchangeTCP(ctx context.Context, addr string, req []byte) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	msg := make([]byte, 4+len(req))
	binary.BigEndian.PutUint32(msg, uint32(len(req)))
	copy(msg[4:], req)
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxTCPReply {
		return nil, fmt.Errorf("kerberos: KDC reply of %d bytes exceeds %d", n, maxTCPReply)
	}
	rep := make([]byte, n)
	if _, err := io.ReadFull(conn, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// logKDC records the KDC that answered.
func logKDC(ctx context.Context, realm string, a kdcAddr, start time.Time) {
	slog.DebugContext(ctx, "kerberos: KDC answered", "realm", realm, "kdc", a.key(), "elapsed", time.Since(start))
}
