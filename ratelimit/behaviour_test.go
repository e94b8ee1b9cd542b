package ratelimit_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/problem"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// These checks run on every store (memory here, Redis in redis_test.go).

// checkBoundary: the fields are right on the last allowed request and the
// first refused one.
func checkBoundary(t *testing.T, store limiter.Store) {
	s := newServer(t, ratelimit.Config{
		Store:  store,
		Limits: ratelimit.Limits{Rules: []ratelimit.Rule{{Method: "GET", Route: "/stats", Policies: []ratelimit.Policy{ratelimit.PerMinute(3)}}}},
	}, nil)
	for i := int64(1); i <= 3; i++ {
		f := parseFields(t, s.do("GET", "/stats", "alice"))
		if f.status != http.StatusOK {
			t.Fatalf("request %d: status %d, want 200", i, f.status)
		}
		if f.limit != 3 || f.remaining != 3-i {
			t.Errorf("request %d: X-RateLimit-Limit %d Remaining %d, want 3 and %d", i, f.limit, f.remaining, 3-i)
		}
		if f.reset < 1 || f.reset > 60 {
			t.Errorf("request %d: X-RateLimit-Reset %d, want seconds in [1, 60]", i, f.reset)
		}
		if f.policy != `"minute";q=3;w=60` {
			t.Errorf("request %d: RateLimit-Policy %q", i, f.policy)
		}
		if got := f.limits["minute"]; got != [2]int64{3 - i, f.reset} {
			t.Errorf("request %d: RateLimit %q, want r=%d t=%d", i, f.rateLimit, 3-i, f.reset)
		}
		if f.retryAfter != -1 {
			t.Errorf("request %d: Retry-After on an allowed request", i)
		}
	}
	rec := s.do("GET", "/stats", "alice")
	f := parseFields(t, rec)
	if f.status != http.StatusTooManyRequests {
		t.Fatalf("4th request: status %d, want 429", f.status)
	}
	if f.limit != 3 || f.remaining != 0 || f.reset < 1 || f.reset > 60 {
		t.Errorf("4th request: X-RateLimit-* %d/%d/%d", f.limit, f.remaining, f.reset)
	}
	if f.retryAfter != f.reset {
		t.Errorf("Retry-After %d, want the window's end %d", f.retryAfter, f.reset)
	}
	if got := f.limits["minute"]; got != [2]int64{0, f.reset} {
		t.Errorf("RateLimit %q on the refused request", f.rateLimit)
	}
	if f.policy != `"minute";q=3;w=60` {
		t.Errorf("RateLimit-Policy %q on the refused request", f.policy)
	}
	body := problemBody(t, rec)
	if body["type"] != problem.DefaultTypeBase+"rate-limit-exceeded" || body["status"] != 429.0 || body["instance"] != "/stats" {
		t.Errorf("problem %v", body)
	}
	if v, _ := body["violated-policies"].([]any); len(v) != 1 || v[0] != "minute" {
		t.Errorf("violated-policies %v", body["violated-policies"])
	}
	if s.served.Load() != 3 {
		t.Errorf("handler served %d requests, want 3", s.served.Load())
	}
}

// checkWindowReset: after waiting the announced Retry-After, the quota is
// back.
func checkWindowReset(t *testing.T, store limiter.Store) {
	s := newServer(t, ratelimit.Config{
		Store:  store,
		Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerSecond(2)}},
	}, nil)
	for round := 1; round <= 2; round++ {
		// Spend the quota. (A stalled machine may see a window end between
		// two requests: keep going until one is refused.)
		var f fields
		for i := 0; ; i++ {
			if f = parseFields(t, s.do("GET", "/x", "bob")); f.status == http.StatusTooManyRequests {
				break
			}
			if f.status != http.StatusOK || i == 100 {
				t.Fatalf("round %d request %d: status %d", round, i+1, f.status)
			}
		}
		if f.retryAfter != 1 || f.reset != 1 {
			t.Fatalf("round %d: Retry-After %d, X-RateLimit-Reset %d for a 1 s window", round, f.retryAfter, f.reset)
		}
		time.Sleep(time.Duration(f.retryAfter) * time.Second)
		if f := parseFields(t, s.do("GET", "/x", "bob")); f.status != http.StatusOK || f.remaining != 1 {
			t.Fatalf("round %d: after the announced wait: status %d remaining %d, want 200 and a new window", round, f.status, f.remaining)
		}
	}
}

func TestBoundaryMemory(t *testing.T) { checkBoundary(t, ratelimit.NewMemoryStore()) }

func TestWindowResetsAsAnnouncedMemory(t *testing.T) {
	checkWindowReset(t, ratelimit.NewMemoryStore())
}

