package ratelimit_test

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// discardWriter is a ResponseWriter that keeps nothing, so that benchmarks
// measure the middleware rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

var noContent = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

func benchLimiter(b *testing.B, store limiter.Store) http.Handler {
	l, err := ratelimit.New(ratelimit.Config{
		Store: store,
		Limits: ratelimit.Limits{
			Rules: []ratelimit.Rule{
				// Never exhausted: the benchmark measures allowed requests.
				{Method: "GET", Route: "/chantiers/{id}", Policies: []ratelimit.Policy{{Name: "minute", Limit: ratelimit.MaxLimit, Window: 60e9}}},
			},
			Default: []ratelimit.Policy{{Name: "minute", Limit: ratelimit.MaxLimit, Window: 60e9}},
		},
		Key:   testKey,
		Route: testRoute,
	})
	if err != nil {
		b.Fatal(err)
	}
	return l.Middleware(noContent)
}

func serveLoop(b *testing.B, h http.Handler, req *http.Request) {
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	cpu0, ok := processCPUTime()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	reportCPU(b, cpu0, ok)
}

// reportCPU adds the process CPU time per operation (GC included).
func reportCPU(b *testing.B, cpu0 time.Duration, ok bool) {
	if cpu1, ok1 := processCPUTime(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkBaseline is the handler alone: subtract it from the others.
func BenchmarkBaseline(b *testing.B) {
	serveLoop(b, noContent, newRequest("GET", "/chantiers/42", "hck_bench_key"))
}

// BenchmarkMemoryStoreAlone is one ulule/limiter memory store increment, the
// floor under the middleware's cost.
func BenchmarkMemoryStoreAlone(b *testing.B) {
	store := ratelimit.NewMemoryStore()
	rate := limiter.Rate{Period: time.Minute, Limit: ratelimit.MaxLimit}
	ctx := context.Background()
	b.ReportAllocs()
	cpu0, ok := processCPUTime()
	for b.Loop() {
		if _, err := store.Increment(ctx, "{AAAAAAAAAAAAAAAAAAAAAA}:GET /chantiers/{id}:minute:60", 1, rate); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0, ok)
}

func BenchmarkMiddlewareMemory(b *testing.B) {
	serveLoop(b, benchLimiter(b, ratelimit.NewMemoryStore()), newRequest("GET", "/chantiers/42", "hck_bench_key"))
}

func BenchmarkMiddlewareMemoryDefaultPolicy(b *testing.B) {
	serveLoop(b, benchLimiter(b, ratelimit.NewMemoryStore()), newRequest("GET", "/other", "hck_bench_key"))
}

// BenchmarkMiddlewareMemoryParallel: many principals on all cores.
func BenchmarkMiddlewareMemoryParallel(b *testing.B) {
	h := benchLimiter(b, ratelimit.NewMemoryStore())
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, ok := processCPUTime()
	defer func() { reportCPU(b, cpu0, ok) }()
	b.RunParallel(func(pb *testing.PB) {
		req := newRequest("GET", "/chantiers/42", "principal-"+strconv.FormatInt(next.Add(1), 10))
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}

// BenchmarkMiddlewareRedis: one Redis round trip (one policy) per request.
func BenchmarkMiddlewareRedis(b *testing.B) {
	prefix := testenv.Prefix(b) + "ratelimit"
	store := redisstore.New(testenv.Redis(b), prefix)
	b.Cleanup(func() { deleteKeys(b, prefix) })
	serveLoop(b, benchLimiter(b, store), newRequest("GET", "/chantiers/42", "hck_bench_key"))
}
