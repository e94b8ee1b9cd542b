package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Each resource type keeps its cached responses for its own TTL
// (Config.CacheTTL, HUB_CACHE_TTL_*): a list entry is served until its TTL
// and not after, so a row changed behind the API's back (no invalidation
// event) shows once the TTL has passed; statistics and the planning follow
// their own TTLs; a type whose TTL is negative (0 in the environment) is not
// cached.
func TestCacheTTLPerResourceType(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		clock := newFakeClock()
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: func(c *server.Config) {
			c.CacheTTL = server.CacheTTL{Lists: 30 * time.Second, Stats: 10 * time.Second, Planning: 20 * time.Second}
			c.CacheNow = clock.Now
		}})
		admin := env.As(hubapi.RoleAdmin)
		status := func(t *testing.T, path string) string {
			t.Helper()
			return admin.Get(t, path).Expect(200).Header.Get("Cache-Status")
		}

		t.Run("a list is served from the cache until its TTL, then the changed row shows", func(t *testing.T) {
			ch := newChantier(t, admin, map[string]any{"nom": "Avant"})
			path := v1 + "/chantiers?fields=id,nom&limit=100"
			nom := func(t *testing.T) (string, string) {
				t.Helper()
				var l listEnvelope[hubapi.Chantier]
				r := admin.Get(t, path).Expect(200).JSON(&l)
				for _, c := range l.Data {
					if c.ID == ch.ID {
						return c.Nom, r.Header.Get("Cache-Status")
					}
				}
				t.Fatalf("chantier %d not in the list", ch.ID)
				return "", ""
			}
			if n, st := nom(t); n != "Avant" || st != "hubchantier; fwd=miss" {
				t.Fatalf("first GET: nom %q, Cache-Status %q", n, st)
			}
			// Written to the database directly: no event, no invalidation.
			if _, err := env.Server.DB.ExecContext(context.Background(), `UPDATE chantiers SET nom = 'Après' WHERE id = ?`, ch.ID); err != nil {
				t.Fatal(err)
			}
			clock.Advance(29 * time.Second)
			if n, st := nom(t); n != "Avant" || st != "hubchantier; hit" {
				t.Fatalf("29 s later: nom %q, Cache-Status %q; want the cached page", n, st)
			}
			clock.Advance(2 * time.Second)
			if n, st := nom(t); n != "Après" || st != "hubchantier; fwd=stale" {
				t.Fatalf("31 s later: nom %q, Cache-Status %q; want the changed row", n, st)
			}
		})

		for _, tc := range []struct {
			name, path string
			ttl        time.Duration
		}{
			{"statistics follow HUB_CACHE_TTL_STATS", v1 + "/stats", 10 * time.Second},
			{"the planning follows HUB_CACHE_TTL_PLANNING", v1 + "/planning?from=2030-06-03&to=2030-06-09", 20 * time.Second},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if st := status(t, tc.path); st != "hubchantier; fwd=miss" {
					t.Fatalf("first GET: Cache-Status %q", st)
				}
				clock.Advance(tc.ttl - time.Second)
				if st := status(t, tc.path); st != "hubchantier; hit" {
					t.Fatalf("1 s before the TTL: Cache-Status %q", st)
				}
				clock.Advance(2 * time.Second)
				if st := status(t, tc.path); st != "hubchantier; fwd=stale" {
					t.Fatalf("1 s after the TTL: Cache-Status %q", st)
				}
			})
		}
	})
}

func TestCacheTTLZeroLeavesTheTypeUncached(t *testing.T) {
	cfg, err := server.ConfigFromEnv([]string{"HUB_CACHE_TTL_STATS=0"})
	if err != nil {
		t.Fatal(err)
	}
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: func(c *server.Config) {
		c.CacheTTL = cfg.CacheTTL
	}})
	admin := env.As(hubapi.RoleAdmin)
	for range 2 {
		if st := admin.Get(t, v1+"/stats").Expect(200).Header.Get("Cache-Status"); st != "hubchantier; fwd=bypass" {
			t.Fatalf("/stats: Cache-Status %q, want a bypass (not cached)", st)
		}
	}
	admin.Get(t, v1+"/chantiers").Expect(200)
	if st := admin.Get(t, v1+"/chantiers").Expect(200).Header.Get("Cache-Status"); st != "hubchantier; hit" {
		t.Fatalf("lists: Cache-Status %q, want a hit (their default TTL)", st)
	}

	t.Run("every type at 0 → no cache at all", func(t *testing.T) {
		env := apitest.Start(t, testenv.SQLite(t), apitest.Config{Configure: func(c *server.Config) {
			c.CacheTTL = server.CacheTTL{Lists: -1, Stats: -1, Planning: -1}
		}})
		if env.Server.Cache != nil {
			t.Fatal("a cache with no route")
		}
		if st := env.As(hubapi.RoleAdmin).Get(t, v1+"/chantiers").Expect(200).Header.Get("Cache-Status"); st != "" {
			t.Fatalf("Cache-Status %q", st)
		}
	})
}

func TestCacheTTLOutOfRangeStopsTheStart(t *testing.T) {
	for _, ttl := range []server.CacheTTL{{Lists: 500 * time.Millisecond}, {Stats: 25 * time.Hour}} {
		srv, err := server.New(context.Background(), server.Config{DB: store.Wrap(testenv.SQLite(t).DB), BlobDir: t.TempDir(), CacheTTL: ttl})
		if err == nil {
			srv.Close()
			t.Errorf("%+v accepted", ttl)
		} else if !strings.Contains(err.Error(), "CacheTTL") {
			t.Errorf("%+v: %v does not name CacheTTL", ttl, err)
		}
	}
}
