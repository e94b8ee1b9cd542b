package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// The behaviour shared with the memory store (exact quotas across
// instances, window resets, Redis outages) is tested in package ratelimit
// against this store; here, where its counters live.
func TestCountersLiveUnderThePrefix(t *testing.T) {
	client := testenv.Redis(t)
	key := testenv.Prefix(t) + "principal" // unique per run
	rate := limiter.Rate{Period: time.Minute, Limit: 10}
	for _, tt := range []struct {
		name, prefix, wantKey string
	}{
		{"a given prefix", "myapp:ratelimit", "myapp:ratelimit:" + key},
		{"an empty prefix means ratelimit.DefaultPrefix", "", ratelimit.DefaultPrefix + ":" + key},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			t.Cleanup(func() { client.Del(context.Background(), tt.wantKey) })
			store := redisstore.New(client, tt.prefix)
			c, err := store.Increment(ctx, key, 3, rate)
			if err != nil {
				t.Fatal(err)
			}
			if c.Remaining != 7 || c.Reached {
				t.Fatalf("after charging 3 of 10: %+v", c)
			}
			got, err := client.Get(ctx, tt.wantKey).Int()
			if err != nil || got != 3 {
				t.Fatalf("Redis %s = %d, %v; want 3", tt.wantKey, got, err)
			}
		})
	}
}
