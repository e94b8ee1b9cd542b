package metrics

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	vm "github.com/VictoriaMetrics/metrics"
)

// DefaultBuckets are the upper bounds, in seconds, of the
// api_request_duration_seconds histogram buckets. 0.5 s is a bound so that the
// p95 latency alert threshold falls on a bucket edge.
var DefaultBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// DefaultMaxRoutes bounds the number of distinct route label values.
const DefaultMaxRoutes = 1000

// Route label values with a fixed meaning.
const (
	// RouteUnmatched labels requests for which the RouteFunc returned "":
	// no route matched (404, 405).
	RouteUnmatched = "unmatched"
	// RouteOther labels requests whose route would exceed Config.MaxRoutes
	// or is longer than maxRouteLen bytes.
	RouteOther = "other"
)

// maxRouteLen bounds one route label value; a template longer than this is
// certainly not one of ours.
const maxRouteLen = 256

// Authentication failure reasons: the values of the "reason" label of
// api_auth_failures_total. AuthFailure records any other value as
// AuthOther.
const (
	AuthMissing           = "missing"            // no credentials sent
	AuthMalformed         = "malformed"          // Authorization header not understood
	AuthInvalid           = "invalid"            // unknown key or token, wrong secret
	AuthExpired           = "expired"            // key or token past its expiry
	AuthRevoked           = "revoked"            // key or token revoked
	AuthInsufficientScope = "insufficient_scope" // authenticated, scope too narrow (RFC 6750 §3.1)
	AuthRotated           = "rotated"            // API key secret replaced by a rotation, grace period over
	AuthIPNotAllowed      = "ip_not_allowed"     // API key used from outside its IP allow-list
	AuthOther             = "other"              // a reason outside this list
)

var authReasons = []string{AuthMissing, AuthMalformed, AuthInvalid, AuthExpired, AuthRevoked, AuthInsufficientScope, AuthRotated, AuthIPNotAllowed, AuthOther}

// Config configures New. The zero value is ready to use.
type Config struct {
	// Buckets are the histogram upper bounds in seconds, strictly
	// increasing and positive. Default DefaultBuckets.
	Buckets []float64
	// MaxRoutes bounds the distinct route label values of the request and
	// rate-limit series; further routes are recorded as RouteOther.
	// Default DefaultMaxRoutes.
	MaxRoutes int
}

// Metrics holds the API's series in its own metrics.Set. Its methods are
// safe for concurrent use, and every hook is a no-op on a nil *Metrics so
// that callers may leave metrics out.
type Metrics struct {
	set       *vm.Set
	buckets   []float64
	maxRoutes int

	inFlight   *vm.Gauge
	otherRoute *routeSeries // shared by routes beyond maxRoutes

	// mu serializes series creation (the slow path); readers use the
	// copy-on-write maps below without locking.
	mu      sync.Mutex
	routes  atomic.Pointer[map[string]*routeSeries]
	limited atomic.Pointer[map[string]*vm.Counter]

	cacheHits, cacheMisses, cacheEvictions, cacheErrors *vm.Counter
	rateLimitStoreErrors                                *vm.Counter
	authFailures                                        map[string]*vm.Counter
	oauthFailures                                       map[string]*vm.Counter
	versions                                            map[string]*vm.Counter
	v1Keys                                              atomic.Pointer[map[int64]*vm.Counter]

	apiKeys     atomic.Pointer[func() int]
	apiKeysOnce sync.Once
	// open API key anomalies per rule (SetOpenAnomalies)
	anomalies     atomic.Pointer[func() map[string]int]
	anomaliesOnce sync.Once
	db            atomic.Pointer[sql.DB]
	dbOnce        sync.Once
}

// ExposeMetadata makes every exposition of the process carry TYPE and HELP
// lines, which Prometheus and promtool use to tell counters, gauges and
// histograms apart and to describe them (WritePrometheus fills in the HELP
// texts of the package's families, which the library leaves empty). It is a
// process-wide setting of the VictoriaMetrics library (its metrics.ExposeMetadata), so it also changes
// the output of any other metrics.Set in the process, including sets that
// other libraries own: call it once, from main or the server's constructor,
// before the first scrape. New does not call it.
func ExposeMetadata() { vm.ExposeMetadata(true) }

