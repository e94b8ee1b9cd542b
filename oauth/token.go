package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/hubchantier/hubchantier/ratelimit"
)

// maxFormBytes bounds the body of the token, revocation and introspection
// requests.
const maxFormBytes = 16 << 10

// oauthError is an error response of RFC 6749 §5.2.
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func errorBody(code, desc string) map[string]string {
	m := map[string]string{"error": code}
	if desc != "" {
		m["error_description"] = desc
	}
	return m
}

func (s *Server) fail(w http.ResponseWriter, endpoint string, e oauthError, basic bool) {
	s.cfg.OnFailure(endpoint, e.code)
	w.Header().Set("Cache-Control", "no-store")
	if e.status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
	}
	writeJSON(w, e.status, errorBody(e.code, e.desc))
}

var (
	errInvalidRequest = func(d string) oauthError { return oauthError{http.StatusBadRequest, "invalid_request", d} }
	errInvalidClient  = oauthError{http.StatusUnauthorized, "invalid_client", "Client authentication failed."}
	errInvalidGrant   = func(d string) oauthError { return oauthError{http.StatusBadRequest, "invalid_grant", d} }
	errServer         = oauthError{http.StatusInternalServerError, "server_error", "The server could not answer; try again later."}
)

// readForm parses a POST form of at most maxFormBytes and rejects repeated
// parameters (RFC 6749 §3.1, §3.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		e := oauthError{http.StatusMethodNotAllowed, "invalid_request", "POST only."}
		return nil, &e
	}
	if mt := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(mt), "application/x-www-form-urlencoded") {
		e := errInvalidRequest("The body must be application/x-www-form-urlencoded.")
		return nil, &e
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		e := errInvalidRequest("The body is not a valid form.")
		return nil, &e
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			e := errInvalidRequest("Parameter " + safeName(k) + " is repeated.")
			return nil, &e
		}
	}
	return r.PostForm, nil
}

// safeName returns a parameter name fit to echo in a description.
func safeName(k string) string {
	if len(k) > 32 || strings.IndexFunc(k, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z') }) >= 0 {
		return "(name)"
	}
	return k
}

// clientCredentials returns the client id and secret of a request:
// client_secret_basic (RFC 6749 §2.3.1, form-encoded inside Basic) or
// client_secret_post, or only client_id for public clients.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool, ok bool) {
	if u, p, has := r.BasicAuth(); has {
		id, err1 := url.QueryUnescape(u)
		secret, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil || form.Get("client_secret") != "" {
			return "", "", true, false
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return "", "", true, false
		}
		return id, secret, true, id != ""
	}
	id = form.Get("client_id")
	return id, form.Get("client_secret"), false, id != ""
}

// authenticateClient authenticates the caller of the token, revocation and
// introspection endpoints. A confidential client must present its secret;
// a public client presents none.
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (*Client, string, bool, error) {
	id, secret, basic, ok := clientCredentials(r, form)
	if !ok {
		return nil, "", basic, oerrors.ErrInvalidClient
	}
	c, err := s.st.client(ctx, id)
	if err != nil {
		return nil, "", basic, err
	}
	if !c.VerifyPassword(secret) {
		return nil, "", basic, oerrors.ErrInvalidClient
	}
	return c, secret, basic, nil
}

// setupLimiter limits /oauth/token per client (by the client id it
// presents, or the caller's address when it presents none).
func (s *Server) setupLimiter() error {
	l, err := ratelimit.New(ratelimit.Config{
		Limits: ratelimit.Limits{Default: []ratelimit.Policy{s.cfg.TokenRateLimit}},
		Store:  s.cfg.RateLimitStore,
		Route:  func(*http.Request) string { return "/oauth/token" },
		Key: func(r *http.Request) (string, bool) {
			if u, _, ok := r.BasicAuth(); ok && u != "" {
				return "oauth-client:" + u, true
			}
			r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
			if err := r.ParseForm(); err == nil && r.PostForm.Get("client_id") != "" {
				return "oauth-client:" + r.PostForm.Get("client_id"), true
			}
			return "oauth-addr:" + r.RemoteAddr, true
		},
		OnExceeded: func(string, string, string) { s.cfg.OnFailure("token", "rate_limited") },
		Logger:     s.log,
	})
	if err != nil {
		return err
	}
	s.limiter = l
	return nil
}

