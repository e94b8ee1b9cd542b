package server_test

import (
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// The two ownership defects, over HTTP with every request and response
// checked against the OpenAPI document: a compagnon changed, resolved and
// deleted anyone's signalement; a chef de chantier validated their own
// pointage. (Every cell of the permission matrix is run by
// hubapi/service's TestPermissionMatrix.)
func TestOwnershipV1(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{MaxUploadBytes: testMaxUpload, RateLimits: apitest.LiftedRateLimits})
		admin := env.As(hubapi.RoleAdmin)
		ch := newChantier(t, admin, nil)
		_, aliceKey := env.NewUser(t, hubapi.RoleCompagnon)
		_, bobKey := env.NewUser(t, hubapi.RoleCompagnon)
		alice, bob := env.WithKey(aliceKey), env.WithKey(bobKey)
		chefUser, chefKey := env.NewUser(t, hubapi.RoleChefChantier)
		_, otherChefKey := env.NewUser(t, hubapi.RoleChefChantier)
		chef, otherChef := env.WithKey(chefKey), env.WithKey(otherChefKey)

		t.Run("a compagnon cannot change, resolve or delete another's signalement → 403", func(t *testing.T) {
			s := newSignalement(t, alice, map[string]any{"chantier_id": ch.ID})
			path := idPath("signalements", s.ID)
			bob.Patch(t, path, map[string]any{"titre": "autre"}).Problem(403, "forbidden")
			bob.Patch(t, path, map[string]any{"statut": "resolu"}).Problem(403, "forbidden")
			bob.Put(t, path, map[string]any{"chantier_id": ch.ID, "titre": "autre"}).Problem(403, "forbidden")
			bob.Delete(t, path).Problem(403, "forbidden")
			var got hubapi.Signalement
			admin.Get(t, path).Expect(200).JSON(&got)
			if got.Titre != s.Titre || got.Version != s.Version {
				t.Errorf("a refused write changed the signalement: %+v", got)
			}
		})

		t.Run("a compagnon changes their own open signalement but does not resolve it; once resolved it is no longer theirs to change", func(t *testing.T) {
			s := newSignalement(t, alice, map[string]any{"chantier_id": ch.ID})
			path := idPath("signalements", s.ID)
			alice.Patch(t, path, map[string]any{"statut": "resolu"}).Problem(403, "forbidden")
			alice.Post(t, v1+"/signalements", map[string]any{"chantier_id": ch.ID, "titre": "déjà réglé", "statut": "ferme"}).Problem(403, "forbidden")
			alice.Patch(t, path, map[string]any{"description": "au 2e étage"}).Expect(200)
			chef.Patch(t, path, map[string]any{"statut": "resolu"}).Expect(200)
			alice.Patch(t, path, map[string]any{"description": "encore"}).Problem(403, "forbidden")
			alice.Delete(t, path).Problem(403, "forbidden")
			// Their own open one they may delete.
			mine := newSignalement(t, alice, map[string]any{"chantier_id": ch.ID})
			alice.Delete(t, idPath("signalements", mine.ID)).Expect(204)
		})

		t.Run("a chef de chantier cannot validate their own pointage → 403; another chef can", func(t *testing.T) {
			p := newPointage(t, chef, map[string]any{"chantier_id": ch.ID, "statut": "soumis"})
			if p.UserID != chefUser.ID {
				t.Fatalf("pointage of user %d", p.UserID)
			}
			chef.Post(t, idPath("pointages", p.ID)+"/validate", nil).Problem(403, "forbidden")
			admin.Get(t, idPath("pointages", p.ID)).Expect(200)
			var v hubapi.Pointage
			otherChef.Post(t, idPath("pointages", p.ID)+"/validate", nil).Expect(200).JSON(&v)
			if v.Statut != hubapi.PointageValide {
				t.Errorf("statut %s", v.Statut)
			}
		})

		t.Run("a chef de chantier changes only the documents they uploaded → 403", func(t *testing.T) {
			var d hubapi.Document
			otherChef.Upload(t, v1+"/documents", []apitest.Part{
				{Name: "chantier_id", Body: []byte(itoa(ch.ID))},
				{Name: "file", FileName: "plan.txt", ContentType: "text/plain", Body: []byte("plan")},
			}).Expect(201).JSON(&d)
			chef.Patch(t, idPath("documents", d.ID), map[string]any{"nom": "x.txt"}).Problem(403, "forbidden")
			chef.Delete(t, idPath("documents", d.ID)).Problem(403, "forbidden")
			otherChef.Patch(t, idPath("documents", d.ID), map[string]any{"nom": "plan-v2.txt"}).Expect(200)
			admin.Delete(t, idPath("documents", d.ID)).Expect(204)
		})
	})
}
