package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// benchWriter is a ResponseWriter that keeps the status and the size of the
// body only, so that the benchmarks measure the pipeline, not a recorder.
// Each request gets a fresh header map, as net/http gives it.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

// benchServer is the reference server on a SQLite file holding 40
// chantiers, with an admin key, logs formatted in JSON and discarded (as
// cmd/hubbench runs it) and lifted quotas.
func benchServer(b *testing.B, cacheOn bool) (http.Handler, string) {
	b.Helper()
	ctx := context.Background()
	db := testenv.SQLite(b)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		b.Fatal(err)
	}
	cfg := server.Config{
		DB:         store.Wrap(db.DB),
		CursorKeys: [][]byte{key},
		BlobDir:    b.TempDir(),
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		RateLimits: "GET /api/v1/chantiers=1000000/s;POST /api/v1/chantiers=1000000/s;* /graphql=1000000/s",
	}
	if !cacheOn {
		cfg.CacheMaxMB = -1
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	u := &hubapi.User{Email: "bench@test.hubchantier.fr", Nom: "Bench", Prenom: "Hub", Role: hubapi.RoleAdmin}
	if err := srv.Operator.CreateUser(ctx, u, ""); err != nil {
		b.Fatal(err)
	}
	_, secret, err := srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: u.ID, Name: "bench", Scopes: hubapi.AllScopes})
	if err != nil {
		b.Fatal(err)
	}
	auth := "Bearer " + secret
	for i := range 40 {
		body := fmt.Sprintf(`{"code":"CH-BENCH-%03d","nom":"Réhabilitation immeuble %d","adresse":"%d rue de la Paix","ville":"Paris"}`, i, i, i)
		r := httptest.NewRequest(http.MethodPost, "/api/v1/chantiers", strings.NewReader(body))
		r.Header.Set("Authorization", auth)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("create chantier: %d %s", w.Code, w.Body)
		}
	}
	return srv.Handler, auth
}

// benchListPath is the list request of cmd/hubbench's mix.
const benchListPath = "/api/v1/chantiers?limit=20&fields=id,code,nom,statut,ville,updated_at"

func benchListRequest(auth string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, benchListPath, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Authorization", auth)
	r.Header.Set("User-Agent", "Go-http-client/1.1")
	r.Header.Set("Accept-Encoding", "gzip")
	return r
}

// BenchmarkPipelineListHit is one cached list page served by the whole
// reference pipeline (access log, security headers, metrics, client IP,
// authentication, rate limit, conditional requests, response cache),
// without net/http's connection handling.
func BenchmarkPipelineListHit(b *testing.B) {
	h, auth := benchServer(b, true)
	r := benchListRequest(auth)
	var first []byte
	{
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		first = rec.Body.Bytes()
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if got := rec.Header().Get("Cache-Status"); !strings.HasSuffix(got, "; hit") || !bytes.Equal(rec.Body.Bytes(), first) {
		b.Fatalf("second request not a hit with the same body: %q", got)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(first)))
	for b.Loop() {
		w := &benchWriter{h: make(http.Header)}
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK || w.n != len(first) {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
}

// BenchmarkPipelineListRevalidate is the same request with the page's
// ETag in If-None-Match: a 304 from the cache.
func BenchmarkPipelineListRevalidate(b *testing.B) {
	h, auth := benchServer(b, true)
	r := benchListRequest(auth)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	r.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	b.ReportAllocs()
	for b.Loop() {
		w := &benchWriter{h: make(http.Header)}
		h.ServeHTTP(w, r)
		if w.status != http.StatusNotModified {
			b.Fatalf("status %d", w.status)
		}
	}
}
