// Package broadcast carries messages to every server instance through one
// Redis pub/sub channel, and says when the channel cannot be trusted.
//
// Redis pub/sub delivers at most once: a message published while an
// instance is not subscribed is lost to it, silently. So a Channel is Live
// only while a subscription is confirmed: not before the first one, and not
// from the moment its connection fails (or a publish from this instance
// fails) until a new subscription is confirmed. Users stop relying on the
// state the messages keep fresh while it is not Live (the response cache is
// bypassed, cached authentications are not used), and drop that state in
// OnUp before it turns Live again, since messages may have been lost.
package broadcast

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Subscriber timing. A silent connection is pinged after HealthInterval and
// replaced when the ping gets no answer within another HealthInterval.
const (
	DefaultHealthInterval = 5 * time.Second
	minBackoff            = 50 * time.Millisecond
	maxBackoff            = 5 * time.Second
)

// Config configures a Channel. Redis and Name are required.
type Config struct {
	Redis redis.UniversalClient
	// Name is the Redis channel.
	Name string
	// OnMessage receives every payload published on the channel, this
	// instance's own included. It runs on the subscriber's goroutine.
	OnMessage func(payload string)
	// OnUp runs when a subscription is confirmed, before Live turns true.
	// resync is true when an earlier subscription was lost: messages may
	// have been missed, drop what they would have corrected.
	OnUp func(resync bool)
	// OnDown runs for every failed or dropped subscription, with its error.
	OnDown func(err error)
	// HealthInterval, default DefaultHealthInterval.
	HealthInterval time.Duration
}

// Channel is one subscribed Redis channel. Its methods are safe for
// concurrent use.
type Channel struct {
	cfg    Config
	live   atomic.Bool
	ready  chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	ps     *redis.PubSub
	closed bool
}

// New starts the subscriber. An unreachable Redis is not an error: the
// subscriber keeps retrying (backing off up to 5 s) and the Channel stays
// not Live meanwhile. Call Close to stop it.
func New(cfg Config) (*Channel, error) {
	if cfg.Redis == nil || cfg.Name == "" {
		return nil, errors.New("broadcast: Config.Redis and Config.Name are required")
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Channel{cfg: cfg, ready: make(chan struct{}), cancel: cancel}
	c.wg.Add(1)
	go c.subscribe(ctx)
	return c, nil
}

// Live reports whether a subscription is confirmed and has not failed since:
// only then are the messages of other instances known to arrive.
func (c *Channel) Live() bool { return c.live.Load() }

// Ready is closed once the first subscription is confirmed.
func (c *Channel) Ready() <-chan struct{} { return c.ready }

// Publish sends payload to every subscribed instance. A failure means Redis
// is unreachable from here (or its circuit breaker is open), so messages of
// other instances are likely lost too: the Channel then stops being Live and
// subscribes again, and OnUp(true) runs once it is back.
func (c *Channel) Publish(ctx context.Context, payload []byte) error {
	err := c.cfg.Redis.Publish(ctx, c.cfg.Name, payload).Err()
	if err != nil {
		c.drop()
	}
	return err
}

// drop ends the current subscription: the Channel is not Live until a new
// one is confirmed.
func (c *Channel) drop() {
	c.live.Store(false)
	c.mu.Lock()
	if c.ps != nil {
		_ = c.ps.Close() // the subscriber's Receive fails and it subscribes again
	}
	c.mu.Unlock()
}

// Close stops the subscriber. The Channel is not Live afterwards.
func (c *Channel) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cancel()
	if c.ps != nil {
		_ = c.ps.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
	c.live.Store(false)
}

// subscribe runs until ctx ends: it subscribes, delivers messages, and on
// any connection failure backs off and subscribes again.
func (c *Channel) subscribe(ctx context.Context) {
	defer c.wg.Done()
	backoff := minBackoff
	subscribed := false // ever, on any connection
	for ctx.Err() == nil {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		ps := c.cfg.Redis.Subscribe(ctx, c.cfg.Name)
		c.ps = ps
		c.mu.Unlock()

		err := c.consume(ctx, ps, &subscribed, &backoff)
		c.live.Store(false)

		c.mu.Lock()
		_ = ps.Close()
		c.ps = nil
		c.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if c.cfg.OnDown != nil {
			c.cfg.OnDown(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// consume reads one subscription until it fails.
func (c *Channel) consume(ctx context.Context, ps *redis.PubSub, subscribed *bool, backoff *time.Duration) error {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, c.cfg.HealthInterval)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				pinged = true
				continue
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if c.cfg.OnUp != nil {
				c.cfg.OnUp(*subscribed)
			}
			c.live.Store(true)
			if !*subscribed {
				*subscribed = true
				close(c.ready)
			}
			*backoff = minBackoff
		case *redis.Message:
			if c.cfg.OnMessage != nil {
				c.cfg.OnMessage(m.Payload)
			}
		}
	}
}
