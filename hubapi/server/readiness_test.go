package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

// While the server starts, /healthz answers 200 and everything else 503
// problem+json with Retry-After.
func TestStartingHandler(t *testing.T) {
	h := server.NewSwapHandler(server.StartingHandler())
	if w := get(t, h, "/healthz"); w.Code != 200 {
		t.Errorf("/healthz while starting: %d", w.Code)
	}
	for _, p := range []string{"/readyz", "/api/v1/chantiers", "/docs"} {
		w := get(t, h, p)
		if w.Code != 503 || w.Header().Get("Retry-After") == "" || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s while starting: %d %v", p, w.Code, w.Header())
		}
	}
	h.Store(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	if w := get(t, h, "/readyz"); w.Code != 204 {
		t.Errorf("after Store: %d", w.Code)
	}
}

// SetUnready turns /readyz to 503 (while seeding, while shutting down);
// /healthz and the API keep answering.
func TestSetUnready(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		srv, err := server.New(context.Background(), server.Config{DB: store.Wrap(db.DB), BlobDir: t.TempDir(), CacheMaxMB: -1,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		if w := get(t, srv.Handler, "/readyz"); w.Code != 200 {
			t.Fatalf("/readyz: %d", w.Code)
		}
		srv.SetUnready("shutting down")
		w := get(t, srv.Handler, "/readyz")
		if w.Code != 503 || w.Header().Get("Retry-After") == "" {
			t.Errorf("/readyz when unready: %d %v", w.Code, w.Header())
		}
		if w := get(t, srv.Handler, "/healthz"); w.Code != 200 {
			t.Errorf("/healthz when unready: %d", w.Code)
		}
		if w := get(t, srv.Handler, "/api/v1/chantiers"); w.Code != 401 {
			t.Errorf("API when unready: %d", w.Code)
		}
		srv.SetReady()
		if w := get(t, srv.Handler, "/readyz"); w.Code != 200 {
			t.Errorf("/readyz after SetReady: %d", w.Code)
		}
	})
}
