package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of RunnerConfig.
const (
	// DefaultCallTimeout bounds one call of a connector (the spec's 30 s).
	DefaultCallTimeout = 30 * time.Second
	// DefaultCallAttempts is how many times a sync tries one call before
	// it fails (and is retried later, from its checkpoint).
	DefaultCallAttempts = 4
	// DefaultMaxInlineWait is the longest backoff or Retry-After a sync
	// waits in place; a longer one ends the sync with the error, to be
	// rescheduled (Error.RetryAfter) without holding a worker.
	DefaultMaxInlineWait = 30 * time.Second
	// DefaultMaxCalls bounds the calls of one sync.
	DefaultMaxCalls = 100_000
)

// Checkpointer stores what a sync reads: the product implements it (a
// transaction in its database), the batch example with files.
type Checkpointer interface {
	// Commit stores records and the state after them in one atomic step:
	// after a crash, the sync resumes from the last committed state, so
	// records are neither lost nor stored twice.
	Commit(ctx context.Context, records []Record, state State) error
}

// CheckpointFunc adapts a function to Checkpointer.
type CheckpointFunc func(ctx context.Context, records []Record, state State) error

// Commit implements Checkpointer.
func (f CheckpointFunc) Commit(ctx context.Context, records []Record, state State) error {
	return f(ctx, records, state)
}

// RunnerConfig configures a Runner. The zero value is valid.
type RunnerConfig struct {
	CallTimeout   time.Duration
	CallAttempts  int
	Backoff       Backoff
	MaxInlineWait time.Duration
	MaxCalls      int
	// Limiter, when set, holds each vendor to its Spec.RateLimit.
	Limiter *RateLimiter
	// Breakers, when set, stop calling a connector that keeps failing.
	Breakers *Breakers
	// Logger receives one line per retried call (default: discard). It
	// never logs a configuration.
	Logger *slog.Logger
}

// Runner runs syncs: calls a connector's Sync until it has read
// everything, committing after every call, retrying failed calls with
// backoff, bounding every call with a timeout, recovering panics.
type Runner struct{ cfg RunnerConfig }

// NewRunner returns a runner.
func NewRunner(cfg RunnerConfig) *Runner {
	cfg.CallTimeout = cmpOrDur(cfg.CallTimeout, DefaultCallTimeout)
	cfg.CallAttempts = cmpOr(cfg.CallAttempts, DefaultCallAttempts)
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	cfg.MaxInlineWait = cmpOrDur(cfg.MaxInlineWait, DefaultMaxInlineWait)
	cfg.MaxCalls = cmpOr(cfg.MaxCalls, DefaultMaxCalls)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg}
}

func cmpOrDur(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

// Job is one sync to run.
type Job struct {
	// Key identifies the connector (its row id): the breaker's key.
	Key       string
	Connector Connector
	Spec      Spec
	Config    Config
	// State is the last committed checkpoint (nil: from the beginning).
	State State
	Sink  Checkpointer
	// Progress, when set, is called after every commit.
	Progress func(Progress)
}

// Progress is where a running sync is.
type Progress struct {
	Calls   int
	Records int64
	Done    bool
}

// Summary is what a sync did (also on failure: what it committed).
type Summary struct {
	Calls   int
	Retries int
	Records int64
	State   State
}

// Run syncs job until the connector has nothing more to read. Its error is
// an *Error (the last call's, with secrets of the configuration redacted),
// or ctx's error, or the Checkpointer's.
func (r *Runner) Run(ctx context.Context, job Job) (Summary, error) {
	sum := Summary{State: job.State}
	if b := r.cfg.Breakers; b != nil {
		if ok, until := b.Allow(job.Key); !ok {
			return sum, &Error{Kind: KindCircuitOpen, RetryAfter: time.Until(until), Msg: "the connector failed too often; it rests until " + until.UTC().Format(time.RFC3339)}
		}
	}
	sum, err := r.run(ctx, job, sum)
	if b := r.cfg.Breakers; b != nil {
		if err == nil {
			b.Success(job.Key)
		} else if ctx.Err() == nil {
			b.Failure(job.Key)
		}
	}
	return sum, err
}

func (r *Runner) run(ctx context.Context, job Job, sum Summary) (Summary, error) {
	for sum.Calls < r.cfg.MaxCalls {
		res, next, err := r.callWithRetries(ctx, job, sum.State, &sum)
		if err != nil {
			return sum, err
		}
		if err := job.Sink.Commit(ctx, res.Records, next); err != nil {
			return sum, fmt.Errorf("connectors: committing the checkpoint: %w", err)
		}
		sum.State = next
		sum.Records += int64(len(res.Records))
		if job.Progress != nil {
			job.Progress(Progress{Calls: sum.Calls, Records: sum.Records, Done: !res.More})
		}
		if !res.More {
			return sum, nil
		}
	}
	return sum, &Error{Kind: KindRejected, Msg: fmt.Sprintf("the connector asked for more than %d calls", r.cfg.MaxCalls)}
}

// callWithRetries makes one Sync call, tried up to CallAttempts times.
func (r *Runner) callWithRetries(ctx context.Context, job Job, state State, sum *Summary) (Result, State, error) {
	for attempt := 1; ; attempt++ {
		if err := r.cfg.Limiter.Wait(ctx, job.Spec.VendorKey(), job.Spec.RateLimit); err != nil {
			return Result{}, nil, fmt.Errorf("connectors: waiting for the vendor's rate limit: %w", err)
		}
		sum.Calls++
		res, next, err := r.call(ctx, job, state)
		if err == nil {
			return res, next, nil
		}
		e := AsError(err)
		e = &Error{Kind: e.Kind, Status: e.Status, RetryAfter: e.RetryAfter, Msg: job.Config.Redact(e.Msg)}
		if ctx.Err() != nil {
			return Result{}, nil, ctx.Err()
		}
		if !e.Temporary() || e.Kind == KindPanic || attempt >= r.cfg.CallAttempts {
			return Result{}, nil, e
		}
		wait := max(r.cfg.Backoff.Delay(attempt), e.RetryAfter)
		if wait > r.cfg.MaxInlineWait {
			return Result{}, nil, e // rescheduled by the caller
		}
		r.cfg.Logger.WarnContext(ctx, "connector call failed; retrying",
			slog.String("connector", job.Key), slog.String("type", job.Connector.Type()),
			slog.String("kind", string(e.Kind)), slog.Int("status", e.Status), slog.Int("attempt", attempt), slog.Duration("wait", wait))
		sum.Retries++
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{}, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// errAbandoned ends a call that outlived its timeout.
var errAbandoned = errors.New("abandoned")

// call runs one Sync under the call timeout, in its own goroutine: a
// connector that ignores its context is abandoned at the timeout (its
// goroutine ends when it returns) and never holds the sync; a panic becomes
// an error of kind KindPanic.
func (r *Runner) call(ctx context.Context, job Job, state State) (Result, State, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, r.cfg.CallTimeout, errAbandoned)
	defer cancel()
	type out struct {
		res  Result
		next State
		err  error
	}
	ch := make(chan out, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- out{err: &Error{Kind: KindPanic, Msg: fmt.Sprint(p)}}
			}
		}()
		res, next, err := job.Connector.Sync(cctx, job.Config.Clone(), state)
		ch <- out{res, next, err}
	}()
	select {
	case o := <-ch:
		if o.err == nil && cctx.Err() != nil && ctx.Err() == nil {
			// answered after the deadline: the answer may be partial
			return Result{}, nil, &Error{Kind: KindTimeout, Msg: "the call exceeded " + r.cfg.CallTimeout.String()}
		}
		if o.err != nil && errors.Is(context.Cause(cctx), errAbandoned) {
			return Result{}, nil, &Error{Kind: KindTimeout, Msg: "the call exceeded " + r.cfg.CallTimeout.String()}
		}
		return o.res, o.next, o.err
	case <-cctx.Done():
		if ctx.Err() != nil {
			return Result{}, nil, ctx.Err()
		}
		return Result{}, nil, &Error{Kind: KindTimeout, Msg: "the call exceeded " + r.cfg.CallTimeout.String()}
	}
}

