package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/cache"
	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/hubapi/route"
)

// CacheTTL is how long the response cache serves a stored response, per
// type of resource. A zero member takes its DefaultCacheTTL value; a
// negative one leaves that type uncached.
type CacheTTL struct {
	// Lists: GET /chantiers, /pointages, /documents, /signalements,
	// /affectations, /clients, /factures and /depenses (HUB_CACHE_TTL_LISTS).
	Lists time.Duration
	// Stats: GET /stats (HUB_CACHE_TTL_STATS).
	Stats time.Duration
	// Planning: GET /planning (HUB_CACHE_TTL_PLANNING).
	Planning time.Duration
}

// DefaultCacheTTL are the product specification's TTLs: lists 5 min,
// statistics 1 min, planning 2 min.
var DefaultCacheTTL = CacheTTL{Lists: 300 * time.Second, Stats: 60 * time.Second, Planning: 120 * time.Second}

// MaxCacheTTL bounds every cache TTL.
const MaxCacheTTL = 24 * time.Hour

// withDefaults returns t with each zero member set to its default and each
// negative one to 0 (uncached), or an error naming a TTL outside
// [1 s, MaxCacheTTL].
func (t CacheTTL) withDefaults() (CacheTTL, error) {
	out := t
	for _, m := range []struct {
		name     string
		v        *time.Duration
		fallback time.Duration
	}{{"Lists", &out.Lists, DefaultCacheTTL.Lists}, {"Stats", &out.Stats, DefaultCacheTTL.Stats}, {"Planning", &out.Planning, DefaultCacheTTL.Planning}} {
		switch {
		case *m.v == 0:
			*m.v = m.fallback
		case *m.v < 0:
			*m.v = 0
		case *m.v < time.Second || *m.v > MaxCacheTTL:
			return out, fmt.Errorf("server: CacheTTL.%s %v outside [1s, %v]", m.name, *m.v, MaxCacheTTL)
		}
	}
	return out, nil
}

// cachedRoutes are the cached v1 routes, with their TTL and the resource
// types whose mutations invalidate them; a type whose TTL is 0 is left out.
func cachedRoutes(ttl CacheTTL) map[string]cache.Route {
	routes := map[string]cache.Route{}
	add := func(path string, ttl time.Duration, dependsOn ...string) {
		if ttl > 0 {
			routes[path] = cache.Route{TTL: ttl, DependsOn: dependsOn}
		}
	}
	for _, list := range []string{"chantiers", "pointages", "documents", "signalements", "affectations", "clients", "factures", "depenses"} {
		add("/api/v1/"+list, ttl.Lists, list)
	}
	add("/api/v1/planning", ttl.Planning, "affectations")
	add("/api/v1/stats", ttl.Stats, "chantiers", "pointages", "signalements", "affectations")
	return routes
}

// newCache returns the response cache, or nil when no route is cached.
func newCache(cfg Config, rdb *redis.Client, log *slog.Logger, m *metrics.Metrics) (*cache.Cache, error) {
	ttl, err := cfg.CacheTTL.withDefaults()
	if err != nil {
		return nil, err
	}
	routes := cachedRoutes(ttl)
	if len(routes) == 0 {
		return nil, nil
	}
	size := cfg.CacheMaxMB
	if size == 0 {
		size = 256
	}
	c := cache.Config{
		Routes:           routes,
		Now:              cfg.CacheNow,
		RouteFunc:        route.Template,
		VaryFunc:         cacheVisibility,
		HardMaxCacheSize: size,
		// The conditional middleware runs outside the cache: stored pages
		// carry the tag it would compute, so that it trusts the tag of a
		// hit instead of buffering and hashing the body again.
		ETag:   func(body []byte) string { return etag.Of(body).String() },
		Logger: log,
		OnEvent: func(ev cache.Event) {
			switch ev.Kind {
			case cache.EventHit, cache.EventCollapsed:
				m.CacheHit()
			case cache.EventMiss:
				m.CacheMiss()
			case cache.EventEvict:
				m.CacheEviction(1)
			case cache.EventError:
				m.CacheError()
			}
		},
	}
	if rdb != nil {
		c.Redis = rdb
	}
	return cache.New(c)
}

// cacheVisibility partitions the cache by what the caller may see: role and
// effective scopes, plus the user for roles whose lists are filtered to
// their own rows (hubapi.Permissions: compagnons see only their pointages
// and affectations).
func cacheVisibility(r *http.Request) string {
	p := hubapi.PrincipalFrom(r.Context())
	v := p.Visibility()
	if p.ReadsOwnRowsOfSome() {
		v += "|u" + strconv.FormatInt(p.UserID, 10)
	}
	return v
}
