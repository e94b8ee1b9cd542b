package ratelimit_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/problem"
	"github.com/hubchantier/hubchantier/ratelimit"
)

func TestSetCost(t *testing.T) {
	rules := []ratelimit.Rule{{Method: "POST", Route: "/batch", Policies: []ratelimit.Policy{ratelimit.PerMinute(10)}}}
	var mu sync.Mutex
	var errs []error
	// The handler charges one unit per operation, given in ?ops=.
	handler := func(w http.ResponseWriter, r *http.Request) {
		ops, _ := strconv.ParseInt(r.URL.Query().Get("ops"), 10, 64)
		err := ratelimit.SetCost(r.Context(), ops)
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		if err != nil {
			d, ok := problem.As(err)
			if !ok {
				t.Errorf("SetCost error %v carries no problem details", err)
				return
			}
			problem.Write(w, r, d)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Rules: rules}}, handler)
	lastErr := func() error { mu.Lock(); defer mu.Unlock(); return errs[len(errs)-1] }

	t.Run("the handler raises the cost before working", func(t *testing.T) {
		f := parseFields(t, s.do("POST", "/batch?ops=4", "k"))
		if f.status != 200 || f.remaining != 6 || f.limits["minute"][0] != 6 {
			t.Fatalf("4 operations: status %d remaining %d RateLimit %q, want 200 and 6 left", f.status, f.remaining, f.rateLimit)
		}
	})
	t.Run("a cost not above the first charge changes nothing", func(t *testing.T) {
		if f := parseFields(t, s.do("POST", "/batch?ops=1", "k")); f.status != 200 || f.remaining != 5 {
			t.Fatalf("1 operation: status %d remaining %d, want 200 and 5 left", f.status, f.remaining)
		}
	})
	t.Run("extra units that do not fit are refused and not kept", func(t *testing.T) {
		rec := s.do("POST", "/batch?ops=7", "k")
		f := parseFields(t, rec)
		if f.status != 429 || f.retryAfter < 1 {
			t.Fatalf("7 operations with 5 left: status %d Retry-After %d, want 429 with Retry-After", f.status, f.retryAfter)
		}
		if err := lastErr(); !errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("SetCost error %v is not ErrLimited", err)
		}
		var le *ratelimit.LimitError
		if err := lastErr(); !errors.As(err, &le) || le.RetryAfter != time.Duration(f.retryAfter)*time.Second {
			t.Fatalf("LimitError %+v, Retry-After %d", le, f.retryAfter)
		}
		// The refused request keeps its first unit: 5 - 1 = 4 left.
		if f.remaining != 4 {
			t.Fatalf("remaining %d after the refused raise, want 4", f.remaining)
		}
		if f := parseFields(t, s.do("POST", "/batch?ops=4", "k")); f.status != 200 || f.remaining != 0 {
			t.Fatalf("4 operations with 4 left: status %d remaining %d", f.status, f.remaining)
		}
	})
	t.Run("outside a limited request SetCost does nothing", func(t *testing.T) {
		if err := ratelimit.SetCost(newRequest("GET", "/", "").Context(), 100); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRefundNotModified(t *testing.T) {
	rules := []ratelimit.Rule{{Method: "GET", Route: "/doc", Policies: []ratelimit.Policy{ratelimit.PerMinute(3)}}}
	notModified := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" || r.URL.Query().Has("cached") {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write([]byte("body"))
	}
	for _, tt := range []struct {
		name   string
		refund bool
		want   int64 // remaining after 2 revalidations and 1 full response
	}{
		{"with RefundNotModified a 304 costs nothing", true, 2},
		{"without it a 304 costs a unit", false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Rules: rules}, RefundNotModified: tt.refund}, notModified)
			for i := 0; i < 2; i++ {
				if code := s.do("GET", "/doc?cached", "k").Code; code != http.StatusNotModified {
					t.Fatalf("revalidation %d: status %d", i, code)
				}
			}
			f := parseFields(t, s.do("GET", "/doc", "k"))
			if f.status != 200 || f.remaining != tt.want {
				t.Fatalf("status %d remaining %d, want 200 and %d", f.status, f.remaining, tt.want)
			}
		})
	}
	t.Run("a client out of quota gets 429, not 304", func(t *testing.T) {
		s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Rules: rules}, RefundNotModified: true}, notModified)
		for i := 0; i < 3; i++ {
			s.do("GET", "/doc", "k")
		}
		if code := s.do("GET", "/doc?cached", "k").Code; code != 429 {
			t.Fatalf("status %d, want 429", code)
		}
	})
	t.Run("streaming handlers can still flush", func(t *testing.T) {
		s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Rules: rules}, RefundNotModified: true}, func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush through the middleware: %v", err)
			}
			if _, ok := w.(http.Flusher); !ok {
				t.Error("the wrapped writer lost http.Flusher")
			}
		})
		if rec := s.do("GET", "/doc", "k"); !rec.Flushed {
			t.Fatal("response not flushed")
		}
	})
}

