package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/silae"
	silaefake "github.com/hubchantier/hubchantier/connectors/silae/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func withSilae(f *silaefake.Server) func(*server.Config) {
	return func(c *server.Config) {
		reg := connectors.NewRegistry().AllowBaseURLOverride()
		if err := silae.Register(reg); err != nil {
			panic(err)
		}
		c.Connectors = reg
		c.ConnectorOptions = func(string) connectors.Options { return connectors.Options{BaseURL: f.URL} }
		c.ConnectorJobs = server.ConnectorJobsForTests()
	}
}

func silaeBody(codeNuit string) map[string]any {
	return map[string]any{"type": "silae", "name": "Paie", "settings": map[string]string{"company_code": "ACME01", "client_id": "hub",
		"code_normal": "HN", "code_nuit": codeNuit, "code_weekend": "HWE", "code_ferie": "HFER"},
		"secrets": map[string]string{"client_secret": "silae-client-secret-S3CR3T", "subscription_key": "silae-subscription-S3CR3T"}}
}

func TestSilaeExportOnDemand(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		f := silaefake.New("hub", "silae-client-secret-S3CR3T", "silae-subscription-S3CR3T", "ACME01")
		defer f.Close()
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: withSilae(f)})
		admin := env.As(hubapi.RoleAdmin)

		t.Run("an invalid mapping table → 422 on the code", func(t *testing.T) {
			admin.Post(t, v1+"/integrations/connectors", silaeBody("H NUIT")).FieldProblem(422, "validation-error", "settings.code_nuit")
		})
		var c connectorJSON
		admin.Post(t, v1+"/integrations/connectors", silaeBody("HNUIT")).Expect(201).JSON(&c)
		var check hubapi.ConnectorCheck
		admin.Post(t, v1+"/integrations/connectors/"+itoa(c.ID)+"/check", nil).Expect(200).JSON(&check)
		if !check.OK {
			t.Fatalf("check %+v", check)
		}

		// Validated pointages of November 2026, and one not validated.
		ctx := context.Background()
		sdb := env.Server.DB
		now := store.Now()
		ch := &hubapi.Chantier{Code: "CH-SILAE", Nom: "C", Adresse: "1 rue", Ville: "Lyon", CodePostal: "69001", Statut: hubapi.ChantierEnCours,
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if _, err := sdb.NewInsert().Model(ch).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		worker := env.User(hubapi.RoleCompagnon).ID
		ps := []hubapi.Pointage{
			{UserID: worker, ChantierID: ch.ID, Date: hubapi.NewDate(2026, 11, 3), Minutes: 480, Type: hubapi.PointageNormal, Statut: hubapi.PointageValide},
			{UserID: worker, ChantierID: ch.ID, Date: hubapi.NewDate(2026, 11, 4), Minutes: 90, Type: hubapi.PointageNuit, Statut: hubapi.PointageValide},
			{UserID: worker, ChantierID: ch.ID, Date: hubapi.NewDate(2026, 11, 5), Minutes: 600, Type: hubapi.PointageNormal, Statut: hubapi.PointageSoumis},
		}
		for i := range ps {
			ps[i].CreatedAt, ps[i].UpdatedAt, ps[i].Version = now, now, 1
		}
		if _, err := sdb.NewInsert().Model(&ps).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		path := v1 + "/integrations/connectors/" + itoa(c.ID) + "/sync"
		for i := range 2 { // asked twice: replaced, not doubled
			// River completes a finished job a moment after its worker
			// returns; until then a new request joins it: ask again.
			deadline := time.Now().Add(20 * time.Second)
			for f.Imports.Load() < int64(i+1) {
				admin.Post(t, path+"?month=2026-11", nil).Expect(202)
				if time.Now().After(deadline) {
					t.Fatalf("export %d did not arrive", i+1)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		h := f.Hours("ACME01", "2026-11-01")[fmt.Sprint(worker)]
		if h["HN"] != 8 || h["HNUIT"] != 1.5 || len(h) != 2 {
			t.Fatalf("hours at Silae %v", h)
		}
		t.Run("a month not begun, malformed, or asked of another type → 422 on month", func(t *testing.T) {
			admin.Post(t, path+"?month=2999-01", nil).FieldProblem(422, "validation-error", "month")
			admin.Post(t, path+"?month=11-2026", nil).FieldProblem(422, "validation-error", "month")
		})
	})
}
