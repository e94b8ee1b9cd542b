package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hubchantier/hubchantier/internal/browsertest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/oauth"
)

// In a real browser (headless Chromium), with no script on the pages and
// the strict CSP in force: the login page, then the consent page, then the
// redirect to the client with a code that the client exchanges.
func TestLoginAndConsentInChromium(t *testing.T) {
	bctx := browsertest.New(t)
	e := newEnv(t, testenv.SQLite(t))
	codes := make(chan string, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cb" {
			select {
			case codes <- r.URL.Query().Get("code") + " " + r.URL.Query().Get("state") + " " + r.URL.Query().Get("iss"):
			default:
			}
		}
		_, _ = w.Write([]byte("<!doctype html><title>ok</title><p id=done>Application</p>"))
	}))
	defer cb.Close()
	redirect := cb.URL + "/cb"
	c, secret := e.client(oauth.ClientInput{Name: "Appli navigateur", RedirectURIs: []string{redirect}, Scopes: []string{"chantiers:read"}})

	err := chromedp.Do(bctx,
		chromedp.Navigate(authorizeURL(e.http.URL, c.ID, redirect, "chantiers:read", challengeOf(verifier), "etat-42")),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), userEmail),
		chromedp.SendKeys(chromedp.ID("password"), userPassword),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("approve")),
	)
	if err != nil {
		t.Fatal(err)
	}
	consent, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Fatal(err)
	}
	final, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(consent, "Appli navigateur") || !strings.Contains(consent, "Lire les chantiers") {
		t.Fatalf("consent page: %q", consent)
	}
	if !strings.HasPrefix(final, redirect+"?") {
		t.Fatalf("landed on %q", final)
	}
	var got string
	select {
	case got = <-codes:
	case <-time.After(5 * time.Second):
		t.Fatal("the callback never received the code")
	}
	parts := strings.Split(got, " ")
	if parts[0] == "" || parts[1] != "etat-42" || parts[2] != e.http.URL {
		t.Fatalf("callback got %q", got)
	}
	f := map[string][]string{"grant_type": {"authorization_code"}, "code": {parts[0]}, "redirect_uri": {redirect},
		"code_verifier": {verifier}}
	st, m, _ := e.post("/oauth/token", c.ID, secret, f)
	if st != 200 || m["scope"] != "chantiers:read" {
		t.Fatalf("exchange: %d %v", st, m)
	}
	if _, err := e.srv.ValidateAccessToken(context.Background(), m["access_token"].(string)); err != nil {
		t.Fatal(err)
	}
}
