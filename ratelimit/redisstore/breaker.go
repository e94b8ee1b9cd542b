package redisstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Breaker defaults.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 5 * time.Second
)

// ErrCircuitOpen is the error of a command refused by an open Breaker.
var ErrCircuitOpen = errors.New("redis: circuit breaker open")

// BreakerState is the state of a Breaker.
type BreakerState int

// Breaker states.
const (
	// BreakerClosed: commands run.
	BreakerClosed BreakerState = iota
	// BreakerOpen: commands fail at once with ErrCircuitOpen.
	BreakerOpen
	// BreakerHalfOpen: the cooldown has passed; one command runs as a probe,
	// the others fail at once.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// BreakerConfig configures a Breaker. Zero fields take the defaults.
type BreakerConfig struct {
	// Failures is the number of consecutive failed commands that opens the
	// breaker (default DefaultBreakerFailures).
	Failures int
	// Cooldown is how long the breaker stays open before it lets one
	// command through as a probe (default DefaultBreakerCooldown).
	Cooldown time.Duration
	// OnStateChange, when set, is called after every transition, outside
	// the breaker's lock (to log it or feed a metric).
	OnStateChange func(from, to BreakerState)
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// Breaker is a circuit breaker for a go-redis client, added with AddHook:
//
//	client.AddHook(redisstore.NewBreaker(redisstore.BreakerConfig{}))
//
// While Redis is down, every command would otherwise wait for its dial or
// read timeout (or the Limiter's Config.Timeout), on every request. After
// Failures consecutive failed commands the breaker opens: commands then fail
// at once with ErrCircuitOpen, without dialing or waiting, so that a
// fail-open Limiter lets requests through at once and a fail-closed one
// answers 503 at once. After Cooldown, one command is let through as a
// probe: its success closes the breaker, its failure opens it for another
// Cooldown.
//
// A failure is a command that got no answer from Redis: a network error, a
// timeout, a deadline exceeded. Replies are successes, error replies and
// redis.Nil included (Redis answered). A command whose caller gave up
// (context.Canceled) counts for neither. The breaker guards commands and
// pipelines, not the dials of pub/sub subscriptions, which back off on
// their own. Its methods are safe for concurrent use.
type Breaker struct {
	failures int
	cooldown time.Duration
	now      func() time.Time
	onChange func(from, to BreakerState)

	mu          sync.Mutex
	state       BreakerState
	consecutive int
	openedAt    time.Time
	probing     bool // half-open: the probe is in flight
}

// NewBreaker returns a closed Breaker.
func NewBreaker(cfg BreakerConfig) *Breaker {
	b := &Breaker{failures: cfg.Failures, cooldown: cfg.Cooldown, now: cfg.Now, onChange: cfg.OnStateChange}
	if b.failures <= 0 {
		b.failures = DefaultBreakerFailures
	}
	if b.cooldown <= 0 {
		b.cooldown = DefaultBreakerCooldown
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// State returns the current state. An open breaker whose cooldown has
// passed reports BreakerHalfOpen.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && !b.now().Before(b.openedAt.Add(b.cooldown)) {
		return BreakerHalfOpen
	}
	return b.state
}

// allow reports whether a command may run now. A probe is a command let
// through in the half-open state.
func (b *Breaker) allow() (probe bool, err error) {
	b.mu.Lock()
	from := b.state
	switch b.state {
	case BreakerClosed:
		b.mu.Unlock()
		return false, nil
	case BreakerOpen:
		if b.now().Before(b.openedAt.Add(b.cooldown)) {
			b.mu.Unlock()
			return false, ErrCircuitOpen
		}
		b.state = BreakerHalfOpen
	}
	if b.probing {
		b.mu.Unlock()
		return false, ErrCircuitOpen
	}
	b.probing = true
	b.mu.Unlock()
	b.changed(from, BreakerHalfOpen)
	return true, nil
}

// outcome of a command, as far as the breaker is concerned.
type outcome int

const (
	succeeded outcome = iota
	failed
	abandoned // the caller gave up: says nothing about Redis
)

func classify(err error) outcome {
	var reply redis.Error
	switch {
	case err == nil, errors.Is(err, redis.Nil):
		return succeeded
	case errors.Is(err, ErrCircuitOpen), errors.Is(err, context.Canceled):
		return abandoned
	case errors.As(err, &reply):
		return succeeded // Redis answered
	}
	return failed
}

// record takes the outcome of a command allowed by allow.
func (b *Breaker) record(probe bool, o outcome) {
	b.mu.Lock()
	from := b.state
	if probe {
		b.probing = false
	}
	switch o {
	case succeeded:
		b.consecutive = 0
		if probe || b.state == BreakerHalfOpen {
			b.state = BreakerClosed
		}
	case failed:
		b.consecutive++
		if probe || (b.state == BreakerClosed && b.consecutive >= b.failures) {
			b.state, b.openedAt = BreakerOpen, b.now()
		}
	}
	to := b.state
	b.mu.Unlock()
	b.changed(from, to)
}

func (b *Breaker) changed(from, to BreakerState) {
	if from != to && b.onChange != nil {
		b.onChange(from, to)
	}
}

// DialHook implements redis.Hook: dials are not guarded (see Breaker).
func (b *Breaker) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (b *Breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		probe, err := b.allow()
		if err != nil {
			cmd.SetErr(err)
			return err
		}
		err = next(ctx, cmd)
		b.record(probe, classify(err))
		return err
	}
}

// ProcessPipelineHook implements redis.Hook: a pipeline counts as one
// command, failed when any of its commands got no answer.
func (b *Breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		probe, err := b.allow()
		if err != nil {
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		err = next(ctx, cmds)
		o := classify(err)
		for _, cmd := range cmds {
			if c := classify(cmd.Err()); c != succeeded {
				o = c
				break
			}
		}
		b.record(probe, o)
		return err
	}
}
