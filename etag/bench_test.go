package etag_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/etag"
)

// discardWriter is a ResponseWriter that costs nothing, so that the
// benchmarks measure the middleware and not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func (d *discardWriter) reset() {
	clear(d.h)
	d.code = 0
}

func benchBody(n int) []byte { return bytes.Repeat([]byte(`{"id":1,"nom":"Chantier"},`), n/26+1)[:n] }

func runBench(b *testing.B, h http.Handler, r *http.Request, want int) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	if w.code != want {
		b.Fatalf("status %d; want %d", w.code, want)
	}
}

// BenchmarkConditionalGET measures the middleware on GET responses:
// hashing and answering 200 for 1 KB and 100 KB bodies, the 304 path, and a
// handler that sets its own version ETag (no buffering, no hashing).
func BenchmarkConditionalGET(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KB", 1 << 10}, {"100KB", 100 << 10}} {
		body := benchBody(size.n)
		api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
		h := etag.ConditionalGET()(api)
		b.Run("baseline-no-middleware/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			runBench(b, api, httptest.NewRequest(http.MethodGet, "/", nil), 0)
		})
		b.Run("200/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			runBench(b, h, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK)
		})
		b.Run("304/"+size.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("If-None-Match", etag.Of(body).String())
			b.SetBytes(int64(size.n))
			runBench(b, h, r, http.StatusNotModified)
		})
		versioned := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"v42"`)
			_, _ = w.Write(body)
		}))
		b.Run("version-etag-200/"+size.name, func(b *testing.B) {
			b.SetBytes(int64(size.n))
			runBench(b, versioned, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusOK)
		})
		b.Run("version-etag-304/"+size.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("If-None-Match", `"v42"`)
			b.SetBytes(int64(size.n))
			runBench(b, versioned, r, http.StatusNotModified)
		})
	}
}

func BenchmarkOf(b *testing.B) {
	for _, n := range []int{1 << 10, 100 << 10} {
		body := benchBody(n)
		b.Run(fmt.Sprintf("%dKB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				_ = etag.Of(body)
			}
		})
	}
}

func BenchmarkCheckPreconditions(b *testing.B) {
	r := httptest.NewRequest(http.MethodPut, "/", nil)
	r.Header.Set("If-Match", `"v41", "v42"`)
	cur := etag.VersionTag(42)
	lm := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if err := etag.CheckPreconditions(r, cur, lm, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseList(b *testing.B) {
	const v = `"xyzzy", W/"r2d2xxxx", "c3piozzzz"`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := etag.ParseList(v); err != nil {
			b.Fatal(err)
		}
	}
}
