package client

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrRetryBudgetExhausted is joined to the last error when the client's
// retry budget had no token left for another retry (errors.Is).
var ErrRetryBudgetExhausted = errors.New("hubchantier: retry budget exhausted")

// RetryPolicy says when and how long the client waits before sending a
// request again. Only 429 (Too Many Requests) and 503 (Service Unavailable)
// are retried, after the server's Retry-After (RFC 9110 §10.2.3) plus a
// random jitter, or after an exponential backoff with full jitter when the
// answer has no Retry-After.
//
// What is retried:
//   - GET, HEAD, PUT, DELETE and OPTIONS (idempotent, RFC 9110 §9.2.2);
//   - any request carrying If-Match or If-Unmodified-Since: replaying it
//     after a success would fail its precondition (412), never write twice;
//   - any request answered 429: the rate limiter refused it before it was
//     handled;
//   - never a POST or PATCH without precondition answered 503: it may have
//     been handled.
//
// Zero fields take the defaults.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included (default 4;
	// 1 turns retries off).
	MaxAttempts int
	// MaxWait is the longest wait the client accepts (default 30 s): a
	// Retry-After beyond it returns the error at once, with
	// Error.RetryAfter set, instead of blocking.
	MaxWait time.Duration
	// BaseDelay and MaxDelay bound the backoff when the answer has no
	// Retry-After (defaults 250 ms and 5 s).
	BaseDelay, MaxDelay time.Duration
	// Jitter is the random share added to a Retry-After, so that clients
	// told the same instant do not all come back together (default 0.2:
	// a wait of 1 s becomes 1 to 1.2 s; at least 0 to 100 ms).
	Jitter float64
	// Budget bounds retries across all the client's requests.
	Budget RetryBudget
}

// RetryBudget is a token bucket shared by all requests of a client (the
// retry throttling of gRPC and Finagle): each retry spends a token, each
// answer that is not 429/503 gives back Refill tokens, up to Tokens. When
// the server keeps refusing, retries stop quickly instead of multiplying
// the load.
type RetryBudget struct {
	// Tokens is the size of the bucket, full at start (default 10).
	Tokens float64
	// Refill is what each other answer gives back (default 0.1: one
	// retry per ten good answers in the long run).
	Refill float64
}

// RetryEvent describes a retry about to happen (WithOnRetry).
type RetryEvent struct {
	Method, Path string        // the request (path without query)
	Attempt      int           // the attempt that failed, from 1
	Status       int           // its status (429 or 503)
	Wait         time.Duration // the wait before the next attempt
	Err          *Error        // the problem the server answered
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 30 * time.Second
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 250 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 5 * time.Second
	}
	if p.Jitter <= 0 {
		p.Jitter = 0.2
	}
	if p.Budget.Tokens <= 0 {
		p.Budget.Tokens = 10
	}
	if p.Budget.Refill <= 0 {
		p.Budget.Refill = 0.1
	}
	return p
}

func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// replaySafe reports whether r may be sent again after an answer that does
// not say it was left unhandled.
func replaySafe(r *request) bool {
	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return r.header.Get("If-Match") != "" || r.header.Get("If-Unmodified-Since") != ""
}

// decide returns the wait before the next attempt, or false when the
// answer to attempt must be returned as it is.
func (p RetryPolicy) decide(r *request, res *response, attempt int) (time.Duration, bool) {
	if !retryableStatus(res.status) || attempt >= p.MaxAttempts {
		return 0, false
	}
	if res.status != http.StatusTooManyRequests && !replaySafe(r) {
		return 0, false
	}
	if ra, ok := parseRetryAfter(res.header.Get("Retry-After"), time.Now()); ok {
		if ra > p.MaxWait {
			return 0, false
		}
		jitter := max(time.Duration(float64(ra)*p.Jitter), 100*time.Millisecond)
		return ra + rand.N(jitter), true // #nosec G404 -- jitter, not a secret
	}
	backoff := p.BaseDelay << min(attempt-1, 20)
	if backoff <= 0 || backoff > p.MaxDelay {
		backoff = p.MaxDelay
	}
	return rand.N(backoff) + 1, true // #nosec G404 -- jitter, not a secret
}

// parseRetryAfter reads delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

type retryBudget struct {
	mu             sync.Mutex
	tokens, max, r float64
}

func newRetryBudget(b RetryBudget) *retryBudget {
	return &retryBudget{tokens: b.Tokens, max: b.Tokens, r: b.Refill}
}

// take spends a token for a retry, or reports that none is left.
func (b *retryBudget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *retryBudget) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.tokens+b.r, b.max)
}
