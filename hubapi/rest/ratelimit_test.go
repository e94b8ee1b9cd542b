package rest_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestRateLimitPerRoute(t *testing.T) {
	tdb := testenv.SQLite(t)
	ts, _, key := startServerWith(t, server.Config{DB: store.Wrap(tdb.DB), RateLimits: "GET /api/v1/stats=2/m;GET /api/v1/chantiers/{id}=2/m"})
	for i, wantRemaining := range []string{"1", "0"} {
		res, _ := do(t, ts, key, "GET", "/api/v1/stats", "")
		if res.StatusCode != 200 || res.Header.Get("X-RateLimit-Limit") != "2" || res.Header.Get("X-RateLimit-Remaining") != wantRemaining {
			t.Fatalf("request %d: %d limit=%q remaining=%q", i, res.StatusCode, res.Header.Get("X-RateLimit-Limit"), res.Header.Get("X-RateLimit-Remaining"))
		}
		reset, err := strconv.ParseInt(res.Header.Get("X-RateLimit-Reset"), 10, 64)
		if now := time.Now().Unix(); err != nil || reset < now || reset > now+61 {
			t.Fatalf("X-RateLimit-Reset %q is not the Unix time of the window's end", res.Header.Get("X-RateLimit-Reset"))
		}
		if !strings.Contains(res.Header.Get("RateLimit-Policy"), "q=2") {
			t.Fatalf("RateLimit-Policy %q", res.Header.Get("RateLimit-Policy"))
		}
	}
	res, body := do(t, ts, key, "GET", "/api/v1/stats", "")
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("third request: %d %v %s", res.StatusCode, res.Header, body)
	}
	// other routes keep their own counters
	if res, _ := do(t, ts, key, "GET", "/api/v1/chantiers", ""); res.StatusCode != 200 {
		t.Fatalf("other route limited: %d", res.StatusCode)
	}
	// a 304 does not consume the quota
	res, _ = do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"C","nom":"n","adresse":"a"}`)
	loc := res.Header.Get("Location")
	for i := 0; i < 5; i++ {
		res, _ = do(t, ts, key, "GET", loc, "", "If-None-Match", `"v1"`)
		if res.StatusCode != 304 {
			t.Fatalf("revalidation %d: %d", i, res.StatusCode)
		}
	}
	if res, _ := do(t, ts, key, "GET", loc, ""); res.StatusCode != 200 {
		t.Fatalf("quota consumed by 304s: %d", res.StatusCode)
	}
}

func TestRateLimitConfigErrors(t *testing.T) {
	tdb := testenv.SQLite(t)
	_, err := server.New(t.Context(), server.Config{DB: store.Wrap(tdb.DB), BlobDir: t.TempDir(), RateLimits: "GET /api/v1/stats=five/m"})
	if err == nil || !strings.Contains(err.Error(), "HUB_RATE_LIMITS") {
		t.Fatalf("bad HUB_RATE_LIMITS accepted: %v", err)
	}
}
