package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

//go:embed pages/pages.html
var pagesHTML string

//go:embed pages/oauth.css
var pagesCSS []byte

var pages = template.Must(template.New("pages").Parse(pagesHTML))

func serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(pagesCSS)
}

// Cookies of the login session and of the CSRF token, scoped to the
// authorization endpoint.
const (
	sessionCookie = "hc_oauth_session"
	csrfCookie    = "hc_oauth_csrf"
	sessionTTL    = time.Hour
	cookiePath    = "/oauth/authorize"
)

// authRequest is a checked authorization request.
type authRequest struct {
	client    *Client
	redirect  string
	state     string
	scopes    []string
	challenge string
}

// validPKCEValue checks a code challenge or verifier: 43 to 128 characters
// of [A-Za-z0-9-._~] (RFC 7636 §4.1, §4.2).
func validPKCEValue(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// authorize is the authorization endpoint (RFC 6749 §3.1): the login page,
// then the consent page, then the redirect with the code, state and iss
// (RFC 9207). Until the client and the redirect URI are known good, errors
// are shown to the user and never redirected.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	var params url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		params = r.URL.Query()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, http.StatusBadRequest, "La requête est illisible.")
			return
		}
		params = r.PostForm
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "Méthode non prise en charge.")
		return
	}
	ctx := r.Context()
	c, err := s.st.client(ctx, params.Get("client_id"))
	if err != nil {
		if errors.Is(err, oerrors.ErrInvalidClient) {
			s.cfg.OnFailure("authorize", "invalid_client")
			s.errorPage(w, http.StatusBadRequest, "Application inconnue : l'identifiant client est absent, inconnu ou révoqué.")
			return
		}
		s.log.ErrorContext(ctx, "oauth: authorize failed", slog.String("error", err.Error()))
		s.errorPage(w, http.StatusInternalServerError, "Le service est momentanément indisponible.")
		return
	}
	redirect := params.Get("redirect_uri")
	if len(params["redirect_uri"]) != 1 || exactRedirectURI(c.GetDomain(), redirect) != nil {
		s.cfg.OnFailure("authorize", "invalid_redirect_uri")
		s.errorPage(w, http.StatusBadRequest, "L'adresse de retour ne correspond à aucune adresse enregistrée pour cette application.")
		return
	}
	req := &authRequest{client: c, redirect: redirect, state: params.Get("state")}
	if e := s.checkAuthRequest(params, req); e != "" {
		s.cfg.OnFailure("authorize", e)
		s.redirectTo(w, r, req, url.Values{"error": {e}})
		return
	}

	subject := s.session(r)
	if r.Method == http.MethodPost {
		if !s.checkCSRF(r, params.Get("csrf")) {
			s.cfg.OnFailure("authorize", "csrf")
			s.errorPage(w, http.StatusBadRequest, "Le formulaire a expiré. Revenez à l'application et recommencez.")
			return
		}
		switch params.Get("action") {
		case "login":
			email := strings.TrimSpace(params.Get("email"))
			keys := s.login.keys(r, email)
			if limited, wait := s.login.blocked(ctx, keys); limited {
				s.tooManyLogins(w, r, req, wait)
				return
			}
			sub, err := s.cfg.Authenticator.Authenticate(ctx, email, params.Get("password"))
			if err != nil {
				if !errors.Is(err, ErrBadCredentials) {
					s.log.ErrorContext(ctx, "oauth: authenticator failed", slog.String("error", err.Error()))
				} else {
					s.login.failed(ctx, keys)
				}
				s.cfg.OnFailure("authorize", "bad_credentials")
				s.loginPage(w, r, req, http.StatusUnauthorized, "E-mail ou mot de passe incorrect.")
				return
			}
			s.setSession(w, sub)
			subject = sub
		case "deny":
			if subject == "" {
				s.loginPage(w, r, req, http.StatusOK, "")
				return
			}
			s.cfg.OnFailure("authorize", "access_denied")
			s.redirectTo(w, r, req, url.Values{"error": {"access_denied"}})
			return
		case "approve":
			if subject == "" {
				s.loginPage(w, r, req, http.StatusOK, "")
				return
			}
			granted, e := s.grantable(ctx, subject, req.scopes)
			if e != "" {
				s.cfg.OnFailure("authorize", e)
				s.redirectTo(w, r, req, url.Values{"error": {e}})
				return
			}
			if err := s.st.saveConsent(ctx, subject, c.ID, granted); err != nil {
				s.log.ErrorContext(ctx, "oauth: saving consent failed", slog.String("error", err.Error()))
				s.errorPage(w, http.StatusInternalServerError, "Le service est momentanément indisponible.")
				return
			}
			s.issueCode(w, r, req, subject, granted)
			return
		default:
			s.errorPage(w, http.StatusBadRequest, "Action inconnue.")
			return
		}
	}
	if subject == "" {
		s.loginPage(w, r, req, http.StatusOK, "")
		return
	}
	granted, e := s.grantable(ctx, subject, req.scopes)
	if e != "" {
		s.cfg.OnFailure("authorize", e)
		s.redirectTo(w, r, req, url.Values{"error": {e}})
		return
	}
	remembered, err := s.st.consent(ctx, subject, c.ID)
	if err != nil {
		s.log.ErrorContext(ctx, "oauth: reading consent failed", slog.String("error", err.Error()))
		s.errorPage(w, http.StatusInternalServerError, "Le service est momentanément indisponible.")
		return
	}
	if covers(remembered, granted) {
		s.issueCode(w, r, req, subject, granted)
		return
	}
	s.consentPage(w, r, req, granted)
}

