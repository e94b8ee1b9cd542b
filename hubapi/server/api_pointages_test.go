package server_test

import (
	"slices"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

func testPointages(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	chef := env.As(hubapi.RoleChefChantier)
	ch := newChantier(t, admin, nil)
	// A compagnon of its own, so other subtests' pointages do not interfere.
	worker, workerKey := env.NewUser(t, hubapi.RoleCompagnon)
	other, _ := env.NewUser(t, hubapi.RoleCompagnon)
	compagnon := env.WithKey(workerKey)

	t.Run("create: user_id defaults to the caller, type to normal, statut to brouillon", func(t *testing.T) {
		r := compagnon.Post(t, v1+"/pointages", map[string]any{"chantier_id": ch.ID, "date": "2026-03-02", "minutes": 420}).Expect(201)
		var p hubapi.Pointage
		r.JSON(&p)
		if p.UserID != worker.ID || p.Type != hubapi.PointageNormal || p.Statut != hubapi.PointageBrouillon || p.Minutes != 420 ||
			p.Date.String() != "2026-03-02" || r.Header.Get("Location") != idPath("pointages", p.ID) {
			t.Errorf("created %+v", p)
		}
	})

	t.Run("a compagnon records only their own pointages → 403", func(t *testing.T) {
		compagnon.Post(t, v1+"/pointages", map[string]any{"chantier_id": ch.ID, "user_id": other.ID, "date": "2026-03-02", "minutes": 60}).
			Problem(403, "forbidden")
	})

	t.Run("a compagnon sees only their own pointages", func(t *testing.T) {
		mine := newPointage(t, compagnon, map[string]any{"chantier_id": ch.ID, "date": "2026-03-04"})
		theirs := newPointage(t, admin, map[string]any{"chantier_id": ch.ID, "user_id": other.ID, "date": "2026-03-04"})
		l := list[hubapi.Pointage](t, compagnon, v1+"/pointages?chantier_id="+itoa(ch.ID)+"&limit=100")
		for _, p := range l.Data {
			if p.UserID != worker.ID {
				t.Errorf("compagnon sees pointage %d of user %d", p.ID, p.UserID)
			}
		}
		if !slices.Contains(ids(l.Data, func(p *hubapi.Pointage) int64 { return p.ID }), mine.ID) {
			t.Errorf("own pointage %d missing", mine.ID)
		}
		if l := list[hubapi.Pointage](t, compagnon, v1+"/pointages?user_id="+itoa(other.ID)); len(l.Data) != 0 || l.Pagination.Total != 0 {
			t.Errorf("filtering on another user shows %d", len(l.Data))
		}
		// Without a filter, the total is theirs too, not the table's counter.
		own := list[hubapi.Pointage](t, compagnon, v1+"/pointages?limit=100")
		all := list[hubapi.Pointage](t, admin, v1+"/pointages?limit=1")
		if own.Pagination.Total != len(own.Data) || own.Pagination.Total >= all.Pagination.Total {
			t.Errorf("compagnon's unfiltered total %d (%d rows), admin's %d", own.Pagination.Total, len(own.Data), all.Pagination.Total)
		}
		compagnon.Get(t, idPath("pointages", theirs.ID)).Problem(404, "not-found")
		compagnon.Patch(t, idPath("pointages", theirs.ID), map[string]any{"minutes": 1}).Problem(404, "not-found")
		compagnon.Delete(t, idPath("pointages", theirs.ID)).Problem(404, "not-found")
		compagnon.Get(t, idPath("pointages", mine.ID)).Expect(200)
		// the chef sees both
		l = list[hubapi.Pointage](t, chef, v1+"/pointages?chantier_id="+itoa(ch.ID)+"&date_from=2026-03-04&date_to=2026-03-04")
		if got := ids(l.Data, func(p *hubapi.Pointage) int64 { return p.ID }); !slices.Contains(got, mine.ID) || !slices.Contains(got, theirs.ID) {
			t.Errorf("chef sees %v", got)
		}
	})

	t.Run("date range and statut filters are inclusive", func(t *testing.T) {
		c2 := newChantier(t, admin, nil)
		var made []int64
		for _, d := range []string{"2026-04-01", "2026-04-02", "2026-04-03"} {
			made = append(made, newPointage(t, admin, map[string]any{"chantier_id": c2.ID, "date": d, "statut": "soumis"}).ID)
		}
		newPointage(t, admin, map[string]any{"chantier_id": c2.ID, "date": "2026-04-02"})
		l := list[hubapi.Pointage](t, admin, v1+"/pointages?chantier_id="+itoa(c2.ID)+"&statut=soumis&date_from=2026-04-02&date_to=2026-04-03&sort=date")
		if got := ids(l.Data, func(p *hubapi.Pointage) int64 { return p.ID }); !slices.Equal(got, made[1:]) {
			t.Errorf("ids %v, want %v", got, made[1:])
		}
	})

	t.Run("validate: soumis → valide; any other state → 409", func(t *testing.T) {
		draft := newPointage(t, compagnon, map[string]any{"chantier_id": ch.ID})
		chef.Post(t, idPath("pointages", draft.ID)+"/validate", nil).Problem(409, "conflict")

		var sub hubapi.Pointage
		compagnon.Patch(t, idPath("pointages", draft.ID), map[string]any{"statut": "soumis"}).Expect(200).JSON(&sub)
		r := chef.Post(t, idPath("pointages", draft.ID)+"/validate", nil).Expect(200)
		var v hubapi.Pointage
		r.JSON(&v)
		if v.Statut != hubapi.PointageValide || v.Version != sub.Version+1 || r.ETag() != `"v`+itoa(v.Version)+`"` {
			t.Errorf("validated %+v, ETag %s", v, r.ETag())
		}
		chef.Post(t, idPath("pointages", draft.ID)+"/validate", nil).Problem(409, "conflict")

		t.Run("a validated pointage cannot be modified or deleted → 409", func(t *testing.T) {
			compagnon.Patch(t, idPath("pointages", draft.ID), map[string]any{"minutes": 30}).Problem(409, "conflict")
			compagnon.Put(t, idPath("pointages", draft.ID), map[string]any{"chantier_id": ch.ID, "date": "2026-03-03", "minutes": 30}).Problem(409, "conflict")
			admin.Delete(t, idPath("pointages", draft.ID)).Problem(409, "conflict")
		})
	})

	t.Run("validate with a stale If-Match → 412", func(t *testing.T) {
		p := newPointage(t, compagnon, map[string]any{"chantier_id": ch.ID, "statut": "soumis"})
		chef.Post(t, idPath("pointages", p.ID)+"/validate", nil, apitest.IfMatch(`"v9"`)).Problem(412, "precondition-failed")
		chef.Post(t, idPath("pointages", p.ID)+"/validate", nil, apitest.IfMatch(`"v1"`)).Expect(200)
	})

	t.Run("a compagnon cannot validate, even their own → 403", func(t *testing.T) {
		p := newPointage(t, compagnon, map[string]any{"chantier_id": ch.ID, "statut": "soumis"})
		compagnon.Post(t, idPath("pointages", p.ID)+"/validate", nil).Problem(403, "forbidden")
	})

	t.Run("statut valide cannot be written directly → 422", func(t *testing.T) {
		compagnon.Post(t, v1+"/pointages", map[string]any{"chantier_id": ch.ID, "date": "2026-03-02", "minutes": 60, "statut": "valide"},
			apitest.Invalid()).FieldProblem(422, "validation-error", "statut")
	})

	t.Run("invalid values → 422 naming each field", func(t *testing.T) {
		compagnon.Post(t, v1+"/pointages", map[string]any{"chantier_id": 987654321, "date": "2026-03-02", "minutes": 60}).
			FieldProblem(422, "validation-error", "chantier_id")
		compagnon.Post(t, v1+"/pointages", map[string]any{"chantier_id": ch.ID, "date": "2026-03-02", "minutes": 1441}, apitest.Invalid()).
			FieldProblem(422, "validation-error", "minutes")
		compagnon.Post(t, v1+"/pointages", map[string]any{"chantier_id": ch.ID, "minutes": 0}, apitest.Invalid()).
			FieldProblem(422, "validation-error", "minutes", "date")
	})

	t.Run("PUT replaces, DELETE removes", func(t *testing.T) {
		p := newPointage(t, compagnon, map[string]any{"chantier_id": ch.ID, "type": "nuit", "commentaire": "c"})
		var got hubapi.Pointage
		compagnon.Put(t, idPath("pointages", p.ID), map[string]any{"chantier_id": ch.ID, "date": "2026-03-05", "minutes": 90}).Expect(200).JSON(&got)
		if got.Type != hubapi.PointageNormal || got.Commentaire != "" || got.Minutes != 90 || got.UserID != worker.ID {
			t.Errorf("after PUT %+v", got)
		}
		compagnon.Delete(t, idPath("pointages", p.ID)).Expect(204)
		compagnon.Get(t, idPath("pointages", p.ID)).Problem(404, "not-found")
	})
}
