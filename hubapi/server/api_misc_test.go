package server_test

import (
	"bytes"
	"math"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

func testStats(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	conducteur := env.As(hubapi.RoleConducteur)
	var before hubapi.Stats
	conducteur.Get(t, v1+"/stats").Expect(200).JSON(&before)
	week, month := before.Semaine, before.Mois
	if week.Time().Weekday() != time.Monday || month.Time().Day() != 1 || week.AddDays(7).Before(month) {
		t.Fatalf("semaine %s, mois %s", week, month)
	}

	// Changes with a known effect on the figures. Dates come from the
	// server's own week and month, so the test does not depend on the clock.
	newChantier(t, admin, map[string]any{"statut": "en_cours"})
	ch := newChantier(t, admin, map[string]any{"statut": "ferme"})
	newPointage(t, admin, map[string]any{"chantier_id": ch.ID, "date": week.String(), "minutes": 90, "statut": "soumis"})
	newPointage(t, env.As(hubapi.RoleCompagnon), map[string]any{"chantier_id": ch.ID, "date": week.String(), "minutes": 30})
	newPointage(t, admin, map[string]any{"chantier_id": ch.ID, "date": week.AddDays(7).String(), "minutes": 45}) // future
	lastMonth := month.AddDays(-1)
	newPointage(t, admin, map[string]any{"chantier_id": ch.ID, "date": lastMonth.String(), "minutes": 600})
	newSignalement(t, admin, map[string]any{"chantier_id": ch.ID, "gravite": "urgente"})
	newSignalement(t, admin, map[string]any{"chantier_id": ch.ID, "gravite": "haute", "statut": "en_cours"})
	newSignalement(t, admin, map[string]any{"chantier_id": ch.ID, "gravite": "basse", "statut": "resolu"})

	var after hubapi.Stats
	conducteur.Get(t, v1+"/stats").Expect(200).JSON(&after)
	if after.Semaine.String() != week.String() || after.Mois.String() != month.String() {
		t.Skip("the week or month changed during the test")
	}
	minutes := func(h float64) int { return int(math.Round(h * 60)) }
	wantWeek, wantMonth := 120, 0
	if !week.Before(month) {
		wantMonth += 120
	}
	if !lastMonth.Before(week) {
		wantWeek += 600
	}
	if got := minutes(after.HeuresSemaine) - minutes(before.HeuresSemaine); got != wantWeek {
		t.Errorf("heures_semaine grew by %d minutes, want %d", got, wantWeek)
	}
	if got := minutes(after.HeuresMois) - minutes(before.HeuresMois); got != wantMonth {
		t.Errorf("heures_mois grew by %d minutes, want %d", got, wantMonth)
	}
	for statut, d := range map[string]int{"ouvert": 0, "en_cours": 1, "receptionne": 0, "ferme": 1} {
		if got := after.ChantiersParStatut[statut] - before.ChantiersParStatut[statut]; got != d {
			t.Errorf("chantiers %s grew by %d, want %d", statut, got, d)
		}
	}
	if got := after.ChantiersTotal - before.ChantiersTotal; got != 2 {
		t.Errorf("chantiers_total grew by %d", got)
	}
	for g, d := range map[string]int{"basse": 0, "moyenne": 0, "haute": 1, "urgente": 1} {
		if got := after.SignalementsOuvertsParGravite[g] - before.SignalementsOuvertsParGravite[g]; got != d {
			t.Errorf("open %s signalements grew by %d, want %d", g, got, d)
		}
	}
	if got := after.SignalementsOuverts - before.SignalementsOuverts; got != 2 {
		t.Errorf("signalements_ouverts grew by %d", got)
	}

	t.Run("figures match the lists", func(t *testing.T) {
		for _, statut := range hubapi.ChantierStatuts {
			l := list[hubapi.Chantier](t, admin, v1+"/chantiers?limit=1&statut="+string(statut))
			if l.Pagination.Total != after.ChantiersParStatut[string(statut)] {
				t.Errorf("%s: list total %d, stats %d", statut, l.Pagination.Total, after.ChantiersParStatut[string(statut)])
			}
		}
	})
}

func testAPIKeys(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	chef := env.User(hubapi.RoleChefChantier)
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)

	var created struct {
		ID        int64          `json:"id"`
		UserID    int64          `json:"user_id"`
		Prefix    string         `json:"prefix"`
		Key       string         `json:"key"`
		Scopes    []hubapi.Scope `json:"scopes"`
		ExpiresAt *time.Time     `json:"expires_at"`
	}
	t.Run("create → 201 with the secret once, not cacheable", func(t *testing.T) {
		r := admin.Post(t, v1+"/admin/api-keys", map[string]any{"user_id": chef.ID, "name": "Export paie",
			"scopes": []string{"stats:read", "chantiers:read", "stats:read"}, "expires_at": expires}).Expect(201)
		r.JSON(&created)
		if !hubapi.WellFormedAPIKey(created.Key) || created.Prefix != created.Key[:8] || created.UserID != chef.ID ||
			!slices.Equal(created.Scopes, []hubapi.Scope{"chantiers:read", "stats:read"}) || created.ExpiresAt == nil || !created.ExpiresAt.Equal(expires) {
			t.Errorf("created %+v", created)
		}
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Location") != idPath("admin/api-keys", created.ID) {
			t.Errorf("headers %v", r.Header)
		}
	})

	t.Run("the new key authenticates with its scopes", func(t *testing.T) {
		c := env.WithKey(created.Key)
		c.Get(t, v1+"/stats").Expect(200)
		c.Get(t, v1+"/pointages").Problem(403, "insufficient-scope")
	})

	t.Run("lists never show the secret", func(t *testing.T) {
		r := admin.Get(t, v1+"/admin/api-keys?user_id="+itoa(chef.ID)).Expect(200)
		if bytes.Contains(r.Body, []byte(created.Key)) || bytes.Contains(r.Body, []byte(hubapi.HashAPIKey(created.Key))) {
			t.Fatal("the list exposes the secret or its hash")
		}
		var l struct{ Data []struct{ ID, UserID int64 } }
		r.JSON(&l)
		var found bool
		for _, k := range l.Data {
			found = found || k.ID == created.ID
			if k.UserID != 0 && k.UserID != chef.ID {
				t.Errorf("user_id filter leaked key %d of user %d", k.ID, k.UserID)
			}
		}
		if !found {
			t.Errorf("key %d not listed", created.ID)
		}
		r = admin.Get(t, v1+"/admin/api-keys").Expect(200)
		if !regexp.MustCompile(`"prefix":"hck_`).Match(r.Body) {
			t.Errorf("unfiltered list: %s", r.Body)
		}
	})

	t.Run("revoke → 204, the key stops working at once, revoking again is a no-op", func(t *testing.T) {
		admin.Delete(t, idPath("admin/api-keys", created.ID)).Expect(204)
		env.WithKey(created.Key).Get(t, v1+"/stats").Problem(401, "unauthorized")
		admin.Delete(t, idPath("admin/api-keys", created.ID)).Expect(204)
		admin.Delete(t, idPath("admin/api-keys", 987654321)).Problem(404, "not-found")
		var l struct {
			Data []struct {
				ID        int64      `json:"id"`
				RevokedAt *time.Time `json:"revoked_at"`
			}
		}
		admin.Get(t, v1+"/admin/api-keys?user_id="+itoa(chef.ID)).Expect(200).JSON(&l)
		for _, k := range l.Data {
			if k.ID == created.ID && k.RevokedAt == nil {
				t.Error("revoked key listed without revoked_at")
			}
		}
	})

	t.Run("invalid input → 422 naming the field", func(t *testing.T) {
		cases := []struct {
			name  string
			body  map[string]any
			field string
			opts  []apitest.Option
		}{
			{"unknown user", map[string]any{"user_id": 987654321, "name": "k", "scopes": []string{"stats:read"}}, "user_id", nil},
			{"expiry in the past", map[string]any{"user_id": chef.ID, "name": "k", "scopes": []string{"stats:read"}, "expires_at": "2020-01-01T00:00:00Z"}, "expires_at", nil},
			{"empty name", map[string]any{"user_id": chef.ID, "name": "", "scopes": []string{"stats:read"}}, "name", []apitest.Option{apitest.Invalid()}},
			{"no scope", map[string]any{"user_id": chef.ID, "name": "k", "scopes": []string{}}, "scopes", []apitest.Option{apitest.Invalid()}},
			{"unknown scope", map[string]any{"user_id": chef.ID, "name": "k", "scopes": []string{"everything"}}, "scopes", []apitest.Option{apitest.Invalid()}},
			{"scope beyond the role", map[string]any{"user_id": chef.ID, "name": "k", "scopes": []string{"admin"}}, "scopes", nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				admin.Post(t, v1+"/admin/api-keys", tc.body, tc.opts...).FieldProblem(422, "validation-error", tc.field)
			})
		}
	})
}

