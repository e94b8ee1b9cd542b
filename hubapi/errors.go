package hubapi

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error kinds returned by services. Adapters map them to status codes:
// ErrNotFound → 404, ErrConflict → 409, ErrInvalid → 422, ErrForbidden → 403,
// ErrUnauthenticated → 401, ErrPrecondition → 412, ErrTooLarge → 413,
// ErrUnavailable → 503.
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrInvalid         = errors.New("invalid input")
	ErrForbidden       = errors.New("forbidden")
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPrecondition means the resource changed since the version the
	// caller based its write on (optimistic concurrency).
	ErrPrecondition = errors.New("precondition failed")
	// ErrTooLarge means a content exceeds its size limit.
	ErrTooLarge = errors.New("content too large")
	// ErrUnavailable means the database could not serve the request now:
	// unreachable, out of connections, shutting down, or a statement that
	// ran past the statement timeout (waiting for a lock included). The
	// caller may retry later.
	ErrUnavailable = errors.New("service unavailable")
	// ErrKeys means sealed data (a connector's configuration) does not
	// open with the server's keys: the operator must configure the key
	// that sealed it. Adapters answer 503 with the message (which names
	// the key id, never key material or content).
	ErrKeys = errors.New("sealed data does not open with the configured keys")
)

// ValidationError lists invalid fields. It wraps ErrInvalid.
type ValidationError struct {
	Fields map[string]string // field name → message
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// validator accumulates field errors.
type validator struct{ fields map[string]string }

func (v *validator) add(field, format string, args ...any) {
	if v.fields == nil {
		v.fields = map[string]string{}
	}
	if _, ok := v.fields[field]; !ok {
		v.fields[field] = fmt.Sprintf(format, args...)
	}
}

func (v *validator) check(ok bool, field, format string, args ...any) {
	if !ok {
		v.add(field, format, args...)
	}
}

func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.fields}
}

// Errorf wraps a kind (ErrNotFound, ...) with a message for the client.
func Errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
