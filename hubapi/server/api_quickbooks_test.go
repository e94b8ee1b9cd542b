package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/quickbooks"
	qbfake "github.com/hubchantier/hubchantier/connectors/quickbooks/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

const qbRealm = "9130357766900516"

// withQuickBooks points the QuickBooks connector (its API and Intuit's
// OAuth endpoints) at the fake.
func withQuickBooks(f *qbfake.Server) func(*server.Config) {
	return func(c *server.Config) {
		reg := connectors.NewRegistry().AllowBaseURLOverride()
		spec := quickbooks.Spec
		o := *spec.OAuth
		o.AuthURL, o.TokenURL = f.URL+"/connect/oauth2", f.URL+"/oauth2/v1/tokens/bearer"
		spec.OAuth = &o
		reg.MustRegister(spec, quickbooks.New)
		c.Connectors = reg
		c.ConnectorOAuth = map[string]service.ConnectorOAuthClient{quickbooks.Type: {ClientID: f.ClientID, ClientSecret: f.ClientSecret,
			RedirectURL: "https://integrator.example/quickbooks/return"}}
		c.ConnectorOptions = func(string) connectors.Options { return connectors.Options{BaseURL: f.URL} }
		c.ConnectorRunner = connectors.RunnerConfig{CallTimeout: 2 * time.Second, CallAttempts: 2,
			Backoff: connectors.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}, MaxInlineWait: 100 * time.Millisecond}
		c.ConnectorJobs = server.ConnectorJobsForTests()
	}
}

// authorizeQuickBooks runs the consent as the browser would: the fake's
// redirect carries code, state and realmId.
func authorizeQuickBooks(t *testing.T, c *apitest.Client, id int64) url.Values {
	t.Helper()
	var auth struct {
		URL string `json:"authorize_url"`
	}
	c.Get(t, v1+"/integrations/quickbooks/authorize?connector_id="+itoa(id)).Expect(200).JSON(&auth)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(auth.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("consent answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

func TestQuickBooksCallbackKeepsTheRealmAndTokensRotate(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		f := qbfake.New("ABkQ2xFakeClientId", "fake-client-secret-0123456789", qbRealm)
		defer f.Close()
		f.ExpiresIn = 600 // under service.AccessTokenMinLife: every use refreshes first
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: withQuickBooks(f)})
		alice := env.As(hubapi.RoleConducteur)
		var c connectorJSON
		alice.Post(t, v1+"/integrations/connectors", map[string]any{"type": "quickbooks", "name": "Compta", "settings": map[string]string{}}).
			Expect(201).JSON(&c)
		check := func() hubapi.ConnectorCheck {
			var out hubapi.ConnectorCheck
			alice.Post(t, v1+"/integrations/connectors/"+itoa(c.ID)+"/check", nil).Expect(200).JSON(&out)
			return out
		}
		if got := check(); got.OK || got.Kind != string(connectors.KindAuth) {
			t.Fatalf("check before the authorization: %+v", got)
		}

		q := authorizeQuickBooks(t, alice, c.ID)
		base := v1 + "/integrations/quickbooks/callback?code=" + url.QueryEscape(q.Get("code")) + "&state=" + url.QueryEscape(q.Get("state"))
		t.Run("a callback without realmId → 422 on realmId, the state kept", func(t *testing.T) {
			alice.Get(t, base).FieldProblem(422, "validation-error", "realmId")
		})
		var done connectorJSON
		alice.Get(t, base+"&realmId="+q.Get("realmId")).Expect(200).JSON(&done)
		var got connectorJSON
		alice.Get(t, v1+"/integrations/connectors/"+itoa(c.ID)).Expect(200).JSON(&got)
		if got.Config.Settings["realm_id"] != qbRealm || got.Version != c.Version+1 {
			t.Fatalf("after the callback: %+v", got.Config)
		}
		if strings.Contains(string(alice.Get(t, v1+"/integrations/connectors/"+itoa(c.ID)).Body), f.RefreshToken()) {
			t.Fatal("the refresh token is shown")
		}

		// Each check refreshes first (the token would expire within a
		// sync): the refresh token rotates and the fake refuses the old
		// one, so a second check passes only if the rotated one was kept.
		for i := range 3 {
			if got := check(); !got.OK {
				t.Fatalf("check %d: %+v", i, got)
			}
		}
		if n := f.Refreshes.Load(); n != 3 {
			t.Fatalf("%d refreshes, want 3", n)
		}
	})
}
