package negotiate

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

var errNoKDC = status.New("", "Kerberos", status.SEC_E_NO_AUTHENTICATING_AUTHORITY, errors.New(`kerberos: no KDC reachable for realm "SAMBA"`))

// TestFallbackVisible: when Kerberos cannot start, the client falls back
// to NTLM as Windows does, and says so: SECPKG_ATTR_NEGOTIATION_INFO's
// FallbackReason carries Kerberos's error and a debug record names the
// target and the reason. Before, the fallback left no trace.
func TestFallbackVisible(t *testing.T) {
	for _, where := range []string{"start", "acquire"} {
		t.Run(where, func(t *testing.T) {
			krb, nt := fakes()
			if where == "start" {
				krb.startErr = errNoKDC
			} else {
				krb.acquireErr = errNoKDC
			}
			var logBuf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p := New(&Config{Kerberos: krb, NTLM: nt, Logger: logger})
			client, server := newCtx(t, side{pkg: p}, true), newCtx(t, side{pkg: p}, false)
			legs := exchange(client, server, nil, nil, nil)
			wantStatuses(t, legs, cont, cont, cont, ok, ok)
			v, err := client.QueryAttribute(packages.SECPKG_ATTR_NEGOTIATION_INFO)
			if err != nil {
				t.Fatal(err)
			}
			ni := v.(*packages.NegotiationInfo)
			if ni.PackageInfo.Name != "NTLM" || !errors.Is(ni.FallbackReason, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) {
				t.Fatalf("NEGOTIATION_INFO %s, fallback %v", ni.PackageInfo.Name, ni.FallbackReason)
			}
			rec := logBuf.String()
			if !strings.Contains(rec, "falling back to NTLM") || !strings.Contains(rec, "HTTP/web.example.com") || !strings.Contains(rec, "no KDC reachable") {
				t.Fatalf("debug record %q", rec)
			}
			v, _ = server.QueryAttribute(packages.SECPKG_ATTR_NEGOTIATION_INFO)
			if r := v.(*packages.NegotiationInfo).FallbackReason; r != nil {
				t.Fatalf("server reports a fallback: %v", r)
			}
		})
	}
}

// TestNoFallbackWhenKerberosWorks: no reason is reported when Kerberos
// was used.
func TestNoFallbackWhenKerberosWorks(t *testing.T) {
	krb, nt := fakes()
	p := New(&Config{Kerberos: krb, NTLM: nt})
	client, server := newCtx(t, side{pkg: p}, true), newCtx(t, side{pkg: p}, false)
	exchange(client, server, nil, nil, nil)
	v, _ := client.QueryAttribute(packages.SECPKG_ATTR_NEGOTIATION_INFO)
	if ni := v.(*packages.NegotiationInfo); ni.PackageInfo.Name != "Kerberos" || ni.FallbackReason != nil {
		t.Fatalf("%s, fallback %v", ni.PackageInfo.Name, ni.FallbackReason)
	}
}

// TestRefuseFallback: with Config.RefuseFallback, and with "!NTLM", the
// client fails with Kerberos's own status instead of using NTLM.
func TestRefuseFallback(t *testing.T) {
	for _, cfg := range []Config{{RefuseFallback: true}, {PackageList: "!NTLM"}} {
		krb, nt := fakes()
		krb.startErr = errNoKDC
		cfg.Kerberos, cfg.NTLM = krb, nt
		p := New(&cfg)
		client := newCtx(t, side{pkg: p}, true)
		_, err := step(client, nil, 4096)
		if !errors.Is(err, status.SEC_E_NO_AUTHENTICATING_AUTHORITY) {
			t.Fatalf("%+v: %v, want SEC_E_NO_AUTHENTICATING_AUTHORITY", cfg, err)
		}
	}
}

// step runs one leg of c with token as input.
func step(c packages.Context, token []byte, capacity int) ([]byte, error) {
	var in []secbuffer.Buffer
	if token != nil {
		in = append(in, secbuffer.Buffer{Type: secbuffer.SECBUFFER_TOKEN, Data: token})
	}
	out := []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: make([]byte, 0, capacity)}}
	_, err := c.Step(context.Background(), in, out)
	return out[0].Data, err
}
