package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
	limiterredis "github.com/ulule/limiter/v3/drivers/store/redis"
)

// DefaultPrefix prefixes the keys of the stores made by NewMemoryStore and,
// when given an empty prefix, NewRedisStore.
const DefaultPrefix = "ratelimit"

// NewMemoryStore returns the in-process store of ulule/limiter: right for a
// single server instance. Expired counters are swept every 30 seconds.
func NewMemoryStore() limiter.Store {
	return memory.NewStoreWithOptions(limiter.StoreOptions{
		Prefix:          DefaultPrefix,
		CleanUpInterval: limiter.DefaultCleanUpInterval,
	})
}

// NewRedisStore returns a store on Redis (ulule/limiter's Redis store: one
// atomic Lua script per charge), so that several server instances share one
// quota. Its keys are prefix + ":" + a key made by the Limiter; an empty
// prefix means DefaultPrefix. Instances that share quotas must use the same
// prefix (and the same Config.KeySalt).
//
// ulule/limiter loads its Lua scripts when the store is constructed, which
// fails while Redis is unreachable. This store constructs it on first use and
// again after each failure, with at most one attempt at a time, so that a
// server starts, and keeps answering, while Redis is down.
//
// The Limiter bounds every call with Config.Timeout whatever the client's
// settings; set redis.Options.ContextTimeoutEnabled so that the calls it
// abandons also end early.
func NewRedisStore(client redis.UniversalClient, prefix string) limiter.Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &lazyRedisStore{client: client, prefix: prefix}
}

// lazyRedisStore constructs ulule/limiter's Redis store on first use.
type lazyRedisStore struct {
	client redis.UniversalClient
	prefix string

	store atomic.Pointer[limiter.Store]

	mu      sync.Mutex
	pending chan struct{} // closed when the attempt in progress ends; nil when none
	lastErr error         // error of the last failed attempt
}

// errStoreNotReady is returned while the Lua scripts could not be loaded.
var errStoreNotReady = errors.New("ratelimit: redis store not ready")

func (s *lazyRedisStore) get(ctx context.Context) (limiter.Store, error) {
	if st := s.store.Load(); st != nil {
		return *st, nil
	}
	s.mu.Lock()
	if st := s.store.Load(); st != nil {
		s.mu.Unlock()
		return *st, nil
	}
	done := s.pending
	if done == nil {
		done = make(chan struct{})
		s.pending = done
		// ulule/limiter loads the scripts with context.Background: run the
		// attempt apart so that callers wait no longer than their context.
		go s.construct(done)
	}
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", errStoreNotReady, ctx.Err())
	}
	if st := s.store.Load(); st != nil {
		return *st, nil
	}
	s.mu.Lock()
	err := s.lastErr
	s.mu.Unlock()
	return nil, fmt.Errorf("%w: %w", errStoreNotReady, err)
}

func (s *lazyRedisStore) construct(done chan struct{}) {
	st, err := limiterredis.NewStoreWithOptions(s.client, limiter.StoreOptions{Prefix: s.prefix})
	s.mu.Lock()
	if err == nil {
		s.store.Store(&st)
	} else {
		s.lastErr = err
	}
	s.pending = nil
	s.mu.Unlock()
	close(done)
}

func (s *lazyRedisStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Get(ctx, key, rate)
}

func (s *lazyRedisStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Peek(ctx, key, rate)
}

func (s *lazyRedisStore) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Reset(ctx, key, rate)
}

func (s *lazyRedisStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	st, err := s.get(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return st.Increment(ctx, key, count, rate)
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