func TestStoreFailure(t *testing.T) {
	rules := []ratelimit.Rule{{Method: "GET", Route: "/a", Policies: []ratelimit.Policy{ratelimit.PerMinute(1)}}}
	const secret = "hck_live_secret_api_key"

	t.Run("fail open lets requests through, warns without the key and reports", func(t *testing.T) {
		var logs syncBuffer
		var reported []string
		var mu sync.Mutex
		s := newServer(t, ratelimit.Config{
			Limits: ratelimit.Limits{Rules: rules},
			Store:  &failingStore{},
			Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			OnStoreError: func(method, route string, err error) {
				mu.Lock()
				reported = append(reported, method+" "+route+": "+err.Error())
				mu.Unlock()
			},
		}, nil)
		for i := 0; i < 3; i++ {
			rec := s.do("GET", "/a", secret)
			if rec.Code != http.StatusOK {
				t.Fatalf("request %d: status %d, want 200", i, rec.Code)
			}
			if rec.Header().Get("X-RateLimit-Remaining") != "" || rec.Header().Get("RateLimit") != "" {
				t.Fatalf("request %d: counters announced without a store: %v", i, rec.Header())
			}
		}
		out := logs.String()
		if strings.Count(out, "rate limit store failed") != 1 {
			t.Errorf("want one warning for a burst of failures, got:\n%s", out)
		}
		if !strings.Contains(out, "route=/a") || !strings.Contains(out, "fail open") {
			t.Errorf("warning lacks the route or the outcome: %s", out)
		}
		if strings.Contains(out, secret) {
			t.Errorf("the key leaked into the log: %s", out)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(reported) != 3 || reported[0] != "GET /a: store down" {
			t.Errorf("OnStoreError calls %q", reported)
		}
	})
	t.Run("fail closed answers 503 problem", func(t *testing.T) {
		s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Rules: rules}, Store: &failingStore{}, FailClosed: true, Logger: slog.New(slog.DiscardHandler)}, nil)
		rec := s.do("GET", "/a", "k")
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", rec.Code)
		}
		if body := problemBody(t, rec); body["type"] != problem.DefaultTypeBase+"rate-limit-unavailable" {
			t.Fatalf("problem %v", body)
		}
		if s.served.Load() != 0 {
			t.Fatal("the handler ran")
		}
	})
	t.Run("a store that never answers is abandoned after the timeout", func(t *testing.T) {
		store := &hangingStore{release: make(chan struct{})}
		t.Cleanup(func() { close(store.release) })
		for _, failClosed := range []bool{false, true} {
			s := newServer(t, ratelimit.Config{
				Limits: ratelimit.Limits{Rules: rules}, Store: store, FailClosed: failClosed,
				Timeout: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
			}, nil)
			// Without the timeout this request would wait for the release,
			// which only comes at cleanup: the test would hang.
			want := map[bool]int{false: 200, true: 503}[failClosed]
			if code := s.do("GET", "/a", "k").Code; code != want {
				t.Fatalf("FailClosed=%v: status %d, want %d", failClosed, code, want)
			}
		}
	})
}

