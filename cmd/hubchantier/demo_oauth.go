package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/oauth"
)

// The OAuth demo: a user who logs in with a password, and a public client
// whose redirect URI nothing listens on (the browser shows the code in its
// address bar).
const (
	demoOAuthEmail    = "utilisateur@demo.hubchantier.fr"
	demoOAuthClient   = "Démo OAuth"
	demoOAuthRedirect = "http://127.0.0.1:8765/callback"
)

type demoOAuth struct {
	password, clientID, verifier, authorizeURL, issuer string
}

// seedDemoOAuth creates the demo user (once), gives it a fresh random
// password, finds or creates the demo client, and prepares a PKCE pair.
func seedDemoOAuth(ctx context.Context, op *service.Operator, o *oauth.Server, issuer string) (*demoOAuth, error) {
	u, err := op.FindUserByEmail(ctx, demoOAuthEmail)
	if errors.Is(err, hubapi.ErrNotFound) {
		u = &hubapi.User{Email: demoOAuthEmail, Nom: "Bernard", Prenom: "Sophie", Role: hubapi.RoleConducteur}
		err = op.CreateUser(ctx, u, "")
	}
	if err != nil {
		return nil, err
	}
	d := &demoOAuth{password: "demo-" + random64(12), verifier: random64(32), issuer: issuer}
	if err := op.SetPassword(ctx, u.ID, d.password); err != nil {
		return nil, err
	}
	clients, err := o.Clients(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range clients {
		if c.Name == demoOAuthClient && c.Public && c.RevokedAt == nil {
			d.clientID = c.ID
		}
	}
	if d.clientID == "" {
		c, _, err := o.CreateClient(ctx, oauth.ClientInput{Name: demoOAuthClient, RedirectURIs: []string{demoOAuthRedirect},
			Scopes: []string{"chantiers:read", "planning:read", "stats:read"}, Public: true})
		if err != nil {
			return nil, err
		}
		d.clientID = c.ID
	}
	sum := sha256.Sum256([]byte(d.verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {d.clientID}, "redirect_uri": {demoOAuthRedirect},
		"scope": {"chantiers:read planning:read"}, "state": {"demo"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	d.authorizeURL = issuer + "/oauth/authorize?" + q.Encode()
	return d, nil
}

func random64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (d *demoOAuth) print(w io.Writer) {
	fmt.Fprintf(w, `OAuth demo: open this address in a browser, log in as %s with the password %s
(new at every start) and approve:
  %s
The browser then goes to %s?code=...&state=demo&iss=... (nothing listens there:
copy the code from the address bar) and exchange it within 10 minutes:
  curl -s %s/oauth/token -d grant_type=authorization_code -d client_id=%s \
    -d redirect_uri=%s -d code_verifier=%s -d code=THE_CODE
Then call the API with the access token: curl -H "Authorization: Bearer THE_TOKEN" %s/api/v1/chantiers
`, demoOAuthEmail, d.password, d.authorizeURL, demoOAuthRedirect, d.issuer, d.clientID, demoOAuthRedirect, d.verifier, d.issuer)
}
