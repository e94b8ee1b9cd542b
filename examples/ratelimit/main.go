// Command ratelimit is a plain net/http server that shows the ratelimit
// package: per-route quotas per API key (anonymous clients by IP), a premium
// plan, a batch endpoint charged per operation, free 304 revalidations, and
// quotas shared through Redis when HUB_REDIS_URL is set.
//
//	go run ./examples/ratelimit -addr 127.0.0.1:8080
//	curl -i localhost:8080/api/v1/stats                                   # 3 a minute per IP
//	curl -i -H 'Authorization: Bearer hck_demo_premium' localhost:8080/api/v1/stats  # 100 a minute
//	curl -i -X POST 'localhost:8080/api/v1/batch?ops=7'                   # costs 7 of 10 a minute
//	curl -i localhost:8080/api/v1/chantiers/1 -H 'If-None-Match: "v1"'    # 304, free
//
// HUB_RATE_LIMITS overrides the rules, e.g. "GET /api/v1/stats=5/m;POST
// /api/v1/chantiers=100/d"; HUB_REDIS_URL (redis://...) shares the counters
// between instances.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/problem"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	var store limiter.Store // nil: in-process memory
	if u := os.Getenv("HUB_REDIS_URL"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			log.Fatal("HUB_REDIS_URL: ", err) // go-redis errors do not repeat the password
		}
		opt.ContextTimeoutEnabled = true
		store = redisstore.New(redis.NewClient(opt), "hubchantier:example:ratelimit")
	}
	h, err := newHandler(os.Getenv("HUB_RATE_LIMITS"), store)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}

// apiKeys maps the SHA-256 of each demo API key to its plan. A real server
// stores key hashes in its database; hashing the presented key before the
// lookup keeps the comparison free of timing leaks about the key.
var apiKeys = map[string]string{
	hashKey("hck_demo_basic"):   "basic",
	hashKey("hck_demo_premium"): "premium",
}

func hashKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:])
}

// principal identifies a request: its API key's hash when the key is known,
// else the client IP. Unknown keys count as anonymous, or a client could
// dodge its quota by inventing keys.
type principal struct{ key, plan string }

type principalKey struct{}

// authenticate stands for the server's authentication middleware, which runs
// before rate limiting and leaves the principal in the request context.
func authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principal{}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			h := hashKey(tok)
			if plan, ok := apiKeys[h]; ok {
				p = principal{key: "key:" + h, plan: plan}
			}
		}
		if p.key == "" {
			ip, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				ip = r.RemoteAddr
			}
			p.key = "ip:" + ip
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func principalOf(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// newHandler builds the server: routes on an http.ServeMux, limited by the
// rules below as overridden by env (HUB_RATE_LIMITS syntax).
func newHandler(env string, store limiter.Store) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"chantiers_actifs":12}`)
	})
	mux.HandleFunc("GET /api/v1/chantiers/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "nom": "Chantier"})
	})
	mux.HandleFunc("POST /api/v1/chantiers", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /api/v1/batch", func(w http.ResponseWriter, r *http.Request) {
		ops, err := strconv.ParseInt(r.URL.Query().Get("ops"), 10, 64)
		if err != nil || ops < 1 || ops > 100 {
			problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-batch", "ops must be an integer from 1 to 100."))
			return
		}
		// One unit per operation, charged before any operation runs.
		if err := ratelimit.SetCost(r.Context(), ops); err != nil {
			if d, ok := problem.As(err); ok {
				problem.Write(w, r, d)
				return
			}
		}
		fmt.Fprintf(w, "%d operations done\n", ops)
	})

	rules := []ratelimit.Rule{
		{Method: "GET", Route: "/api/v1/stats", Policies: []ratelimit.Policy{ratelimit.PerMinute(3)}},
		{Method: "POST", Route: "/api/v1/chantiers", Policies: []ratelimit.Policy{ratelimit.PerMinute(5), ratelimit.PerDay(100)}},
		{Method: "POST", Route: "/api/v1/batch", Policies: []ratelimit.Policy{ratelimit.PerMinute(10)}},
	}
	if env != "" {
		parsed, err := ratelimit.ParseRules(env)
		if err != nil {
			return nil, fmt.Errorf("HUB_RATE_LIMITS: %w", err)
		}
		rules = ratelimit.MergeRules(rules, parsed)
	}
	rl, err := ratelimit.New(ratelimit.Config{
		Limits: ratelimit.Limits{Rules: rules, Default: []ratelimit.Policy{ratelimit.PerMinute(60)}},
		Overrides: map[string]ratelimit.Limits{"premium": {
			Rules:   []ratelimit.Rule{{Method: "GET", Route: "/api/v1/stats", Policies: []ratelimit.Policy{ratelimit.PerMinute(100)}}},
			Default: []ratelimit.Policy{ratelimit.PerMinute(600)},
		}},
		Override: func(r *http.Request) string { return principalOf(r).plan },
		Key: func(r *http.Request) (string, bool) {
			p := principalOf(r)
			return p.key, p.key != ""
		},
		Route: func(r *http.Request) string {
			// ServeMux patterns read "GET /api/v1/chantiers/{id}": keep the path.
			_, pattern := mux.Handler(r)
			if _, path, ok := strings.Cut(pattern, " "); ok {
				return path
			}
			return pattern // "" when nothing matched: the fallback route
		},
		Store:             store,
		RefundNotModified: true,
	})
	if err != nil {
		return nil, err
	}
	return authenticate(rl.Middleware(mux)), nil
}
