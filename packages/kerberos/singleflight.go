package kerberos

import (
	"context"
	"errors"

	"github.com/gosspi/sspi/packages"
	"github.com/gosspi/sspi/status"
)

// A flight is one KDC exchange (an AS exchange for the TGT, or a TGS
// exchange for one service ticket) that every caller asking for the same
// ticket meanwhile shares. It runs on a goroutine of its own, so that no
// caller, the first included, waits longer than its own context allows,
// and no lock is held while it talks to the KDC. It lasts as long as one
// caller still waits for it: when the last one gives up, or the
// credentials are freed, its context is cancelled.
type flight struct {
	done    chan struct{}      // closed when t and err are set
	cancel  context.CancelFunc // ends the exchange
	waiters int                // guarded by the credentials' mu

	// set before done is closed
	t   *ticket // on success, owned by the credentials (stored in their cache)
	err error
}

// inFlightKey marks the context of a flight's exchange.
type inFlightKey struct{}

// fetchFunc runs one exchange and returns a ticket the caller owns.
type fetchFunc func(ctx context.Context) (*ticket, error)

// shared returns a copy, owned by the caller, of the ticket that cached
// finds in the credentials' cache, or else of the one a flight for key
// fetches and store puts in the cache. cached and store run under c.mu;
// cached returns (nil, nil) when an exchange is needed, or an error when
// none can help. The wait ends with ctx or Free, whichever comes first.
func (c *credentials) shared(ctx context.Context, key string, cached func() (*ticket, error), fetch fetchFunc, store func(*ticket)) (*ticket, error) {
	c.mu.Lock()
	if c.freed {
		c.mu.Unlock()
		return nil, errFreed()
	}
	if t, err := cached(); t != nil || err != nil {
		mine := t.clone()
		c.mu.Unlock()
		return mine, err
	}
	f := c.flights[key]
	if f == nil {
		// The exchange keeps the values of the first caller's context
		// (for the Transport), not its cancellation.
		fctx, cancel := context.WithCancel(context.WithValue(context.WithoutCancel(ctx), inFlightKey{}, true))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		if c.flights == nil {
			c.flights = map[string]*flight{}
		}
		c.flights[key] = f
		go c.fly(fctx, key, f, fetch, store)
	}
	f.waiters++
	freed := c.freedChanLocked()
	c.mu.Unlock()

	// The wait is for the network: on the async engine it counts against
	// the network allowance, not a CPU slot. (A flight waiting for
	// another, the TGT's, leaves that to its own first caller.)
	netDone := func() {}
	if ctx.Value(inFlightKey{}) == nil {
		netDone = packages.NetworkBound(ctx)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
	case <-freed:
	}
	netDone()

	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if c.freed {
		return nil, errFreed()
	}
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return f.t.clone(), nil
	default:
	}
	// This caller gives up; the exchange goes on while others wait.
	if f.waiters == 0 {
		f.cancel()
		if c.flights[key] == f {
			delete(c.flights, key)
		}
	}
	return nil, errorf("InitializeSecurityContext", status.SEC_E_NO_AUTHENTICATING_AUTHORITY, errors.Join(ErrNoKDC, ctx.Err()))
}

// fly runs the exchange of f and hands its result to the waiters.
func (c *credentials) fly(ctx context.Context, key string, f *flight, fetch fetchFunc, store func(*ticket)) {
	t, err := fetch(ctx)
	f.cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	switch {
	case err == nil && c.freed:
		clear(t.key.KeyValue)
		t, err = nil, errFreed()
	case err == nil:
		store(t)
	}
	f.t, f.err = t, err
	close(f.done)
}

// freedChanLocked returns the channel Free closes.
func (c *credentials) freedChanLocked() chan struct{} {
	if c.freedCh == nil {
		c.freedCh = make(chan struct{})
	}
	return c.freedCh
}

func errFreed() error {
	return errorf("InitializeSecurityContext", status.SEC_E_INVALID_HANDLE, errors.New("kerberos: credentials freed"))
}
