package server_test

import (
	"slices"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

func testSignalements(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	compagnon := env.As(hubapi.RoleCompagnon)
	ch := newChantier(t, admin, nil)

	t.Run("create: defaults gravite moyenne and statut ouvert, created_by is the caller", func(t *testing.T) {
		r := compagnon.Post(t, v1+"/signalements", map[string]any{"chantier_id": ch.ID, "titre": "  Fuite d'eau  "}).Expect(201)
		var s hubapi.Signalement
		r.JSON(&s)
		if s.Titre != "Fuite d'eau" || s.Gravite != hubapi.GraviteMoyenne || s.Statut != hubapi.SignalementOuvert ||
			s.CreatedBy != env.User(hubapi.RoleCompagnon).ID || s.ResolvedAt != nil || s.AssignedTo != nil ||
			r.Header.Get("Location") != idPath("signalements", s.ID) {
			t.Errorf("created %+v", s)
		}
	})

	t.Run("resolved_at follows the statut", func(t *testing.T) {
		s := newSignalement(t, admin, map[string]any{"chantier_id": ch.ID, "gravite": "haute"})
		var got hubapi.Signalement
		admin.Patch(t, idPath("signalements", s.ID), map[string]any{"statut": "resolu"}).Expect(200).JSON(&got)
		if got.ResolvedAt == nil || got.ResolvedAt.Before(s.CreatedAt) {
			t.Fatalf("resolved_at %v", got.ResolvedAt)
		}
		resolvedAt := *got.ResolvedAt
		admin.Patch(t, idPath("signalements", s.ID), map[string]any{"statut": "ferme"}).Expect(200).JSON(&got)
		if got.ResolvedAt == nil || !got.ResolvedAt.Equal(resolvedAt) {
			t.Errorf("closing moved resolved_at: %v → %v", resolvedAt, got.ResolvedAt)
		}
		admin.Put(t, idPath("signalements", s.ID), map[string]any{"chantier_id": ch.ID, "titre": "Rouvert", "statut": "en_cours"}).Expect(200).JSON(&got)
		if got.ResolvedAt != nil || got.Gravite != hubapi.GraviteMoyenne {
			t.Errorf("reopened %+v", got)
		}
	})

	t.Run("list filters on statut and gravite", func(t *testing.T) {
		c2 := newChantier(t, admin, nil)
		u := newSignalement(t, admin, map[string]any{"chantier_id": c2.ID, "gravite": "urgente"})
		newSignalement(t, admin, map[string]any{"chantier_id": c2.ID, "gravite": "basse"})
		newSignalement(t, admin, map[string]any{"chantier_id": c2.ID, "gravite": "urgente", "statut": "ferme"})
		l := list[hubapi.Signalement](t, compagnon, v1+"/signalements?chantier_id="+itoa(c2.ID)+"&gravite=urgente&statut=ouvert")
		if len(l.Data) != 1 || l.Data[0].ID != u.ID {
			t.Errorf("list %+v", l.Data)
		}
	})

	t.Run("invalid values → 422", func(t *testing.T) {
		admin.Post(t, v1+"/signalements", map[string]any{"chantier_id": ch.ID, "titre": "   "}).FieldProblem(422, "validation-error", "titre")
		admin.Post(t, v1+"/signalements", map[string]any{"chantier_id": ch.ID, "titre": "t", "assigned_to": 0}, apitest.Invalid()).
			FieldProblem(422, "validation-error", "assigned_to")
	})

	t.Run("delete → 204", func(t *testing.T) {
		s := newSignalement(t, compagnon, map[string]any{"chantier_id": ch.ID})
		var got hubapi.Signalement
		if r := compagnon.Get(t, idPath("signalements", s.ID)).Expect(200).JSON(&got); got.ID != s.ID || r.ETag() != `"v1"` {
			t.Errorf("read back %+v (ETag %s)", got, r.ETag())
		}
		compagnon.Delete(t, idPath("signalements", s.ID)).Expect(204)
		compagnon.Get(t, idPath("signalements", s.ID)).Problem(404, "not-found")
	})
}

func testPlanning(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	chef := env.As(hubapi.RoleChefChantier)
	ch := newChantier(t, admin, nil)
	worker, workerKey := env.NewUser(t, hubapi.RoleCompagnon)
	other, _ := env.NewUser(t, hubapi.RoleCompagnon)
	compagnon := env.WithKey(workerKey)

	var first hubapi.Affectation
	t.Run("create: the slot defaults to 08:00–17:00", func(t *testing.T) {
		r := chef.Post(t, v1+"/affectations", map[string]any{"user_id": worker.ID, "chantier_id": ch.ID, "date": "2030-06-03"}).Expect(201)
		r.JSON(&first)
		if first.HeureDebut != "08:00" || first.HeureFin != "17:00" || r.Header.Get("Location") != idPath("affectations", first.ID) {
			t.Errorf("created %+v", first)
		}
	})

	t.Run("invalid slots → 422", func(t *testing.T) {
		base := map[string]any{"user_id": worker.ID, "chantier_id": ch.ID, "date": "2030-06-03"}
		with := func(k string, v any) map[string]any {
			m := map[string]any{k: v}
			for kk, vv := range base {
				if kk != k {
					m[kk] = vv
				}
			}
			return m
		}
		b := with("heure_debut", "18:00")
		chef.Post(t, v1+"/affectations", b).FieldProblem(422, "validation-error", "heure_fin")
		chef.Post(t, v1+"/affectations", with("heure_debut", "25:00"), apitest.Invalid()).FieldProblem(422, "validation-error", "heure_debut")
		chef.Post(t, v1+"/affectations", with("user_id", 987654321)).FieldProblem(422, "validation-error", "user_id")
	})

	// Affectations of the worker over a week, and one of another user.
	mk := func(user int64, date, from string) hubapi.Affectation {
		return newAffectation(t, chef, map[string]any{"user_id": user, "chantier_id": ch.ID, "date": date, "heure_debut": from, "heure_fin": "18:00"})
	}
	a1 := mk(worker.ID, "2030-06-05", "10:00")
	a2 := mk(worker.ID, "2030-06-05", "07:00")
	a3 := mk(worker.ID, "2030-06-09", "08:00")
	b1 := mk(other.ID, "2030-06-04", "08:00")
	mk(worker.ID, "2030-06-10", "08:00") // outside the range

	t.Run("planning: range inclusive, ordered by date then start time", func(t *testing.T) {
		var p struct {
			From string               `json:"from"`
			To   string               `json:"to"`
			Data []hubapi.Affectation `json:"data"`
		}
		chef.Get(t, v1+"/planning?from=2030-06-03&to=2030-06-09").Expect(200).JSON(&p)
		got := ids(p.Data, func(a *hubapi.Affectation) int64 { return a.ID })
		if want := []int64{first.ID, b1.ID, a2.ID, a1.ID, a3.ID}; !slices.Equal(got, want) || p.From != "2030-06-03" || p.To != "2030-06-09" {
			t.Errorf("planning %s..%s %v, want %v", p.From, p.To, got, want)
		}
		chef.Get(t, v1+"/planning?from=2030-06-04&to=2030-06-09&user_id="+itoa(other.ID)).Expect(200).JSON(&p)
		if got := ids(p.Data, func(a *hubapi.Affectation) int64 { return a.ID }); !slices.Equal(got, []int64{b1.ID}) {
			t.Errorf("one user's planning %v", got)
		}
		chef.Get(t, v1+"/planning?from=2030-06-05&to=2030-06-05").Expect(200).JSON(&p)
		if got := ids(p.Data, func(a *hubapi.Affectation) int64 { return a.ID }); !slices.Equal(got, []int64{a2.ID, a1.ID}) {
			t.Errorf("single day %v", got)
		}
	})

	t.Run("a compagnon's planning holds only their own affectations", func(t *testing.T) {
		var p struct{ Data []hubapi.Affectation }
		compagnon.Get(t, v1+"/planning?from=2030-06-03&to=2030-06-09").Expect(200).JSON(&p)
		for _, a := range p.Data {
			if a.UserID != worker.ID {
				t.Errorf("compagnon sees affectation %d of user %d", a.ID, a.UserID)
			}
		}
		if len(p.Data) != 4 {
			t.Errorf("%d affectations, want 4", len(p.Data))
		}
		compagnon.Get(t, v1+"/planning?from=2030-06-03&to=2030-06-09&user_id="+itoa(other.ID)).Expect(200).JSON(&p)
		if len(p.Data) != 0 {
			t.Errorf("compagnon sees %d affectations of another user", len(p.Data))
		}
		compagnon.Get(t, idPath("affectations", b1.ID)).Problem(404, "not-found")
		if l := list[hubapi.Affectation](t, compagnon, v1+"/affectations?chantier_id="+itoa(ch.ID)); l.Pagination.Total != 5 {
			t.Errorf("compagnon lists %d affectations, want their 5", l.Pagination.Total)
		}
	})

	t.Run("range rules → 422", func(t *testing.T) {
		chef.Get(t, v1+"/planning?from=2030-06-09&to=2030-06-03").FieldProblem(422, "validation-error", "to")
		chef.Get(t, v1+"/planning?from=2030-01-01&to=2030-04-04").FieldProblem(422, "validation-error", "to") // 93 days later
		chef.Get(t, v1+"/planning?from=2030-01-01&to=2030-04-03").Expect(200)                                 // 92 days later
		chef.Get(t, v1+"/planning?from=2030-01-01", apitest.Invalid()).FieldProblem(422, "validation-error", "to")
		chef.Get(t, v1+"/planning?to=2030-01-01", apitest.Invalid()).FieldProblem(422, "validation-error", "from")
		chef.Get(t, v1+"/planning", apitest.Invalid()).FieldProblem(422, "validation-error", "from", "to")
		chef.Get(t, v1+"/planning?from=2030-02-30&to=2030-03-01", apitest.Invalid()).FieldProblem(400, "invalid-query", "from")
	})

	t.Run("list, replace, patch and delete affectations", func(t *testing.T) {
		l := list[hubapi.Affectation](t, chef, v1+"/affectations?user_id="+itoa(worker.ID)+"&date_from=2030-06-05&date_to=2030-06-09&sort=date,-id")
		if got := ids(l.Data, func(a *hubapi.Affectation) int64 { return a.ID }); !slices.Equal(got, []int64{a2.ID, a1.ID, a3.ID}) {
			t.Errorf("list %v", got)
		}
		var got hubapi.Affectation
		if r := compagnon.Get(t, idPath("affectations", a1.ID)).Expect(200).JSON(&got); got.UserID != worker.ID || r.ETag() != `"v1"` {
			t.Errorf("read back %+v (ETag %s)", got, r.ETag())
		}
		chef.Put(t, idPath("affectations", a1.ID), map[string]any{"user_id": worker.ID, "chantier_id": ch.ID, "date": "2030-06-06", "note": "n"}).
			Expect(200).JSON(&got)
		if got.HeureDebut != "08:00" || got.Date.String() != "2030-06-06" || got.Note != "n" {
			t.Errorf("after PUT %+v", got)
		}
		chef.Patch(t, idPath("affectations", a1.ID), map[string]any{"note": nil, "heure_fin": "12:00"}).Expect(200).JSON(&got)
		if got.Note != "" || got.HeureFin != "12:00" || got.Date.String() != "2030-06-06" {
			t.Errorf("after PATCH %+v", got)
		}
		chef.Delete(t, idPath("affectations", a1.ID)).Expect(204)
		chef.Get(t, idPath("affectations", a1.ID)).Problem(404, "not-found")
	})
}
