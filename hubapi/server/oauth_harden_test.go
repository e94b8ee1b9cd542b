package server_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/oauth"
)

// The server's OAuth signing keys are stored sealed under its secret
// keyring, bound to their kid: the row holds no PKCS#8 key.
func TestOAuthSigningKeysSealedWithServerSecrets(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	var rows []struct {
		KID        string `bun:"kid"`
		PrivateKey []byte `bun:"private_key"`
	}
	if err := env.Server.DB.NewSelect().Table("oauth_signing_keys").Column("kid", "private_key").
		Scan(context.Background(), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("%d keys, %v", len(rows), err)
	}
	for _, r := range rows {
		if _, err := x509.ParsePKCS8PrivateKey(r.PrivateKey); err == nil {
			t.Fatal("signing key stored in clear")
		}
		rest, ok := bytes.CutPrefix(r.PrivateKey, []byte("sealed1:"))
		kid, sealed, _ := bytes.Cut(rest, []byte(":"))
		if !ok || string(kid) != env.Server.Secrets.CurrentKeyID() {
			t.Fatalf("not sealed under the current secret key: %q", r.PrivateKey[:min(20, len(r.PrivateKey))])
		}
		der, err := env.Server.Secrets.Open(string(kid), sealed, []byte("oauth-signing-key:"+r.KID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
			t.Fatal(err)
		}
	}
}

// A user disabled after granting access gets no new tokens: the refresh
// is refused with invalid_grant and introspection says inactive.
func TestOAuthDisabledUserGetsNoTokens(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	u := newPasswordUser(t, env.Server, hubapi.RoleConducteur)
	tok, client, secret := oauthFlow(t, env.URL, env.Server.OAuth(), u.Email, "chantiers:read")
	post := func(path string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(client.ID, secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	if st, m := post("/oauth/introspect", url.Values{"token": {tok.AccessToken}}); st != 200 || m["active"] != true {
		t.Fatalf("before: %d %v", st, m)
	}
	if _, err := env.Server.Operator.SetUserDisabled(context.Background(), u.Email, true); err != nil {
		t.Fatal(err)
	}
	if st, m := post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("refresh of a disabled user: %d %v", st, m)
	}
	for _, tk := range []string{tok.AccessToken, tok.RefreshToken} {
		if st, m := post("/oauth/introspect", url.Values{"token": {tk}}); st != 200 || m["active"] != false {
			t.Fatalf("introspection of a disabled user's token: %d %v", st, m)
		}
	}
	if _, err := env.Server.Operator.SetUserDisabled(context.Background(), u.Email, false); err != nil {
		t.Fatal(err)
	}
	if st, m := post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != 200 {
		t.Fatalf("refresh once enabled again: %d %v", st, m)
	}
}

// Five failed passwords for an account block its login page with 429 and
// a French message, before any password check.
func TestOAuthLoginAttemptsLimited(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	u := newPasswordUser(t, env.Server, hubapi.RoleConducteur)
	c, _, err := env.Server.OAuth().CreateClient(context.Background(), oauth.ClientInput{Name: "Appli test",
		RedirectURIs: []string{"http://127.0.0.1:9/cb"}, Scopes: []string{"chantiers:read"}})
	if err != nil {
		t.Fatal(err)
	}
	authURL := env.URL + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {c.ID},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "scope": {"chantiers:read"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode()
	login := func(password string) (int, string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		b := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := b.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		f := url.Values{}
		for _, m := range hiddenField.FindAllStringSubmatch(string(body), -1) {
			f.Set(m[1], html.UnescapeString(m[2]))
		}
		f.Set("action", "login")
		f.Set("email", strings.ToUpper(u.Email))
		f.Set("password", password)
		res, err = b.PostForm(env.URL+"/oauth/authorize", f)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, html.UnescapeString(string(body))
	}
	for i := range 5 {
		if st, _ := login("mauvais mot de passe"); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, st)
		}
	}
	if st, body := login(oauthPassword); st != http.StatusTooManyRequests || !strings.Contains(body, "Trop de tentatives de connexion") {
		t.Fatalf("after five failures: %d %q", st, body)
	}
}
