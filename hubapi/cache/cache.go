package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allegro/bigcache/v3"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/hubchantier/hubchantier/internal/broadcast"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultName             = "hubchantier"
	DefaultHardMaxCacheSize = 64      // MB
	DefaultMaxEntryBytes    = 1 << 20 // 1 MiB
	DefaultChannel          = "hubchantier:cache:invalidate"
)

// Limits on what can be keyed. A request over a limit bypasses the cache.
const (
	// MaxQueryBytes bounds the raw query string of a cached request, so that
	// clients cannot fill the cache with huge keys.
	MaxQueryBytes = 4096
	// maxKeyBytes bounds a whole key: bigcache stores key lengths on 16 bits.
	maxKeyBytes = 16 << 10
	// maxResourceName bounds a resource type name (config and broadcast).
	maxResourceName = 128
	maxTTL          = 24 * time.Hour
)

// DefaultStoredHeaders are the response fields stored with a body.
var DefaultStoredHeaders = []string{"Content-Type", "ETag", "Link", "Last-Modified"}

// Route is the cache policy of one route template.
type Route struct {
	// TTL is how long a stored response is served (required, 1 s to 24 h).
	TTL time.Duration
	// DependsOn lists the resource types whose mutation invalidates the
	// route's entries, e.g. ["chantiers", "pointages", "signalements"] for
	// statistics. Empty means only FlushAll (and the TTL) end an entry.
	DependsOn []string
	// Vary lists request fields whose values are part of the key, such as
	// Accept or Accept-Language when the handler negotiates on them. The
	// caller's credentials are covered by Config.VaryFunc, not by this list.
	Vary []string
	// Params, when not nil, lists the query parameters the route accepts:
	// a request with any other parameter bypasses the cache, so that junk
	// parameters cannot be used to evict useful entries.
	Params []string
}

// Config configures a Cache. RouteFunc, VaryFunc and Routes are required.
type Config struct {
	// Name identifies the cache in Cache-Status (an RFC 8941 token).
	// Default DefaultName.
	Name string

	// Routes maps a route template, as returned by RouteFunc, to its policy.
	// Requests on other routes pass through untouched (fwd=bypass).
	Routes map[string]Route

	// RouteFunc returns the route template of a request, e.g.
	// "/api/v1/chantiers" (with gorilla/mux:
	// mux.CurrentRoute(r).GetPathTemplate()), or "" when none matched.
	// Never the raw path: the key already carries the query.
	RouteFunc func(*http.Request) string

	// VaryFunc returns what the caller of r may see, e.g. its role and sorted
	// scopes ("conducteur|chantiers:read,planning:read"). Two requests share
	// entries exactly when their VaryFunc values are equal, so it must cover
	// every input of the caller's identity that changes a response (add the
	// user or tenant ID when rows are filtered by owner). Return a constant
	// for public routes.
	VaryFunc func(*http.Request) string

	// QueryNormalizers rewrite the values of query parameters into a
	// canonical form before they enter the key, by parameter name. For
	// example "fields" → a func sorting the selected fields, so that
	// fields=nom,id and fields=id,nom share one entry. A normaliser must map
	// requests the handler treats alike to one string, and never the
	// reverse.
	QueryNormalizers map[string]func(string) string

	// StoredHeaders are the response fields stored and replayed with a body.
	// Default DefaultStoredHeaders.
	StoredHeaders []string

	// ETag, when set, tags every response stored without an ETag field with
	// ETag(body), computed once when the response is stored, and replays it
	// with every hit (and with the response of the request that ran the
	// handler). Give it the tag your conditional-request middleware computes
	// for untagged bodies (etag.Of for etag.ConditionalGET) when that
	// middleware runs outside the cache: it then trusts the stored tag
	// instead of buffering and hashing the body of every hit. The value must
	// be a valid entity tag (RFC 9110 §8.8.3).
	ETag func(body []byte) string

	// HardMaxCacheSize bounds the memory held by entries, in MB (bigcache's
	// HardMaxCacheSize; the oldest entries are evicted first). Default
	// DefaultHardMaxCacheSize.
	HardMaxCacheSize int
	// MaxEntryBytes is the largest response body stored. Default
	// DefaultMaxEntryBytes.
	MaxEntryBytes int
	// Shards is the number of bigcache shards, a power of two. bigcache splits
	// HardMaxCacheSize evenly across shards, so each shard must hold at least
	// two entries of MaxEntryBytes; New rejects a configuration where it
	// cannot. Default: the largest power of two up to 256 that leaves room
	// for four such entries per shard.
	Shards int

	// Redis, when set, broadcasts invalidations to every instance subscribed
	// to Channel. The Cache does not close it. While the subscription is not
	// confirmed (at start, after a lost connection or a failed publish),
	// requests bypass the cache; the cache is emptied before it serves again.
	Redis redis.UniversalClient
	// Channel is the Redis pub/sub channel. Default DefaultChannel.
	Channel string

	// Logger receives cache failures (never keys, queries or bodies).
	// Default slog.Default().
	Logger *slog.Logger
	// OnEvent, when set, is called synchronously for every event (hits,
	// misses, errors, ...), typically to feed metrics such as
	// api_cache_hits_total{route="..."}. It runs on the request's goroutine:
	// it must be fast and must not block. It may call Stats.
	OnEvent func(Event)

	// Hasher replaces bigcache's 64-bit FNV key hash (tests force collisions
	// with it). A hash collision never serves a wrong body: the full key is
	// stored in each entry and compared on read.
	Hasher interface{ Sum64(string) uint64 }
	// Now is the clock (default time.Now); tests move it to expire entries.
	Now func() time.Time
}

