package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/ulule/limiter/v3"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/ratelimit"
)

// Lifetimes (feature 5.1 of the product specification).
const (
	CodeTTL         = 10 * time.Minute
	AccessTokenTTL  = time.Hour
	RefreshTokenTTL = 30 * 24 * time.Hour
)

// Defaults of Config.
const (
	DefaultRevocationPoll = time.Second
	DefaultKeyReload      = time.Minute
)

// Authenticator checks a user's credentials on the login page.
type Authenticator interface {
	// Authenticate returns the subject (a stable user id) of the user with
	// that e-mail and password, or ErrBadCredentials.
	Authenticate(ctx context.Context, email, password string) (subject string, err error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, email, password string) (string, error)

// Authenticate implements Authenticator.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, email, password string) (string, error) {
	return f(ctx, email, password)
}

// ErrBadCredentials is returned by an Authenticator for an unknown e-mail,
// a wrong password or a user who may not log in.
var ErrBadCredentials = errors.New("oauth: bad credentials")

// ErrNotFound: no such client or authorization.
var ErrNotFound = errors.New("oauth: not found")

// Broadcaster carries revocations to the other instances of the server
// (for example a Redis pub/sub channel); each of them passes what it
// receives to Server.ReceiveRevocation.
type Broadcaster interface {
	Publish(ctx context.Context, payload []byte) error
}

// Config configures a Server. DB, Issuer, Authenticator, Scopes, Sealer
// and SessionKey are required.
type Config struct {
	// DB holds the package's tables (SchemaSQL), SQLite or PostgreSQL.
	DB bun.IDB
	// Issuer is the server's identifier (RFC 8414 §2): an https URL
	// without query or fragment (http only for localhost), where
	// /oauth/... and /.well-known/oauth-authorization-server are served.
	Issuer string
	// Audience is the aud claim of access tokens and what the bearer
	// validator requires; default Issuer.
	Audience string
	// Authenticator checks the credentials typed on the login page.
	Authenticator Authenticator
	// AllowedScopes, when set, bounds what a user may grant (e.g. what the
	// user's role allows); a consent never grants more.
	AllowedScopes func(ctx context.Context, subject string) ([]string, error)
	// Scopes are the scopes clients may be registered with.
	Scopes []string
	// ScopeLabels describe scopes on the consent page (French).
	ScopeLabels map[string]string
	// Sealer seals the signing private keys stored in the database
	// (AES-256-GCM with secretbox.Keyring), each bound to its key id. A
	// key found in clear is sealed in place at load.
	Sealer Sealer
	// Active, when set, tells whether a user may still obtain and use
	// tokens (false for a disabled user): the token endpoint refuses code
	// exchanges and refreshes for an inactive subject (invalid_grant) and
	// introspection answers active:false for its tokens.
	Active func(ctx context.Context, subject string) (bool, error)
	// LoginRateLimit bounds failed password attempts on the login page
	// per account, keyed by an HMAC of the lowercased e-mail (default
	// DefaultLoginRateLimit: 5 per 15 minutes). Counters live in
	// RateLimitStore. Once reached, the page answers 429 without checking
	// the password.
	LoginRateLimit ratelimit.Policy
	// LoginAddrRateLimit bounds failed password attempts per client
	// address (default DefaultLoginAddrRateLimit).
	LoginAddrRateLimit ratelimit.Policy
	// ClientAddr returns the client address of a request, for the login
	// attempt counters (default: the host of r.RemoteAddr; behind a proxy,
	// the address the proxy reports).
	ClientAddr func(r *http.Request) string
	// SessionKey (at least 32 bytes, shared by every instance) signs the
	// login session and CSRF tokens.
	SessionKey []byte
	// Broadcaster, when set, announces revocations to other instances at
	// once; the database is polled every RevocationPoll in any case.
	Broadcaster Broadcaster
	// RevocationPoll is how often revocations made elsewhere are read from
	// the database (default DefaultRevocationPoll).
	RevocationPoll time.Duration
	// KeyReload is how often signing keys are re-read (default
	// DefaultKeyReload); a token with an unknown kid also triggers it.
	KeyReload time.Duration
	// RateLimitStore holds the /oauth/token counters (default: memory;
	// share a Redis store between instances).
	RateLimitStore limiter.Store
	// TokenRateLimit is the quota of /oauth/token per client (default 10
	// per minute).
	TokenRateLimit ratelimit.Policy
	// OnFailure is told of every refused request: the endpoint
	// ("authorize", "token", "revoke", "introspect", "bearer") and the
	// OAuth error code. Values never include client input.
	OnFailure func(endpoint, code string)
	Logger    *slog.Logger
	// Now is the clock of the store and the validator (tests).
	Now func() time.Time
}

// Server is an OAuth 2 authorization server: the authorization code grant
// with PKCE (S256) and refresh token rotation, on go-oauth2's manager with
// its unsafe defaults closed (see doc.go).
type Server struct {
	cfg       Config
	st        *store
	keys      *keySet
	revoked   *revocationList
	validator *validator
	manager   *manage.Manager
	limiter   *ratelimit.Limiter
	login     *loginLimiter
	log       *slog.Logger
	issuerURL *url.URL
	scopes    []string
	stop      context.CancelFunc
	wg        sync.WaitGroup
}

