package metrics_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestFixedSeriesStartAtZero(t *testing.T) {
	text := exposition(newMetrics(t, metrics.Config{}))
	for _, series := range []string{
		"api_requests_in_flight", "api_cache_hits_total", "api_cache_misses_total", "api_cache_evictions_total",
		"api_cache_errors_total", "api_rate_limit_store_errors_total",
		`api_auth_failures_total{reason="missing"}`, `api_auth_failures_total{reason="malformed"}`,
		`api_auth_failures_total{reason="invalid"}`, `api_auth_failures_total{reason="expired"}`,
		`api_auth_failures_total{reason="revoked"}`, `api_auth_failures_total{reason="insufficient_scope"}`,
		`api_auth_failures_total{reason="other"}`,
	} {
		if got := mustValue(t, text, series); got != 0 {
			t.Errorf("%s = %v before any event, want 0", series, got)
		}
	}
	for _, absent := range []string{"active_api_keys", "db_pool_open_connections"} {
		if _, ok := value(t, text, absent); ok {
			t.Errorf("%s is exposed before it was configured", absent)
		}
	}
}

func TestHooks(t *testing.T) {
	tests := []struct {
		name   string
		call   func(m *metrics.Metrics)
		series string
		want   float64
	}{
		{"CacheHit counts hits", func(m *metrics.Metrics) { m.CacheHit(); m.CacheHit() }, "api_cache_hits_total", 2},
		{"CacheMiss counts misses", func(m *metrics.Metrics) { m.CacheMiss() }, "api_cache_misses_total", 1},
		{"CacheEviction adds n", func(m *metrics.Metrics) { m.CacheEviction(5); m.CacheEviction(2) }, "api_cache_evictions_total", 7},
		{"CacheEviction ignores n <= 0", func(m *metrics.Metrics) { m.CacheEviction(0); m.CacheEviction(-3) }, "api_cache_evictions_total", 0},
		{"CacheError counts failures", func(m *metrics.Metrics) { m.CacheError() }, "api_cache_errors_total", 1},
		{"RateLimitExceeded counts per route template", func(m *metrics.Metrics) {
			m.RateLimitExceeded("/api/v1/stats")
			m.RateLimitExceeded("/api/v1/stats")
			m.RateLimitExceeded("/api/v1/chantiers")
		}, `api_rate_limit_exceeded_total{route="/api/v1/stats"}`, 2},
		{"RateLimitExceeded without a route is unmatched", func(m *metrics.Metrics) { m.RateLimitExceeded("") },
			`api_rate_limit_exceeded_total{route="unmatched"}`, 1},
		{"RateLimitStoreError counts store failures", func(m *metrics.Metrics) { m.RateLimitStoreError() }, "api_rate_limit_store_errors_total", 1},
		{"AuthFailure counts by reason", func(m *metrics.Metrics) {
			m.AuthFailure(metrics.AuthExpired)
			m.AuthFailure(metrics.AuthExpired)
		}, `api_auth_failures_total{reason="expired"}`, 2},
		{"AuthFailure with an unknown reason counts as other", func(m *metrics.Metrics) {
			m.AuthFailure("user jean@example.com not found")
		}, `api_auth_failures_total{reason="other"}`, 1},
		{"SetActiveAPIKeys reports the callback", func(m *metrics.Metrics) { m.SetActiveAPIKeys(func() int { return 12 }) }, "active_api_keys", 12},
		{"SetActiveAPIKeys replaces an earlier callback", func(m *metrics.Metrics) {
			m.SetActiveAPIKeys(func() int { return 1 })
			m.SetActiveAPIKeys(func() int { return 2 })
		}, "active_api_keys", 2},
		{"a negative key count is reported as 0", func(m *metrics.Metrics) { m.SetActiveAPIKeys(func() int { return -1 }) }, "active_api_keys", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Config{})
			tc.call(m)
			text := exposition(m)
			if got := mustValue(t, text, tc.series); got != tc.want {
				t.Errorf("%s = %v, want %v", tc.series, got, tc.want)
			}
			lintExposition(t, text)
		})
	}
}

func TestRateLimitRoutesAreBounded(t *testing.T) {
	m := newMetrics(t, metrics.Config{MaxRoutes: 1})
	m.RateLimitExceeded("/a")
	m.RateLimitExceeded("/b")
	m.RateLimitExceeded("/c")
	text := exposition(m)
	mustValue(t, text, `api_rate_limit_exceeded_total{route="/a"}`)
	if got := mustValue(t, text, `api_rate_limit_exceeded_total{route="other"}`); got != 2 {
		t.Errorf("other = %v, want 2", got)
	}
}

