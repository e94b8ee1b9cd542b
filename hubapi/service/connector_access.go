package service

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// AccessTokenMinLife is how long an access token handed to a sync or a
// check must still be valid: longer than one sync job
// (jobs.DefaultConnectorMaxDuration, 10 minutes) and its bookkeeping, so a
// token never expires mid-job; a token closer to its expiry is refreshed
// first.
const AccessTokenMinLife = 15 * time.Minute

// ConnectorAccess hands OAuth connectors their access token at run time:
// the token stored sealed on the connector, refreshed first when it would
// expire within AccessTokenMinLife (one refresh at a time per connector
// across instances, the rotated refresh token stored before use), added
// to the configuration as the runtime secret connectors.AccessTokenSecret.
type ConnectorAccess struct {
	registry   *connectors.Registry
	clients    map[string]ConnectorOAuthClient
	store      *ConnectorTokens
	httpClient *http.Client

	mu     sync.Mutex
	byType map[string]*connectors.Tokens
}

// NewConnectorAccess returns the access of db's connectors; httpClient
// (may be nil) sends the refreshes.
func NewConnectorAccess(db *store.DB, sealer *connectors.Sealer, reg *connectors.Registry, clients map[string]ConnectorOAuthClient,
	httpClient *http.Client) *ConnectorAccess {
	return &ConnectorAccess{registry: reg, clients: clients, store: NewConnectorTokens(db, sealer), httpClient: httpClient,
		byType: map[string]*connectors.Tokens{}}
}

func (a *ConnectorAccess) tokens(typ string, spec *connectors.OAuthSpec) (*connectors.Tokens, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.byType[typ]; t != nil {
		return t, true
	}
	client, ok := a.clients[typ]
	if !ok {
		return nil, false
	}
	t := &connectors.Tokens{Config: spec.Config(client.ClientID, client.ClientSecret, client.RedirectURL), Store: a.store,
		Locker: a.store, RefreshBefore: AccessTokenMinLife}
	if a.httpClient != nil {
		t.Context = context.WithValue(context.Background(), oauth2.HTTPClient, a.httpClient)
	}
	a.byType[typ] = t
	return t, true
}

// Prepare returns cfg with the access token of connector id (of type typ)
// when the type uses OAuth; cfg unchanged otherwise. Its errors are
// *connectors.Error of kind auth when the connector is not (or no longer)
// authorized.
func (a *ConnectorAccess) Prepare(ctx context.Context, id int64, typ string, cfg connectors.Config) (connectors.Config, error) {
	spec, ok := a.registry.Spec(typ)
	if !ok || spec.OAuth == nil {
		return cfg, nil
	}
	toks, ok := a.tokens(typ, spec.OAuth)
	if !ok {
		return cfg, &connectors.Error{Kind: connectors.KindAuth, Msg: "this server has no OAuth client for connector type " + typ}
	}
	tok, err := toks.Token(ctx, strconv.FormatInt(id, 10))
	if errors.Is(err, connectors.ErrNoToken) {
		return cfg, &connectors.Error{Kind: connectors.KindAuth, Msg: "the connector is not authorized yet: GET /integrations/" + typ + "/authorize"}
	}
	if err != nil {
		return cfg, err
	}
	out := cfg.Clone()
	if out.Secrets == nil {
		out.Secrets = map[string]string{}
	}
	out.Secrets[connectors.AccessTokenSecret] = tok.AccessToken
	return out, nil
}
