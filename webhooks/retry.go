package webhooks

import (
	"math/rand/v2"
	"time"
)

// retryDelays is the wait before each retry of a failed delivery: doubling
// from one minute up to eight hours, then every eight hours. With the first
// attempt, 18 attempts spread over about three days (72 h 31 min from the
// first to the last, before jitter):
//
//	retry  1   1 min      retry 10   8 h
//	retry  2   2 min      retry 11   8 h
//	retry  3   4 min      retry 12   8 h
//	retry  4   8 min      retry 13   8 h
//	retry  5  16 min      retry 14   8 h
//	retry  6  32 min      retry 15   8 h
//	retry  7   1 h 4 min  retry 16   8 h
//	retry  8   2 h 8 min  retry 17   8 h
//	retry  9   4 h 16 min
var retryDelays = func() []time.Duration {
	var d []time.Duration
	for wait := time.Minute; len(d) < 17; wait = min(2*wait, 8*time.Hour) {
		d = append(d, wait)
	}
	return d
}()

// MaxAttempts is how many times a message is sent at most: the first attempt
// and len(retry schedule) retries.
var MaxAttempts = 1 + len(retryDelays)

// RetryJitter is the fraction by which each delay is randomly lengthened or
// shortened, so that the retries of many messages failing together (a
// receiver's outage) do not arrive together.
const RetryJitter = 0.2

// RetryDelay returns the wait before retry n (1 for the retry after the
// first failed attempt), jittered by ±RetryJitter, and false when the
// schedule is exhausted (n ≥ MaxAttempts): the message is then given up.
func RetryDelay(n int) (time.Duration, bool) {
	if n < 1 || n > len(retryDelays) {
		return 0, false
	}
	base := retryDelays[n-1]
	f := 1 - RetryJitter + 2*RetryJitter*rand.Float64() // #nosec G404 -- jitter spreads retries, it is not a secret
	return time.Duration(float64(base) * f), true
}

// RetrySchedule returns the delays before each retry, without jitter.
func RetrySchedule() []time.Duration { return append([]time.Duration(nil), retryDelays...) }
