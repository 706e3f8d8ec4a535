package kerberos

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/secbuffer"
	"github.com/gosspi/sspi/status"
)

func tagN(n uint64) ReplayTag {
	var t ReplayTag
	binary.BigEndian.PutUint64(t[:8], n)
	binary.BigEndian.PutUint64(t[8:], ^n)
	return t
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// testReplayCache runs the checks every ReplayCache must pass; clk
// drives the cache's clock.
func testReplayCache(t *testing.T, c ReplayCache, clk *fakeClock) {
	ctx := context.Background()
	a, b := tagN(1), tagN(2)
	if err := c.Check(ctx, a, time.Minute); err != nil {
		t.Fatalf("new tag: %v", err)
	}
	if err := c.Check(ctx, a, time.Minute); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed tag: %v, want ErrReplay", err)
	}
	if err := c.Check(ctx, b, 5*time.Minute); err != nil {
		t.Fatalf("another tag: %v", err)
	}
	clk.add(59 * time.Second)
	if err := c.Check(ctx, a, time.Minute); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed tag before its ttl ended: %v, want ErrReplay", err)
	}
	clk.add(3 * time.Second)
	if err := c.Check(ctx, a, time.Minute); err != nil {
		t.Fatalf("tag after its ttl: %v, want it forgotten", err)
	}
	if err := c.Check(ctx, b, time.Minute); !errors.Is(err, ErrReplay) {
		t.Fatalf("longer-lived tag: %v, want ErrReplay", err)
	}
	clk.add(10 * time.Minute)
	if err := c.Check(ctx, b, time.Minute); err != nil {
		t.Fatalf("tag after a long idle time: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Check(cctx, tagN(3), time.Minute); err == nil {
		t.Error("Check with a cancelled context succeeded")
	}
}

func newFakeMemoryCache(clk *fakeClock) *MemoryReplayCache {
	c := NewMemoryReplayCache()
	c.now = clk.now
	c.start = clk.now()
	return c
}

func TestMemoryReplayCache(t *testing.T) {
	clk := newFakeClock()
	testReplayCache(t, newFakeMemoryCache(clk), clk)
}

// TestMemoryReplayCacheForgets: entries go once their time is past, so
// the cache holds what the last window accepted, not its history.
func TestMemoryReplayCacheForgets(t *testing.T) {
	clk := newFakeClock()
	c := newFakeMemoryCache(clk)
	ctx := context.Background()
	const perSecond, window = 100, 10 * time.Minute
	for s := range 3 * int(window/time.Second) {
		for i := range perSecond {
			if err := c.Check(ctx, tagN(uint64(s*perSecond+i)), window); err != nil {
				t.Fatal(err)
			}
		}
		clk.add(time.Second)
	}
	if n, most := c.Len(), perSecond*int(window/time.Second+2); n > most {
		t.Errorf("%d entries after 30 minutes at %d/s, want at most %d (the last window's)", n, perSecond, most)
	}
	clk.add(window + 2*time.Second)
	c.Check(ctx, tagN(1<<40), time.Second)
	if n := c.Len(); n != 1 {
		t.Errorf("%d entries after the window, want 1", n)
	}
	if c.set.peak > 1 {
		t.Errorf("the map of %d entries at its peak was not rebuilt once nearly empty", c.set.peak)
	}
}

func TestMemoryReplayCacheConcurrent(t *testing.T) {
	c := NewMemoryReplayCache()
	testConcurrentCache(t, []ReplayCache{c})
}

