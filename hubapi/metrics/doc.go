// Package metrics exposes the Hub Chantier API's Prometheus metrics: an HTTP
// middleware that counts and times requests by route template, hooks that
// other packages call (response cache, rate limiter, authentication), gauges
// read at scrape time (active API keys, database pool), Go runtime and
// process metrics, and a /metrics handler guarded by a network allow-list
// and/or HTTP Basic authentication (RFC 7617).
//
// It is built on github.com/VictoriaMetrics/metrics. Each Metrics owns its
// own metrics.Set, so tests and embedders never share series by accident.
//
// The exposition is the Prometheus text format 0.0.4; after ExposeMetadata
// (a process-wide switch the embedding program calls once) every family has
// a TYPE line and a one-line HELP text (see Help), and the output passes
// `promtool check metrics` without a finding.
//
// Labels never carry raw paths, identifiers, names or e-mail addresses:
// routes are route templates such as "/api/v1/chantiers/{id}", requests that
// matched no route share the label value "unmatched", and the number of
// distinct route values is bounded (Config.MaxRoutes).
//
// Embedding:
//
//	metrics.ExposeMetadata() // once per process: TYPE lines
//	m, err := metrics.New(metrics.Config{})
//	if err != nil { ... }
//	router.Use(m.Middleware(metrics.MuxRoute)) // gorilla/mux route templates
//	scrape, err := m.Handler(metrics.AccessConfig{}) // loopback only
//	if err != nil { ... }
//	http.Handle("/metrics", scrape)
//
// Series exported (see README.md for the full list): api_requests_total,
// api_request_duration_seconds (histogram with le buckets),
// api_requests_in_flight, api_cache_*_total, api_rate_limit_*_total,
// api_auth_failures_total, active_api_keys, db_pool_*, go_*, process_*.
package metrics
