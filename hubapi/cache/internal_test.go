package cache

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleEntry() *entry {
	return &entry{
		storedAt: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC).UnixNano(),
		expires:  time.Date(2026, 11, 2, 10, 5, 0, 0, time.UTC).UnixNano(),
		status:   200,
		headers: []storedHeader{
			{name: "Content-Type", replace: true, values: []string{"application/json"}},
			{name: "Link", values: []string{`<a>; rel="next"`, `<b>; rel="prev"`}},
			{name: "ETag", replace: true},
		},
		body: []byte(`{"chantiers":[]}`),
	}
}

func TestEntryCodec(t *testing.T) {
	const key = "k13:/api/v1/chantiers0#5:admin0.3"
	b, err := encodeEntry(key, sampleEntry())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("an entry decodes to what was encoded", func(t *testing.T) {
		got, err := decodeEntry(b, key, DefaultStoredHeaders)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, sampleEntry()) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("an entry read under another key is rejected (hash collision)", func(t *testing.T) {
		if _, err := decodeEntry(b, key+"x", nil); !errors.Is(err, errKeyMismatch) {
			t.Fatalf("err %v, want errKeyMismatch", err)
		}
		if _, err := decodeEntry(b, key[:len(key)-1], nil); !errors.Is(err, errKeyMismatch) {
			t.Fatalf("err %v, want errKeyMismatch", err)
		}
	})
	t.Run("every truncation is rejected as corrupt", func(t *testing.T) {
		// Truncations that cut the body only are valid entries with a
		// shorter body; those cutting the metadata must fail.
		meta := len(b) - len(sampleEntry().body)
		for n := 0; n < meta; n++ {
			if _, err := decodeEntry(b[:n], key, nil); err == nil {
				t.Fatalf("truncation to %d bytes accepted", n)
			}
		}
	})
	t.Run("an unknown format is rejected", func(t *testing.T) {
		bad := append([]byte{}, b...)
		bad[0] = 9
		if _, err := decodeEntry(bad, key, nil); !errors.Is(err, errCorrupt) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("a status outside 100..999 cannot be encoded", func(t *testing.T) {
		if _, err := encodeEntry(key, &entry{status: 1000}); err == nil {
			t.Fatal("encoded")
		}
	})
}

// A store that hands back an entry written under another key (what a
// 64-bit hash collision could do if bigcache did not compare keys itself)
// must not serve it: the lookup reports a miss.
func TestLookupRejectsAnEntryOfAnotherKey(t *testing.T) {
	c, err := New(Config{
		Routes:    map[string]Route{"/a": {TTL: time.Minute}},
		RouteFunc: func(r *http.Request) string { return r.URL.Path },
		VaryFunc:  func(r *http.Request) string { return r.Header.Get("X-Role") },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rt := c.routes["/a"]
	victim, _ := c.buildKey(httptest.NewRequest(http.MethodGet, "/a", nil), rt)
	other := victim + "-other"
	b, err := encodeEntry(other, sampleEntry())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.store.Set(victim, b); err != nil { // the colliding write
		t.Fatal(err)
	}
	if e := c.lookup(victim, "/a"); e != nil {
		t.Fatal("served an entry stored under another key")
	}
	if c.Stats().Errors != 1 {
		t.Fatalf("mismatch not reported: %+v", c.Stats())
	}
}

func TestKeyIsInjective(t *testing.T) {
	c, err := New(Config{
		Routes:    map[string]Route{"/a": {TTL: time.Minute, DependsOn: []string{"x"}, Vary: []string{"Accept"}}},
		RouteFunc: func(r *http.Request) string { return r.URL.Path },
		VaryFunc:  func(r *http.Request) string { return r.Header.Get("X-Role") },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rt := c.routes["/a"]
	type req struct{ query, role, accept string }
	distinct := []req{
		{"a=1&b=2", "r", ""},
		{"a=1%26b%3D2", "r", ""},
		{"a=1", "r&b=2", ""},
		{"a=12", "", ""},
		{"a=1", "2", ""},
		{"a=1", "", "2"},
		{"a", "", ""},
		{"", "a", ""},
		{"", "", "a"},
		{"a=1&a=2", "", ""},
		{"a=1,2", "", ""},
	}
	seen := map[string]req{}
	for _, q := range distinct {
		r := httptest.NewRequest(http.MethodGet, "/a?"+q.query, nil)
		r.Header.Set("X-Role", q.role)
		if q.accept != "" {
			r.Header.Set("Accept", q.accept)
		}
		k, ok := c.buildKey(r, rt)
		if !ok {
			t.Fatalf("%+v not keyed", q)
		}
		if prev, dup := seen[k]; dup {
			t.Fatalf("%+v and %+v share key %q", prev, q, k)
		}
		seen[k] = q
	}
}

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want directives
	}{
		{"empty", nil, directives{maxAge: -1}},
		{"names are case-insensitive", []string{"No-Cache, NO-STORE"}, directives{noCache: true, noStore: true, maxAge: -1}},
		{"max-age is read", []string{"max-age=60"}, directives{maxAge: 60}},
		{"quoted max-age is read", []string{`max-age="60"`}, directives{maxAge: 60}},
		{"an invalid max-age is ignored", []string{"max-age=-1, max-age=abc"}, directives{maxAge: -1}},
		{"a huge max-age saturates", []string{"max-age=99999999999999999999999"}, directives{maxAge: maxDeltaSeconds}},
		{"a qualified private counts", []string{`private="Set-Cookie, X"`}, directives{private: true, maxAge: -1}},
		{"commas inside quotes do not split", []string{`private="no-store, x", public`}, directives{private: true, maxAge: -1}},
		{"several field lines combine", []string{"public", "no-cache"}, directives{noCache: true, maxAge: -1}},
		{"whitespace around = is tolerated", []string{"max-age = 5 ,no-store"}, directives{noStore: true, maxAge: 5}},
		{"garbage is ignored", []string{`,,=,"",;;;, no-store`}, directives{noStore: true, maxAge: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCacheControl(tt.in); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		ok      bool
	}{
		{"resources", `{"o":"a1","r":["chantiers"]}`, true},
		{"flush", `{"o":"a1","all":true}`, true},
		{"no origin", `{"r":["chantiers"]}`, false},
		{"nothing to do", `{"o":"a1"}`, false},
		{"empty resource", `{"o":"a1","r":[""]}`, false},
		{"not JSON", `chantiers`, false},
		{"oversized", `{"o":"a1","r":["` + strings.Repeat("x", maxMessageBytes) + `"]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeMessage(tt.payload); (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
