package ratelimit_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/hubchantier/hubchantier/problem"
	"github.com/hubchantier/hubchantier/ratelimit"
)

func Example() {
	rl, err := ratelimit.New(ratelimit.Config{
		Limits: ratelimit.Limits{
			Rules: []ratelimit.Rule{
				{Method: "GET", Route: "/api/v1/stats", Policies: []ratelimit.Policy{ratelimit.PerMinute(2)}},
			},
			Default: []ratelimit.Policy{ratelimit.PerMinute(600)},
		},
		// The principal: an authenticated id, else the client IP.
		Key: func(r *http.Request) (string, bool) { return r.RemoteAddr, true },
		// A router's route template; a plain path is enough for this example.
		Route: func(r *http.Request) string { return r.URL.Path },
	})
	if err != nil {
		log.Fatal(err)
	}
	stats := rl.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"chantiers":12}`)
	}))

	for i := 0; i < 3; i++ {
		rec := httptest.NewRecorder()
		stats.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/stats", nil))
		fmt.Println(rec.Code, rec.Header().Get("X-RateLimit-Remaining"), rec.Header().Get("RateLimit-Policy"))
	}
	// Output:
	// 200 1 "minute";q=2;w=60
	// 200 0 "minute";q=2;w=60
	// 429 0 "minute";q=2;w=60
}

func ExampleParseRules() {
	// Rules in code, overridden by a configuration value such as
	// os.Getenv("RATE_LIMITS").
	rules := []ratelimit.Rule{
		{Method: "POST", Route: "/api/v1/chantiers", Policies: []ratelimit.Policy{ratelimit.PerDay(100)}},
		{Method: "GET", Route: "/api/v1/stats", Policies: []ratelimit.Policy{ratelimit.PerHour(1000)}},
	}
	env, err := ratelimit.ParseRules("GET /api/v1/stats=5/m;POST /api/v1/batch=10/m")
	if err != nil {
		log.Fatal(err) // e.g. ratelimit: rule 2 "POST /api/v1/batch=10/w": rate "10/w": unknown unit "w" (want s, m, h or d)
	}
	for _, r := range ratelimit.MergeRules(rules, env) {
		fmt.Println(r)
	}
	// Output:
	// POST /api/v1/chantiers [day: 100 per 86400s]
	// GET /api/v1/stats [minute: 5 per 60s]
	// POST /api/v1/batch [minute: 10 per 60s]
}

func ExampleSetCost() {
	rl, err := ratelimit.New(ratelimit.Config{
		Limits: ratelimit.Limits{Rules: []ratelimit.Rule{
			{Method: "POST", Route: "/api/v1/batch", Policies: []ratelimit.Policy{ratelimit.PerMinute(10)}},
		}},
		Key:   func(r *http.Request) (string, bool) { return "client-1", true },
		Route: func(r *http.Request) string { return r.URL.Path },
	})
	if err != nil {
		log.Fatal(err)
	}
	// The batch endpoint charges one unit per operation, before running any.
	batch := rl.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ops, _ := strconv.ParseInt(r.URL.Query().Get("ops"), 10, 64)
		if err := ratelimit.SetCost(r.Context(), ops); err != nil {
			d, _ := problem.As(err)
			problem.Write(w, r, d)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))

	for _, ops := range []string{"6", "6", "3"} {
		rec := httptest.NewRecorder()
		batch.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/batch?ops="+ops, nil))
		fmt.Println(ops, "operations:", rec.Code, "remaining", rec.Header().Get("X-RateLimit-Remaining"))
	}
	// Output:
	// 6 operations: 200 remaining 4
	// 6 operations: 429 remaining 3
	// 3 operations: 200 remaining 0
}

// A price per request: reads that ask for every member cost two units.
func ExampleCostFunc() {
	rl, err := ratelimit.New(ratelimit.Config{
		Limits: ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(4)}},
		Key:    func(r *http.Request) (string, bool) { return r.RemoteAddr, true },
		Route:  func(r *http.Request) string { return r.URL.Path },
		Cost: func(r *http.Request) int64 {
			if r.URL.Query().Get("fields") == "*" {
				return 2
			}
			return 1
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	h := rl.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, target := range []string{"/chantiers?fields=id,nom", "/chantiers?fields=*", "/chantiers?fields=*"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		fmt.Println(target, rec.Code, rec.Header().Get("X-RateLimit-Remaining"))
	}
	// Output:
	// /chantiers?fields=id,nom 200 3
	// /chantiers?fields=* 200 1
	// /chantiers?fields=* 429 1
}
