package etag_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/etag"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		name string
		in   string
		any  bool
		tags []string // header forms
		bad  bool
	}{
		{name: "star", in: `*`, any: true},
		{name: "star with whitespace", in: " * ", any: true},
		{name: "one strong tag", in: `"xyzzy"`, tags: []string{`"xyzzy"`}},
		{name: "RFC 9110 example list", in: `"xyzzy", "r2d2xxxx", "c3piozzzz"`,
			tags: []string{`"xyzzy"`, `"r2d2xxxx"`, `"c3piozzzz"`}},
		{name: "weak and strong mixed", in: `W/"a",W/"b" ,"c"`, tags: []string{`W/"a"`, `W/"b"`, `"c"`}},
		{name: "OWS and empty elements are accepted", in: ` ,, "a" ,	, "b",`, tags: []string{`"a"`, `"b"`}},
		{name: "commas inside quotes belong to the tag", in: `"a,b", "c"`, tags: []string{`"a,b"`, `"c"`}},
		{name: "empty value is an empty list", in: ``},
		{name: "only commas is an empty list", in: ` , ,`},
		{name: "star mixed with tags is malformed", in: `*, "a"`, bad: true},
		{name: "two stars are malformed", in: `*, *`, bad: true},
		{name: "unquoted tag is malformed", in: `"a", b`, bad: true},
		{name: "missing comma is malformed", in: `"a" "b"`, bad: true},
		{name: "lowercase weak prefix is malformed", in: `w/"a"`, bad: true},
		{name: "unterminated quote is malformed", in: `"a", "b`, bad: true},
		{name: "semicolon separator is malformed", in: `"a"; "b"`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := etag.ParseList(tt.in)
			if tt.bad {
				if !errors.Is(err, etag.ErrMalformed) {
					t.Fatalf("ParseList(%q) = %+v, %v; want ErrMalformed", tt.in, l, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseList(%q): %v", tt.in, err)
			}
			var got []string
			for _, tag := range l.Tags {
				got = append(got, tag.String())
			}
			if l.Any != tt.any || !reflect.DeepEqual(got, tt.tags) {
				t.Fatalf("ParseList(%q) = any %v tags %q; want %v %q", tt.in, l.Any, got, tt.any, tt.tags)
			}
			again, err := etag.ParseList(l.String())
			if err != nil || again.String() != l.String() {
				t.Fatalf("String() %q does not round-trip: %q, %v", l.String(), again.String(), err)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	t.Run("IfMatch combines several header lines into one list", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPut, "/", nil)
		r.Header.Add("If-Match", `"a"`)
		r.Header.Add("If-Match", `W/"b", "c"`)
		l, present, err := etag.IfMatch(r)
		if err != nil || !present || l.String() != `"a", W/"b", "c"` {
			t.Fatalf("IfMatch = %q, %v, %v", l.String(), present, err)
		}
	})
	t.Run("IfMatch reports an absent header", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPut, "/", nil)
		if _, present, err := etag.IfMatch(r); present || err != nil {
			t.Fatalf("present %v err %v", present, err)
		}
	})
	t.Run("IfNoneMatch reports a malformed header", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("If-None-Match", `abc`)
		if _, present, err := etag.IfNoneMatch(r); !present || !errors.Is(err, etag.ErrMalformed) {
			t.Fatalf("present %v err %v", present, err)
		}
	})
}

func TestIfMatchVersion(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		version int64
		ok      bool
	}{
		{name: "one strong version tag", values: []string{`"v7"`}, version: 7, ok: true},
		{name: "whitespace around the tag", values: []string{` "v7" `}, version: 7, ok: true},
		{name: "absent header", values: nil},
		{name: "weak version tag", values: []string{`W/"v7"`}},
		{name: "star", values: []string{`*`}},
		{name: "list of two tags", values: []string{`"v7", "v8"`}},
		{name: "two header lines", values: []string{`"v7"`, `"v8"`}},
		{name: "content hash tag", values: []string{`"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"`}},
		{name: "malformed", values: []string{`v7`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPut, "/", nil)
			for _, v := range tt.values {
				r.Header.Add("If-Match", v)
			}
			v, ok := etag.IfMatchVersion(r)
			if v != tt.version || ok != tt.ok {
				t.Fatalf("IfMatchVersion = %d, %v; want %d, %v", v, ok, tt.version, tt.ok)
			}
		})
	}
}

// FuzzParseList checks that the entity-tag parsers never panic, agree with
// each other, and that whatever they accept is valid and round-trips.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{`*`, `"a"`, `W/"a", "b"`, ` , "a,b" ,, `, `"`, `W/`, `w/"x"`, `*, "a"`,
		"\"\x80\xff\"", `"a" "b"`, "", ",", `"v42"`, `W/""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := etag.ParseList(s)
		if err != nil {
			if !errors.Is(err, etag.ErrMalformed) {
				t.Fatalf("ParseList(%q) returned unexpected error %v", s, err)
			}
			if l.Any || len(l.Tags) != 0 {
				t.Fatalf("ParseList(%q) returned data with an error: %+v", s, l)
			}
		} else {
			if l.Any && len(l.Tags) != 0 {
				t.Fatalf("ParseList(%q): Any with tags", s)
			}
			for _, tag := range l.Tags {
				p, err := etag.ParseTag(tag.String())
				if err != nil || p != tag {
					t.Fatalf("ParseList(%q) produced tag %q that ParseTag rejects: %v", s, tag.String(), err)
				}
				if n, err := etag.NewTag(tag.Opaque(), tag.IsWeak()); err != nil || n != tag {
					t.Fatalf("NewTag does not rebuild %q: %v", tag.String(), err)
				}
			}
			again, err := etag.ParseList(l.String())
			if err != nil || again.String() != l.String() {
				t.Fatalf("ParseList(%q).String() = %q does not round-trip: %v", s, l.String(), err)
			}
		}
		// A single tag parses the same way alone and as a one-element list.
		if tag, tagErr := etag.ParseTag(s); tagErr == nil {
			if err != nil || len(l.Tags) != 1 || l.Tags[0] != tag {
				t.Fatalf("ParseTag(%q) = %q but ParseList gives %+v, %v", s, tag.String(), l, err)
			}
			if _, ok := tag.Version(); ok && !strings.HasPrefix(tag.Opaque(), "v") {
				t.Fatalf("Version accepted %q", s)
			}
		}
		// Evaluating the value as every conditional header never panics.
		for _, m := range []string{http.MethodGet, http.MethodPut} {
			r := httptest.NewRequest(m, "/", nil)
			r.Header["If-Match"] = []string{s}
			r.Header["If-None-Match"] = []string{s}
			r.Header["If-Modified-Since"] = []string{s}
			r.Header["If-Unmodified-Since"] = []string{s}
			_ = etag.Evaluate(r, etag.VersionTag(1), timeFixture, true)
		}
	})
}
