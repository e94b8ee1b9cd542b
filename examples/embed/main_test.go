package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/pagination"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// start serves n orders (A-0001 oldest … A-000n newest) with a quota of
// perMinute requests per client and route.
func start(t *testing.T, n int, perMinute int64) *httptest.Server {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "orders.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)"
	db, err := openDB(context.Background(), dsn, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	h, err := newHandler(db, [][]byte{testKey}, perMinute)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, srv *httptest.Server, target string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	return v
}

func TestPagesFollowTheNextCursor(t *testing.T) {
	srv := start(t, 5, 100)
	var seen []string
	target := "/orders?limit=2"
	for _, want := range [][]string{{"A-0005", "A-0004"}, {"A-0003", "A-0002"}, {"A-0001"}} {
		res := get(t, srv, target)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, res.status, res.body)
		}
		page := decode[pagination.Page[Order]](t, res)
		var numbers []string
		for _, o := range page.Data {
			numbers = append(numbers, o.Number)
		}
		if !slices.Equal(numbers, want) {
			t.Fatalf("GET %s: orders %v, want %v (newest first)", target, numbers, want)
		}
		seen = append(seen, numbers...)
		last := len(seen) == 5
		if page.Pagination.HasMore == last || (page.Pagination.NextCursor == "") != last {
			t.Fatalf("GET %s: pagination %+v", target, page.Pagination)
		}
		if !last && !strings.Contains(res.header.Get("Link"), `rel="next"`) {
			t.Fatalf("GET %s: Link %q has no next", target, res.header.Get("Link"))
		}
		target = "/orders?limit=2&cursor=" + url.QueryEscape(page.Pagination.NextCursor)
	}
	if len(seen) != 5 {
		t.Fatalf("walked %v", seen)
	}
}

func TestProblemsUseTheServersTypeBase(t *testing.T) {
	srv := start(t, 3, 100)
	for _, tt := range []struct {
		name, target string
		status       int
		code         string
	}{
		{"a forged cursor → 400 invalid-cursor", "/orders?cursor=bm90LWEtY3Vyc29y", 400, "invalid-cursor"},
		{"a limit over the maximum → 400 invalid-parameter", "/orders?limit=1000", 400, "invalid-parameter"},
		{"an unknown field → 400 unknown-field", "/orders/1?fields=password", 400, "unknown-field"},
		{"a missing order → 404 order-not-found", "/orders/99", 404, "order-not-found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, srv, tt.target)
			d := decode[struct{ Type string }](t, res)
			if res.status != tt.status || res.header.Get("Content-Type") != "application/problem+json" ||
				d.Type != "https://example.com/problems/"+tt.code {
				t.Fatalf("%d %s %s", res.status, res.header.Get("Content-Type"), res.body)
			}
		})
	}
}

func TestSparseFieldsets(t *testing.T) {
	srv := start(t, 3, 100)
	for _, tt := range []struct {
		name, target, want string
	}{
		{"one order, number only (id always included)", "/orders/1?fields=number", `{"id":1,"number":"A-0001"}`},
		{"one order, members in declaration order", "/orders/2?fields=total_cents,customer", `{"id":2,"customer":"Customer 2","total_cents":2000}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if res := get(t, srv, tt.target); res.status != http.StatusOK || res.body != tt.want {
				t.Fatalf("%d %s, want %s", res.status, res.body, tt.want)
			}
		})
	}
	t.Run("a page projects its items and keeps its cursors", func(t *testing.T) {
		res := get(t, srv, "/orders?limit=2&fields=status")
		page := decode[struct {
			Data       []map[string]any
			Pagination pagination.Info
		}](t, res)
		if len(page.Data) != 2 || len(page.Data[0]) != 2 || page.Data[0]["status"] != "paid" || page.Pagination.NextCursor == "" {
			t.Fatalf("%s", res.body)
		}
		next := get(t, srv, "/orders?limit=2&fields=status&cursor="+url.QueryEscape(page.Pagination.NextCursor))
		if next.status != http.StatusOK {
			t.Fatalf("the projected page's cursor: %d %s", next.status, next.body)
		}
	})
}

func TestRevalidationAnswers304AndCostsNothing(t *testing.T) {
	srv := start(t, 3, 10)
	full := get(t, srv, "/orders/1")
	projected := get(t, srv, "/orders/1?fields=number")
	tag := projected.header.Get("ETag")
	if tag == "" || tag == full.header.Get("ETag") {
		t.Fatalf("ETag of the projection %q, of the full order %q: they must differ", tag, full.header.Get("ETag"))
	}
	res := get(t, srv, "/orders/1?fields=number", "If-None-Match", tag)
	if res.status != http.StatusNotModified || res.body != "" || res.header.Get("ETag") != tag {
		t.Fatalf("If-None-Match %s: %d %q ETag %q", tag, res.status, res.body, res.header.Get("ETag"))
	}
	if res := get(t, srv, "/orders/1?fields=number", "If-None-Match", `"other"`); res.status != http.StatusOK {
		t.Fatalf("a stale tag: %d", res.status)
	}
	// 10 per minute: 4 requests answered 200 (the 304 was refunded).
	after := get(t, srv, "/orders/1")
	if got := after.header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(10-4) {
		t.Fatalf("X-RateLimit-Remaining %s after four 200s and one 304, want %d", got, 10-4)
	}
}

func TestQuotaExhausted429(t *testing.T) {
	srv := start(t, 3, 3)
	for i := range 3 {
		if res := get(t, srv, "/orders?limit=1"); res.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, res.status, res.body)
		}
	}
	res := get(t, srv, "/orders?limit=1")
	d := decode[struct{ Type string }](t, res)
	if res.status != http.StatusTooManyRequests || d.Type != "https://example.com/problems/rate-limit-exceeded" {
		t.Fatalf("4th request: %d %s", res.status, res.body)
	}
	if s, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q", res.header.Get("Retry-After"))
	}
	// Quotas count per route: another route still answers.
	if res := get(t, srv, "/orders/1"); res.status != http.StatusOK {
		t.Fatalf("another route: %d", res.status)
	}
}