// New returns Metrics with every fixed series registered (counters start at
// zero, so rate() works from the first scrape). It changes no process-wide
// setting: the exposition has TYPE and HELP lines once ExposeMetadata has
// been called. It fails on invalid buckets or a negative MaxRoutes.
func New(cfg Config) (*Metrics, error) {
	buckets := cfg.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	if err := vm.ValidateBuckets(buckets); err != nil {
		return nil, fmt.Errorf("metrics: invalid buckets: %w", err)
	}
	if buckets[0] <= 0 {
		return nil, errors.New("metrics: invalid buckets: bounds must be positive")
	}
	if cfg.MaxRoutes < 0 {
		return nil, errors.New("metrics: MaxRoutes must not be negative")
	}
	maxRoutes := cfg.MaxRoutes
	if maxRoutes == 0 {
		maxRoutes = DefaultMaxRoutes
	}
	s := vm.NewSet()
	m := &Metrics{
		set:                  s,
		buckets:              append([]float64(nil), buckets...),
		maxRoutes:            maxRoutes,
		inFlight:             s.NewGauge("api_requests_in_flight", nil),
		cacheHits:            s.NewCounter("api_cache_hits_total"),
		cacheMisses:          s.NewCounter("api_cache_misses_total"),
		cacheEvictions:       s.NewCounter("api_cache_evictions_total"),
		cacheErrors:          s.NewCounter("api_cache_errors_total"),
		rateLimitStoreErrors: s.NewCounter("api_rate_limit_store_errors_total"),
		authFailures:         make(map[string]*vm.Counter, len(authReasons)),
		oauthFailures:        map[string]*vm.Counter{},
		otherRoute:           &routeSeries{label: RouteOther},
	}
	m.versions = map[string]*vm.Counter{}
	for _, v := range []string{VersionV1, VersionV2, VersionOther} {
		m.versions[v] = s.NewCounter(`api_version_requests_total{version="` + v + `"}`)
	}
	v1Keys := map[int64]*vm.Counter{}
	m.v1Keys.Store(&v1Keys)
	for _, reason := range authReasons {
		m.authFailures[reason] = s.NewCounter(`api_auth_failures_total{reason="` + reason + `"}`)
	}
	for _, endpoint := range oauthEndpoints {
		for _, code := range oauthCodes {
			m.oauthFailures[endpoint+"|"+code] = s.NewCounter(`oauth_failures_total{endpoint="` + endpoint + `",error="` + code + `"}`)
		}
	}
	routes := map[string]*routeSeries{}
	m.routes.Store(&routes)
	limited := map[string]*vm.Counter{}
	m.limited.Store(&limited)
	return m, nil
}

// Set returns the underlying set, for packages that add series of their own
// (they are exposed by Handler and WritePrometheus).
func (m *Metrics) Set() *vm.Set { return m.set }

// CacheHit counts a response served from the response cache
// (api_cache_hits_total).
func (m *Metrics) CacheHit() {
	if m != nil {
		m.cacheHits.Inc()
	}
}

// CacheMiss counts a cacheable request forwarded to its handler
// (api_cache_misses_total).
func (m *Metrics) CacheMiss() {
	if m != nil {
		m.cacheMisses.Inc()
	}
}

// CacheEviction counts n entries evicted for lack of space
// (api_cache_evictions_total). n <= 0 is ignored.
func (m *Metrics) CacheEviction(n int) {
	if m != nil && n > 0 {
		m.cacheEvictions.Add(n)
	}
}

// CacheError counts a cache failure after which the request was served
// uncached (api_cache_errors_total).
func (m *Metrics) CacheError() {
	if m != nil {
		m.cacheErrors.Inc()
	}
}

// RateLimitExceeded counts a request refused with 429 on route, a route
// template (api_rate_limit_exceeded_total{route}). "" counts as
// RouteUnmatched.
func (m *Metrics) RateLimitExceeded(route string) {
	if m == nil {
		return
	}
	limited := *m.limited.Load()
	c := limited[route]
	if c == nil {
		c = m.newLimited(route)
	}
	c.Inc()
}

func (m *Metrics) newLimited(route string) *vm.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.limited.Load()
	if c := old[route]; c != nil {
		return c
	}
	if len(old) >= m.maxRoutes || len(route) > maxRouteLen {
		return m.set.GetOrCreateCounter(`api_rate_limit_exceeded_total{route="` + RouteOther + `"}`)
	}
	c := m.set.GetOrCreateCounter(`api_rate_limit_exceeded_total{route="` + routeLabel(route) + `"}`)
	next := make(map[string]*vm.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[route] = c
	m.limited.Store(&next)
	return c
}

// RateLimitStoreError counts a failure of the rate-limit store (Redis down,
// timeout) (api_rate_limit_store_errors_total).
func (m *Metrics) RateLimitStoreError() {
	if m != nil {
		m.rateLimitStoreErrors.Inc()
	}
}

// AuthFailure counts a refused authentication (api_auth_failures_total)
// with reason one of AuthMissing, AuthMalformed, AuthInvalid, AuthExpired,
// AuthRevoked, AuthInsufficientScope; any other value counts as AuthOther,
// so the label set stays fixed whatever callers pass.
func (m *Metrics) AuthFailure(reason string) {
	if m == nil {
		return
	}
	c := m.authFailures[reason]
	if c == nil {
		c = m.authFailures[AuthOther]
	}
	c.Inc()
}

// OAuth endpoints and error codes counted by OAuthFailure: a fixed label
// set, whatever callers pass.
var (
	oauthEndpoints = []string{"authorize", "token", "revoke", "introspect", "bearer", "other"}
	oauthCodes     = []string{"invalid_request", "invalid_client", "invalid_grant", "invalid_scope",
		"unsupported_grant_type", "unsupported_response_type", "invalid_redirect_uri", "access_denied",
		"bad_credentials", "csrf", "rate_limited", "invalid_token", "revoked", "missing", "server_error", "other"}
)

