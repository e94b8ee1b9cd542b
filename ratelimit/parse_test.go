package ratelimit_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/ratelimit"
)

func TestParseRules(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // fmtRules of the result
	}{
		{"empty value: no rules", "", "[]"},
		{"spaces and empty entries are ignored", " ; GET /api/v1/stats = 5/m ;; ", "[GET /api/v1/stats [minute: 5 per 60s]]"},
		{"the issue's example", "GET /api/v1/stats=5/m;POST /api/v1/chantiers=100/d",
			"[GET /api/v1/stats [minute: 5 per 60s] POST /api/v1/chantiers [day: 100 per 86400s]]"},
		{"every unit", "GET /s=1/s;GET /m=2/m;GET /h=3/h;GET /d=4/d",
			"[GET /s [second: 1 per 1s] GET /m [minute: 2 per 60s] GET /h [hour: 3 per 3600s] GET /d [day: 4 per 86400s]]"},
		{"entries of one route form one rule", "POST /batch=10/m;GET /x=1/s;POST /batch=500/d",
			"[POST /batch [minute: 10 per 60s day: 500 per 86400s] GET /x [second: 1 per 1s]]"},
		{"route templates and the any-method rule", "* /graphql=60/m;GET /chantiers/{id:[0-9]+}=100/m",
			"[* /graphql [minute: 60 per 60s] GET /chantiers/{id:[0-9]+} [minute: 100 per 60s]]"},
		{"a route may contain '='", "GET /a=b=3/h", "[GET /a=b [hour: 3 per 3600s]]"},
		{"tabs separate method and route", "GET\t/t=1/s", "[GET /t [second: 1 per 1s]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := ratelimit.ParseRules(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmtRules(rules); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseRulesErrors(t *testing.T) {
	tests := []struct {
		name, in string
		entry    int
		msg      string
	}{
		{"no '='", "GET /a 5/m", 1, "missing '='"},
		{"no method", "/a=5/m", 1, "method and a route"},
		{"three words", "GET /a /b=5/m", 1, "method and a route"},
		{"lower-case method", "get /a=5/m", 1, "not upper-case"},
		{"route without slash", "GET a=5/m", 1, "does not start with '/'"},
		{"no unit", "GET /a=5", 1, "want N/unit"},
		{"unknown unit", "GET /a=5/w", 1, `unknown unit "w"`},
		{"upper-case unit", "GET /a=5/M", 1, `unknown unit "M"`},
		{"long unit name", "GET /a=5/min", 1, `unknown unit "min"`},
		{"zero", "GET /a=0/m", 1, "at least 1"},
		{"negative", "GET /a=-1/m", 1, "not a decimal number"},
		{"plus sign", "GET /a=+1/m", 1, "not a decimal number"},
		{"no number", "GET /a=/m", 1, "missing number"},
		{"too large", "GET /a=99999999999999999999/m", 1, "too large"},
		{"above MaxLimit", "GET /a=1125899906842625/m", 1, "too large"},
		{"space inside the rate", "GET /a=5 /m", 1, "not a decimal number"},
		{"second entry named", "GET /a=5/m;POST /b=1/x", 2, `unknown unit "x"`},
		{"empty entries still count positions", "GET /a=5/m;;POST /b", 3, "missing '='"},
		{"same route and unit twice", "GET /a=5/m;GET /a=6/m", 2, `"minute" quota is already set for GET /a`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ratelimit.ParseRules(tt.in)
			var pe *ratelimit.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want *ParseError", err, err)
			}
			if pe.Entry != tt.entry || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("entry %d msg %q, want entry %d and %q", pe.Entry, pe.Msg, tt.entry, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "ratelimit: rule ") {
				t.Fatalf("Error() = %q", err)
			}
		})
	}
	t.Run("a long entry is shortened in the message", func(t *testing.T) {
		_, err := ratelimit.ParseRules("GET /" + strings.Repeat("x", 500) + "=1/q")
		if err == nil || len(err.Error()) > 200 {
			t.Fatalf("error %q", err)
		}
	})
}

// FuzzParseRules: any input either fails with a *ParseError or yields rules
// that New accepts.
func FuzzParseRules(f *testing.F) {
	for _, seed := range []string{
		"", "GET /api/v1/stats=5/m;POST /api/v1/chantiers=100/d", "* /graphql=60/m", "GET /a=b=3/h",
		"POST /batch=10/m;POST /batch=500/d", "GET /a=0/m", "get /a=1/s", "GET a=1/s", ";;", "GET /é=1/s",
		"GET /a=9223372036854775807/d", "GET\u00a0/a=1/s",
	} {
		f.Add(seed)
	}
	store := ratelimit.NewMemoryStore() // one store: each would start a sweeper
	f.Fuzz(func(t *testing.T, in string) {
		rules, err := ratelimit.ParseRules(in)
		if err != nil {
			var pe *ratelimit.ParseError
			if !errors.As(err, &pe) || pe.Entry < 1 || pe.Msg == "" {
				t.Fatalf("ParseRules(%q): error %v is not a complete *ParseError", in, err)
			}
			return
		}
		for _, r := range rules {
			for _, p := range r.Policies {
				if p.Limit < 1 || p.Window < time.Second {
					t.Fatalf("ParseRules(%q): policy %+v", in, p)
				}
			}
		}
		if _, err := ratelimit.New(ratelimit.Config{Key: testKey, Route: testRoute, Store: store, Limits: ratelimit.Limits{Rules: rules}}); err != nil {
			t.Fatalf("ParseRules(%q) = %v, which New rejects: %v", in, rules, err)
		}
	})
}
