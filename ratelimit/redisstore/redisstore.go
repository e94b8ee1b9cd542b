// Package redisstore is the Redis store of package ratelimit: quotas shared
// by several server instances through one Redis (go-redis v9), counted with
// ulule/limiter's atomic Lua script. It lives apart so that programs using
// only the in-process memory store do not link a Redis client.
//
//	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
//	if err != nil { ... }
//	opt.ContextTimeoutEnabled = true
//	client := redis.NewClient(opt)
//	client.AddHook(redisstore.NewBreaker(redisstore.BreakerConfig{}))
//	rl, err := ratelimit.New(ratelimit.Config{
//		Store: redisstore.New(client, "myapp:ratelimit"),
//		...
//	})
//
// NewBreaker's circuit breaker makes every command fail at once while Redis
// is down, instead of each waiting for its timeout.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	limiterredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/hubchantier/hubchantier/ratelimit"
)

// New returns a store on Redis (ulule/limiter's Redis store: one
// atomic Lua script per charge), so that several server instances share one
// quota. Its keys are prefix + ":" + a key made by the Limiter; an empty
// prefix means ratelimit.DefaultPrefix. Instances that share quotas must use the same
// prefix (and the same ratelimit.Config.KeySalt).
//
// ulule/limiter loads its Lua scripts when the store is constructed, which
// fails while Redis is unreachable. This store constructs it on first use and
// again after each failure, with at most one attempt at a time, so that a
// server starts, and keeps answering, while Redis is down.
//
// The Limiter bounds every call with ratelimit.Config.Timeout whatever the client's
// settings; set redis.Options.ContextTimeoutEnabled so that the calls it
// abandons also end early.
func New(client redis.UniversalClient, prefix string) limiter.Store {
	if prefix == "" {
		prefix = ratelimit.DefaultPrefix
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
