package server_test

import (
	"fmt"
	"github.com/hubchantier/hubchantier/connectors/example/examplefake"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// v1 prefixes every API path.
const v1 = "/api/v1"

// testMaxUpload is the document size limit of the server under test, small
// so the limits are cheap to exercise.
const testMaxUpload = 64 << 10

// TestAPIv1 drives the REST v1 API over HTTP on every test database. Every
// request and response goes through apitest, which validates it against
// the embedded OpenAPI document; the last subtest checks that every
// documented operation answered at least one valid request with a 2xx.
func TestAPIv1(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		mail := &mailbox{}
		fake := examplefake.New("acme", connectorSecret, 75)
		defer fake.Close()
		oauth := newOAuthVendor()
		defer oauth.Close()
		env := apitest.Start(t, db, apitest.Config{MaxUploadBytes: testMaxUpload, RateLimits: apitest.LiftedRateLimits,
			Configure: func(c *server.Config) {
				c.Notifier = mail
				withConnectors(fake, oauth)(c)
			}})
		// Statistics first: its figures are deltas, but a quiet database
		// keeps the failure messages readable.
		t.Run("stats", func(t *testing.T) { testStats(t, env) })
		t.Run("authentication", func(t *testing.T) { testAuthentication(t, env) })
		t.Run("authorization", func(t *testing.T) { testAuthorization(t, env) })
		t.Run("current user", func(t *testing.T) { testMe(t, env) })
		t.Run("chantiers", func(t *testing.T) { testChantiers(t, env) })
		t.Run("lists", func(t *testing.T) { testLists(t, env) })
		t.Run("fields and cursors", func(t *testing.T) { testFieldsAndCursors(t, env) })
		t.Run("malformed input", func(t *testing.T) { testMalformedInput(t, env) })
		t.Run("conditional writes", func(t *testing.T) { testConditionalWrites(t, env) })
		t.Run("merge patch", func(t *testing.T) { testMergePatch(t, env) })
		t.Run("pointages", func(t *testing.T) { testPointages(t, env) })
		t.Run("documents", func(t *testing.T) { testDocuments(t, env) })
		t.Run("signalements", func(t *testing.T) { testSignalements(t, env) })
		t.Run("affectations and planning", func(t *testing.T) { testPlanning(t, env) })
		t.Run("clients, factures and depenses", func(t *testing.T) { testFinances(t, env) })
		t.Run("admin api keys", func(t *testing.T) { testAPIKeys(t, env) })
		t.Run("api key security", func(t *testing.T) { testKeySecurity(t, env, v1) })
		t.Run("webhooks", func(t *testing.T) { testWebhooks(t, env) })
		t.Run("connectors", func(t *testing.T) { testConnectors(t, env, fake, oauth) })
		t.Run("connector export", func(t *testing.T) { testConnectorExport(t, env) })
		t.Run("audit logs", func(t *testing.T) {
			env.As(hubapi.RoleAdmin).Get(t, v1+"/admin/audit-logs?resource_type=chantiers&limit=5").Expect(200)
		})
		t.Run("batch", func(t *testing.T) {
			rs := sendBatch(t, env.As(hubapi.RoleAdmin), map[string]any{"operations": []any{map[string]any{"method": "GET", "path": "/users/me"}}})
			wantStatuses(t, rs, 200)
		})
		t.Run("oauth access tokens and authorizations", func(t *testing.T) { testOAuth(t, env) })
		t.Run("GDPR rights", func(t *testing.T) { testPrivacy(t, env, mail) })
		t.Run("undocumented paths", func(t *testing.T) { testUndocumented(t, env) })
		t.Run("openapi document", func(t *testing.T) { testOpenAPIEndpoint(t, env) })

		t.Run("every operation answered a valid request with 2xx", func(t *testing.T) {
			for _, op := range env.Coverage().WithoutSuccess() {
				t.Errorf("%s (%s) never answered 2xx", op, op.ID)
			}
			for _, s := range env.Coverage().Unexercised() {
				t.Logf("documented but not exercised: %s", s)
			}
		})
	})
}

var seq atomic.Int64

// uniq returns a short string unique in the test process.
func uniq(prefix string) string { return prefix + strconv.FormatInt(seq.Add(1), 10) }

func idPath(collection string, id int64) string {
	return fmt.Sprintf("%s/%s/%d", v1, collection, id)
}

// newChantier creates a chantier through the API (code, nom and adresse
// filled in unless given).
func newChantier(t testing.TB, c *apitest.Client, fields map[string]any) hubapi.Chantier {
	t.Helper()
	body := map[string]any{"code": uniq("CH-"), "nom": "Chantier de test", "adresse": "1 rue de la Paix"}
	for k, v := range fields {
		body[k] = v
	}
	var ch hubapi.Chantier
	c.Post(t, v1+"/chantiers", body).Expect(201).JSON(&ch)
	return ch
}

func newPointage(t testing.TB, c *apitest.Client, fields map[string]any) hubapi.Pointage {
	t.Helper()
	body := map[string]any{"date": "2026-03-03", "minutes": 60}
	for k, v := range fields {
		body[k] = v
	}
	var p hubapi.Pointage
	c.Post(t, v1+"/pointages", body).Expect(201).JSON(&p)
	return p
}

func newSignalement(t testing.TB, c *apitest.Client, fields map[string]any) hubapi.Signalement {
	t.Helper()
	body := map[string]any{"titre": "Incident"}
	for k, v := range fields {
		body[k] = v
	}
	var s hubapi.Signalement
	c.Post(t, v1+"/signalements", body).Expect(201).JSON(&s)
	return s
}

func newAffectation(t testing.TB, c *apitest.Client, fields map[string]any) hubapi.Affectation {
	t.Helper()
	body := map[string]any{}
	for k, v := range fields {
		body[k] = v
	}
	var a hubapi.Affectation
	c.Post(t, v1+"/affectations", body).Expect(201).JSON(&a)
	return a
}

// listEnvelope is the legacy list body.
type listEnvelope[T any] struct {
	Data       []T `json:"data"`
	Pagination struct {
		Page       int  `json:"page"`
		Limit      int  `json:"limit"`
		Total      int  `json:"total"`
		TotalPages int  `json:"total_pages"`
		HasMore    bool `json:"has_more"`
	} `json:"pagination"`
}

func list[T any](t *testing.T, c *apitest.Client, path string) listEnvelope[T] {
	t.Helper()
	var l listEnvelope[T]
	c.Get(t, path).Expect(200).JSON(&l)
	return l
}

func ids[T any](items []T, id func(*T) int64) []int64 {
	out := make([]int64, len(items))
	for i := range items {
		out[i] = id(&items[i])
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
