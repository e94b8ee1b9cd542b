package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/clientip"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/apiversion"
	"github.com/hubchantier/hubchantier/hubapi/batch"
	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/hubapi/route"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// DefaultRateLimits are the reference server's quotas per principal (API
// key, later OAuth client) and route. Every authenticated route not listed
// gets DefaultRoutePolicies. HUB_RATE_LIMITS overrides single routes.
// Routes are templates, so each version has its own quotas (the counters
// of v1 and v2 are apart, and 429s are counted by versioned route).
var DefaultRateLimits = func() []ratelimit.Rule {
	var rules []ratelimit.Rule
	for _, v := range []string{"/api/v1", "/api/v2"} {
		rules = append(rules,
			ratelimit.Rule{Method: http.MethodPost, Route: v + "/chantiers", Policies: []ratelimit.Policy{ratelimit.PerMinute(30), ratelimit.PerDay(100)}},
			ratelimit.Rule{Method: http.MethodGet, Route: v + "/stats", Policies: []ratelimit.Policy{ratelimit.PerHour(1000)}},
			ratelimit.Rule{Method: http.MethodPost, Route: v + "/documents", Policies: []ratelimit.Policy{ratelimit.PerMinute(60), ratelimit.PerDay(2000)}},
			ratelimit.Rule{Method: http.MethodPost, Route: v + "/admin/api-keys", Policies: []ratelimit.Policy{ratelimit.PerMinute(10)}},
		)
	}
	return append(rules,
		ratelimit.Rule{Method: http.MethodPost, Route: "/api/v1/batch", Policies: []ratelimit.Policy{ratelimit.PerMinute(10)}},
		ratelimit.Rule{Method: http.MethodPost, Route: "/api/v2/batch", Policies: []ratelimit.Policy{ratelimit.PerMinute(10)}},
		// GET and POST /graphql share one quota, in cost units (see
		// graphql.Limits.PointsPerUnit).
		ratelimit.Rule{Method: ratelimit.AnyMethod, Route: GraphQLPath, Policies: []ratelimit.Policy{ratelimit.PerMinute(1200)}},
	)
}()

// BatchOperationPolicies is the default quota of batch operations per key
// and API version: each batch is charged its number of operations (its
// operations are not counted against their own routes' quotas). Ten full
// batches a minute.
var BatchOperationPolicies = []ratelimit.Policy{ratelimit.PerMinute(10 * batch.MaxOperations)}

// batchOperationsRoute names the quota of batch operations of the batch's
// API version in the store, in the metrics and in the response fields:
// "/api/v1/batch (operations)" or "/api/v2/batch (operations)", so v1 and
// v2 batches have their own counters, as their requests do.
func batchOperationsRoute(r *http.Request) string {
	if apiversion.Of(r.URL.Path) == apiversion.V2 {
		return "/api/v2/batch (operations)"
	}
	return "/api/v1/batch (operations)"
}

// newBatchLimiter returns the limiter of batch operations: the batch
// handler raises its charge to its number of operations (ratelimit.SetCost).
func newBatchLimiter(cfg Config, rdb *redis.Client, log *slog.Logger, m *metrics.Metrics) (*ratelimit.Limiter, error) {
	policies := cfg.BatchOperationLimits
	if len(policies) == 0 {
		policies = BatchOperationPolicies
	}
	rc := ratelimit.Config{
		Limits:       ratelimit.Limits{Default: policies},
		Key:          rateLimitKey,
		Route:        batchOperationsRoute,
		UnixReset:    true,
		FailClosed:   cfg.RateLimitFailClosed,
		Logger:       log,
		OnExceeded:   func(_, route, _ string) { m.RateLimitExceeded(route) },
		OnStoreError: func(_, _ string, _ error) { m.RateLimitStoreError() },
	}
	if rdb != nil {
		rc.Store = redisstore.New(rdb, "hubchantier:ratelimit")
	}
	return ratelimit.New(rc)
}

// DefaultRoutePolicies apply to every other route, each route counted
// separately.
var DefaultRoutePolicies = []ratelimit.Policy{ratelimit.PerMinute(1200)}

