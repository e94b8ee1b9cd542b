package rest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestResponseCacheHitAndInvalidation(t *testing.T) {
	tdb := testenv.SQLite(t)
	ts, key := startServer(t, tdb)
	res, _ := do(t, ts, key, "GET", "/api/v1/chantiers", "")
	if cs := res.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=miss") {
		t.Fatalf("first GET: %q", cs)
	}
	res, _ = do(t, ts, key, "GET", "/api/v1/chantiers", "")
	if cs := res.Header.Get("Cache-Status"); !strings.HasSuffix(cs, "; hit") {
		t.Fatalf("second GET: %q", cs)
	}
	do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-9","nom":"n","adresse":"a"}`)
	res, body := do(t, ts, key, "GET", "/api/v1/chantiers", "")
	if cs := res.Header.Get("Cache-Status"); strings.HasSuffix(cs, "; hit") || !strings.Contains(string(body), "CH-9") {
		t.Fatalf("after POST: %q %s", cs, body)
	}
	// stats depends on chantiers too
	do(t, ts, key, "GET", "/api/v1/stats", "")
	res, _ = do(t, ts, key, "GET", "/api/v1/stats", "")
	if !strings.HasSuffix(res.Header.Get("Cache-Status"), "; hit") {
		t.Fatal("stats not cached")
	}
	do(t, ts, key, "PATCH", "/api/v1/chantiers/1", `{"statut":"ferme"}`)
	res, body = do(t, ts, key, "GET", "/api/v1/stats", "")
	if strings.HasSuffix(res.Header.Get("Cache-Status"), "; hit") || !strings.Contains(string(body), `"ferme":1`) {
		t.Fatalf("stats after PATCH: %s", body)
	}
}

// Two instances on one database and one Redis: a mutation on one is seen
// by the next GET on the other.
func TestResponseCacheAcrossInstances(t *testing.T) {
	testenv.Redis(t) // skips without HUB_TEST_REDIS_URL, fails when unreachable
	tdb := testenv.SQLite(t)
	cfg := server.Config{DB: store.Wrap(tdb.DB), RedisURL: testenv.RedisURL()}
	a, srvA, key := startServerWith(t, cfg)
	b, srvB, _ := startServerWith(t, cfg)
	for _, s := range []*server.Server{srvA, srvB} {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		if err := s.Cache.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	do(t, b, key, "GET", "/api/v1/chantiers", "")
	res, _ := do(t, b, key, "GET", "/api/v1/chantiers", "")
	if !strings.HasSuffix(res.Header.Get("Cache-Status"), "; hit") {
		t.Fatal("B did not cache")
	}
	do(t, a, key, "POST", "/api/v1/chantiers", `{"code":"CH-X","nom":"n","adresse":"a"}`)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, body := do(t, b, key, "GET", "/api/v1/chantiers", "")
		if strings.Contains(string(body), "CH-X") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("instance B still serves the stale list")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// A caller lacking the scope gets 403 even when the list is cached for
// another caller; a caller with other scopes gets its own entry.
func TestResponseCacheIsolation(t *testing.T) {
	tdb := testenv.SQLite(t)
	ts, srv, key := startServerWith(t, server.Config{DB: store.Wrap(tdb.DB)})
	ctx := context.Background()
	admin, _ := srv.Operator.FindUserByEmail(ctx, "admin@test.fr")
	_, statsOnly, err := srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: admin.ID, Name: "s", Scopes: []hubapi.Scope{hubapi.ScopeStatsRead}})
	if err != nil {
		t.Fatal(err)
	}
	_, readOnly, _ := srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: admin.ID, Name: "r", Scopes: []hubapi.Scope{hubapi.ScopeChantiersRead}})
	do(t, ts, key, "GET", "/api/v1/chantiers", "")
	do(t, ts, key, "GET", "/api/v1/chantiers", "")
	if res, _ := do(t, ts, statsOnly, "GET", "/api/v1/chantiers", ""); res.StatusCode != 403 {
		t.Fatalf("key without chantiers:read got %d", res.StatusCode)
	}
	res, _ := do(t, ts, readOnly, "GET", "/api/v1/chantiers", "")
	if res.StatusCode != 200 || strings.HasSuffix(res.Header.Get("Cache-Status"), "; hit") {
		t.Fatalf("other visibility shared an entry: %d %q", res.StatusCode, res.Header.Get("Cache-Status"))
	}
}