// EventKind says what happened.
type EventKind uint8

// Event kinds.
const (
	EventHit        EventKind = iota + 1 // served from the cache
	EventMiss                            // forwarded to the handler (miss, stale or request directives)
	EventCollapsed                       // served from a concurrent identical request's handler run
	EventBypass                          // not handled (route, method, key limits)
	EventStore                           // a response was stored
	EventEvict                           // bigcache evicted an entry for lack of space
	EventError                           // a cache failure; the request was served uncached
	EventInvalidate                      // resource types invalidated (locally or from a broadcast)
	EventFlush                           // the whole cache was flushed
)

var eventNames = [...]string{"", "hit", "miss", "collapsed", "bypass", "store", "evict", "error", "invalidate", "flush"}

// String returns the lower-case name of k ("hit", "miss", ...).
func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is passed to Config.OnEvent.
type Event struct {
	Kind EventKind
	// Route is the route template, when the event concerns a request.
	Route string
	// Op names the failing operation for EventError: "encode", "store",
	// "decode", "publish", "subscribe", "message".
	Op  string
	Err error
}

// Stats are cumulative counters since New.
type Stats struct {
	Hits          uint64 // responses served from the cache
	Misses        uint64 // lookups forwarded to the handler
	Collapsed     uint64 // misses served by a concurrent identical request's handler run
	Bypasses      uint64 // requests the cache did not handle
	Stores        uint64 // responses stored
	Evictions     uint64 // entries evicted by bigcache for lack of space
	Errors        uint64 // cache failures (each served uncached)
	Invalidations uint64 // Invalidate calls and broadcasts applied
	Flushes       uint64 // FlushAll calls, broadcasts and reconnection flushes applied
	Entries       int    // entries held by bigcache, unreachable ones included
}

