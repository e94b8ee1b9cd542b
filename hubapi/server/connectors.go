package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/example"
	"github.com/hubchantier/hubchantier/connectors/sage100"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// DefaultConnectorRegistry is the connector types the server offers: the
// example connector, until the vendor packages (Sage, Silae, QuickBooks,
// Slack, Google Calendar, Dropbox) register theirs.
func DefaultConnectorRegistry() *connectors.Registry {
	reg := connectors.NewRegistry()
	if err := example.Register(reg); err != nil {
		panic(err) // a constant spec
	}
	if err := sage100.Register(reg); err != nil {
		panic(err)
	}
	return reg
}

// connectorSetup holds what the connector use cases and jobs share.
type connectorSetup struct {
	registry *connectors.Registry
	sealer   *connectors.Sealer
	limiter  *connectors.RateLimiter
	runner   connectors.RunnerConfig
	options  func(string) connectors.Options
	oauth    map[string]service.ConnectorOAuthClient
}

// setupConnectors builds the sealer (HUB_CONNECTOR_KEYS, or the server's
// secret keyring), the registry and the vendor rate limiter (memory until
// Redis is connected, see useRedisForConnectors).
func (s *Server) setupConnectors(cfg Config, log *slog.Logger) error {
	ring := cfg.ConnectorKeys
	if ring == nil {
		ring = s.Secrets
		log.Info(EnvConnectorKeys + " unset: connector configurations are sealed with the secret keyring (" + EnvSecretKeys + ")")
	} else {
		log.Info("connector configurations sealed with "+EnvConnectorKeys, slog.String("current_key_id", ring.CurrentKeyID()))
	}
	sealer, err := connectors.NewSealer(ring)
	if err != nil {
		return err
	}
	reg := cfg.Connectors
	if reg == nil {
		reg = DefaultConnectorRegistry()
	}
	lim := connectors.NewRateLimiter(ratelimit.NewMemoryStore())
	lim.OnError = func(err error) {
		log.Warn("connector rate limit store failing; vendor calls go through", slog.String("error", err.Error()))
	}
	rc := cfg.ConnectorRunner
	rc.Limiter = lim
	if rc.Breakers == nil {
		rc.Breakers = &connectors.Breakers{}
	}
	if rc.Logger == nil {
		rc.Logger = log
	}
	s.connectors = &connectorSetup{registry: reg, sealer: sealer, limiter: lim, runner: rc, options: cfg.ConnectorOptions, oauth: cfg.ConnectorOAuth}
	return nil
}

// useRedisForConnectors shares the vendors' rate limits across instances
// once Redis is connected.
func (s *Server) useRedisForConnectors() {
	if s.Redis != nil && s.connectors != nil {
		s.connectors.limiter.UseStore(redisstore.New(s.Redis, "hubchantier:connectors:ratelimit"))
	}
}

// connectorJobs is the jobs configuration of connector syncs.
func (s *Server) connectorJobs(cfg Config) *jobs.ConnectorConfig {
	cc := cfg.ConnectorJobs
	cc.Registry, cc.Sealer, cc.Runner, cc.Options = s.connectors.registry, s.connectors.sealer, s.connectors.runner, s.connectors.options
	// Imported rows are written like the use cases write (events published
	// after the commit, changes audited), by the operator built after the
	// jobs: read when a sync commits.
	cc.InTx = func(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
		if s.Operator == nil {
			return s.DB.RunInTx(ctx, nil, fn)
		}
		return s.Operator.ConnectorTx(ctx, fn)
	}
	cc.Import = func(ctx context.Context, tx bun.Tx, id int64, imports []string, recs []connectors.Record) error {
		if s.Operator == nil {
			return errors.New("server: the use cases are not ready")
		}
		_, err := s.Operator.ImportConnectorRecords(ctx, tx, id, imports, recs)
		return err
	}
	return &cc
}

// connectorDeps are the connector use cases' dependencies.
func (s *Server) connectorDeps() service.ConnectorDeps {
	return service.ConnectorDeps{Registry: s.connectors.registry, Sealer: s.connectors.sealer, Queue: s.Jobs,
		Runner: connectors.NewRunner(s.connectors.runner), Options: s.connectors.options, OAuthClients: s.connectors.oauth}
}
