package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/problem"
)

// Canonical header names (net/textproto form), set without re-canonicalizing.
const (
	hdrPolicy     = "Ratelimit-Policy" // RateLimit-Policy
	hdrRateLimit  = "Ratelimit"        // RateLimit
	hdrXLimit     = "X-Ratelimit-Limit"
	hdrXRemaining = "X-Ratelimit-Remaining"
	hdrXReset     = "X-Ratelimit-Reset"
	hdrRetryAfter = "Retry-After"
)

// inlinePolicies is the number of policies a rule may have before a meter
// allocates its state apart.
const inlinePolicies = 2

// meter is the rate limit state of one request: what it was charged and what
// the store answered, per policy of its rule.
//
// It is also the request's context: the parent context, plus itself as the
// value of meterKey for SetCost. (One allocation less than context.WithValue
// on every limited request.)
type meter struct {
	context.Context
	l         *Limiter
	w         http.ResponseWriter
	method    string // request method and route template, for labels
	route     string
	rule      *compiledRule
	principal [principalLen]byte

	mu     sync.Mutex
	cost   int64 // units the request costs so far
	states []policyState
	inline [inlinePolicies]policyState
}

type policyState struct {
	c       limiter.Context // counters after the last call
	known   bool            // c holds the store's last answer
	at      int64           // when c was received, Unix nanoseconds
	charged int64           // units this request holds in the current window
}

func (l *Limiter) newMeter(ctx context.Context, w http.ResponseWriter, method, route string, rule *compiledRule, key string) *meter {
	m := &meter{Context: ctx, l: l, w: w, method: method, route: route, rule: rule}
	l.principal(&m.principal, key)
	if n := len(rule.policies); n <= inlinePolicies {
		m.states = m.inline[:n]
	} else {
		m.states = make([]policyState, n)
	}
	return m
}

// Value makes the meter the context value of meterKey.
func (m *meter) Value(key any) any {
	if key == (meterKey{}) {
		return m
	}
	return m.Context.Value(key)
}

// counter returns the method and route that identify the counters of the
// request's rule: the rule's own, or for default policies the request's
// (HEAD counting as GET, as for rules).
func (m *meter) counter() (method, route string) {
	switch {
	case m.rule.id.route != "":
		return m.rule.id.method, m.rule.id.route
	case m.method == http.MethodHead:
		return http.MethodGet, m.route
	}
	return m.method, m.route
}

// storeKey is the counter of policy p for this request's principal and rule:
// "{principal}:METHOD /route:policy:seconds".
func (m *meter) storeKey(p *compiledPolicy) string {
	method, route := m.counter()
	var b strings.Builder
	b.Grow(len(m.principal) + 2 + len(method) + len(route) + len(p.keyTail))
	b.Write(m.principal[:])
	b.WriteByte(':')
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(route)
	b.WriteString(p.keyTail)
	return b.String()
}

// charge charges n units to every policy of the rule, shortest window first,
// and sets the response fields. It stops at the first policy that refuses;
// the units the refused request took from policies that still had room are
// given back, so that a refused request consumes nothing. (A single unit
// refused by a policy needs no refund: that policy had no room left.)
// m.mu is held.
func (m *meter) charge(parent context.Context, n int64) *LimitError {
	l := m.l
	ctx, cancel := l.storeContext(parent)
	defer cancel()
	var buf [inlinePolicies]int
	taken := buf[:0] // policies charged by this call
	for _, i := range m.rule.order {
		p, st := &m.rule.policies[i], &m.states[i]
		c, err := increment(ctx, l.store, l.inProcess, m.storeKey(p), n, p.rate)
		if err != nil {
			l.storeFailed(parent, m.method, m.route, p.name, err)
			if l.failClosed {
				m.giveBack(parent, taken, n)
				m.setHeaders()
				return unavailableError()
			}
			continue // fail open: this policy is not enforced for this charge
		}
		// The window has started again since the last charge when the
		// counter holds fewer units than this request has charged.
		if !c.Reached && c.Limit-c.Remaining < st.charged+n {
			st.charged = 0
		}
		st.known, st.c, st.at = true, c, time.Now().UnixNano()
		st.charged += n
		if c.Reached {
			if n > 1 {
				taken = append(taken, i)
			}
			m.giveBack(parent, taken, n)
			m.setHeaders()
			if l.onExceeded != nil {
				l.onExceeded(m.method, m.route, p.name)
			}
			return m.exceeded(p, st, n)
		}
		taken = append(taken, i)
	}
	m.setHeaders()
	return nil
}

// giveBack refunds n units to each policy in idx. m.mu is held.
func (m *meter) giveBack(parent context.Context, idx []int, n int64) {
	if len(idx) == 0 {
		return
	}
	ctx, cancel := m.l.storeContext(context.WithoutCancel(parent))
	defer cancel()
	for _, i := range idx {
		m.refund(ctx, parent, i, n)
	}
}

// refundAll gives back every unit the request holds (304 Not Modified). It
// runs once the response is written: the request's context may be done.
func (m *meter) refundAll(parent context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	bg := context.WithoutCancel(parent)
	ctx, cancel := m.l.storeContext(bg)
	defer cancel()
	for i := range m.states {
		m.refund(ctx, bg, i, m.states[i].charged)
	}
}