// OAuthFailure counts a refused OAuth request (oauth_failures_total) by
// endpoint and OAuth error code; values outside the fixed lists count as
// "other".
func (m *Metrics) OAuthFailure(endpoint, code string) {
	if m == nil {
		return
	}
	if !slices.Contains(oauthEndpoints, endpoint) {
		endpoint = "other"
	}
	if !slices.Contains(oauthCodes, code) {
		code = "other"
	}
	m.oauthFailures[endpoint+"|"+code].Inc()
}

// SetActiveAPIKeys makes the active_api_keys gauge report count(), called at
// every scrape; it must be safe for concurrent use and fast (a cached value
// or an indexed COUNT). A later call replaces the function; nil stops the
// gauge from being exposed.
func (m *Metrics) SetActiveAPIKeys(count func() int) {
	if m == nil {
		return
	}
	if count == nil {
		m.apiKeys.Store(nil)
		return
	}
	m.apiKeys.Store(&count)
	m.apiKeysOnce.Do(func() {
		m.set.RegisterMetricsWriter(func(w io.Writer) {
			if f := m.apiKeys.Load(); f != nil {
				vm.WriteGaugeUint64(w, "active_api_keys", uint64(max((*f)(), 0)))
			}
		})
	})
}

// AnomalyRules are the values of the rule label of api_key_anomalies_open:
// a fixed set, whatever the callback returns.
var AnomalyRules = []string{"high_error_rate", "traffic_spike", "scanning_behavior", "suspicious_client"}

// SetOpenAnomalies makes the api_key_anomalies_open{rule} gauges report
// count(), called at every scrape (a cached value: it must be fast and safe
// for concurrent use). Rules missing from its map report 0; nil stops the
// gauges.
func (m *Metrics) SetOpenAnomalies(count func() map[string]int) {
	if m == nil {
		return
	}
	if count == nil {
		m.anomalies.Store(nil)
		return
	}
	m.anomalies.Store(&count)
	m.anomaliesOnce.Do(func() {
		m.set.RegisterMetricsWriter(func(w io.Writer) {
			f := m.anomalies.Load()
			if f == nil {
				return
			}
			counts := (*f)()
			vm.WriteMetadataIfNeeded(w, "api_key_anomalies_open", "gauge")
			for _, r := range AnomalyRules {
				fmt.Fprintf(w, "api_key_anomalies_open{rule=%q} %d\n", r, max(counts[r], 0))
			}
		})
	})
}

// ObserveDB exposes the connection pool statistics of db (sql.DBStats),
// read at every scrape:
//
//	db_pool_open_connections       gauge    established connections
//	db_pool_in_use_connections     gauge    connections in use
//	db_pool_idle_connections       gauge    idle connections
//	db_pool_max_open_connections   gauge    the pool limit (0: unlimited)
//	db_pool_waits_total            counter  waits for a free connection
//	db_pool_wait_seconds_total     counter  time spent waiting
//
// The wait statistics are cumulative, so they are exposed as counters (use
// rate()). A later call replaces db; nil stops the series.
func (m *Metrics) ObserveDB(db *sql.DB) {
	if m == nil {
		return
	}
	m.db.Store(db)
	if db == nil {
		return
	}
	m.dbOnce.Do(func() {
		m.set.RegisterMetricsWriter(func(w io.Writer) {
			db := m.db.Load()
			if db == nil {
				return
			}
			st := db.Stats()
			vm.WriteGaugeUint64(w, "db_pool_open_connections", uint64(max(st.OpenConnections, 0)))
			vm.WriteGaugeUint64(w, "db_pool_in_use_connections", uint64(max(st.InUse, 0)))
			vm.WriteGaugeUint64(w, "db_pool_idle_connections", uint64(max(st.Idle, 0)))
			vm.WriteGaugeUint64(w, "db_pool_max_open_connections", uint64(max(st.MaxOpenConnections, 0)))
			vm.WriteCounterUint64(w, "db_pool_waits_total", uint64(max(st.WaitCount, 0)))
			vm.WriteCounterFloat64(w, "db_pool_wait_seconds_total", st.WaitDuration.Seconds())
		})
	})
}

// WritePrometheus writes every series of m, then the Go runtime and process
// metrics, in the Prometheus text format. Once ExposeMetadata has been
// called, every family has a TYPE line and a HELP line with its text (see
// Help). It does no access control: serve it through Handler.
func (m *Metrics) WritePrometheus(w io.Writer) {
	writeExposition(w, m.set)
}

// routeLabel returns the escaped label value for a route template.
func routeLabel(route string) string {
	if route == "" {
		return RouteUnmatched
	}
	return escapeLabel(route)
}

// escapeLabel escapes a label value as the text format requires (backslash,
// double quote and line feed) and replaces invalid UTF-8.
func escapeLabel(v string) string {
	v = strings.ToValidUTF8(v, string(utf8.RuneError))
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func statusLabel(code int) string { return strconv.Itoa(code) }
