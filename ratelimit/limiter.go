package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/hubchantier/hubchantier/problem"
)

// KeyFunc returns the key whose quota a request consumes: a principal id for
// authenticated requests, the client IP for anonymous ones. ok=false lets the
// request through without limiting it. The key is hashed before use; it is
// never stored or logged as such.
type KeyFunc func(r *http.Request) (key string, ok bool)

// RouteFunc returns the route template that matched a request (with
// gorilla/mux: mux.CurrentRoute(r).GetPathTemplate()), or "" when none did.
// It must never return the raw path: every distinct value gets counters of
// its own.
type RouteFunc func(r *http.Request) string

// OverrideFunc returns the name of the override (a key of Config.Overrides)
// that applies to a request, e.g. the plan of the principal, or "" for none.
type OverrideFunc func(r *http.Request) string

// DefaultTimeout bounds each round of store calls when Config.Timeout is zero.
const DefaultTimeout = 100 * time.Millisecond

// DefaultFallbackRoute is the route of requests no route matched, when
// Config.FallbackRoute is empty.
const DefaultFallbackRoute = "unmatched"

// Config configures a Limiter. Key and Route are required.
type Config struct {
	// Limits are the rules and default policies of every principal.
	Limits
	// Overrides are named sets of limits selected by Override, e.g. a plan
	// ("premium") or a single principal. For a request with override o, the
	// policies come from the first of: o's rule for the route, the base rule,
	// o's Default, the base Default (an empty Default defers to the next).
	// Base and override rules of the same method and route share counters
	// for policies of the same name and window, so a principal moved to
	// another plan keeps the units it has already used.
	Overrides map[string]Limits
	// Override selects the override of a request; required when Overrides
	// is not empty. Unknown names select none.
	Override OverrideFunc

	Key   KeyFunc
	Route RouteFunc
	// FallbackRoute is the route of requests for which Route returns ""
	// (default "unmatched"): they share the Default policies' counters.
	FallbackRoute string
	// Cost, when set, gives the units a request is charged, from what it
	// asks for (a wide field selection, a page size, ...); nil charges 1
	// unit. It is called once per limited request, before the handler. A
	// cost set with WithCost takes precedence; handlers can still raise it
	// with SetCost.
	Cost CostFunc

	// Store holds the counters; nil means NewMemoryStore(). Use
	// redisstore.New to share quotas between server instances.
	Store limiter.Store
	// Timeout bounds each round of store calls (charging a request, raising
	// its cost, giving units back); default DefaultTimeout.
	Timeout time.Duration
	// FailClosed answers 503 when the store fails or is too slow. By default
	// such requests are let through (fail open) and the failure is logged
	// and reported to OnStoreError.
	FailClosed bool

	// RefundNotModified gives back the units of requests answered 304 Not
	// Modified, so that revalidating a cached representation is free (see
	// README for why this cannot let a client exceed its quota).
	RefundNotModified bool
	// UnixReset makes X-RateLimit-Reset a Unix time (GitHub's convention)
	// instead of the number of seconds until the window ends.
	UnixReset bool
	// KeySalt, when set, is hashed in front of every key, so that the store
	// holds no plain hash of a client IP or principal id. Instances that
	// share a store must share the salt.
	KeySalt []byte

	// Logger receives store failure warnings (at most one every 10 seconds,
	// with the number left out); nil means slog.Default(). Keys never appear.
	Logger *slog.Logger
	// OnExceeded, when set, is called for every request refused over quota
	// with the request method, route template and violated policy name.
	OnExceeded func(method, route, policy string)
	// OnStoreError, when set, is called for every failed store call with
	// the request method and route template.
	OnStoreError func(method, route string, err error)
}

// Limiter enforces rules on requests. Build it with New; it is safe for
// concurrent use.
type Limiter struct {
	base      *table
	overrides map[string]*table
	override  OverrideFunc
	key       KeyFunc
	route     RouteFunc
	fallback  string
	cost      CostFunc

	store     limiter.Store
	inProcess bool
	timeout   time.Duration

	failClosed bool
	refund304  bool
	unixReset  bool
	salt       []byte

	logger       *slog.Logger
	onExceeded   func(method, route, policy string)
	onStoreError func(method, route string, err error)
	nextWarn     atomic.Int64 // UnixNano before which warnings are counted, not logged
	suppressed   atomic.Int64
}

// warnEvery spaces the store failure warnings.
const warnEvery = 10 * time.Second

