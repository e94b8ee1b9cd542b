package ratelimit

import (
	"context"
	"fmt"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
)

// DefaultPrefix prefixes the keys of the stores made by NewMemoryStore and,
// when given an empty prefix, redisstore.New.
const DefaultPrefix = "ratelimit"

// NewMemoryStore returns the in-process store of ulule/limiter: right for a
// single server instance. Expired counters are swept every 30 seconds.
func NewMemoryStore() limiter.Store {
	return memory.NewStoreWithOptions(limiter.StoreOptions{
		Prefix:          DefaultPrefix,
		CleanUpInterval: limiter.DefaultCleanUpInterval,
	})
}

// increment charges count units (negative: gives them back) on a store. A
// store that does not live in the process is called on its own goroutine so
// that the caller waits no longer than ctx, even when the store ignores ctx
// (a go-redis client without ContextTimeoutEnabled blocks until its read
// timeout).
func increment(ctx context.Context, store limiter.Store, inProcess bool, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	if inProcess {
		return store.Increment(ctx, key, count, rate)
	}
	type result struct {
		c   limiter.Context
		err error
	}
	ch := make(chan result, 1) // buffered: an abandoned call still ends
	go func() {
		c, err := store.Increment(ctx, key, count, rate)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		return limiter.Context{}, fmt.Errorf("ratelimit: store call abandoned: %w", ctx.Err())
	}
}
