package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/example"
	"github.com/hubchantier/hubchantier/connectors/example/examplefake"
	"github.com/hubchantier/hubchantier/connectors/sage100"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
)

// connectorSecret is the API key of the example vendor in these tests:
// it must never appear in a log, a response, an error or the audit trail.
const connectorSecret = "sk_live_S3CR3T_connector_key_Q9WXYZ"

type connectorJSON struct {
	ID           int64   `json:"id"`
	UserID       int64   `json:"user_id"`
	Type         string  `json:"type"`
	Name         string  `json:"name"`
	Enabled      bool    `json:"enabled"`
	SyncStatus   string  `json:"sync_status"`
	ErrorMessage *string `json:"error_message"`
	Version      int64   `json:"version"`
	Config       *struct {
		Settings map[string]string `json:"settings"`
		Secrets  map[string]string `json:"secrets"`
	} `json:"config"`
}

type syncLogJSON struct {
	Status        string  `json:"status"`
	RecordsSynced int64   `json:"records_synced"`
	ErrorDetails  *string `json:"error_details"`
	CompletedAt   *string `json:"completed_at"`
}

// oauthVendor is a vendor's OAuth 2 token endpoint: it exchanges the code
// "good-code" when the PKCE verifier matches the challenge the test read
// from the authorization URL.
type oauthVendor struct {
	*httptest.Server
	mu        sync.Mutex
	challenge string
	exchanges int
}

func newOAuthVendor() *oauthVendor {
	v := &oauthVendor{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		v.mu.Lock()
		defer v.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/token" || r.Form.Get("grant_type") != "authorization_code" || r.Form.Get("code") != "good-code" ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != v.challenge {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		v.exchanges++
		_, _ = w.Write([]byte(`{"access_token":"vendor-access-S3CR3T","token_type":"Bearer","refresh_token":"vendor-refresh-S3CR3T","expires_in":3600}`))
	}))
	return v
}

// oauthType is a connector type with an OAuth flow (the example connector
// behind the oauthVendor's endpoints).
const oauthType = "example_oauth"

// withConnectors points the example connector at fake, with short
// timeouts and retries (the server's Configure hook); oauth, when set, is
// the vendor of the example_oauth type.
func withConnectors(fake *examplefake.Server, oauth ...*oauthVendor) func(*server.Config) {
	return func(c *server.Config) {
		reg := connectors.NewRegistry().AllowBaseURLOverride()
		if err := example.Register(reg); err != nil {
			panic(err)
		}
		if err := sage100.Register(reg); err != nil {
			panic(err)
		}
		if len(oauth) > 0 {
			spec := example.Spec
			spec.Type = oauthType
			spec.OAuth = &connectors.OAuthSpec{AuthURL: oauth[0].URL + "/authorize", TokenURL: oauth[0].URL + "/token", PKCE: true}
			reg.MustRegister(spec, func(o connectors.Options) (connectors.Connector, error) { return nil, errors.New("not used") })
			c.ConnectorOAuth = map[string]service.ConnectorOAuthClient{oauthType: {ClientID: "hub", ClientSecret: "hub-secret",
				RedirectURL: "https://integrator.example/connected"}}
		}
		c.Connectors = reg
		c.ConnectorOptions = func(string) connectors.Options { return connectors.Options{BaseURL: fake.URL} }
		c.ConnectorRunner = connectors.RunnerConfig{CallTimeout: 2 * time.Second, CallAttempts: 2,
			Backoff: connectors.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}, MaxInlineWait: 100 * time.Millisecond}
		c.ConnectorJobs = server.ConnectorJobsForTests()
	}
}

func newConnectorBody(name string) map[string]any {
	return map[string]any{"type": "example", "name": name, "settings": map[string]string{"account": "acme"},
		"secrets": map[string]string{"api_key": connectorSecret}}
}

