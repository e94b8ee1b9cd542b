package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecoverer(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		status     int    // 0: the recoverer re-panics
		repanic    error  // the value re-panicked
		logged     bool   // a "panic" line with the request id
		bodyPrefix string // of a non-problem answer
	}{
		{"panic → 500 problem with the request id, logged", func(http.ResponseWriter, *http.Request) { panic("boom") },
			http.StatusInternalServerError, nil, true, ""},
		{"panic with an error value → 500 problem", func(http.ResponseWriter, *http.Request) { panic(errors.New("nil map")) },
			http.StatusInternalServerError, nil, true, ""},
		{"http.ErrAbortHandler → re-panicked, not logged", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) },
			0, http.ErrAbortHandler, false, ""},
		{"panic after the response started → logged, then aborted", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("partial"))
			panic("late")
		}, 0, http.ErrAbortHandler, true, ""},
		{"no panic → the handler's answer", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) },
			http.StatusOK, nil, false, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := requestID(recoverer(slog.New(slog.NewJSONHandler(&logs, nil)))(tc.handler))
			req := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers", nil)
			req.Header.Set("X-Request-Id", "trace-panic-1")
			rec := httptest.NewRecorder()
			var repanicked any
			func() {
				defer func() { repanicked = recover() }()
				h.ServeHTTP(rec, req)
			}()
			if tc.status == 0 {
				if repanicked != tc.repanic {
					t.Fatalf("re-panicked %v, want %v", repanicked, tc.repanic)
				}
			} else {
				if repanicked != nil {
					t.Fatalf("panic escaped: %v", repanicked)
				}
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d", rec.Code, tc.status)
				}
			}
			if tc.status == http.StatusInternalServerError {
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
					t.Fatalf("Content-Type %q", ct)
				}
				var p map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
					t.Fatal(err)
				}
				if p["status"] != float64(500) || p["request_id"] != "trace-panic-1" {
					t.Fatalf("problem %v", p)
				}
				if strings.Contains(rec.Body.String(), "boom") || strings.Contains(rec.Body.String(), "goroutine") {
					t.Fatalf("the panic leaks to the client: %s", rec.Body)
				}
			}
			if tc.bodyPrefix != "" && !strings.HasPrefix(rec.Body.String(), tc.bodyPrefix) {
				t.Fatalf("body %q", rec.Body)
			}
			logged := strings.Contains(logs.String(), `"msg":"panic"`) && strings.Contains(logs.String(), `"request_id":"trace-panic-1"`) &&
				strings.Contains(logs.String(), `"stack"`)
			if logged != tc.logged {
				t.Fatalf("logged %v, want %v: %s", logged, tc.logged, logs.String())
			}
		})
	}
}
