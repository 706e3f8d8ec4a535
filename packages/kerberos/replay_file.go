package kerberos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileReplayCache is a [ReplayCache] in a file that the processes of one
// host share, as MIT krb5's file replay cache is: an AP-REQ accepted by
// one process is refused by the others, and by the same program after a
// restart. Set it as [Config.ReplayCache] of the acceptors that share a
// keytab. It needs flock(2) (Unix); elsewhere NewFileReplayCache fails.
//
// # Format
//
// The file is a 16-byte header, the ASCII "GOSSPI-RCACHE-1\n", then
// records of 24 bytes each: a [ReplayTag] (16 bytes), then the Unix time
// in milliseconds (UTC, 8 bytes big-endian) until which the tag must be
// remembered. Records are only appended, under an exclusive flock of the
// file; a trailing partial record (a writer killed in the middle) is cut
// off by the next writer. Each FileReplayCache keeps the live records in
// memory and reads only what others appended since its last Check, so a
// Check costs O(1) amortised. When the file holds more than twice the
// live records (and at least 4096 records), the writer holding the lock
// writes the live records to a new file in the same folder and renames
// it over the old one; the others notice the new file the next time they
// take the lock. Writes are not synced to disk (neither are MIT's): a
// crash of the host, not of a process, may lose the last entries.
type FileReplayCache struct {
	path string
	now  func() time.Time

	mu      sync.Mutex // one Check at a time in this process; held across the file lock
	f       *os.File   // guarded by mu; the file as last opened
	off     int64      // guarded by mu; bytes of f read into set
	records int64      // guarded by mu; records in f
	set     tagSet     // guarded by mu; deadlines in Unix milliseconds
	closed  bool       // guarded by mu
}

const (
	rcacheHeader     = "GOSSPI-RCACHE-1\n"
	rcacheRecordSize = 24
	rcacheCompactMin = 4096
)

var _ ReplayCache = (*FileReplayCache)(nil)

// NewFileReplayCache opens (or creates, mode 0600) the replay cache file
// at path.
func NewFileReplayCache(path string) (*FileReplayCache, error) {
	c := &FileReplayCache{path: path, now: time.Now, set: newTagSet(1000)}
	if err := c.open(); err != nil {
		return nil, err
	}
	return c, nil
}

// Close closes the file. Check then fails.
func (c *FileReplayCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

func (c *FileReplayCache) open() error {
	f, err := os.OpenFile(c.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("kerberos: replay cache: %w", err)
	}
	if err := checkFlock(f); err != nil {
		f.Close()
		return err
	}
	c.f, c.off, c.records = f, 0, 0
	return nil
}

// Check implements [ReplayCache]. It waits for the file lock until ctx
// ends.
func (c *FileReplayCache) Check(ctx context.Context, tag ReplayTag, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("kerberos: replay cache closed")
	}
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer func() { funlock(c.f) }() // c.f may change (compact)
	if err := c.readNew(); err != nil {
		return err
	}
	now := c.now().UnixMilli()
	c.set.expire(now)
	if d, ok := c.set.m[tag]; ok && d >= now {
		return ErrReplay
	}
	deadline := now + max(ttl, 0).Milliseconds() + 1
	var rec [rcacheRecordSize]byte
	copy(rec[:16], tag[:])
	binary.BigEndian.PutUint64(rec[16:], uint64(deadline))
	if _, err := c.f.WriteAt(rec[:], c.off); err != nil {
		return fmt.Errorf("kerberos: replay cache: %w", err)
	}
	c.off += rcacheRecordSize
	c.records++
	c.set.insert(tag, now, deadline)
	if c.records >= rcacheCompactMin && c.records > 2*int64(len(c.set.m)) {
		if err := c.compact(now); err != nil {
			return err
		}
	}
	return nil
}

// lock takes the file lock of the file now at path, reopening it when
// another process replaced it.
func (c *FileReplayCache) lock(ctx context.Context) error {
	for {
		if c.f == nil {
			if err := c.open(); err != nil {
				return err
			}
		}
		if err := flockContext(ctx, c.f); err != nil {
			return err
		}
		fi, err := c.f.Stat()
		if err != nil {
			funlock(c.f)
			return fmt.Errorf("kerberos: replay cache: %w", err)
		}
		pi, err := os.Stat(c.path)
		if err == nil && os.SameFile(fi, pi) {
			return nil
		}
		// Compacted (or removed) by another process: what we remember
		// stays, and the new file is read from its start.
		funlock(c.f)
		c.f.Close()
		c.f = nil
	}
}

// readNew reads the records appended since the last call, writing the
// header of a new file and cutting off a partial record.
func (c *FileReplayCache) readNew() error {
	fi, err := c.f.Stat()
	if err != nil {
		return fmt.Errorf("kerberos: replay cache: %w", err)
	}
	size := fi.Size()
	if c.off == 0 {
		if size == 0 {
			if _, err := c.f.WriteAt([]byte(rcacheHeader), 0); err != nil {
				return fmt.Errorf("kerberos: replay cache: %w", err)
			}
			c.off = int64(len(rcacheHeader))
			return nil
		}
		var h [len(rcacheHeader)]byte
		if _, err := c.f.ReadAt(h[:], 0); err != nil || string(h[:]) != rcacheHeader {
			return fmt.Errorf("kerberos: %s is not a replay cache file", c.path)
		}
		c.off = int64(len(rcacheHeader))
	}
	if size < c.off {
		return fmt.Errorf("kerberos: replay cache %s shrank", c.path)
	}
	n := (size - c.off) / rcacheRecordSize
	if whole := c.off + n*rcacheRecordSize; whole != size {
		if err := c.f.Truncate(whole); err != nil {
			return fmt.Errorf("kerberos: replay cache: %w", err)
		}
	}
	if n == 0 {
		return nil
	}
	buf := make([]byte, n*rcacheRecordSize)
	if _, err := c.f.ReadAt(buf, c.off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("kerberos: replay cache: %w", err)
	}
	now := c.now().UnixMilli()
	c.set.expire(now)
	for b := buf; len(b) >= rcacheRecordSize; b = b[rcacheRecordSize:] {
		c.set.insert(ReplayTag(b[:16]), now, int64(binary.BigEndian.Uint64(b[16:24])))
	}
	c.off += n * rcacheRecordSize
	c.records += n
	return nil
}

// compact writes the live records to a new file and renames it over the
// old one, whose lock the caller holds. The new file becomes c.f.
func (c *FileReplayCache) compact(now int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(c.path), filepath.Base(c.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("kerberos: replay cache: %w", err)
	}
	buf := make([]byte, 0, len(rcacheHeader)+len(c.set.m)*rcacheRecordSize)
	buf = append(buf, rcacheHeader...)
	var n int64
	for tag, d := range c.set.m {
		if d < now {
			continue
		}
		buf = append(buf, tag[:]...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(d))
		n++
	}
	_, err = tmp.Write(buf)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("kerberos: replay cache: %w", err)
	}
	// Others waiting for the old file's lock see the rename once we
	// release it, and reopen. What they append to the new file meanwhile
	// is read by our next Check, from c.off on.
	funlock(c.f)
	c.f.Close()
	c.f, c.off, c.records = tmp, int64(len(buf)), n
	return nil
}
