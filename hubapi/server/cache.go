package server

import (
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

// Cached v1 routes: the spec's TTLs (lists 300 s, stats 60 s, planning
// 120 s) and the resource types each depends on.
var cachedRoutes = map[string]cache.Route{
	"/api/v1/chantiers":    {TTL: 300 * time.Second, DependsOn: []string{"chantiers"}},
	"/api/v1/pointages":    {TTL: 300 * time.Second, DependsOn: []string{"pointages"}},
	"/api/v1/documents":    {TTL: 300 * time.Second, DependsOn: []string{"documents"}},
	"/api/v1/signalements": {TTL: 300 * time.Second, DependsOn: []string{"signalements"}},
	"/api/v1/affectations": {TTL: 300 * time.Second, DependsOn: []string{"affectations"}},
	"/api/v1/planning":     {TTL: 120 * time.Second, DependsOn: []string{"affectations"}},
	"/api/v1/stats":        {TTL: 60 * time.Second, DependsOn: []string{"chantiers", "pointages", "signalements", "affectations"}},
}

func newCache(cfg Config, rdb *redis.Client, log *slog.Logger, m *metrics.Metrics) (*cache.Cache, error) {
	size := cfg.CacheMaxMB
	if size == 0 {
		size = 256
	}
	c := cache.Config{
		Routes:           cachedRoutes,
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