// testConcurrentCache has goroutines check overlapping tags through the
// caches given (views of one store): each tag is accepted exactly once.
func testConcurrentCache(t *testing.T, caches []ReplayCache) {
	const workers, tags = 8, 300
	var accepted [tags]atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := caches[w%len(caches)]
			for i := range tags {
				n := (i + w*37) % tags
				switch err := c.Check(context.Background(), tagN(uint64(n)), time.Minute); {
				case err == nil:
					accepted[n].Add(1)
				case !errors.Is(err, ErrReplay):
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range accepted {
		if n := accepted[i].Load(); n != 1 {
			t.Fatalf("tag %d accepted %d times", i, n)
		}
	}
}

func newFakeFileCache(t *testing.T, path string, clk *fakeClock) *FileReplayCache {
	t.Helper()
	c, err := NewFileReplayCache(path)
	if err != nil {
		if runtime.GOOS == "windows" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if clk != nil {
		c.now = clk.now
	}
	return c
}

func TestFileReplayCache(t *testing.T) {
	clk := newFakeClock()
	testReplayCache(t, newFakeFileCache(t, filepath.Join(t.TempDir(), "rc"), clk), clk)
}

// TestFileReplayCacheShared: two caches on one file see each other's
// entries, and a new cache on the file (a restart) sees them all.
func TestFileReplayCacheShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rc")
	ctx := context.Background()
	a := newFakeFileCache(t, path, nil)
	b := newFakeFileCache(t, path, nil)
	if err := a.Check(ctx, tagN(1), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(ctx, tagN(1), time.Minute); !errors.Is(err, ErrReplay) {
		t.Fatalf("second cache on the file: %v, want ErrReplay", err)
	}
	if err := b.Check(ctx, tagN(2), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.Check(ctx, tagN(2), time.Minute); !errors.Is(err, ErrReplay) {
		t.Fatalf("first cache: %v, want ErrReplay", err)
	}
	a.Close()
	b.Close()
	restarted := newFakeFileCache(t, path, nil)
	for _, n := range []uint64{1, 2} {
		if err := restarted.Check(ctx, tagN(n), time.Minute); !errors.Is(err, ErrReplay) {
			t.Errorf("tag %d after a restart: %v, want ErrReplay", n, err)
		}
	}
	if err := restarted.Check(ctx, tagN(3), time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestFileReplayCacheConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rc")
	testConcurrentCache(t, []ReplayCache{newFakeFileCache(t, path, nil), newFakeFileCache(t, path, nil), newFakeFileCache(t, path, nil)})
}

// TestFileReplayCacheCompaction: a file that is mostly expired records
// is rewritten with the live ones; another cache on the old file follows
// the rename and still refuses the live tags.
func TestFileReplayCacheCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rc")
	clk := newFakeClock()
	a := newFakeFileCache(t, path, clk)
	b := newFakeFileCache(t, path, clk)
	ctx := context.Background()
	if err := b.Check(ctx, tagN(0), time.Hour); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3*rcacheCompactMin; i++ {
		if err := a.Check(ctx, tagN(uint64(i)), time.Second); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			clk.add(2 * time.Second)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if max := int64(len(rcacheHeader) + 2*rcacheCompactMin*rcacheRecordSize); fi.Size() > max {
		t.Errorf("file of %d bytes after %d records, most expired: not compacted", fi.Size(), 3*rcacheCompactMin)
	}
	last := uint64(3 * rcacheCompactMin)
	for _, n := range []uint64{0, last} {
		if err := b.Check(ctx, tagN(n), time.Second); !errors.Is(err, ErrReplay) {
			t.Errorf("tag %d through the other cache after compaction: %v, want ErrReplay", n, err)
		}
	}
	if err := newFakeFileCache(t, path, clk).Check(ctx, tagN(0), time.Hour); !errors.Is(err, ErrReplay) {
		t.Errorf("tag 0 in the compacted file: %v, want ErrReplay", err)
	}
	matches, _ := filepath.Glob(path + ".tmp*")
	if len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// TestFileReplayCacheTornRecord: a record cut short (a writer killed
// while appending) is dropped and the file goes on.
func TestFileReplayCacheTornRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rc")
	ctx := context.Background()
	a := newFakeFileCache(t, path, nil)
	if err := a.Check(ctx, tagN(1), time.Minute); err != nil {
		t.Fatal(err)
	}
	a.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte{0xee}, 10))
	f.Close()
	b := newFakeFileCache(t, path, nil)
	if err := b.Check(ctx, tagN(1), time.Minute); !errors.Is(err, ErrReplay) {
		t.Fatalf("%v, want ErrReplay", err)
	}
	if err := b.Check(ctx, tagN(2), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := newFakeFileCache(t, path, nil).Check(ctx, tagN(2), time.Minute); !errors.Is(err, ErrReplay) {
		t.Fatalf("record after the torn one: %v, want ErrReplay", err)
	}
}

func TestFileReplayCacheNotOurs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rc")
	os.WriteFile(path, []byte("something else entirely\n"), 0o600)
	c := newFakeFileCache(t, path, nil)
	if err := c.Check(context.Background(), tagN(1), time.Minute); err == nil || errors.Is(err, ErrReplay) {
		t.Fatalf("foreign file: %v, want an error", err)
	}
}

// TestFileReplayCacheProcesses runs this test binary as a second process
// on the same file, both ways.
func TestFileReplayCacheProcesses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("flock")
	}
	path := filepath.Join(t.TempDir(), "rc")
	child := func(tag ReplayTag) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileReplayCacheChild$")
		cmd.Env = append(os.Environ(), "GOSSPI_RCACHE_CHILD="+path, "GOSSPI_RCACHE_TAG="+hex.EncodeToString(tag[:]))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v: %s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "rcache: "); ok {
				return v
			}
		}
		t.Fatalf("child printed no result: %s", out)
		return ""
	}
	c := newFakeFileCache(t, path, nil)
	if err := c.Check(context.Background(), tagN(1), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := child(tagN(1)); got != "replay" {
		t.Errorf("other process, our tag: %s, want replay", got)
	}
	if got := child(tagN(2)); got != "new" {
		t.Errorf("other process, new tag: %s, want new", got)
	}
	if err := c.Check(context.Background(), tagN(2), time.Minute); !errors.Is(err, ErrReplay) {
		t.Errorf("the other process's tag: %v, want ErrReplay", err)
	}
}

