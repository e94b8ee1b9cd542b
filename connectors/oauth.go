package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// OAuthSpec is a vendor's OAuth 2 authorization-code flow.
type OAuthSpec struct {
	AuthURL  string
	TokenURL string
	Scopes   []string
	// PKCE: the vendor supports RFC 7636 (S256); the flow then always uses
	// it.
	PKCE bool
	// CallbackSettings are query parameters of the vendor's redirect that
	// the callback requires and keeps as settings of the connector, by
	// parameter name (QuickBooks: "realmId" → "realm_id").
	CallbackSettings map[string]string
	// AuthParams are extra parameters of the authorization URL (Google's
	// prompt=consent, without which a second authorization returns no
	// refresh token).
	AuthParams map[string]string
}

// Config is the oauth2 configuration of the vendor for one client.
func (s OAuthSpec) Config(clientID, clientSecret, redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL, Scopes: s.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: s.AuthURL, TokenURL: s.TokenURL}}
}

// AccessTokenSecret is the runtime secret in which the product hands an
// OAuth connector its fresh access token (never a field of the spec, so a
// user cannot set it).
const AccessTokenSecret = "access_token"

// ErrNoToken is returned by a TokenStore that holds no token for a
// connector (not authorized yet, or revoked).
var ErrNoToken = errors.New("connectors: no OAuth token; authorize the connector")

// TokenStore keeps connectors' OAuth tokens (sealed: see Sealer.SealToken).
type TokenStore interface {
	LoadToken(ctx context.Context, key string) (*oauth2.Token, error)
	SaveToken(ctx context.Context, key string, tok *oauth2.Token) error
}

// Locker serialises work on one key across instances (a row lock, an
// advisory lock): unlock releases it.
type Locker interface {
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// DefaultRefreshBefore is how long before its expiry a token is refreshed.
const DefaultRefreshBefore = 2 * time.Minute

// Tokens hands out fresh OAuth access tokens of connectors: a token about
// to expire is refreshed first, by one caller at a time per connector (a
// mutex in the process, Locker across instances; a caller that waited
// re-reads the token another refreshed), and the new token is stored
// before it is used, so a refresh token rotated by the vendor is never lost.
type Tokens struct {
	Config *oauth2.Config
	Store  TokenStore
	Locker Locker // nil: one instance
	// RefreshBefore (default DefaultRefreshBefore).
	RefreshBefore time.Duration
	// Context carries the HTTP client of the refresh (oauth2.HTTPClient).
	Context context.Context

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (t *Tokens) lockLocal(key string) *sync.Mutex {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.locks == nil {
		t.locks = map[string]*sync.Mutex{}
	}
	m := t.locks[key]
	if m == nil {
		m = &sync.Mutex{}
		t.locks[key] = m
	}
	return m
}

func (t *Tokens) fresh(tok *oauth2.Token) bool {
	before := t.RefreshBefore
	if before <= 0 {
		before = DefaultRefreshBefore
	}
	return tok != nil && tok.AccessToken != "" && (tok.Expiry.IsZero() || time.Until(tok.Expiry) > before)
}

// Token returns a fresh access token of connector key.
func (t *Tokens) Token(ctx context.Context, key string) (*oauth2.Token, error) {
	tok, err := t.Store.LoadToken(ctx, key)
	if err != nil {
		return nil, err
	}
	if t.fresh(tok) {
		return tok, nil
	}
	m := t.lockLocal(key)
	m.Lock()
	defer m.Unlock()
	if t.Locker != nil {
		unlock, err := t.Locker.Lock(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("connectors: locking the token refresh: %w", err)
		}
		defer unlock()
	}
	if tok, err = t.Store.LoadToken(ctx, key); err != nil {
		return nil, err
	}
	if t.fresh(tok) {
		return tok, nil // refreshed by another caller meanwhile
	}
	return t.refreshLocked(ctx, key, tok)
}

// refreshLocked refreshes tok, under the connector's locks, and stores the
// new token before returning it.
func (t *Tokens) refreshLocked(ctx context.Context, key string, tok *oauth2.Token) (*oauth2.Token, error) {
	if tok.RefreshToken == "" {
		return nil, &Error{Kind: KindAuth, Msg: "the OAuth token expired and has no refresh token; authorize the connector again"}
	}
	expired := *tok
	expired.Expiry = time.Unix(1, 0) // force the refresh
	hctx := t.Context
	if hctx == nil {
		hctx = ctx
	}
	nt, err := t.Config.TokenSource(hctx, &expired).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, &Error{Kind: KindAuth, Status: re.Response.StatusCode, Msg: "the vendor refused the refresh token (" + re.ErrorCode + ")"}
		}
		return nil, &Error{Kind: KindUnavailable, Msg: "the token refresh failed"}
	}
	if err := t.Store.SaveToken(ctx, key, nt); err != nil {
		return nil, fmt.Errorf("connectors: storing the refreshed token: %w", err)
	}
	return nt, nil
}

