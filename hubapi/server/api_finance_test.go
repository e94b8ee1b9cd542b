package server_test

import (
	"fmt"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

// testFinances drives /clients, /factures and /depenses (v1).
func testFinances(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	cond := env.As(hubapi.RoleConducteur)
	chef := env.As(hubapi.RoleChefChantier)
	worker := env.As(hubapi.RoleCompagnon)
	ch := newChantier(t, admin, nil)

	var cl hubapi.Client
	t.Run("client: create with only nom → 201, trimmed, no vendor reference", func(t *testing.T) {
		r := cond.Post(t, v1+"/clients", map[string]any{"nom": "  Dupont Immobilier ", "ville": "Paris", "siret": "732 829 320 00074"}).Expect(201)
		r.JSON(&cl)
		if cl.Nom != "Dupont Immobilier" || cl.Siret != "73282932000074" || cl.ExternalID != nil || cl.Version != 1 ||
			r.Header.Get("Location") != idPath("clients", cl.ID) || r.ETag() != `"v1"` {
			t.Errorf("created %+v (%s)", cl, r.ETag())
		}
	})

	t.Run("client: invalid values → 422 naming the member", func(t *testing.T) {
		admin.Post(t, v1+"/clients", map[string]any{"nom": "X", "email": "nope"}).FieldProblem(422, "validation-error", "email")
		admin.Post(t, v1+"/clients", map[string]any{"nom": "X", "external_source": "sage100"}).FieldProblem(422, "validation-error", "external_id")
		admin.Post(t, v1+"/clients", map[string]any{"nom": "", "code": "A"}, apitest.Invalid()).FieldProblem(422, "validation-error", "nom")
	})

	t.Run("chefs de chantier and compagnons may not read the accounting → 403", func(t *testing.T) {
		chef.Get(t, v1+"/clients").Problem(403, "insufficient-scope")
		worker.Get(t, idPath("factures", 1)).Problem(403, "insufficient-scope")
		worker.Post(t, v1+"/depenses", map[string]any{"date": "2026-11-02", "libelle": "x", "montant_cents": 1}).Problem(403, "insufficient-scope")
	})

	var f hubapi.Facture
	t.Run("facture: TTC is HT + TVA, statut defaults to brouillon", func(t *testing.T) {
		admin.Post(t, v1+"/factures", map[string]any{"chantier_id": ch.ID, "client_id": cl.ID, "montant_ht_cents": 100000, "tva_cents": 20000,
			"periode_debut": "2026-11-01", "periode_fin": "2026-11-30", "numero": "FA-1"}).Expect(201).JSON(&f)
		if f.MontantTTCCents != 120000 || f.Statut != hubapi.FactureBrouillon || f.ClientID == nil || *f.ClientID != cl.ID ||
			f.PeriodeDebut.String() != "2026-11-01" {
			t.Errorf("created %+v", f)
		}
	})

	t.Run("facture: unknown chantier or client → 422; period backwards → 422", func(t *testing.T) {
		admin.Post(t, v1+"/factures", map[string]any{"chantier_id": 987654321, "montant_ht_cents": 1, "tva_cents": 0}).
			FieldProblem(422, "validation-error", "chantier_id")
		admin.Post(t, v1+"/factures", map[string]any{"chantier_id": ch.ID, "client_id": 987654321, "montant_ht_cents": 1, "tva_cents": 0}).
			FieldProblem(422, "validation-error", "client_id")
		admin.Post(t, v1+"/factures", map[string]any{"chantier_id": ch.ID, "montant_ht_cents": 1, "tva_cents": 0,
			"periode_debut": "2026-11-30", "periode_fin": "2026-11-01"}).FieldProblem(422, "validation-error", "periode_fin")
	})

	t.Run("facture: patch recomputes TTC; stale If-Match → 412, nothing written", func(t *testing.T) {
		var got hubapi.Facture
		admin.Patch(t, idPath("factures", f.ID), map[string]any{"tva_cents": 5500, "statut": "emise"}, apitest.IfMatch(`"v1"`)).Expect(200).JSON(&got)
		if got.MontantTTCCents != 105500 || got.Version != 2 || got.Statut != hubapi.FactureEmise {
			t.Errorf("patched %+v", got)
		}
		admin.Patch(t, idPath("factures", f.ID), map[string]any{"statut": "payee"}, apitest.IfMatch(`"v1"`)).Problem(412, "precondition-failed")
		admin.Get(t, idPath("factures", f.ID)).Expect(200).JSON(&got)
		if got.Statut != hubapi.FactureEmise {
			t.Errorf("the stale write changed the statut to %s", got.Statut)
		}
	})

	t.Run("client named by a facture: delete → 409; facture first, then the client → 204", func(t *testing.T) {
		admin.Delete(t, idPath("clients", cl.ID)).Problem(409, "conflict")
		var read hubapi.Client
		if r := admin.Get(t, idPath("clients", cl.ID)).Expect(200).JSON(&read); read.Nom != cl.Nom || r.ETag() != `"v1"` {
			t.Errorf("read %+v", read)
		}
		var put hubapi.Facture
		admin.Put(t, idPath("factures", f.ID), map[string]any{"chantier_id": ch.ID, "montant_ht_cents": 100, "tva_cents": 20, "statut": "emise",
			"external_source": "sage100", "external_id": "FA0001"}).Expect(200).JSON(&put)
		if put.ClientID != nil || put.MontantTTCCents != 120 || put.ExternalID == nil || *put.ExternalID != "FA0001" {
			t.Errorf("replaced %+v", put)
		}
		admin.Patch(t, idPath("factures", f.ID), map[string]any{"client_id": cl.ID}).Expect(200)
		c2 := hubapi.Client{}
		admin.Post(t, v1+"/clients", map[string]any{"nom": "Éphémère"}).Expect(201).JSON(&c2)
		admin.Put(t, idPath("clients", c2.ID), map[string]any{"nom": "Éphémère SA", "code": "EPH"}).Expect(200)
		admin.Delete(t, idPath("clients", c2.ID), apitest.IfMatch(`"v2"`)).Expect(204)
		admin.Get(t, idPath("clients", c2.ID)).Problem(404, "not-found")
	})

	t.Run("depenses: list by chantier and dates, total from the counters, fields", func(t *testing.T) {
		c2 := newChantier(t, admin, nil)
		var d1 hubapi.Depense
		cond.Post(t, v1+"/depenses", map[string]any{"chantier_id": c2.ID, "date": "2026-11-02", "libelle": "Location nacelle",
			"fournisseur": "Loxam", "montant_cents": 48000}).Expect(201).JSON(&d1)
		cond.Post(t, v1+"/depenses", map[string]any{"chantier_id": c2.ID, "date": "2026-12-02", "libelle": "Béton", "montant_cents": 90000}).Expect(201)
		cond.Post(t, v1+"/depenses", map[string]any{"date": "2026-11-03", "libelle": "Non affectée", "montant_cents": 1}).Expect(201)
		l := list[hubapi.Depense](t, cond, v1+"/depenses?chantier_id="+itoa(c2.ID)+"&date_from=2026-11-01&date_to=2026-11-30&page=1")
		if len(l.Data) != 1 || l.Data[0].ID != d1.ID || l.Pagination.Total != 1 {
			t.Errorf("list %+v total %d", l.Data, l.Pagination.Total)
		}
		all := list[hubapi.Depense](t, cond, v1+"/depenses?page=1&limit=1")
		if all.Pagination.Total < 3 || len(all.Data) != 1 {
			t.Errorf("total %d", all.Pagination.Total)
		}
		var sel struct {
			Data []map[string]any `json:"data"`
		}
		cond.Get(t, v1+"/depenses?chantier_id="+itoa(c2.ID)+"&fields=id,montant_cents&sort=-montant_cents").Expect(200).JSON(&sel)
		if len(sel.Data) != 2 || len(sel.Data[0]) != 2 || sel.Data[0]["montant_cents"].(float64) != 90000 {
			t.Errorf("selection %+v", sel.Data)
		}
		cond.Get(t, v1+"/depenses?sort=libelle", apitest.Invalid()).FieldProblem(400, "invalid-query", "sort")
		cond.Put(t, idPath("depenses", d1.ID), map[string]any{"date": "2026-11-02", "libelle": "Location nacelle 2j", "montant_cents": 96000}).Expect(200)
		var got hubapi.Depense
		cond.Patch(t, idPath("depenses", d1.ID), map[string]any{"chantier_id": nil}, apitest.IfMatch(`"v2"`)).Expect(200).JSON(&got)
		if got.ChantierID != nil || got.MontantCents != 96000 || got.Version != 3 {
			t.Errorf("patched %+v", got)
		}
		cond.Delete(t, idPath("depenses", d1.ID)).Expect(204)
	})

	t.Run("a cached list sees the write that follows", func(t *testing.T) {
		before := list[hubapi.Client](t, admin, v1+"/clients?ville=Lyon")
		var c hubapi.Client
		admin.Post(t, v1+"/clients", map[string]any{"nom": "Lyonnaise", "ville": "Lyon"}).Expect(201).JSON(&c)
		after := list[hubapi.Client](t, admin, v1+"/clients?ville=Lyon")
		if len(after.Data) != len(before.Data)+1 {
			t.Errorf("list before %d, after %d", len(before.Data), len(after.Data))
		}
		admin.Patch(t, idPath("clients", c.ID), map[string]any{"telephone": "04 72 00 00 00"}).Expect(200)
		list[hubapi.Facture](t, admin, v1+"/factures?client_id="+itoa(cl.ID)+"&statut=emise")
		var d hubapi.Depense
		admin.Post(t, v1+"/depenses", map[string]any{"date": "2026-11-09", "libelle": "Sable", "montant_cents": 500}).Expect(201).JSON(&d)
		var sel map[string]any
		if admin.Get(t, idPath("depenses", d.ID)+"?fields=id,libelle").Expect(200).JSON(&sel); len(sel) != 2 || sel["libelle"] != "Sable" {
			t.Errorf("selection %v", sel)
		}
		admin.Delete(t, idPath("factures", f.ID)).Expect(204)
	})
}

// testFinancesV2 drives every operation of the accounting resources in v2.
func testFinancesV2(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	ch := newChantierV2(t, admin)
	var cl struct {
		ID             int64   `json:"id"`
		Name           string  `json:"name"`
		Phone          string  `json:"phone"`
		ExternalSource *string `json:"externalSource"`
	}
	admin.Post(t, v2+"/clients", map[string]any{"name": "Client v2", "phone": "0102030405", "externalSource": "sage100", "externalId": "C1"}).Expect(201).JSON(&cl)
	if cl.Name != "Client v2" || cl.ExternalSource == nil || *cl.ExternalSource != "sage100" {
		t.Errorf("v2 client %+v", cl)
	}
	var fa struct {
		ID                 int64 `json:"id"`
		AmountInclTaxCents int64 `json:"amountInclTaxCents"`
	}
	admin.Post(t, v2+"/factures", map[string]any{"chantierId": ch, "clientId": cl.ID, "amountExclTaxCents": 1000, "vatCents": 200, "number": "V2-1"}).Expect(201).JSON(&fa)
	if fa.AmountInclTaxCents != 1200 {
		t.Errorf("v2 facture %+v", fa)
	}
	var de struct {
		ID          int64 `json:"id"`
		AmountCents int64 `json:"amountCents"`
	}
	admin.Post(t, v2+"/depenses", map[string]any{"chantierId": ch, "date": "2026-11-05", "label": "Gravier", "supplier": "Point P", "amountCents": 1234}).Expect(201).JSON(&de)
	for _, x := range []struct {
		name string
		id   int64
		put  map[string]any
	}{
		{"clients", cl.ID, map[string]any{"name": "Client v2 bis"}},
		{"factures", fa.ID, map[string]any{"chantierId": ch, "amountExclTaxCents": 2000, "vatCents": 400}},
		{"depenses", de.ID, map[string]any{"date": "2026-11-06", "label": "Gravier fin", "amountCents": 1500}},
	} {
		path := fmt.Sprintf("%s/%s/%d", v2, x.name, x.id)
		admin.Get(t, v2+"/"+x.name+"?limit=5").Expect(200)
		admin.Get(t, path).Expect(200)
		admin.Put(t, path, x.put).Expect(200)
		admin.Patch(t, path, map[string]any{"externalSource": "sage100", "externalId": "X" + itoa(x.id)}).Expect(200)
	}
	for _, x := range []struct {
		name string
		id   int64
	}{{"factures", fa.ID}, {"depenses", de.ID}, {"clients", cl.ID}} {
		admin.Delete(t, fmt.Sprintf("%s/%s/%d", v2, x.name, x.id)).Expect(204)
	}
}

func newChantierV2(t *testing.T, c *apitest.Client) int64 {
	t.Helper()
	var ch struct {
		ID int64 `json:"id"`
	}
	c.Post(t, v2+"/chantiers", map[string]any{"code": uniq("V2F-"), "name": "Chantier v2", "location": "1 rue B"}).Expect(201).JSON(&ch)
	return ch.ID
}
