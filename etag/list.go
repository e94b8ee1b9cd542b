package etag

import (
	"errors"
	"net/http"
	"strings"
)

// List is the parsed value of an If-Match or If-None-Match header
// (RFC 9110 §13.1.1, §13.1.2): either "*" (Any) or a list of entity tags.
type List struct {
	// Any is true for the field value "*": any current representation.
	Any bool
	// Tags are the listed entity tags in order. Empty list elements are
	// dropped (RFC 9110 §5.6.1.2); an empty header yields no tags.
	Tags []Tag
}

// ParseList parses an If-Match or If-None-Match field value:
//
//	If-Match = "*" / #entity-tag      e.g.  "xyzzy", W/"r2d2xxxx", "c3piozzzz"
//
// Optional whitespace around commas and empty list elements are accepted.
// Anything else — an unquoted tag, a lowercase w/, a space inside the quotes,
// "*" mixed with tags — is [ErrMalformed]. ParseList never panics and runs in
// time linear in len(s).
func ParseList(s string) (List, error) {
	var l List
	err := scanList(s, func(t Tag) bool {
		l.Tags = append(l.Tags, t)
		return false
	})
	switch {
	case errors.Is(err, errAny):
		return List{Any: true}, nil
	case err != nil:
		return List{}, err
	}
	return l, nil
}

// String returns the list in field value form, e.g. `"a", W/"b"` or `*`.
func (l List) String() string {
	if l.Any {
		return "*"
	}
	var b strings.Builder
	for i, t := range l.Tags {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.String())
	}
	return b.String()
}

// IfMatch returns the parsed If-Match header of r. present is false when the
// request has no If-Match header; several header lines are combined as one
// list (RFC 9110 §5.3).
func IfMatch(r *http.Request) (l List, present bool, err error) {
	return headerList(r.Header, hdrIfMatch)
}

// IfNoneMatch returns the parsed If-None-Match header of r, like [IfMatch].
func IfNoneMatch(r *http.Request) (l List, present bool, err error) {
	return headerList(r.Header, hdrIfNoneMatch)
}

// IfMatchVersion returns the version the client last saw when its If-Match
// header is exactly one strong tag made by [VersionTag] — the usual case of a
// client echoing the ETag it received. The version can go straight into a
// conditional write (UPDATE ... WHERE id = ? AND version = ?). ok is false for
// an absent or malformed header, "*", a list of several tags, or a tag that is
// not a version tag; evaluate such requests with [CheckPreconditions].
func IfMatchVersion(r *http.Request) (version int64, ok bool) {
	v := r.Header[hdrIfMatch]
	if len(v) != 1 {
		return 0, false
	}
	t, err := ParseTag(v[0])
	if err != nil {
		return 0, false
	}
	return t.Version()
}

func headerList(h http.Header, name string) (List, bool, error) {
	v := h[name]
	if len(v) == 0 {
		return List{}, false, nil
	}
	l, err := ParseList(joinValues(v))
	return l, true, err
}

// joinValues combines several field lines into one list value.
func joinValues(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return strings.Join(v, ",")
}

// errAny is returned by scanList for the field value "*".
var errAny = errors.New("etag: any")

// scanList walks the entity tags of an If-Match/If-None-Match field value,
// calling yield for each until yield returns true. It returns errAny for "*",
// ErrMalformed for a value outside the grammar, and nil otherwise. Nothing is
// allocated: the tags passed to yield are substrings of s.
func scanList(s string, yield func(Tag) bool) error {
	if trimOWS(s) == "*" {
		return errAny
	}
	// First pass validates the whole value so that a malformed header is
	// rejected as a whole, never half-evaluated.
	if !walkList(s, nil) {
		return ErrMalformed
	}
	walkList(s, yield)
	return nil
}

// walkList parses  #entity-tag = [ entity-tag ] *( OWS "," OWS [ entity-tag ] ).
// With a nil yield it only validates.
func walkList(s string, yield func(Tag) bool) bool {
	i := 0
	for {
		for i < len(s) && isOWS(s[i]) {
			i++
		}
		if i == len(s) {
			return true
		}
		if s[i] != ',' {
			t, n, ok := scanTag(s[i:])
			if !ok {
				return false
			}
			i += n
			if yield != nil && yield(t) {
				return true
			}
			for i < len(s) && isOWS(s[i]) {
				i++
			}
			if i == len(s) {
				return true
			}
			if s[i] != ',' {
				return false
			}
		}
		i++ // the comma
	}
}
