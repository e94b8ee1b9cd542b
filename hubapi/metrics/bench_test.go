package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
)

// nopWriter is a ResponseWriter that allocates nothing, so that benchmarks
// measure the middleware alone.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header       { return w.h }
func (*nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (*nopWriter) WriteHeader(int)             {}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

func fixedRoute(*http.Request) string { return "/api/v1/chantiers/{id}" }

// BenchmarkMiddleware is the per-request cost of the metrics middleware on a
// warm (method, route, status): subtract BenchmarkBaseline.
func BenchmarkMiddleware(b *testing.B) {
	m := newMetrics(b, metrics.Config{})
	h := m.Middleware(fixedRoute)(okHandler)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers/42", nil)
	w := &nopWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkBaseline is the bare handler call BenchmarkMiddleware wraps.
func BenchmarkBaseline(b *testing.B) {
	req := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers/42", nil)
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		okHandler.ServeHTTP(w, req)
	}
}

// BenchmarkMiddlewareParallel runs the middleware from every P on the same
// series (the worst case for contention).
func BenchmarkMiddlewareParallel(b *testing.B) {
	m := newMetrics(b, metrics.Config{})
	h := m.Middleware(fixedRoute)(okHandler)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers/42", nil)
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

// BenchmarkMiddlewareManyRoutes spreads requests over 50 routes, 3 methods
// and 4 statuses, as a real API does.
func BenchmarkMiddlewareManyRoutes(b *testing.B) {
	m := newMetrics(b, metrics.Config{})
	routes := make([]string, 50)
	for i := range routes {
		routes[i] = fmt.Sprintf("/api/v1/resource%d/{id}", i)
	}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodDelete}
	statuses := []int{200, 201, 404, 500}
	var i int
	h := m.Middleware(func(*http.Request) string { return routes[i%len(routes)] })(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(statuses[i%len(statuses)]) }))
	reqs := make([]*http.Request, len(methods))
	for j, meth := range methods {
		reqs[j] = httptest.NewRequest(meth, "/x", nil)
	}
	w := &nopWriter{h: http.Header{}}
	for i = range 600 { // warm every series
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		i++
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
}

// BenchmarkScrape is one /metrics exposition after traffic on 50 routes.
func BenchmarkScrape(b *testing.B) {
	m := newMetrics(b, metrics.Config{})
	w := &nopWriter{h: http.Header{}}
	for i := range 50 {
		route := fmt.Sprintf("/api/v1/resource%d/{id}", i)
		m.Middleware(func(*http.Request) string { return route })(okHandler).ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	}
	h, err := m.Handler(metrics.AccessConfig{})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:9"
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		_, _ = io.Copy(io.Discard, rec.Body)
	}
}

// BenchmarkHooks is the cost of the hooks other packages call per request.
func BenchmarkHooks(b *testing.B) {
	m := newMetrics(b, metrics.Config{})
	b.ReportAllocs()
	for b.Loop() {
		m.CacheHit()
		m.RateLimitExceeded("/api/v1/stats")
		m.AuthFailure(metrics.AuthInvalid)
	}
}

// BenchmarkMonotonicClock is one monotonic clock read; the middleware makes
// two per request. On virtual machines whose clock source is not read in
// user space (kvm-clock without a stable TSC) it dominates the overhead.
func BenchmarkMonotonicClock(b *testing.B) {
	epoch := time.Now()
	var d time.Duration
	b.ReportAllocs()
	for b.Loop() {
		d += time.Since(epoch)
	}
	_ = d
}
