package pagination

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/hubchantier/hubchantier/problem"
)

// ErrInvalidCursor matches every cursor decoding failure:
// errors.Is(err, ErrInvalidCursor).
var ErrInvalidCursor = errors.New("pagination: invalid cursor")

// CursorErrorReason tells operators why a cursor was rejected. It is meant
// for server-side metrics and logs only; clients always get the same answer.
type CursorErrorReason string

// Reasons a cursor is rejected.
const (
	// ReasonMalformed: not base64url, wrong length or version, bad content.
	ReasonMalformed CursorErrorReason = "malformed"
	// ReasonUnauthenticated: no configured key opens it (tampered, truncated,
	// forged or sealed with a key that was rotated out).
	ReasonUnauthenticated CursorErrorReason = "unauthenticated"
	// ReasonExpired: older than the codec's TTL, or issued in the future.
	ReasonExpired CursorErrorReason = "expired"
	// ReasonOtherQuery: issued for another resource, filter set or sort.
	ReasonOtherQuery CursorErrorReason = "other-query"
)

// CursorError is the one error type [Codec.Decode] returns. Its message
// names the reason but never the cursor's content.
type CursorError struct {
	Reason CursorErrorReason
}

func cursorError(r CursorErrorReason) error { return &CursorError{Reason: r} }

func (e *CursorError) Error() string { return "pagination: invalid cursor (" + string(e.Reason) + ")" }

// Is makes every CursorError match [ErrInvalidCursor].
func (e *CursorError) Is(target error) bool { return target == ErrInvalidCursor }

// Problem type codes (the last segment of the problem "type" URI, see
// [problem.New]) used by [RequestError].
const (
	// ProblemInvalidCursor: the cursor alone was rejected.
	ProblemInvalidCursor = "invalid-cursor"
	// ProblemInvalidParameter: limit or sort is invalid (field errors in
	// "errors"; for sort, the "allowed" member lists the sortable fields).
	ProblemInvalidParameter = "invalid-parameter"
)

// Detail of the problem for a rejected cursor: the same text whatever the
// reason, so that clients learn nothing about the cursor format.
const (
	invalidCursorDetail  = "The cursor is invalid or has expired. Repeat the request without a cursor to start again from the first page."
	invalidCursorMessage = "is invalid or has expired"
)

// RequestError reports invalid pagination parameters. Problem is the RFC 9457
// response to send (status 400). The error unwraps to Problem, so
// problem.As(err) finds it, and to the [*CursorError] when the cursor was
// rejected, so errors.Is(err, ErrInvalidCursor) works.
//
// Adapters that report errors their own way (GraphQL, a CLI) read the
// invalid parameters and their messages from Problem.Errors, and the
// sortable fields from [Paginator.Allowed].
type RequestError struct {
	Problem *problem.Details
	cursor  error
}

// Error names the invalid parameters but quotes no client input, so that it
// can be logged.
func (e *RequestError) Error() string {
	var b strings.Builder
	b.WriteString("pagination: invalid request parameters")
	for i, f := range e.Problem.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(f.Field)
	}
	if e.cursor != nil {
		b.WriteString(" (")
		b.WriteString(e.cursor.Error())
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the problem details and, if any, the cursor error.
func (e *RequestError) Unwrap() []error {
	if e.cursor != nil {
		return []error{e.Problem, e.cursor}
	}
	return []error{e.Problem}
}

// Problem returns the RFC 9457 problem (400) to answer err with when err is
// a client error of this package: a [*RequestError], or a [*CursorError]
// from [Codec.Decode] (for callers that use the codec alone). For any other
// error (a database failure, ...) it returns false.
func Problem(err error) (*problem.Details, bool) {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Problem, true
	}
	if errors.Is(err, ErrInvalidCursor) {
		var errs requestErrors
		errs.cursor = err
		errs.add("cursor", invalidCursorMessage)
		return errs.problem(), true
	}
	return nil, false
}

// requestErrors collects parameter errors into one problem.
type requestErrors struct {
	fields  []problem.FieldError
	allowed []string
	cursor  error
}

func (r *requestErrors) add(field, msg string) {
	r.fields = append(r.fields, problem.FieldError{Field: field, Message: msg})
}

func (r *requestErrors) err() error {
	if len(r.fields) == 0 {
		return nil
	}
	return &RequestError{Problem: r.problem(), cursor: r.cursor}
}

func (r *requestErrors) problem() *problem.Details {
	var d *problem.Details
	if len(r.fields) == 1 && r.cursor != nil {
		d = problem.New(http.StatusBadRequest, ProblemInvalidCursor, invalidCursorDetail)
	} else {
		d = problem.New(http.StatusBadRequest, ProblemInvalidParameter, "Invalid pagination parameters.")
	}
	d.Errors = r.fields
	if r.allowed != nil {
		d.With("allowed", slices.Clone(r.allowed))
	}
	return d
}

// quote echoes a client-supplied token in an error message, bounded in length.
func quote(s string) string {
	const limit = 40
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "\uFFFD") + `"`
}
