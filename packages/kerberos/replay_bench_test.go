package kerberos

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/gosspi/sspi/internal/testkit"
	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/packages/ntlm"
)

// legacyMapCache is the replay cache this package had before
// MemoryReplayCache, kept here as the benchmarks' reference: a map from a
// formatted string to its expiry, swept whole once per window.
type legacyMapCache struct {
	mu     sync.Mutex
	seen   map[string]time.Time
	lastGC time.Time
}

func (r *legacyMapCache) Check(_ context.Context, tag ReplayTag, ttl time.Duration) error {
	// The old key: client, server, ctime, cusec as one string.
	key := fmt.Sprintf("alice@TEST.GOSSPI|HTTP/localhost@TEST.GOSSPI|%x|%d", tag[:8], tag[8])
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	const window = 5 * time.Minute
	if now.Sub(r.lastGC) > window {
		for k, until := range r.seen {
			if now.After(until) {
				delete(r.seen, k)
			}
		}
		r.lastGC = now
	}
	if until, ok := r.seen[key]; ok && !now.After(until) {
		return ErrReplay
	}
	r.seen[key] = now.Add(2 * window)
	return nil
}

var replayCaches = []struct {
	name string
	new  func() ReplayCache
}{
	{"memory", func() ReplayCache { return NewMemoryReplayCache() }},
	{"legacy-map", func() ReplayCache { return &legacyMapCache{seen: map[string]time.Time{}} }},
}

// filled returns a cache of kind new holding live entries, as after that
// many handshakes within the clock-skew window.
func filled(b *testing.B, new func() ReplayCache, live int) (ReplayCache, uint64) {
	c := new()
	for i := range live {
		if err := c.Check(context.Background(), tagN(uint64(i)), 10*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	return c, uint64(live)
}

// BenchmarkReplayCheck: one Check on an empty cache and on one holding
// 150,000 live entries (a busy acceptor's last ten minutes).
func BenchmarkReplayCheck(b *testing.B) {
	file := struct {
		name string
		new  func() ReplayCache
	}{"file", func() ReplayCache {
		c, err := NewFileReplayCache(filepath.Join(b.TempDir(), "rc"))
		if err != nil {
			b.Skip(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}}
	for _, rc := range append(replayCaches, file) {
		for _, live := range []int{0, 150000} {
			b.Run(fmt.Sprintf("%s/live=%d", rc.name, live), func(b *testing.B) {
				c, n := filled(b, rc.new, live)
				// The heap the collector must scan on every cycle, and how
				// long a full collection takes, with the cache filled.
				s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
				metrics.Read(s)
				scan := float64(s[0].Value.Uint64()) / (1 << 20)
				start := time.Now()
				runtime.GC()
				gc := float64(time.Since(start).Microseconds())
				b.ReportAllocs()
				for b.Loop() {
					n++
					if err := c.Check(context.Background(), tagN(n), 10*time.Minute); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(scan, "scan-heap-MiB")
				b.ReportMetric(gc, "full-gc-µs")
			})
		}
	}
}

// gcShare measures the garbage collector's share of the CPU the process
// used while f ran.
func gcShare(f func()) float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/user:cpu-seconds"}}
	metrics.Read(s)
	gc0, user0 := s[0].Value.Float64(), s[1].Value.Float64()
	f()
	runtime.GC() // flush the estimates
	metrics.Read(s)
	gc, user := s[0].Value.Float64()-gc0, s[1].Value.Float64()-user0
	if gc+user == 0 {
		return 0
	}
	return 100 * gc / (gc + user)
}

// BenchmarkHandshakeReplayHistory: in-process NTLM and Kerberos
// handshakes (AP-REQ build and verify) while a replay cache holds 0 or
// 150,000 live entries, with the garbage collector's share of the CPU:
// the memory cache's entries hold no pointers, so a long history does
// not make the collector's work, and everyone's handshakes, costlier.
func BenchmarkHandshakeReplayHistory(b *testing.B) {
	for _, rc := range replayCaches {
		for _, live := range []int{0, 150000} {
			b.Run(fmt.Sprintf("ntlm/%s/live=%d", rc.name, live), func(b *testing.B) {
				c, _ := filled(b, rc.new, live)
				p := ntlm.New(&ntlm.Config{Users: ntlm.Users{`DOM\alice`: "pw"}})
				cli, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_OUTBOUND, &packages.AuthIdentity{User: "alice", Domain: "DOM", Password: "pw"})
				if err != nil {
					b.Fatal(err)
				}
				srv, err := p.AcquireCredentials(context.Background(), "", packages.SECPKG_CRED_INBOUND, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				share := gcShare(func() {
					for b.Loop() {
						cc, _ := cli.NewClientContext("HTTP/localhost", 0)
						sc, _ := srv.NewServerContext(0)
						if _, err := testkit.Handshake(context.Background(), cc, sc, nil, nil); err != nil {
							b.Fatal(err)
						}
						cc.Delete()
						sc.Delete()
					}
				})
				b.ReportMetric(share, "gc-cpu-%")
				runtime.KeepAlive(c)
			})
			b.Run(fmt.Sprintf("kerberos/%s/live=%d", rc.name, live), func(b *testing.B) {
				c, _ := filled(b, rc.new, live)
				m := newMemRealm(b, 18, &Config{ReplayCache: c})
				b.ReportAllocs()
				share := gcShare(func() {
					for b.Loop() {
						cc, sc := m.contexts(b, packages.ISC_REQ_CONFIDENTIALITY)
						if _, err := testkit.Handshake(context.Background(), cc, sc, nil, nil); err != nil {
							b.Fatal(err)
						}
						cc.Delete()
						sc.Delete()
					}
				})
				b.ReportMetric(share, "gc-cpu-%")
			})
		}
	}
}
