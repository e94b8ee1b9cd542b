// Package ratelimit limits HTTP requests per principal and per route, on the
// stores of github.com/ulule/limiter/v3 (in-process memory by default; Redis,
// in the subpackage redisstore, to share quotas between several server
// instances).
//
// A Limiter is built once from a Config and wraps handlers with its
// Middleware:
//
//	rl, err := ratelimit.New(ratelimit.Config{
//		Limits: ratelimit.Limits{
//			Rules: []ratelimit.Rule{
//				{Method: "POST", Route: "/orders", Policies: []ratelimit.Policy{ratelimit.PerDay(100)}},
//				{Method: "GET", Route: "/stats", Policies: []ratelimit.Policy{ratelimit.PerHour(1000)}},
//			},
//			Default: []ratelimit.Policy{ratelimit.PerMinute(600)},
//		},
//		Key:   func(r *http.Request) (string, bool) { return principalID(r), true },
//		Route: routeTemplate, // "/orders/{id}", never the raw path
//	})
//	if err != nil { ... }
//	handler = rl.Middleware(handler)
//
// Wrap it after authentication (the key is the principal) and outside
// etag.ConditionalGET: with Config.RefundNotModified it gives back the units
// of a request answered 304, which it can only see from outside.
//
// # Rules
//
// A Rule binds one or more Policies (a quota of units per window, e.g. a
// per-minute burst and a daily quota) to a method and a route template. The
// route template comes from the caller's RouteFunc, so the number of counters
// stays bounded whatever paths clients send. Routes without a rule get the
// Default policies; a rule without policies is not limited. Named Overrides
// (a plan, or a single principal) replace rules and defaults for the
// requests their OverrideFunc selects. ParseRules reads rules written on
// one line, for a configuration value ("GET /stats=5/m;POST /orders=100/d").
//
// # Response fields
//
// Every limited response carries
//
//   - X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset for the
//     most restrictive policy of the route (Reset is the number of seconds
//     until the window ends; Config.UnixReset switches to a Unix time);
//   - RateLimit-Policy and RateLimit as defined by the IETF Internet-Draft
//     draft-ietf-httpapi-ratelimit-headers-11 (May 2026), e.g.
//     `RateLimit-Policy: "minute";q=10;w=60` and `RateLimit: "minute";r=7;t=42`.
//
// A request over quota is answered 429 Too Many Requests with an RFC 9457
// problem document (package problem), the "violated-policies" member of the
// draft's quota-exceeded problem type, and Retry-After (RFC 9110 §10.2.3).
//
// # Cost
//
// A request costs one unit unless Config.Cost gives another cost from the
// request (say, more for a wide field selection), or an outer middleware sets
// one with WithCost, which takes precedence. A handler that learns its real cost only after parsing the
// request (a batch of operations, a GraphQL query's complexity) raises it
// with SetCost before doing the work.
//
// # Store failures
//
// Every store call is bounded by Config.Timeout. When the store fails or is
// too slow, the request is let through (fail open, the default: a warning is
// logged without keys, and Config.OnStoreError is called) or answered 503
// (Config.FailClosed).
//
// # Keys
//
// The key returned by the KeyFunc (a principal id, a client IP) never reaches
// the store or the logs as such: it is hashed with SHA-256 (after
// Config.KeySalt when set) and only the hash is used.
package ratelimit
