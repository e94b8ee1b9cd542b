package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseRules parses rules written on one line (for an environment variable
// such as RATE_LIMITS): entries separated by ';', each
//
//	METHOD /route/template=N/unit
//
// where METHOD is an upper-case HTTP method or "*", N a positive decimal
// integer and unit one of s, m, h or d (second, minute, hour, day). Spaces
// around entries and around '=' are ignored; empty entries are skipped. A
// route may appear in several entries with different units: the entries
// form one rule with several policies, named "second", "minute", "hour" or
// "day". Example:
//
//	GET /api/v1/stats=5/m;POST /api/v1/chantiers=10/m;POST /api/v1/chantiers=100/d
//
// Errors are of type *ParseError and name the faulty entry.
func ParseRules(s string) ([]Rule, error) {
	var rules []Rule
	index := map[ruleID]int{}
	for i, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, p, msg := parseEntry(entry)
		if msg != "" {
			return nil, &ParseError{Entry: i + 1, Text: entry, Msg: msg}
		}
		j, ok := index[id]
		if !ok {
			index[id] = len(rules)
			rules = append(rules, Rule{Method: id.method, Route: id.route, Policies: []Policy{p}})
			continue
		}
		for _, q := range rules[j].Policies {
			if q.Window == p.Window {
				return nil, &ParseError{Entry: i + 1, Text: entry, Msg: fmt.Sprintf("a %q quota is already set for %s %s", p.Name, id.method, id.route)}
			}
		}
		rules[j].Policies = append(rules[j].Policies, p)
	}
	return rules, nil
}

// parseEntry parses one non-empty entry; msg is empty on success.
func parseEntry(entry string) (id ruleID, p Policy, msg string) {
	eq := strings.LastIndexByte(entry, '=')
	if eq < 0 {
		return id, p, "missing '=' between route and rate (want METHOD /route=N/unit)"
	}
	fields := strings.Fields(entry[:eq])
	if len(fields) != 2 {
		return id, p, "want an HTTP method and a route separated by a space before '='"
	}
	id = ruleID{method: fields[0], route: fields[1]}
	if err := validMethod(id.method); err != nil {
		return id, p, err.Error()
	}
	if !strings.HasPrefix(id.route, "/") {
		return id, p, fmt.Sprintf("route %q does not start with '/'", id.route)
	}
	if err := validRoute(id.route); err != nil {
		return id, p, err.Error()
	}
	rate := strings.TrimSpace(entry[eq+1:])
	num, unit, ok := strings.Cut(rate, "/")
	if !ok {
		return id, p, fmt.Sprintf("rate %q: want N/unit, e.g. 100/d", rate)
	}
	n, err := parseLimit(num)
	if err != nil {
		return id, p, fmt.Sprintf("rate %q: %v", rate, err)
	}
	switch unit {
	case "s":
		p = PerSecond(n)
	case "m":
		p = PerMinute(n)
	case "h":
		p = PerHour(n)
	case "d":
		p = PerDay(n)
	default:
		return id, p, fmt.Sprintf("rate %q: unknown unit %q (want s, m, h or d)", rate, unit)
	}
	return id, p, ""
}

// parseLimit accepts decimal digits only (no sign, no spaces) for a value of
// at least 1.
func parseLimit(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("missing number before '/'")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > MaxLimit {
		return 0, fmt.Errorf("%q is too large (at most %d)", s, int64(MaxLimit))
	}
	if n < 1 {
		return 0, errors.New("the limit must be at least 1")
	}
	return n, nil
}

// ParseError reports an invalid entry of a ParseRules value.
type ParseError struct {
	Entry int    // position of the entry among the ';'-separated entries, from 1
	Text  string // the entry, without surrounding spaces
	Msg   string // what is wrong
}

func (e *ParseError) Error() string {
	text := e.Text
	if len(text) > 80 {
		text = text[:77] + "..."
	}
	return fmt.Sprintf("ratelimit: rule %d %q: %s", e.Entry, text, e.Msg)
}
