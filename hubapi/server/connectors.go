package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"

	"golang.org/x/oauth2"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/dropbox"
	"github.com/hubchantier/hubchantier/connectors/example"
	"github.com/hubchantier/hubchantier/connectors/gcal"
	"github.com/hubchantier/hubchantier/connectors/quickbooks"
	"github.com/hubchantier/hubchantier/connectors/sage100"
	"github.com/hubchantier/hubchantier/connectors/silae"
	"github.com/hubchantier/hubchantier/connectors/slack"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// DefaultConnectorRegistry is the connector types the server offers: the
// example connector and the vendor packages.
func DefaultConnectorRegistry() *connectors.Registry {
	reg := connectors.NewRegistry()
	for _, register := range []func(*connectors.Registry) error{example.Register, silae.Register, quickbooks.Register, gcal.Register, sage100.Register} {
		if err := register(reg); err != nil {
			panic(err) // constant specs
		}
	}
	if err := slack.Register(reg); err != nil {
		panic(err) // a constant spec
	}
	if err := dropbox.Register(reg); err != nil {
		panic(err) // a constant spec
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
	access   *service.ConnectorAccess
	// publicURL is where vendors post push notifications ("": no channel).
	publicURL string

	tokensOnce sync.Once
	tokens     map[string]*connectors.Tokens
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
	if cfg.ConnectorOptions == nil {
		cfg.ConnectorOptions = func(string) connectors.Options { return connectors.Options{} }
	}
	public := strings.TrimSuffix(cfg.ConnectorPublicURL, "/")
	if public == "" {
		if iss := OAuthIssuer(cfg); strings.HasPrefix(iss, "https://") {
			public = iss // vendors post notifications to HTTPS addresses only
		}
	}
	s.connectors = &connectorSetup{registry: reg, sealer: sealer, limiter: lim, runner: rc, options: cfg.ConnectorOptions, oauth: cfg.ConnectorOAuth,
		publicURL: public, access: service.NewConnectorAccess(s.DB, sealer, reg, cfg.ConnectorOAuth, nil)}
	return nil
}

// oauthTokens gives the OAuth tokens of connectors of type typ (nil: no
// OAuth client for it): one Tokens per type, shared by every job and
// check, which serialises the refreshes of a connector (and
// service.ConnectorTokens across instances).
func (s *Server) oauthTokens(typ string) *connectors.Tokens {
	cs := s.connectors
	cs.tokensOnce.Do(func() {
		cs.tokens = map[string]*connectors.Tokens{}
		store := service.NewConnectorTokens(s.DB, cs.sealer)
		for typ, client := range cs.oauth {
			spec, ok := cs.registry.Spec(typ)
			if !ok || spec.OAuth == nil {
				continue
			}
			t := &connectors.Tokens{Config: spec.OAuth.Config(client.ClientID, client.ClientSecret, client.RedirectURL), Store: store, Locker: store}
			if hc := cs.options(typ).HTTPClient; hc != nil {
				t.Context = context.WithValue(context.Background(), oauth2.HTTPClient, hc)
			}
			cs.tokens[typ] = t
		}
	})
	return cs.tokens[typ]
}

// channelAddress is the public route of the push notifications of
// connectors of type typ ("" when the server has no public URL).
func (s *Server) channelAddress(typ string) string {
	if s.connectors.publicURL == "" || typ != gcal.Type {
		return ""
	}
	return s.connectors.publicURL + "/api/v1/integrations/" + gcal.PathSlug + "/notifications"
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
	if cc.Blobs == nil {
		if blobs, err := openBlobs(cfg); err == nil { // opened once already by New
			cc.Blobs = blobs
		}
	}
	if cc.Tokens == nil {
		cc.Tokens = s.oauthTokens
	}
	if cc.Channels == nil {
		cc.Channels = &jobs.ChannelConfig{}
	} else {
		ch := *cc.Channels
		cc.Channels = &ch
	}
	if cc.Channels.Address == nil {
		cc.Channels.Address = s.channelAddress
	}
	if cc.Prepare == nil {
		cc.Prepare = s.connectors.access.Prepare
	}
	return &cc
}

// connectorDeps are the connector use cases' dependencies.
func (s *Server) connectorDeps() service.ConnectorDeps {
	return service.ConnectorDeps{Registry: s.connectors.registry, Sealer: s.connectors.sealer, Queue: s.Jobs,
		Runner: connectors.NewRunner(s.connectors.runner), Options: s.connectors.options, OAuthClients: s.connectors.oauth,
		Access: s.connectors.access, Tokens: s.oauthTokens}
}
