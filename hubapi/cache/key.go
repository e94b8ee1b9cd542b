package cache

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
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
// be order-sensitive), each value through its normaliser. url.ParseQuery
// decodes exactly as r.URL.Query() does for the handler, so requests the
// handler cannot tell apart share a key; a query it rejects is not keyed.
func (c *Cache) appendQuery(b []byte, raw string, rt *route) ([]byte, bool) {
	if raw == "" {
		return appendCount(b, 0), true
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return b, false
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		if rt.params != nil && !rt.params[k] {
			return b, false
		}
		names = append(names, k)
	}
	sort.Strings(names)
	b = appendCount(b, len(names))
	for _, k := range names {
		b = appendField(b, k)
		vs := vals[k]
		b = appendCount(b, len(vs))
		norm := c.normalize[k]
		for _, v := range vs {
			if norm != nil {
				v = norm(v)
			}
			b = appendField(b, v)
		}
	}
	return b, true
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
