package cache_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/cache"
)

func TestHitAndMiss(t *testing.T) {
	a := &app{world: newWorld()}
	c := newCache(t, testConfig())
	h := c.Middleware(a)

	first := get(h, "/api/v1/chantiers?limit=100", "X-Role", "admin")
	second := get(h, "/api/v1/chantiers?limit=100", "X-Role", "admin")

	t.Run("first GET is a miss that runs the handler", func(t *testing.T) {
		if first.cacheStatus != miss || first.status != http.StatusOK {
			t.Fatalf("got %d %q", first.status, first.cacheStatus)
		}
	})
	t.Run("second identical GET is a hit", func(t *testing.T) {
		if second.cacheStatus != hit {
			t.Fatalf("Cache-Status %q, want %q", second.cacheStatus, hit)
		}
		if got := a.calls.Load(); got != 1 {
			t.Fatalf("handler ran %d times, want 1", got)
		}
		if second.body != first.body || second.status != http.StatusOK {
			t.Fatalf("hit %d %q, miss had %q", second.status, second.body, first.body)
		}
	})
	t.Run("a hit replays the stored fields and only those", func(t *testing.T) {
		for _, name := range cache.DefaultStoredHeaders {
			if !slices.Equal(second.header.Values(name), first.header.Values(name)) {
				t.Errorf("%s: hit %q, miss %q", name, second.header.Values(name), first.header.Values(name))
			}
		}
		if got := second.header.Get("X-Not-Stored"); got != "" {
			t.Errorf("X-Not-Stored replayed: %q", got)
		}
		if got, want := second.header.Get("Content-Length"), itoa(len(second.body)); got != want {
			t.Errorf("Content-Length %q, want %q", got, want)
		}
	})
	t.Run("HEAD is answered from the stored GET response without a body", func(t *testing.T) {
		head := do(h, http.MethodHead, "/api/v1/chantiers?limit=100", "X-Role", "admin")
		if head.cacheStatus != hit || head.body != "" || head.header.Get("ETag") != first.header.Get("ETag") {
			t.Fatalf("HEAD: %q body %q ETag %q", head.cacheStatus, head.body, head.header.Get("ETag"))
		}
		if got := head.header.Get("Content-Length"); got != itoa(len(first.body)) {
			t.Fatalf("HEAD Content-Length %q", got)
		}
	})
	t.Run("HEAD miss is forwarded and not stored", func(t *testing.T) {
		before := a.calls.Load()
		head := do(h, http.MethodHead, "/api/v1/planning", "X-Role", "admin")
		if head.cacheStatus != miss {
			t.Fatalf("HEAD miss: %q", head.cacheStatus)
		}
		if got := get(h, "/api/v1/planning", "X-Role", "admin"); got.cacheStatus != miss {
			t.Fatalf("GET after HEAD miss: %q, want a miss", got.cacheStatus)
		}
		if a.calls.Load()-before != 2 {
			t.Fatalf("handler runs %d, want 2", a.calls.Load()-before)
		}
	})
	t.Run("stats count hits, misses and stores", func(t *testing.T) {
		s := c.Stats()
		if s.Hits != 2 || s.Misses != 3 || s.Stores != 2 || s.Entries != 2 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestInvalidate(t *testing.T) {
	ctx := context.Background()
	w := newWorld()
	a := &app{world: w}
	c := newCache(t, testConfig())
	h := c.Middleware(a)
	admin := []string{"X-Role", "admin"}

	for _, p := range []string{"/api/v1/chantiers", "/api/v1/stats", "/api/v1/planning"} {
		get(h, p, admin...)
		if r := get(h, p, admin...); r.cacheStatus != hit {
			t.Fatalf("%s not cached: %q", p, r.cacheStatus)
		}
	}

	w.mutate("chantiers")
	if err := c.Invalidate(ctx, "chantiers"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, path, status, body string
	}{
		{"after a chantier mutation the chantier list is a miss showing the change", "/api/v1/chantiers", miss, `"chantiers":1`},
		{"stats depending on chantiers are invalidated too", "/api/v1/stats", miss, `"stats":"1/0/0"`},
		{"planning, which does not depend on chantiers, is still a hit", "/api/v1/planning", hit, `"planning":0`},
		{"the refreshed list is cached again", "/api/v1/chantiers", hit, `"chantiers":1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(h, tt.path, admin...)
			if r.cacheStatus != tt.status || !strings.Contains(r.body, tt.body) {
				t.Fatalf("got %q %s, want %q containing %s", r.cacheStatus, r.body, tt.status, tt.body)
			}
		})
	}
	t.Run("an unknown resource type is a no-op", func(t *testing.T) {
		if err := c.Invalidate(ctx, "factures"); err != nil {
			t.Fatal(err)
		}
		if r := get(h, "/api/v1/chantiers", admin...); r.cacheStatus != hit {
			t.Fatalf("got %q", r.cacheStatus)
		}
	})
	t.Run("FlushAll makes every route miss", func(t *testing.T) {
		if err := c.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
		if n := c.Stats().Entries; n != 0 {
			t.Fatalf("%d entries left after FlushAll", n)
		}
		for _, p := range []string{"/api/v1/chantiers", "/api/v1/stats", "/api/v1/planning"} {
			if r := get(h, p, admin...); r.cacheStatus != miss {
				t.Fatalf("%s after FlushAll: %q", p, r.cacheStatus)
			}
		}
	})
}

// authorize stands for the authentication and authorization middleware in
// front of the cache: X-Scopes lists the caller's scopes.
func authorize(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(strings.Split(r.Header.Get("X-Scopes"), ","), scope) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestIsolation(t *testing.T) {
	t.Run("two VaryFunc values never see each other's bodies", func(t *testing.T) {
		a := &app{world: newWorld()}
		c := newCache(t, testConfig())
		h := c.Middleware(a)
		roles := []string{"admin|admin,chantiers:read", "conducteur|chantiers:read", "", "admin|admin"}
		for round := 0; round < 2; round++ {
			for _, role := range roles {
				r := get(h, "/api/v1/chantiers?limit=10", "X-Role", role)
				if want := `"role":"` + role + `"`; !strings.Contains(r.body, want) {
					t.Fatalf("round %d, role %q got body %s", round, role, r.body)
				}
				if wantStatus := []string{miss, hit}[round]; r.cacheStatus != wantStatus {
					t.Fatalf("round %d, role %q: %q", round, role, r.cacheStatus)
				}
			}
		}
		if got := a.calls.Load(); got != int64(len(roles)) {
			t.Fatalf("handler ran %d times, want one per role", got)
		}
	})

	t.Run("a caller lacking the scope gets 403, never the cached 200", func(t *testing.T) {
		a := &app{world: newWorld()}
		c := newCache(t, cache.Config{
			Routes:    productRoutes(),
			RouteFunc: byPath,
			VaryFunc:  func(r *http.Request) string { return r.Header.Get("X-Scopes") },
		})
		h := authorize("chantiers:read", c.Middleware(a))
		ok := []string{"X-Scopes", "chantiers:read"}
		get(h, "/api/v1/chantiers", ok...)
		if r := get(h, "/api/v1/chantiers", ok...); r.cacheStatus != hit {
			t.Fatalf("not cached: %q", r.cacheStatus)
		}
		for i := 0; i < 2; i++ {
			r := get(h, "/api/v1/chantiers", "X-Scopes", "planning:read")
			if r.status != http.StatusForbidden || strings.Contains(r.body, "chantiers") {
				t.Fatalf("caller without scope got %d %s", r.status, r.body)
			}
		}
		if s := c.Stats(); s.Stores != 1 {
			t.Fatalf("stores %d: a 403 was stored", s.Stores)
		}
	})
}

func TestCollapsesConcurrentMisses(t *testing.T) {
	const n = 100
	release := make(chan struct{})
	var runs atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		_, _ = io.WriteString(w, `{"chantiers":[1,2,3]}`)
	})
	c := newCache(t, testConfig())
	h := c.Middleware(handler)

	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = get(h, "/api/v1/chantiers?limit=100", "X-Role", "admin")
		}()
	}
	// Release the handler only once every request is inside the flight: the
	// leader running the handler and 99 waiting for it.
	waitFor(t, func() bool { return goroutinesIn("singleflight.(*Group).Do(") == n })
	close(release)
	wg.Wait()

	if got := runs.Load(); got != 1 {
		t.Fatalf("handler ran %d times for %d concurrent identical misses", got, n)
	}
	var leaders, followers int
	for i, r := range results {
		if r.status != http.StatusOK || r.body != `{"chantiers":[1,2,3]}` || r.header.Get("ETag") != `"v1"` {
			t.Fatalf("response %d: %d %q ETag %q", i, r.status, r.body, r.header.Get("ETag"))
		}
		switch r.cacheStatus {
		case miss:
			leaders++
		case collapsed:
			followers++
		default:
			t.Fatalf("response %d: Cache-Status %q", i, r.cacheStatus)
		}
	}
	if leaders != 1 || followers != n-1 {
		t.Fatalf("%d leaders, %d followers", leaders, followers)
	}
	if s := c.Stats(); s.Misses != 1 || s.Collapsed != n-1 || s.Stores != 1 {
		t.Fatalf("stats %+v", s)
	}
	if r := get(h, "/api/v1/chantiers?limit=100", "X-Role", "admin"); r.cacheStatus != hit {
		t.Fatalf("after the flight: %q", r.cacheStatus)
	}
}

func TestExpiredEntriesAreNotServed(t *testing.T) {
	clk := newClock()
	w := newWorld()
	a := &app{world: w}
	cfg := testConfig()
	cfg.Now = clk.Now
	c := newCache(t, cfg)
	h := c.Middleware(a)

	get(h, "/api/v1/stats")
	w.mutate("pointages") // without Invalidate: only the TTL ends the entry

	clk.Advance(59 * time.Second)
	if r := get(h, "/api/v1/stats"); r.cacheStatus != hit || !strings.Contains(r.body, `"0/0/0"`) {
		t.Fatalf("within the 60 s TTL: %q %s", r.cacheStatus, r.body)
	}
	clk.Advance(time.Second)
	r := get(h, "/api/v1/stats")
	if r.cacheStatus != stale || !strings.Contains(r.body, `"0/1/0"`) {
		t.Fatalf("at the TTL: %q %s, want a fresh response", r.cacheStatus, r.body)
	}
	if r := get(h, "/api/v1/stats"); r.cacheStatus != hit || !strings.Contains(r.body, `"0/1/0"`) {
		t.Fatalf("refreshed entry: %q %s", r.cacheStatus, r.body)
	}
}

// constantHasher maps every key to one slot: every pair of keys collides.
type constantHasher struct{}

func (constantHasher) Sum64(string) uint64 { return 42 }

func TestHashCollisionsNeverServeAnotherKeysBody(t *testing.T) {
	a := &app{world: newWorld()}
	cfg := testConfig()
	cfg.Hasher = constantHasher{}
	c := newCache(t, cfg)
	h := c.Middleware(a)

	targets := []string{"/api/v1/chantiers?limit=1", "/api/v1/chantiers?limit=2", "/api/v1/planning"}
	for round := 0; round < 3; round++ {
		for _, target := range targets {
			for _, role := range []string{"admin", "conducteur"} {
				r := get(h, target, "X-Role", role)
				u, _ := url.Parse(target)
				if !strings.Contains(r.body, `"role":"`+role+`"`) || !strings.Contains(r.body, `"query":"`+u.RawQuery+`"`) {
					t.Fatalf("round %d %s as %s: got %s", round, target, role, r.body)
				}
				if r.cacheStatus == hit && round > 0 {
					t.Fatalf("round %d %s as %s: a hit although the slot was overwritten", round, target, role)
				}
			}
		}
	}
	// The slot holds the last response: asking again for it is a hit.
	if r := get(h, "/api/v1/planning", "X-Role", "conducteur"); r.cacheStatus != hit {
		t.Fatalf("last stored key: %q", r.cacheStatus)
	}
}

func TestResponsesThatAreNotStored(t *testing.T) {
	big := strings.Repeat("x", 64<<10+1)
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"a 404 is not stored", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}},
		{"a 403 is not stored", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "forbidden", http.StatusForbidden)
		}},
		{"a 500 is not stored", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
		{"a response setting a cookie is not stored", func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"})
			_, _ = io.WriteString(w, "ok")
		}},
		{"Cache-Control: private is not stored", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60, private")
			_, _ = io.WriteString(w, "ok")
		}},
		{"Cache-Control: no-store is not stored", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "No-Store")
			_, _ = io.WriteString(w, "ok")
		}},
		{`Cache-Control: no-cache="Set-Cookie" is not stored`, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", `no-cache="Set-Cookie, X-Foo"`)
			_, _ = io.WriteString(w, "ok")
		}},
		{"Vary: * is not stored", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "*")
			_, _ = io.WriteString(w, "ok")
		}},
		{"a Vary on a field outside the key is not stored", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Authorization, Accept-Language")
			_, _ = io.WriteString(w, "ok")
		}},
		{"a Content-Encoding that is not a stored header is not stored", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = io.WriteString(w, "ok")
		}},
		{"a body over MaxEntryBytes is sent whole and not stored", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, big[:100])
			_, _ = io.WriteString(w, big[100:])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls int
			c := newCache(t, testConfig())
			h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				tt.handler(w, r)
			}))
			first := get(h, "/api/v1/chantiers")
			second := get(h, "/api/v1/chantiers")
			if second.cacheStatus != miss || calls != 2 {
				t.Fatalf("second request: %q after %d handler runs", second.cacheStatus, calls)
			}
			if first.body != second.body || (strings.HasPrefix(tt.name, "a body") && first.body != big) {
				t.Fatalf("bodies differ or truncated: %d vs %d bytes", len(first.body), len(second.body))
			}
			if s := c.Stats(); s.Stores != 0 {
				t.Fatalf("stored: %+v", s)
			}
		})
	}
}

func TestHandlerContributionsOnly(t *testing.T) {
	// outer stands for middleware in front of the cache (version headers,
	// security headers): it sets its fields on every request.
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Add("Link", `<https://hubchantier.fr/deprecation>; rel="deprecation"`)
			h.Set("Content-Type", "text/plain")
			h.Add("Vary", "Origin")
			next.ServeHTTP(w, r)
		})
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Link", `</api/v1/chantiers?cursor=x>; rel="next"`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[]`)
	})
	c := newCache(t, testConfig())
	h := outer(c.Middleware(handler))

	first := get(h, "/api/v1/chantiers")
	second := get(h, "/api/v1/chantiers")
	t.Run("fields set by outer middleware do not prevent storing", func(t *testing.T) {
		if second.cacheStatus != hit {
			t.Fatalf("Cache-Status %q", second.cacheStatus)
		}
	})
	t.Run("a hit has the outer fields once plus the handler's", func(t *testing.T) {
		for _, name := range []string{"Link", "Content-Type", "Cache-Control", "Vary"} {
			if !slices.Equal(second.header.Values(name), first.header.Values(name)) {
				t.Errorf("%s: hit %q, miss %q", name, second.header.Values(name), first.header.Values(name))
			}
		}
		if got := second.header.Values("Link"); len(got) != 2 {
			t.Errorf("Link %q, want the deprecation and next links", got)
		}
		if got := second.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type %q", got)
		}
	})
}

