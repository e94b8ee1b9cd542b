package cache

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzRequestDirectives: client Cache-Control and Pragma fields never make
// the parser panic, and max-age stays within RFC 9111's bounds.
func FuzzRequestDirectives(f *testing.F) {
	for _, s := range []string{"no-cache", "max-age=0", `private="a,b", no-store`, `max-age="1`, ",,=", "max-age=99999999999999999999"} {
		f.Add(s, "no-cache")
	}
	f.Fuzz(func(t *testing.T, cc, pragma string) {
		h := http.Header{}
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		h.Set("Pragma", pragma)
		d := requestDirectives(h)
		if d.maxAge < -1 || d.maxAge > maxDeltaSeconds {
			t.Fatalf("max-age %d", d.maxAge)
		}
		if d.maxAge == 0 && !d.noCache {
			t.Fatal("max-age=0 not treated as no-cache")
		}
	})
}

// FuzzKey: any query and VaryFunc value either bypasses or yields a bounded
// key, and two requests share a key only if the handler cannot tell them
// apart.
func FuzzKey(f *testing.F) {
	f.Add("limit=10&sort=nom", "admin", "sort=nom&limit=10", "admin")
	f.Add("a=1", "r&b=2", "a=1&b=2", "r")
	f.Add("a=%zz", "", "a=", "")
	f.Add("fields=id,nom", "x", "fields=nom,id", "x")
	c, err := New(Config{
		Routes:    map[string]Route{"/a": {TTL: time.Minute, DependsOn: []string{"x"}}},
		RouteFunc: func(r *http.Request) string { return r.URL.Path },
		VaryFunc:  func(r *http.Request) string { return r.Header.Get("X-Role") },
	})
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	rt := c.routes["/a"]
	keyOf := func(q, role string) (string, bool) {
		r := httptest.NewRequest(http.MethodGet, "/a", nil)
		r.URL.RawQuery = q
		r.Header = http.Header{"X-Role": {role}}
		return c.buildKey(r, rt)
	}
	f.Fuzz(func(t *testing.T, q1, role1, q2, role2 string) {
		k1, ok1 := keyOf(q1, role1)
		k2, ok2 := keyOf(q2, role2)
		for _, k := range []string{k1, k2} {
			if len(k) > maxKeyBytes {
				t.Fatalf("key of %d bytes", len(k))
			}
		}
		if !ok1 || !ok2 || k1 != k2 {
			return
		}
		v1, _ := url.ParseQuery(q1)
		v2, _ := url.ParseQuery(q2)
		if role1 != role2 || !reflect.DeepEqual(v1, v2) {
			t.Fatalf("distinct requests share a key: %q/%q and %q/%q", q1, role1, q2, role2)
		}
	})
}

// FuzzParseQuery: the key's query parser reads a query as url.ParseQuery
// does (and so the handler, through r.URL.Query()), and rejects exactly the
// queries ParseQuery reports an error for.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{"limit=20&fields=id,nom&cursor=AbC-_", "a=1&a=2&b", "a=%zz", "a;b=1", "&&=&a=", "n%C3%A9=%E2%80%93+x", "a=1&%", "=1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.Count(q, "&") >= 1000 {
			t.Skip("beyond MaxQueryBytes")
		}
		want, err := url.ParseQuery(q)
		ps, ok := parseQuery(nil, q)
		if ok != (err == nil) {
			t.Fatalf("%q: ok %v, ParseQuery error %v", q, ok, err)
		}
		if !ok {
			return
		}
		got := url.Values{}
		for _, p := range ps {
			got[p.name] = append(got[p.name], p.value)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: parsed %v, ParseQuery %v", q, got, want)
		}
	})
}

// FuzzDecodeEntry: stored bytes, whatever they are, never make the decoder
// panic, and encoding round-trips.
func FuzzDecodeEntry(f *testing.F) {
	good, _ := encodeEntry("key", sampleEntry())
	f.Add(good, "key")
	f.Add([]byte{1, 0, 0}, "")
	f.Add(bytes.Repeat([]byte{0xff}, 40), "k")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		e, err := decodeEntry(b, key, DefaultStoredHeaders)
		if err != nil {
			return
		}
		again, err := encodeEntry(key, e)
		if err != nil {
			t.Fatalf("decoded entry does not encode: %v", err)
		}
		e2, err := decodeEntry(again, key, nil)
		if err != nil || !reflect.DeepEqual(normalise(e), normalise(e2)) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, e, e2)
		}
	})
}

func normalise(e *entry) *entry {
	c := *e
	if len(c.body) == 0 {
		c.body = nil
	}
	return &c
}

// FuzzDecodeMessage: broadcast payloads (anyone with access to the Redis
// channel can publish) never make the decoder panic, and accepted ones are
// within bounds.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(`{"o":"a","r":["chantiers"]}`)
	f.Add(`{"o":"a","all":true}`)
	f.Add(`{"o":1}`)
	f.Fuzz(func(t *testing.T, payload string) {
		m, err := decodeMessage(payload)
		if err != nil {
			return
		}
		if m.Origin == "" || len(m.Resources) > maxMessageTypes || (!m.All && len(m.Resources) == 0) {
			t.Fatalf("accepted %+v", m)
		}
	})
}