// Cache is the response cache. Its methods are safe for concurrent use.
type Cache struct {
	name           string
	routes         map[string]*route
	routeFunc      func(*http.Request) string
	varyFunc       func(*http.Request) string
	normalize      map[string]func(string) string
	stored         []string // canonical names
	watched        []string // stored, then Cache-Control, Set-Cookie, Vary, Content-Encoding
	storesEncoding bool
	maxEntry       int
	now            func() time.Time
	log            *slog.Logger
	onEvent        func(Event)
	tagBody        func([]byte) string

	store  *bigcache.BigCache
	flight singleflight.Group

	global atomic.Uint64
	gens   map[string]*atomic.Uint64 // fixed at New: lock-free reads

	status statusValues

	hits, misses, collapsed, bypasses, stores atomic.Uint64
	evictions, errs, invalidations, flushes   atomic.Uint64
	pendingEvictions                          atomic.Uint64 // evictions not yet passed to onEvent

	// Broadcast (nil without Redis).
	bcast  *broadcast.Channel
	origin string
	once   sync.Once
}

type route struct {
	template string
	ttl      time.Duration
	gens     []*atomic.Uint64 // in sorted DependsOn order
	vary     []string         // canonical request field names
	params   map[string]bool  // nil: any
}

type statusValues struct {
	hit, miss, collapsed, stale, request, bypass, method, unsynced string
}

// New validates cfg and returns a Cache. With cfg.Redis set it starts the
// invalidation subscriber; an unreachable Redis is not an error (the
// subscriber keeps retrying). Call Close to stop it.
func New(cfg Config) (*Cache, error) {
	if cfg.RouteFunc == nil {
		return nil, errors.New("cache: Config.RouteFunc is required")
	}
	if cfg.VaryFunc == nil {
		return nil, errors.New("cache: Config.VaryFunc is required (return a constant for public routes)")
	}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("cache: Config.Routes is empty")
	}
	name := cfg.Name
	if name == "" {
		name = DefaultName
	}
	if !isToken(name) {
		return nil, fmt.Errorf("cache: Config.Name %q is not an RFC 8941 token", name)
	}
	c := &Cache{
		name:      name,
		routes:    make(map[string]*route, len(cfg.Routes)),
		routeFunc: cfg.RouteFunc,
		varyFunc:  cfg.VaryFunc,
		normalize: maps.Clone(cfg.QueryNormalizers),
		maxEntry:  cfg.MaxEntryBytes,
		now:       cfg.Now,
		log:       cfg.Logger,
		onEvent:   cfg.OnEvent,
		tagBody:   cfg.ETag,
		gens:      map[string]*atomic.Uint64{},
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.maxEntry == 0 {
		c.maxEntry = DefaultMaxEntryBytes
	}
	if c.maxEntry < 0 {
		return nil, errors.New("cache: Config.MaxEntryBytes is negative")
	}
	for p, fn := range cfg.QueryNormalizers {
		if fn == nil {
			return nil, fmt.Errorf("cache: nil query normaliser for %q", p)
		}
	}

	headers := cfg.StoredHeaders
	if headers == nil {
		headers = DefaultStoredHeaders
	}
	for _, h := range headers {
		ch := http.CanonicalHeaderKey(h)
		if !isToken(ch) || slices.Contains(c.stored, ch) {
			return nil, fmt.Errorf("cache: invalid or duplicate stored header %q", h)
		}
		switch ch {
		case "Set-Cookie", "Cache-Status", "Content-Length", "Transfer-Encoding", "Connection":
			return nil, fmt.Errorf("cache: header %q cannot be stored", h)
		}
		c.stored = append(c.stored, ch)
	}
	c.watched = append(slices.Clone(c.stored), "Cache-Control", "Set-Cookie", "Vary", "Content-Encoding")
	c.storesEncoding = slices.Contains(c.stored, "Content-Encoding")

	var longest time.Duration
	for tmpl, rc := range cfg.Routes {
		if tmpl == "" {
			return nil, errors.New("cache: empty route template")
		}
		if rc.TTL < time.Second || rc.TTL > maxTTL {
			return nil, fmt.Errorf("cache: route %q: TTL %v outside [1s, 24h]", tmpl, rc.TTL)
		}
		longest = max(longest, rc.TTL)
		rt := &route{template: tmpl, ttl: rc.TTL}
		deps := slices.Clone(rc.DependsOn)
		sort.Strings(deps)
		deps = slices.Compact(deps)
		for _, d := range deps {
			if d == "" || len(d) > maxResourceName {
				return nil, fmt.Errorf("cache: route %q: invalid resource type %q", tmpl, d)
			}
			g := c.gens[d]
			if g == nil {
				g = new(atomic.Uint64)
				c.gens[d] = g
			}
			rt.gens = append(rt.gens, g)
		}
		for _, h := range rc.Vary {
			ch := http.CanonicalHeaderKey(h)
			if !isToken(ch) {
				return nil, fmt.Errorf("cache: route %q: invalid Vary field %q", tmpl, h)
			}
			rt.vary = append(rt.vary, ch)
		}
		sort.Strings(rt.vary)
		rt.vary = slices.Compact(rt.vary)
		if rc.Params != nil {
			rt.params = make(map[string]bool, len(rc.Params))
			for _, p := range rc.Params {
				rt.params[p] = true
			}
		}
		c.routes[tmpl] = rt
	}

	store, err := newStore(cfg, c.maxEntry, longest, c.evicted)
	if err != nil {
		return nil, err
	}
	c.store = store

	c.status = statusValues{
		hit:       name + "; hit",
		miss:      name + "; fwd=miss",
		collapsed: name + "; fwd=miss; collapsed",
		stale:     name + "; fwd=stale",
		request:   name + "; fwd=request",
		bypass:    name + "; fwd=bypass",
		// RFC 9211 §2.8: detail is implementation-specific.
		unsynced: name + "; fwd=bypass; detail=unsynced",
		method:   name + "; fwd=method",
	}

	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("cache: instance id: %w", err)
	}
	c.origin = hex.EncodeToString(id[:])

	if cfg.Redis != nil {
		channel := cfg.Channel
		if channel == "" {
			channel = DefaultChannel
		}
		c.bcast, err = broadcast.New(broadcast.Config{
			Redis:     cfg.Redis,
			Name:      channel,
			OnMessage: c.apply,
			OnUp: func(resync bool) {
				if resync {
					// Broadcasts sent while disconnected were lost.
					c.flushLocal()
				}
			},
			OnDown: func(err error) { c.fail("", "subscribe", err) },
		})
		if err != nil {
			_ = store.Close()
			return nil, err
		}
	}
	return c, nil
}

