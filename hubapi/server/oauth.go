package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/clientip"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/oauth"
	"github.com/hubchantier/hubchantier/problem"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
)

// oauthSessionKeyName is the server_secrets row of the key that signs the
// OAuth login sessions and CSRF tokens.
const oauthSessionKeyName = "oauth_session_key"

// ScopeLabels describe the scopes on the OAuth consent page.
var ScopeLabels = map[string]string{
	string(hubapi.ScopeChantiersRead):     "Consulter les chantiers",
	string(hubapi.ScopeChantiersWrite):    "Créer et modifier les chantiers",
	string(hubapi.ScopePointagesRead):     "Consulter les pointages",
	string(hubapi.ScopePointagesWrite):    "Saisir et modifier les pointages",
	string(hubapi.ScopeDocumentsRead):     "Consulter et télécharger les documents",
	string(hubapi.ScopeDocumentsWrite):    "Déposer et modifier les documents",
	string(hubapi.ScopeSignalementsRead):  "Consulter les signalements",
	string(hubapi.ScopeSignalementsWrite): "Créer et modifier les signalements",
	string(hubapi.ScopePlanningRead):      "Consulter le planning",
	string(hubapi.ScopePlanningWrite):     "Modifier le planning",
	string(hubapi.ScopeStatsRead):         "Consulter les statistiques",
	string(hubapi.ScopeAdmin):             "Administrer le compte (clés d'API)",
	string(hubapi.ScopeFinancesRead):      "Consulter les clients, factures et dépenses",
	string(hubapi.ScopeFinancesWrite):     "Créer et modifier les clients, factures et dépenses",
}

// OAuthIssuer returns the issuer of the OAuth server: cfg.OAuthIssuer, or
// https://PublicHost, or http://localhost:<port of Addr> for a local try.
func OAuthIssuer(cfg Config) string {
	if cfg.OAuthIssuer != "" {
		return strings.TrimSuffix(cfg.OAuthIssuer, "/")
	}
	if cfg.PublicHost != "" {
		return "https://" + cfg.PublicHost
	}
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		port = "8080"
	}
	return "http://localhost:" + port
}

// CheckOAuthIssuer accepts "", an https URL, or an http URL on a loopback
// host, without query or fragment.
func CheckOAuthIssuer(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		!(u.Scheme == "https" || u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")) {
		return errors.New("must be an https URL (http only for localhost) without query or fragment")
	}
	return nil
}

// revocationBroadcaster publishes OAuth revocations on the revocation
// channel, inside the announcement envelope ({"oauth": ...}).
type revocationBroadcaster struct{ s *Server }

func (b revocationBroadcaster) Publish(ctx context.Context, payload []byte) error {
	msg, _ := json.Marshal(revocation{OAuth: payload})
	return b.s.revocations.Publish(ctx, msg)
}

