package etag

import (
	"errors"
	"net/http"
	"time"

	"github.com/hubchantier/hubchantier/problem"
)

// ErrNotModified is returned by [CheckPreconditions] for a GET or HEAD
// request whose If-None-Match or If-Modified-Since says the client's copy is
// current: answer with [WriteNotModified] instead of the representation.
var ErrNotModified = errors.New("etag: not modified")

// Result is the outcome of evaluating the preconditions of a request.
type Result int

const (
	// Proceed means every precondition holds (or none applies): perform the
	// method as if the request were unconditional.
	Proceed Result = iota
	// NotModified means a GET or HEAD must be answered 304 Not Modified
	// (RFC 9110 §15.4.5).
	NotModified
	// PreconditionFailed means the method must not be performed: answer 412
	// Precondition Failed (RFC 9110 §15.5.13).
	PreconditionFailed
)

// String returns the name of the result.
func (r Result) String() string {
	switch r {
	case Proceed:
		return "Proceed"
	case NotModified:
		return "NotModified"
	case PreconditionFailed:
		return "PreconditionFailed"
	}
	return "Result(?)"
}

// Canonical header keys (textproto.CanonicalMIMEHeaderKey), used to index
// http.Header directly without canonicalising on every request.
const (
	hdrETag              = "Etag"
	hdrLastModified      = "Last-Modified"
	hdrContentLength     = "Content-Length"
	hdrIfMatch           = "If-Match"
	hdrIfNoneMatch       = "If-None-Match"
	hdrIfModifiedSince   = "If-Modified-Since"
	hdrIfUnmodifiedSince = "If-Unmodified-Since"
)

// first returns the first value of a header given by its canonical key.
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// reason tells which condition decided a 412, for the problem detail.
type reason int

const (
	reasonNone reason = iota
	reasonIfMatch
	reasonIfMatchMissing
	reasonIfMatchMalformed
	reasonIfUnmodifiedSince
	reasonIfNoneMatch
	reasonIfNoneMatchAny
	reasonIfNoneMatchMalformed
)

var reasonText = [...]struct{ header, detail string }{
	reasonIfMatch: {"If-Match",
		"The entity tag in If-Match is not the current one: the resource was changed since you read it. Fetch it again and retry with its new ETag."},
	reasonIfMatchMissing: {"If-Match",
		"If-Match requires the resource to exist, and it does not."},
	reasonIfMatchMalformed: {"If-Match",
		`If-Match is not a valid entity-tag list (RFC 9110 §13.1.1), e.g. "v3" or W/"a", "b".`},
	reasonIfUnmodifiedSince: {"If-Unmodified-Since",
		"The resource was modified after the date given in If-Unmodified-Since."},
	reasonIfNoneMatch: {"If-None-Match",
		"If-None-Match lists the current entity tag of the resource."},
	reasonIfNoneMatchAny: {"If-None-Match",
		"If-None-Match: * requires the resource not to exist, and it does."},
	reasonIfNoneMatchMalformed: {"If-None-Match",
		`If-None-Match is not a valid entity-tag list (RFC 9110 §13.1.2), e.g. "v3" or *.`},
}

// Evaluate evaluates the conditional headers of r against the current state of
// the target resource, in the order of RFC 9110 §13.2.2:
//
//  1. If-Match (strong comparison; "*" is true when the resource exists);
//     when false → PreconditionFailed.
//  2. Only without If-Match: If-Unmodified-Since; when the resource was
//     modified after the date → PreconditionFailed.
//  3. If-None-Match (weak comparison; "*" matches when the resource exists);
//     when it matches → NotModified for GET/HEAD, PreconditionFailed otherwise.
//  4. Only without If-None-Match, for GET/HEAD: If-Modified-Since; when the
//     resource was not modified after the date → NotModified.
//
// current is the entity tag the resource would have in a response now (zero
// if it has none), lastModified its modification time (zero if unknown; HTTP
// dates have one-second resolution, so it is compared truncated to seconds),
// exists whether it has a current representation.
//
// Per RFC 9110, an If-Modified-Since or If-Unmodified-Since that is not one
// valid HTTP-date is ignored, as are dates when lastModified is zero. An
// unparsable If-Match never matches (the write is refused); an unparsable
// If-None-Match is ignored for GET/HEAD (a full 200 is always safe) and fails
// other methods (a guard the client asked for cannot be shown to hold).
// CONNECT, OPTIONS and TRACE ignore preconditions (RFC 9110 §13.2.1).
//
// Call Evaluate only when the request would otherwise succeed: a 404 or 403
// that does not depend on the preconditions takes precedence (RFC 9110 §13.2.1).
func Evaluate(r *http.Request, current Tag, lastModified time.Time, exists bool) Result {
	res, _ := evaluate(r, current, lastModified, exists)
	return res
}