func TestCountersAreSeparate(t *testing.T) {
	rules := []ratelimit.Rule{
		{Method: "GET", Route: "/chantiers/{id}", Policies: []ratelimit.Policy{ratelimit.PerMinute(1)}},
		{Method: "DELETE", Route: "/chantiers/{id}", Policies: []ratelimit.Policy{ratelimit.PerMinute(1)}},
		{Method: "GET", Route: "/stats", Policies: []ratelimit.Policy{ratelimit.PerMinute(1)}},
	}
	s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Rules: rules}}, nil)
	steps := []struct {
		name, method, path, key string
		want                    int
	}{
		{"first request of a principal is allowed", "GET", "/chantiers/1", "alice", 200},
		{"another path of the same route template shares its counter", "GET", "/chantiers/2", "alice", 429},
		{"another principal has its own counter", "GET", "/chantiers/1", "bob", 200},
		{"another method of the same route has its own rule", "DELETE", "/chantiers/1", "alice", 200},
		{"another route has its own counter", "GET", "/stats", "alice", 200},
		{"HEAD shares the GET rule and counter", "HEAD", "/stats", "alice", 429},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if code := s.do(st.method, st.path, st.key).Code; code != st.want {
				t.Fatalf("%s %s as %s: status %d, want %d", st.method, st.path, st.key, code, st.want)
			}
		})
	}
}

func TestRuleResolution(t *testing.T) {
	cfg := ratelimit.Config{
		Limits: ratelimit.Limits{
			Rules: []ratelimit.Rule{
				{Method: "*", Route: "/graphql", Policies: []ratelimit.Policy{ratelimit.PerMinute(7)}},
				{Method: "POST", Route: "/chantiers", Policies: []ratelimit.Policy{ratelimit.PerDay(100)}},
				{Method: "GET", Route: "/healthz"}, // no policies: not limited
				{Method: "GET", Route: "/head-only"},
				{Method: "HEAD", Route: "/head-only", Policies: []ratelimit.Policy{ratelimit.PerMinute(2)}},
			},
			Default: []ratelimit.Policy{ratelimit.PerMinute(600)},
		},
		Overrides: map[string]ratelimit.Limits{
			"premium": {
				Rules:   []ratelimit.Rule{{Method: "POST", Route: "/chantiers", Policies: []ratelimit.Policy{ratelimit.PerDay(1000)}}},
				Default: []ratelimit.Policy{ratelimit.PerMinute(6000)},
			},
			"silver": {Rules: []ratelimit.Rule{{Method: "GET", Route: "/stats", Policies: []ratelimit.Policy{ratelimit.PerHour(50)}}}},
		},
		Override: func(r *http.Request) string { return r.Header.Get("X-Plan") },
	}
	s := newServer(t, cfg, nil)
	tests := []struct {
		name, method, path, plan string
		wantPolicy               string // "" when the response must carry no field
	}{
		{"an exact rule applies", "POST", "/chantiers", "", `"day";q=100;w=86400`},
		{"a * rule applies to every method", "PUT", "/graphql", "", `"minute";q=7;w=60`},
		{"a route without rule gets the default", "GET", "/other", "", `"minute";q=600;w=60`},
		{"an unmatched request gets the default on the fallback route", "GET", "/nowhere", "", `"minute";q=600;w=60`},
		{"a rule without policies is not limited", "GET", "/healthz", "", ""},
		{"an explicit HEAD rule wins over the GET rule", "HEAD", "/head-only", "", `"minute";q=2;w=60`},
		{"an override rule replaces the base rule", "POST", "/chantiers", "premium", `"day";q=1000;w=86400`},
		{"an override default replaces the base default", "GET", "/other", "premium", `"minute";q=6000;w=60`},
		{"a base rule wins over an override default", "PUT", "/graphql", "premium", `"minute";q=7;w=60`},
		{"an override without default keeps the base default", "GET", "/other", "silver", `"minute";q=600;w=60`},
		{"an unknown override name selects none", "POST", "/chantiers", "gold", `"day";q=100;w=86400`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, rec := newRequest(tt.method, tt.path, "carol"), newRecorder()
			req.Header.Set("X-Plan", tt.plan)
			s.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("RateLimit-Policy"); got != tt.wantPolicy {
				t.Fatalf("RateLimit-Policy %q, want %q", got, tt.wantPolicy)
			}
			if tt.wantPolicy == "" && (rec.Header().Get("RateLimit") != "" || rec.Header().Get("X-RateLimit-Limit") != "") {
				t.Fatalf("unlimited route got fields %v", rec.Header())
			}
		})
	}
}