// setupOAuth starts the OAuth authorization server: users log in with
// their e-mail and password, and may grant what their role allows.
func (s *Server) setupOAuth(ctx context.Context, cfg Config, log *slog.Logger) error {
	key, err := s.DB.SharedSecret(ctx, oauthSessionKeyName, func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		return fmt.Errorf("oauth session key: %w", err)
	}
	scopes := OAuthScopes()
	op := s.Operator
	oc := oauth.Config{
		DB:     s.DB.DB,
		Issuer: OAuthIssuer(cfg),
		Authenticator: oauth.AuthenticatorFunc(func(ctx context.Context, email, password string) (string, error) {
			u, err := op.CheckPassword(ctx, email, password)
			if err != nil {
				if errors.Is(err, hubapi.ErrUnauthenticated) {
					return "", oauth.ErrBadCredentials
				}
				return "", err
			}
			return strconv.FormatInt(u.ID, 10), nil
		}),
		AllowedScopes: func(ctx context.Context, subject string) ([]string, error) {
			p, err := op.OAuthPrincipal(ctx, subject, "", scopes)
			if err != nil {
				return nil, err
			}
			out := make([]string, len(p.Scopes))
			for i, sc := range p.Scopes {
				out[i] = string(sc)
			}
			return out, nil
		},
		// Users disabled since their consent get no more tokens; read from
		// the database each time (another process may have disabled them).
		Active: func(ctx context.Context, subject string) (bool, error) {
			return userActive(ctx, s.DB, subject)
		},
		ClientAddr: func(r *http.Request) string {
			if a := clientip.FromContext(r.Context()); a.IsValid() {
				return a.String()
			}
			return r.RemoteAddr
		},
		Sealer:         s.Secrets,
		Scopes:         scopes,
		ScopeLabels:    ScopeLabels,
		SessionKey:     key,
		OnFailure:      s.Metrics.OAuthFailure,
		Logger:         log,
		RevocationPoll: cfg.OAuthRevocationPoll,
	}
	if s.revocations != nil {
		oc.Broadcaster = revocationBroadcaster{s}
		oc.RateLimitStore = redisstore.New(s.Redis, "hubchantier:oauth:ratelimit")
	}
	o, err := oauth.New(ctx, oc)
	if err != nil {
		return err
	}
	s.oauth.Store(&oauthState{srv: o, h: o.Handler()})
	return nil
}

type oauthState struct {
	srv *oauth.Server
	h   http.Handler
}

// OAuth returns the OAuth authorization server, or nil until it has
// started (it needs the database).
func (s *Server) OAuth() *oauth.Server {
	if st := s.oauth.Load(); st != nil {
		return st.srv
	}
	return nil
}

// startOAuth starts the OAuth server. A server may start while its
// database is unreachable: the OAuth endpoints answer 503, and OAuth
// access tokens are refused, until it has started in the background.
func (s *Server) startOAuth(ctx context.Context, cfg Config, log *slog.Logger) {
	err := s.setupOAuth(ctx, cfg, log)
	if err == nil {
		return
	}
	log.Warn("OAuth server not started; retrying in the background", slog.String("every", JobStartRetry.String()),
		slog.String("error", err.Error()))
	bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopOAuth = stop
	s.bg.Go(func() {
		t := time.NewTicker(JobStartRetry)
		defer t.Stop()
		for {
			select {
			case <-bctx.Done():
				return
			case <-t.C:
				if err := s.setupOAuth(bctx, cfg, log); err == nil {
					log.Info("OAuth server started")
					return
				}
			}
		}
	})
}

// oauthHandler serves the OAuth endpoints, or 503 until the server has
// started.
func (s *Server) oauthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := s.oauth.Load()
		if st == nil {
			w.Header().Set("Retry-After", "5")
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "unavailable", "The authorization server is starting; try again shortly."))
			return
		}
		st.h.ServeHTTP(w, r)
	})
}

// bearerAuthenticator resolves API keys (hck_...) with the key
// authenticator and every other bearer token as an OAuth access token, to
// the same kind of principal: rate limits, the response cache and audit
// key on it unchanged.
type bearerAuthenticator struct {
	keys  hubapi.Authenticator
	oauth func() *oauth.Server
	op    *service.Operator
}

func (a bearerAuthenticator) Authenticate(ctx context.Context, secret string) (*hubapi.Principal, error) {
	o := a.oauth()
	if o == nil || strings.HasPrefix(secret, hubapi.APIKeyPrefix) {
		return a.keys.Authenticate(ctx, secret)
	}
	t, err := o.ValidateAccessToken(ctx, secret)
	if err != nil {
		return nil, hubapi.ErrUnauthenticated
	}
	return a.op.OAuthPrincipal(ctx, t.Subject, t.ClientID, t.Scopes)
}

// oauthAuthorizations serves the caller's OAuth authorizations
// (hubapi.AuthorizationService).
type oauthAuthorizations struct{ o func() *oauth.Server }

