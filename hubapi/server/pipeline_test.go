package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// newServer builds a server on a fresh SQLite database from environment
// entries, as cmd/hubchantier does; logs go to the returned buffer.
func newServer(t *testing.T, environ ...string) (*server.Server, *lockedBuffer, error) {
	t.Helper()
	cfg, err := server.ConfigFromEnv(environ)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cfg.DB, cfg.BlobDir, cfg.Logger = store.Wrap(testenv.SQLite(t).DB), t.TempDir(), slog.New(slog.NewJSONHandler(logs, nil))
	srv, err := server.New(context.Background(), cfg)
	if err == nil {
		t.Cleanup(srv.Close)
	}
	return srv, logs, err
}

// /metrics judges the client address with the server's resolver and
// HUB_TRUSTED_PROXIES, on the API listener and on its own.
func TestMetricsAccessThroughTrustedProxies(t *testing.T) {
	tests := []struct {
		name, allowed, peer, xff string
		status                   int
	}{
		{"through a trusted proxy, client inside the allowed CIDRs → allowed", "192.168.10.0/24", "10.0.0.2:443", "192.168.10.20", 200},
		{"through a trusted proxy, client outside the allowed CIDRs → refused", "192.168.10.0/24", "10.0.0.2:443", "203.0.113.9", 403},
		{"proxy inside the allowed CIDRs, client outside → refused", "10.0.0.0/8", "10.0.0.2:443", "203.0.113.9", 403},
		{"spoofed left-most entry → refused", "192.168.10.0/24", "10.0.0.2:443", "192.168.10.20, 203.0.113.9", 403},
		{"untrusted peer claiming an allowed client → refused", "192.168.10.0/24", "203.0.113.9:443", "192.168.10.20", 403},
		{"direct client inside the allowed CIDRs → allowed", "192.168.10.0/24", "192.168.10.20:5000", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, err := newServer(t, "HUB_TRUSTED_PROXIES=10.0.0.0/8", "HUB_METRICS_ALLOWED_CIDRS="+tc.allowed)
			if err != nil {
				t.Fatal(err)
			}
			for name, h := range map[string]http.Handler{"API listener": srv.Handler, "own listener": srv.MetricsHandler} {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.RemoteAddr = tc.peer
				if tc.xff != "" {
					req.Header.Set("X-Forwarded-For", tc.xff)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.status {
					t.Errorf("%s: status %d, want %d", name, rec.Code, tc.status)
				}
			}
		})
	}
}

func TestRateLimitRulesMustNameExistingRoutes(t *testing.T) {
	var defaults []string
	for _, r := range server.DefaultRateLimits {
		for _, p := range r.Policies {
			defaults = append(defaults, fmt.Sprintf("%s %s=%d/%s", r.Method, r.Route, p.Limit, unit(t, p.Window)))
		}
	}
	tests := []struct {
		name, rules, refused string
	}{
		{"the default rules name existing routes", strings.Join(defaults, ";"), ""},
		{"a template with a parameter → accepted", "PATCH /api/v1/chantiers/{id}=5/m", ""},
		{"HEAD of a GET route → accepted", "HEAD /api/v1/stats=5/m", ""},
		{"any method of an existing template → accepted", "* /api/v1/planning=5/m", ""},
		{"unknown route → refused, named", "GET /api/v1/chantier=5/m", "GET /api/v1/chantier"},
		{"raw path instead of the template → refused", "GET /api/v1/chantiers/42=5/m", "GET /api/v1/chantiers/42"},
		{"method the route does not serve → refused", "DELETE /api/v1/stats=5/m", "DELETE /api/v1/stats"},
		{"route outside the API → refused", "GET /healthz=5/m", "GET /healthz"},
		{"any method of an unknown template → refused", "* /api/v3/chantiers=5/m", "* /api/v3/chantiers"},
		{"a v2 route → accepted (each version has its own quotas)", "* /api/v2/chantiers=5/m", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := newServer(t, "HUB_RATE_LIMITS="+tc.rules)
			if tc.refused == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "HUB_RATE_LIMITS") || !strings.Contains(err.Error(), tc.refused) {
				t.Fatalf("err %v, want one naming HUB_RATE_LIMITS and %s", err, tc.refused)
			}
		})
	}
}

func unit(t *testing.T, window time.Duration) string {
	u, ok := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h", 24 * time.Hour: "d"}[window]
	if !ok {
		t.Fatalf("window %v has no HUB_RATE_LIMITS unit", window)
	}
	return u
}

func TestUnknownVariablesAreWarnedAboutByName(t *testing.T) {
	_, logs, err := newServer(t, "HUB_CORS_ORIGIN=https://app.example.com", "HUB_TEST_REDIS_URL=redis://x", "HUB_SECRET_THING=hunter2")
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{`"level":"WARN"`, `"variable":"HUB_CORS_ORIGIN"`, `"variable":"HUB_SECRET_THING"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in the log:\n%s", want, out)
		}
	}
	for _, leak := range []string{"hunter2", "app.example.com", "HUB_TEST_REDIS_URL"} {
		if strings.Contains(out, leak) {
			t.Errorf("the log contains %q:\n%s", leak, out)
		}
	}
}

// Once CORS is configured, every answer varies by Origin, whatever the
// origin and the route (404 included), so shared caches keep them apart.
func TestCORSVaryOnEveryResponse(t *testing.T) {
	srv, _, err := newServer(t, "HUB_CORS_ORIGINS=https://app.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, method, path, origin, acao string }{
		{"allowed origin on /healthz → ACAO, Vary: Origin", http.MethodGet, "/healthz", "https://app.example.com", "https://app.example.com"},
		{"disallowed origin on /healthz → no ACAO, Vary: Origin", http.MethodGet, "/healthz", "https://evil.example", ""},
		{"no origin on an API route → no ACAO, Vary: Origin", http.MethodGet, "/api/v1/chantiers", "", ""},
		{"disallowed origin on an unknown route → no ACAO, Vary: Origin", http.MethodGet, "/nope", "https://evil.example", ""},
		{"disallowed preflight → no ACAO, Vary: Origin", http.MethodOptions, "/api/v1/chantiers", "https://evil.example", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", http.MethodGet)
			}
			rec := httptest.NewRecorder()
			srv.Handler.ServeHTTP(rec, req)
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.acao {
				t.Errorf("ACAO %q, want %q", got, tc.acao)
			}
			found := false
			for _, v := range rec.Header().Values("Vary") {
				for _, f := range strings.Split(v, ",") {
					found = found || strings.TrimSpace(f) == "Origin"
				}
			}
			if !found {
				t.Errorf("no Vary: Origin in %v (status %d)", rec.Header().Values("Vary"), rec.Code)
			}
		})
	}
}

// A bad value of a variable that only New can check still names it.
func TestNewNamesTheVariableOfABadValue(t *testing.T) {
	_, _, err := newServer(t, "HUB_METRICS_USER=prometheus", "HUB_METRICS_PASSWORD_HASH=not-a-hash-s3cret")
	if err == nil || !strings.Contains(err.Error(), "HUB_METRICS_PASSWORD_HASH") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err %v", err)
	}
}
