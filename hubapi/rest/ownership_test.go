package rest_test

import (
	"encoding/json"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

var userSeq int

// newUser creates a user of role with an API key holding every scope the
// role allows.
func newUser(t *testing.T, srv *server.Server, role hubapi.Role) (*hubapi.User, string) {
	t.Helper()
	userSeq++
	u := &hubapi.User{Email: "u" + itoa(int64(userSeq)) + "-" + string(role) + "@test.fr", Role: role}
	if err := srv.Operator.CreateUser(t.Context(), u, ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := srv.Operator.IssueAPIKey(t.Context(), hubapi.APIKeyInput{UserID: u.ID, Name: "k", Scopes: hubapi.RoleScopes(role)})
	if err != nil {
		t.Fatal(err)
	}
	return u, key
}

// The two ownership defects: a compagnon edited, resolved and deleted
// anyone's signalement; a chef de chantier validated their own pointage.
func TestOwnershipOverHTTP(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ts, srv, admin := startServerWith(t, server.Config{DB: store.Wrap(tdb.DB)})
		_, body := do(t, ts, admin, "POST", "/api/v1/chantiers", `{"code":"CH-1","nom":"n","adresse":"a"}`)
		var ch hubapi.Chantier
		_ = json.Unmarshal(body, &ch)
		_, alice := newUser(t, srv, hubapi.RoleCompagnon)
		_, bob := newUser(t, srv, hubapi.RoleCompagnon)
		chef, chefKey := newUser(t, srv, hubapi.RoleChefChantier)
		_, otherChef := newUser(t, srv, hubapi.RoleChefChantier)

		t.Run("a compagnon cannot change, resolve or delete another's signalement → 403; theirs → 200/204", func(t *testing.T) {
			res, body := do(t, ts, alice, "POST", "/api/v1/signalements", `{"chantier_id":`+itoa(ch.ID)+`,"titre":"Fuite"}`)
			if res.StatusCode != 201 {
				t.Fatalf("create: %d %s", res.StatusCode, body)
			}
			var sg hubapi.Signalement
			_ = json.Unmarshal(body, &sg)
			path := "/api/v1/signalements/" + itoa(sg.ID)
			for _, w := range []struct{ method, body string }{
				{"PATCH", `{"titre":"autre"}`},
				{"PATCH", `{"statut":"resolu"}`},
				{"PUT", `{"chantier_id":` + itoa(ch.ID) + `,"titre":"autre"}`},
				{"DELETE", ""},
			} {
				if res, body := do(t, ts, bob, w.method, path, w.body); res.StatusCode != 403 {
					t.Errorf("bob %s %s: %d %s", w.method, w.body, res.StatusCode, body)
				}
			}
			if res, body := do(t, ts, alice, "PATCH", path, `{"statut":"resolu"}`); res.StatusCode != 403 {
				t.Errorf("alice resolving her own: %d %s", res.StatusCode, body)
			}
			if res, body := do(t, ts, alice, "PATCH", path, `{"titre":"Fuite d'eau"}`); res.StatusCode != 200 {
				t.Errorf("alice editing her own: %d %s", res.StatusCode, body)
			}
			if res, body := do(t, ts, chefKey, "PATCH", path, `{"statut":"resolu"}`); res.StatusCode != 200 {
				t.Errorf("chef resolving: %d %s", res.StatusCode, body)
			}
			if res, body := do(t, ts, alice, "DELETE", path, ""); res.StatusCode != 403 {
				t.Errorf("alice deleting her resolved one: %d %s", res.StatusCode, body)
			}
			if res, _ := do(t, ts, admin, "GET", path, ""); res.StatusCode != 200 {
				t.Errorf("the signalement is gone: %d", res.StatusCode)
			}
		})

		t.Run("a chef de chantier cannot validate their own pointage → 403; another chef can → 200", func(t *testing.T) {
			res, body := do(t, ts, chefKey, "POST", "/api/v1/pointages", `{"chantier_id":`+itoa(ch.ID)+`,"date":"2026-11-24","minutes":480,"statut":"soumis"}`)
			if res.StatusCode != 201 {
				t.Fatalf("create: %d %s", res.StatusCode, body)
			}
			var pt hubapi.Pointage
			_ = json.Unmarshal(body, &pt)
			if pt.UserID != chef.ID {
				t.Fatalf("pointage of user %d", pt.UserID)
			}
			path := "/api/v1/pointages/" + itoa(pt.ID) + "/validate"
			if res, body := do(t, ts, chefKey, "POST", path, ""); res.StatusCode != 403 {
				t.Fatalf("own validate: %d %s", res.StatusCode, body)
			}
			if res, body := do(t, ts, admin, "POST", path, ""); res.StatusCode != 200 {
				t.Fatalf("admin validating the chef's: %d %s", res.StatusCode, body)
			}
			res, body = do(t, ts, otherChef, "POST", "/api/v1/pointages", `{"chantier_id":`+itoa(ch.ID)+`,"date":"2026-11-24","minutes":60,"statut":"soumis"}`)
			_ = json.Unmarshal(body, &pt)
			if res, body := do(t, ts, chefKey, "POST", "/api/v1/pointages/"+itoa(pt.ID)+"/validate", ""); res.StatusCode != 200 {
				t.Fatalf("validating another chef's: %d %s", res.StatusCode, body)
			}
		})
	})
}
