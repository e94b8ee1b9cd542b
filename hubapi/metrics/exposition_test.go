package metrics_test

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// promtool returns the path of promtool (Debian package "prometheus"). The
// test is skipped without it, unless HUB_TEST_PROMTOOL=1 (CI) makes its
// absence a failure.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("HUB_TEST_PROMTOOL") == "1" {
			t.Fatal("promtool not found and HUB_TEST_PROMTOOL=1")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	return p
}

// withTraffic returns Metrics that saw requests through the middleware and
// a call of every hook, with a database pool observed: every series the
// package can expose is present.
func withTraffic(t *testing.T, db *sql.DB) *metrics.Metrics {
	t.Helper()
	m := newMetrics(t, metrics.Config{})
	h := apiRouter(m)
	for _, req := range []struct{ method, target string }{
		{"GET", "/api/v1/chantiers/1"}, {"GET", "/api/v1/chantiers/404"}, {"POST", "/api/v1/chantiers"},
		{"DELETE", "/api/v1/chantiers/2"}, {"BREW", "/api/v1/chantiers/3"}, {"GET", "/api/v1/hints"},
	} {
		serve(h, req.method, req.target)
	}
	m.CacheHit()
	m.CacheMiss()
	m.CacheEviction(3)
	m.CacheError()
	m.RateLimitExceeded("/api/v1/chantiers")
	m.RateLimitStoreError()
	for _, reason := range []string{metrics.AuthMissing, metrics.AuthInvalid, "made-up"} {
		m.AuthFailure(reason)
	}
	m.APIRequest(metrics.VersionV1, 7)
	m.APIRequest(metrics.VersionV2, 7)
	m.SetActiveAPIKeys(func() int { return 4 })
	m.SetOpenAnomalies(func() map[string]int { return map[string]int{"scanning_behavior": 1} })
	m.ObserveDB(db)
	return m
}

func TestExpositionAfterTraffic(t *testing.T) {
	db := testenv.SQLite(t)
	m := withTraffic(t, db.DB.DB)
	text := exposition(m)
	lintExposition(t, text)

	for _, series := range []string{
		`api_requests_total{method="GET",route="/api/v1/chantiers/{id}",status="200"}`,
		`api_request_duration_seconds_count{method="GET",route="/api/v1/chantiers/{id}"}`,
		`api_requests_in_flight`,
		`api_cache_hits_total`, `api_cache_misses_total`, `api_cache_evictions_total`, `api_cache_errors_total`,
		`api_rate_limit_exceeded_total{route="/api/v1/chantiers"}`, `api_rate_limit_store_errors_total`,
		`api_auth_failures_total{reason="invalid"}`, `api_auth_failures_total{reason="other"}`,
		`active_api_keys`,
		`db_pool_open_connections`, `db_pool_in_use_connections`, `db_pool_idle_connections`,
		`db_pool_max_open_connections`, `db_pool_waits_total`, `db_pool_wait_seconds_total`,
		`go_goroutines`, `process_resident_memory_bytes`, `process_open_fds`, `process_cpu_seconds_total`,
	} {
		mustValue(t, text, series)
	}
	for _, dropped := range []string{"go_cgo_calls_count", "go_cpu_count", "go_gc_forced_count"} {
		if familyNames(text)[dropped] {
			t.Errorf("%s is exposed; it breaks promtool's naming rules", dropped)
		}
	}
	if !strings.Contains(text, "# TYPE process_io_read_bytes_total counter\n") {
		t.Error("process_io_read_bytes_total is not typed as a counter")
	}
}

func TestPromtoolCheckMetrics(t *testing.T) {
	bin := promtool(t)
	db := testenv.SQLite(t)
	text := exposition(withTraffic(t, db.DB.DB))
	if dir := os.Getenv("HUB_METRICS_DUMP_DIR"); dir != "" { // for CI artefacts and manual checks
		if err := os.WriteFile(filepath.Join(dir, "metrics.txt"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil || out.Len() > 0 {
		t.Fatalf("promtool check metrics must print nothing: %v\n%s", err, out.String())
	}
}

func TestHandlerServesExposition(t *testing.T) {
	m := newMetrics(t, metrics.Config{})
	m.CacheHit()
	h, err := m.Handler(metrics.AccessConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != metrics.ContentType {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	text := rec.Body.String()
	if got := mustValue(t, text, "api_cache_hits_total"); got != 1 {
		t.Errorf("api_cache_hits_total = %v", got)
	}
	mustValue(t, text, "go_goroutines")
	lintExposition(t, text)
}