// CheckPreconditions evaluates the preconditions of a request, as [Evaluate],
// and returns nil when the method may be performed. Otherwise it returns
// either [ErrNotModified] (GET or HEAD only) or RFC 9457 problem details for
// 412 Precondition Failed (a *problem.Details, found with problem.As), ready
// for problem.Write. For methods other than GET and HEAD a non-nil error is
// always the 412 problem.
//
//	cur, err := store.Get(ctx, id)
//	...
//	if err := etag.CheckPreconditions(r, etag.VersionTag(cur.Version), cur.UpdatedAt, true); err != nil {
//		if d, ok := problem.As(err); ok {
//			problem.Write(w, r, d) // 412
//			return
//		}
//		etag.WriteNotModified(w, etag.VersionTag(cur.Version)) // 304, GET/HEAD only
//		return
//	}
//	// then UPDATE ... WHERE id = ? AND version = cur.Version, and answer 412
//	// (FailedProblem) when no row was updated.
func CheckPreconditions(r *http.Request, current Tag, lastModified time.Time, exists bool) error {
	res, why := evaluate(r, current, lastModified, exists)
	switch res {
	case NotModified:
		return ErrNotModified
	case PreconditionFailed:
		return failed(why)
	}
	return nil
}

// FailedProblem returns the 412 Precondition Failed problem details used by
// this package (type "precondition-failed"). Use it as well when a
// conditional write finds that the row changed between the check and the
// write (UPDATE ... WHERE version = ? touched no row).
func FailedProblem(detail string) *problem.Details {
	return problem.New(http.StatusPreconditionFailed, "precondition-failed", detail)
}

// RequiredProblem returns the 428 Precondition Required problem details
// (RFC 6585 §3) used by [RequirePrecondition] (type "precondition-required").
func RequiredProblem(detail string) *problem.Details {
	return problem.New(http.StatusPreconditionRequired, "precondition-required", detail)
}

func failed(why reason) *problem.Details {
	txt := reasonText[why]
	return FailedProblem(txt.detail).With("precondition", txt.header)
}

// WriteNotModified answers 304 Not Modified on w. It sets the ETag header to
// current (unless zero) and keeps the other headers already set on w —
// Cache-Control, Content-Location, Date, Expires, Vary — as RFC 9110 §15.4.5
// requires, while removing the representation metadata a 304 should not carry
// (Content-Type, Content-Length, Content-Encoding, Content-Language,
// Content-Range, and Last-Modified when an ETag is present).
func WriteNotModified(w http.ResponseWriter, current Tag) {
	h := w.Header()
	if !current.IsZero() && first(h, hdrETag) != current.String() {
		h[hdrETag] = []string{current.String()}
	}
	stripFor304(h)
	w.WriteHeader(http.StatusNotModified)
}

func stripFor304(h http.Header) {
	for _, k := range [...]string{"Content-Type", "Content-Length", "Content-Encoding",
		"Content-Language", "Content-Range", "Transfer-Encoding", "Trailer"} {
		delete(h, k)
	}
	if first(h, hdrETag) != "" {
		delete(h, "Last-Modified")
	}
}