// New checks cfg, loads (or creates) the signing keys and the revocations
// still in force, and starts the background refresh of both. Call Close.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DB == nil || cfg.Authenticator == nil || len(cfg.Scopes) == 0 || cfg.Sealer == nil {
		return nil, errors.New("oauth: Config.DB, Authenticator, Scopes and Sealer are required")
	}
	iu, err := url.Parse(cfg.Issuer)
	if err != nil || iu.Host == "" || iu.RawQuery != "" || iu.Fragment != "" ||
		!(iu.Scheme == "https" || iu.Scheme == "http" && isLoopback(iu.Hostname())) {
		return nil, fmt.Errorf("oauth: Config.Issuer %q must be an https URL (http only for localhost) without query or fragment", cfg.Issuer)
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("oauth: Config.SessionKey must have at least 32 bytes")
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if cfg.RevocationPoll <= 0 {
		cfg.RevocationPoll = DefaultRevocationPoll
	}
	if cfg.KeyReload <= 0 {
		cfg.KeyReload = DefaultKeyReload
	}
	if cfg.TokenRateLimit.Limit == 0 {
		cfg.TokenRateLimit = ratelimit.PerMinute(10)
	}
	if cfg.LoginRateLimit.Limit <= 0 || cfg.LoginRateLimit.Window < time.Second {
		cfg.LoginRateLimit = DefaultLoginRateLimit
	}
	if cfg.LoginAddrRateLimit.Limit <= 0 || cfg.LoginAddrRateLimit.Window < time.Second {
		cfg.LoginAddrRateLimit = DefaultLoginAddrRateLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnFailure == nil {
		cfg.OnFailure = func(string, string) {}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, issuerURL: iu, revoked: &revocationList{ids: map[string]time.Time{}},
		scopes: slices.Clone(cfg.Scopes)}
	s.st = &store{db: cfg.DB, now: cfg.Now, sealer: cfg.Sealer, onRevoke: s.announce}
	s.keys = &keySet{st: s.st, keep: AccessTokenTTL + 5*time.Minute}
	if err := s.keys.load(ctx); err != nil {
		return nil, err
	}
	s.validator = newValidator(s.keys, cfg.Issuer, cfg.Audience, s.revoked, cfg.Now)
	if err := s.setupManager(); err != nil {
		return nil, err
	}
	if err := s.setupLimiter(); err != nil {
		return nil, err
	}
	s.setupLoginLimiter()
	since := s.st.clock().Add(-AccessTokenTTL - time.Minute)
	rs, err := s.st.revokedSince(ctx, since)
	if err != nil {
		return nil, err
	}
	s.revoked.add(rs)
	bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	s.wg.Go(func() { s.refreshLoop(bctx) })
	return s, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Close stops the background work.
func (s *Server) Close() {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
}

// setupManager configures go-oauth2's manager: exact redirect URIs, code
// and token lifetimes, refresh rotation, our code and JWT generators and
// the hashing store.
func (s *Server) setupManager() error {
	m := manage.NewManager()
	m.SetAuthorizeCodeExp(CodeTTL)
	m.SetAuthorizeCodeTokenCfg(&manage.Config{AccessTokenExp: AccessTokenTTL, RefreshTokenExp: RefreshTokenTTL, IsGenerateRefresh: true})
	m.SetRefreshTokenCfg(&manage.RefreshingConfig{AccessTokenExp: AccessTokenTTL, RefreshTokenExp: RefreshTokenTTL,
		IsGenerateRefresh: true, IsResetRefreshTime: true})
	// The default matches by host suffix: "evil-example.com" would pass for
	// "example.com". A redirect URI must equal a registered one, byte for byte.
	m.SetValidateURIHandler(exactRedirectURI)
	m.MapAuthorizeGenerate(codeGenerator{})
	m.MapAccessGenerate(&jwtGenerator{issuer: s.cfg.Issuer, audience: s.cfg.Audience, keys: s.keys})
	m.MapClientStorage(s.st)
	m.MapTokenStorage(s.st)
	s.manager = m
	return nil
}

// exactRedirectURI implements manage.ValidateURIHandler. registered is the
// client's GetDomain(): its redirect URIs, one per line.
func exactRedirectURI(registered, redirectURI string) error {
	if redirectURI != "" && slices.Contains(strings.Split(registered, "\n"), redirectURI) {
		return nil
	}
	return oerrors.ErrInvalidRedirectURI
}

type codeGenerator struct{}

// Token implements oauth2.AuthorizeGenerate: 256 random bits.
func (codeGenerator) Token(context.Context, *oauth2.GenerateBasic) (string, error) {
	return randomToken(32), nil
}

// refreshLoop reads revocations made by other instances (or the CLI) and
// reloads signing keys.
func (s *Server) refreshLoop(ctx context.Context) {
	poll := time.NewTicker(s.cfg.RevocationPoll)
	defer poll.Stop()
	reload := time.NewTicker(s.cfg.KeyReload)
	defer reload.Stop()
	last := s.st.clock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			start := s.st.clock()
			// Overlap the previous poll: other instances' clocks may lag.
			rs, err := s.st.revokedSince(ctx, last.Add(-5*time.Second))
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "oauth: reading revocations failed", slog.String("error", err.Error()))
				}
				continue
			}
			s.revoked.add(rs)
			last = start
		case <-reload.C:
			if err := s.keys.load(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "oauth: reloading signing keys failed", slog.String("error", err.Error()))
			}
			s.revoked.prune(s.cfg.Now())
			if err := s.st.purge(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "oauth: purging expired codes and tokens failed", slog.String("error", err.Error()))
			}
		}
	}
}

