package peers

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// DNS is a dnsmasq serving records from its flags on 127.0.0.1, with no
// upstream server and no /etc/hosts.
type DNS struct {
	Addr string // 127.0.0.1:port
	// Resolver queries only this server (Go's resolver with a fixed
	// dialer).
	Resolver *net.Resolver
}

// StartDNS starts dnsmasq on a free loopback port with the given record
// flags (for example "--srv-host=_kerberos._udp.example.test,kdc.example.test,88,0,100"
// and "--host-record=kdc.example.test,127.0.0.1") and stops it when t
// ends. It skips t (fails it under SSPI_INTEROP=1) when dnsmasq is
// missing.
func StartDNS(t testing.TB, records ...string) *DNS {
	t.Helper()
	bin := Tool(t, "dnsmasq", "dnsmasq-base")
	var lastErr string
	for try := 0; try < 5; try++ {
		port := freeUDPPort(t)
		args := append([]string{
			"--keep-in-foreground", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
			"--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + fmt.Sprint(port),
			"--pid-file=", "--user=root", "--log-facility=-", "--host-record=ready.dnsmasq.invalid,127.0.0.1",
		}, records...)
		cmd := exec.Command(bin, args...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("dnsmasq: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		d := &DNS{Addr: addr, Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dd net.Dialer
			return dd.DialContext(ctx, network, addr)
		}}}
		// Ready when it answers for its own readiness record.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-done:
				lastErr = out.String()
			default:
			}
			if lastErr != "" {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			_, err := d.Resolver.LookupHost(ctx, "ready.dnsmasq.invalid")
			cancel()
			if err == nil {
				t.Cleanup(func() { cmd.Process.Kill(); <-done })
				return d
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-done
		if lastErr == "" {
			lastErr = "no answer within 5 s: " + out.String()
		}
	}
	t.Fatalf("dnsmasq did not start: %s", lastErr)
	return nil
}

// freeUDPPort returns a UDP and TCP port free on 127.0.0.1 at the time of
// the call.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	for {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		c.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
}
