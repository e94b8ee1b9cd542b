package server_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/sage100"
	"github.com/hubchantier/hubchantier/connectors/sage100/sage100fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

const sageKey = "sk_sage_S3CR3T_0123456789"

func withSage(fake *sage100fake.Server) func(*server.Config) {
	return func(c *server.Config) {
		reg := connectors.NewRegistry().AllowBaseURLOverride()
		if err := sage100.Register(reg); err != nil {
			panic(err)
		}
		c.Connectors = reg
		c.ConnectorOptions = func(string) connectors.Options { return connectors.Options{BaseURL: fake.URL} }
		c.ConnectorRunner = connectors.RunnerConfig{CallTimeout: 2 * time.Second, CallAttempts: 2,
			Backoff: connectors.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}, MaxInlineWait: 100 * time.Millisecond}
		c.ConnectorJobs = server.ConnectorJobsForTests()
	}
}

// syncAndWait queues a sync of connector id and waits for its run n (1,
// 2, ...) to end; it returns the run's status.
func syncAndWait(t *testing.T, c *apitest.Client, id int64, runs int) []syncLogJSON {
	t.Helper()
	path := idPath("integrations/connectors", id)
	var logs listEnvelope[syncLogJSON]
	waitForCondition(t, "the sync", func() bool {
		// asked again until it runs: a sync asked for while the job of the
		// previous one is still finishing joins that job
		c.Post(t, path+"/sync", nil).Expect(202)
		c.Get(t, path+"/sync-logs?limit=100").Expect(200).JSON(&logs)
		done := 0
		for _, l := range logs.Data {
			if l.Status == "succeeded" {
				done++
			}
		}
		return done >= runs
	})
	return logs.Data
}