// storedToken is the sealed encoding of a token.
type storedToken struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// SealToken encrypts an OAuth token for connector binding.
func (s *Sealer) SealToken(tok *oauth2.Token, binding string) (string, []byte, error) {
	plain, err := json.Marshal(storedToken{tok.AccessToken, tok.TokenType, tok.RefreshToken, tok.Expiry}) // #nosec G117 -- the plaintext sealed just below, never written elsewhere
	if err != nil {
		return "", nil, err
	}
	defer clear(plain)
	return s.ring.Seal(plain, []byte("connector-token:"+binding))
}

// OpenToken decrypts a token sealed by SealToken; errors wrap ErrKey.
func (s *Sealer) OpenToken(kid string, ciphertext []byte, binding string) (*oauth2.Token, error) {
	plain, err := s.ring.Open(kid, ciphertext, []byte("connector-token:"+binding))
	if err != nil {
		return nil, fmt.Errorf("%w: token sealed with key id %q does not open", ErrKey, kid)
	}
	defer clear(plain)
	var v storedToken
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, fmt.Errorf("%w: not a sealed token", ErrKey)
	}
	return &oauth2.Token{AccessToken: v.AccessToken, TokenType: v.TokenType, RefreshToken: v.RefreshToken, Expiry: v.Expiry}, nil
}

// TokenSource gives a connector the OAuth access token of the connector
// it serves (the product puts it in the context of each call: see
// WithTokenSource).
type TokenSource interface {
	// Token returns a fresh access token.
	Token(ctx context.Context) (*oauth2.Token, error)
	// Refresh returns a new access token after the vendor refused stale
	// (an expired_access_token answer before the expiry we knew). When
	// another caller refreshed meanwhile, its token is returned.
	Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error)
}

type tokenSourceKey struct{}

// WithTokenSource returns ctx carrying ts for the connector's calls.
func WithTokenSource(ctx context.Context, ts TokenSource) context.Context {
	return context.WithValue(ctx, tokenSourceKey{}, ts)
}

// TokenSourceFrom returns the token source of ctx, or nil.
func TokenSourceFrom(ctx context.Context) TokenSource {
	ts, _ := ctx.Value(tokenSourceKey{}).(TokenSource)
	return ts
}

// Source is the TokenSource of connector key.
func (t *Tokens) Source(key string) TokenSource { return keyedSource{t, key} }

type keyedSource struct {
	t   *Tokens
	key string
}

func (s keyedSource) Token(ctx context.Context) (*oauth2.Token, error) { return s.t.Token(ctx, s.key) }

func (s keyedSource) Refresh(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	return s.t.Refresh(ctx, s.key, stale)
}

// Refresh refreshes the token of connector key whatever its expiry, unless
// the stored token is no longer stale (another caller refreshed it).
func (t *Tokens) Refresh(ctx context.Context, key string, stale *oauth2.Token) (*oauth2.Token, error) {
	m := t.lockLocal(key)
	m.Lock()
	defer m.Unlock()
	if t.Locker != nil {
		unlock, err := t.Locker.Lock(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("connectors: locking the token refresh: %w", err)
		}
		defer unlock()
	}
	tok, err := t.Store.LoadToken(ctx, key)
	if err != nil {
		return nil, err
	}
	if stale != nil && tok.AccessToken != stale.AccessToken && t.fresh(tok) {
		return tok, nil
	}
	return t.refreshLocked(ctx, key, tok)
}
