package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// redisReply is an error reply of the server (it implements redis.Error).
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

var errDial = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}

// hooked runs commands through the breaker's hook over a "Redis" that
// answers with whatever reply holds, counting the commands that reach it.
type hooked struct {
	process redis.ProcessHook
	reply   error
	reached atomic.Int64
}

func newHooked(b *redisstore.Breaker) *hooked {
	h := &hooked{}
	h.process = b.ProcessHook(func(_ context.Context, cmd redis.Cmder) error {
		h.reached.Add(1)
		cmd.SetErr(h.reply)
		return h.reply
	})
	return h
}

func (h *hooked) run(ctx context.Context) error {
	return h.process(ctx, redis.NewStatusCmd(ctx, "ping"))
}

func TestBreakerStateTransitions(t *testing.T) {
	ctx := context.Background()
	setup := func() (*redisstore.Breaker, *hooked, *fakeClock, *[]string) {
		clock := &fakeClock{t: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)}
		var changes []string
		b := redisstore.NewBreaker(redisstore.BreakerConfig{Failures: 3, Cooldown: 10 * time.Second, Now: clock.now,
			OnStateChange: func(from, to redisstore.BreakerState) { changes = append(changes, from.String()+"→"+to.String()) }})
		return b, newHooked(b), clock, &changes
	}
	// open fails commands until the breaker opens.
	open := func(t *testing.T, b *redisstore.Breaker, h *hooked) {
		t.Helper()
		h.reply = errDial
		for range 3 {
			if err := h.run(ctx); !errors.Is(err, errDial) {
				t.Fatalf("closed breaker: %v, want the dial error", err)
			}
		}
		if b.State() != redisstore.BreakerOpen {
			t.Fatalf("after 3 failures: %s", b.State())
		}
	}

	t.Run("fewer consecutive failures than the threshold keep it closed", func(t *testing.T) {
		b, h, _, _ := setup()
		for _, reply := range []error{errDial, errDial, nil, errDial, errDial, redis.Nil, context.DeadlineExceeded, errDial, redisReply("ERR wrong type")} {
			h.reply = reply
			_ = h.run(ctx)
		}
		if b.State() != redisstore.BreakerClosed || h.reached.Load() != 9 {
			t.Fatalf("state %s, %d commands reached Redis", b.State(), h.reached.Load())
		}
	})
	t.Run("threshold consecutive failures open it: commands fail at once without reaching Redis", func(t *testing.T) {
		b, h, clock, changes := setup()
		open(t, b, h)
		for range 100 {
			if err := h.run(ctx); !errors.Is(err, redisstore.ErrCircuitOpen) {
				t.Fatalf("open breaker: %v", err)
			}
		}
		clock.advance(10*time.Second - time.Nanosecond)
		if err := h.run(ctx); !errors.Is(err, redisstore.ErrCircuitOpen) {
			t.Fatalf("just before the cooldown ends: %v", err)
		}
		if n := h.reached.Load(); n != 3 {
			t.Fatalf("%d commands reached Redis, want the 3 that failed", n)
		}
		if fmt.Sprint(*changes) != "[closed→open]" {
			t.Fatalf("transitions %v", *changes)
		}
	})
	t.Run("deadline exceeded counts as a failure; a cancelled caller does not", func(t *testing.T) {
		b, h, _, _ := setup()
		h.reply = context.Canceled
		for range 10 {
			_ = h.run(ctx)
		}
		if b.State() != redisstore.BreakerClosed {
			t.Fatalf("after cancellations: %s", b.State())
		}
		h.reply = fmt.Errorf("i/o: %w", context.DeadlineExceeded)
		for range 3 {
			_ = h.run(ctx)
		}
		if b.State() != redisstore.BreakerOpen {
			t.Fatalf("after 3 deadlines: %s", b.State())
		}
	})
	t.Run("after the cooldown one probe goes through; its success closes it", func(t *testing.T) {
		b, h, clock, changes := setup()
		open(t, b, h)
		clock.advance(10 * time.Second)
		if b.State() != redisstore.BreakerHalfOpen {
			t.Fatalf("after the cooldown: %s", b.State())
		}
		h.reply = nil
		// A probe that has not returned yet: other commands still fail at once.
		release := make(chan struct{})
		inProbe := make(chan struct{})
		b2probe := b.ProcessHook(func(context.Context, redis.Cmder) error {
			close(inProbe)
			<-release
			return nil
		})
		done := make(chan error)
		go func() { done <- b2probe(ctx, redis.NewStatusCmd(ctx, "ping")) }()
		<-inProbe
		if err := h.run(ctx); !errors.Is(err, redisstore.ErrCircuitOpen) {
			t.Fatalf("while the probe runs: %v", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if b.State() != redisstore.BreakerClosed {
			t.Fatalf("after a successful probe: %s", b.State())
		}
		if err := h.run(ctx); err != nil {
			t.Fatalf("closed again: %v", err)
		}
		if fmt.Sprint(*changes) != "[closed→open open→half-open half-open→closed]" {
			t.Fatalf("transitions %v", *changes)
		}
	})
	t.Run("a failed probe opens it for another cooldown", func(t *testing.T) {
		b, h, clock, changes := setup()
		open(t, b, h)
		clock.advance(10 * time.Second)
		if err := h.run(ctx); !errors.Is(err, errDial) {
			t.Fatalf("probe: %v", err)
		}
		if b.State() != redisstore.BreakerOpen {
			t.Fatalf("after a failed probe: %s", b.State())
		}
		clock.advance(9 * time.Second)
		if err := h.run(ctx); !errors.Is(err, redisstore.ErrCircuitOpen) {
			t.Fatalf("during the second cooldown: %v", err)
		}
		if n := h.reached.Load(); n != 4 {
			t.Fatalf("%d commands reached Redis, want 3 + the probe", n)
		}
		if fmt.Sprint(*changes) != "[closed→open open→half-open half-open→open]" {
			t.Fatalf("transitions %v", *changes)
		}
	})
	t.Run("a probe whose caller gave up lets the next command probe", func(t *testing.T) {
		b, h, clock, _ := setup()
		open(t, b, h)
		clock.advance(10 * time.Second)
		h.reply = context.Canceled
		_ = h.run(ctx)
		h.reply = nil
		if err := h.run(ctx); err != nil {
			t.Fatalf("next probe: %v", err)
		}
		if b.State() != redisstore.BreakerClosed {
			t.Fatalf("state %s", b.State())
		}
	})
	t.Run("a pipeline fails as a whole when one of its commands got no answer", func(t *testing.T) {
		clock := &fakeClock{t: time.Now()}
		b := redisstore.NewBreaker(redisstore.BreakerConfig{Failures: 2, Now: clock.now})
		pipe := b.ProcessPipelineHook(func(_ context.Context, cmds []redis.Cmder) error {
			cmds[1].SetErr(errDial)
			return nil
		})
		cmds := func() []redis.Cmder {
			return []redis.Cmder{redis.NewStatusCmd(ctx, "ping"), redis.NewStatusCmd(ctx, "ping")}
		}
		_ = pipe(ctx, cmds())
		_ = pipe(ctx, cmds())
		cs := cmds()
		if err := pipe(ctx, cs); !errors.Is(err, redisstore.ErrCircuitOpen) || !errors.Is(cs[0].Err(), redisstore.ErrCircuitOpen) {
			t.Fatalf("open breaker: %v, %v", err, cs[0].Err())
		}
	})
}
