package client

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Deprecation tells that the server deprecated what a request used: the
// Deprecation (RFC 9745) and Sunset (RFC 8594) headers of its answer.
type Deprecation struct {
	// Method and Path are the request's (without its query).
	Method, Path string
	// Since is when the API was deprecated (zero if the header did not
	// say); Sunset when the server stops serving it (zero if unknown).
	Since, Sunset time.Time
	// Link is the target of the answer's Link rel="deprecation" (the
	// migration guide), as sent.
	Link string
}

// WithOnDeprecation calls fn when an answer says that the API version
// the request used is deprecated, once per API version (/api/v1, ...) for
// the client's lifetime: a log line or a metric that tells the integrator
// to migrate before the sunset.
func WithOnDeprecation(fn func(Deprecation)) Option {
	return func(c *Client) error {
		c.onDeprecation = fn
		return nil
	}
}

// deprecationNotes remembers the API versions already reported.
type deprecationNotes struct {
	mu   sync.Mutex
	seen map[string]bool
}

// note reports d unless its API version was reported already.
func (n *deprecationNotes) note(d Deprecation, fn func(Deprecation)) {
	key := apiVersionOf(d.Path)
	n.mu.Lock()
	if n.seen == nil {
		n.seen = map[string]bool{}
	}
	first := !n.seen[key]
	n.seen[key] = true
	n.mu.Unlock()
	if first {
		fn(d)
	}
}

// apiVersionOf returns the /api/vN prefix of path, or path itself.
func apiVersionOf(path string) string {
	if rest, ok := strings.CutPrefix(path, "/api/"); ok {
		v, _, _ := strings.Cut(rest, "/")
		return "/api/" + v
	}
	return path
}

// deprecationOf reads the deprecation headers of an answer.
func deprecationOf(method, path string, h http.Header) (Deprecation, bool) {
	dep, sunset := h.Get("Deprecation"), h.Get("Sunset")
	if dep == "" {
		return Deprecation{}, false
	}
	d := Deprecation{Method: method, Path: path}
	if s, ok := strings.CutPrefix(strings.TrimSpace(dep), "@"); ok {
		if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
			d.Since = time.Unix(sec, 0).UTC()
		}
	}
	if t, err := http.ParseTime(sunset); err == nil {
		d.Sunset = t.UTC()
	}
	if l := linkTargets(h.Values("Link"), "deprecation"); len(l) > 0 {
		d.Link = l[0]
	}
	return d, true
}