func TestOverrideSharesCountersWithBaseRule(t *testing.T) {
	cfg := ratelimit.Config{
		Limits:    ratelimit.Limits{Rules: []ratelimit.Rule{{Method: "POST", Route: "/chantiers", Policies: []ratelimit.Policy{ratelimit.PerDay(2)}}}},
		Overrides: map[string]ratelimit.Limits{"premium": {Rules: []ratelimit.Rule{{Method: "POST", Route: "/chantiers", Policies: []ratelimit.Policy{ratelimit.PerDay(5)}}}}},
		Override:  func(r *http.Request) string { return r.Header.Get("X-Plan") },
	}
	s := newServer(t, cfg, nil)
	s.do("POST", "/chantiers", "dave")
	s.do("POST", "/chantiers", "dave")
	req, rec := newRequest("POST", "/chantiers", "dave"), newRecorder()
	req.Header.Set("X-Plan", "premium")
	s.h.ServeHTTP(rec, req)
	if f := parseFields(t, rec); f.status != 200 || f.remaining != 2 {
		t.Fatalf("after an upgrade: status %d remaining %d, want 200 and 5-3=2", f.status, f.remaining)
	}
}

func TestDefaultPoliciesCountPerRoute(t *testing.T) {
	s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(1)}}}, nil)
	for _, step := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/a", 200}, {"GET", "/a", 429}, {"HEAD", "/a", 429}, {"GET", "/b", 200}, {"POST", "/a", 200},
		{"GET", "/nowhere", 200}, {"GET", "/nowhere/else", 429},
	} {
		if code := s.do(step.method, step.path, "erin").Code; code != step.want {
			t.Fatalf("%s %s: status %d, want %d", step.method, step.path, code, step.want)
		}
	}
}

func TestRequestsWithoutKeyAreNotLimited(t *testing.T) {
	s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(1)}}}, nil)
	for i := 0; i < 3; i++ {
		rec := s.do("GET", "/a", "")
		if rec.Code != http.StatusOK || rec.Header().Get("RateLimit-Policy") != "" {
			t.Fatalf("request %d without key: status %d, fields %v", i, rec.Code, rec.Header())
		}
	}
}

func TestMultiplePolicies(t *testing.T) {
	// Declared daily first: the header lists policies in declared order, but
	// the per-minute burst is charged first.
	policies := []ratelimit.Policy{ratelimit.PerDay(3), {Name: "burst", Limit: 2, Window: time.Minute}}
	t.Run("the burst refuses without touching the daily quota", func(t *testing.T) {
		s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Default: policies}}, nil)
		s.do("GET", "/a", "k")
		f := parseFields(t, s.do("GET", "/a", "k"))
		if f.limits["day"][0] != 1 || f.limits["burst"][0] != 0 {
			t.Fatalf("after 2 requests: RateLimit %q", f.rateLimit)
		}
		if f.limit != 2 || f.remaining != 0 {
			t.Fatalf("X-RateLimit-* must show the most restrictive policy: limit %d remaining %d", f.limit, f.remaining)
		}
		if f.policy != `"day";q=3;w=86400, "burst";q=2;w=60` {
			t.Fatalf("RateLimit-Policy %q", f.policy)
		}
		rec := s.do("GET", "/a", "k")
		f = parseFields(t, rec)
		if f.status != 429 {
			t.Fatalf("3rd request: status %d", f.status)
		}
		if v := problemBody(t, rec)["violated-policies"].([]any); v[0] != "burst" {
			t.Fatalf("violated-policies %v", v)
		}
		if _, ok := f.limits["day"]; ok {
			t.Fatalf("the daily quota was charged for a request the burst refused: %q", f.rateLimit)
		}
	})
	t.Run("a refusal by the daily quota gives the burst unit back", func(t *testing.T) {
		policies := []ratelimit.Policy{ratelimit.PerDay(2), {Name: "burst", Limit: 5, Window: time.Minute}}
		s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Default: policies}}, nil)
		s.do("GET", "/a", "k")
		s.do("GET", "/a", "k")
		for i := 0; i < 3; i++ {
			f := parseFields(t, s.do("GET", "/a", "k"))
			if f.status != 429 || f.limits["burst"][0] != 3 || f.limits["day"][0] != 0 {
				t.Fatalf("refused request %d: status %d RateLimit %q, want 429 with burst r=3", i, f.status, f.rateLimit)
			}
		}
	})
}

