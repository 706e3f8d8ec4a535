package kerberos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

// TestTransportDeadline points the default transport at a TCP KDC that
// accepts and never answers, and at a UDP one that never answers: the
// context's deadline ends the exchange.
func TestTransportDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, tt := range []struct {
		name, addr string
		udpLimit   int
	}{
		{"tcp", l.Addr().String(), 1},
		{"udp", u.LocalAddr().String(), 1465},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := config.NewFromString(fmt.Sprintf("[libdefaults]\n default_realm = SILENT.TEST\n udp_preference_limit = %d\n[realms]\n SILENT.TEST = {\n  kdc = %s\n }\n", tt.udpLimit, tt.addr))
			if err != nil {
				t.Fatal(err)
			}
			p := New(&Config{Krb5Conf: conf})
			cred, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := cred.NewClientContext("HTTP/localhost", 0)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err = c.Step(ctx, nil, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}})
			if !errors.Is(err, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want SEC_E_NO_AUTHENTICATING_AUTHORITY and DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestFreedCredentials(t *testing.T) {
	m := newMemRealm(t, 18, nil)
	var key []byte
	for _, tk := range m.client.tickets {
		key = tk.key.KeyValue
	}
	m.client.Free()
	for _, b := range key {
		if b != 0 {
			t.Fatal("session key not zeroed by Free")
		}
	}
	cc, _ := m.client.NewClientContext("HTTP/localhost", 0)
	_, err := cc.Step(context.Background(), nil, []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, 4096)}})
	if !errors.Is(err, status.SEC_E_INVALID_HANDLE) {
		t.Fatalf("ISC with freed credentials: %v", err)
	}
}