// newStore builds the bigcache instance, checking that HardMaxCacheSize,
// Shards and MaxEntryBytes fit together (bigcache only finds out at Set).
func newStore(cfg Config, maxEntry int, longest time.Duration, onEvict func()) (*bigcache.BigCache, error) {
	mb := cfg.HardMaxCacheSize
	if mb == 0 {
		mb = DefaultHardMaxCacheSize
	}
	if mb < 0 {
		return nil, errors.New("cache: Config.HardMaxCacheSize is negative")
	}
	total := mb << 20
	// Room for the key, the stored headers and bigcache's own header.
	need := 2 * (maxEntry + maxKeyBytes + 4<<10)
	shards := cfg.Shards
	if shards == 0 {
		shards = 256
		for shards > 1 && total/shards < 2*need {
			shards /= 2
		}
	}
	if shards <= 0 || shards&(shards-1) != 0 {
		return nil, fmt.Errorf("cache: Config.Shards %d is not a power of two", shards)
	}
	if total/shards < need {
		return nil, fmt.Errorf("cache: HardMaxCacheSize %d MB over %d shards leaves %d bytes per shard, "+
			"less than two entries of MaxEntryBytes %d: raise HardMaxCacheSize or lower Shards or MaxEntryBytes",
			mb, shards, total/shards, maxEntry)
	}
	bc := bigcache.Config{
		Shards: shards,
		// bigcache's clock has a one-second resolution; our own expiry time
		// in each entry is the one that counts, this only reclaims memory.
		LifeWindow:         longest + 2*time.Second,
		CleanWindow:        min(longest, time.Minute),
		MaxEntriesInWindow: 1024,
		MaxEntrySize:       4 << 10,
		HardMaxCacheSize:   mb,
		OnRemoveWithReason: func(string, []byte, bigcache.RemoveReason) { onEvict() },
		Verbose:            false,
		Logger:             nopLogger{}, // keys hold queries: never log them
	}
	// Only NoSpace removals are reported: unwrapping every expired entry
	// would cost a copy each.
	bc = bc.OnRemoveFilterSet(bigcache.NoSpace)
	if cfg.Hasher != nil {
		bc.Hasher = cfg.Hasher
	}
	store, err := bigcache.New(context.Background(), bc)
	if err != nil {
		return nil, fmt.Errorf("cache: bigcache: %w", err)
	}
	return store, nil
}