// WideSelectionCost is what a read with a wide field selection costs in
// units of its quotas: fields=* (or every member named) or an expanded
// nested resource (rest.WideSelection), which make the server read and send
// more. Other requests cost 1 unit. The product specification (4.2) asks for
// rate limiting on fields=*; the width of a selection, not its number of
// names, is what costs more, since a request without fields already gets
// every member of its own level.
const WideSelectionCost = 2

// selectionCost prices a request by its field selection.
func selectionCost(r *http.Request) int64 {
	if rest.WideSelection(r) {
		return WideSelectionCost
	}
	return 1
}

func newRateLimiter(cfg Config, rdb *redis.Client, log *slog.Logger, m *metrics.Metrics) (*ratelimit.Limiter, error) {
	rules := DefaultRateLimits
	if cfg.RateLimits != "" {
		over, err := ratelimit.ParseRules(cfg.RateLimits)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvRateLimits, err)
		}
		rules = ratelimit.MergeRules(rules, over)
	}
	rc := ratelimit.Config{
		Limits: ratelimit.Limits{Rules: rules, Default: DefaultRoutePolicies},
		Key:    rateLimitKey,
		Route:  route.Template,
		Cost:   selectionCost,
		// A 304 answered from the client's cache costs nothing (refunded
		// only while the charged window is certainly still open).
		RefundNotModified: true,
		// X-RateLimit-Reset as a Unix time, as the product specification
		// (and GitHub) has it; RateLimit's t= carries the delta.
		UnixReset:    true,
		FailClosed:   cfg.RateLimitFailClosed,
		Logger:       log,
		OnExceeded:   func(_, route, _ string) { m.RateLimitExceeded(route) },
		OnStoreError: func(_, _ string, _ error) { m.RateLimitStoreError() },
	}
	if rdb != nil {
		rc.Store = redisstore.New(rdb, "hubchantier:ratelimit")
	}
	return ratelimit.New(rc)
}

// rateLimitKey counts per credential: the API key (or OAuth client), never
// the secret itself; the client address for anything unauthenticated.
func rateLimitKey(r *http.Request) (string, bool) {
	if hubapi.IsBatchOperation(r.Context()) {
		// charged with its batch (BatchOperationPolicies)
		return "", false
	}
	if p := hubapi.PrincipalFrom(r.Context()); p != nil {
		switch {
		case p.APIKeyID != 0:
			return "apikey:" + strconv.FormatInt(p.APIKeyID, 10), true
		case p.ClientID != "":
			return "oauth:" + p.ClientID, true
		}
		return "user:" + strconv.FormatInt(p.UserID, 10), true
	}
	if ip := clientip.FromContext(r.Context()); ip.IsValid() {
		return "ip:" + ip.String(), true
	}
	return "", false
}

// checkRateLimitRoutes refuses a HUB_RATE_LIMITS rule for a route the router
// does not have (a typo would otherwise leave the route at its default
// quota, silently). Routes are known by their names, "METHOD /template"; a
// GET route also serves HEAD, and a "*" rule needs the template only.
func checkRateLimitRoutes(r *mux.Router, rateLimits string) error {
	if rateLimits == "" {
		return nil
	}
	rules, err := ratelimit.ParseRules(rateLimits)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvRateLimits, err)
	}
	methods := routeMethods(r)
	for _, rule := range rules {
		m, ok := methods[rule.Route]
		switch {
		case ok && rule.Method == ratelimit.AnyMethod:
		case ok && m[rule.Method]:
		case ok && rule.Method == http.MethodHead && m[http.MethodGet]:
		default:
			return fmt.Errorf("%s: no route %s %s (rules name a route template such as GET /api/v1/chantiers/{id})", EnvRateLimits, rule.Method, rule.Route)
		}
	}
	return nil
}

// routeMethods maps each template of the router's named routes to its
// methods.
func routeMethods(r *mux.Router) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	_ = r.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		method, tpl, ok := strings.Cut(rt.GetName(), " ")
		if !ok || method == "*" {
			return nil
		}
		if out[tpl] == nil {
			out[tpl] = map[string]bool{}
		}
		out[tpl][method] = true
		return nil
	})
	return out
}
