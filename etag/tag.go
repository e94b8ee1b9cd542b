package etag

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
)

// ErrMalformed reports an entity-tag or entity-tag list that does not follow
// the grammar of RFC 9110 §8.8.3 and §13.1.1.
var ErrMalformed = errors.New("etag: malformed entity-tag")

// Tag is an entity tag (RFC 9110 §8.8.3): an opaque validator, strong or weak.
//
// The zero Tag means "no entity tag". A Tag is comparable with ==, which is
// the same as byte-for-byte equality of the header forms; use [StrongMatch] or
// [WeakMatch] for the comparison functions of RFC 9110 §8.8.3.2.
type Tag struct {
	// s is the field value form: "opaque" or W/"opaque" (quotes included).
	s string
}

// NewTag returns the entity tag with the given opaque value (without quotes).
// It fails with [ErrMalformed] when opaque holds a character not allowed by
// RFC 9110 §8.8.3 (etagc = %x21 / %x23-7E / %x80-FF: no space, no double
// quote, no control character).
func NewTag(opaque string, weak bool) (Tag, error) {
	for i := 0; i < len(opaque); i++ {
		if !isEtagc(opaque[i]) {
			return Tag{}, ErrMalformed
		}
	}
	if weak {
		return Tag{s: `W/"` + opaque + `"`}, nil
	}
	return Tag{s: `"` + opaque + `"`}, nil
}

// ParseTag parses one entity-tag such as "xyzzy" or W/"xyzzy" (quotes
// included), as found in an ETag response header. Surrounding optional
// whitespace is allowed; anything else that does not follow the grammar is
// [ErrMalformed].
func ParseTag(s string) (Tag, error) {
	s = trimOWS(s)
	t, n, ok := scanTag(s)
	if !ok || n != len(s) {
		return Tag{}, ErrMalformed
	}
	return t, nil
}

// Of returns a strong entity tag for a representation's bytes: the SHA-256
// digest of b, base64url-encoded without padding (43 characters).
//
// SHA-256 is collision resistant, so a client can never revalidate a cached
// representation against a different one that happens to share its tag, even
// when part of the content is attacker controlled; it is in the standard
// library and hardware accelerated on amd64 and arm64.
func Of(b []byte) Tag {
	sum := sha256.Sum256(b)
	var buf [2 + 43]byte
	buf[0] = '"'
	base64.RawURLEncoding.Encode(buf[1:44], sum[:])
	buf[44] = '"'
	return Tag{s: string(buf[:])}
}

// VersionTag returns the strong entity tag of a resource version, "v<version>"
// (for example "v42"). Use it when a stored row carries a version number that
// changes on every write: the tag then costs nothing to compute and maps back
// to the version with [Tag.Version] for a conditional UPDATE.
func VersionTag(version int64) Tag {
	var buf [24]byte
	b := append(buf[:0], '"', 'v')
	b = strconv.AppendInt(b, version, 10)
	b = append(b, '"')
	return Tag{s: string(b)}
}

// Version returns the version of a strong tag made by [VersionTag]. It
// reports false for weak tags and for any other opaque value, including
// non-canonical spellings such as "v042" or "v+1".
func (t Tag) Version() (int64, bool) {
	if t.IsWeak() {
		return 0, false
	}
	o := t.Opaque()
	if len(o) < 2 || o[0] != 'v' {
		return 0, false
	}
	d := o[1:]
	if d[0] == '+' || (d[0] == '0' && len(d) > 1) || (d[0] == '-' && (len(d) == 1 || d[1] == '0')) {
		return 0, false
	}
	v, err := strconv.ParseInt(d, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// String returns the field value form of the tag, "opaque" or W/"opaque",
// ready for an ETag header. It is "" for the zero Tag.
func (t Tag) String() string { return t.s }

// Opaque returns the opaque value of the tag, without W/ and quotes.
func (t Tag) Opaque() string {
	switch {
	case t.s == "":
		return ""
	case t.s[0] == 'W':
		return t.s[3 : len(t.s)-1]
	default:
		return t.s[1 : len(t.s)-1]
	}
}

// IsWeak reports whether the tag is a weak validator (W/ prefix).
func (t Tag) IsWeak() bool { return t.s != "" && t.s[0] == 'W' }

// IsZero reports whether t is the zero Tag (no entity tag).
func (t Tag) IsZero() bool { return t.s == "" }

// StrongMatch reports whether a and b match under the strong comparison of
// RFC 9110 §8.8.3.2: neither is weak and their opaque values are identical.
// It is the comparison used by If-Match.
func StrongMatch(a, b Tag) bool {
	return a.s != "" && a.s[0] == '"' && a.s == b.s
}

// WeakMatch reports whether a and b match under the weak comparison of RFC
// 9110 §8.8.3.2: their opaque values are identical, whether or not either is
// weak. It is the comparison used by If-None-Match.
func WeakMatch(a, b Tag) bool {
	return a.s != "" && b.s != "" && a.Opaque() == b.Opaque()
}

// isEtagc reports whether c may appear inside an opaque-tag.
func isEtagc(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80
}

// scanTag reads one entity-tag at the start of s and returns it with the
// number of bytes consumed.
func scanTag(s string) (Tag, int, bool) {
	i := 0
	if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
		i = 2
	}
	if i >= len(s) || s[i] != '"' {
		return Tag{}, 0, false
	}
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if c == '"' {
			return Tag{s: s[:j+1]}, j + 1, true
		}
		if !isEtagc(c) {
			return Tag{}, 0, false
		}
	}
	return Tag{}, 0, false
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}
