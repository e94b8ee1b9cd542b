package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi/route"
)

// The access log's line for matched, unmatched and aborted requests; the
// template comes from the route helper, never the raw path.
func TestAccessLogLine(t *testing.T) {
	r := mux.NewRouter()
	r.Use(route.Record)
	r.HandleFunc("/api/v1/chantiers/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r.HandleFunc("/abort/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		panic(http.ErrAbortHandler)
	})
	r.HandleFunc("/body", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("12345")) })
	tests := []struct {
		name, path, route string
		status, bytes     float64
	}{
		{"matched route → its template, not the raw path", "/api/v1/chantiers/4242?cursor=secret", "/api/v1/chantiers/{id}", 204, 0},
		{"no route → unmatched", "/nope/4242", "unmatched", 404, 19},
		{"aborted response → still logged", "/abort/7", "/abort/{id}", 200, 0},
		{"implicit 200 → status and size", "/body", "/body", 200, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := chain(r, requestID, route.Track, accessLog(slog.New(slog.NewJSONHandler(&logs, nil))))
			func() {
				defer func() { _ = recover() }()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
			}()
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("%v: %q", err, logs.String())
			}
			if line["msg"] != "request" || line["route"] != tc.route || line["status"] != tc.status || line["bytes"] != tc.bytes ||
				line["request_id"] == "" || line["method"] != "GET" {
				t.Fatalf("line %v", line)
			}
			if bytes.Contains(logs.Bytes(), []byte("4242")) || bytes.Contains(logs.Bytes(), []byte("secret")) {
				t.Fatalf("raw path or query logged: %s", logs.String())
			}
		})
	}
}