func TestCost(t *testing.T) {
	rules := []ratelimit.Rule{{Method: "POST", Route: "/batch", Policies: []ratelimit.Policy{ratelimit.PerMinute(5)}}}
	t.Run("an outer middleware sets the cost with WithCost", func(t *testing.T) {
		l, err := ratelimit.New(ratelimit.Config{Key: testKey, Route: testRoute, Limits: ratelimit.Limits{Rules: rules}})
		if err != nil {
			t.Fatal(err)
		}
		inner := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		do := func(cost int64) fields {
			req, rec := newRequest("POST", "/batch", "k"), newRecorder()
			inner.ServeHTTP(rec, req.WithContext(ratelimit.WithCost(req.Context(), cost)))
			return parseFields(t, rec)
		}
		if f := do(3); f.status != 200 || f.remaining != 2 {
			t.Fatalf("cost 3: status %d remaining %d, want 200 and 2", f.status, f.remaining)
		}
		if f := do(3); f.status != 429 || f.remaining != 2 || f.retryAfter < 1 {
			t.Fatalf("cost 3 with 2 left: status %d remaining %d Retry-After %d, want 429, 2 left and a Retry-After", f.status, f.remaining, f.retryAfter)
		}
		if f := do(2); f.status != 200 || f.remaining != 0 {
			t.Fatalf("the refused request must not have consumed the 2 units left: status %d remaining %d", f.status, f.remaining)
		}
		if f := do(0); f.status != 429 {
			t.Fatalf("a cost below 1 counts as 1: status %d", f.status)
		}
	})
	t.Run("Config.Cost prices each request from what it asks for; WithCost takes precedence", func(t *testing.T) {
		wide := func(r *http.Request) int64 {
			if r.URL.Query().Get("fields") == "*" {
				return 2
			}
			return 0 // counts as 1
		}
		l, err := ratelimit.New(ratelimit.Config{Key: testKey, Route: testRoute, Cost: wide,
			Limits: ratelimit.Limits{Rules: []ratelimit.Rule{{Method: "GET", Route: "/chantiers", Policies: []ratelimit.Policy{ratelimit.PerMinute(6)}}}}})
		if err != nil {
			t.Fatal(err)
		}
		h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		do := func(target string, withCost int64) fields {
			req, rec := newRequest("GET", target, "k"), newRecorder()
			if withCost > 0 {
				req = req.WithContext(ratelimit.WithCost(req.Context(), withCost))
			}
			h.ServeHTTP(rec, req)
			return parseFields(t, rec)
		}
		for _, step := range []struct {
			target    string
			withCost  int64
			status    int
			remaining int64
			what      string
		}{
			{"/chantiers?fields=id", 0, 200, 5, "a narrow request costs 1"},
			{"/chantiers?fields=*", 0, 200, 3, "a wide request costs 2"},
			{"/chantiers?fields=*", 1, 200, 2, "WithCost(1) overrides Config.Cost"},
			{"/chantiers", 0, 200, 1, "a cost below 1 counts as 1"},
			{"/chantiers?fields=*", 0, 429, 1, "a wide request does not fit in 1 unit"},
			{"/chantiers", 0, 200, 0, "the unit left serves a narrow request"},
		} {
			if f := do(step.target, step.withCost); f.status != step.status || f.remaining != step.remaining {
				t.Fatalf("%s: status %d remaining %d, want %d and %d", step.what, f.status, f.remaining, step.status, step.remaining)
			}
		}
	})
	t.Run("a huge cost is refused without overflowing the counter", func(t *testing.T) {
		l, _ := ratelimit.New(ratelimit.Config{Key: testKey, Route: testRoute, Limits: ratelimit.Limits{Rules: rules}})
		h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := ratelimit.SetCost(r.Context(), math.MaxInt64); err == nil {
				t.Error("SetCost(MaxInt64) was allowed")
			}
		}))
		for _, cost := range []int64{math.MaxInt64, 1, math.MaxInt64} {
			req, rec := newRequest("POST", "/batch", "huge"), newRecorder()
			h.ServeHTTP(rec, req.WithContext(ratelimit.WithCost(req.Context(), cost)))
			if f := parseFields(t, rec); cost > 1 && f.status != 429 || f.remaining < 0 || f.remaining > 5 {
				t.Fatalf("cost %d: status %d remaining %d", cost, f.status, f.remaining)
			}
		}
		req, rec := newRequest("POST", "/batch", "huge"), newRecorder()
		l.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
		if f := parseFields(t, rec); f.status != 404 || f.remaining != 3 {
			t.Fatalf("after the huge costs: status %d remaining %d, want the quota minus the 2 cost-1 requests", f.status, f.remaining)
		}
	})
	t.Run("a cost above the quota is refused with an explanation", func(t *testing.T) {
		l, _ := ratelimit.New(ratelimit.Config{Key: testKey, Route: testRoute, Limits: ratelimit.Limits{Rules: rules}})
		req, rec := newRequest("POST", "/batch", "k"), newRecorder()
		l.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req.WithContext(ratelimit.WithCost(req.Context(), 6)))
		if rec.Code != 429 || !strings.Contains(problemBody(t, rec)["detail"].(string), "costs 6 units") {
			t.Fatalf("status %d body %s", rec.Code, rec.Body)
		}
	})
}
