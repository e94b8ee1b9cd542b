package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/broadcast"
	"github.com/hubchantier/hubchantier/oauth"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// RevocationChannel is the Redis channel on which instances announce API key
// revocations and user disablements to each other.
const RevocationChannel = "hubchantier:auth:revoke"

// redisOptions parses a checked HUB_REDIS_URL with the server's timeouts.
func redisOptions(url string) (*redis.Options, error) {
	if err := checkRedisURL(url); err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, time.Second, time.Second
	// Calls abandoned by their caller (the rate limiter's 100 ms) end early.
	opt.ContextTimeoutEnabled = true
	return opt, nil
}

// connectRedis creates the Redis client (it connects lazily) and its circuit
// breaker, shared by everything that uses the client: rate-limit counters,
// cache invalidations, revocations and readiness.
func (s *Server) connectRedis(cfg Config, log *slog.Logger) error {
	if cfg.RedisURL == "" {
		return nil
	}
	opt, err := redisOptions(cfg.RedisURL)
	if err != nil {
		return err
	}
	bc := cfg.RedisBreaker
	if bc.OnStateChange == nil {
		bc.OnStateChange = func(from, to redisstore.BreakerState) {
			log.Warn("redis circuit breaker", slog.String("from", from.String()), slog.String("to", to.String()))
		}
	}
	s.RedisBreaker = redisstore.NewBreaker(bc)
	s.Redis = redis.NewClient(opt)
	s.Redis.AddHook(s.RedisBreaker)
	return nil
}

// redisReady checks Redis for /readyz, when requests depend on it (rate
// limiting fails closed): an open breaker answers at once; otherwise a PING,
// which is also the breaker's probe once its cooldown has passed.
func (s *Server) redisReady(ctx context.Context) error {
	if s.RedisBreaker.State() == redisstore.BreakerOpen {
		return redisstore.ErrCircuitOpen
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return s.Redis.Ping(ctx).Err()
}

// revocation is an announcement on RevocationChannel, as JSON:
// {"key":42} (API key revoked), {"user":7} (user disabled) or
// {"oauth":{...}} (OAuth access tokens revoked).
type revocation struct {
	Key  int64 `json:"key,omitempty"`
	User int64 `json:"user,omitempty"`
	// OAuth carries revoked OAuth access tokens (oauth.Server's message).
	OAuth json.RawMessage `json:"oauth,omitempty"`
}

// revocationOf returns the announcement of an event, if it is one.
func revocationOf(e hubapi.Event) (revocation, bool) {
	switch e.Type {
	case hubapi.EventAPIKeyRevoked, hubapi.EventAPIKeyRotated, hubapi.EventAPIKeyChanged:
		// a rotation or a new allow-list: cached authentications are stale
		return revocation{Key: e.ResourceID}, e.ResourceID > 0
	case hubapi.EventUserDisabled, hubapi.EventUserErased:
		return revocation{User: e.ResourceID}, e.ResourceID > 0
	}
	return revocation{}, false
}

// setupRevocations makes revocations reach every instance. The use cases
// forget the revoked key or the disabled user's keys in this process; with
// Redis, the announcement goes to the others, which forget them on receipt.
// While the channel is down, cached authentications are not used (every key
// is checked in the database); when it is back, they are all dropped.
func (s *Server) setupRevocations(log *slog.Logger) error {
	if s.Redis == nil {
		return nil
	}
	ch, err := broadcast.New(broadcast.Config{
		Redis: s.Redis,
		Name:  RevocationChannel,
		OnMessage: func(payload string) {
			var r revocation
			if len(payload) > oauth.MaxRevocationMessage || json.Unmarshal([]byte(payload), &r) != nil {
				log.Warn("malformed revocation announcement ignored")
				return
			}
			if r.Key > 0 {
				s.Operator.ForgetAPIKey(r.Key)
			}
			if r.User > 0 {
				s.Operator.ForgetUser(r.User)
			}
			if o := s.OAuth(); len(r.OAuth) > 0 && o != nil {
				if err := o.ReceiveRevocation(r.OAuth); err != nil {
					log.Warn("malformed OAuth revocation announcement ignored")
				}
			}
		},
		OnUp: func(bool) { s.Operator.ForgetAllAuthentications() },
		OnDown: func(err error) {
			log.Warn("revocation channel down; API keys are checked in the database until it is back", slog.String("error", err.Error()))
		},
	})
	if err != nil {
		return err
	}
	s.revocations = ch
	s.Operator.UseAuthCacheWhile(ch.Live)
	s.Bus.Subscribe(func(ctx context.Context, e hubapi.Event) {
		r, ok := revocationOf(e)
		if !ok {
			return
		}
		payload, _ := json.Marshal(r)
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := ch.Publish(pctx, payload); err != nil {
			log.WarnContext(ctx, "revocation announcement failed; other instances drop the key within 10 s",
				slog.String("error", err.Error()))
		}
	})
	return nil
}

// BroadcastRevocation announces a revocation (hubapi.EventAPIKeyRevoked) or
// a disablement (hubapi.EventUserDisabled) made outside any server, by the
// CLI, to the running instances that share redisURL: they drop the cached
// authentications at once. Without a Redis URL it does nothing; instances
// then notice within the authentication cache's 10 s.
func BroadcastRevocation(ctx context.Context, redisURL string, e hubapi.Event) error {
	r, ok := revocationOf(e)
	if !ok {
		return fmt.Errorf("server: %s is not a revocation", e.Type)
	}
	if redisURL == "" {
		return nil
	}
	opt, err := redisOptions(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	payload, _ := json.Marshal(r)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Publish(ctx, RevocationChannel, payload).Err(); err != nil {
		return fmt.Errorf("announce the revocation on Redis: %w", err)
	}
	return nil
}

// RedisLogging returns a go-redis logger writing to log, as warnings, for
// redis.SetLogger. That setting is process-wide: only main packages
// (cmd/hubchantier) should make it.
func RedisLogging(log *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return redisLogger{log}
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...), slog.String("component", "go-redis"))
}

// WaitBroadcasts returns once the Redis subscriptions (cache invalidations,
// revocations) are confirmed, or ctx's error; at once without Redis.
func (s *Server) WaitBroadcasts(ctx context.Context) error {
	if s.Cache != nil {
		if err := s.Cache.WaitReady(ctx); err != nil {
			return err
		}
	}
	if s.revocations != nil {
		select {
		case <-s.revocations.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
