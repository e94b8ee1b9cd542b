package etag_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/etag"
)

// privateCache is a minimal private HTTP cache (RFC 9111) used as a client
// transport. It stores 200 answers to GET (§3) unless no-store, serves them
// while fresh (max-age, §4.2), and otherwise — stale, or no-cache — sends a
// conditional request with the stored ETag and Last-Modified (§4.3.1). A 304
// whose strong validator matches the stored one freshens the stored response,
// whose header fields are updated from the 304 (§4.3.4).
type privateCache struct {
	next    http.RoundTripper
	now     func() time.Time
	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	header http.Header
	body   []byte
	stored time.Time
}

// X-Test-Cache tells the test how the cache answered: HIT, REVALIDATED, MISS.
const cacheStatus = "X-Test-Cache"

func (c *privateCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return c.next.RoundTrip(req)
	}
	key := req.URL.String()
	c.mu.Lock()
	e := c.entries[key]
	c.mu.Unlock()
	if e != nil && c.fresh(e) {
		return e.response(req, "HIT"), nil
	}
	if e != nil {
		req = req.Clone(req.Context())
		if v := e.header.Get("ETag"); v != "" {
			req.Header.Set("If-None-Match", v)
		}
		if v := e.header.Get("Last-Modified"); v != "" {
			req.Header.Set("If-Modified-Since", v)
		}
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if e != nil && resp.StatusCode == http.StatusNotModified {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if v := resp.Header.Get("ETag"); v != "" && v != e.header.Get("ETag") {
			// The 304 selects another representation: ours cannot be used.
			c.forget(key)
			req.Header.Del("If-None-Match")
			req.Header.Del("If-Modified-Since")
			return c.RoundTrip(req)
		}
		c.mu.Lock()
		for k, v := range resp.Header {
			if k != "Content-Length" {
				e.header[k] = v
			}
		}
		e.stored = c.now()
		c.mu.Unlock()
		return e.response(req, "REVALIDATED"), nil
	}
	if resp.StatusCode != http.StatusOK || hasDirective(resp.Header, "no-store") {
		c.forget(key)
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	ne := &cacheEntry{header: resp.Header.Clone(), body: body, stored: c.now()}
	c.mu.Lock()
	c.entries[key] = ne
	c.mu.Unlock()
	return ne.response(req, "MISS"), nil
}

func (c *privateCache) forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

func (c *privateCache) fresh(e *cacheEntry) bool {
	if hasDirective(e.header, "no-cache") {
		return false
	}
	for _, d := range strings.Split(e.header.Get("Cache-Control"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			n, err := strconv.Atoi(v)
			return err == nil && c.now().Sub(e.stored) < time.Duration(n)*time.Second
		}
	}
	return false
}

func hasDirective(h http.Header, name string) bool {
	for _, d := range strings.Split(h.Get("Cache-Control"), ",") {
		if strings.EqualFold(strings.TrimSpace(d), name) {
			return true
		}
	}
	return false
}

func (e *cacheEntry) response(req *http.Request, status string) *http.Response {
	h := e.header.Clone()
	h.Set(cacheStatus, status)
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(e.body)), ContentLength: int64(len(e.body)), Request: req,
	}
}

// wireLog records the status codes that actually crossed the network.
type wireLog struct {
	next     http.RoundTripper
	mu       sync.Mutex
	statuses []int
}

func (w *wireLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	if err == nil {
		w.mu.Lock()
		w.statuses = append(w.statuses, resp.StatusCode)
		w.mu.Unlock()
	}
	return resp, err
}

func (w *wireLog) last() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.statuses) == 0 {
		return 0
	}
	return w.statuses[len(w.statuses)-1]
}

// TestCachingClientRevalidates: a caching HTTP client stores a chantier,
// serves it while fresh, revalidates it once stale and receives 304, then
// gets the new representation after a change.
func TestCachingClientRevalidates(t *testing.T) {
	var mu sync.Mutex
	nom, served := "Chantier Rivoli", 0
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		served++
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "private, max-age=60")
		w.Header().Set("Vary", "Authorization")
		fmt.Fprintf(w, `{"id":1,"nom":%q}`, nom)
	})
	srv := httptest.NewServer(etag.ConditionalGET()(api))
	defer srv.Close()

	clock := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	wire := &wireLog{next: srv.Client().Transport}
	cache := &privateCache{next: wire, now: func() time.Time { return clock }, entries: map[string]*cacheEntry{}}
	client := &http.Client{Transport: cache}

	get := func(t *testing.T) (string, string, string) {
		t.Helper()
		resp, err := client.Get(srv.URL + "/api/v1/chantiers/1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d err %v", resp.StatusCode, err)
		}
		return string(body), resp.Header.Get(cacheStatus), resp.Header.Get("ETag")
	}

	body1, status, tag1 := get(t)
	if status != "MISS" || tag1 == "" || !strings.Contains(body1, "Rivoli") || served != 1 {
		t.Fatalf("first GET: %s %q tag %q served %d", status, body1, tag1, served)
	}

	clock = clock.Add(30 * time.Second)
	if body, status, _ := get(t); status != "HIT" || body != body1 || served != 1 {
		t.Fatalf("fresh GET: %s served %d", status, served)
	}

	clock = clock.Add(60 * time.Second) // now stale
	body, status, tag := get(t)
	if status != "REVALIDATED" || wire.last() != http.StatusNotModified || body != body1 || tag != tag1 || served != 2 {
		t.Fatalf("stale GET: cache %s, wire %d, tag %q, served %d", status, wire.last(), tag, served)
	}

	clock = clock.Add(30 * time.Second) // freshened by the 304
	if _, status, _ := get(t); status != "HIT" || served != 2 {
		t.Fatalf("GET after revalidation: %s served %d", status, served)
	}

	mu.Lock()
	nom = "Chantier Rivoli (phase 2)"
	mu.Unlock()
	clock = clock.Add(2 * time.Minute)
	body, status, tag = get(t)
	if status != "MISS" || wire.last() != http.StatusOK || !strings.Contains(body, "phase 2") || tag == tag1 {
		t.Fatalf("GET after a change: cache %s, wire %d, body %q, tag %q", status, wire.last(), body, tag)
	}
}
