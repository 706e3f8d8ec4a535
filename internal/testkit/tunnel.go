package testkit

import (
	"io"
	"net"
	"net/http"
)

// Tunnel serves a CONNECT request as a test proxy does: it dials r.Host,
// answers 200 on the hijacked client connection and copies bytes both
// ways until either side closes. When r.Host cannot be reached it answers
// 502 Bad Gateway.
func Tunnel(w http.ResponseWriter, r *http.Request) {
	dst, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		dst.Close()
		return
	}
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() {
		io.Copy(dst, brw)
		dst.Close()
	}()
	io.Copy(conn, dst)
	conn.Close()
}
