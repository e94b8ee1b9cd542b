package cache

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// keyFormat changes whenever the key layout changes.
const keyFormat = 'k'

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// buildKey returns the key of r on rt, or ok=false when r cannot be keyed
// (malformed or oversized query, parameter outside rt.params, oversized key):
// such requests bypass the cache and the handler answers them.
//
// Every component is length-prefixed, so no choice of query, header or
// VaryFunc value can make two different requests produce one key.
func (c *Cache) buildKey(r *http.Request, rt *route) (key string, ok bool) {
	raw := r.URL.RawQuery
	if len(raw) > MaxQueryBytes {
		return "", false
	}
	bp := keyBufs.Get().(*[]byte)
	b := (*bp)[:0]
	defer func() {
		if cap(b) <= 4*maxKeyBytes {
			*bp = b[:0]
			keyBufs.Put(bp)
		}
	}()

	b = append(b, keyFormat)
	b = appendField(b, rt.template)
	b, ok = c.appendQuery(b, raw, rt)
	if !ok {
		return "", false
	}
	for _, h := range rt.vary {
		vs := r.Header.Values(h)
		b = appendCount(b, len(vs))
		for _, v := range vs {
			b = appendField(b, v)
		}
	}
	b = appendField(b, c.varyFunc(r))
	b = strconv.AppendUint(b, c.global.Load(), 10)
	for _, g := range rt.gens {
		b = append(b, '.')
		b = strconv.AppendUint(b, g.Load(), 10)
	}
	if len(b) > maxKeyBytes {
		return "", false
	}
	return string(b), true
}

// appendQuery appends the canonical form of a raw query: parameters sorted
// by name, the values of one name in request order (repeated parameters can
// be order-sensitive), each value through its normaliser. The query is
// split and decoded exactly as url.ParseQuery (and so r.URL.Query() for the
// handler) does, so requests the handler cannot tell apart share a key; a
// query it rejects is not keyed.
func (c *Cache) appendQuery(b []byte, raw string, rt *route) ([]byte, bool) {
	if raw == "" {
		return appendCount(b, 0), true
	}
	pp := paramBufs.Get().(*[]queryParam)
	ps, ok := parseQuery((*pp)[:0], raw)
	defer func() {
		clear(ps) // no reference to the request kept in the pool
		if cap(ps) <= maxPooledParams {
			*pp = ps[:0]
			paramBufs.Put(pp)
		}
	}()
	if !ok {
		return b, false
	}
	if rt.params != nil {
		for _, p := range ps {
			if !rt.params[p.name] {
				return b, false
			}
		}
	}
	// Stable: the values of one name keep their request order.
	slices.SortStableFunc(ps, func(x, y queryParam) int { return strings.Compare(x.name, y.name) })
	names := 0
	for i := range ps {
		if i == 0 || ps[i].name != ps[i-1].name {
			names++
		}
	}
	b = appendCount(b, names)
	for i := 0; i < len(ps); {
		j := i + 1
		for j < len(ps) && ps[j].name == ps[i].name {
			j++
		}
		b = appendField(b, ps[i].name)
		b = appendCount(b, j-i)
		norm := c.normalize[ps[i].name]
		for _, p := range ps[i:j] {
			v := p.value
			if norm != nil {
				v = norm(v)
			}
			b = appendField(b, v)
		}
		i = j
	}
	return b, true
}

// queryParam is one decoded name=value pair of a query.
type queryParam struct{ name, value string }

// maxPooledParams bounds the parameter slices kept for reuse.
const maxPooledParams = 256

var paramBufs = sync.Pool{New: func() any { s := make([]queryParam, 0, 16); return &s }}

// parseQuery appends the pairs of query to ps in order, with url.ParseQuery's
// rules: pairs split on "&", empty pairs skipped, name and value split at the
// first "=" and query-unescaped. ok is false where ParseQuery returns an
// error (a ";" in a pair, a malformed escape). Unescaping allocates only for
// a name or value that holds an escape.
func parseQuery(ps []queryParam, query string) (_ []queryParam, ok bool) {
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if strings.Contains(pair, ";") {
			return ps, false
		}
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(name)
		if err != nil {
			return ps, false
		}
		if value, err = url.QueryUnescape(value); err != nil {
			return ps, false
		}
		ps = append(ps, queryParam{name, value})
	}
	return ps, true
}

// appendCount appends a number of following fields, '#'-terminated.
func appendCount(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '#')
}

// appendField appends s prefixed by its length.
func appendField(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}
