package cache_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/hubapi/cache"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// instance is one server of a cluster sharing Redis.
type instance struct {
	cache   *cache.Cache
	handler http.Handler
}

func newInstance(t *testing.T, rdb redis.UniversalClient, channel string, w *world) instance {
	t.Helper()
	cfg := testConfig()
	cfg.Redis = rdb
	cfg.Channel = channel
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c := newCache(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("subscriber not ready: %v", err)
	}
	return instance{cache: c, handler: c.Middleware(&app{world: w})}
}

// within polls cond every millisecond and fails when it does not hold
// within limit: the bound the product promises for cross-instance
// invalidation.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%s after %v", what, time.Since(start))
}

func TestBroadcastBetweenInstances(t *testing.T) {
	ctx := context.Background()
	channel := testenv.Prefix(t) + "cache"
	w := newWorld()
	a := newInstance(t, testenv.Redis(t), channel, w)
	b := newInstance(t, testenv.Redis(t), channel, w)

	for _, in := range []instance{a, b} {
		for _, p := range []string{"/api/v1/chantiers", "/api/v1/planning"} {
			get(in.handler, p)
			if r := get(in.handler, p); r.cacheStatus != hit {
				t.Fatalf("%s not cached: %q", p, r.cacheStatus)
			}
		}
	}

	t.Run("an invalidation on one instance is applied on the other within 100 ms", func(t *testing.T) {
		w.mutate("chantiers")
		if err := a.cache.Invalidate(ctx, "chantiers"); err != nil {
			t.Fatal(err)
		}
		if r := get(a.handler, "/api/v1/chantiers"); r.cacheStatus != miss || !strings.Contains(r.body, `"chantiers":1`) {
			t.Fatalf("instance A: %q %s", r.cacheStatus, r.body)
		}
		within(t, 100*time.Millisecond, "instance B shows the change", func() bool {
			return strings.Contains(get(b.handler, "/api/v1/chantiers").body, `"chantiers":1`)
		})
		if r := get(b.handler, "/api/v1/planning"); r.cacheStatus != hit {
			t.Fatalf("instance B planning: %q, want untouched", r.cacheStatus)
		}
	})

	t.Run("an instance ignores its own broadcasts", func(t *testing.T) {
		if got := a.cache.Stats().Invalidations; got != 1 {
			t.Fatalf("instance A applied %d invalidations, want 1", got)
		}
	})

	t.Run("FlushAll on one instance flushes the other", func(t *testing.T) {
		if err := b.cache.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
		within(t, 100*time.Millisecond, "instance A flushed", func() bool {
			return a.cache.Stats().Flushes == 1
		})
		if r := get(a.handler, "/api/v1/planning"); r.cacheStatus != miss {
			t.Fatalf("instance A planning after FlushAll: %q", r.cacheStatus)
		}
	})
}

func TestBroadcastSurvivesReconnection(t *testing.T) {
	ctx := context.Background()
	testenv.Redis(t) // skips or fails as the environment says
	prefix := testenv.Prefix(t)
	opt, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ReplaceAll(prefix, ":", "-") + "b"
	opt.ClientName = name
	rdbB := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdbB.Close() })
	admin := testenv.Redis(t)

	w := newWorld()
	a := newInstance(t, testenv.Redis(t), prefix+"cache", w)
	b := newInstance(t, rdbB, prefix+"cache", w)
	get(b.handler, "/api/v1/planning")

	// Kill instance B's subscription connection, and only it.
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") || !strings.Contains(line, " sub=1 ") {
			continue
		}
		id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("killed %d subscription connections, want 1", killed)
	}

	t.Run("the subscriber resubscribes and flushes what it may have missed", func(t *testing.T) {
		waitFor(t, func() bool { return b.cache.Stats().Flushes == 1 })
		if r := get(b.handler, "/api/v1/planning"); r.cacheStatus != miss {
			t.Fatalf("entry cached before the disconnection: %q", r.cacheStatus)
		}
		if b.cache.Stats().Errors == 0 {
			t.Fatal("the lost connection was not reported")
		}
	})
	t.Run("broadcasts are received again", func(t *testing.T) {
		get(b.handler, "/api/v1/chantiers")
		w.mutate("chantiers")
		if err := a.cache.Invalidate(ctx, "chantiers"); err != nil {
			t.Fatal(err)
		}
		within(t, 100*time.Millisecond, "instance B shows the change", func() bool {
			return strings.Contains(get(b.handler, "/api/v1/chantiers").body, `"chantiers":1`)
		})
	})
}

const unsynced = "hubchantier; fwd=bypass; detail=unsynced"

func TestUnreachableRedisNeverFailsRequests(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	w := newWorld()
	cfg := testConfig()
	cfg.Redis = rdb
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := cache.New(cfg)
	if err != nil {
		t.Fatalf("New with Redis down: %v", err)
	}
	defer c.Close()
	h := c.Middleware(&app{world: w})

	// Invalidations of other instances cannot arrive: nothing is served
	// from the cache, or stored in it.
	for range 3 {
		if r := get(h, "/api/v1/chantiers"); r.cacheStatus != unsynced || r.status != http.StatusOK {
			t.Fatalf("without the invalidation channel: %d %q", r.status, r.cacheStatus)
		}
	}
	if c.Synced() || c.Stats().Stores != 0 || c.Stats().Hits != 0 {
		t.Fatalf("synced %v, stats %+v", c.Synced(), c.Stats())
	}
	w.mutate("chantiers")
	if err := c.Invalidate(context.Background(), "chantiers"); err == nil {
		t.Fatal("Invalidate reported no broadcast failure")
	}
	if r := get(h, "/api/v1/chantiers"); r.cacheStatus != unsynced || !strings.Contains(r.body, `"chantiers":1`) {
		t.Fatalf("after a change: %q %s", r.cacheStatus, r.body)
	}
	if c.Stats().Errors == 0 {
		t.Fatal("broadcast failure not counted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(ctx); err == nil {
		t.Fatal("WaitReady succeeded without Redis")
	}
}
