package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi"
)

// ConnectorOAuthClient is the server's OAuth client at a vendor.
type ConnectorOAuthClient struct {
	ClientID     string
	ClientSecret string
	// RedirectURL is registered at the vendor: the integrator's page,
	// which calls GET /integrations/{type}/callback with the code and
	// state it receives, under the same user's credentials.
	RedirectURL string
}

// channelQueue opens connectors' push channels (hubapi/jobs).
type channelQueue interface {
	EnqueueConnectorWatch(ctx context.Context, tx bun.Tx, id int64) error
}

// oauthStates is the table of hubapi.ConnectorOAuthState (bun would name
// it connector_o_auth_states).
const oauthStates = "connector_oauth_states"

// OAuthStateTTL is how long an authorization may take.
const OAuthStateTTL = 10 * time.Minute

// oauthExchangeTimeout bounds the code exchange at the vendor.
const oauthExchangeTimeout = 30 * time.Second

var _ hubapi.ConnectorOAuthService = (*Service)(nil)

func hashState(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:])
}

func (s *deps) oauthClient(typ string) (*connectors.OAuthSpec, ConnectorOAuthClient, error) {
	cd, err := s.conn()
	if err != nil {
		return nil, ConnectorOAuthClient{}, err
	}
	spec, ok := cd.Registry.Spec(typ)
	if !ok {
		return nil, ConnectorOAuthClient{}, hubapi.ErrNotFound
	}
	client, configured := cd.OAuthClients[typ]
	if spec.OAuth == nil || !configured {
		return nil, ConnectorOAuthClient{}, hubapi.Errorf(hubapi.ErrConflict, "connector type %q has no OAuth flow on this server", typ)
	}
	return spec.OAuth, client, nil
}

// AuthorizeConnector implements hubapi.ConnectorOAuthService: a random
// state (only its hash is stored, bound to the caller and the connector)
// and, when the vendor supports it, a PKCE S256 challenge whose verifier is
// sealed.
func (s *Service) AuthorizeConnector(ctx context.Context, typ string, id int64) (*hubapi.ConnectorAuthorization, error) {
	p, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	spec, client, err := s.oauthClient(typ)
	if err != nil {
		return nil, err
	}
	c, err := s.readConnector(ctx, s.db, p, hubapi.ActionChange, id)
	if err != nil {
		return nil, err
	}
	if c.Type != typ {
		return nil, &hubapi.ValidationError{Fields: map[string]string{"connector_id": "is a connector of another type"}}
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	state := base64.RawURLEncoding.EncodeToString(b)
	verifier := oauth2.GenerateVerifier()
	st := &hubapi.ConnectorOAuthState{StateHash: hashState(state), UserID: p.UserID, ConnectorID: id, ExpiresAt: s.now().Add(OAuthStateTTL)}
	if st.VerifierKeyID, st.VerifierSealed, err = s.connectors.Sealer.Seal(connectors.Config{Secrets: map[string]string{"verifier": verifier}},
		"oauth-state:"+st.StateHash); err != nil {
		return nil, err
	}
	if _, err := s.db.NewDelete().Model((*hubapi.ConnectorOAuthState)(nil)).ModelTableExpr(oauthStates).Where("expires_at < ?", s.now()).Exec(ctx); err != nil {
		return nil, err
	}
	if _, err := s.db.NewInsert().Model(st).ModelTableExpr(oauthStates).Exec(ctx); err != nil {
		return nil, err
	}
	opts := []oauth2.AuthCodeOption{oauth2.AccessTypeOffline}
	if spec.PKCE {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	for k, v := range spec.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	audit.Describe(ctx, "authorize_connector", "connectors", strconv.FormatInt(id, 10))
	url := spec.Config(client.ClientID, client.ClientSecret, client.RedirectURL).AuthCodeURL(state, opts...)
	return &hubapi.ConnectorAuthorization{AuthorizeURL: url, ExpiresAt: st.ExpiresAt}, nil
}

// errBadState answers every state that does not complete an authorization
// alike: unknown, expired, used, another user's, another type's.
var errBadState = &hubapi.ValidationError{Fields: map[string]string{"state": "unknown, expired, already used or not yours; start again"}}

// CompleteConnectorAuthorization implements hubapi.ConnectorOAuthService:
// the state is consumed atomically (deleted, whoever completes it), the
// code exchanged with the PKCE verifier, and the token stored sealed.
func (s *Service) CompleteConnectorAuthorization(ctx context.Context, typ, code, state string, params map[string]string) (*hubapi.Connector, error) {
	p, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	spec, client, err := s.oauthClient(typ)
	if err != nil {
		return nil, err
	}
	if code == "" || state == "" || len(code) > 2048 || len(state) > 256 {
		return nil, &hubapi.ValidationError{Fields: map[string]string{"code": "code and state are required (at most 2048 and 256 bytes)"}}
	}
	for param := range spec.CallbackSettings {
		if params[param] == "" {
			return nil, &hubapi.ValidationError{Fields: map[string]string{param: "required for this vendor"}}
		}
	}
	var st hubapi.ConnectorOAuthState
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(&st).ModelTableExpr(oauthStates+" AS connector_o_auth_state").Where("state_hash = ?", hashState(state)).Scan(ctx); err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*hubapi.ConnectorOAuthState)(nil)).ModelTableExpr(oauthStates).Where("state_hash = ?", st.StateHash).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return hubapi.ErrNotFound // consumed by a concurrent callback
		}
		return nil
	})
	if err != nil && !errors.Is(err, hubapi.ErrNotFound) && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if err != nil || st.UserID != p.UserID || !s.now().Before(st.ExpiresAt) {
		return nil, errBadState
	}
	c, err := s.readConnector(ctx, s.db, p, hubapi.ActionChange, st.ConnectorID)
	if err != nil {
		return nil, err
	}
	if c.Type != typ {
		return nil, errBadState
	}
	v, err := s.connectors.Sealer.Open(st.VerifierKeyID, st.VerifierSealed, "oauth-state:"+st.StateHash)
	if err != nil {
		return nil, keyError(err)
	}
	var opts []oauth2.AuthCodeOption
	if spec.PKCE {
		opts = append(opts, oauth2.VerifierOption(v.Secret("verifier")))
	}
	xctx, cancel := context.WithTimeout(ctx, oauthExchangeTimeout)
	defer cancel()
	if s.connectors.HTTPClient != nil {
		xctx = context.WithValue(xctx, oauth2.HTTPClient, s.connectors.HTTPClient)
	}
	tok, err := spec.Config(client.ClientID, client.ClientSecret, client.RedirectURL).Exchange(xctx, code, opts...)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, &hubapi.ValidationError{Fields: map[string]string{"code": "the vendor refused the code (" + re.ErrorCode + ")"}}
		}
		return nil, hubapi.Errorf(hubapi.ErrUnavailable, "the vendor did not answer the code exchange")
	}
	if len(spec.CallbackSettings) > 0 {
		if err := s.keepCallbackSettings(ctx, typ, c, spec.CallbackSettings, params); err != nil {
			return nil, err
		}
	}
	if err := NewConnectorTokens(s.db, s.connectors.Sealer).SaveToken(ctx, strconv.FormatInt(c.ID, 10), tok); err != nil {
		return nil, err
	}
	if wq, ok := s.connectors.Queue.(channelQueue); ok {
		// a vendor that pushes changes gets its channel now, not at the
		// next renewal check
		if err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return wq.EnqueueConnectorWatch(ctx, tx, c.ID) }); err != nil {
			return nil, err
		}
	}
	audit.Describe(ctx, "connect_connector", "connectors", strconv.FormatInt(c.ID, 10))
	return c, nil
}