func TestRequestDirectives(t *testing.T) {
	clk := newClock()
	w := newWorld()
	a := &app{world: w}
	cfg := testConfig()
	cfg.Now = clk.Now
	c := newCache(t, cfg)
	h := c.Middleware(a)
	const target = "/api/v1/chantiers"

	get(h, target)
	w.mutate("chantiers") // not invalidated: only a refresh shows it

	steps := []struct {
		name   string
		header []string
		status string
		body   string
	}{
		{"a plain GET is served from the cache", nil, hit, `"chantiers":0`},
		{"max-age larger than the entry's age is served from the cache", []string{"Cache-Control", "max-age=30"}, hit, `"chantiers":0`},
		{"no-store forwards and does not store", []string{"Cache-Control", "no-store"}, request, `"chantiers":1`},
		{"the entry is unchanged after no-store", nil, hit, `"chantiers":0`},
		{"no-cache forwards and refreshes the entry", []string{"Cache-Control", "no-cache"}, request, `"chantiers":1`},
		{"the refreshed entry is served", nil, hit, `"chantiers":1`},
		{"Pragma: no-cache without Cache-Control forwards", []string{"Pragma", "no-cache"}, request, `"chantiers":1`},
		{"max-age=0 forwards", []string{"Cache-Control", "max-age=0"}, request, `"chantiers":1`},
		{"a malformed directive is ignored", []string{"Cache-Control", `max-age="x, no-ca`}, hit, `"chantiers":1`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := get(h, target, s.header...)
			if r.cacheStatus != s.status || !strings.Contains(r.body, s.body) {
				t.Fatalf("got %q %s, want %q with %s", r.cacheStatus, r.body, s.status, s.body)
			}
		})
	}
	t.Run("max-age smaller than the entry's age forwards", func(t *testing.T) {
		clk.Advance(10 * time.Second)
		if r := get(h, target, "Cache-Control", "max-age=5"); r.cacheStatus != request {
			t.Fatalf("got %q", r.cacheStatus)
		}
	})
}