func countRows(t *testing.T, env *apitest.Env, table, where string, args ...any) int {
	t.Helper()
	n, err := env.Server.DB.NewSelect().Table(table).Where(where, args...).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// A Sage 100 connector's syncs fill the chantiers and clients: a rerun
// duplicates nothing and changes nothing, a change at Sage updates its row,
// a sync failing half-way resumes from its checkpoint, and the export of a
// period's validated pointages makes one Sage invoice per chantier, once.
func TestSage100SyncIntoTheDomain(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		fake := sage100fake.New("BIJOU", sageKey, 150, 120)
		defer fake.Close()
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: withSage(fake)})
		admin := env.As(hubapi.RoleAdmin)
		// A chantier created in the product before the first import, with
		// the code of a Sage affaire: adopted, not duplicated.
		pre := newChantier(t, admin, map[string]any{"code": "AFF000003", "budget_cents": 123400})
		var c connectorJSON
		admin.Post(t, v1+"/integrations/connectors", map[string]any{"type": "sage100", "name": "Sage",
			"settings": map[string]string{"api_url": "https://sage.bijou.example/api", "company_id": "BIJOU"},
			"secrets":  map[string]string{"api_key": sageKey}}).Expect(201).JSON(&c)
		var check struct {
			OK bool `json:"ok"`
		}
		admin.Post(t, idPath("integrations/connectors", c.ID)+"/check", nil).Expect(200).JSON(&check)
		if !check.OK {
			t.Fatal("check failed")
		}

		syncAndWait(t, admin, c.ID, 1)
		sageClients := func() int { return countRows(t, env, "clients", "external_source = 'sage100'") }
		sageChantiers := func() int { return countRows(t, env, "chantiers", "code LIKE 'AFF%'") }
		if sageClients() != 150 || sageChantiers() != 120 || countRows(t, env, "external_refs", "connector_id = ?", c.ID) != 270 {
			t.Fatalf("after the first sync: %d clients, %d chantiers", sageClients(), sageChantiers())
		}
		var adopted hubapi.Chantier
		admin.Get(t, idPath("chantiers", pre.ID)).Expect(200).JSON(&adopted)
		if adopted.Nom != "Affaire 3" || adopted.BudgetCents != 123400 || adopted.ClientNom != "Client 1" {
			t.Errorf("adopted chantier %+v", adopted)
		}
		var l listEnvelope[hubapi.Client]
		admin.Get(t, v1+"/clients?ville=Lyon&page=1&limit=1").Expect(200).JSON(&l)
		if l.Pagination.Total != 150 {
			t.Errorf("GET /clients total %d", l.Pagination.Total)
		}

		t.Run("a rerun from the beginning duplicates nothing and writes nothing", func(t *testing.T) {
			if _, err := env.Server.DB.NewUpdate().Table("connectors").Set("state = NULL").Where("id = ?", c.ID).Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
			syncAndWait(t, admin, c.ID, 2)
			if sageClients() != 150 || sageChantiers() != 120 || countRows(t, env, "clients", "version <> 1 AND external_source = 'sage100'") != 0 {
				t.Fatalf("after the rerun: %d clients, %d chantiers", sageClients(), sageChantiers())
			}
		})

		t.Run("a change at Sage updates its row; a new affaire is added", func(t *testing.T) {
			fake.Update("C000009", "intitule", "Neuf Immobilier")
			fake.AddAffaires(1)
			syncAndWait(t, admin, c.ID, 3)
			var cl hubapi.Client
			if err := env.Server.DB.NewSelect().Model(&cl).Where("code = 'C000009'").Scan(context.Background()); err != nil {
				t.Fatal(err)
			}
			if cl.Nom != "Neuf Immobilier" || cl.Version != 2 || sageClients() != 150 || sageChantiers() != 121 {
				t.Fatalf("client %+v; %d clients, %d chantiers", cl, sageClients(), sageChantiers())
			}
		})

		t.Run("a sync failing half-way resumes from its checkpoint: every row once", func(t *testing.T) {
			fake.AddTiers(250)
			fake.SetOnList(func(_ string, n int) {
				if n == 0 {
					fake.Always(sage100fake.Unavailable) // after the first page
				}
			})
			path := idPath("integrations/connectors", c.ID)
			waitForCondition(t, "a failed run", func() bool {
				admin.Post(t, path+"/sync", nil).Expect(202)
				var logs listEnvelope[syncLogJSON]
				admin.Get(t, path+"/sync-logs?limit=100").Expect(200).JSON(&logs)
				for _, l := range logs.Data {
					if l.Status == "failed" {
						return true
					}
				}
				return false
			})
			if n := sageClients(); n != 250 {
				t.Fatalf("%d clients committed before the failure, want 250 (one page)", n)
			}
			fake.SetOnList(nil)
			fake.Always(sage100fake.None)
			waitForCondition(t, "the retried run", func() bool { return sageClients() == 400 })
			if sageChantiers() != 121 || countRows(t, env, "external_refs", "connector_id = ?", c.ID) != 521 {
				t.Fatalf("%d chantiers, %d refs", sageChantiers(), countRows(t, env, "external_refs", "connector_id = ?", c.ID))
			}
		})

		t.Run("export: one Sage invoice per chantier for the validated pointages; exported again, updated", func(t *testing.T) {
			var ch hubapi.Chantier
			if err := env.Server.DB.NewSelect().Model(&ch).Where("code = 'AFF000001'").Scan(context.Background()); err != nil {
				t.Fatal(err)
			}
			worker := env.User(hubapi.RoleCompagnon)
			now := time.Now().UTC()
			for _, p := range []hubapi.Pointage{
				{UserID: worker.ID, ChantierID: ch.ID, Date: hubapi.NewDate(2026, 11, 3), Minutes: 420, Type: hubapi.PointageNormal, Statut: hubapi.PointageValide},
				{UserID: worker.ID, ChantierID: ch.ID, Date: hubapi.NewDate(2026, 11, 4), Minutes: 60, Type: hubapi.PointageNuit, Statut: hubapi.PointageValide},
				{UserID: worker.ID, ChantierID: ch.ID, Date: hubapi.NewDate(2026, 11, 5), Minutes: 600, Type: hubapi.PointageNormal, Statut: hubapi.PointageSoumis},
				{UserID: worker.ID, ChantierID: ch.ID, Date: hubapi.NewDate(2026, 12, 1), Minutes: 600, Type: hubapi.PointageNormal, Statut: hubapi.PointageValide},
			} {
				p.CreatedAt, p.UpdatedAt, p.Version = now, now, 1
				if _, err := env.Server.DB.NewInsert().Model(&p).Exec(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			from, to := hubapi.NewDate(2026, 11, 1), hubapi.NewDate(2026, 11, 30)
			res, err := env.Server.Operator.ExportConnectorFactures(context.Background(), c.ID, from, to)
			if err != nil || res.Items != 1 || res.Records != 1 || res.Stats.Created != 1 {
				t.Fatalf("first export: %+v, %v", res, err)
			}
			var again hubapi.ConnectorExport
			admin.Post(t, idPath("integrations/connectors", c.ID)+"/export", map[string]any{"kind": "factures", "from": "2026-11-01", "to": "2026-11-30"}).
				Expect(200).JSON(&again)
			if !again.OK || again.Items != 1 || again.Created != 0 || again.Unchanged != 1 {
				t.Fatalf("export again through the API: %+v", again)
			}
			admin.Post(t, idPath("integrations/connectors", c.ID)+"/export", map[string]any{"kind": "factures", "from": "2026-11-30", "to": "2026-11-01"}).
				FieldProblem(422, "validation-error", "to")
			docs := fake.Documents()
			if len(docs) != 1 || docs[0]["totalHT"].(float64) != 360 || docs[0]["tiersNumero"] != "C000001" || docs[0]["affaireCode"] != "AFF000001" {
				t.Fatalf("documents at Sage: %v", docs)
			}
			var fs listEnvelope[hubapi.Facture]
			admin.Get(t, v1+"/factures?chantier_id="+itoa(ch.ID)).Expect(200).JSON(&fs)
			if len(fs.Data) != 1 || fs.Data[0].MontantHTCents != 36000 || fs.Data[0].MontantTTCCents != 43200 || fs.Data[0].ExternalID == nil ||
				*fs.Data[0].ExternalID != docs[0]["numero"] || fs.Data[0].ClientID == nil || fs.Data[0].Statut != hubapi.FactureEmise {
				t.Fatalf("factures %+v", fs.Data)
			}
		})
	})
}

