package server_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

// meJSON is the caller as /users/me shows it in v1.
type meJSON struct {
	ID      int64  `json:"id"`
	Email   string `json:"email"`
	Nom     string `json:"nom"`
	Prenom  string `json:"prenom"`
	Version int64  `json:"version"`
}

// testPrivacy drives the GDPR routes of v1 (docs/PRIVACY.md):
// rectification with e-mail re-verification, export, erasure.
func testPrivacy(t *testing.T, env *apitest.Env, mail *mailbox) {
	u, key := env.NewUser(t, hubapi.RoleConducteur)
	me := env.WithKey(key)
	admin := env.As(hubapi.RoleAdmin)

	t.Run("PATCH /users/me: nom and prénom at once, ETag v<version>, If-Match", func(t *testing.T) {
		var got meJSON
		r := me.Patch(t, v1+"/users/me", map[string]any{"nom": "Durand", "prenom": "Léa"}).Expect(200)
		r.JSON(&got)
		if got.Nom != "Durand" || got.Prenom != "Léa" || got.Version != 2 || r.ETag() != `"v2"` {
			t.Errorf("after PATCH: %+v %s", got, r.ETag())
		}
		me.Patch(t, v1+"/users/me", map[string]any{"nom": "X"}, apitest.IfMatch(`"v1"`)).Problem(412, "precondition-failed")
		me.Patch(t, v1+"/users/me", map[string]any{"prenom": nil}, apitest.IfMatch(`"v2"`)).Expect(200).JSON(&got)
		if got.Prenom != "" || got.Nom != "Durand" {
			t.Errorf("prenom: null → %+v", got)
		}
	})
	t.Run("PATCH /users/me: role and unknown members → 400; a taken e-mail → 409", func(t *testing.T) {
		me.Patch(t, v1+"/users/me", map[string]any{"role": "admin"}, apitest.Invalid()).Problem(400, "unknown-field")
		me.Patch(t, v1+"/users/me", map[string]any{"email": env.User(hubapi.RoleAdmin).Email}).Problem(409, "conflict")
	})

	newEmail := strings.ToLower(uniq("Nouvelle")) + "@exemple.fr"
	t.Run("a new e-mail waits for its verification code", func(t *testing.T) {
		var got meJSON
		me.Patch(t, v1+"/users/me", map[string]any{"email": newEmail}).Expect(200).JSON(&got)
		if got.Email != u.Email {
			t.Errorf("the e-mail changed before its verification: %+v", got)
		}
		code := mail.codeFor(t, newEmail)
		me.Post(t, v1+"/users/me/email/verify", map[string]any{"token": "hcv_" + strings.Repeat("A", 43)}).
			FieldProblem(422, "validation-error", "token")
		me.Post(t, v1+"/users/me/email/verify", map[string]any{"token": code, "email": "x"}, apitest.Invalid()).Problem(400, "unknown-field")
		// another user cannot use it
		env.As(hubapi.RoleChefChantier).Post(t, v1+"/users/me/email/verify", map[string]any{"token": code}).
			FieldProblem(422, "validation-error", "token")
		r := me.Post(t, v1+"/users/me/email/verify", map[string]any{"token": code}).Expect(200)
		r.JSON(&got)
		if got.Email != newEmail {
			t.Errorf("after verification: %+v", got)
		}
		me.Get(t, v1+"/users/me").Expect(200).JSON(&got)
		if got.Email != newEmail {
			t.Errorf("GET /users/me: %+v", got)
		}
		me.Post(t, v1+"/users/me/email/verify", map[string]any{"token": code}).FieldProblem(422, "validation-error", "token")
	})

	t.Run("GET /users/me/export: an attachment with everything of the caller, no secret", func(t *testing.T) {
		ch := newChantier(t, admin, nil)
		pt := newPointage(t, me, map[string]any{"chantier_id": ch.ID, "commentaire": "export"})
		sg := newSignalement(t, env.As(hubapi.RoleChefChantier), map[string]any{"chantier_id": ch.ID, "assigned_to": u.ID})
		af := newAffectation(t, admin, map[string]any{"user_id": u.ID, "chantier_id": ch.ID, "date": "2026-03-05"})
		var wh webhookJSON
		me.Post(t, v1+"/webhooks", map[string]any{"url": publicTarget, "event_types": []string{"*"}}).Expect(201).JSON(&wh)
		r := me.Get(t, v1+"/users/me/export").Expect(200)
		if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="hubchantier-export-`+itoa(u.ID)+`.json"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		var ex struct {
			Format  string `json:"format"`
			Profile struct {
				ID           int64   `json:"id"`
				Email        string  `json:"email"`
				PendingEmail *string `json:"pending_email"`
			} `json:"profile"`
			Pointages    []hubapi.Pointage    `json:"pointages"`
			Affectations []hubapi.Affectation `json:"affectations"`
			Signalements []hubapi.Signalement `json:"signalements"`
			APIKeys      []struct {
				ID     int64  `json:"id"`
				Prefix string `json:"prefix"`
			} `json:"api_keys"`
			Webhooks    []webhookJSON     `json:"webhook_subscriptions"`
			AuditEvents []json.RawMessage `json:"audit_events"`
		}
		r.JSON(&ex)
		if ex.Format != "hubchantier-export/1" || ex.Profile.ID != u.ID || ex.Profile.Email != newEmail || ex.Profile.PendingEmail != nil {
			t.Errorf("profile %+v", ex)
		}
		if len(ex.Pointages) != 1 || ex.Pointages[0].ID != pt.ID || len(ex.Affectations) != 1 || ex.Affectations[0].ID != af.ID ||
			len(ex.Signalements) != 1 || ex.Signalements[0].ID != sg.ID || len(ex.APIKeys) != 1 || !strings.HasPrefix(key, ex.APIKeys[0].Prefix) ||
			len(ex.Webhooks) != 1 || ex.Webhooks[0].ID != wh.ID || ex.AuditEvents == nil {
			t.Errorf("export %+v", ex)
		}
		for _, secret := range []string{key, hubapi.HashAPIKey(key), wh.Secret, `"key_hash"`, `"secret"`, "password"} {
			if bytes.Contains(r.Body, []byte(secret)) {
				t.Errorf("the export holds %q", secret)
			}
		}
		// another user's export holds none of it
		if b := env.As(hubapi.RoleCompagnon).Get(t, v1+"/users/me/export").Expect(200).Body; bytes.Contains(b, []byte(newEmail)) {
			t.Errorf("another export holds the e-mail: %s", b)
		}
	})

	t.Run("an erasure in an atomic batch that fails is rolled back", func(t *testing.T) {
		victim, vkey := env.NewUser(t, hubapi.RoleCompagnon)
		sendBatch(t, admin, map[string]any{"atomic": true, "operations": []any{
			map[string]any{"method": "DELETE", "path": "/admin/users/" + itoa(victim.ID)},
			map[string]any{"method": "DELETE", "path": "/chantiers/987654321"},
		}})
		var got meJSON
		env.WithKey(vkey).Get(t, v1+"/users/me").Expect(200).JSON(&got)
		if got.Email != victim.Email {
			t.Errorf("after the rolled-back batch: %+v", got)
		}
	})
	t.Run("DELETE /admin/users/{id}: admin only, not oneself, 404 for nobody, 204 twice", func(t *testing.T) {
		me.Delete(t, v1+"/admin/users/"+itoa(u.ID)).Problem(403, "insufficient-scope")
		admin.Delete(t, v1+"/admin/users/"+itoa(env.User(hubapi.RoleAdmin).ID)).Problem(409, "conflict")
		admin.Delete(t, v1+"/admin/users/0", apitest.Invalid()).Problem(400, "invalid-id")
		admin.Delete(t, v1+"/admin/users/99999999").Problem(404, "not-found")
		admin.Delete(t, v1+"/admin/users/"+itoa(u.ID)).Expect(204)
		admin.Delete(t, v1+"/admin/users/"+itoa(u.ID)).Expect(204)
		me.Get(t, v1+"/users/me").Problem(401, "unauthorized")
	})
}