func TestBypass(t *testing.T) {
	a := &app{world: newWorld()}
	cfg := testConfig()
	cfg.Routes["/api/v1/planning"] = cache.Route{TTL: 2 * time.Minute, DependsOn: []string{"affectations"}, Params: []string{"from", "to"}}
	c := newCache(t, cfg)
	h := c.Middleware(a)

	tests := []struct {
		name, method, target, status string
	}{
		{"a mutation passes through with fwd=method", http.MethodPost, "/api/v1/chantiers", method},
		{"DELETE passes through with fwd=method", http.MethodDelete, "/api/v1/chantiers", method},
		{"an unconfigured route passes through with fwd=bypass", http.MethodGet, "/api/v1/documents", bypass},
		{"a malformed query is not keyed", http.MethodGet, "/api/v1/chantiers?limit=%zz", bypass},
		{"a query over MaxQueryBytes is not keyed", http.MethodGet, "/api/v1/chantiers?q=" + strings.Repeat("a", cache.MaxQueryBytes), bypass},
		{"a parameter outside Route.Params is not keyed", http.MethodGet, "/api/v1/planning?from=1&junk=2", bypass},
		{"parameters inside Route.Params are keyed", http.MethodGet, "/api/v1/planning?from=1&to=2", miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 2; i++ {
				r := do(h, tt.method, tt.target)
				want := tt.status
				if i == 1 && want == miss {
					want = hit
				}
				if r.cacheStatus != want {
					t.Fatalf("request %d: Cache-Status %q, want %q", i+1, r.cacheStatus, want)
				}
			}
		})
	}
}

