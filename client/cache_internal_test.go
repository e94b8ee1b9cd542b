package client

import (
	"fmt"
	"strings"
	"testing"
)

func TestETagCacheIsBoundedLRU(t *testing.T) {
	c := newETagCache(2, 8)
	c.put("/a", `"1"`, []byte("a"))
	c.put("/b", `"2"`, []byte("b"))
	if c.get("/a") == nil { // /a is now the most recent
		t.Fatal("/a missing")
	}
	c.put("/c", `"3"`, []byte("c"))
	if c.get("/b") != nil || c.get("/a") == nil || c.get("/c") == nil || c.len() != 2 {
		t.Fatalf("after a third entry: want /b evicted (least recently used), /a and /c kept, 2 entries (%d)", c.len())
	}
	c.put("/a", `"4"`, []byte("a2"))
	if e := c.get("/a"); e == nil || e.etag != `"4"` || string(e.body) != "a2" {
		t.Fatalf("replaced entry = %+v", e)
	}
	c.put("/a", "", []byte("x"))
	if c.get("/a") != nil {
		t.Error("an answer without ETag kept the old entry")
	}
	c.put("/big", `"5"`, []byte("123456789"))
	if c.get("/big") != nil {
		t.Error("an entry over the size bound was cached")
	}
	off := newETagCache(0, 8)
	off.put("/a", `"1"`, []byte("a"))
	if off.get("/a") != nil {
		t.Error("a cache of size 0 keeps entries")
	}
}

func TestValidETag(t *testing.T) {
	for tag, want := range map[string]bool{
		`"v1"`: true, `W/"abc"`: true, `""`: true,
		``: false, `v1`: false, `"v1`: false, `"a"b"`: false, "\"a\nb\"": false, `"a b"`: false, `W/`: false,
	} {
		if got := validETag(tag); got != want {
			t.Errorf("validETag(%q) = %v, want %v", tag, got, want)
		}
	}
}

func TestLinkTargets(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{`</api/v1/chantiers?cursor=abc>; rel="next"`}, "/api/v1/chantiers?cursor=abc"},
		{[]string{`</p?cursor=x>; rel="prev", </n?cursor=y>; rel="next"`}, "/n?cursor=y"},
		{[]string{`</p>; rel=prev`, `</n>; REL=NEXT`}, "/n"},
		{[]string{`</n>; title="a"; rel="prev next"`}, "/n"},
		{[]string{`</n>; rel="nextish"`}, ""},
		{[]string{`garbage`, `<unterminated`}, ""},
	} {
		got := strings.Join(linkTargets(tc.in, "next"), " ")
		if got != tc.want {
			t.Errorf("Link %q → %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzLinkTargets(f *testing.F) {
	for _, s := range []string{`</a?cursor=1>; rel="next"`, `<a>; rel=prev, <b>; rel=next`, `<`, `<>;rel=`, `<a>; rel="next`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, target := range linkTargets([]string{s}, "next") {
			if !strings.Contains(s, "<"+target+">") {
				t.Fatalf("target %q is not a <...> of %q", target, s)
			}
		}
	})
}

func TestNextQueryStaysOnTheList(t *testing.T) {
	current := "https://hub.example.com/api/v1/chantiers?limit=2"
	for link, want := range map[string]string{
		`</api/v1/chantiers?cursor=abc&limit=2>; rel="next"`:                     "cursor=abc&limit=2",
		`<https://hub.example.com/api/v1/chantiers?cursor=abc>; rel="next"`:      "cursor=abc",
		`<https://evil.example.com/api/v1/chantiers?cursor=abc>; rel="next"`:     "",
		`<http://hub.example.com/api/v1/chantiers?cursor=abc>; rel="next"`:       "",
		`</api/v1/admin/api-keys?cursor=abc>; rel="next"`:                        "",
		fmt.Sprintf(`</api/v1/chantiers?cursor=%s>; rel="prev"`, "abc"):          "",
		`<//evil.example.com/api/v1/chantiers?cursor=abc>; rel="next"`:           "",
		`</api/v1/chantiers/../admin/api-keys?cursor=abc>; rel="next"`:           "",
		`<https://hub.example.com:444/api/v1/chantiers?cursor=abc>; rel="next"`:  "",
		`<https://user@hub.example.com/api/v1/chantiers?cursor=abc>; rel="next"`: "cursor=abc",
	} {
		h := map[string][]string{"Link": {link}}
		got, ok := nextQuery(h, current, "/api/v1/chantiers")
		if got != want || ok != (want != "") {
			t.Errorf("Link %s → %q %v, want %q", link, got, ok, want)
		}
	}
}
