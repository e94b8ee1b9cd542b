package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Client is a registered OAuth client. Its secret is never stored, only
// its hash.
type Client struct {
	ID           string     `json:"client_id"`
	Name         string     `json:"name"`
	RedirectURIs []string   `json:"redirect_uris"`
	Scopes       []string   `json:"scopes"`
	Public       bool       `json:"public"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	secretHash   string
}

// GetID implements oauth2.ClientInfo.
func (c *Client) GetID() string { return c.ID }

// GetSecret implements oauth2.ClientInfo. It is never the secret: secrets
// are verified with VerifyPassword.
func (c *Client) GetSecret() string { return "" }

// GetDomain implements oauth2.ClientInfo: the registered redirect URIs,
// one per line (read by the exact-match validator).
func (c *Client) GetDomain() string { return strings.Join(c.RedirectURIs, "\n") }

// IsPublic implements oauth2.ClientInfo.
func (c *Client) IsPublic() bool { return c.Public }

// GetUserID implements oauth2.ClientInfo.
func (c *Client) GetUserID() string { return "" }

// VerifyPassword implements oauth2.ClientPasswordVerifier: a public client
// has no secret and must present none; a confidential client must present
// its own (compared as hashes, in constant time). An empty secret never
// authenticates a confidential client.
func (c *Client) VerifyPassword(secret string) bool {
	if c.Public {
		return secret == ""
	}
	if secret == "" || c.secretHash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(c.secretHash)) == 1
}

// ClientInput registers a client.
type ClientInput struct {
	Name         string
	RedirectURIs []string
	Scopes       []string
	// Public clients (native and browser apps) have no secret; they are
	// bound to PKCE alone.
	Public bool
}

// ValidationError lists what is wrong with a ClientInput, by field.
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "oauth: invalid client: " + strings.Join(parts, "; ")
}

// checkRedirectURI applies RFC 6749 §3.1.2 and RFC 9700 §2.1: absolute,
// no fragment; https, or http on a loopback host, or a private-use scheme
// (native apps, RFC 8252 §7.1).
func checkRedirectURI(s string) error {
	if s == "" || len(s) > 500 || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n") {
		return errors.New("must be an absolute URI of at most 500 bytes")
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return errors.New("must be an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return errors.New("must not have a fragment")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return errors.New("https URI without host")
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return errors.New("http is allowed only for localhost, 127.0.0.1 and [::1]")
		}
	case "javascript", "data", "file", "vbscript":
		return errors.New("scheme not allowed")
	default:
		if !strings.Contains(u.Scheme, ".") {
			return errors.New("a private-use scheme must be a reversed domain name (com.example.app)")
		}
	}
	return nil
}

// CreateClient registers a client and returns it with its secret (empty
// for a public client), which is shown once and never stored.
func (s *Server) CreateClient(ctx context.Context, in ClientInput) (*Client, string, error) {
	fields := map[string]string{}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 || !utf8.ValidString(in.Name) {
		fields["name"] = "between 1 and 100 characters"
	}
	if len(in.RedirectURIs) == 0 || len(in.RedirectURIs) > 10 {
		fields["redirect_uris"] = "between 1 and 10 redirect URIs"
	}
	for _, u := range in.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			fields["redirect_uris"] = fmt.Sprintf("%.100q: %v", u, err)
			break
		}
	}
	var scopes []string
	for _, sc := range in.Scopes {
		if !slices.Contains(s.scopes, sc) {
			fields["scopes"] = fmt.Sprintf("unknown scope %.64q", sc)
			break
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(in.Scopes) == 0 {
		fields["scopes"] = "at least one scope"
	}
	if len(fields) > 0 {
		return nil, "", &ValidationError{Fields: fields}
	}
	slices.Sort(scopes)
	uris, _ := json.Marshal(in.RedirectURIs)
	now := s.st.clock()
	row := &clientRow{ClientID: "hcc_" + randomToken(16), Name: in.Name, RedirectURIs: string(uris),
		Scopes: strings.Join(scopes, " "), Public: in.Public, CreatedAt: now, UpdatedAt: now}
	secret := ""
	if !in.Public {
		secret = "hcs_" + randomToken(32)
		row.SecretHash = hashSecret(secret)
	}
	if err := s.st.insertClient(ctx, row); err != nil {
		return nil, "", err
	}
	return row.client(), secret, nil
}

// Clients lists every client, revoked ones included (never their secrets).
func (s *Server) Clients(ctx context.Context) ([]*Client, error) { return s.st.listClients(ctx) }

// RevokeClient revokes a client and every token issued to it. Errors:
// ErrNotFound.
func (s *Server) RevokeClient(ctx context.Context, clientID string) error {
	return s.st.revokeClient(ctx, clientID)
}

// Authorization is a client a user has authorised, with the scopes granted.
type Authorization struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Authorizations lists the clients a user has authorised.
func (s *Server) Authorizations(ctx context.Context, subject string) ([]Authorization, error) {
	return s.st.consents(ctx, subject)
}

// RevokeAuthorization forgets a user's consent to a client and revokes
// every token of that user and client, on every instance within
// RevocationPoll (at once with a Broadcaster). Errors: ErrNotFound.
func (s *Server) RevokeAuthorization(ctx context.Context, subject, clientID string) error {
	return s.st.deleteConsent(ctx, subject, clientID)
}

// ForgetSubject revokes every token of a user and forgets their consents
// and pending authorization codes (an erased account): no client holds
// anything of theirs any more. The revocations reach every instance like
// RevokeAuthorization's.
func (s *Server) ForgetSubject(ctx context.Context, subject string) error {
	return s.st.forgetSubject(ctx, subject)
}

// RevokeSubject revokes every token of a user (a disabled account).
func (s *Server) RevokeSubject(ctx context.Context, subject string) error {
	return s.st.revokeWhere(ctx, "subject = ?", subject)
}
