package kerberos

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/gosspi/sspi/status"
)

// ReplayCache remembers the authenticators acceptors have taken, so that
// an AP-REQ is accepted once (RFC 4120 3.2.3). One cache serves every
// acceptor of a process by default ([DefaultReplayCache]), whatever the
// package (Kerberos, or Negotiate over it) and the Package value;
// [Config.ReplayCache] replaces it, for example with a [FileReplayCache]
// that several processes share. Implementations are safe for concurrent
// use.
type ReplayCache interface {
	// Check records tag and returns nil if it is new, ErrReplay if it
	// was recorded before and not yet forgotten, or another error when
	// the cache cannot tell (the acceptor then refuses the AP-REQ). The
	// cache must remember tag for at least ttl from now: an acceptor
	// passes the time left before its clock-skew check would refuse the
	// authenticator anyway (so acceptors sharing a cache should share
	// their ClockSkew too).
	Check(ctx context.Context, tag ReplayTag, ttl time.Duration) error
}

// ReplayTag identifies an authenticator: the first 16 bytes of the
// SHA-256 of its ciphertext (the AP-REQ's authenticator EncryptedData
// cipher), as MIT krb5 1.18 and later tag theirs. The ciphertext, unlike
// (client, server, ctime, cusec), cannot be repeated by an attacker in a
// new AP-REQ without the session key, and two genuine authenticators
// never share one.
type ReplayTag [16]byte

// ErrReplay is the error of [ReplayCache.Check] for a replayed
// authenticator.
var ErrReplay = errors.New("kerberos: replayed authenticator")

// replayTag returns the tag of an authenticator's ciphertext.
func replayTag(cipher []byte) ReplayTag {
	sum := sha256.Sum256(cipher)
	return ReplayTag(sum[:16])
}

var defaultReplay = sync.OnceValue(func() *MemoryReplayCache { return NewMemoryReplayCache() })

// DefaultReplayCache returns the process's replay cache: a
// [MemoryReplayCache] that every acceptor whose Config has no ReplayCache
// (and no Time of its own) uses, the default Registry's "Kerberos" and
// "Negotiate" included.
func DefaultReplayCache() ReplayCache { return defaultReplay() }

// replayCache returns the cache in force for p: Config.ReplayCache, else
// the process's, except for a Package with a clock of its own
// (Config.Time, for tests): its times mean nothing to acceptors on the
// real clock, so it gets a memory cache of its own on its clock.
func (p *Package) replayCache() ReplayCache {
	if p.config.ReplayCache != nil {
		return p.config.ReplayCache
	}
	if p.config.Time == nil {
		return DefaultReplayCache()
	}
	p.ownReplayOnce.Do(func() {
		c := NewMemoryReplayCache()
		c.now = p.config.now
		c.start = c.now()
		p.ownReplay = c
	})
	return p.ownReplay
}

// checkReplay records the authenticator of apReq, whose time is ctime, in
// the replay cache for as long as the clock-skew check would accept it
// (and a second more), and fails with KRB_AP_ERR_REPEAT if it was there.
// A cache that cannot tell fails the AP-REQ too.
func (p *Package) checkReplay(ctx context.Context, apReq *messages.APReq, ctime, now time.Time, skew time.Duration) error {
	ttl := ctime.Add(skew).Sub(now) + time.Second
	err := p.replayCache().Check(ctx, replayTag(apReq.EncryptedAuthenticator.Cipher), ttl)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrReplay):
		return apFail(status.SEC_E_LOGON_DENIED, errorcode.KRB_AP_ERR_REPEAT, "replayed authenticator")
	}
	return &apError{st: status.SEC_E_INTERNAL_ERROR, code: errorcode.KRB_ERR_GENERIC, err: err}
}

// MemoryReplayCache is a [ReplayCache] in memory, the default. A Check
// costs O(1) amortised whatever the number of entries, memory is bounded
// by the entries still remembered (the accept rate times the clock-skew
// window), and the entries hold no pointers, so the garbage collector
// does not scan them: a busy acceptor does not slow down the rest of the
// process.
type MemoryReplayCache struct {
	mu    sync.Mutex
	set   tagSet // guarded by mu; deadlines in nanoseconds since start
	start time.Time
	now   func() time.Time
}

