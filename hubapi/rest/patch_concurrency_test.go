package rest_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// patchers is the number of concurrent PATCH requests on one row.
const patchers = 50

// 50 concurrent PATCHes without If-Match: each is merged onto the current
// row under its lock, so all get 200 (no 412: none sent a precondition),
// the version counts every write, and no patch undoes another's field.
func TestConcurrentUnconditionalPATCHesAllSucceed(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ts, key := startServer(t, tdb)
		res, body := do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-1","nom":"n","adresse":"a"}`)
		if res.StatusCode != 201 {
			t.Fatal(string(body))
		}
		var c hubapi.Chantier
		_ = json.Unmarshal(body, &c)
		// Each of these fields is written by exactly one patch; the other
		// patches all write nom (last writer wins).
		once := []string{
			`{"ville":"Lyon"}`, `{"code_postal":"69001"}`, `{"client_nom":"Eiffage"}`, `{"description":"d"}`,
			`{"budget_cents":5}`, `{"date_debut":"2026-01-05"}`, `{"date_fin":"2026-12-18"}`, `{"latitude":45.7}`,
			`{"longitude":4.8}`, `{"statut":"en_cours"}`, `{"adresse":"2 quai"}`,
		}
		bodies := make([]string, patchers)
		for i := range bodies {
			if i < len(once) {
				bodies[i] = once[i]
			} else {
				bodies[i] = `{"nom":"writer ` + itoa(int64(i)) + `"}`
			}
		}
		codes := make([]int, patchers)
		var wg sync.WaitGroup
		for i, b := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, rb := do(t, ts, key, "PATCH", "/api/v1/chantiers/"+itoa(c.ID), b, "Content-Type", "application/merge-patch+json")
				if r != nil {
					if codes[i] = r.StatusCode; r.StatusCode != 200 {
						t.Errorf("PATCH %s: %d %s", b, r.StatusCode, rb)
					}
				}
			}()
		}
		wg.Wait()
		_, body = do(t, ts, key, "GET", "/api/v1/chantiers/"+itoa(c.ID), "")
		var got hubapi.Chantier
		_ = json.Unmarshal(body, &got)
		if got.Version != 1+patchers {
			t.Errorf("version %d after %d patches (%v)", got.Version, patchers, codes)
		}
		if got.Ville != "Lyon" || got.CodePostal != "69001" || got.ClientNom != "Eiffage" || got.Description != "d" ||
			got.BudgetCents != 5 || got.DateDebut.String() != "2026-01-05" || got.DateFin.String() != "2026-12-18" ||
			got.Latitude == nil || *got.Latitude != 45.7 || got.Longitude == nil || *got.Longitude != 4.8 ||
			got.Statut != hubapi.ChantierEnCours || got.Adresse != "2 quai" || got.Nom == "n" {
			t.Errorf("a patch was lost: %s", body)
		}
	})
}

// 50 concurrent PATCHes carrying the same If-Match: exactly one wins, the
// others get 412 and write nothing.
func TestConcurrentConditionalPATCHesOneWins(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ts, key := startServer(t, tdb)
		res, body := do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-1","nom":"n","adresse":"a"}`)
		if res.StatusCode != 201 {
			t.Fatal(string(body))
		}
		var c hubapi.Chantier
		_ = json.Unmarshal(body, &c)
		etag := res.Header.Get("ETag")
		codes := make([]int, patchers)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, _ := do(t, ts, key, "PATCH", "/api/v1/chantiers/"+itoa(c.ID), `{"description":"writer `+itoa(int64(i))+`"}`,
					"Content-Type", "application/merge-patch+json", "If-Match", etag)
				if r != nil {
					codes[i] = r.StatusCode
				}
			}()
		}
		wg.Wait()
		ok, failed := tally(t, codes)
		if ok != 1 || failed != patchers-1 {
			t.Fatalf("200: %d, 412: %d", ok, failed)
		}
		_, body = do(t, ts, key, "GET", "/api/v1/chantiers/"+itoa(c.ID), "")
		var got hubapi.Chantier
		_ = json.Unmarshal(body, &got)
		if got.Version != 2 {
			t.Errorf("version %d after one winning patch", got.Version)
		}
	})
}
