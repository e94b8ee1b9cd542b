package cache

import (
	"net/http"
	"strings"
)

// directives are the Cache-Control directives this cache acts on
// (RFC 9111 §5.2).
type directives struct {
	noCache bool  // request: use no stored response; response: do not store
	noStore bool  // request: neither use nor store; response: do not store
	private bool  // response: do not store
	maxAge  int64 // request: oldest acceptable stored response in seconds; -1 when absent
}

// maxDeltaSeconds is the value a delta-seconds too large to represent is
// taken as (RFC 9111 §1.2.2).
const maxDeltaSeconds = 2147483648

// parseCacheControl parses Cache-Control field values. It never fails:
// unknown directives and malformed values are ignored, and a qualified
// no-cache="field" or private="field" counts as unqualified, which is the
// cautious reading for a cache that stores whole responses.
func parseCacheControl(values []string) directives {
	d := directives{maxAge: -1}
	for _, v := range values {
		for len(v) > 0 {
			var name, arg string
			name, arg, v = nextDirective(v)
			switch {
			case strings.EqualFold(name, "no-cache"):
				d.noCache = true
			case strings.EqualFold(name, "no-store"):
				d.noStore = true
			case strings.EqualFold(name, "private"):
				d.private = true
			case strings.EqualFold(name, "max-age"):
				if n, ok := parseDeltaSeconds(arg); ok {
					d.maxAge = n
				}
			}
		}
	}
	return d
}

// requestDirectives reads the request's Cache-Control, falling back to
// Pragma: no-cache when Cache-Control is absent (RFC 9111 §5.4).
func requestDirectives(h http.Header) directives {
	cc := h.Values("Cache-Control")
	if len(cc) == 0 {
		d := directives{maxAge: -1}
		for _, p := range h.Values("Pragma") {
			for len(p) > 0 {
				var name string
				name, _, p = nextDirective(p)
				if strings.EqualFold(name, "no-cache") {
					d.noCache = true
				}
			}
		}
		return d
	}
	d := parseCacheControl(cc)
	if d.maxAge == 0 {
		d.noCache = true
	}
	return d
}

// nextDirective splits the first directive off a comma-separated list:
// token [ "=" ( token / quoted-string ) ].
func nextDirective(s string) (name, arg, rest string) {
	s = trimOWS(s)
	i := 0
	for i < len(s) && s[i] != ',' && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
		i++
	}
	name, s = s[:i], trimOWS(s[i:])
	if len(s) > 0 && s[0] == '=' {
		s = trimOWS(s[1:])
		if len(s) > 0 && s[0] == '"' {
			var b strings.Builder
			j := 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			arg = b.String()
			s = s[min(j+1, len(s)):]
		} else {
			j := 0
			for j < len(s) && s[j] != ',' && s[j] != ' ' && s[j] != '\t' {
				j++
			}
			arg, s = s[:j], s[j:]
		}
	}
	// Skip anything malformed up to the next comma.
	if k := strings.IndexByte(s, ','); k >= 0 {
		return name, arg, s[k+1:]
	}
	return name, arg, ""
}

// parseDeltaSeconds parses 1*DIGIT; values too large saturate.
func parseDeltaSeconds(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDeltaSeconds {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDeltaSeconds), true
}

// varyCovered reports whether a response Vary contributed by the handler
// names only request fields the key includes: the route's Vary list, and
// Authorization, which VaryFunc stands for. Vary: * is never covered.
func varyCovered(values []string, rt *route) bool {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			f = trimOWS(f)
			if f == "" {
				continue
			}
			if f == "*" {
				return false
			}
			f = http.CanonicalHeaderKey(f)
			if f == "Authorization" {
				continue
			}
			found := false
			for _, x := range rt.vary {
				if x == f {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}
