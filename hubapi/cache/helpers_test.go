package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/cache"
)

// Routes as the product configures them (spec feature 4.3).
func productRoutes() map[string]cache.Route {
	return map[string]cache.Route{
		"/api/v1/chantiers": {TTL: 300 * time.Second, DependsOn: []string{"chantiers"}},
		"/api/v1/stats":     {TTL: 60 * time.Second, DependsOn: []string{"chantiers", "pointages", "signalements"}},
		"/api/v1/planning":  {TTL: 120 * time.Second, DependsOn: []string{"affectations"}},
	}
}

// world is a fake data source: one version counter per resource type.
type world struct {
	mu       sync.Mutex
	versions map[string]int
}

func newWorld() *world { return &world{versions: map[string]int{}} }

func (w *world) mutate(resource string) {
	w.mu.Lock()
	w.versions[resource]++
	w.mu.Unlock()
}

func (w *world) version(resource string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.versions[resource]
}

// app is a product-like handler: it answers the configured routes with a
// body naming the route, the data versions and the caller's role, and
// counts its runs.
type app struct {
	world *world
	calls atomic.Int64
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	var body string
	switch r.URL.Path {
	case "/api/v1/chantiers":
		body = fmt.Sprintf(`{"chantiers":%d`, a.world.version("chantiers"))
	case "/api/v1/stats":
		body = fmt.Sprintf(`{"stats":"%d/%d/%d"`, a.world.version("chantiers"), a.world.version("pointages"), a.world.version("signalements"))
	case "/api/v1/planning":
		body = fmt.Sprintf(`{"planning":%d`, a.world.version("affectations"))
	default:
		body = `{"other":true`
	}
	body += fmt.Sprintf(`,"role":%q,"query":%q}`, r.Header.Get("X-Role"), r.URL.RawQuery)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("ETag", fmt.Sprintf(`"%x"`, len(body)))
	h.Add("Link", `</api/v1/chantiers?cursor=abc>; rel="next"`)
	h.Set("Last-Modified", "Mon, 02 Nov 2026 10:00:00 GMT")
	h.Set("X-Not-Stored", "1")
	_, _ = io.WriteString(w, body)
}

// byRole is the VaryFunc of the tests: the caller's role and scopes are
// given in X-Role by an authentication step in front of the cache.
func byRole(r *http.Request) string { return r.Header.Get("X-Role") }

func byPath(r *http.Request) string { return r.URL.Path }

// testConfig returns a small cache configuration; mutate it before New.
func testConfig() cache.Config {
	return cache.Config{
		Routes:           productRoutes(),
		RouteFunc:        byPath,
		VaryFunc:         byRole,
		HardMaxCacheSize: 8,
		MaxEntryBytes:    64 << 10,
	}
}

func newCache(t testing.TB, cfg cache.Config) *cache.Cache {
	t.Helper()
	c, err := cache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// result is one response as a client sees it.
type result struct {
	status      int
	body        string
	header      http.Header
	cacheStatus string
}

func do(h http.Handler, method, target string, header ...string) result {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return result{status: w.Code, body: w.Body.String(), header: w.Header(), cacheStatus: w.Header().Get("Cache-Status")}
}

func get(h http.Handler, target string, header ...string) result {
	return do(h, http.MethodGet, target, header...)
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const (
	hit       = "hubchantier; hit"
	miss      = "hubchantier; fwd=miss"
	collapsed = "hubchantier; fwd=miss; collapsed"
	stale     = "hubchantier; fwd=stale"
	request   = "hubchantier; fwd=request"
	bypass    = "hubchantier; fwd=bypass"
	method    = "hubchantier; fwd=method"
)

func itoa(n int) string { return strconv.Itoa(n) }

// waitFor polls cond until it holds; it fails the test after a generous
// deadline. It is a synchronisation aid, not a timing assertion.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// goroutinesIn counts the goroutines whose stack contains frame.
func goroutinesIn(frame string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, frame) {
			count++
		}
	}
	return count
}

// flushRecorder records whether the handler flushed.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushed bool
}

func newFlushRecorder() *flushRecorder {
	return &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
}

func (f *flushRecorder) Flush() {
	f.flushed = true
	f.ResponseRecorder.Flush()
}

func mustRequest(t testing.TB, target string) *http.Request {
	t.Helper()
	return httptest.NewRequest(http.MethodGet, target, nil)
}