// token is the token endpoint (RFC 6749 §3.2): the authorization_code and
// refresh_token grants only.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	form, ferr := readForm(w, r)
	if ferr != nil {
		s.fail(w, "token", *ferr, false)
		return
	}
	ctx := r.Context()
	client, secret, basic, err := s.authenticateClient(ctx, r, form)
	if err != nil {
		if errors.Is(err, oerrors.ErrInvalidClient) {
			s.fail(w, "token", errInvalidClient, basic)
		} else {
			s.internal(w, r, "token", err)
		}
		return
	}
	var ti oauth2.TokenInfo
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		ti, err = s.exchangeCode(ctx, r, form, client, secret)
	case "refresh_token":
		ti, err = s.refresh(ctx, r, form, client, secret)
	case "":
		s.fail(w, "token", errInvalidRequest("grant_type is required."), false)
		return
	default:
		// Implicit, password and client credentials are never offered.
		s.fail(w, "token", oauthError{http.StatusBadRequest, "unsupported_grant_type", "Only authorization_code and refresh_token are supported."}, false)
		return
	}
	if err == nil && form.Get("grant_type") == "authorization_code" {
		// The code was consumed and tokens issued: a user disabled since
		// the consent gets none of them.
		var ok bool
		if ok, err = s.active(ctx, ti.GetUserID()); err == nil && !ok {
			if err = s.st.RemoveByAccess(ctx, ti.GetAccess()); err == nil {
				err = errInactiveUser
			}
		}
	}
	if err != nil {
		var oe *oauthError
		switch {
		case errors.As(err, &oe):
			s.fail(w, "token", *oe, basic)
		case errors.Is(err, oerrors.ErrInvalidClient):
			s.fail(w, "token", errInvalidClient, basic)
		default:
			if e, ok := grantError(err); ok {
				s.fail(w, "token", e, basic)
				return
			}
			s.internal(w, r, "token", err)
		}
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	body := map[string]any{
		"access_token": ti.GetAccess(),
		"token_type":   "Bearer",
		"expires_in":   int64(ti.GetAccessExpiresIn() / time.Second),
		"scope":        ti.GetScope(),
	}
	if rt := ti.GetRefresh(); rt != "" {
		body["refresh_token"] = rt
	}
	writeJSON(w, http.StatusOK, body)
}

// grantError maps go-oauth2's errors about the grant to invalid_grant. A
// missing verifier is one of them (go-oauth2 answers 500 by default).
func grantError(err error) (oauthError, bool) {
	switch {
	case errors.Is(err, oerrors.ErrInvalidAuthorizeCode), errors.Is(err, oerrors.ErrInvalidCodeChallenge),
		errors.Is(err, oerrors.ErrMissingCodeChallenge), errors.Is(err, oerrors.ErrMissingCodeVerifier),
		errors.Is(err, oerrors.ErrInvalidRedirectURI):
		return errInvalidGrant("The authorization code is invalid, expired, already used, or does not match the redirect URI or the code verifier."), true
	case errors.Is(err, oerrors.ErrInvalidRefreshToken), errors.Is(err, oerrors.ErrExpiredRefreshToken):
		return errInvalidGrant("The refresh token is invalid, expired, revoked or already used."), true
	}
	return oauthError{}, false
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	s.log.ErrorContext(r.Context(), "oauth: "+endpoint+" failed", slog.String("error", err.Error()))
	s.fail(w, endpoint, errServer, false)
}

// exchangeCode runs the authorization_code grant through go-oauth2's
// manager: the store consumes the code atomically, PKCE S256 is checked,
// and the redirect URI must be the one of the authorization request.
func (s *Server) exchangeCode(ctx context.Context, r *http.Request, form url.Values, c *Client, secret string) (oauth2.TokenInfo, error) {
	code, redirect, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	if code == "" || redirect == "" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "code and redirect_uri are required."}
	}
	if verifier == "" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "code_verifier is required (PKCE)."}
	}
	if !validPKCEValue(verifier) {
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "The code verifier is malformed (RFC 7636 §4.1)."}
	}
	// The store consumes only a code of this client: another client cannot
	// burn it.
	ctx = context.WithValue(ctx, codeClientKey{}, c.ID)
	return s.manager.GenerateAccessToken(ctx, oauth2.AuthorizationCode, &oauth2.TokenGenerateRequest{
		ClientID: c.ID, ClientSecret: secret, RedirectURI: redirect, Code: code, CodeVerifier: verifier, Request: r})
}