func TestQueryNormalisation(t *testing.T) {
	a := &app{world: newWorld()}
	cfg := testConfig()
	cfg.QueryNormalizers = map[string]func(string) string{
		"fields": func(v string) string {
			f := strings.Split(v, ",")
			slices.Sort(f)
			return strings.Join(f, ",")
		},
	}
	c := newCache(t, cfg)
	h := c.Middleware(a)

	tests := []struct {
		name, first, second, status string
	}{
		{"parameter order does not matter", "?limit=10&statut=ouvert", "?statut=ouvert&limit=10", hit},
		{"percent-encoding is decoded", "?nom=caf%C3%A9", "?nom=café", hit},
		{"the fields normaliser merges equivalent selections", "?fields=nom,id", "?fields=id,nom", hit},
		{"values differ", "?limit=10", "?limit=11", miss},
		{"the order of a repeated parameter's values matters", "?sort=a&sort=b", "?sort=b&sort=a", miss},
		{"an empty value differs from an absent parameter", "?limit=1&q=", "?limit=1", miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			get(h, "/api/v1/chantiers"+tt.first)
			if r := get(h, "/api/v1/chantiers"+tt.second); r.cacheStatus != tt.status {
				t.Fatalf("got %q, want %q", r.cacheStatus, tt.status)
			}
		})
	}
}

