package rest_test

import (
	"encoding/json"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestConditionalRequests(t *testing.T) {
	tdb := testenv.SQLite(t)
	ts, srv, key := startServerWith(t, server.Config{DB: store.Wrap(tdb.DB)})
	res, body := do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-1","nom":"n","adresse":"a"}`)
	var c hubapi.Chantier
	_ = json.Unmarshal(body, &c)
	loc, tag := res.Header.Get("Location"), res.Header.Get("ETag")
	if tag != `"v1"` {
		t.Fatalf("ETag %q", tag)
	}
	t.Run("matching If-None-Match → 304 with ETag, no body", func(t *testing.T) {
		res, body := do(t, ts, key, "GET", loc, "", "If-None-Match", `W/"v1"`)
		if res.StatusCode != 304 || len(body) != 0 || res.Header.Get("ETag") != tag {
			t.Fatalf("%d %q %q", res.StatusCode, body, res.Header.Get("ETag"))
		}
	})
	t.Run("HEAD carries the validators", func(t *testing.T) {
		res, body := do(t, ts, key, "HEAD", loc, "")
		if res.StatusCode != 200 || len(body) != 0 || res.Header.Get("ETag") != tag || res.Header.Get("Last-Modified") == "" {
			t.Fatalf("%d %v", res.StatusCode, res.Header)
		}
	})
	t.Run("lists carry a content ETag and revalidate", func(t *testing.T) {
		res, _ := do(t, ts, key, "GET", "/api/v1/chantiers", "")
		lt := res.Header.Get("ETag")
		if lt == "" {
			t.Fatal("no list ETag")
		}
		res, _ = do(t, ts, key, "GET", "/api/v1/chantiers", "", "If-None-Match", lt)
		if res.StatusCode != 304 {
			t.Fatalf("list revalidation: %d", res.StatusCode)
		}
	})
	t.Run("If-Match on a missing resource → 412", func(t *testing.T) {
		res, _ := do(t, ts, key, "DELETE", "/api/v1/chantiers/999", "", "If-Match", "*")
		if res.StatusCode != 412 {
			t.Fatalf("%d", res.StatusCode)
		}
		res, _ = do(t, ts, key, "DELETE", "/api/v1/chantiers/999", "")
		if res.StatusCode != 404 {
			t.Fatalf("unconditional: %d", res.StatusCode)
		}
	})
	t.Run("weak If-Match never matches", func(t *testing.T) {
		res, _ := do(t, ts, key, "PATCH", loc, `{"nom":"x"}`, "If-Match", `W/"v1"`)
		if res.StatusCode != 412 {
			t.Fatalf("%d", res.StatusCode)
		}
	})
	t.Run("If-None-Match * on PUT of an existing resource → 412", func(t *testing.T) {
		res, _ := do(t, ts, key, "PUT", loc, `{"code":"CH-1","nom":"n","adresse":"a"}`, "If-None-Match", "*")
		if res.StatusCode != 412 {
			t.Fatalf("%d", res.StatusCode)
		}
	})
	t.Run("list of tags including the current one → write proceeds", func(t *testing.T) {
		res, _ := do(t, ts, key, "PATCH", loc, `{"nom":"y"}`, "If-Match", `"v9", "v1"`)
		if res.StatusCode != 200 || res.Header.Get("ETag") != `"v2"` {
			t.Fatalf("%d %s", res.StatusCode, res.Header.Get("ETag"))
		}
	})
	t.Run("validate takes If-Match", func(t *testing.T) {
		// Another user's pointage: nobody validates their own.
		worker, _ := newUser(t, srv, hubapi.RoleCompagnon)
		res, body := do(t, ts, key, "POST", "/api/v1/pointages", `{"chantier_id":1,"user_id":`+itoa(worker.ID)+`,"date":"2026-11-24","minutes":60,"statut":"soumis"}`)
		if res.StatusCode != 201 {
			t.Fatal(string(body))
		}
		var p hubapi.Pointage
		_ = json.Unmarshal(body, &p)
		res, _ = do(t, ts, key, "POST", "/api/v1/pointages/"+itoa(p.ID)+"/validate", "", "If-Match", `"v7"`)
		if res.StatusCode != 412 {
			t.Fatalf("stale validate: %d", res.StatusCode)
		}
		res, _ = do(t, ts, key, "POST", "/api/v1/pointages/"+itoa(p.ID)+"/validate", "", "If-Match", `"v1"`)
		if res.StatusCode != 200 || res.Header.Get("ETag") != `"v2"` {
			t.Fatalf("validate: %d", res.StatusCode)
		}
	})
}

func TestMethodNotAllowed(t *testing.T) {
	ts, key := startServer(t, testenv.SQLite(t))
	for path, allow := range map[string]string{
		"/api/v1/stats":       "GET, HEAD",
		"/api/v1/chantiers":   "GET, HEAD, POST",
		"/api/v1/chantiers/1": "GET, HEAD, PUT, PATCH, DELETE",
	} {
		res, _ := do(t, ts, key, "POST", path, `{}`)
		if path == "/api/v1/chantiers" {
			res, _ = do(t, ts, key, "PATCH", path, `{}`)
		}
		if res.StatusCode != 405 || res.Header.Get("Allow") != allow {
			t.Errorf("%s: %d Allow=%q", path, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}
