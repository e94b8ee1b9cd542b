package client

import (
	"container/list"
	"strings"
	"sync"
)

const (
	defaultCacheEntries    = 256
	defaultCacheEntryBytes = 1 << 20
)

// etagCache keeps the last representations read with an ETag, least
// recently used out first, so that a GET can be revalidated with
// If-None-Match (RFC 9110 §13.1.2) and a 304 answered from memory. An entry
// is only ever served after the server said it is current: the cache saves
// bandwidth and rate-limit quota (a 304 costs none), never freshness.
type etagCache struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int
	order      *list.List               // front: most recently used
	entries    map[string]*list.Element // URL → element holding *cacheEntry
}

type cacheEntry struct {
	url, etag string
	body      []byte
}

func newETagCache(maxEntries, maxBytes int) *etagCache {
	return &etagCache{maxEntries: maxEntries, maxBytes: maxBytes, order: list.New(), entries: map[string]*list.Element{}}
}

func (c *etagCache) get(url string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[url]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

// put keeps body under url when the answer has a usable ETag, and forgets
// url otherwise (an answer without ETag replaces what was cached).
func (c *etagCache) put(url, etag string, body []byte) {
	if c.maxEntries == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[url]; ok {
		c.order.Remove(el)
		delete(c.entries, url)
	}
	if !validETag(etag) || len(body) > c.maxBytes {
		return
	}
	c.entries[url] = c.order.PushFront(&cacheEntry{url: url, etag: etag, body: body})
	for c.order.Len() > c.maxEntries {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).url)
	}
}

func (c *etagCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// validETag accepts one entity-tag (RFC 9110 §8.8.3): optionally W/, then
// a quoted string without quotes or control characters inside.
func validETag(t string) bool {
	t = strings.TrimPrefix(t, "W/")
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return false
	}
	for _, b := range []byte(t[1 : len(t)-1]) {
		if b == '"' || b < 0x21 || b == 0x7f {
			return false
		}
	}
	return true
}
