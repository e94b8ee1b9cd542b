package ratelimit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/ratelimit"
)

// keyHeader carries the principal in tests; a real server derives it from
// the authenticated principal or the client IP.
const keyHeader = "X-Test-Key"

func testKey(r *http.Request) (string, bool) {
	k := r.Header.Get(keyHeader)
	return k, k != ""
}

// testRoute maps /chantiers/<anything> to its template, returns other paths
// as they are, and "" for /nowhere... (no route matched).
func testRoute(r *http.Request) string {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/nowhere"):
		return ""
	case len(p) > len("/chantiers/") && p[:len("/chantiers/")] == "/chantiers/":
		return "/chantiers/{id}"
	default:
		return p
	}
}

// server is a Limiter around a handler that counts the requests it serves.
type server struct {
	h      http.Handler
	served atomic.Int64
}

func newServer(t testing.TB, cfg ratelimit.Config, inner http.HandlerFunc) *server {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	if cfg.Route == nil {
		cfg.Route = testRoute
	}
	l, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := &server{}
	if inner == nil {
		inner = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }
	}
	s.h = l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.served.Add(1)
		inner(w, r)
	}))
	return s
}

func (s *server) do(method, path, key string) *httptest.ResponseRecorder {
	rec := newRecorder()
	s.h.ServeHTTP(rec, newRequest(method, path, key))
	return rec
}

func newRequest(method, path, key string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	if key != "" {
		req.Header.Set(keyHeader, key)
	}
	return req
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// fields are the rate limit fields of a response, parsed.
type fields struct {
	status                  int
	limit, remaining, reset int64 // X-RateLimit-*; -1 when absent
	retryAfter              int64 // -1 when absent
	policy, rateLimit       string
	limits                  map[string][2]int64 // RateLimit items: name → {r, t}
}

var rateLimitItem = regexp.MustCompile(`^"([A-Za-z0-9._-]+)";r=(\d+);t=(\d+)$`)

func parseFields(t testing.TB, rec *httptest.ResponseRecorder) fields {
	t.Helper()
	h := rec.Header()
	num := func(name string) int64 {
		v := h.Get(name)
		if v == "" {
			return -1
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %q is not an integer", name, v)
		}
		return n
	}
	f := fields{
		status:     rec.Code,
		limit:      num("X-RateLimit-Limit"),
		remaining:  num("X-RateLimit-Remaining"),
		reset:      num("X-RateLimit-Reset"),
		retryAfter: num("Retry-After"),
		policy:     h.Get("RateLimit-Policy"),
		rateLimit:  h.Get("RateLimit"),
		limits:     map[string][2]int64{},
	}
	if f.rateLimit != "" {
		for _, item := range splitList(f.rateLimit) {
			m := rateLimitItem.FindStringSubmatch(item)
			if m == nil {
				t.Fatalf("RateLimit item %q does not match the draft's syntax", item)
			}
			r, _ := strconv.ParseInt(m[2], 10, 64)
			tt, _ := strconv.ParseInt(m[3], 10, 64)
			f.limits[m[1]] = [2]int64{r, tt}
		}
	}
	return f
}

var listSeparator = regexp.MustCompile(`,\s*`)

func splitList(v string) []string { return listSeparator.Split(v, -1) }

// problemBody decodes a problem+json response.
func problemBody(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body.String(), err)
	}
	return body
}

// failingStore fails every call.
type failingStore struct{ calls atomic.Int64 }

var errStoreDown = errors.New("store down")

func (s *failingStore) Get(context.Context, string, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, errStoreDown
}
func (s *failingStore) Peek(context.Context, string, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, errStoreDown
}
func (s *failingStore) Reset(context.Context, string, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, errStoreDown
}
func (s *failingStore) Increment(context.Context, string, int64, limiter.Rate) (limiter.Context, error) {
	s.calls.Add(1)
	return limiter.Context{}, errStoreDown
}

// hangingStore never answers Increment until released, whatever its context
// says: like a Redis client without ContextTimeoutEnabled facing a dead
// server.
type hangingStore struct {
	failingStore
	release chan struct{}
}

func (s *hangingStore) Increment(context.Context, string, int64, limiter.Rate) (limiter.Context, error) {
	<-s.release
	return limiter.Context{}, errStoreDown
}

// recordingStore is the memory store, recording the keys it is given.
type recordingStore struct {
	limiter.Store
	mu   sync.Mutex
	keys []string
}

func (s *recordingStore) Increment(ctx context.Context, key string, n int64, rate limiter.Rate) (limiter.Context, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return s.Store.Increment(ctx, key, n, rate)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (log output).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
