package cache

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/allegro/bigcache/v3"
)

// statusField is the RFC 9211 response field; etagField is ETag in its
// canonical (net/textproto) form.
const (
	statusField = "Cache-Status"
	etagField   = "Etag"
)

// response is a handler run's outcome that may be stored and shared.
type response struct {
	status  int
	headers []storedHeader
	body    []byte
}

// Middleware caches the responses of next. It must run after authentication
// and authorization (see the package documentation); with gorilla/mux, add
// it with Router.Use so that RouteFunc sees the matched route.
func (c *Cache) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.serve(w, r, next)
	})
}

func (c *Cache) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	name := c.routeFunc(r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.pass(w, r, next, name, c.status.method)
		return
	}
	rt := c.routes[name]
	if rt == nil {
		c.pass(w, r, next, name, c.status.bypass)
		return
	}
	if !c.Synced() {
		// Invalidations of other instances may be missed: neither serve
		// nor store.
		c.pass(w, r, next, name, c.status.unsynced)
		return
	}
	key, ok := c.buildKey(r, rt)
	if !ok {
		c.pass(w, r, next, name, c.status.bypass)
		return
	}
	dir := requestDirectives(r.Header)
	now := c.now()
	status := c.status.miss
	if e := c.lookup(key, name); e != nil {
		switch ns := now.UnixNano(); {
		case ns >= e.expires:
			status = c.status.stale
		case dir.noCache || dir.noStore || (dir.maxAge >= 0 && ns-e.storedAt > dir.maxAge*int64(time.Second)):
			status = c.status.request
		default:
			c.emit(Event{Kind: EventHit, Route: name})
			c.write(w, r, e.status, e.headers, e.body, c.status.hit, false)
			return
		}
	}
	w.Header().Set(statusField, status)

	// HEAD responses have no body to store; no-store forbids storing and
	// sharing (RFC 9111 §5.2.1.5).
	if r.Method == http.MethodHead || dir.noStore {
		c.emit(Event{Kind: EventMiss, Route: name})
		next.ServeHTTP(w, r)
		return
	}

	// Concurrent misses on one key run the handler once. The function runs in
	// this goroutine when this request leads; the others wait for its result.
	var (
		rec      *recorder
		panicked bool
		panicVal any
	)
	v, _, _ := c.flight.Do(key, func() (any, error) {
		rec = newRecorder(w, c.watched, c.maxEntry)
		func() {
			defer func() {
				// Recovered so that singleflight does not re-panic in every
				// waiting request; re-raised below in this request only.
				if p := recover(); p != nil {
					panicked, panicVal = true, p
				}
			}()
			next.ServeHTTP(rec, r)
		}()
		if panicked {
			return (*response)(nil), nil
		}
		res := c.judge(rec, rt)
		if res != nil {
			c.put(key, name, rt, res, now)
		}
		return res, nil
	})
	if rec != nil { // this request ran the handler
		if panicked {
			panic(panicVal)
		}
		c.emit(Event{Kind: EventMiss, Route: name})
		rec.finish()
		return
	}
	res, _ := v.(*response)
	if res == nil {
		// The run's response cannot be shared (not a 200, private, too
		// large, ...): run the handler for this request too.
		c.emit(Event{Kind: EventMiss, Route: name})
		next.ServeHTTP(w, r)
		return
	}
	c.emit(Event{Kind: EventCollapsed, Route: name})
	c.write(w, r, res.status, res.headers, res.body, c.status.collapsed, true)
}

// pass forwards a request the cache does not handle.
func (c *Cache) pass(w http.ResponseWriter, r *http.Request, next http.Handler, name, status string) {
	w.Header().Set(statusField, status)
	c.emit(Event{Kind: EventBypass, Route: name})
	next.ServeHTTP(w, r)
}

// lookup returns the entry stored under key, or nil. Failures other than
// "not found" are reported and count as a miss.
func (c *Cache) lookup(key, name string) *entry {
	b, err := c.store.Get(key)
	if err != nil {
		if !errors.Is(err, bigcache.ErrEntryNotFound) {
			c.fail(name, "get", err)
		}
		return nil
	}
	e, err := decodeEntry(b, key, c.stored)
	if err != nil {
		c.fail(name, "decode", err)
		return nil
	}
	return e
}

// judge returns the handler's response if it may be stored and shared, or
// nil. Only the fields the handler contributed are considered (see
// recorder).
func (c *Cache) judge(rec *recorder, rt *route) *response {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.status != http.StatusOK || rec.overflow {
		return nil
	}
	n := len(c.stored)
	cc, cookie, vary, encoding := rec.contrib[n], rec.contrib[n+1], rec.contrib[n+2], rec.contrib[n+3]
	if len(cookie.values) > 0 {
		return nil
	}
	// An encoded body replayed without its Content-Encoding would be garbage.
	if len(encoding.values) > 0 && !c.storesEncoding {
		return nil
	}
	if d := parseCacheControl(cc.values); d.private || d.noStore || d.noCache {
		return nil
	}
	if !varyCovered(vary.values, rt) {
		return nil
	}
	res := &response{status: rec.status, body: rec.body}
	for _, sh := range rec.contrib[:n] {
		if sh.replace || len(sh.values) > 0 {
			res.headers = append(res.headers, sh)
		}
	}
	if h := rec.w.Header(); c.tagBody != nil && len(h[etagField]) == 0 {
		tag := c.tagBody(rec.body)
		res.headers = append(res.headers, storedHeader{name: etagField, values: []string{tag}})
		if !rec.committed {
			h[etagField] = []string{tag}
		}
	}
	return res
}

// put stores res. A failure is reported; the request is unaffected.
func (c *Cache) put(key, name string, rt *route, res *response, now time.Time) {
	// Expiry counts from the request's arrival: the data may be that old.
	b, err := encodeEntry(key, &entry{
		storedAt: now.UnixNano(),
		expires:  now.Add(rt.ttl).UnixNano(),
		status:   res.status,
		headers:  res.headers,
		body:     res.body,
	})
	if err != nil {
		c.fail(name, "encode", err)
		return
	}
	err = c.store.Set(key, b)
	c.deliverEvictions()
	if err != nil {
		c.fail(name, "store", err)
		return
	}
	c.emit(Event{Kind: EventStore, Route: name})
}

// write sends a stored or shared response.
func (c *Cache) write(w http.ResponseWriter, r *http.Request, status int, headers []storedHeader, body []byte, cacheStatus string, shared bool) {
	h := w.Header()
	replay(h, headers, shared)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set(statusField, cacheStatus)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // #nosec G705 -- a stored handler response, replayed unchanged
	}
}
