package sspihttp

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gosspi/sspi"
	"github.com/gosspi/sspi/secbuffer"
)

// ProxyDialer opens connections through an HTTP proxy with CONNECT
// (RFC 9110 9.3.6), answering the proxy's 407 challenges with the same
// schemes as [Transport], all legs on the one connection that becomes the
// tunnel. Use its DialContext as an http.Transport's DialContext (with
// Proxy unset): the Transport then speaks to the origin, TLS included,
// through the tunnel.
//
// ProxyDialer is safe for concurrent use; its fields must not change
// after its first use.
type ProxyDialer struct {
	// Proxy is the proxy's address, host:port.
	Proxy string

	// Dial connects to the proxy; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Registry, Schemes, Credentials and SPN are as in Transport: the
	// packages, the schemes in order of preference, the auth data and the
	// SPN of the proxy host ("HTTP/" + host by default).
	Registry    *sspi.Registry
	Schemes     []string
	Credentials any
	SPN         func(host string) string

	// Trace, if set, sees each CONNECT and the proxy's answer.
	Trace func(req *http.Request, resp *http.Response)

	t Transport // credentials cache and helpers
}

// ErrProxyRefused is wrapped by the error of a CONNECT the proxy refused:
// with a status other than 2xx, or 407 once authentication failed.
var ErrProxyRefused = errors.New("sspihttp: proxy refused CONNECT")

// DialContext connects to addr (host:port) through the proxy.
func (d *ProxyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("sspihttp: CONNECT cannot carry network %q", network)
	}
	d.t.Registry, d.t.Schemes, d.t.Credentials, d.t.SPN = d.Registry, d.Schemes, d.Credentials, d.SPN
	conn, br, resp, err := d.connect(ctx, nil, addr, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusProxyAuthRequired {
		conn, br, resp, err = d.authenticate(ctx, conn, resp, addr)
		if err != nil {
			return nil, err
		}
	}
	if resp.StatusCode/100 != 2 {
		conn.Close()
		return nil, fmt.Errorf("%w: %s", ErrProxyRefused, resp.Status)
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

func (d *ProxyDialer) dial(ctx context.Context) (net.Conn, error) {
	if d.Dial != nil {
		return d.Dial(ctx, "tcp", d.Proxy)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", d.Proxy)
}

// connect sends one CONNECT on conn (a new connection when nil) and reads
// the answer; a non-2xx body is read and discarded.
func (d *ProxyDialer) connect(ctx context.Context, conn net.Conn, addr, auth string) (net.Conn, *bufio.Reader, *http.Response, error) {
	var err error
	if conn == nil {
		if conn, err = d.dial(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
		defer conn.SetDeadline(time.Time{})
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: make(http.Header)}
	if auth != "" {
		req.Header.Set(proxyHeaders.response, auth)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	if d.Trace != nil {
		d.Trace(req, resp)
	}
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxBufferedBody))
		resp.Body.Close()
		if resp.Close {
			conn.Close()
			conn = nil
		}
	}
	return conn, br, resp, nil
}

// authenticate answers a 407 to CONNECT.
func (d *ProxyDialer) authenticate(ctx context.Context, conn net.Conn, resp *http.Response, addr string) (net.Conn, *bufio.Reader, *http.Response, error) {
	var br *bufio.Reader
	offered := parseChallenges(resp.Header.Values(proxyHeaders.challenge))
	host, _, err := net.SplitHostPort(d.Proxy)
	if err != nil {
		host = d.Proxy
	}
	for _, scheme := range d.t.schemes() {
		scheme = canonicalScheme(scheme)
		var ch *challenge
		for i := range offered {
			if offered[i].scheme == scheme {
				ch = &offered[i]
				break
			}
		}
		if ch == nil {
			continue
		}
		cred, release, err := d.t.credentials(ctx, packageOf(scheme), d.Credentials, true)
		if err != nil {
			continue
		}
		defer release()
		var c *sspi.Context
		if scheme == SchemeDigest {
			c, err = sspi.NewClientContext(cred, addr, sspi.ISC_REQ_USE_HTTP_STYLE)
		} else {
			c, err = sspi.NewClientContext(cred, d.t.spn(host), sspi.ISC_REQ_CONNECTION)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("sspihttp: proxy %s: %w", scheme, err)
		}
		defer c.Delete()
		in := *ch
		for leg := 0; leg < maxLegs; leg++ {
			var out []byte
			var auth string
			if scheme == SchemeDigest {
				out, err = c.StepBuffers(ctx, []secbuffer.Buffer{
					{Type: secbuffer.SECBUFFER_TOKEN, Data: []byte(in.params)},
					{Type: secbuffer.SECBUFFER_PKG_PARAMS, Data: []byte(http.MethodConnect)},
				})
				auth = scheme + " " + string(out)
			} else {
				tok, ok := in.token()
				if !ok {
					break
				}
				var bufs []secbuffer.Buffer
				if tok != nil {
					bufs = []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}
				}
				out, err = c.StepBuffers(ctx, bufs)
				auth = scheme + " " + base64.StdEncoding.EncodeToString(out)
			}
			if err != nil || len(out) == 0 {
				if leg == 0 && err != nil {
					if conn != nil {
						conn.Close()
					}
					return nil, nil, nil, fmt.Errorf("sspihttp: proxy %s: %w", scheme, err)
				}
				break
			}
			if conn == nil && connectionBound(scheme) && leg > 0 {
				return nil, nil, nil, fmt.Errorf("%w: the proxy closed the connection during the %s handshake", ErrProxyRefused, scheme)
			}
			conn, br, resp, err = d.connect(ctx, conn, addr, auth)
			if err != nil {
				return nil, nil, nil, err
			}
			if resp.StatusCode != http.StatusProxyAuthRequired {
				return conn, br, resp, nil
			}
			var next *challenge
			for _, nc := range parseChallenges(resp.Header.Values(proxyHeaders.challenge)) {
				if nc.scheme == scheme {
					next = &nc
					break
				}
			}
			if next == nil || (scheme != SchemeDigest && (next.params == "" || c.Established())) {
				break
			}
			in = *next
		}
		if conn != nil {
			conn.Close()
		}
		return nil, nil, nil, fmt.Errorf("%w: %s authentication failed (%s)", ErrProxyRefused, scheme, resp.Status)
	}
	if conn != nil {
		conn.Close()
	}
	return nil, nil, nil, fmt.Errorf("%w: %s, and no offered scheme could be answered (%q)", ErrProxyRefused, resp.Status, resp.Header.Values(proxyHeaders.challenge))
}

// bufferedConn is a tunnel whose first bytes were read with the CONNECT
// answer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