func (a oauthAuthorizations) MyAuthorizations(ctx context.Context) ([]hubapi.OAuthAuthorization, error) {
	p := hubapi.PrincipalFrom(ctx)
	if p == nil {
		return nil, hubapi.ErrUnauthenticated
	}
	o := a.o()
	if o == nil {
		return nil, hubapi.ErrUnavailable
	}
	list, err := o.Authorizations(ctx, strconv.FormatInt(p.UserID, 10))
	if err != nil {
		return nil, err
	}
	return authorizationsOf(list), nil
}

func (a oauthAuthorizations) RevokeMyAuthorization(ctx context.Context, clientID string) error {
	p := hubapi.PrincipalFrom(ctx)
	if p == nil {
		return hubapi.ErrUnauthenticated
	}
	o := a.o()
	if o == nil {
		return hubapi.ErrUnavailable
	}
	err := o.RevokeAuthorization(ctx, strconv.FormatInt(p.UserID, 10), clientID)
	if errors.Is(err, oauth.ErrNotFound) {
		return hubapi.ErrNotFound
	}
	return err
}

// oauthGrants gives the GDPR rights the OAuth grants of a user
// (hubapi.OAuthGrants), once the OAuth server has started.
type oauthGrants struct{ o func() *oauth.Server }

func (g oauthGrants) UserAuthorizations(ctx context.Context, userID int64) ([]hubapi.OAuthAuthorization, error) {
	o := g.o()
	if o == nil {
		return nil, hubapi.ErrUnavailable
	}
	list, err := o.Authorizations(ctx, strconv.FormatInt(userID, 10))
	if err != nil {
		return nil, err
	}
	return authorizationsOf(list), nil
}

func (g oauthGrants) RevokeUser(ctx context.Context, userID int64) error {
	o := g.o()
	if o == nil {
		return hubapi.ErrUnavailable
	}
	return o.ForgetSubject(ctx, strconv.FormatInt(userID, 10))
}

// authorizationsOf converts the OAuth server's authorizations.
func authorizationsOf(list []oauth.Authorization) []hubapi.OAuthAuthorization {
	out := make([]hubapi.OAuthAuthorization, len(list))
	for i, x := range list {
		sc := make([]hubapi.Scope, len(x.Scopes))
		for j, s := range x.Scopes {
			sc[j] = hubapi.Scope(s)
		}
		out[i] = hubapi.OAuthAuthorization{ClientID: x.ClientID, ClientName: x.ClientName, Scopes: sc,
			CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
	}
	return out
}

// OAuthScopes lists the scopes OAuth clients may be registered with.
func OAuthScopes() []string {
	out := make([]string, len(hubapi.AllScopes))
	for i, sc := range hubapi.AllScopes {
		out[i] = string(sc)
	}
	return out
}

// userActive tells whether the user of an OAuth subject exists and is not
// disabled.
func userActive(ctx context.Context, db *store.DB, subject string) (bool, error) {
	id, err := strconv.ParseInt(subject, 10, 64)
	if err != nil || id <= 0 {
		return false, nil
	}
	u, err := store.Get[hubapi.User](ctx, db.DB, id)
	if errors.Is(err, hubapi.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return u.DisabledAt == nil, nil
}

// OpenOAuthAdmin returns the OAuth server on db for administration
// commands (clients), without serving anything: no one can log in through
// it. sealer opens the signing keys (the server's secret keyring). Close
// it after use.
func OpenOAuthAdmin(ctx context.Context, cfg Config, db *store.DB, sealer oauth.Sealer) (*oauth.Server, error) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return oauth.New(ctx, oauth.Config{DB: db.DB, Issuer: OAuthIssuer(cfg), Scopes: OAuthScopes(), SessionKey: key, Sealer: sealer,
		Authenticator: oauth.AuthenticatorFunc(func(context.Context, string, string) (string, error) {
			return "", oauth.ErrBadCredentials
		})})
}