func TestRouteVary(t *testing.T) {
	cfg := testConfig()
	cfg.Routes["/api/v1/chantiers"] = cache.Route{TTL: time.Minute, Vary: []string{"accept-language"}}
	c := newCache(t, cfg)
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Language")
		_, _ = io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
	}))
	for round, want := range []string{miss, hit} {
		for _, lang := range []string{"fr", "en"} {
			r := get(h, "/api/v1/chantiers", "Accept-Language", lang)
			if r.body != "lang="+lang || r.cacheStatus != want {
				t.Fatalf("round %d %s: %q %q", round, lang, r.cacheStatus, r.body)
			}
		}
	}
}

func TestHandlerPanicsAreNotCachedOrShared(t *testing.T) {
	var calls int
	c := newCache(t, testConfig())
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			panic(http.ErrAbortHandler)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want the handler's panic value", p)
			}
		}()
		get(h, "/api/v1/chantiers")
	}()
	if r := get(h, "/api/v1/chantiers"); r.cacheStatus != miss || r.body != "ok" {
		t.Fatalf("after a panic: %q %q", r.cacheStatus, r.body)
	}
}

func TestFlushingHandlerIsStreamedAndStored(t *testing.T) {
	c := newCache(t, testConfig())
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "part1,")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		_, _ = io.WriteString(w, "part2")
	}))
	rec := newFlushRecorder()
	h.ServeHTTP(rec, mustRequest(t, "/api/v1/chantiers"))
	if !rec.flushed || rec.Body.String() != "part1,part2" {
		t.Fatalf("flushed %v body %q", rec.flushed, rec.Body.String())
	}
	if r := get(h, "/api/v1/chantiers"); r.cacheStatus != hit || r.body != "part1,part2" {
		t.Fatalf("second: %q %q", r.cacheStatus, r.body)
	}
}

