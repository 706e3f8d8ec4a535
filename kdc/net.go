package kdc

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"
)

// Addr holds the addresses a KDC listens on.
type Addr struct {
	UDP string // "127.0.0.1:port"
	TCP string
}

// maxUDPReply is the largest reply sent over UDP; a bigger one becomes
// KRB_ERR_RESPONSE_TOO_BIG, so the client retries over TCP (RFC 4120
// 7.2.1; MIT's default max_dgram_reply_size).
const maxUDPReply = 4096

// tcpIdle bounds how long a TCP connection may stay idle or slow.
const tcpIdle = 30 * time.Second

// maxConns bounds the TCP connections served at once (each holds at most
// one request of MaxRequestSize); more are closed on accept.
const maxConns = 256

// Listen serves the KDC on UDP and TCP at addr ("127.0.0.1:0" when
// empty: both on one free port). It returns the addresses bound. Close
// stops the servers.
func (k *KDC) Listen(addr string) (Addr, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	k.lnMu.Lock()
	defer k.lnMu.Unlock()
	if k.closed {
		return Addr{}, errors.New("kdc: closed")
	}
	if k.addr.TCP != "" {
		return Addr{}, errors.New("kdc: already listening")
	}
	var tl net.Listener
	var uc net.PacketConn
	var err error
	for range 10 {
		tl, err = net.Listen("tcp", addr)
		if err != nil {
			return Addr{}, err
		}
		uc, err = net.ListenPacket("udp", tl.Addr().String())
		if err == nil {
			break
		}
		tl.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			return Addr{}, err
		}
	}
	if err != nil {
		return Addr{}, err
	}
	k.addr = Addr{UDP: uc.LocalAddr().String(), TCP: tl.Addr().String()}
	k.listeners = append(k.listeners, tl, uc)
	k.wg.Add(2)
	go k.serveUDP(uc)
	go k.serveTCP(tl)
	return k.addr, nil
}

// Addr returns the addresses the KDC listens on (zero before Listen).
func (k *KDC) Addr() Addr {
	k.lnMu.Lock()
	defer k.lnMu.Unlock()
	return k.addr
}

// Close stops the network servers and waits for them to end. It is
// idempotent; in-process RoundTrip keeps working.
func (k *KDC) Close() error {
	k.lnMu.Lock()
	k.closed = true
	ls := k.listeners
	k.listeners = nil
	for c := range k.conns {
		c.Close()
	}
	k.lnMu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	k.wg.Wait()
	return nil
}

func (k *KDC) serveUDP(c net.PacketConn) {
	defer k.wg.Done()
	buf := make([]byte, MaxRequestSize+1)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n > MaxRequestSize {
			continue
		}
		rep := k.Serve(buf[:n])
		if rep == nil {
			continue
		}
		if len(rep) > maxUDPReply {
			rep = k.errorReply(nil, refuse(errResponseTooBig, "response too big for UDP"))
		}
		c.WriteTo(rep, from)
	}
}

func (k *KDC) serveTCP(l net.Listener) {
	defer k.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		k.lnMu.Lock()
		if k.closed {
			k.lnMu.Unlock()
			c.Close()
			return
		}
		if len(k.conns) >= maxConns {
			k.lnMu.Unlock()
			c.Close()
			continue
		}
		if k.conns == nil {
			k.conns = map[net.Conn]struct{}{}
		}
		k.conns[c] = struct{}{}
		k.wg.Add(1)
		k.lnMu.Unlock()
		go func() {
			defer k.wg.Done()
			k.serveConn(c)
			k.lnMu.Lock()
			delete(k.conns, c)
			k.lnMu.Unlock()
			c.Close()
		}()
	}
}

// ReadFrame reads one TCP-framed Kerberos message (RFC 4120 7.2.2: a
// 4-byte big-endian length, high bit reserved) of at most max bytes.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n&0x80000000 != 0 {
		return nil, errors.New("kdc: reserved length bit set")
	}
	if n == 0 || uint64(n) > uint64(max) {
		return nil, errors.New("kdc: frame too large or empty")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// serveConn answers the requests of one TCP connection until it closes,
// idles or sends a bad frame.
func (k *KDC) serveConn(c net.Conn) {
	for {
		c.SetDeadline(time.Now().Add(tcpIdle))
		req, err := ReadFrame(c, MaxRequestSize)
		if err != nil {
			return
		}
		rep := k.Serve(req)
		if rep == nil {
			return
		}
		out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(rep)), uint32(len(rep)))
		if _, err := c.Write(append(out, rep...)); err != nil {
			return
		}
	}
}