type revocationMessage struct {
	Tokens []revocationEntry `json:"t"`
}

type revocationEntry struct {
	JTI string `json:"j"`
	Exp int64  `json:"e"`
}

// announce applies a revocation here and broadcasts it.
func (s *Server) announce(ctx context.Context, rs []revokedToken) {
	s.revoked.add(rs)
	if s.cfg.Broadcaster == nil {
		return
	}
	msg := revocationMessage{Tokens: make([]revocationEntry, len(rs))}
	for i, r := range rs {
		msg.Tokens[i] = revocationEntry{JTI: r.JTI, Exp: r.ExpiresAt.Unix()}
	}
	payload, _ := json.Marshal(msg)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.cfg.Broadcaster.Publish(pctx, payload); err != nil {
		s.log.WarnContext(ctx, "oauth: revocation broadcast failed; other instances see it at their next poll",
			slog.String("error", err.Error()))
	}
}

// MaxRevocationMessage bounds the payloads ReceiveRevocation accepts.
const MaxRevocationMessage = 1 << 20

// ReceiveRevocation applies a revocation announced by another instance
// (what its Broadcaster published). Malformed payloads are ignored.
func (s *Server) ReceiveRevocation(payload []byte) error {
	if len(payload) > MaxRevocationMessage {
		return errors.New("oauth: revocation message too large")
	}
	var msg revocationMessage
	if err := json.Unmarshal(payload, &msg); err != nil {
		return fmt.Errorf("oauth: malformed revocation message: %w", err)
	}
	rs := make([]revokedToken, 0, len(msg.Tokens))
	for _, t := range msg.Tokens {
		if t.JTI != "" && len(t.JTI) <= 64 {
			rs = append(rs, revokedToken{JTI: t.JTI, ExpiresAt: time.Unix(t.Exp, 0)})
		}
	}
	s.revoked.add(rs)
	return nil
}

// ValidateAccessToken checks an access token: signature (ES256 only, with
// a known kid), typ at+jwt, iss, aud, exp, nbf, iat, and that it is not
// revoked. No database round trip: revocations arrive by broadcast and by
// polling. Errors: ErrInvalidToken, ErrRevokedToken.
func (s *Server) ValidateAccessToken(ctx context.Context, token string) (*Token, error) {
	return s.validator.validate(ctx, token)
}

// Handler serves /oauth/authorize, /oauth/token, /oauth/revoke,
// /oauth/introspect, /oauth/jwks.json, /oauth/static/ and
// /.well-known/oauth-authorization-server.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/authorize", s.authorize)
	mux.Handle("/oauth/token", s.limiter.Middleware(http.HandlerFunc(s.token)))
	mux.HandleFunc("/oauth/revoke", s.revoke)
	mux.HandleFunc("/oauth/introspect", s.introspect)
	mux.HandleFunc("/oauth/jwks.json", s.jwks)
	mux.HandleFunc("/oauth/static/oauth.css", serveCSS)
	mux.HandleFunc("/.well-known/oauth-authorization-server", s.metadata)
	return mux
}

// Paths lists the paths Handler serves, for routers that register them one
// by one.
func Paths() []string {
	return []string{"/oauth/authorize", "/oauth/token", "/oauth/revoke", "/oauth/introspect",
		"/oauth/jwks.json", "/oauth/static/oauth.css", "/.well-known/oauth-authorization-server"}
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody("invalid_request", "GET only."))
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.keys.document())
}

// metadata serves RFC 8414 authorization server metadata.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody("invalid_request", "GET only."))
		return
	}
	iss := s.cfg.Issuer
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         iss + "/oauth/authorize",
		"token_endpoint":                                 iss + "/oauth/token",
		"revocation_endpoint":                            iss + "/oauth/revoke",
		"introspection_endpoint":                         iss + "/oauth/introspect",
		"jwks_uri":                                       iss + "/oauth/jwks.json",
		"scopes_supported":                               s.scopes,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          auth,
		"revocation_endpoint_auth_methods_supported":     auth,
		"introspection_endpoint_auth_methods_supported":  auth,
		"authorization_response_iss_parameter_supported": true,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
