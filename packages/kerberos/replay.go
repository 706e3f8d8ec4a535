package kerberos

import (
	"sync"
	"time"
)

// replayCache remembers authenticators (client, server, ctime, cusec) for
// the clock-skew window (RFC 4120 3.2.3). One cache serves every acceptor
// of a Package. It is safe for concurrent use.
type replayCache struct {
	mu     sync.Mutex
	seen   map[string]time.Time // guarded by mu; key → when it may be forgotten
	lastGC time.Time            // guarded by mu
}

func newReplayCache() *replayCache {
	return &replayCache{seen: map[string]time.Time{}}
}

// check records key and reports whether it was new. Entries live until
// now + window.
func (r *replayCache) check(key string, now time.Time, window time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastGC) > window {
		for k, until := range r.seen {
			if now.After(until) {
				delete(r.seen, k)
			}
		}
		r.lastGC = now
	}
	if until, ok := r.seen[key]; ok && !now.After(until) {
		return false
	}
	r.seen[key] = now.Add(2 * window)
	return true
}