// testPrivacyV2 drives the same routes with the v2 names.
func testPrivacyV2(t *testing.T, env *apitest.Env, mail *mailbox) {
	u, key := env.NewUser(t, hubapi.RoleCompagnon)
	me := env.WithKey(key)
	var got map[string]any
	me.Patch(t, v2+"/users/me", map[string]any{"lastName": "Petit", "firstName": "Jules"}).Expect(200).JSON(&got)
	if got["lastName"] != "Petit" || got["firstName"] != "Jules" {
		t.Errorf("v2 PATCH: %v", got)
	}
	me.Patch(t, v2+"/users/me", map[string]any{"nom": "Petit"}, apitest.Invalid()).Problem(400, "unknown-field")
	addr := strings.ToLower(uniq("v2mail")) + "@exemple.fr"
	me.Patch(t, v2+"/users/me", map[string]any{"email": addr}).Expect(200)
	me.Post(t, v2+"/users/me/email/verify", map[string]any{"token": mail.codeFor(t, addr)}).Expect(200).JSON(&got)
	if got["email"] != addr {
		t.Errorf("v2 verify: %v", got)
	}
	r := me.Get(t, v2+"/users/me/export").Expect(200)
	var ex map[string]any
	r.JSON(&ex)
	profile, _ := ex["profile"].(map[string]any)
	if _, ok := ex["exportedAt"]; !ok || profile["lastName"] != "Petit" || ex["apiKeys"] == nil || ex["webhookSubscriptions"] == nil {
		t.Errorf("v2 export: %s", r.Body)
	}
	env.As(hubapi.RoleAdmin).Delete(t, v2+"/admin/users/"+itoa(u.ID)).Expect(204)
}