// New checks cfg and returns its Limiter. Every mistake in the rules is
// reported here, never while serving requests.
func New(cfg Config) (*Limiter, error) {
	if cfg.Key == nil {
		return nil, errors.New("ratelimit: Config.Key is required")
	}
	if cfg.Route == nil {
		return nil, errors.New("ratelimit: Config.Route is required")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("ratelimit: negative Config.Timeout %s", cfg.Timeout)
	}
	if len(cfg.Overrides) > 0 && cfg.Override == nil {
		return nil, errors.New("ratelimit: Config.Overrides needs Config.Override")
	}
	l := &Limiter{
		override:     cfg.Override,
		key:          cfg.Key,
		route:        cfg.Route,
		fallback:     cfg.FallbackRoute,
		cost:         cfg.Cost,
		store:        cfg.Store,
		timeout:      cfg.Timeout,
		failClosed:   cfg.FailClosed,
		refund304:    cfg.RefundNotModified,
		unixReset:    cfg.UnixReset,
		salt:         append([]byte(nil), cfg.KeySalt...),
		logger:       cfg.Logger,
		onExceeded:   cfg.OnExceeded,
		onStoreError: cfg.OnStoreError,
	}
	if l.fallback == "" {
		l.fallback = DefaultFallbackRoute
	}
	if err := validRoute(l.fallback); err != nil {
		return nil, fmt.Errorf("ratelimit: Config.FallbackRoute: %w", err)
	}
	if l.store == nil {
		l.store = NewMemoryStore()
	}
	_, l.inProcess = l.store.(*memory.Store)
	if l.timeout == 0 {
		l.timeout = DefaultTimeout
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	var err error
	if l.base, err = compile(cfg.Limits); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	if len(cfg.Overrides) > 0 {
		l.overrides = make(map[string]*table, len(cfg.Overrides))
		for name, limits := range cfg.Overrides {
			if name == "" {
				return nil, errors.New("ratelimit: an override has an empty name")
			}
			if l.overrides[name], err = compile(limits); err != nil {
				return nil, fmt.Errorf("ratelimit: override %q: %w", name, err)
			}
		}
	}
	return l, nil
}

// table is a compiled Limits.
type table struct {
	rules map[ruleID]*compiledRule
	def   *compiledRule // nil without default policies
}

// compiledRule is a rule ready to serve: its policies in declared order, the
// order they are charged in, and its RateLimit-Policy field value.
type compiledRule struct {
	id          ruleID // zero for default policies: the request's method and route are used
	policies    []compiledPolicy
	order       []int // shortest window first: a burst refuses before a daily quota is touched
	policyField string
}

type compiledPolicy struct {
	name      string
	limit     int64
	window    time.Duration
	rate      limiter.Rate
	keyTail   string // ":" + name + ":" + window seconds
	limitText string
}

func compile(limits Limits) (*table, error) {
	t := &table{rules: make(map[ruleID]*compiledRule, len(limits.Rules))}
	for i, r := range limits.Rules {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("rule %d (%s %s): %w", i+1, r.Method, r.Route, err)
		}
		id := ruleID{r.Method, r.Route}
		if _, dup := t.rules[id]; dup {
			return nil, fmt.Errorf("rule %d: a rule for %s %s already exists", i+1, r.Method, r.Route)
		}
		t.rules[id] = compileRule(id, r.Policies)
	}
	// HEAD is GET without content (RFC 9110 §9.3.2): same rule, same counters.
	for _, r := range limits.Rules {
		head := ruleID{http.MethodHead, r.Route}
		if _, ok := t.rules[head]; !ok && r.Method == http.MethodGet {
			t.rules[head] = t.rules[ruleID{r.Method, r.Route}]
		}
	}
	if len(limits.Default) > 0 {
		if err := (Rule{Method: AnyMethod, Route: "/", Policies: limits.Default}).validate(); err != nil {
			return nil, fmt.Errorf("default policies: %w", err)
		}
		t.def = compileRule(ruleID{}, limits.Default)
	}
	return t, nil
}

func compileRule(id ruleID, policies []Policy) *compiledRule {
	cr := &compiledRule{id: id, policies: make([]compiledPolicy, len(policies)), order: make([]int, len(policies))}
	var field []byte
	for i, p := range policies {
		name, secs := p.name(), int64(p.Window/time.Second)
		cr.policies[i] = compiledPolicy{
			name:      name,
			limit:     p.Limit,
			window:    p.Window,
			rate:      limiter.Rate{Formatted: strconv.FormatInt(p.Limit, 10) + "-" + strconv.FormatInt(secs, 10) + "s", Period: p.Window, Limit: p.Limit},
			keyTail:   ":" + name + ":" + strconv.FormatInt(secs, 10),
			limitText: strconv.FormatInt(p.Limit, 10),
		}
		cr.order[i] = i
		// draft-ietf-httpapi-ratelimit-headers-11 §3: a List of Strings with
		// the parameters q (quota) and w (window, seconds). Names need no
		// escaping: validate allows neither '"' nor '\'.
		if i > 0 {
			field = append(field, ", "...)
		}
		field = append(field, '"')
		field = append(field, name...)
		field = append(field, `";q=`...)
		field = strconv.AppendInt(field, p.Limit, 10)
		field = append(field, ";w="...)
		field = strconv.AppendInt(field, secs, 10)
	}
	sort.SliceStable(cr.order, func(a, b int) bool {
		return cr.policies[cr.order[a]].window < cr.policies[cr.order[b]].window
	})
	cr.policyField = string(field)
	return cr
}

