package connectors

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff is an exponential backoff with jitter: attempt n (from 1) waits
// between half and all of Base·2^(n-1), capped at Max ("equal jitter"), so
// failing connectors do not come back in step.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff is the backoff between the tries of a call.
var DefaultBackoff = Backoff{Base: time.Second, Max: 30 * time.Second}

// Delay is the wait before attempt n+1, after n failures.
func (b Backoff) Delay(n int) time.Duration {
	base, ceil := b.Base, b.Max
	if base <= 0 {
		base = DefaultBackoff.Base
	}
	if ceil < base {
		ceil = base
	}
	d := base
	for i := 1; i < n && d < ceil; i++ {
		d *= 2
	}
	d = min(d, ceil)
	half := d / 2
	return half + rand.N(d-half+1) // #nosec G404 -- jitter, not a secret
}

// Breakers are circuit breakers, one per connector (by key): after
// Threshold failed syncs in a row a connector's circuit opens for Cooldown
// (doubling at every failure after it, up to MaxCooldown); then one sync
// may try (half-open): a success closes the circuit, a failure opens it
// again. They live in one process: each instance keeps its own.
type Breakers struct {
	Threshold   int
	Cooldown    time.Duration
	MaxCooldown time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu sync.Mutex
	m  map[string]*breaker
}

// Defaults of Breakers.
const (
	DefaultBreakerThreshold   = 5
	DefaultBreakerCooldown    = time.Minute
	DefaultBreakerMaxCooldown = time.Hour
)

type breaker struct {
	failures  int
	openUntil time.Time
	probing   bool
}

func (b *Breakers) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Allow reports whether connector key may sync now; when not, until when
// its circuit stays open.
func (b *Breakers) Allow(key string) (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	br := b.m[key]
	if br == nil || br.failures < cmpOr(b.Threshold, DefaultBreakerThreshold) {
		return true, time.Time{}
	}
	now := b.now()
	if now.Before(br.openUntil) || br.probing {
		return false, br.openUntil
	}
	br.probing = true // half-open: this sync probes
	return true, time.Time{}
}

// Success closes key's circuit.
func (b *Breakers) Success(key string) {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
}

// Failure counts a failed sync of key; at the threshold the circuit opens.
func (b *Breakers) Failure(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]*breaker{}
	}
	br := b.m[key]
	if br == nil {
		br = &breaker{}
		b.m[key] = br
	}
	br.failures++
	br.probing = false
	threshold := cmpOr(b.Threshold, DefaultBreakerThreshold)
	if br.failures >= threshold {
		cool := b.Cooldown
		if cool <= 0 {
			cool = DefaultBreakerCooldown
		}
		ceil := b.MaxCooldown
		if ceil <= 0 {
			ceil = DefaultBreakerMaxCooldown
		}
		for i := threshold; i < br.failures && cool < ceil; i++ {
			cool *= 2
		}
		br.openUntil = b.now().Add(min(cool, ceil))
	}
}
