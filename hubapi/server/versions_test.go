package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/apiversion"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// TestV1DeprecationHeaders: every v1 answer of the assembled server, 2xx,
// 4xx and the document, carries Deprecation, Sunset (never earlier), the
// deprecation and sunset links (after pagination's) and the notice; no v2
// answer does.
func TestV1DeprecationHeaders(t *testing.T) {
	deprecated := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: func(c *server.Config) {
		c.V1Deprecation = deprecated
	}})
	admin := env.As(hubapi.RoleAdmin)
	for i := 0; i < 3; i++ {
		newChantier(t, admin, nil)
	}
	first := admin.Get(t, v1+"/chantiers?limit=2")
	var page struct {
		Pagination struct {
			NextCursor string `json:"next_cursor"`
		} `json:"pagination"`
	}
	first.JSON(&page)
	for name, r := range map[string]*apitest.Response{
		"list (offset)":      first,
		"list (cursor)":      admin.Get(t, v1+"/chantiers?limit=2&cursor="+page.Pagination.NextCursor),
		"401":                env.Anonymous().Get(t, v1+"/chantiers", apitest.Invalid()),
		"404 of a resource":  admin.Get(t, v1+"/chantiers/9999"),
		"404 of no endpoint": admin.Get(t, v1+"/nothing", apitest.Undocumented()),
		"document":           env.Anonymous().Get(t, v1+"/openapi.json"),
	} {
		h := r.Header
		if h.Get("Deprecation") != "@1796083200" || h.Get("X-API-Deprecation") != "v1 deprecated, migrate to v2" {
			t.Errorf("%s: Deprecation %q, X-API-Deprecation %q", name, h.Get("Deprecation"), h.Get("X-API-Deprecation"))
		}
		sunset, err := time.Parse(time.RFC1123, h.Get("Sunset"))
		if err != nil || !sunset.Equal(apiversion.DefaultSunset) || sunset.Before(deprecated) {
			t.Errorf("%s: Sunset %q (%v)", name, h.Get("Sunset"), err)
		}
		link := h.Get("Link")
		if !strings.Contains(link, `</docs/migration-v1-v2>; rel="deprecation"`) || !strings.Contains(link, `</docs/migration-v1-v2>; rel="sunset"`) {
			t.Errorf("%s: Link %q", name, link)
		}
		if strings.HasPrefix(name, "list") && !strings.HasPrefix(link, "</api/v1/chantiers?") {
			t.Errorf("%s: the pagination link is not kept first: %q", name, link)
		}
	}
	for _, r := range []*apitest.Response{
		admin.Get(t, v2+"/chantiers?limit=2"), env.Anonymous().Get(t, v2+"/chantiers", apitest.Invalid()),
		env.Anonymous().Get(t, v2+"/openapi.json"),
	} {
		for _, k := range []string{"Deprecation", "Sunset", "X-API-Deprecation"} {
			if r.Header.Get(k) != "" {
				t.Errorf("%s on a response outside v1", k)
			}
		}
		if strings.Contains(r.Header.Get("Link"), "deprecation") {
			t.Errorf("deprecation link outside v1: %q", r.Header.Get("Link"))
		}
	}
}

// A sunset earlier than the deprecation is a configuration error.
func TestNewRefusesASunsetBeforeTheDeprecation(t *testing.T) {
	db := testenv.SQLite(t)
	_, err := server.New(context.Background(), server.Config{DB: store.Wrap(db.DB), BlobDir: t.TempDir(), CursorKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		V1Deprecation: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	if !errors.Is(err, apiversion.ErrSunsetBeforeDeprecation) {
		t.Fatalf("New: %v, want ErrSunsetBeforeDeprecation", err)
	}
}

// v1 use is counted per API key (the key's id), v2 is not; both by version.
func TestV1UseIsCountedPerKey(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	cond := env.As(hubapi.RoleConducteur)
	cond.Get(t, v1+"/users/me").Expect(200)
	cond.Get(t, v1+"/users/me").Expect(200)
	cond.Get(t, v2+"/users/me").Expect(200)
	var b strings.Builder
	env.Server.Metrics.WritePrometheus(&b)
	out := b.String()
	// The conducteur's key is the second key issued (one per role, in order).
	for _, want := range []string{`api_v1_requests_by_key_total{key_id="2"} 2`, `api_version_requests_total{version="v2"} 1`,
		`api_version_requests_total{version="v1"} 2`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Quotas and request metrics are per version: v1 and v2 of one route have
// their own counters, and metrics name the versioned route template.
func TestQuotasAndMetricsAreByVersion(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: "GET /api/v1/users/me=2/m;GET /api/v2/users/me=2/m"})
	cond := env.As(hubapi.RoleConducteur)
	for _, v := range []string{v1, v2} {
		cond.Get(t, v+"/users/me").Expect(200)
		cond.Get(t, v+"/users/me").Expect(200)
	}
	for _, v := range []string{v1, v2} {
		cond.Get(t, v+"/users/me").Problem(429, "rate-limit-exceeded")
	}
	var b strings.Builder
	env.Server.Metrics.WritePrometheus(&b)
	out := b.String()
	for _, want := range []string{
		`api_rate_limit_exceeded_total{route="/api/v1/users/me"} 1`, `api_rate_limit_exceeded_total{route="/api/v2/users/me"} 1`,
		`api_requests_total{method="GET",route="/api/v1/users/me",status="200"} 2`, `api_requests_total{method="GET",route="/api/v2/users/me",status="200"} 2`,
		`api_requests_total{method="GET",route="/api/v2/users/me",status="429"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}