// keepCallbackSettings stores the vendor's redirect parameters the type
// declares (QuickBooks' realmId) as settings of connector c, validated by
// the type's spec, re-sealing its configuration.
func (s *Service) keepCallbackSettings(ctx context.Context, typ string, c *hubapi.Connector, names, params map[string]string) error {
	spec, _ := s.connectors.Registry.Spec(typ)
	cfg, err := s.connectors.Sealer.Open(c.ConfigKeyID, c.ConfigSealed, ConnectorBinding(c.ID))
	if err != nil {
		return keyError(err)
	}
	cfg = cfg.Clone()
	if cfg.Settings == nil {
		cfg.Settings = map[string]string{}
	}
	for param, setting := range names {
		cfg.Settings[setting] = params[param]
	}
	var ve *connectors.ValidationError
	if err := spec.Validate(cfg); errors.As(err, &ve) {
		bad := map[string]string{}
		for param, setting := range names {
			if why := ve.Fields["settings."+setting]; why != "" {
				bad[param] = why
			}
		}
		if len(bad) == 0 {
			bad["state"] = "the connector's configuration is no longer valid; fix it and authorize again"
		}
		return &hubapi.ValidationError{Fields: bad}
	} else if err != nil {
		return err
	}
	kid, sealed, err := s.connectors.Sealer.Seal(cfg, ConnectorBinding(c.ID))
	if err != nil {
		return err
	}
	now := s.now()
	res, err := s.db.NewUpdate().Model((*hubapi.Connector)(nil)).Set("config_key_id = ?", kid).Set("config_sealed = ?", sealed).
		Set("version = version + 1").Set("updated_at = ?", now).Where("id = ?", c.ID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return hubapi.ErrNotFound
	}
	c.ConfigKeyID, c.ConfigSealed, c.Version, c.UpdatedAt = kid, sealed, c.Version+1, now
	return nil
}