// TestSage100SyncScale syncs 10,000 Sage clients into the product, through
// the job, the checkpoints and the imports, on every test database; the
// issue's bound is 30 s. It is a measurement, run on demand:
//
//	HUB_SCALE_SAGE=1 go test ./hubapi/server -run TestSage100SyncScale -v
func TestSage100SyncScale(t *testing.T) {
	if os.Getenv("HUB_SCALE_SAGE") == "" {
		t.Skip("set HUB_SCALE_SAGE=1 to run the 10,000-record sync")
	}
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		fake := sage100fake.New("BIJOU", sageKey, 10_000, 0)
		defer fake.Close()
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: withSage(fake)})
		admin := env.As(hubapi.RoleAdmin)
		var c connectorJSON
		admin.Post(t, v1+"/integrations/connectors", map[string]any{"type": "sage100", "name": "Sage",
			"settings": map[string]string{"api_url": "https://sage.bijou.example/api", "company_id": "BIJOU"},
			"secrets":  map[string]string{"api_key": sageKey}}).Expect(201).JSON(&c)
		start := time.Now()
		logs := syncAndWait(t, admin, c.ID, 1)
		took := time.Since(start)
		if n := countRows(t, env, "clients", "external_source = 'sage100'"); n != 10_000 {
			t.Fatalf("%d clients", n)
		}
		t.Logf("%s: 10,000 records synced into clients in %s (%d runs logged)", db.Name, took.Round(10*time.Millisecond), len(logs))
		if took > 30*time.Second {
			t.Errorf("the sync took %s, over 30 s", took)
		}
	})
}

// testConnectorExport: POST .../export runs an export at once (here a
// period without validated pointages: nothing to send); a type that does
// not export is a conflict.
func testConnectorExport(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	var c connectorJSON
	admin.Post(t, v1+"/integrations/connectors", map[string]any{"type": "sage100", "name": "Sage",
		"settings": map[string]string{"api_url": "https://sage.bijou.example/api", "company_id": "BIJOU"},
		"secrets":  map[string]string{"api_key": sageKey}}).Expect(201).JSON(&c)
	var res hubapi.ConnectorExport
	admin.Post(t, idPath("integrations/connectors", c.ID)+"/export", map[string]any{"kind": "factures", "from": "1999-01-01", "to": "1999-01-31"}).
		Expect(200).JSON(&res)
	if !res.OK || res.Items != 0 {
		t.Errorf("export %+v", res)
	}
	admin.Post(t, idPath("integrations/connectors", c.ID)+"/export", map[string]any{"kind": "paie", "from": "1999-01-01", "to": "1999-01-31"},
		apitest.Invalid()).FieldProblem(422, "validation-error", "kind")
	var ex connectorJSON
	admin.Post(t, v1+"/integrations/connectors", newConnectorBody("ex")).Expect(201).JSON(&ex)
	admin.Post(t, idPath("integrations/connectors", ex.ID)+"/export", map[string]any{"kind": "factures", "from": "1999-01-01", "to": "1999-01-31"}).
		Problem(409, "conflict")
	env.As(hubapi.RoleCompagnon).Post(t, idPath("integrations/connectors", c.ID)+"/export", map[string]any{"kind": "factures", "from": "1999-01-01", "to": "1999-01-31"}).
		Problem(403, "insufficient-scope")
}
