package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func do(t *testing.T, h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestExampleServer(t *testing.T) {
	h, err := newHandler("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("anonymous clients get 3 stats a minute", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if rec := do(t, h, "GET", "/api/v1/stats"); rec.Code != 200 {
				t.Fatalf("request %d: %d", i, rec.Code)
			}
		}
		rec := do(t, h, "GET", "/api/v1/stats")
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("4th request: %d %v", rec.Code, rec.Header())
		}
	})
	t.Run("a premium key has its own, larger quota", func(t *testing.T) {
		rec := do(t, h, "GET", "/api/v1/stats", "Authorization", "Bearer hck_demo_premium")
		if rec.Code != 200 || rec.Header().Get("RateLimit-Policy") != `"minute";q=100;w=60` {
			t.Fatalf("%d %v", rec.Code, rec.Header())
		}
	})
	t.Run("an unknown key counts as its IP", func(t *testing.T) {
		if rec := do(t, h, "GET", "/api/v1/stats", "Authorization", "Bearer hck_made_up"); rec.Code != http.StatusTooManyRequests {
			t.Fatalf("%d", rec.Code)
		}
	})
	t.Run("the batch endpoint charges per operation", func(t *testing.T) {
		if rec := do(t, h, "POST", "/api/v1/batch?ops=7"); rec.Code != 200 || rec.Header().Get("X-RateLimit-Remaining") != "3" {
			t.Fatalf("%d %v", rec.Code, rec.Header())
		}
		if rec := do(t, h, "POST", "/api/v1/batch?ops=7"); rec.Code != http.StatusTooManyRequests {
			t.Fatalf("%d", rec.Code)
		}
	})
	t.Run("304 revalidations are free", func(t *testing.T) {
		for i := 0; i < 70; i++ {
			if rec := do(t, h, "GET", "/api/v1/chantiers/1", "If-None-Match", `"v1"`); rec.Code != http.StatusNotModified {
				t.Fatalf("revalidation %d: %d", i, rec.Code)
			}
		}
		if rec := do(t, h, "GET", "/api/v1/chantiers/1"); rec.Code != 200 || rec.Header().Get("X-RateLimit-Remaining") != "59" {
			t.Fatalf("%d %v", rec.Code, rec.Header())
		}
	})
}

func TestHubRateLimitsOverride(t *testing.T) {
	h, err := newHandler("GET /api/v1/stats=1/m", nil)
	if err != nil {
		t.Fatal(err)
	}
	do(t, h, "GET", "/api/v1/stats")
	if rec := do(t, h, "GET", "/api/v1/stats"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("%d", rec.Code)
	}
	if _, err := newHandler("GET /api/v1/stats=1/w", nil); err == nil || !strings.Contains(err.Error(), "HUB_RATE_LIMITS") {
		t.Fatalf("error %v", err)
	}
}