func TestStoreKeys(t *testing.T) {
	const secret = "hck_live_0123456789abcdef"
	rules := []ratelimit.Rule{{Method: "GET", Route: "/chantiers/{id}", Policies: []ratelimit.Policy{ratelimit.PerMinute(9), ratelimit.PerDay(99)}}}
	keysFor := func(salt []byte) []string {
		store := &recordingStore{Store: ratelimit.NewMemoryStore()}
		s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Rules: rules}, Store: store, KeySalt: salt}, nil)
		s.do("GET", "/chantiers/42", secret)
		return store.keys
	}
	keys := keysFor(nil)
	if len(keys) != 2 {
		t.Fatalf("keys %q, want one per policy", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, secret) || strings.Contains(k, "42") {
			t.Errorf("key %q holds the raw key or the raw path", k)
		}
		if !strings.Contains(k, "GET /chantiers/{id}") {
			t.Errorf("key %q does not name the route template", k)
		}
		if !strings.HasPrefix(k, "{") {
			t.Errorf("key %q does not start with the principal's hash tag", k)
		}
	}
	if keys[0] == keys[1] {
		t.Errorf("two policies share the key %q", keys[0])
	}
	if salted := keysFor([]byte("pepper")); salted[0] == keys[0] {
		t.Errorf("KeySalt did not change the key %q", keys[0])
	}
	if again := keysFor(nil); again[0] != keys[0] {
		t.Errorf("keys differ between instances: %q and %q", keys[0], again[0])
	}
}