func TestSetActiveAPIKeysNilRemovesTheGauge(t *testing.T) {
	m := newMetrics(t, metrics.Config{})
	m.SetActiveAPIKeys(func() int { return 3 })
	m.SetActiveAPIKeys(nil)
	if _, ok := value(t, exposition(m), "active_api_keys"); ok {
		t.Error("active_api_keys still exposed after SetActiveAPIKeys(nil)")
	}
}

func TestHooksOnNilMetricsAreNoOps(t *testing.T) {
	var m *metrics.Metrics
	m.CacheHit()
	m.CacheMiss()
	m.CacheEviction(1)
	m.CacheError()
	m.RateLimitExceeded("/x")
	m.RateLimitStoreError()
	m.AuthFailure(metrics.AuthMissing)
	m.SetActiveAPIKeys(func() int { return 1 })
	m.ObserveDB(nil)
}

func TestHooksAreSafeForConcurrentUse(t *testing.T) {
	m := newMetrics(t, metrics.Config{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				m.CacheHit()
				m.RateLimitExceeded("/api/v1/stats")
				m.AuthFailure(metrics.AuthInvalid)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_ = exposition(m)
		}
	})
	wg.Wait()
	text := exposition(m)
	for _, series := range []string{"api_cache_hits_total", `api_rate_limit_exceeded_total{route="/api/v1/stats"}`, `api_auth_failures_total{reason="invalid"}`} {
		if got := mustValue(t, text, series); got != 8000 {
			t.Errorf("%s = %v, want 8000", series, got)
		}
	}
}

func TestObserveDBReportsPoolStats(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		sqldb := db.DB.DB
		sqldb.SetMaxOpenConns(3)
		m := newMetrics(t, metrics.Config{})
		m.ObserveDB(sqldb)

		ctx := context.Background()
		conn, err := sqldb.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		text := exposition(m)
		lintExposition(t, text)
		for series, want := range map[string]float64{
			"db_pool_in_use_connections":   1,
			"db_pool_max_open_connections": 3,
		} {
			if got := mustValue(t, text, series); got != want {
				t.Errorf("%s = %v, want %v", series, got, want)
			}
		}
		if got := mustValue(t, text, "db_pool_open_connections"); got < 1 {
			t.Errorf("db_pool_open_connections = %v, want >= 1", got)
		}
		for _, s := range []string{"db_pool_idle_connections", "db_pool_waits_total", "db_pool_wait_seconds_total"} {
			mustValue(t, text, s)
		}
		if !contains(text, "# TYPE db_pool_waits_total counter\n") || !contains(text, "# TYPE db_pool_in_use_connections gauge\n") {
			t.Error("pool series have the wrong TYPE")
		}

		_ = conn.Close()
		if got := mustValue(t, exposition(m), "db_pool_in_use_connections"); got != 0 {
			t.Errorf("db_pool_in_use_connections = %v after release, want 0", got)
		}
		m.ObserveDB(nil)
		if _, ok := value(t, exposition(m), "db_pool_open_connections"); ok {
			t.Error("pool series still exposed after ObserveDB(nil)")
		}
	})
}

func TestAPIRequestCountsVersionsAndV1Keys(t *testing.T) {
	m := newMetrics(t, metrics.Config{})
	m.APIRequest(metrics.VersionV1, 3)
	m.APIRequest(metrics.VersionV1, 3)
	m.APIRequest(metrics.VersionV1, 0) // no key (OAuth, anonymous): by version only
	m.APIRequest(metrics.VersionV2, 3) // v2 is not counted by key
	m.APIRequest("v9", 3)
	var b strings.Builder
	m.WritePrometheus(&b)
	out := b.String()
	for _, want := range []string{
		`api_version_requests_total{version="v1"} 3`,
		`api_version_requests_total{version="v2"} 1`,
		`api_version_requests_total{version="other"} 1`,
		`api_v1_requests_by_key_total{key_id="3"} 2`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if strings.Contains(out, `key_id="0"`) {
		t.Error("a request without a key is counted under a key")
	}
	var nilM *metrics.Metrics
	nilM.APIRequest(metrics.VersionV1, 1) // no-op, no panic
}
