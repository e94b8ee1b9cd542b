package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
)

// apiRouter is a small API shaped like the product's: the middleware is
// installed with router.Use and reads mux's route template.
func apiRouter(m *metrics.Metrics) *mux.Router {
	r := mux.NewRouter()
	r.Use(m.Middleware(metrics.MuxRoute))
	r.HandleFunc("/api/v1/chantiers/{id}", func(w http.ResponseWriter, r *http.Request) {
		if mux.Vars(r)["id"] == "404" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, `{"id":1}`)
	}).Methods(http.MethodGet, http.MethodHead, http.MethodDelete, "BREW")
	r.HandleFunc("/api/v1/chantiers", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/silent", func(http.ResponseWriter, *http.Request) {}) // writes nothing
	r.HandleFunc("/api/v1/hints", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusAccepted)
	})
	return r
}

func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestMiddlewareLabels(t *testing.T) {
	tests := []struct {
		name, method, target string
		series               string
	}{
		{"matched route is labelled by its template, never the raw path", "GET", "/api/v1/chantiers/42",
			`api_requests_total{method="GET",route="/api/v1/chantiers/{id}",status="200"}`},
		{"status is the exact code the handler wrote", "GET", "/api/v1/chantiers/404",
			`api_requests_total{method="GET",route="/api/v1/chantiers/{id}",status="404"}`},
		{"201 from WriteHeader without a body", "POST", "/api/v1/chantiers",
			`api_requests_total{method="POST",route="/api/v1/chantiers",status="201"}`},
		{"a handler that writes nothing counts as 200", "GET", "/api/v1/silent",
			`api_requests_total{method="GET",route="/api/v1/silent",status="200"}`},
		{"1xx informational answers are not the final status", "GET", "/api/v1/hints",
			`api_requests_total{method="GET",route="/api/v1/hints",status="202"}`},
		{"HEAD keeps its own method label", "HEAD", "/api/v1/chantiers/7",
			`api_requests_total{method="HEAD",route="/api/v1/chantiers/{id}",status="200"}`},
		{"a method outside RFC 9110 is OTHER", "BREW", "/api/v1/chantiers/7",
			`api_requests_total{method="OTHER",route="/api/v1/chantiers/{id}",status="200"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Config{})
			h := apiRouter(m)
			serve(h, tc.method, tc.target)
			serve(h, tc.method, tc.target)
			text := exposition(m)
			if got := mustValue(t, text, tc.series); got != 2 {
				t.Errorf("%s = %v, want 2", tc.series, got)
			}
			if strings.Contains(text, "/42") || strings.Contains(text, "/404") || strings.Contains(text, "/7") {
				t.Errorf("a raw path leaked into the labels:\n%s", grepAPI(text))
			}
			lintExposition(t, text)
		})
	}
}

func TestMiddlewareDurationHistogram(t *testing.T) {
	m := newMetrics(t, metrics.Config{Buckets: []float64{0.5, 60}})
	h := apiRouter(m)
	for range 3 {
		serve(h, "GET", "/api/v1/chantiers/1")
	}
	text := exposition(m)
	base := `api_request_duration_seconds_bucket{method="GET",route="/api/v1/chantiers/{id}",le=`
	for _, le := range []string{`"0.5"`, `"60"`, `"+Inf"`} {
		if got := mustValue(t, text, base+le+"}"); got != 3 {
			t.Errorf("bucket le=%s = %v, want 3", le, got)
		}
	}
	if got := mustValue(t, text, `api_request_duration_seconds_count{method="GET",route="/api/v1/chantiers/{id}"}`); got != 3 {
		t.Errorf("_count = %v, want 3", got)
	}
	if _, ok := value(t, text, `api_request_duration_seconds_sum{method="GET",route="/api/v1/chantiers/{id}"}`); !ok {
		t.Error("_sum missing")
	}
	if !strings.Contains(text, "# TYPE api_request_duration_seconds histogram\n") {
		t.Error("histogram TYPE line missing")
	}
}

func TestMiddlewareInFlight(t *testing.T) {
	m := newMetrics(t, metrics.Config{})
	var during float64
	h := m.Middleware(func(*http.Request) string { return "/x" })(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		during = mustValue(t, exposition(m), "api_requests_in_flight")
	}))
	serve(h, "GET", "/x")
	if during != 1 {
		t.Errorf("in flight during the request = %v, want 1", during)
	}
	if got := mustValue(t, exposition(m), "api_requests_in_flight"); got != 0 {
		t.Errorf("in flight after the request = %v, want 0", got)
	}
}

func TestMiddlewarePanic(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  string
	}{
		{"panic before writing counts as 500", func(http.ResponseWriter, *http.Request) { panic("boom") }, "500"},
		{"panic after writing keeps the status sent", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("boom")
		}, "202"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Config{})
			h := m.Middleware(func(*http.Request) string { return "/boom" })(tc.handler)
			func() {
				defer func() {
					if v := recover(); v != "boom" {
						t.Errorf("recovered %v, want the handler's panic to go on", v)
					}
				}()
				serve(h, "GET", "/boom")
			}()
			text := exposition(m)
			mustValue(t, text, `api_requests_total{method="GET",route="/boom",status="`+tc.status+`"}`)
			if got := mustValue(t, text, "api_requests_in_flight"); got != 0 {
				t.Errorf("in flight = %v after a panic, want 0", got)
			}
		})
	}
}

// routeHolder mimics the reference server: an outer middleware places a
// holder in the context, a router.Use middleware fills it, and the metrics
// middleware in front of the router reads it after the handler returned.
type routeHolder struct{ template string }

type holderKey struct{}

func TestMiddlewareInFrontOfRouterCountsUnmatched(t *testing.T) {
	m := newMetrics(t, metrics.Config{})
	r := mux.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if h, _ := req.Context().Value(holderKey{}).(*routeHolder); h != nil {
				h.template = metrics.MuxRoute(req)
			}
			next.ServeHTTP(w, req)
		})
	})
	r.HandleFunc("/api/v1/chantiers/{id}", func(http.ResponseWriter, *http.Request) {}).Methods("GET")
	var h http.Handler = m.Middleware(func(req *http.Request) string {
		if h, _ := req.Context().Value(holderKey{}).(*routeHolder); h != nil {
			return h.template
		}
		return ""
	})(r)
	withHolder := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), holderKey{}, &routeHolder{})))
	})

	serve(withHolder, "GET", "/api/v1/chantiers/9")
	serve(withHolder, "GET", "/wp-login.php")
	serve(withHolder, "GET", "/etc/passwd")
	serve(withHolder, "POST", "/api/v1/chantiers/9") // 405

	text := exposition(m)
	mustValue(t, text, `api_requests_total{method="GET",route="/api/v1/chantiers/{id}",status="200"}`)
	if got := mustValue(t, text, `api_requests_total{method="GET",route="unmatched",status="404"}`); got != 2 {
		t.Errorf("unmatched 404 = %v, want 2 (every unknown path in one series)", got)
	}
	mustValue(t, text, `api_requests_total{method="POST",route="unmatched",status="405"}`)
	if strings.Contains(text, "wp-login") || strings.Contains(text, "passwd") {
		t.Error("an unmatched raw path leaked into the labels")
	}
}

func TestMiddlewareBoundsRouteCardinality(t *testing.T) {
	m := newMetrics(t, metrics.Config{MaxRoutes: 2})
	route := ""
	h := m.Middleware(func(*http.Request) string { return route })(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for i := range 10 {
		route = fmt.Sprintf("/r%d", i)
		serve(h, "GET", "/")
	}
	route = "/" + strings.Repeat("a", 300) // longer than any template
	serve(h, "GET", "/")

	text := exposition(m)
	mustValue(t, text, `api_requests_total{method="GET",route="/r0",status="200"}`)
	mustValue(t, text, `api_requests_total{method="GET",route="/r1",status="200"}`)
	if got := mustValue(t, text, `api_requests_total{method="GET",route="other",status="200"}`); got != 9 {
		t.Errorf("other = %v, want 9 (8 routes over the limit and one too long)", got)
	}
	if n := strings.Count(text, "api_requests_total{"); n != 3 {
		t.Errorf("%d request series, want 3", n)
	}
}

func TestMiddlewareEscapesRouteLabels(t *testing.T) {
	m := newMetrics(t, metrics.Config{})
	routes := []string{`/a/{id:[0-9]+}`, `/quote"d`, `/back\slash`, "/new\nline", "/bad-utf8-\xff"}
	for _, r := range routes {
		h := m.Middleware(func(*http.Request) string { return r })(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		serve(h, "GET", "/")
	}
	text := exposition(m)
	lintExposition(t, text)
	mustValue(t, text, `api_requests_total{method="GET",route="/quote\"d",status="200"}`)
	mustValue(t, text, `api_requests_total{method="GET",route="/back\\slash",status="200"}`)
	mustValue(t, text, `api_requests_total{method="GET",route="/new\nline",status="200"}`)
	mustValue(t, text, `api_requests_total{method="GET",route="/a/{id:[0-9]+}",status="200"}`)
}

func TestMiddlewareKeepsWriterInterfaces(t *testing.T) {
	m := newMetrics(t, metrics.Config{})
	t.Run("http.ResponseController flushes through Unwrap", func(t *testing.T) {
		h := m.Middleware(nil)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}))
		rec := serve(h, "GET", "/")
		if !rec.Flushed {
			t.Error("the underlying writer was not flushed")
		}
	})
	t.Run("io.Copy into the writer sends the body and records 200", func(t *testing.T) {
		body := strings.Repeat("x", 10000)
		h := m.Middleware(func(*http.Request) string { return "/copy" })(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if _, ok := w.(io.ReaderFrom); !ok {
				t.Error("the wrapper hides io.ReaderFrom")
			}
			_, _ = io.Copy(w, bytes.NewBufferString(body))
		}))
		rec := serve(h, "GET", "/")
		if rec.Body.String() != body {
			t.Errorf("body has %d bytes, want %d", rec.Body.Len(), len(body))
		}
		mustValue(t, exposition(m), `api_requests_total{method="GET",route="/copy",status="200"}`)
	})
}

func TestNewRejectsMisconfiguration(t *testing.T) {
	tests := []struct {
		name string
		cfg  metrics.Config
	}{
		{"decreasing buckets", metrics.Config{Buckets: []float64{1, 0.5}}},
		{"duplicate buckets", metrics.Config{Buckets: []float64{1, 1}}},
		{"zero bucket", metrics.Config{Buckets: []float64{0, 1}}},
		{"negative MaxRoutes", metrics.Config{MaxRoutes: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := metrics.New(tc.cfg); err == nil {
				t.Error("New accepted the configuration")
			}
		})
	}
}

func TestMetricsAreIsolated(t *testing.T) {
	a := newMetrics(t, metrics.Config{})
	b := newMetrics(t, metrics.Config{})
	a.CacheHit()
	if got := mustValue(t, exposition(b), "api_cache_hits_total"); got != 0 {
		t.Errorf("b sees a's cache hit: %v", got)
	}
}