// NewMemoryReplayCache returns an empty memory cache.
func NewMemoryReplayCache() *MemoryReplayCache {
	c := &MemoryReplayCache{set: newTagSet(int64(time.Second)), now: time.Now}
	c.start = c.now() // with a monotonic reading: immune to clock steps
	return c
}

// Check implements [ReplayCache].
func (c *MemoryReplayCache) Check(ctx context.Context, tag ReplayTag, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := int64(c.now().Sub(c.start))
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set.add(tag, now, now+int64(max(ttl, 0))) {
		return ErrReplay
	}
	return nil
}

// Len returns the number of entries remembered.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.set.m)
}

// tagSet is a set of tags, each remembered until a deadline (in any unit
// of time, the same for all calls). Tags are also filed in buckets by
// deadline, each span wide, so that forgetting costs O(1) per entry: a
// bucket whose time is past is dropped whole, deleting its tags from the
// map. Neither the map nor the buckets hold pointers.
type tagSet struct {
	span    int64
	m       map[ReplayTag]int64   // tag → deadline
	buckets map[int64][]ReplayTag // i → tags whose deadline is in ((i-1)·span, i·span]
	next    int64                 // every bucket below next has been dropped
	peak    int                   // the most entries m held since it was made
	spare   [][]ReplayTag         // emptied buckets, for reuse
}

func newTagSet(span int64) tagSet {
	return tagSet{span: span, m: map[ReplayTag]int64{}, buckets: map[int64][]ReplayTag{}}
}

// add forgets what is past now, then reports whether tag is new (not
// remembered for now or later) and remembers it until deadline.
func (s *tagSet) add(tag ReplayTag, now, deadline int64) bool {
	s.expire(now)
	if d, ok := s.m[tag]; ok && d >= now {
		return false
	}
	s.insert(tag, now, deadline)
	return true
}

// insert remembers tag until deadline (or its later deadline).
func (s *tagSet) insert(tag ReplayTag, now, deadline int64) {
	if deadline < now {
		return
	}
	if d, ok := s.m[tag]; ok && d >= deadline {
		return
	}
	s.m[tag] = deadline
	s.peak = max(s.peak, len(s.m))
	i := max(ceilDiv(deadline, s.span), s.next)
	b, ok := s.buckets[i]
	if !ok && len(s.spare) > 0 {
		b, s.spare = s.spare[len(s.spare)-1], s.spare[:len(s.spare)-1]
	}
	s.buckets[i] = append(b, tag)
}

// expire drops the buckets whose whole span is before now.
func (s *tagSet) expire(now int64) {
	last := ceilDiv(now, s.span) - 1 // the last bucket i with i·span < now
	if last < s.next {
		return
	}
	if last-s.next > int64(len(s.buckets)) {
		// Idle for long: visit the buckets rather than the spans.
		for i, b := range s.buckets {
			if i <= last {
				s.drop(i, b)
			}
		}
	} else {
		for i := s.next; i <= last; i++ {
			if b, ok := s.buckets[i]; ok {
				s.drop(i, b)
			}
		}
	}
	s.next = last + 1
	// Go maps do not shrink: after a burst, move what is left to a map
	// of its size.
	if s.peak > 4096 && len(s.m) < s.peak/4 {
		m := make(map[ReplayTag]int64, len(s.m))
		for k, v := range s.m {
			m[k] = v
		}
		s.m, s.peak = m, len(m)
	}
}

func (s *tagSet) drop(i int64, b []ReplayTag) {
	end := i * s.span
	for _, tag := range b {
		if d, ok := s.m[tag]; ok && d <= end {
			delete(s.m, tag)
		}
	}
	delete(s.buckets, i)
	if len(s.spare) < 64 && cap(b) <= 1<<16 {
		s.spare = append(s.spare, b[:0])
	}
}

// ceilDiv returns ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}