func (t *table) lookup(method, route string) *compiledRule {
	if r, ok := t.rules[ruleID{method, route}]; ok {
		return r
	}
	return t.rules[ruleID{AnyMethod, route}]
}

// resolve returns the rule of a request, nil when it is not limited.
func (l *Limiter) resolve(r *http.Request, route string) *compiledRule {
	var o *table
	if l.overrides != nil {
		o = l.overrides[l.override(r)]
	}
	if o != nil {
		if cr := o.lookup(r.Method, route); cr != nil {
			return cr
		}
	}
	if cr := l.base.lookup(r.Method, route); cr != nil {
		return cr
	}
	if o != nil && o.def != nil {
		return o.def
	}
	return l.base.def
}

// Middleware limits the requests next serves. A request over quota is
// answered 429 with a problem document and never reaches next; when the
// store fails, see Config.FailClosed.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := l.key(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		route := l.route(r)
		if route == "" {
			route = l.fallback
		}
		rule := l.resolve(r, route)
		if rule == nil || len(rule.policies) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		m := l.newMeter(r.Context(), w, r.Method, route, rule, key)
		cost, set := costOf(r.Context())
		if !set && l.cost != nil {
			cost = clampCost(l.cost(r))
		}
		m.mu.Lock()
		lerr := m.charge(r.Context(), cost)
		m.cost = cost
		m.mu.Unlock()
		if lerr != nil {
			problem.Write(w, r, lerr.Problem)
			return
		}
		r = r.WithContext(m)
		if !l.refund304 {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusNotModified {
			if l.inProcess {
				m.refundAll(r.Context())
			} else {
				// The response is complete: do not make it wait for the store.
				go m.refundAll(r.Context())
			}
		}
	})
}

// storeContext bounds a round of store calls. The memory store never blocks
// and ignores contexts: it gets none, which keeps the fast path allocation-free.
func (l *Limiter) storeContext(parent context.Context) (context.Context, context.CancelFunc) {
	if l.inProcess {
		return parent, func() {}
	}
	return context.WithTimeout(parent, l.timeout)
}

// principalLen is the length of a principal in store keys.
const principalLen = 24

// principal writes the store key part of a KeyFunc key: the first 128 bits
// of SHA-256(salt || key), in base64url and braces. The braces make it the
// Redis Cluster hash tag, so that route templates such as "/x/{id}" do not
// all land in one slot.
func (l *Limiter) principal(out *[principalLen]byte, key string) {
	var sum [sha256.Size]byte
	var buf [256]byte
	if len(l.salt)+len(key) <= len(buf) {
		b := append(buf[:0], l.salt...)
		b = append(b, key...)
		sum = sha256.Sum256(b)
	} else {
		h := sha256.New()
		h.Write(l.salt)
		_, _ = io.WriteString(h, key)
		h.Sum(sum[:0])
	}
	out[0] = '{'
	base64.RawURLEncoding.Encode(out[1:principalLen-1], sum[:16])
	out[principalLen-1] = '}'
}

// storeFailed reports a failed store call, unless the client has gone away.
func (l *Limiter) storeFailed(parent context.Context, method, route, policy string, err error) {
	if parent.Err() != nil {
		return
	}
	if l.onStoreError != nil {
		l.onStoreError(method, route, err)
	}
	now := time.Now().UnixNano()
	next := l.nextWarn.Load()
	if now < next || !l.nextWarn.CompareAndSwap(next, now+int64(warnEvery)) {
		l.suppressed.Add(1)
		return
	}
	outcome := "request let through (fail open)"
	if l.failClosed {
		outcome = "request refused with 503 (fail closed)"
	}
	l.logger.LogAttrs(context.Background(), slog.LevelWarn, "rate limit store failed; "+outcome,
		slog.String("method", method),
		slog.String("route", route),
		slog.String("policy", policy),
		slog.Int64("suppressed", l.suppressed.Swap(0)),
		slog.String("error", err.Error()),
	)
}

// statusWriter records the status of the response, to refund 304s.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming handlers working behind the wrapper.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