func TestUnixReset(t *testing.T) {
	s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(5)}}, UnixReset: true}, nil)
	before := time.Now().Unix()
	f := parseFields(t, s.do("GET", "/a", "k"))
	after := time.Now().Unix()
	if f.reset <= before || f.reset > after+61 {
		t.Fatalf("X-RateLimit-Reset %d, want a Unix time within a minute of %d", f.reset, before)
	}
	if t1 := f.limits["minute"][1]; t1 < 1 || t1 > 60 {
		t.Fatalf("RateLimit t=%d must stay in seconds", t1)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := ratelimit.Config{Key: testKey, Route: testRoute}
	with := func(f func(*ratelimit.Config)) ratelimit.Config { c := ok; f(&c); return c }
	rule := func(method, route string, p ...ratelimit.Policy) func(*ratelimit.Config) {
		return func(c *ratelimit.Config) {
			c.Rules = append(c.Rules, ratelimit.Rule{Method: method, Route: route, Policies: p})
		}
	}
	tests := []struct {
		name string
		cfg  ratelimit.Config
		want string
	}{
		{"no key func", with(func(c *ratelimit.Config) { c.Key = nil }), "Config.Key"},
		{"no route func", with(func(c *ratelimit.Config) { c.Route = nil }), "Config.Route"},
		{"negative timeout", with(func(c *ratelimit.Config) { c.Timeout = -time.Second }), "Timeout"},
		{"overrides without selector", with(func(c *ratelimit.Config) { c.Overrides = map[string]ratelimit.Limits{"p": {}} }), "Config.Override"},
		{"empty override name", with(func(c *ratelimit.Config) {
			c.Overrides = map[string]ratelimit.Limits{"": {}}
			c.Override = func(*http.Request) string { return "" }
		}), "empty name"},
		{"bad override rule", with(func(c *ratelimit.Config) {
			c.Overrides = map[string]ratelimit.Limits{"p": {Default: []ratelimit.Policy{{Limit: 0, Window: time.Second}}}}
			c.Override = func(*http.Request) string { return "" }
		}), `override "p"`},
		{"fallback route with a space", with(func(c *ratelimit.Config) { c.FallbackRoute = "no route" }), "FallbackRoute"},
		{"lower-case method", with(rule("get", "/a", ratelimit.PerMinute(1))), "not upper-case"},
		{"empty method", with(rule("", "/a", ratelimit.PerMinute(1))), "empty method"},
		{"method with a delimiter", with(rule("GE/T", "/a", ratelimit.PerMinute(1))), "not an HTTP token"},
		{"empty route", with(rule("GET", "", ratelimit.PerMinute(1))), "empty route"},
		{"route with a control character", with(rule("GET", "/a\n", ratelimit.PerMinute(1))), "control character"},
		{"zero limit", with(rule("GET", "/a", ratelimit.Policy{Limit: 0, Window: time.Minute})), "not in [1, 2^50]"},
		{"limit above MaxLimit", with(rule("GET", "/a", ratelimit.Policy{Limit: ratelimit.MaxLimit + 1, Window: time.Minute})), "not in [1, 2^50]"},
		{"sub-second window", with(rule("GET", "/a", ratelimit.Policy{Limit: 1, Window: 500 * time.Millisecond})), "whole number of seconds"},
		{"fractional window", with(rule("GET", "/a", ratelimit.Policy{Limit: 1, Window: 1500 * time.Millisecond})), "whole number of seconds"},
		{"policy name with a quote", with(rule("GET", "/a", ratelimit.Policy{Name: `a"b`, Limit: 1, Window: time.Minute})), "only ASCII"},
		{"policy name too long", with(rule("GET", "/a", ratelimit.Policy{Name: strings.Repeat("a", 65), Limit: 1, Window: time.Minute})), "longer than"},
		{"two policies with one name", with(rule("GET", "/a", ratelimit.PerMinute(1), ratelimit.Policy{Limit: 9, Window: time.Minute})), `named "minute"`},
		{"duplicate rule", with(func(c *ratelimit.Config) {
			rule("GET", "/a", ratelimit.PerMinute(1))(c)
			rule("GET", "/a", ratelimit.PerDay(1))(c)
		}), "already exists"},
		{"bad default policy", with(func(c *ratelimit.Config) { c.Default = []ratelimit.Policy{{Limit: 1}} }), "default policies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ratelimit.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("a valid config passes", func(t *testing.T) {
		cfg := with(rule("M-SEARCH", "/a", ratelimit.Policy{Limit: 1, Window: 90 * time.Second}))
		if _, err := ratelimit.New(cfg); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPolicyNames(t *testing.T) {
	for _, tt := range []struct {
		p    ratelimit.Policy
		want string
	}{
		{ratelimit.PerSecond(1), `"second";q=1;w=1`},
		{ratelimit.Policy{Limit: 2, Window: time.Minute}, `"minute";q=2;w=60`},
		{ratelimit.Policy{Limit: 3, Window: time.Hour}, `"hour";q=3;w=3600`},
		{ratelimit.Policy{Limit: 4, Window: 24 * time.Hour}, `"day";q=4;w=86400`},
		{ratelimit.Policy{Limit: 5, Window: 90 * time.Second}, `"90s";q=5;w=90`},
		{ratelimit.Policy{Name: "burst.v2", Limit: 6, Window: time.Second}, `"burst.v2";q=6;w=1`},
	} {
		t.Run(tt.want, func(t *testing.T) {
			s := newServer(t, ratelimit.Config{Limits: ratelimit.Limits{Default: []ratelimit.Policy{tt.p}}}, nil)
			if got := s.do("GET", "/", "k").Header().Get("RateLimit-Policy"); got != tt.want {
				t.Fatalf("RateLimit-Policy %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMergeRules(t *testing.T) {
	base := []ratelimit.Rule{
		{Method: "GET", Route: "/stats", Policies: []ratelimit.Policy{ratelimit.PerHour(1000)}},
		{Method: "POST", Route: "/chantiers", Policies: []ratelimit.Policy{ratelimit.PerDay(100), ratelimit.PerMinute(10)}},
	}
	env, err := ratelimit.ParseRules("GET /stats=5/m;POST /batch=10/m")
	if err != nil {
		t.Fatal(err)
	}
	got := ratelimit.MergeRules(base, env)
	want := "[GET /stats [minute: 5 per 60s] POST /chantiers [day: 100 per 86400s minute: 10 per 60s] POST /batch [minute: 10 per 60s]]"
	if s := strings.Join(strings.Fields(strings.Trim(fmtRules(got), " ")), " "); s != want {
		t.Fatalf("merged\n%s\nwant\n%s", s, want)
	}
	if base[0].Policies[0].Limit != 1000 {
		t.Fatal("MergeRules modified its argument")
	}
}

func fmtRules(rules []ratelimit.Rule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}