// refund gives n units back to policy i, only while the window they were
// charged in is certainly still open: given back in a later window, they
// would be units that window never counted, and the client could exceed its
// quota. The stores report the end of a window truncated to the second (the
// true end is in [Reset, Reset+1)); the refund reaches the store within one
// timeout and the reply that gave Reset took at most another. When in doubt
// the units stay charged: an error towards the client's disadvantage, never
// beyond the quota. m.mu is held.
func (m *meter) refund(ctx, parent context.Context, i int, n int64) {
	st := &m.states[i]
	if n <= 0 || !st.known || n > st.charged {
		return
	}
	if !time.Now().Add(2 * m.l.timeout).Before(time.Unix(st.c.Reset, 0)) {
		return
	}
	p := &m.rule.policies[i]
	c, err := increment(ctx, m.l.store, m.l.inProcess, m.storeKey(p), -n, p.rate)
	if err != nil {
		m.l.storeFailed(parent, m.method, m.route, p.name, err)
		return
	}
	st.c, st.at = c, time.Now().UnixNano()
	st.charged -= n
}

// windowEnd returns a time at which the window of st has certainly ended:
// before Reset+1 (Reset is truncated to the second), and no later than one
// window after the answer (windows last Window from their first charge).
func windowEnd(st *policyState, window time.Duration) time.Time {
	end := time.Unix(st.c.Reset+1, 0)
	if latest := time.Unix(0, st.at).Add(window); end.After(latest) {
		end = latest
	}
	return end
}

// secondsUntil returns the whole seconds from at to end, rounded up, at
// least 1: a client that waits that long finds the window over.
func secondsUntil(end time.Time, at int64) int64 {
	s := int64((end.Sub(time.Unix(0, at)) + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// setHeaders sets the rate limit fields from the policies whose counters are
// known. The X-RateLimit-* fields describe the most restrictive policy: the
// one with the fewest units left, then the longest wait. m.mu is held.
func (m *meter) setHeaders() {
	h := m.w.Header()
	var buf [256]byte
	b := buf[:0]
	best, bestT, bestR := -1, int64(0), int64(0)
	var bestEnd time.Time
	for i := range m.rule.policies {
		st := &m.states[i]
		if !st.known {
			continue
		}
		p := &m.rule.policies[i]
		end := windowEnd(st, p.window)
		t := secondsUntil(end, st.at)
		r := min(max(st.c.Remaining, 0), p.limit)
		// draft-ietf-httpapi-ratelimit-headers-11 §4: a List of Strings
		// naming the policy, with r (units left) and t (seconds).
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, p.name...)
		b = append(b, `";r=`...)
		b = strconv.AppendInt(b, r, 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, t, 10)
		if best < 0 || r < bestR || r == bestR && t > bestT {
			best, bestT, bestR, bestEnd = i, t, r, end
		}
	}
	if best < 0 {
		h[hdrPolicy] = []string{m.rule.policyField}
		delete(h, hdrRateLimit)
		delete(h, hdrXLimit)
		delete(h, hdrXRemaining)
		delete(h, hdrXReset)
		return
	}
	reset := bestT
	if m.l.unixReset {
		reset = bestEnd.Unix()
		if bestEnd.Nanosecond() > 0 {
			reset++
		}
	}
	// The dynamic values share one string and the five fields one backing
	// array (as net/http does for its own fields); capacity 1 each, so that
	// an Add elsewhere copies instead of overwriting a neighbour.
	rl := len(b)
	b = strconv.AppendInt(b, bestR, 10)
	rem := len(b)
	b = strconv.AppendInt(b, reset, 10)
	all := string(b)
	v := make([]string, 5)
	v[0], v[1], v[2], v[3], v[4] = m.rule.policyField, all[:rl], m.rule.policies[best].limitText, all[rl:rem], all[rem:]
	h[hdrPolicy], h[hdrRateLimit], h[hdrXLimit], h[hdrXRemaining], h[hdrXReset] = v[0:1:1], v[1:2:2], v[2:3:3], v[3:4:4], v[4:5:5]
}

// exceeded builds the 429 answer for policy p and sets Retry-After: the end
// of p's window (draft §6: not earlier than the effective window).
func (m *meter) exceeded(p *compiledPolicy, st *policyState, n int64) *LimitError {
	t := secondsUntil(windowEnd(st, p.window), st.at)
	secs := int64(p.window / time.Second)
	var detail string
	switch {
	case n > p.limit:
		detail = fmt.Sprintf("This request costs %d units; quota %q allows %d per %d s.", n, p.name, p.limit, secs)
	case !st.c.Reached: // given back: the units left are known
		detail = fmt.Sprintf("This request costs %d units; quota %q (%d per %d s) has %d left; it renews in %d s.", n, p.name, p.limit, secs, max(st.c.Remaining, 0), t)
	default:
		detail = fmt.Sprintf("Quota %q (%d per %d s) is exhausted; retry in %d s.", p.name, p.limit, secs, t)
	}
	m.w.Header()[hdrRetryAfter] = []string{strconv.FormatInt(t, 10)}
	return &LimitError{
		Problem:    problem.New(http.StatusTooManyRequests, "rate-limit-exceeded", detail).With("violated-policies", []string{p.name}),
		RetryAfter: time.Duration(t) * time.Second,
		err:        ErrLimited,
	}
}

func unavailableError() *LimitError {
	return &LimitError{
		Problem: problem.New(http.StatusServiceUnavailable, "rate-limit-unavailable", "The quota of this request cannot be checked at the moment; try again later."),
		err:     ErrUnavailable,
	}
}
