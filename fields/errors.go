package fields

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hubchantier/hubchantier/problem"
)

// Kinds of parse errors; test them with errors.Is.
var (
	ErrSyntax       = errors.New("fields: syntax error")
	ErrTooLong      = errors.New("fields: expression too long")
	ErrTooMany      = errors.New("fields: too many field names")
	ErrTooDeep      = errors.New("fields: fields nested too deep")
	ErrNotNested    = errors.New("fields: field has no sub-fields")
	ErrUnknownField = errors.New("fields: unknown field")
	ErrRepeated     = errors.New("fields: parameter repeated")
)

// ParseError reports a malformed or oversized fields expression.
type ParseError struct {
	Offset int    // byte offset in the expression where the problem lies
	Reason string // what is wrong, for humans
	Err    error  // ErrSyntax, ErrTooLong, ErrTooMany, ErrTooDeep, ErrNotNested or ErrRepeated
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("fields: at byte %d: %s", e.Offset, e.Reason)
}

// Unwrap returns the kind of error.
func (e *ParseError) Unwrap() error { return e.Err }

// UnknownFieldError reports a name the schema does not declare at that level.
// Undeclared sensitive members (password_hash, ...) get this same error, so
// a client cannot tell them apart from names that do not exist.
type UnknownFieldError struct {
	Offset     int      // byte offset of the name in the expression
	Path       string   // dotted path of the name, e.g. "responsable.nmo"
	Name       string   // the unknown name itself
	Allowed    []string // the names declared at that level, in declaration order
	Suggestion string   // the closest allowed name, or "" when none is close
}

func (e *UnknownFieldError) Error() string {
	msg := fmt.Sprintf("fields: at byte %d: unknown field %q", e.Offset, e.Path)
	if e.Suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", e.Suggestion)
	}
	return msg
}

// Unwrap returns ErrUnknownField.
func (e *UnknownFieldError) Unwrap() error { return ErrUnknownField }

// Problem type codes (the last segment of the problem type URI).
const (
	ProblemInvalid = "invalid-fields" // malformed, too long, too deep, too many
	ProblemUnknown = "unknown-field"  // a name outside the whitelist
)

// Problem converts an error of this package into RFC 9457 problem details:
// a *ParseError becomes 400 "invalid-fields" with an "offset" member; an
// *UnknownFieldError becomes 400 "unknown-field" with "field", "offset",
// "allowed" and, when one is close, "suggestion" members. Both carry an
// errors[] entry for the "fields" parameter. Any other non-nil error (a
// response that cannot be encoded) becomes a 500 whose detail reveals
// nothing. Problem returns nil for a nil error.
//
//	sel, err := fields.ParseRequest(r, schema)
//	if err != nil {
//		problem.Write(w, r, fields.Problem(err))
//		return
//	}
func Problem(err error) *problem.Details {
	if err == nil {
		return nil
	}
	var unknown *UnknownFieldError
	if errors.As(err, &unknown) {
		detail := fmt.Sprintf("Unknown field %q at byte %d of the fields parameter.", unknown.Path, unknown.Offset)
		if unknown.Suggestion != "" {
			detail += fmt.Sprintf(" Did you mean %q?", unknown.Suggestion)
		}
		d := problem.New(http.StatusBadRequest, ProblemUnknown, detail).
			With("field", unknown.Path).
			With("offset", unknown.Offset).
			With("allowed", unknown.Allowed)
		if unknown.Suggestion != "" {
			d.With("suggestion", unknown.Suggestion)
		}
		d.Errors = []problem.FieldError{{Field: "fields", Message: detail}}
		return d
	}
	var perr *ParseError
	if errors.As(err, &perr) {
		detail := fmt.Sprintf("Invalid fields parameter at byte %d: %s.", perr.Offset, perr.Reason)
		d := problem.New(http.StatusBadRequest, ProblemInvalid, detail).With("offset", perr.Offset)
		d.Errors = []problem.FieldError{{Field: "fields", Message: detail}}
		return d
	}
	return problem.New(http.StatusInternalServerError, "internal", "The response could not be produced.")
}

// closest returns the candidate nearest to name by optimal string alignment
// distance (insertions, deletions, substitutions, adjacent transpositions),
// provided it is close enough to be a likely typo: at most 2 edits, and at
// most a third of the longer word. Ties go to the first candidate.
func closest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		diff := len(c) - len(name)
		if diff < -2 || diff > 2 {
			continue
		}
		d := osaDistance(name, c)
		if d < bestD && 3*d <= max(len(name), len(c)) {
			best, bestD = c, d
		}
	}
	return best
}

// osaDistance is the optimal string alignment distance between a and b,
// computed on bytes (names are ASCII).
func osaDistance(a, b string) int {
	// Three rolling rows: i-2, i-1, i.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
