package oauth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/internal/testenv"
)

// The whole flow with zitadel/oidc's relying party (OpenID Certified), in
// OAuth 2 mode: discovery through RFC 8414 metadata (the issuer must match
// exactly), PKCE S256, the code exchange, then a refresh.
func TestFlowWithCertifiedClientLibrary(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	ctx := context.Background()
	disc, err := client.Discover(ctx, e.http.URL, http.DefaultClient, e.http.URL+"/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: e.conf.ID, ClientSecret: e.secret, RedirectURL: redirectA,
		Scopes:   strings.Fields(testScopes),
		Endpoint: oauth2.Endpoint{AuthURL: disc.AuthorizationEndpoint, TokenURL: disc.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader}}
	party, err := rp.NewRelyingPartyOAuth(conf)
	if err != nil {
		t.Fatal(err)
	}
	const v = "zitadel-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	u := e.login(e.browser(), rp.AuthURL("zstate", party, rp.WithCodeChallenge(oidc.NewSHACodeChallenge(v))))
	if u.Query().Get("state") != "zstate" {
		t.Fatalf("state: %s", u.Redacted())
	}
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, u.Query().Get("code"), party, rp.WithCodeVerifier(v))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ValidateAccessToken(ctx, tokens.AccessToken); err != nil {
		t.Fatal(err)
	}
	next, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, party, tokens.RefreshToken, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tokens.RefreshToken {
		t.Fatal("the refresh token must rotate")
	}
	// The old refresh token is now spent: presenting it again fails.
	if _, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, party, tokens.RefreshToken, "", ""); err == nil {
		t.Fatal("a used refresh token was accepted")
	}
}