// checkAuthRequest checks what may be redirected back as an error: the
// response type (code only: no implicit grant), PKCE S256 and the scopes.
func (s *Server) checkAuthRequest(params url.Values, req *authRequest) string {
	for _, v := range params {
		if len(v) > 1 {
			return "invalid_request"
		}
	}
	if len(req.state) > 1024 {
		return "invalid_request"
	}
	switch rt := params.Get("response_type"); rt {
	case "code":
	case "":
		return "invalid_request"
	default:
		return "unsupported_response_type"
	}
	if params.Get("code_challenge_method") != "S256" || !validPKCEValue(params.Get("code_challenge")) {
		return "invalid_request"
	}
	req.challenge = params.Get("code_challenge")
	req.scopes = req.client.Scopes
	if sc, has := params["scope"]; has {
		want := normalizeScopes(strings.Fields(sc[0]))
		if len(want) == 0 {
			return "invalid_scope"
		}
		for _, x := range want {
			if !slices.Contains(req.client.Scopes, x) {
				return "invalid_scope"
			}
		}
		req.scopes = want
	}
	return ""
}

// grantable bounds the requested scopes by what the user may grant.
func (s *Server) grantable(ctx context.Context, subject string, scopes []string) ([]string, string) {
	if s.cfg.AllowedScopes == nil {
		return scopes, ""
	}
	allowed, err := s.cfg.AllowedScopes(ctx, subject)
	if err != nil {
		return nil, "server_error"
	}
	var out []string
	for _, sc := range scopes {
		if slices.Contains(allowed, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, "invalid_scope"
	}
	return out, ""
}

func covers(have, want []string) bool {
	if len(have) == 0 {
		return false
	}
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// issueCode creates the code through go-oauth2's manager (which checks the
// redirect URI again, exactly) and redirects to the client.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, subject string, scopes []string) {
	ti, err := s.manager.GenerateAuthToken(r.Context(), oauth2.Code, &oauth2.TokenGenerateRequest{
		ClientID: req.client.ID, UserID: subject, RedirectURI: req.redirect, Scope: strings.Join(scopes, " "),
		CodeChallenge: req.challenge, CodeChallengeMethod: oauth2.CodeChallengeS256, Request: r})
	if err != nil {
		s.log.ErrorContext(r.Context(), "oauth: issuing a code failed", slog.String("error", err.Error()))
		s.redirectTo(w, r, req, url.Values{"error": {"server_error"}})
		return
	}
	s.redirectTo(w, r, req, url.Values{"code": {ti.GetCode()}})
}

// redirectTo sends the user back to the client's registered redirect URI
// with params, the state and the issuer (RFC 9207).
func (s *Server) redirectTo(w http.ResponseWriter, r *http.Request, req *authRequest, params url.Values) {
	u, err := url.Parse(req.redirect)
	if err != nil { // registered URIs parse; never reached
		s.errorPage(w, http.StatusBadRequest, "Adresse de retour invalide.")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	q.Set("iss", s.cfg.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, u.String(), status)
}

type pageData struct {
	Title, Error, ClientName, CSRF, Action string
	Hidden                                 []hiddenField
	Scopes                                 []scopeLine
}

type hiddenField struct{ Name, Value string }

type scopeLine struct{ Name, Label string }

func (s *Server) hidden(req *authRequest, csrf string) []hiddenField {
	f := []hiddenField{{"client_id", req.client.ID}, {"redirect_uri", req.redirect}, {"response_type", "code"},
		{"scope", strings.Join(req.scopes, " ")}, {"code_challenge", req.challenge},
		{"code_challenge_method", "S256"}, {"csrf", csrf}}
	if req.state != "" {
		f = append(f, hiddenField{"state", req.state})
	}
	return f
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, req *authRequest, status int, msg string) {
	csrf := s.csrfToken(w, r)
	s.render(w, req, status, "login", pageData{Title: "Connexion", Error: msg, ClientName: req.client.Name,
		Action: s.authorizePath(), Hidden: s.hidden(req, csrf)})
}

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request, req *authRequest, granted []string) {
	csrf := s.csrfToken(w, r)
	lines := make([]scopeLine, len(granted))
	for i, sc := range granted {
		label := s.cfg.ScopeLabels[sc]
		if label == "" {
			label = sc
		}
		lines[i] = scopeLine{Name: sc, Label: label}
	}
	s.render(w, req, http.StatusOK, "consent", pageData{Title: "Autorisation", ClientName: req.client.Name,
		Action: s.authorizePath(), Hidden: s.hidden(req, csrf), Scopes: lines})
}

func (s *Server) authorizePath() string { return s.issuerURL.Path + "/oauth/authorize" }

func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	s.render(w, nil, status, "error", pageData{Title: "Demande refusée", Error: msg})
}

