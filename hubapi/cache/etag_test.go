package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hubchantier/hubchantier/etag"
)

// untagged answers like app but sets no ETag, as list handlers do (the
// conditional middleware tags their bodies).
func untagged(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if r.URL.Query().Get("store") == "no" {
		h.Set("Cache-Control", "no-store")
	}
	// Larger than net/http's 2 KiB buffer, so that a missing Content-Length
	// would switch the response to chunked encoding.
	_, _ = io.WriteString(w, `{"data":"`+strings.Repeat("x", 5000)+`","query":"`+r.URL.RawQuery+`"}`)
}

func TestETagFunc(t *testing.T) {
	var tagged atomic.Int64
	cfg := testConfig()
	cfg.ETag = func(body []byte) string {
		tagged.Add(1)
		return etag.Of(body).String()
	}
	c := newCache(t, cfg)
	admin := []string{"X-Role", "admin"}

	t.Run("a stored untagged body gets ETag(body) on the miss and on every hit", func(t *testing.T) {
		h := c.Middleware(http.HandlerFunc(untagged))
		first := get(h, "/api/v1/chantiers?limit=1", admin...)
		second := get(h, "/api/v1/chantiers?limit=1", admin...)
		third := get(h, "/api/v1/chantiers?limit=1", admin...)
		want := etag.Of([]byte(first.body)).String()
		for _, r := range []result{first, second, third} {
			if got := r.header.Values("ETag"); len(got) != 1 || got[0] != want {
				t.Fatalf("%s: ETag %q, want %q", r.cacheStatus, got, want)
			}
			if r.body != first.body || r.header.Get("Content-Length") != itoa(len(first.body)) {
				t.Fatalf("%s: %d bytes, Content-Length %q; miss had %d bytes", r.cacheStatus, len(r.body), r.header.Get("Content-Length"), len(first.body))
			}
		}
		if first.cacheStatus != miss || second.cacheStatus != hit || third.cacheStatus != hit {
			t.Fatalf("Cache-Status %q, %q, %q", first.cacheStatus, second.cacheStatus, third.cacheStatus)
		}
		if got := tagged.Load(); got != 1 {
			t.Fatalf("tag computed %d times, want once (when stored)", got)
		}
	})
	t.Run("a handler's own ETag is stored and replayed as it is", func(t *testing.T) {
		before := tagged.Load()
		h := c.Middleware(&app{world: newWorld()})
		first := get(h, "/api/v1/chantiers?limit=2", admin...)
		second := get(h, "/api/v1/chantiers?limit=2", admin...)
		if want := fmt.Sprintf(`"%x"`, len(first.body)); second.cacheStatus != hit || first.header.Get("ETag") != want || second.header.Get("ETag") != want {
			t.Fatalf("ETag %q then %q (%s)", first.header.Get("ETag"), second.header.Get("ETag"), second.cacheStatus)
		}
		if tagged.Load() != before {
			t.Fatal("ETag func called for a tagged response")
		}
	})
	t.Run("a response that is not stored is not tagged", func(t *testing.T) {
		before := tagged.Load()
		h := c.Middleware(http.HandlerFunc(untagged))
		r := get(h, "/api/v1/chantiers?limit=3&store=no", admin...)
		if r.header.Get("ETag") != "" || tagged.Load() != before {
			t.Fatalf("ETag %q on a no-store response", r.header.Get("ETag"))
		}
	})
	t.Run("behind etag.ConditionalGET a hit is tagged and revalidated like the miss", func(t *testing.T) {
		h := etag.ConditionalGET()(c.Middleware(http.HandlerFunc(untagged)))
		plain := etag.ConditionalGET()(http.HandlerFunc(untagged))
		want := get(plain, "/api/v1/chantiers?limit=4", admin...)
		first := get(h, "/api/v1/chantiers?limit=4", admin...)
		second := get(h, "/api/v1/chantiers?limit=4", admin...)
		for _, r := range []result{first, second} {
			if r.header.Get("ETag") != want.header.Get("ETag") || r.body != want.body || r.header.Get("Content-Length") != want.header.Get("Content-Length") {
				t.Fatalf("%s: ETag %q Content-Length %q, without the cache %q %q", r.cacheStatus,
					r.header.Get("ETag"), r.header.Get("Content-Length"), want.header.Get("ETag"), want.header.Get("Content-Length"))
			}
		}
		nm := get(h, "/api/v1/chantiers?limit=4", "X-Role", "admin", "If-None-Match", want.header.Get("ETag"))
		if nm.status != http.StatusNotModified || nm.body != "" || nm.cacheStatus != hit {
			t.Fatalf("If-None-Match on a hit: %d %q %q", nm.status, nm.cacheStatus, nm.body)
		}
		head := do(h, http.MethodHead, "/api/v1/chantiers?limit=4", admin...)
		if head.status != http.StatusOK || head.body != "" || head.header.Get("ETag") != want.header.Get("ETag") {
			t.Fatalf("HEAD hit: %d ETag %q", head.status, head.header.Get("ETag"))
		}
	})
}
