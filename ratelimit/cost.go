package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hubchantier/hubchantier/problem"
)

// ErrLimited is wrapped by the *LimitError of a request over quota (429).
var ErrLimited = errors.New("ratelimit: quota exceeded")

// ErrUnavailable is wrapped by the *LimitError of a request whose quota could
// not be checked with Config.FailClosed set (503).
var ErrUnavailable = errors.New("ratelimit: quota store unavailable")

// LimitError is a refused charge. It wraps ErrLimited or ErrUnavailable and
// the problem details to answer with, so that both errors.Is(err,
// ratelimit.ErrLimited) and problem.As(err) work. The response fields
// (Retry-After, RateLimit, X-RateLimit-*) are already set on the response.
type LimitError struct {
	// Problem is the RFC 9457 answer: status 429 with the
	// "violated-policies" member, or 503.
	Problem *problem.Details
	// RetryAfter is the wait announced in Retry-After (zero for 503).
	RetryAfter time.Duration
	err        error
}

func (e *LimitError) Error() string { return e.err.Error() + ": " + e.Problem.Detail }

// Unwrap returns the sentinel error and the problem details.
func (e *LimitError) Unwrap() []error { return []error{e.err, e.Problem} }

type costKey struct{}

type meterKey struct{}

// WithCost returns a context in which the Middleware charges n units for the
// request instead of 1 or Config.Cost's (values below 1 count as 1, values
// above MaxLimit as MaxLimit). An outer middleware that knows the cost
// before the request is limited sets it:
//
//	next.ServeHTTP(w, r.WithContext(ratelimit.WithCost(r.Context(), 5)))
func WithCost(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, costKey{}, n)
}

// CostFunc returns the units a request costs (see Config.Cost). Values
// below 1 count as 1, values above MaxLimit as MaxLimit.
type CostFunc func(r *http.Request) int64

// costOf returns the cost set with WithCost, and whether one was set.
func costOf(ctx context.Context) (int64, bool) {
	n, ok := ctx.Value(costKey{}).(int64)
	return clampCost(n), ok
}

func clampCost(n int64) int64 { return min(max(n, 1), MaxLimit) }

// SetCost raises the cost of the request being served to n units in all,
// charging the difference with what it was already charged (1 unit, or
// WithCost's). Handlers call it, with the request's context, once they know
// what the request will cost and before doing the work: the batch endpoint
// with its number of operations, GraphQL with the query's complexity.
//
// When the extra units do not fit in the quota they are not kept, the
// request keeps its first charge, and SetCost returns a *LimitError whose
// Problem the handler answers with (the response fields are already set):
//
//	if err := ratelimit.SetCost(r.Context(), int64(len(ops))); err != nil {
//		d, _ := problem.As(err)
//		problem.Write(w, r, d)
//		return
//	}
//
// SetCost returns nil when n is not above the current cost, when the request
// is not limited, and when the store fails and the Limiter fails open. Costs
// above MaxLimit count as MaxLimit (and exceed every quota). Call it before
// writing the response, or the updated fields are lost.
func SetCost(ctx context.Context, n int64) error {
	m, _ := ctx.Value(meterKey{}).(*meter)
	if m == nil {
		return nil
	}
	n = min(n, MaxLimit)
	m.mu.Lock()
	defer m.mu.Unlock()
	if n <= m.cost {
		return nil
	}
	if err := m.charge(ctx, n-m.cost); err != nil {
		return err
	}
	m.cost = n
	return nil
}
