package client

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 2 ", 2 * time.Second, true},
		{"Mon, 07 Dec 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Mon, 07 Dec 2026 09:00:00 GMT", 0, true}, // in the past: no wait
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Retry-After %q → %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Mon, 07 Dec 2026 10:00:30 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := parseRetryAfter(s, time.Now()); ok && d < 0 {
			t.Fatalf("%q → negative wait %v", s, d)
		}
	})
}

func TestRetryDecision(t *testing.T) {
	p := RetryPolicy{MaxWait: 10 * time.Second}.withDefaults()
	req := func(method string, header ...string) *request {
		r := &request{method: method, header: http.Header{}}
		for i := 0; i+1 < len(header); i += 2 {
			r.header.Set(header[i], header[i+1])
		}
		return r
	}
	res := func(status int, retryAfter string) *response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &response{status: status, header: h}
	}
	for _, tc := range []struct {
		name  string
		r     *request
		res   *response
		retry bool
	}{
		{"GET 503 → retry", req("GET"), res(503, "1"), true},
		{"PUT 503 → retry", req("PUT"), res(503, ""), true},
		{"DELETE 429 → retry", req("DELETE"), res(429, "1"), true},
		{"POST 429 → retry (refused before handling)", req("POST"), res(429, "1"), true},
		{"POST 503 → no retry", req("POST"), res(503, "1"), false},
		{"PATCH 503 without precondition → no retry", req("PATCH"), res(503, "1"), false},
		{"PATCH 503 with If-Match → retry", req("PATCH", "If-Match", `"v3"`), res(503, "1"), true},
		{"POST 503 with If-Unmodified-Since → retry", req("POST", "If-Unmodified-Since", "Mon, 07 Dec 2026 10:00:30 GMT"), res(503, "1"), true},
		{"GET 500 → no retry", req("GET"), res(500, "1"), false},
		{"GET 404 → no retry", req("GET"), res(404, ""), false},
		{"Retry-After beyond MaxWait → no retry", req("GET"), res(429, "11"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, retry := p.decide(tc.r, tc.res, 1)
			if retry != tc.retry {
				t.Fatalf("retry = %v, want %v", retry, tc.retry)
			}
			if ra, ok := parseRetryAfter(tc.res.header.Get("Retry-After"), time.Now()); retry && ok {
				if wait < ra || wait > ra+max(time.Duration(float64(ra)*p.Jitter), 100*time.Millisecond) {
					t.Errorf("wait %v outside [Retry-After %v, + jitter]", wait, ra)
				}
			}
		})
	}
	t.Run("last attempt → no retry", func(t *testing.T) {
		if _, retry := p.decide(req("GET"), res(503, "0"), p.MaxAttempts); retry {
			t.Error("retried past MaxAttempts")
		}
	})
	t.Run("backoff without Retry-After stays within MaxDelay", func(t *testing.T) {
		for attempt := 1; attempt < 3; attempt++ {
			for range 50 {
				wait, retry := RetryPolicy{MaxAttempts: 100}.withDefaults().decide(req("GET"), res(503, ""), attempt*30)
				if !retry || wait <= 0 || wait > 5*time.Second {
					t.Fatalf("attempt %d → %v %v, want 0 < wait ≤ 5s", attempt*30, wait, retry)
				}
			}
		}
	})
	t.Run("jitter spreads the waits", func(t *testing.T) {
		seen := map[time.Duration]bool{}
		for range 20 {
			wait, _ := p.decide(req("GET"), res(429, "2"), 1)
			seen[wait] = true
		}
		if len(seen) < 2 {
			t.Errorf("20 waits for Retry-After: 2 are all equal (%v): no jitter", seen)
		}
	})
}

func TestRetryBudget(t *testing.T) {
	b := newRetryBudget(RetryBudget{Tokens: 2, Refill: 0.5})
	takes := func() (n int) {
		for b.take() {
			n++
		}
		return n
	}
	if n := takes(); n != 2 {
		t.Fatalf("a budget of 2 allowed %d retries", n)
	}
	b.success()
	if b.take() {
		t.Fatal("half a token allowed a retry")
	}
	b.success()
	if !b.take() {
		t.Fatal("two refills of 0.5 did not allow a retry")
	}
	for range 10 {
		b.success()
	}
	if n := takes(); n != 2 {
		t.Fatalf("after many refills %d retries, want the bucket size 2", n)
	}
}
