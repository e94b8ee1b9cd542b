package cache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/cache"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// discard is a ResponseWriter that keeps nothing, so that benchmarks
// measure the cache rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func (d *discard) reset() {
	clear(d.h)
}

// pageBody is a page of 100 chantiers as the v1 list returns it (~14 KB).
func pageBody() []byte {
	type chantier struct {
		ID      int64  `json:"id"`
		Nom     string `json:"nom"`
		Adresse string `json:"adresse"`
		Statut  string `json:"statut"`
	}
	items := make([]chantier, 100)
	for i := range items {
		items[i] = chantier{int64(i + 1), fmt.Sprintf("Chantier %d", i+1), fmt.Sprintf("%d rue de la Paix, 75002 Paris", i+1), "ouvert"}
	}
	b, _ := json.Marshal(map[string]any{"data": items, "next_cursor": "eyJpZCI6MTAwfQ"})
	return b
}

func benchCache(b *testing.B) *cache.Cache {
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := cache.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func staticHandler(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("ETag", `"abc123"`)
		h.Add("Link", `</api/v1/chantiers?cursor=eyJpZCI6MTAwfQ&limit=100>; rel="next"`)
		_, _ = w.Write(body)
	})
}

func benchRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers?limit=100&fields=id,nom", nil)
	r.Header.Set("Authorization", "Bearer hck_benchmark")
	r.Header.Set("X-Role", "admin|admin,chantiers:read")
	return r
}

// BenchmarkHit: a stored 100-chantier page served to an authorized caller.
func BenchmarkHit(b *testing.B) {
	c := benchCache(b)
	h := c.Middleware(staticHandler(pageBody()))
	r := benchRequest()
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if s := c.Stats(); s.Misses != 1 {
		b.Fatalf("not all hits: %+v", s)
	}
}

// BenchmarkHitParallel: the hit path under concurrency.
func BenchmarkHitParallel(b *testing.B) {
	c := benchCache(b)
	h := c.Middleware(staticHandler(pageBody()))
	h.ServeHTTP(&discard{h: http.Header{}}, benchRequest())
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest()
		w := &discard{h: http.Header{}}
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkMiss: the cache's cost on a miss (lookup, buffering, encoding and
// storing) around a handler that costs nothing.
func BenchmarkMiss(b *testing.B) {
	ctx := context.Background()
	c := benchCache(b)
	h := c.Middleware(staticHandler(pageBody()))
	r := benchRequest()
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = c.Invalidate(ctx, "chantiers")
		w.reset()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if s := c.Stats(); s.Hits != 0 {
		b.Fatalf("hits: %+v", s)
	}
}

// BenchmarkUncached: the same handler without the cache, for reference.
func BenchmarkUncached(b *testing.B) {
	h := staticHandler(pageBody())
	r := benchRequest()
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
}

// BenchmarkPostgresChantiers: GET /api/v1/chantiers?limit=100 on a table of
// 1,000,000 chantiers in PostgreSQL (HUB_TEST_POSTGRES_URL), through a
// handler doing a keyset query and JSON encoding, hit path against miss
// path. p50-ns is the median latency of one request.
func BenchmarkPostgresChantiers(b *testing.B) {
	db := testenv.Postgres(b)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE chantiers (id bigserial PRIMARY KEY, nom text NOT NULL, adresse text NOT NULL,
			statut text NOT NULL, version int NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO chantiers (nom, adresse, statut)
			SELECT 'Chantier ' || g, g || ' rue de la Paix, 75002 Paris', 'ouvert' FROM generate_series(1, 1000000) g`,
		`ANALYZE chantiers`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	type chantier struct {
		ID        int64     `json:"id"`
		Nom       string    `json:"nom"`
		Adresse   string    `json:"adresse"`
		Statut    string    `json:"statut"`
		Version   int       `json:"version"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		rows, err := db.QueryContext(r.Context(),
			`SELECT id, nom, adresse, statut, version, updated_at FROM chantiers WHERE id > ? ORDER BY id LIMIT 100`, after)
		if err != nil {
			http.Error(w, "db", http.StatusInternalServerError)
			return
		}
		defer rows.Close()
		page := make([]chantier, 0, 100)
		for rows.Next() {
			var c chantier
			if err := rows.Scan(&c.ID, &c.Nom, &c.Adresse, &c.Statut, &c.Version, &c.UpdatedAt); err != nil {
				http.Error(w, "db", http.StatusInternalServerError)
				return
			}
			page = append(page, c)
		}
		if rows.Err() != nil {
			http.Error(w, "db", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": page})
	})
	c := benchCache(b)
	h := c.Middleware(handler)
	r := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers?limit=100&after=500000", nil)
	r.Header.Set("X-Role", "admin|admin")
	probe := httptest.NewRecorder()
	handler.ServeHTTP(probe, r)
	var page struct{ Data []chantier }
	if err := json.Unmarshal(probe.Body.Bytes(), &page); probe.Code != http.StatusOK || err != nil || len(page.Data) != 100 {
		b.Fatalf("handler: %d %v, %d rows", probe.Code, err, len(page.Data))
	}

	run := func(b *testing.B, before func()) {
		w := &discard{h: http.Header{}}
		lat := make([]time.Duration, 0, 1024)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			before()
			w.reset()
			start := time.Now()
			h.ServeHTTP(w, r)
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		if s := c.Stats(); s.Errors != 0 {
			b.Fatalf("cache errors: %+v", s)
		}
	}
	b.Run("hit", func(b *testing.B) {
		h.ServeHTTP(&discard{h: http.Header{}}, r)
		before := c.Stats().Misses
		run(b, func() {})
		if s := c.Stats(); s.Misses != before {
			b.Fatalf("hit path missed: %+v", s)
		}
	})
	b.Run("miss", func(b *testing.B) {
		run(b, func() { _ = c.Invalidate(ctx, "chantiers") })
	})
}