func testUndocumented(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	admin.Get(t, v1+"/nope", apitest.Undocumented()).Problem(404, "not-found")
	admin.Get(t, v1+"/chantiers/", apitest.Undocumented()).Problem(404, "not-found")
	admin.Get(t, v1+"/chantiers/1/extra", apitest.Undocumented()).Problem(404, "not-found")
	env.Anonymous().Get(t, "/nope", apitest.Undocumented()).Problem(404, "not-found")
	// A method the path does not support is a problem: 405, or 404 where
	// gorilla/mux loses the method mismatch (a later route of the /api/v1
	// subrouter clears it).
	for _, r := range []*apitest.Response{
		admin.Post(t, v1+"/stats", map[string]any{}, apitest.Undocumented()),
		admin.Do(t, "PATCH", v1+"/chantiers", map[string]any{}, apitest.Undocumented()),
		admin.Do(t, "PUT", v1+"/admin/api-keys/1", map[string]any{}, apitest.Undocumented()),
	} {
		if r.Status != 404 && r.Status != 405 {
			t.Errorf("status %d, want 405 (or 404)", r.Status)
		}
	}
}

func testOpenAPIEndpoint(t *testing.T, env *apitest.Env) {
	r := env.Anonymous().Get(t, v1+"/openapi.json").Expect(200)
	if !bytes.Equal(r.Body, rest.OpenAPIDocument()) {
		t.Error("served document differs from the embedded one")
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
}