// render writes a page with a strict CSP: no script at all, styles from
// our own origin, forms posted only here or (after the redirect) to the
// client's redirect URI.
func (s *Server) render(w http.ResponseWriter, req *authRequest, status int, name string, data pageData) {
	formAction := "'self'"
	if req != nil {
		if src := cspSource(req.redirect); src != "" {
			formAction += " " + src
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, name, data)
}

// cspSource returns the CSP source expression of a redirect URI's origin,
// or "" when it cannot be written safely.
func cspSource(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return ""
	}
	src := u.Scheme + ":"
	if u.Scheme == "http" || u.Scheme == "https" {
		src = u.Scheme + "://" + u.Host
	}
	if strings.ContainsAny(src, " ;,'\"\t\r\n") {
		return ""
	}
	return src
}

func (s *Server) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.cfg.SessionKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) secureCookies() bool { return s.issuerURL.Scheme == "https" }

// setSession sets the login session cookie: subject and expiry, signed.
func (s *Server) setSession(w http.ResponseWriter, subject string) {
	exp := strconv.FormatInt(s.cfg.Now().Add(sessionTTL).Unix(), 10)
	sub := base64.RawURLEncoding.EncodeToString([]byte(subject))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sub + "." + exp + "." + s.mac("session", sub, exp),
		Path: s.authorizePath(), MaxAge: int(sessionTTL / time.Second), HttpOnly: true, Secure: s.secureCookies(),
		SameSite: http.SameSiteLaxMode})
}

// session returns the subject of a valid session cookie, or "".
func (s *Server) session(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(s.mac("session", parts[0], parts[1]))) {
		return ""
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || s.cfg.Now().Unix() >= exp {
		return ""
	}
	sub, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return ""
	}
	return string(sub)
}

// csrfToken returns the form token bound to the CSRF cookie, setting the
// cookie when absent (double-submit, signed).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		v = c.Value
	} else {
		v = randomToken(32)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: s.authorizePath(), HttpOnly: true,
			Secure: s.secureCookies(), SameSite: http.SameSiteStrictMode})
	}
	return s.mac("csrf", v)
}

func (s *Server) checkCSRF(r *http.Request, token string) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || token == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(s.mac("csrf", c.Value)))
}
