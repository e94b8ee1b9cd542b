package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Policy is one quota: at most Limit units per Window. Windows are fixed:
// a window opens with the first charge of a key and ends Window later (the
// algorithm of ulule/limiter).
type Policy struct {
	// Name identifies the policy in the RateLimit-Policy and RateLimit fields
	// and in the "violated-policies" member of 429 responses. ASCII letters,
	// digits, '-', '_' and '.', at most 64 bytes, unique within a rule. When
	// empty it is derived from the window: "second", "minute", "hour", "day",
	// or "<n>s".
	Name string
	// Limit is the quota in units (a request costs 1 unit unless told
	// otherwise); from 1 to MaxLimit.
	Limit int64
	// Window is a whole number of seconds, at least one second (the fields
	// of the draft carry seconds).
	Window time.Duration
}

// PerSecond returns the policy "second": n units per second.
func PerSecond(n int64) Policy { return Policy{Name: "second", Limit: n, Window: time.Second} }

// PerMinute returns the policy "minute": n units per minute.
func PerMinute(n int64) Policy { return Policy{Name: "minute", Limit: n, Window: time.Minute} }

// PerHour returns the policy "hour": n units per hour.
func PerHour(n int64) Policy { return Policy{Name: "hour", Limit: n, Window: time.Hour} }

// PerDay returns the policy "day": n units per 24 hours.
func PerDay(n int64) Policy { return Policy{Name: "day", Limit: n, Window: 24 * time.Hour} }

// String formats p like "minute: 10 per 60s".
func (p Policy) String() string {
	return fmt.Sprintf("%s: %d per %ds", p.name(), p.Limit, int64(p.Window/time.Second))
}

// name returns Name or the name derived from the window.
func (p Policy) name() string {
	if p.Name != "" {
		return p.Name
	}
	switch p.Window {
	case time.Second:
		return "second"
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	return strconv.FormatInt(int64(p.Window/time.Second), 10) + "s"
}

const maxPolicyName = 64

// MaxLimit bounds quotas and costs, so that counters can never overflow
// whatever clients make requests cost (2^50, about 10^15).
const MaxLimit = 1 << 50

func (p Policy) validate() error {
	name := p.name()
	if len(name) > maxPolicyName {
		return fmt.Errorf("policy name %.20q... is longer than %d bytes", name, maxPolicyName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("policy name %q: only ASCII letters, digits, '-', '_' and '.' are allowed", name)
		}
	}
	if p.Limit < 1 || p.Limit > MaxLimit {
		return fmt.Errorf("policy %q: limit %d is not in [1, 2^50]", name, p.Limit)
	}
	if p.Window < time.Second || p.Window%time.Second != 0 {
		return fmt.Errorf("policy %q: window %s is not a whole number of seconds (at least 1s)", name, p.Window)
	}
	return nil
}

// AnyMethod as a Rule's Method matches every method that has no rule of its
// own for the route.
const AnyMethod = "*"

// Rule binds policies to a method and a route template. Every policy of the
// rule is charged for each request; the request is refused when one of them
// is exhausted.
type Rule struct {
	// Method is an HTTP method, case-sensitive ("GET"), or AnyMethod. A GET
	// rule also covers HEAD requests unless a HEAD rule exists for the route,
	// and they share its counters.
	Method string
	// Route is a route template as returned by the Config's RouteFunc
	// ("/api/v1/chantiers/{id}"), never a raw path.
	Route string
	// Policies are the quotas of the route. A rule without policies exempts
	// the route from limiting.
	Policies []Policy
}

// String formats r like "GET /api/v1/stats [minute: 5 per 60s]".
func (r Rule) String() string { return fmt.Sprintf("%s %s %v", r.Method, r.Route, r.Policies) }

func (r Rule) validate() error {
	if err := validMethod(r.Method); err != nil {
		return err
	}
	if err := validRoute(r.Route); err != nil {
		return err
	}
	seen := make(map[string]bool, len(r.Policies))
	for _, p := range r.Policies {
		if err := p.validate(); err != nil {
			return err
		}
		if seen[p.name()] {
			return fmt.Errorf("two policies are named %q", p.name())
		}
		seen[p.name()] = true
	}
	return nil
}

// validMethod accepts AnyMethod and RFC 9110 method tokens without lower-case
// letters: methods are case-sensitive, and a rule for "get" would never match.
func validMethod(m string) error {
	if m == AnyMethod {
		return nil
	}
	if m == "" {
		return errors.New("empty method")
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case c >= 'a' && c <= 'z':
			return fmt.Errorf("method %q is not upper-case (methods are case-sensitive)", m)
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c > ' ' && c < 0x7f && !isDelimiter(c):
		default:
			return fmt.Errorf("method %q is not an HTTP token", m)
		}
	}
	return nil
}

// isDelimiter reports the RFC 9110 §5.6.2 delimiters, which tokens exclude.
func isDelimiter(c byte) bool {
	switch c {
	case '"', '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}':
		return true
	}
	return false
}

const maxRoute = 1024

func validRoute(route string) error {
	if route == "" {
		return errors.New("empty route")
	}
	if len(route) > maxRoute {
		return fmt.Errorf("route %.20q... is longer than %d bytes", route, maxRoute)
	}
	for i := 0; i < len(route); i++ {
		if c := route[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("route %q contains a space or a control character", route)
		}
	}
	return nil
}

// Limits are the rules of a Limiter or of one of its overrides.
type Limits struct {
	// Rules are looked up by method and route template; at most one rule per
	// method and route.
	Rules []Rule
	// Default are the policies of routes that have no rule (including the
	// fallback route of requests no route matched). Each route keeps its own
	// counters. Empty: such routes are not limited.
	Default []Policy
}

// MergeRules returns base with the rules of override applied: a rule of
// override replaces the base rule of the same method and route (all its
// policies), other rules of override are added. Neither argument is
// modified. Use it to let a configuration value (see ParseRules) override
// rules set in code.
func MergeRules(base, override []Rule) []Rule {
	out := make([]Rule, 0, len(base)+len(override))
	index := make(map[ruleID]int, len(base)+len(override))
	for _, rules := range [][]Rule{base, override} {
		for _, r := range rules {
			id := ruleID{r.Method, r.Route}
			if i, ok := index[id]; ok {
				out[i] = r
				continue
			}
			index[id] = len(out)
			out = append(out, r)
		}
	}
	return out
}

// ruleID identifies a rule: its method (or AnyMethod) and route template.
type ruleID struct{ method, route string }