// refresh runs the refresh_token grant. Before go-oauth2's manager rotates
// the token (the store consumes it atomically), the token must belong to
// the authenticated client and the requested scopes may only narrow.
func (s *Server) refresh(ctx context.Context, r *http.Request, form url.Values, c *Client, _ string) (oauth2.TokenInfo, error) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "refresh_token is required."}
	}
	row, err := s.st.peekRefresh(ctx, rt)
	if err != nil {
		return nil, err
	}
	if row.ClientID != c.ID {
		return nil, &oauthError{http.StatusBadRequest, "invalid_grant", "The refresh token was issued to another client."}
	}
	if ok, err := s.active(ctx, row.Subject); err != nil {
		return nil, err
	} else if !ok {
		return nil, errInactiveUser
	}
	if row.RefreshUsedAt != nil {
		// Reuse: someone else holds a copy. Revoke the whole family.
		if err := s.st.revokeWhere(ctx, "family_id = ?", row.FamilyID); err != nil {
			return nil, err
		}
		return nil, oerrors.ErrInvalidRefreshToken
	}
	scope := row.Scopes
	if req, has := form["scope"]; has {
		granted := strings.Fields(row.Scopes)
		want := strings.Fields(req[0])
		if len(want) == 0 {
			return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "The scope is empty."}
		}
		for _, sc := range want {
			if !slices.Contains(granted, sc) {
				return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "A refresh may only narrow the granted scopes."}
			}
		}
		scope = strings.Join(normalizeScopes(want), " ")
	}
	return s.manager.RefreshAccessToken(ctx, &oauth2.TokenGenerateRequest{ClientID: c.ID, Refresh: rt, Scope: scope, Request: r})
}

type codeClientKey struct{}

// errInactiveUser refuses a grant for a user who may no longer log in.
var errInactiveUser = &oauthError{http.StatusBadRequest, "invalid_grant", "The user may no longer obtain tokens."}

// active tells whether subject may still obtain and use tokens
// (Config.Active; every subject when unset).
func (s *Server) active(ctx context.Context, subject string) (bool, error) {
	if s.cfg.Active == nil {
		return true, nil
	}
	return s.cfg.Active(ctx, subject)
}

func normalizeScopes(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// revoke is the revocation endpoint (RFC 7009). Revoking either token of a
// grant revokes the whole family (access and refresh tokens). Unknown
// tokens and tokens of other clients get 200, as §2.2 requires.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	form, ferr := readForm(w, r)
	if ferr != nil {
		s.fail(w, "revoke", *ferr, false)
		return
	}
	ctx := r.Context()
	client, _, basic, err := s.authenticateClient(ctx, r, form)
	if err != nil {
		if errors.Is(err, oerrors.ErrInvalidClient) {
			s.fail(w, "revoke", errInvalidClient, basic)
		} else {
			s.internal(w, r, "revoke", err)
		}
		return
	}
	tok := form.Get("token")
	if tok == "" {
		s.fail(w, "revoke", errInvalidRequest("token is required."), false)
		return
	}
	row, err := s.st.findToken(ctx, tok)
	if err != nil {
		s.internal(w, r, "revoke", err)
		return
	}
	if row != nil && row.ClientID == client.ID {
		if err := s.st.revokeWhere(ctx, "family_id = ?", row.FamilyID); err != nil {
			s.internal(w, r, "revoke", err)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// introspect is the introspection endpoint (RFC 7662), for authenticated
// clients, about their own tokens: any other token is inactive.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	form, ferr := readForm(w, r)
	if ferr != nil {
		s.fail(w, "introspect", *ferr, false)
		return
	}
	ctx := r.Context()
	client, _, basic, err := s.authenticateClient(ctx, r, form)
	if err != nil {
		if errors.Is(err, oerrors.ErrInvalidClient) {
			s.fail(w, "introspect", errInvalidClient, basic)
		} else {
			s.internal(w, r, "introspect", err)
		}
		return
	}
	tok := form.Get("token")
	if tok == "" {
		s.fail(w, "introspect", errInvalidRequest("token is required."), false)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	row, err := s.st.findToken(ctx, tok)
	if err != nil {
		s.internal(w, r, "introspect", err)
		return
	}
	now := s.st.clock()
	if row == nil || row.ClientID != client.ID || row.RevokedAt != nil {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	isAccess := row.AccessHash == hashSecret(tok)
	exp := row.AccessExpiresAt
	kind := "access_token"
	if !isAccess {
		kind = "refresh_token"
		if row.RefreshUsedAt != nil || row.RefreshExpiresAt == nil {
			writeJSON(w, http.StatusOK, map[string]any{"active": false})
			return
		}
		exp = *row.RefreshExpiresAt
	}
	if !now.Before(exp) {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	if ok, err := s.active(ctx, row.Subject); err != nil {
		s.internal(w, r, "introspect", err)
		return
	} else if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	body := map[string]any{"active": true, "scope": row.Scopes, "client_id": row.ClientID, "sub": row.Subject,
		"exp": exp.Unix(), "iat": row.CreatedAt.Unix(), "iss": s.cfg.Issuer, "token_type": kind}
	if isAccess {
		body["jti"], body["aud"] = row.JTI, s.cfg.Audience
	}
	writeJSON(w, http.StatusOK, body)
}