// Check runs a connector's Check under the call timeout, with panics
// recovered and secrets redacted from the error.
func (r *Runner) Check(ctx context.Context, c Connector, cfg Config) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	ch := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- &Error{Kind: KindPanic, Msg: fmt.Sprint(p)}
			}
		}()
		ch <- c.Check(cctx, cfg.Clone())
	}()
	var err error
	select {
	case err = <-ch:
	case <-cctx.Done():
		err = &Error{Kind: KindTimeout, Msg: "the check exceeded " + r.cfg.CallTimeout.String()}
	}
	if err == nil {
		return nil
	}
	e := AsError(err)
	return &Error{Kind: e.Kind, Status: e.Status, RetryAfter: e.RetryAfter, Msg: cfg.Redact(e.Msg)}
}

// HandleEvent pushes ev through c under the call timeout, like Check.
func (r *Runner) HandleEvent(ctx context.Context, c Connector, cfg Config, ev Event) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	ch := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- &Error{Kind: KindPanic, Msg: fmt.Sprint(p)}
			}
		}()
		ch <- c.HandleEvent(cctx, cfg.Clone(), ev)
	}()
	var err error
	select {
	case err = <-ch:
	case <-cctx.Done():
		err = &Error{Kind: KindTimeout, Msg: "the event push exceeded " + r.cfg.CallTimeout.String()}
	}
	if err == nil {
		return nil
	}
	e := AsError(err)
	return &Error{Kind: e.Kind, Status: e.Status, RetryAfter: e.RetryAfter, Msg: cfg.Redact(e.Msg)}
}

// Deliver pushes ev through c for the product's event deliveries: under
// spec.EventTimeout (default: the call timeout), it waits for the vendor's
// rate limit (spec.RateLimit), then calls HandleEvent, with
// panics recovered and the configuration's secrets redacted from the
// error. It tries once: the product retries a delivery with its own
// backoff, in a durable job.
func (r *Runner) Deliver(ctx context.Context, c Connector, spec Spec, cfg Config, ev Event) error {
	timeout := cmpOrDur(spec.EventTimeout, r.cfg.CallTimeout)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.cfg.Limiter.Wait(cctx, spec.VendorKey(), spec.RateLimit); err != nil {
		return &Error{Kind: KindTimeout, Msg: "the vendor's rate limit left no time for the push within " + timeout.String()}
	}
	ch := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- &Error{Kind: KindPanic, Msg: fmt.Sprint(p)}
			}
		}()
		ch <- c.HandleEvent(cctx, cfg.Clone(), ev)
	}()
	var err error
	select {
	case err = <-ch:
	case <-cctx.Done():
		err = &Error{Kind: KindTimeout, Msg: "the event push exceeded " + timeout.String()}
	}
	if err == nil {
		return nil
	}
	e := AsError(err)
	return &Error{Kind: e.Kind, Status: e.Status, RetryAfter: e.RetryAfter, Msg: cfg.Redact(e.Msg)}
}
