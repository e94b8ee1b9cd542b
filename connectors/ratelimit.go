package connectors

import (
	"context"
	"sync"
	"time"

	"github.com/ulule/limiter/v3"
)

// RateLimiter holds vendors to their rate limits (Spec.RateLimit), one
// counter per vendor shared by every connector of it. On a shared store
// (ulule/limiter's Redis store) every instance counts in the same window;
// on the memory store, each instance counts alone.
type RateLimiter struct {
	store limiter.Store
	mu    sync.Mutex
	lim   map[string]*limiter.Limiter
	// OnError is told when the store fails; the request then goes
	// through (the vendor's own 429 still holds it back).
	OnError func(error)
}

// UseStore switches to another store (the server's Redis once it is
// connected); counting starts again there.
func (r *RateLimiter) UseStore(store limiter.Store) {
	r.mu.Lock()
	r.store, r.lim = store, map[string]*limiter.Limiter{}
	r.mu.Unlock()
}

// NewRateLimiter counts in store. Give the store a prefix of its own
// ("hub:connectors"): its keys are prefix:vendor.
func NewRateLimiter(store limiter.Store) *RateLimiter {
	return &RateLimiter{store: store, lim: map[string]*limiter.Limiter{}}
}

// Wait takes one request of vendor's budget, waiting for the next window
// when it is spent; it returns early with ctx's error.
func (r *RateLimiter) Wait(ctx context.Context, vendor string, rate Rate) error {
	if r == nil || rate.Limit <= 0 {
		return nil
	}
	r.mu.Lock()
	l := r.lim[vendor]
	if l == nil {
		l = limiter.New(r.store, limiter.Rate{Period: rate.Period, Limit: rate.Limit})
		r.lim[vendor] = l
	}
	r.mu.Unlock()
	for {
		c, err := l.Get(ctx, vendor)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if r.OnError != nil {
				r.OnError(err)
			}
			return nil // fail open
		}
		if !c.Reached {
			return nil
		}
		wait := time.Until(time.Unix(c.Reset, 0))
		wait = max(wait, 50*time.Millisecond)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
