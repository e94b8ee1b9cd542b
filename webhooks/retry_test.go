package webhooks_test

import (
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/webhooks"
)

func TestRetrySchedule(t *testing.T) {
	s := webhooks.RetrySchedule()
	if len(s)+1 != webhooks.MaxAttempts {
		t.Fatalf("%d delays for %d attempts", len(s), webhooks.MaxAttempts)
	}
	var total time.Duration
	for i, d := range s {
		if i > 0 && d < s[i-1] {
			t.Fatalf("delay %d (%s) shorter than the one before", i+1, d)
		}
		total += d
	}
	if s[0] != time.Minute || total < 70*time.Hour || total > 76*time.Hour {
		t.Fatalf("first delay %s, total %s: want 1 min, about three days", s[0], total)
	}
	for n := 1; n < webhooks.MaxAttempts; n++ {
		d, ok := webhooks.RetryDelay(n)
		base := s[n-1]
		lo, hi := time.Duration(float64(base)*(1-webhooks.RetryJitter)), time.Duration(float64(base)*(1+webhooks.RetryJitter))
		if !ok || d < lo || d > hi {
			t.Fatalf("retry %d: %s, %v; want within [%s, %s]", n, d, ok, lo, hi)
		}
	}
	for _, n := range []int{0, webhooks.MaxAttempts, webhooks.MaxAttempts + 5} {
		if _, ok := webhooks.RetryDelay(n); ok {
			t.Fatalf("retry %d offered", n)
		}
	}
}