// testConnectors drives every connector route: the configuration is sealed
// and shown masked, every read of it is audited, PUT keeps a secret sent
// back masked, a sync runs as a job and leaves a log, another user's
// connector answers 404, bad input is a 4xx problem.
func testConnectors(t *testing.T, env *apitest.Env, fake *examplefake.Server, oauth *oauthVendor) {
	_, aliceKey := env.NewUser(t, hubapi.RoleConducteur)
	_, bobKey := env.NewUser(t, hubapi.RoleConducteur)
	alice, bob, admin := env.WithKey(aliceKey), env.WithKey(bobKey), env.As(hubapi.RoleAdmin)
	compagnon := env.As(hubapi.RoleCompagnon)

	var created connectorJSON
	t.Run("create → 201 with the secret masked, not cacheable", func(t *testing.T) {
		r := alice.Post(t, v1+"/integrations/connectors", newConnectorBody("ERP")).Expect(201)
		r.JSON(&created)
		if bytes.Contains(r.Body, []byte(connectorSecret)) || created.Config == nil || created.Config.Secrets["api_key"] != connectors.Mask+"WXYZ" ||
			created.Config.Settings["account"] != "acme" || created.SyncStatus != "never" || !created.Enabled {
			t.Fatalf("created %s", r.Body)
		}
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Location") != idPath("integrations/connectors", created.ID) {
			t.Errorf("headers %v", r.Header)
		}
	})
	path := idPath("integrations/connectors", created.ID)

	t.Run("GET shows the masked configuration and is audited; lists show none", func(t *testing.T) {
		var got connectorJSON
		r := alice.Get(t, path).Expect(200)
		r.JSON(&got)
		if got.Config == nil || got.Config.Secrets["api_key"] != connectors.Mask+"WXYZ" || bytes.Contains(r.Body, []byte(connectorSecret)) {
			t.Fatalf("GET %s", r.Body)
		}
		var reads int
		if err := env.Server.DB.NewSelect().Table("audit_events").ColumnExpr("count(*)").
			Where("action = ? AND resource_id = ?", "read_connector_config", itoa(created.ID)).Scan(context.Background(), &reads); err != nil {
			t.Fatal(err)
		}
		if reads < 1 {
			t.Fatal("the read of the configuration is not in the audit trail")
		}
		var l listEnvelope[connectorJSON]
		alice.Get(t, v1+"/integrations/connectors").Expect(200).JSON(&l)
		if len(l.Data) != 1 || l.Data[0].ID != created.ID || l.Data[0].Config != nil {
			t.Errorf("list %+v", l.Data)
		}
		admin.Get(t, v1+"/integrations/connectors?user_id="+itoa(created.UserID)+"&type=example").Expect(200).JSON(&l)
		if len(l.Data) != 1 {
			t.Errorf("admin's list: %+v", l.Data)
		}
	})

	t.Run("another user's connector → 404; a compagnon → 403", func(t *testing.T) {
		bob.Get(t, path).Problem(404, "not-found")
		bob.Post(t, path+"/sync", nil).Problem(404, "not-found")
		compagnon.Get(t, v1+"/integrations/connectors").Problem(403, "insufficient-scope")
	})

	t.Run("bad input → 4xx problems, never the secret in them", func(t *testing.T) {
		for _, c := range []struct {
			field string
			body  map[string]any
		}{
			{"type", map[string]any{"type": "nope", "name": "x", "settings": map[string]string{}, "secrets": map[string]string{}}},
			{"secrets.api_key", map[string]any{"type": "example", "name": "x", "settings": map[string]string{"account": "a"}}},
			{"settings.api_key", map[string]any{"type": "example", "name": "x", "settings": map[string]string{"account": "a", "api_key": connectorSecret},
				"secrets": map[string]string{"api_key": connectorSecret}}},
			{"name", map[string]any{"type": "example", "name": " ", "settings": map[string]string{"account": "a"}, "secrets": map[string]string{"api_key": "k"}}},
		} {
			r := alice.Post(t, v1+"/integrations/connectors", c.body)
			r.FieldProblem(422, "validation-error", c.field)
			if bytes.Contains(r.Body, []byte(connectorSecret)) {
				t.Errorf("problem quotes the secret: %s", r.Body)
			}
		}
		alice.Post(t, v1+"/integrations/connectors", map[string]any{"type": "example", "name": "x", "token": "t"}, apitest.Invalid()).Problem(400, "unknown-field")
		alice.Get(t, v1+"/integrations/connectors/abc", apitest.Invalid()).Problem(400, "invalid-id")
	})

	t.Run("PUT keeps a secret sent back masked, replaces a new one; stale If-Match → 412", func(t *testing.T) {
		body := map[string]any{"name": "ERP 2", "settings": map[string]string{"account": "acme"}, "secrets": map[string]string{"api_key": connectors.Mask + "WXYZ"}}
		alice.Put(t, path, body, apitest.IfMatch(`"v9"`)).Problem(412, "precondition-failed")
		var got connectorJSON
		alice.Put(t, path, body, apitest.IfMatch(`"v1"`)).Expect(200).JSON(&got)
		if got.Name != "ERP 2" || got.Version != 2 || got.Config.Secrets["api_key"] != connectors.Mask+"WXYZ" {
			t.Fatalf("PUT: %+v", got)
		}
		alice.Put(t, path, map[string]any{"name": "ERP 2", "type": "other", "settings": map[string]string{"account": "acme"}}).FieldProblem(422, "validation-error", "type")
	})

	t.Run("check → ok against the vendor", func(t *testing.T) {
		var res struct {
			OK   bool   `json:"ok"`
			Kind string `json:"kind"`
		}
		alice.Post(t, path+"/check", nil).Expect(200).JSON(&res)
		if !res.OK {
			t.Fatalf("check: %+v", res)
		}
	})

	t.Run("sync → 202, a job syncs every record and logs the run", func(t *testing.T) {
		var got connectorJSON
		alice.Post(t, path+"/sync", nil).Expect(202).JSON(&got)
		if got.SyncStatus != "queued" && got.SyncStatus != "running" {
			t.Errorf("status %s", got.SyncStatus)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			var logs listEnvelope[syncLogJSON]
			alice.Get(t, path+"/sync-logs").Expect(200).JSON(&logs)
			if len(logs.Data) == 1 && logs.Data[0].Status == "succeeded" {
				if logs.Data[0].RecordsSynced != 75 {
					t.Errorf("log %+v", logs.Data[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no completed sync: %+v", logs.Data)
			}
			time.Sleep(50 * time.Millisecond)
		}
		alice.Get(t, path).Expect(200).JSON(&got)
		if got.SyncStatus != "succeeded" {
			t.Errorf("status after the sync: %s", got.SyncStatus)
		}
	})

	t.Run("OAuth: authorize, then callback by the same user only, once", func(t *testing.T) {
		var oc connectorJSON
		alice.Post(t, v1+"/integrations/connectors", map[string]any{"type": oauthType, "name": "O", "settings": map[string]string{"account": "acme"},
			"secrets": map[string]string{"api_key": "unused-key-000000"}}).Expect(201).JSON(&oc)
		var auth struct {
			URL string `json:"authorize_url"`
		}
		r := alice.Get(t, v1+"/integrations/"+oauthType+"/authorize?connector_id="+itoa(oc.ID)).Expect(200)
		r.JSON(&auth)
		u, err := url.Parse(auth.URL)
		if err != nil || !strings.HasPrefix(auth.URL, oauth.URL+"/authorize?") || u.Query().Get("code_challenge_method") != "S256" ||
			u.Query().Get("client_id") != "hub" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("authorize_url %q", auth.URL)
		}
		state := u.Query().Get("state")
		oauth.mu.Lock()
		oauth.challenge = u.Query().Get("code_challenge")
		oauth.mu.Unlock()
		cb := v1 + "/integrations/" + oauthType + "/callback?code=good-code&state=" + url.QueryEscape(state)
		bob.Get(t, cb).FieldProblem(422, "validation-error", "state") // another user: consumed, refused
		r = alice.Get(t, v1+"/integrations/"+oauthType+"/authorize?connector_id="+itoa(oc.ID)).Expect(200)
		r.JSON(&auth)
		u, _ = url.Parse(auth.URL)
		state = u.Query().Get("state")
		oauth.mu.Lock()
		oauth.challenge = u.Query().Get("code_challenge")
		oauth.mu.Unlock()
		cb = v1 + "/integrations/" + oauthType + "/callback?code=good-code&state=" + url.QueryEscape(state)
		alice.Get(t, cb).Expect(200)
		alice.Get(t, cb).FieldProblem(422, "validation-error", "state") // single use
		alice.Get(t, v1+"/integrations/"+oauthType+"/callback?error=access_denied").FieldProblem(422, "validation-error", "error")
		alice.Get(t, v1+"/integrations/example/authorize?connector_id="+itoa(oc.ID)).Problem(409, "conflict")
		alice.Get(t, v1+"/integrations/"+oauthType+"/authorize", apitest.Invalid()).FieldProblem(400, "invalid-query", "connector_id")
		var sealed []byte
		if err := env.Server.DB.NewSelect().Table("connectors").Column("token_sealed").Where("id = ?", oc.ID).Scan(context.Background(), &sealed); err != nil {
			t.Fatal(err)
		}
		if len(sealed) == 0 || bytes.Contains(sealed, []byte("S3CR3T")) {
			t.Fatal("token not stored sealed")
		}
		oauth.mu.Lock()
		defer oauth.mu.Unlock()
		if oauth.exchanges != 1 {
			t.Fatalf("%d code exchanges, want 1", oauth.exchanges)
		}
	})

	t.Run("DELETE → 204, then 404", func(t *testing.T) {
		alice.Delete(t, path).Expect(204)
		alice.Get(t, path).Problem(404, "not-found")
	})
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The configuration's secret never appears in the server's log (debug
// level), in any response, in the audit trail, in the job queue's rows
// (arguments, errors) nor in the sync logs — through successes, vendor
// failures (503, malformed answers, 401) and refused input.
func TestConnectorSecretNeverLeaks(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		fake := examplefake.New("acme", connectorSecret, 60)
		defer fake.Close()
		var logs syncBuffer
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: withConnectors(fake),
			Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		alice := env.As(hubapi.RoleConducteur)
		var bodies [][]byte
		keep := func(r *apitest.Response) *apitest.Response { bodies = append(bodies, r.Body); return r }

		var c connectorJSON
		keep(alice.Post(t, v1+"/integrations/connectors", newConnectorBody("leak test")).Expect(201)).JSON(&c)
		path := idPath("integrations/connectors", c.ID)
		keep(alice.Get(t, path).Expect(200))
		keep(alice.Get(t, v1+"/integrations/connectors").Expect(200))
		keep(alice.Post(t, path+"/check", nil).Expect(200))
		// A vendor failing: 503 then malformed answers; the sync fails
		// (logged, retried) with the secret nowhere.
		fake.Always(examplefake.Unavailable)
		keep(alice.Post(t, path+"/sync", nil).Expect(202))
		waitForCondition(t, "a failed run", func() bool {
			var n int
			_ = env.Server.DB.NewSelect().Table("connector_sync_logs").ColumnExpr("count(*)").Where("status = 'failed'").Scan(context.Background(), &n)
			return n >= 1
		})
		fake.Always(examplefake.Malformed)
		waitForCondition(t, "a second failed run", func() bool {
			var n int
			_ = env.Server.DB.NewSelect().Table("connector_sync_logs").ColumnExpr("count(*)").Where("status = 'failed'").Scan(context.Background(), &n)
			return n >= 2
		})
		fake.Always(examplefake.None)
		// A refused key: the check says so without quoting it.
		body := newConnectorBody("leak test")
		body["secrets"] = map[string]string{"api_key": connectorSecret + "-revoked"}
		keep(alice.Put(t, path, body).Expect(200))
		keep(alice.Post(t, path+"/check", nil).Expect(200))
		keep(alice.Get(t, path+"/sync-logs").Expect(200))
		// Refused input naming the secret in the wrong place.
		bad := newConnectorBody("x")
		bad["settings"] = map[string]string{"account": "a", "api_key": connectorSecret}
		keep(alice.Post(t, v1+"/integrations/connectors", bad).Expect(422))

		for _, b := range bodies {
			if bytes.Contains(b, []byte(connectorSecret)) || bytes.Contains(b, []byte("S3CR3T")) {
				t.Errorf("a response holds the secret: %s", b)
			}
		}
		env.Server.Close() // flushes the audit writer and the log
		if strings.Contains(logs.String(), "S3CR3T") {
			t.Errorf("the log holds the secret")
		}
		if !strings.Contains(logs.String(), "connector") {
			t.Error("the log says nothing of connectors: the grep proves nothing")
		}
		for _, q := range []string{
			"SELECT CAST(changes AS TEXT) FROM audit_events WHERE changes IS NOT NULL",
			"SELECT CAST(args AS TEXT) || ' ' || CAST(errors AS TEXT) FROM river_job WHERE errors IS NOT NULL",
			"SELECT COALESCE(error_details, '') FROM connector_sync_logs",
		} {
			var rows []string
			if err := env.Server.DB.NewRaw(q).Scan(context.Background(), &rows); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if len(rows) == 0 {
				t.Errorf("%s: no row: the grep proves nothing", q)
			}
			for _, r := range rows {
				if strings.Contains(r, "S3CR3T") {
					t.Errorf("%s: holds the secret: %s", q, r)
				}
			}
		}
	})
}

// A configuration sealed under a key the server does not hold: GET, PUT
// and check answer 503 naming the key id, and nothing is written over it.
func TestConnectorWrongKeyIsClearAndOverwritesNothing(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		fake := examplefake.New("acme", connectorSecret, 5)
		defer fake.Close()
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: withConnectors(fake)})
		alice := env.As(hubapi.RoleConducteur)
		var c connectorJSON
		alice.Post(t, v1+"/integrations/connectors", newConnectorBody("k")).Expect(201).JSON(&c)
		// Re-seal it as another deployment would have: key id "old".
		other, err := connectors.ParseSealer("old:" + secretbox.GenerateKey())
		if err != nil {
			t.Fatal(err)
		}
		kid, sealed, err := other.Seal(connectors.Config{Settings: map[string]string{"account": "acme"}, Secrets: map[string]string{"api_key": connectorSecret}},
			service.ConnectorBinding(c.ID))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := env.Server.DB.NewUpdate().Table("connectors").Set("config_key_id = ?", kid).Set("config_sealed = ?", sealed).
			Where("id = ?", c.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		path := idPath("integrations/connectors", c.ID)
		for _, r := range []*apitest.Response{
			alice.Get(t, path),
			alice.Put(t, path, newConnectorBody("k2")),
			alice.Post(t, path+"/check", nil),
		} {
			p := r.Problem(503, "key-unavailable")
			if !strings.Contains(p.Detail, `"old"`) || !strings.Contains(p.Detail, connectors.EnvKeys) {
				t.Errorf("detail %q", p.Detail)
			}
		}
		var row struct {
			KeyID  string `bun:"config_key_id"`
			Sealed []byte `bun:"config_sealed"`
			Name   string `bun:"name"`
		}
		if err := env.Server.DB.NewSelect().Table("connectors").Column("config_key_id", "config_sealed", "name").Where("id = ?", c.ID).Scan(ctx, &row); err != nil {
			t.Fatal(err)
		}
		if row.KeyID != "old" || !bytes.Equal(row.Sealed, sealed) || row.Name != "k" {
			t.Fatal("the configuration was overwritten")
		}
	})
}

// waitForCondition polls cond (a liveness bound, not a timing assertion).
func waitForCondition(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}
