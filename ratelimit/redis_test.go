package ratelimit_test

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// redisStore returns a store on the test Redis with keys under a prefix of
// this test, deleted at cleanup.
func redisStore(t *testing.T, client redis.UniversalClient, prefix string) limiter.Store {
	t.Helper()
	t.Cleanup(func() { deleteKeys(t, prefix) })
	return redisstore.New(client, prefix)
}

// testPrefix is a key prefix under testenv.Prefix (which ends with ':').
func testPrefix(t testing.TB) string { return testenv.Prefix(t) + "ratelimit" }

func deleteKeys(t testing.TB, prefix string) {
	opt, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		return
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+":*", 100).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}

func TestRedisBoundary(t *testing.T) {
	checkBoundary(t, redisStore(t, testenv.Redis(t), testPrefix(t)))
}

func TestRedisWindowResetsAsAnnounced(t *testing.T) {
	checkWindowReset(t, redisStore(t, testenv.Redis(t), testPrefix(t)))
}

// Two server instances, each with its own Redis client, share one quota:
// hammered concurrently they let exactly the quota through, no more.
func TestRedisTwoInstancesShareExactQuota(t *testing.T) {
	const quota, workers, perWorker = 100, 8, 50
	prefix := testPrefix(t)
	cfg := func(client redis.UniversalClient) ratelimit.Config {
		return ratelimit.Config{
			Store:   redisStore(t, client, prefix),
			Timeout: 5 * time.Second, // a loaded CI machine must not turn into fail-open
			Limits: ratelimit.Limits{Rules: []ratelimit.Rule{
				{Method: "POST", Route: "/chantiers", Policies: []ratelimit.Policy{ratelimit.PerMinute(quota)}},
			}},
		}
	}
	servers := []*server{newServer(t, cfg(testenv.Redis(t)), nil), newServer(t, cfg(testenv.Redis(t)), nil)}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				code := servers[(w+i)%2].do("POST", "/chantiers", "shared-principal").Code
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if codes[200] != quota || codes[429] != workers*perWorker-quota {
		t.Fatalf("status counts %v, want exactly %d × 200 and %d × 429", codes, quota, workers*perWorker-quota)
	}
	if served := servers[0].served.Load() + servers[1].served.Load(); served != quota {
		t.Fatalf("handlers served %d requests, want %d", served, quota)
	}
}

// Redis goes away mid-test (a proxy in front of it refuses or swallows
// connections): requests keep being answered per policy, within the
// timeout, and limiting resumes, with the counters Redis kept, when it
// returns.
func TestRedisOutage(t *testing.T) {
	client, p := proxiedClient(t)
	const timeout = 200 * time.Millisecond
	store := redisStore(t, client, testPrefix(t))
	newInstance := func(failClosed bool, timeout time.Duration) *server {
		return newServer(t, ratelimit.Config{
			Store: store, Timeout: timeout, FailClosed: failClosed, Logger: slog.New(slog.DiscardHandler),
			Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(3)}},
		}, nil)
	}
	open, closed := newInstance(false, timeout), newInstance(true, timeout)

	// Spend the quota through an instance with a timeout no loaded machine
	// reaches, so that every charge lands.
	patient := newInstance(true, 10*time.Second)
	for i := 0; i < 3; i++ {
		if code := patient.do("GET", "/a", "k").Code; code != 200 {
			t.Fatalf("request %d before the outage: status %d", i, code)
		}
	}
	if code := patient.do("GET", "/a", "k").Code; code != 429 {
		t.Fatalf("over quota before the outage: status %d", code)
	}

	for _, mode := range []struct {
		name string
		m    proxyMode
	}{{"stopped", refuse}, {"hung", blackhole}} {
		t.Run("Redis "+mode.name, func(t *testing.T) {
			p.setMode(mode.m)
			for i := 0; i < 3; i++ {
				for _, c := range []struct {
					s    *server
					want int
				}{{open, 200}, {closed, 503}} {
					start := time.Now()
					rec := c.s.do("GET", "/a", "k")
					// The client's own timeouts are 30 s: only the Limiter's
					// can answer this fast (the bound leaves room for a
					// loaded machine).
					if elapsed := time.Since(start); elapsed > 5*time.Second {
						t.Errorf("answered after %s with a %s timeout", elapsed, timeout)
					}
					if rec.Code != c.want {
						t.Fatalf("status %d, want %d", rec.Code, c.want)
					}
				}
			}
		})
	}

	t.Run("Redis back", func(t *testing.T) {
		p.setMode(forward)
		for _, s := range []*server{open, closed} {
			waitForStatus(t, s, 429) // the 3 units charged before the outage are still counted
		}
	})
}

// A server starts, and serves, while Redis is unreachable; limiting begins
// when Redis answers.
func TestRedisUnreachableAtStart(t *testing.T) {
	client, p := proxiedClient(t)
	p.setMode(blackhole)
	s := newServer(t, ratelimit.Config{
		Store: redisStore(t, client, testPrefix(t)), Timeout: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(1)}},
	}, nil)
	for i := 0; i < 3; i++ {
		if rec := s.do("GET", "/a", "k"); rec.Code != 200 || rec.Header().Get("RateLimit") != "" {
			t.Fatalf("request %d while Redis is unreachable: status %d fields %v", i, rec.Code, rec.Header())
		}
	}
	p.setMode(forward)
	waitForStatus(t, s, 429)
}

// proxiedClient is a Redis client reaching the test Redis through a proxy,
// with timeouts far longer than the Limiter's and context deadlines ignored:
// the Limiter alone must bound its calls.
func proxiedClient(t *testing.T) (*redis.Client, *proxy) {
	testenv.Redis(t) // skips, or fails when the URL is set but Redis is down
	opt, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, opt.Addr)
	opt.Addr = p.addr()
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 30*time.Second, 30*time.Second, 30*time.Second
	opt.ContextTimeoutEnabled = false
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	return client, p
}

// waitForStatus repeats a request until it gets want; recovery takes a few
// attempts while the client replaces its broken connections.
func waitForStatus(t *testing.T, s *server, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got int
	for time.Now().Before(deadline) {
		if got = s.do("GET", "/a", "k").Code; got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("status still %d after 20 s, want %d", got, want)
}

// With Redis the 304 refund runs after the response: the counter goes back
// to what the 200 responses used.
func TestRedisRefundNotModified(t *testing.T) {
	client := testenv.Redis(t)
	prefix := testPrefix(t)
	s := newServer(t, ratelimit.Config{
		Store: redisStore(t, client, prefix), RefundNotModified: true,
		Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(5)}},
	}, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	for i := 0; i < 3; i++ {
		if code := s.do("GET", "/doc", "k").Code; code != http.StatusNotModified {
			t.Fatalf("status %d", code)
		}
	}
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var keys []string
		iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil || len(keys) != 1 {
			t.Fatalf("keys %q, err %v: want one counter", keys, iter.Err())
		}
		n, err := client.Get(ctx, keys[0]).Int64()
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter %d (err %v) 10 s after three 304s, want 0", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