// RequirePrecondition is per-route middleware that refuses state-changing
// requests (any method but GET, HEAD, OPTIONS, TRACE and CONNECT) carrying
// none of If-Match, If-None-Match or If-Unmodified-Since, with 428
// Precondition Required (RFC 6585 §3). It protects a route against clients
// that would overwrite changes they never saw; whether the precondition holds
// is then checked by the handler with [CheckPreconditions]. Routes are
// unconditional unless wrapped, so existing clients keep working.
func RequirePrecondition(next http.Handler) http.Handler {
	if next == nil {
		panic("etag: RequirePrecondition: nil handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isSafe(r.Method) && !hasPrecondition(r.Header) {
			problem.Write(w, r, RequiredProblem(
				"This request must be conditional: send If-Match with the ETag you received when you read the resource."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hasPrecondition(h http.Header) bool {
	for _, k := range [...]string{hdrIfMatch, hdrIfNoneMatch, hdrIfUnmodifiedSince} {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

func isSafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodConnect:
		return true
	}
	return false
}

func evaluate(r *http.Request, current Tag, lastModified time.Time, exists bool) (Result, reason) {
	switch r.Method {
	case http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return Proceed, reasonNone
	}
	h := r.Header
	getOrHead := r.Method == http.MethodGet || r.Method == http.MethodHead
	var lm time.Time
	if !lastModified.IsZero() {
		lm = lastModified.Truncate(time.Second)
	}

	// Steps 1 and 2: If-Match, else If-Unmodified-Since.
	if v := h[hdrIfMatch]; len(v) > 0 {
		if why := ifMatch(joinValues(v), current, exists); why != reasonNone {
			return PreconditionFailed, why
		}
	} else if exists && !lm.IsZero() {
		if d, ok := singleDate(h, hdrIfUnmodifiedSince); ok && lm.After(d) {
			return PreconditionFailed, reasonIfUnmodifiedSince
		}
	}

	// Step 3: If-None-Match, which makes If-Modified-Since irrelevant.
	if v := h[hdrIfNoneMatch]; len(v) > 0 {
		why := ifNoneMatch(joinValues(v), current, exists)
		switch {
		case why == reasonNone:
			return Proceed, reasonNone
		case getOrHead && why == reasonIfNoneMatchMalformed:
			return Proceed, reasonNone
		case getOrHead:
			return NotModified, reasonNone
		default:
			return PreconditionFailed, why
		}
	}

	// Step 4: If-Modified-Since, GET and HEAD only.
	if getOrHead && exists && !lm.IsZero() {
		if d, ok := singleDate(h, hdrIfModifiedSince); ok && !lm.After(d) {
			return NotModified, reasonNone
		}
	}
	return Proceed, reasonNone
}

// ifMatch returns reasonNone when the If-Match condition is true.
func ifMatch(v string, current Tag, exists bool) reason {
	matched := false
	err := scanList(v, func(t Tag) bool {
		matched = StrongMatch(t, current)
		return matched
	})
	switch {
	case err != nil && !errors.Is(err, errAny):
		return reasonIfMatchMalformed
	case !exists:
		return reasonIfMatchMissing
	case err != nil || matched: // "*" or a strong match
		return reasonNone
	}
	return reasonIfMatch
}

// ifNoneMatch returns reasonNone when the If-None-Match condition is true
// (no listed tag matches), otherwise why it is false.
func ifNoneMatch(v string, current Tag, exists bool) reason {
	matched := false
	err := scanList(v, func(t Tag) bool {
		matched = WeakMatch(t, current)
		return matched
	})
	switch {
	case errors.Is(err, errAny):
		if exists {
			return reasonIfNoneMatchAny
		}
		return reasonNone
	case err != nil:
		return reasonIfNoneMatchMalformed
	case matched && exists:
		return reasonIfNoneMatch
	}
	return reasonNone
}

// singleDate returns the value of a date header when it is present exactly
// once and is a valid HTTP-date (RFC 9110 §5.6.7); otherwise the header must
// be ignored (RFC 9110 §13.1.3, §13.1.4).
func singleDate(h http.Header, name string) (time.Time, bool) {
	v := h[name]
	if len(v) != 1 {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v[0])
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
