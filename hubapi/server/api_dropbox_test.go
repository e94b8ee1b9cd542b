package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/dropbox"
	dropboxfake "github.com/hubchantier/hubchantier/connectors/dropbox/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// Dropbox through the server: GET /integrations/dropbox/authorize gives a
// URL asking for offline access with a PKCE challenge; the callback
// exchanges the code with the verifier (a wrong code: 422) and stores the
// tokens sealed; a document created is then uploaded by its delivery job.
// No token appears in a response or a log.
func TestDropboxAuthorizeCallbackThenUpload(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		fake := dropboxfake.New("hub-dropbox-app", "hub-dropbox-app-secret")
		defer fake.Close()
		var logs syncBuffer
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits,
			Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Configure: func(c *server.Config) {
				reg := connectors.NewRegistry().AllowBaseURLOverride()
				spec := dropbox.Spec
				oauth := *spec.OAuth
				oauth.AuthURL, oauth.TokenURL = fake.URL+"/oauth2/authorize", fake.URL+"/oauth2/token"
				spec.OAuth = &oauth
				reg.MustRegister(spec, func(o connectors.Options) (connectors.Connector, error) { return dropbox.New(o, dropbox.Params{}) })
				c.Connectors = reg
				c.ConnectorOAuth = map[string]service.ConnectorOAuthClient{dropbox.Type: {ClientID: "hub-dropbox-app",
					ClientSecret: "hub-dropbox-app-secret", RedirectURL: "https://integrator.example/dropbox"}}
				c.ConnectorOptions = func(string) connectors.Options { return connectors.Options{BaseURL: fake.URL} }
				c.ConnectorJobs = server.ConnectorJobsForTests()
			}})
		admin := env.As(hubapi.RoleAdmin)
		var bodies [][]byte
		var c connectorJSON
		r := admin.Post(t, v1+"/integrations/connectors", map[string]any{"type": dropbox.Type, "name": "Dropbox", "settings": map[string]string{}}).Expect(201)
		r.JSON(&c)
		authorize := func() (state, challenge string) {
			var auth struct {
				URL string `json:"authorize_url"`
			}
			r := admin.Get(t, v1+"/integrations/dropbox/authorize?connector_id="+itoa(c.ID)).Expect(200)
			r.JSON(&auth)
			u, err := url.Parse(auth.URL)
			q := u.Query()
			if err != nil || !strings.HasPrefix(auth.URL, fake.URL+"/oauth2/authorize?") || q.Get("token_access_type") != "offline" ||
				q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") != "hub-dropbox-app" ||
				q.Get("response_type") != "code" {
				t.Fatalf("authorize_url %q", auth.URL)
			}
			return q.Get("state"), q.Get("code_challenge")
		}
		// a code the vendor refuses → 422, nothing stored
		state, challenge := authorize()
		fake.Expect("the-real-code", challenge)
		admin.Get(t, v1+"/integrations/dropbox/callback?code=a-wrong-code&state="+url.QueryEscape(state)).FieldProblem(422, "validation-error", "code")
		// the right code, with the verifier of the challenge
		state, challenge = authorize()
		fake.Expect("the-real-code", challenge)
		bodies = append(bodies, admin.Get(t, v1+"/integrations/dropbox/callback?code=the-real-code&state="+url.QueryEscape(state)).Expect(200).Body)
		bodies = append(bodies, admin.Get(t, idPath("integrations/connectors", c.ID)).Expect(200).Body)
		bodies = append(bodies, admin.Post(t, idPath("integrations/connectors", c.ID)+"/check", nil).Expect(200).Body)
		if !bytes.Contains(bodies[2], []byte(`"ok":true`)) {
			t.Fatalf("check %s", bodies[2])
		}

		svc := env.Server.Service
		var adminID int64
		_ = env.Server.DB.NewSelect().Table("users").Column("id").Where("role = ?", hubapi.RoleAdmin).Order("id").Limit(1).Scan(context.Background(), &adminID)
		ctx := hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: adminID, Role: hubapi.RoleAdmin, Scopes: hubapi.RoleScopes(hubapi.RoleAdmin)})
		ch, err := svc.CreateChantier(ctx, hubapi.ChantierInput{Code: "DBX-1", Nom: "Pont Neuf", Adresse: "quai"})
		if err != nil {
			t.Fatal(err)
		}
		fake.ExpireAccessTokens() // expired before its time: refreshed, then retried
		if _, err := svc.CreateDocument(ctx, hubapi.DocumentInput{ChantierID: ch.ID, Nom: "PV réception.pdf", Categorie: "pv"},
			hubapi.Upload{MimeType: "application/pdf", Body: strings.NewReader("%PDF pv")}); err != nil {
			t.Fatal(err)
		}
		waitForCondition(t, "the upload", func() bool { _, ok := fake.File("/Hub-Chantier/Pont Neuf/pv/PV réception.pdf"); return ok })
		if fake.Counts().Refreshes != 1 {
			t.Fatalf("%d refreshes", fake.Counts().Refreshes)
		}
		for _, b := range append(bodies, []byte(logs.String())) {
			if bytes.Contains(b, []byte("-SECRET")) || bytes.Contains(b, []byte("hub-dropbox-app-secret")) {
				t.Fatalf("a credential leaked: %s", b)
			}
		}
	})
}