func TestEventsAndStats(t *testing.T) {
	var mu sync.Mutex
	counts := map[string]int{}
	cfg := testConfig()
	cfg.OnEvent = func(ev cache.Event) {
		mu.Lock()
		counts[ev.Kind.String()+" "+ev.Route]++
		mu.Unlock()
	}
	c := newCache(t, cfg)
	h := c.Middleware(&app{world: newWorld()})
	get(h, "/api/v1/chantiers")
	get(h, "/api/v1/chantiers")
	do(h, http.MethodPost, "/api/v1/chantiers")
	_ = c.Invalidate(context.Background(), "chantiers")

	want := map[string]int{
		"miss /api/v1/chantiers":   1,
		"store /api/v1/chantiers":  1,
		"hit /api/v1/chantiers":    1,
		"bypass /api/v1/chantiers": 1,
		"invalidate ":              1,
	}
	mu.Lock()
	defer mu.Unlock()
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%q: %d events, want %d (all: %v)", k, counts[k], v, counts)
		}
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 1 || s.Bypasses != 1 || s.Stores != 1 || s.Invalidations != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestEvictionsUnderTheMemoryBound(t *testing.T) {
	cfg := testConfig()
	cfg.HardMaxCacheSize = 1
	cfg.MaxEntryBytes = 16 << 10
	cfg.Shards = 1
	var c *cache.Cache
	var evictEvents atomic.Int64
	cfg.OnEvent = func(ev cache.Event) {
		if ev.Kind == cache.EventEvict {
			evictEvents.Add(1)
			_ = c.Stats() // hooks may call the cache: no lock is held
		}
	}
	c = newCache(t, cfg)
	body := bytes.Repeat([]byte("x"), 15<<10)
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	for i := range 200 { // 200 × 15 KiB > 1 MB
		get(h, "/api/v1/chantiers?page="+itoa(i))
	}
	s := c.Stats()
	if s.Evictions == 0 || s.Stores != 200 || s.Errors != 0 {
		t.Fatalf("stats %+v", s)
	}
	if got := evictEvents.Load(); got != int64(s.Evictions) {
		t.Fatalf("%d evict events for %d evictions", got, s.Evictions)
	}
	if r := get(h, "/api/v1/chantiers?page=199"); r.cacheStatus != hit {
		t.Fatalf("newest entry: %q", r.cacheStatus)
	}
	if r := get(h, "/api/v1/chantiers?page=0"); r.cacheStatus != miss {
		t.Fatalf("oldest entry: %q, want evicted", r.cacheStatus)
	}
}

func TestConfigValidation(t *testing.T) {
	valid := testConfig
	tests := []struct {
		name   string
		mutate func(*cache.Config)
	}{
		{"RouteFunc is required", func(c *cache.Config) { c.RouteFunc = nil }},
		{"VaryFunc is required", func(c *cache.Config) { c.VaryFunc = nil }},
		{"Routes are required", func(c *cache.Config) { c.Routes = nil }},
		{"a TTL under one second is rejected", func(c *cache.Config) { c.Routes["/x"] = cache.Route{TTL: time.Millisecond} }},
		{"a TTL over a day is rejected", func(c *cache.Config) { c.Routes["/x"] = cache.Route{TTL: 25 * time.Hour} }},
		{"an empty resource type is rejected", func(c *cache.Config) { c.Routes["/x"] = cache.Route{TTL: time.Minute, DependsOn: []string{""}} }},
		{"an invalid cache name is rejected", func(c *cache.Config) { c.Name = "hub chantier" }},
		{"a non power of two shard count is rejected", func(c *cache.Config) { c.Shards = 3 }},
		{"shards too small for MaxEntryBytes are rejected", func(c *cache.Config) { c.Shards = 256 }},
		{"a negative memory bound is rejected", func(c *cache.Config) { c.HardMaxCacheSize = -1 }},
		{"Set-Cookie cannot be a stored header", func(c *cache.Config) { c.StoredHeaders = []string{"set-cookie"} }},
		{"a nil normaliser is rejected", func(c *cache.Config) { c.QueryNormalizers = map[string]func(string) string{"fields": nil} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mutate(&cfg)
			c, err := cache.New(cfg)
			if err == nil {
				_ = c.Close()
				t.Fatal("New accepted the configuration")
			}
		})
	}
	t.Run("defaults are valid", func(t *testing.T) {
		c, err := cache.New(cache.Config{Routes: productRoutes(), RouteFunc: byPath, VaryFunc: byRole})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
	})
}
