package etag_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/etag"
)

func mustTag(t testing.TB, s string) etag.Tag {
	t.Helper()
	tag, err := etag.ParseTag(s)
	if err != nil {
		t.Fatalf("ParseTag(%q): %v", s, err)
	}
	return tag
}

func TestParseTag(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		opaque string
		weak   bool
		bad    bool
	}{
		{name: "strong tag", in: `"xyzzy"`, opaque: "xyzzy"},
		{name: "weak tag", in: `W/"xyzzy"`, opaque: "xyzzy", weak: true},
		{name: "empty opaque value is valid", in: `""`, opaque: ""},
		{name: "weak empty opaque value is valid", in: `W/""`, opaque: "", weak: true},
		{name: "surrounding whitespace is trimmed", in: " \t\"a\" ", opaque: "a"},
		{name: "comma is an ordinary etagc", in: `"a,b"`, opaque: "a,b"},
		{name: "obs-text bytes are allowed", in: "\"caf\xc3\xa9\"", opaque: "caf\xc3\xa9"},
		{name: "unquoted value is malformed", in: `xyzzy`, bad: true},
		{name: "lowercase w/ is malformed (W/ is case-sensitive)", in: `w/"x"`, bad: true},
		{name: "space after W/ is malformed", in: `W/ "x"`, bad: true},
		{name: "space inside quotes is malformed", in: `"a b"`, bad: true},
		{name: "unterminated quote is malformed", in: `"abc`, bad: true},
		{name: "trailing garbage is malformed", in: `"a"b`, bad: true},
		{name: "two tags are not one tag", in: `"a", "b"`, bad: true},
		{name: "control character is malformed", in: "\"a\x01\"", bad: true},
		{name: "DEL is malformed", in: "\"a\x7f\"", bad: true},
		{name: "empty string is malformed", in: ``, bad: true},
		{name: "star is not an entity-tag", in: `*`, bad: true},
		{name: "lone W/ is malformed", in: `W/`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := etag.ParseTag(tt.in)
			if tt.bad {
				if !errors.Is(err, etag.ErrMalformed) {
					t.Fatalf("ParseTag(%q) = %v, %v; want ErrMalformed", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTag(%q): %v", tt.in, err)
			}
			if got.Opaque() != tt.opaque || got.IsWeak() != tt.weak {
				t.Fatalf("ParseTag(%q) = opaque %q weak %v; want %q %v", tt.in, got.Opaque(), got.IsWeak(), tt.opaque, tt.weak)
			}
			again, err := etag.ParseTag(got.String())
			if err != nil || again != got {
				t.Fatalf("String() %q does not round-trip: %v %v", got.String(), again, err)
			}
		})
	}
}

func TestNewTag(t *testing.T) {
	strong, err := etag.NewTag("abc", false)
	if err != nil || strong.String() != `"abc"` || strong.IsWeak() {
		t.Fatalf("NewTag strong = %q, %v", strong, err)
	}
	weak, err := etag.NewTag("abc", true)
	if err != nil || weak.String() != `W/"abc"` || !weak.IsWeak() {
		t.Fatalf("NewTag weak = %q, %v", weak, err)
	}
	for _, bad := range []string{`a"b`, "a b", "a\nb", "\x00"} {
		if _, err := etag.NewTag(bad, false); !errors.Is(err, etag.ErrMalformed) {
			t.Errorf("NewTag(%q) err = %v; want ErrMalformed", bad, err)
		}
	}
}

func TestComparisonFunctions(t *testing.T) {
	// The table of RFC 9110 §8.8.3.2.
	tests := []struct {
		a, b         string
		strong, weak bool
	}{
		{`W/"1"`, `W/"1"`, false, true},
		{`W/"1"`, `W/"2"`, false, false},
		{`W/"1"`, `"1"`, false, true},
		{`"1"`, `"1"`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			a, b := mustTag(t, tt.a), mustTag(t, tt.b)
			if got := etag.StrongMatch(a, b); got != tt.strong {
				t.Errorf("StrongMatch = %v; want %v", got, tt.strong)
			}
			if got := etag.StrongMatch(b, a); got != tt.strong {
				t.Errorf("StrongMatch reversed = %v; want %v", got, tt.strong)
			}
			if got := etag.WeakMatch(a, b); got != tt.weak {
				t.Errorf("WeakMatch = %v; want %v", got, tt.weak)
			}
			if got := etag.WeakMatch(b, a); got != tt.weak {
				t.Errorf("WeakMatch reversed = %v; want %v", got, tt.weak)
			}
		})
	}
	t.Run("the zero Tag matches nothing, not even itself", func(t *testing.T) {
		var zero etag.Tag
		if etag.StrongMatch(zero, zero) || etag.WeakMatch(zero, zero) {
			t.Fatal("zero tags matched")
		}
	})
}

func TestOf(t *testing.T) {
	a := etag.Of([]byte(`{"id":1,"nom":"Chantier A"}`))
	b := etag.Of([]byte(`{"id":1,"nom":"Chantier B"}`))
	if a.IsWeak() || len(a.Opaque()) != 43 {
		t.Fatalf("Of = %s; want a strong 43-character tag", a)
	}
	if a == b {
		t.Fatal("different bodies share a tag")
	}
	if again := etag.Of([]byte(`{"id":1,"nom":"Chantier A"}`)); again != a {
		t.Fatal("same body, different tag")
	}
	if _, err := etag.ParseTag(a.String()); err != nil {
		t.Fatalf("Of produced an unparsable tag %s: %v", a, err)
	}
	if strings.ContainsAny(a.Opaque(), "+/=") {
		t.Fatalf("Of is not base64url without padding: %s", a)
	}
	// Known answer: SHA-256 of the empty string.
	if got := etag.Of(nil).String(); got != `"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"` {
		t.Fatalf("Of(nil) = %s", got)
	}
}

func TestVersionTag(t *testing.T) {
	for _, v := range []int64{0, 1, 42, -7, math.MaxInt64, math.MinInt64} {
		tag := etag.VersionTag(v)
		if tag.IsWeak() {
			t.Fatalf("VersionTag(%d) is weak", v)
		}
		got, ok := tag.Version()
		if !ok || got != v {
			t.Fatalf("VersionTag(%d).Version() = %d, %v", v, got, ok)
		}
		if p := mustTag(t, tag.String()); p != tag {
			t.Fatalf("VersionTag(%d) does not round-trip through ParseTag", v)
		}
	}
	if got := etag.VersionTag(42).String(); got != `"v42"` {
		t.Fatalf("VersionTag(42) = %s", got)
	}
	for _, s := range []string{`W/"v1"`, `"v"`, `"1"`, `"v042"`, `"v+1"`, `"v-0"`, `"v-"`, `"v1.0"`, `"v 1"`,
		`"v99999999999999999999"`, `"x1"`, `""`} {
		tag, err := etag.ParseTag(s)
		if err != nil {
			continue
		}
		if v, ok := tag.Version(); ok {
			t.Errorf("%s.Version() = %d, true; want false", s, v)
		}
	}
}
