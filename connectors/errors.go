package connectors

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a failed vendor call: whether and when to try again.
type Kind string

// Kinds of failure.
const (
	// KindRateLimited: the vendor answered 429 (RetryAfter when it said).
	KindRateLimited Kind = "rate_limited"
	// KindUnavailable: 5xx, connection refused or reset.
	KindUnavailable Kind = "unavailable"
	// KindTimeout: no answer within the call timeout (a hang).
	KindTimeout Kind = "timeout"
	// KindMalformed: an answer that does not parse.
	KindMalformed Kind = "malformed"
	// KindAuth: credentials refused (401, 403): retrying does not help.
	KindAuth Kind = "auth"
	// KindRejected: another 4xx: retrying does not help.
	KindRejected Kind = "rejected"
	// KindPanic: the connector panicked.
	KindPanic Kind = "panic"
	// KindCircuitOpen: the connector's circuit breaker is open.
	KindCircuitOpen Kind = "circuit_open"
)

// Error is a failed connector call. Its text never holds configuration
// values: connectors build it from statuses and their own words, and the
// Runner redacts the configuration's secrets from it.
type Error struct {
	Kind Kind
	// Status is the vendor's HTTP status (0 when none).
	Status int
	// RetryAfter is the delay the vendor asked for (429, 503).
	RetryAfter time.Duration
	Msg        string
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("connectors: %s (HTTP %d): %s", e.Kind, e.Status, e.Msg)
	}
	return fmt.Sprintf("connectors: %s: %s", e.Kind, e.Msg)
}

// Temporary reports whether trying again later may succeed.
func (e *Error) Temporary() bool {
	switch e.Kind {
	case KindAuth, KindRejected:
		return false
	}
	return true
}

// AsError returns err's *Error, or one of kind KindUnavailable wrapping its
// text (an error a connector did not classify counts as temporary).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindUnavailable, Msg: err.Error()}
}

// Temporary reports whether err (from a connector) may succeed later.
func Temporary(err error) bool { return AsError(err).Temporary() }