// Close stops the invalidation subscriber and bigcache's cleaner. After
// Close, a cache with Redis passes every request through (no broadcast
// reaches it any more); one without Redis keeps working.
func (c *Cache) Close() error {
	c.once.Do(func() {
		if c.bcast != nil {
			c.bcast.Close()
		}
		_ = c.store.Close()
	})
	return nil
}

// WaitReady returns nil once the invalidation subscriber has subscribed to
// its channel (at once without Redis), or ctx's error. Broadcasts published
// before then are not received; use it in readiness checks and tests.
func (c *Cache) WaitReady(ctx context.Context) error {
	if c.bcast == nil {
		return nil
	}
	select {
	case <-c.bcast.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Synced reports whether the cache may serve and store responses: always
// without Redis; with Redis, only while its invalidation subscription is
// confirmed. An instance that cannot hear the invalidations of the others
// would serve lists they have changed until the TTL ends, so it bypasses
// the cache instead, and empties it when the subscription is back.
func (c *Cache) Synced() bool { return c.bcast == nil || c.bcast.Live() }

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		Collapsed:     c.collapsed.Load(),
		Bypasses:      c.bypasses.Load(),
		Stores:        c.stores.Load(),
		Evictions:     c.evictions.Load(),
		Errors:        c.errs.Load(),
		Invalidations: c.invalidations.Load(),
		Flushes:       c.flushes.Load(),
		Entries:       c.store.Len(),
	}
}

// evicted runs inside bigcache while it holds a shard lock: it only counts.
// The events are delivered by put, once Set has returned, so that an
// OnEvent hook may call the Cache's methods.
func (c *Cache) evicted() {
	c.evictions.Add(1)
	c.pendingEvictions.Add(1)
}

func (c *Cache) deliverEvictions() {
	for n := c.pendingEvictions.Swap(0); n > 0 && c.onEvent != nil; n-- {
		c.onEvent(Event{Kind: EventEvict})
	}
}

func (c *Cache) emit(ev Event) {
	switch ev.Kind {
	case EventHit:
		c.hits.Add(1)
	case EventMiss:
		c.misses.Add(1)
	case EventCollapsed:
		c.collapsed.Add(1)
	case EventBypass:
		c.bypasses.Add(1)
	case EventStore:
		c.stores.Add(1)
	case EventError:
		c.errs.Add(1)
	case EventInvalidate:
		c.invalidations.Add(1)
	case EventFlush:
		c.flushes.Add(1)
	}
	if c.onEvent != nil {
		c.onEvent(ev)
	}
}

// fail records a cache failure. Messages carry the route template and the
// error only: keys hold queries (cursors) and caller partitions.
func (c *Cache) fail(routeName, op string, err error) {
	c.log.Warn("response cache failure; serving uncached", "route", routeName, "op", op, "error", err)
	c.emit(Event{Kind: EventError, Route: routeName, Op: op, Err: err})
}

// isToken reports whether s is an RFC 8941 sf-token (which includes the
// RFC 9110 field-name tokens).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	c0 := s[0]
	if !(c0 >= 'a' && c0 <= 'z' || c0 >= 'A' && c0 <= 'Z' || c0 == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isTchar(s[i]) && s[i] != ':' && s[i] != '/' {
			return false
		}
	}
	return true
}

func isTchar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