// TestFileReplayCacheChild is the second process of
// TestFileReplayCacheProcesses.
func TestFileReplayCacheChild(t *testing.T) {
	path := os.Getenv("GOSSPI_RCACHE_CHILD")
	if path == "" {
		t.Skip("run by TestFileReplayCacheProcesses")
	}
	b, err := hex.DecodeString(os.Getenv("GOSSPI_RCACHE_TAG"))
	if err != nil || len(b) != 16 {
		t.Fatal("bad tag")
	}
	c, err := NewFileReplayCache(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	switch err := c.Check(context.Background(), ReplayTag(b), time.Minute); {
	case err == nil:
		fmt.Println("rcache: new")
	case errors.Is(err, ErrReplay):
		fmt.Println("rcache: replay")
	default:
		t.Fatal(err)
	}
}

// apReqToken returns a fresh AP-REQ token from m's client.
func apReqToken(t *testing.T, m *memRealm) []byte {
	t.Helper()
	cc, err := m.client.NewClientContext("HTTP/localhost", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Delete()
	out := tokenOut()
	if _, err := cc.Step(context.Background(), nil, out); err != nil {
		t.Fatal(err)
	}
	return out[0].Data
}

func acceptWith(t *testing.T, cred *credentials, tok []byte) error {
	t.Helper()
	sc, err := cred.NewServerContext(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Delete()
	_, err = sc.Step(context.Background(), []secbuffer.Buffer{{Type: secbuffer.SECBUFFER_TOKEN, Data: tok}}, tokenOut())
	return err
}

// TestReplayAcrossPackageValues: two Package values on the process's
// default cache refuse an AP-REQ the other accepted; so do two on one
// file cache.
func TestReplayAcrossPackageValues(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cache func(t *testing.T) ReplayCache
	}{
		{"default", func(*testing.T) ReplayCache { return nil }},
		{"file", func(t *testing.T) ReplayCache {
			return newFakeFileCache(t, filepath.Join(t.TempDir(), "rc"), nil)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := tt.cache(t)
			m := newMemRealm(t, 18, &Config{ReplayCache: rc})
			other := New(&Config{Krb5Conf: m.p.config.Krb5Conf, ReplayCache: rc})
			otherCred := &credentials{p: other, conf: m.server.conf, use: packages.SECPKG_CRED_INBOUND, serviceKT: m.kt}
			tok := apReqToken(t, m)
			if err := acceptWith(t, m.server, tok); err != nil {
				t.Fatal(err)
			}
			if err := acceptWith(t, otherCred, tok); !errors.Is(err, status.SEC_E_LOGON_DENIED) {
				t.Fatalf("replay through another Package: %v, want SEC_E_LOGON_DENIED", err)
			}
			if err := acceptWith(t, otherCred, apReqToken(t, m)); err != nil {
				t.Fatalf("a new AP-REQ: %v", err)
			}
		})
	}
}
