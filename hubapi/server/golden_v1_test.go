package server_test

import (
	"net/http"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// goldenMaxUpload is the document size limit of the golden servers.
const goldenMaxUpload = 1024

// goldenRateLimits lifts the tight default quotas and sets one tiny quota
// (GET /planning, twice a day) so that a 429 is part of the recording.
const goldenRateLimits = apitest.LiftedRateLimits + ";GET /api/v1/planning=2/d"

// TestGoldenV1 replays the recorded v1 exchanges (testdata/golden/v1) and
// compares every response, errors included, with its recording: the v1
// contract is frozen. Every v1 route is there, and every error status the
// server can give (400, 401, 403, 404, 405, 409, 412, 413, 415, 416, 422, 429;
// no v1 route requires a precondition, so 428 is not reachable). See
// testdata/golden/README.md for the normalisation and for -update.
func TestGoldenV1(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{MaxUploadBytes: goldenMaxUpload, RateLimits: goldenRateLimits})
		g := newGoldenRunner(t, env, "v1")
		for _, st := range goldenV1Steps() {
			g.run(t, st)
		}
		g.finish(t)
	})
}

func goldenV1Steps() []goldenStep {
	const (
		admin  = hubapi.RoleAdmin
		cond   = hubapi.RoleConducteur
		chef   = hubapi.RoleChefChantier
		worker = hubapi.RoleCompagnon
		v      = "/api/v1"
		upload = "multipart/form-data; boundary=golden"
	)
	ct := func(v string) map[string]string { return map[string]string{"Content-Type": v} }
	return []goldenStep{
		// authentication and the current user
		{name: "me-anonymous-401", method: http.MethodGet, path: v + "/users/me"},
		{name: "me-malformed-401", method: http.MethodGet, path: v + "/users/me", raw: "Basic abc"},
		{name: "me-invalid-key-401", method: http.MethodGet, path: v + "/users/me", raw: "Bearer hck_notakey"},
		{name: "me", method: http.MethodGet, path: v + "/users/me", as: cond},
		{name: "me-fields", method: http.MethodGet, path: v + "/users/me?fields=id,nom,role", as: cond},
		{name: "me-fields-unknown-400", method: http.MethodGet, path: v + "/users/me?fields=password", as: cond},
		{name: "unknown-path-404", method: http.MethodGet, path: v + "/nothing-here", as: admin},

		// chantiers
		{name: "chantiers-create", method: http.MethodPost, path: v + "/chantiers", as: admin, save: "c1",
			body: `{"code":"GOLD-1","nom":"Tour Alpha","adresse":"1 rue A","ville":"Lyon","code_postal":"69001","client_nom":"Client A","responsable_id":2,"budget_cents":150000,"date_debut":"2025-03-01","date_fin":"2025-09-30","latitude":45.76,"longitude":4.83,"description":"Tour de bureaux"}`},
		{name: "chantiers-create-second", method: http.MethodPost, path: v + "/chantiers", as: admin,
			body: `{"code":"GOLD-2","nom":"Pont Beta","adresse":"2 quai B","statut":"en_cours"}`},
		{name: "chantiers-create-third", method: http.MethodPost, path: v + "/chantiers", as: cond,
			body: `{"code":"GOLD-3","nom":"Ecole Gamma","adresse":"3 place C","ville":"Lyon"}`},
		{name: "chantiers-create-duplicate-409", method: http.MethodPost, path: v + "/chantiers", as: admin,
			body: `{"code":"GOLD-1","nom":"Doublon","adresse":"1 rue A"}`},
		{name: "chantiers-create-invalid-422", method: http.MethodPost, path: v + "/chantiers", as: admin,
			body: `{"code":"","nom":"","adresse":"x","code_postal":"abc","statut":"inconnu"}`},
		{name: "chantiers-create-unknown-member-400", method: http.MethodPost, path: v + "/chantiers", as: admin,
			body: `{"code":"GOLD-9","nom":"N","adresse":"A","name":"x"}`},
		{name: "chantiers-create-malformed-json-400", method: http.MethodPost, path: v + "/chantiers", as: admin, body: `{"code":`},
		{name: "chantiers-create-text-415", method: http.MethodPost, path: v + "/chantiers", as: admin,
			header: ct("text/plain"), body: `code=GOLD-9`},
		{name: "chantiers-create-worker-403", method: http.MethodPost, path: v + "/chantiers", as: worker,
			body: `{"code":"GOLD-8","nom":"N","adresse":"A"}`},
		{name: "chantiers-list", method: http.MethodGet, path: v + "/chantiers", as: admin},
		{name: "chantiers-list-page", method: http.MethodGet, path: v + "/chantiers?page=1&limit=2&sort=code", as: admin},
		{name: "chantiers-list-cursor", method: http.MethodGet, path: v + "/chantiers?cursor={cursor}&limit=2&sort=code", as: admin},
		{name: "chantiers-list-filter", method: http.MethodGet, path: v + "/chantiers?statut=ouvert&ville=Lyon", as: admin},
		{name: "chantiers-list-fields", method: http.MethodGet, path: v + "/chantiers?fields=id,code,nom,responsable&sort=-code", as: admin},
		{name: "chantiers-list-bad-query-400", method: http.MethodGet, path: v + "/chantiers?limit=0&statut=nope&unknown=1", as: admin},
		{name: "chantiers-list-bad-cursor-400", method: http.MethodGet, path: v + "/chantiers?cursor=garbage", as: admin},
		{name: "chantiers-list-page-and-cursor-400", method: http.MethodGet, path: v + "/chantiers?cursor=abc&page=2", as: admin},
		{name: "chantiers-list-bad-sort-400", method: http.MethodGet, path: v + "/chantiers?sort=password", as: admin},
		{name: "chantiers-get", method: http.MethodGet, path: v + "/chantiers/1", as: admin},
		{name: "chantiers-get-fields", method: http.MethodGet, path: v + "/chantiers/1?fields=nom,adresse,responsable(nom)", as: admin},
		{name: "chantiers-get-not-modified-304", method: http.MethodGet, path: v + "/chantiers/1", as: admin,
			header: map[string]string{"If-None-Match": "{c1}"}},
		{name: "chantiers-get-404", method: http.MethodGet, path: v + "/chantiers/999", as: admin},
		{name: "chantiers-get-bad-id-400", method: http.MethodGet, path: v + "/chantiers/abc", as: admin},
		{name: "chantiers-put", method: http.MethodPut, path: v + "/chantiers/1", as: admin, header: map[string]string{"If-Match": "{c1}"},
			body: `{"code":"GOLD-1","nom":"Tour Alpha II","adresse":"1 rue A","ville":"Lyon","statut":"en_cours"}`},
		{name: "chantiers-put-stale-412", method: http.MethodPut, path: v + "/chantiers/1", as: admin, header: map[string]string{"If-Match": "{c1}"},
			body: `{"code":"GOLD-1","nom":"Perdu","adresse":"1 rue A"}`},
		{name: "chantiers-patch", method: http.MethodPatch, path: v + "/chantiers/1", as: admin,
			header: ct("application/merge-patch+json"), body: `{"description":"Phase 2","latitude":null}`},
		{name: "chantiers-patch-invalid-422", method: http.MethodPatch, path: v + "/chantiers/1", as: admin,
			header: ct("application/merge-patch+json"), body: `{"budget_cents":-5}`},
		{name: "chantiers-method-405", method: http.MethodPost, path: v + "/chantiers/1", as: admin, body: `{}`},
		{name: "chantiers-too-large-413", method: http.MethodPost, path: v + "/chantiers", as: admin,
			body: `{"code":"GOLD-7","nom":"N","adresse":"A","description":"` + longText(2<<20) + `"}`},

		// pointages
		{name: "pointages-create", method: http.MethodPost, path: v + "/pointages", as: worker, save: "p1",
			body: `{"chantier_id":1,"date":"2025-03-03","minutes":480,"type":"normal","commentaire":"Coffrage"}`},
		{name: "pointages-create-for-other", method: http.MethodPost, path: v + "/pointages", as: cond,
			body: `{"user_id":4,"chantier_id":2,"date":"2025-03-04","minutes":120,"type":"nuit","statut":"soumis"}`},
		{name: "pointages-create-invalid-422", method: http.MethodPost, path: v + "/pointages", as: worker,
			body: `{"chantier_id":0,"date":"2025-03-01","minutes":0,"type":"x"}`},
		{name: "pointages-list", method: http.MethodGet, path: v + "/pointages?chantier_id=1&date_from=2025-01-01&date_to=2025-12-31", as: cond},
		{name: "pointages-list-fields", method: http.MethodGet, path: v + "/pointages?fields=id,minutes,statut&limit=1", as: cond},
		{name: "pointages-get", method: http.MethodGet, path: v + "/pointages/1", as: worker},
		{name: "pointages-patch", method: http.MethodPatch, path: v + "/pointages/1", as: worker, header: map[string]string{"If-Match": "{p1}", "Content-Type": "application/merge-patch+json"},
			body: `{"statut":"soumis"}`},
		{name: "pointages-validate", method: http.MethodPost, path: v + "/pointages/1/validate", as: cond},
		{name: "pointages-validate-worker-403", method: http.MethodPost, path: v + "/pointages/2/validate", as: worker},
		{name: "pointages-put", method: http.MethodPut, path: v + "/pointages/2", as: cond,
			body: `{"user_id":4,"chantier_id":2,"date":"2025-03-04","minutes":150,"type":"nuit","statut":"soumis","commentaire":"corrigé"}`},
		{name: "pointages-delete", method: http.MethodDelete, path: v + "/pointages/2", as: cond},
		{name: "pointages-get-deleted-404", method: http.MethodGet, path: v + "/pointages/2", as: cond},

		// documents
		{name: "documents-upload", method: http.MethodPost, path: v + "/documents", as: cond, header: ct(upload),
			body: goldenMultipart([][3]string{{"chantier_id", "", "1"}, {"categorie", "", "plan"}, {"file", "plan-rdc.txt", "Plan du rez-de-chaussée"}})},
		{name: "documents-upload-too-large-413", method: http.MethodPost, path: v + "/documents", as: cond, header: ct(upload),
			body: goldenMultipart([][3]string{{"chantier_id", "", "1"}, {"file", "gros.txt", longText(100 << 10)}})},
		{name: "documents-upload-json-415", method: http.MethodPost, path: v + "/documents", as: cond, body: `{"chantier_id":1}`},
		{name: "documents-upload-unknown-part-400", method: http.MethodPost, path: v + "/documents", as: cond, header: ct(upload),
			body: goldenMultipart([][3]string{{"chantier_id", "", "1"}, {"colour", "", "red"}, {"file", "a.txt", "a"}})},
		{name: "documents-upload-no-file-422", method: http.MethodPost, path: v + "/documents", as: cond, header: ct(upload),
			body: goldenMultipart([][3]string{{"chantier_id", "", "1"}})},
		{name: "documents-list", method: http.MethodGet, path: v + "/documents?chantier_id=1&categorie=plan", as: cond},
		{name: "documents-get", method: http.MethodGet, path: v + "/documents/1", as: cond, save: "d1"},
		{name: "documents-content", method: http.MethodGet, path: v + "/documents/1/content", as: cond},
		{name: "documents-content-range", method: http.MethodGet, path: v + "/documents/1/content", as: cond, header: map[string]string{"Range": "bytes=0-3"}},
		{name: "documents-content-bad-range-416", method: http.MethodGet, path: v + "/documents/1/content", as: cond, header: map[string]string{"Range": "bytes=9999-"}},
		{name: "documents-patch", method: http.MethodPatch, path: v + "/documents/1", as: cond, header: ct("application/merge-patch+json"), body: `{"nom":"Plan RDC"}`},
		{name: "documents-put", method: http.MethodPut, path: v + "/documents/1", as: cond, body: `{"chantier_id":1,"nom":"Plan RDC v2","categorie":"plan"}`},
		{name: "documents-delete-stale-412", method: http.MethodDelete, path: v + "/documents/1", as: cond, header: map[string]string{"If-Match": "{d1}"}},

		// signalements
		{name: "signalements-create", method: http.MethodPost, path: v + "/signalements", as: worker,
			body: `{"chantier_id":1,"titre":"Fuite","description":"Fuite au 2e étage","gravite":"haute"}`},
		{name: "signalements-create-invalid-422", method: http.MethodPost, path: v + "/signalements", as: worker,
			body: `{"chantier_id":1,"titre":"","gravite":"extrême"}`},
		{name: "signalements-list", method: http.MethodGet, path: v + "/signalements?chantier_id=1&statut=ouvert&gravite=haute", as: chef},
		{name: "signalements-get", method: http.MethodGet, path: v + "/signalements/1", as: chef},
		{name: "signalements-patch", method: http.MethodPatch, path: v + "/signalements/1", as: chef,
			header: ct("application/merge-patch+json"), body: `{"statut":"resolu","assigned_to":3}`},
		{name: "signalements-put", method: http.MethodPut, path: v + "/signalements/1", as: chef,
			body: `{"chantier_id":1,"titre":"Fuite réparée","description":"","gravite":"moyenne","statut":"ferme","assigned_to":3}`},
		{name: "signalements-delete", method: http.MethodDelete, path: v + "/signalements/1", as: admin},

		// affectations and planning
		{name: "affectations-create", method: http.MethodPost, path: v + "/affectations", as: chef,
			body: `{"user_id":4,"chantier_id":1,"date":"2025-03-10","heure_debut":"08:00","heure_fin":"12:00","note":"Matin"}`},
		{name: "affectations-create-invalid-422", method: http.MethodPost, path: v + "/affectations", as: chef,
			body: `{"user_id":4,"chantier_id":1,"date":"2025-03-10","heure_debut":"14:00","heure_fin":"12:00"}`},
		{name: "affectations-list", method: http.MethodGet, path: v + "/affectations?user_id=4&date_from=2025-03-01&date_to=2025-03-31", as: chef},
		{name: "affectations-get", method: http.MethodGet, path: v + "/affectations/1", as: chef},
		{name: "affectations-patch", method: http.MethodPatch, path: v + "/affectations/1", as: chef,
			header: ct("application/merge-patch+json"), body: `{"heure_fin":"12:30"}`},
		{name: "affectations-put", method: http.MethodPut, path: v + "/affectations/1", as: chef,
			body: `{"user_id":4,"chantier_id":1,"date":"2025-03-11","heure_debut":"13:00","heure_fin":"17:00","note":""}`},
		{name: "planning", method: http.MethodGet, path: v + "/planning?from=2025-03-01&to=2025-03-31", as: chef},
		{name: "planning-bad-dates-400", method: http.MethodGet, path: v + "/planning?from=yesterday", as: chef},
		{name: "planning-rate-limited-429", method: http.MethodGet, path: v + "/planning?from=2025-03-01&to=2025-03-31", as: chef},
		{name: "planning-method-405", method: http.MethodDelete, path: v + "/planning", as: chef},
		{name: "affectations-delete", method: http.MethodDelete, path: v + "/affectations/1", as: chef},

		// statistics
		{name: "stats", method: http.MethodGet, path: v + "/stats", as: cond},
		{name: "stats-worker-403", method: http.MethodGet, path: v + "/stats", as: worker},

		// administration of API keys
		{name: "api-keys-create", method: http.MethodPost, path: v + "/admin/api-keys", as: admin,
			body: `{"user_id":3,"name":"Intégration paie","scopes":["pointages:read","planning:read"]}`},
		{name: "api-keys-create-beyond-role-422", method: http.MethodPost, path: v + "/admin/api-keys", as: admin,
			body: `{"user_id":4,"name":"Trop large","scopes":["admin"]}`},
		{name: "api-keys-list", method: http.MethodGet, path: v + "/admin/api-keys?user_id=3", as: admin},
		{name: "api-keys-list-403", method: http.MethodGet, path: v + "/admin/api-keys", as: cond},
		{name: "api-keys-revoke", method: http.MethodDelete, path: v + "/admin/api-keys/5", as: admin},
		{name: "api-keys-revoke-404", method: http.MethodDelete, path: v + "/admin/api-keys/999", as: admin},

		// deletes last: the chantiers are referenced above
		{name: "chantiers-delete-referenced", method: http.MethodDelete, path: v + "/chantiers/3", as: admin},
		{name: "chantiers-delete-again-404", method: http.MethodDelete, path: v + "/chantiers/3", as: admin},

		// the document
		{name: "openapi-document", method: http.MethodHead, path: v + "/openapi.json"},

		// batches (recorded when they joined v1)
		// (an API key: its ids are the same on every database; a chantier's
		// are not, PostgreSQL's sequence having been used by refused inserts)
		{name: "batch-atomic", method: http.MethodPost, path: v + "/batch", as: admin,
			body: `{"atomic":true,"operations":[{"id":"k","method":"POST","path":"/admin/api-keys","body":{"user_id":3,"name":"Lot","scopes":["stats:read"]}},` +
				`{"method":"DELETE","path":"/admin/api-keys/{k.body.id}"},{"method":"GET","path":"/chantiers/1?fields=id,nom"}]}`},
		{name: "batch-best-effort-403-inside", method: http.MethodPost, path: v + "/batch", as: worker,
			body: `{"operations":[{"method":"GET","path":"/chantiers/1?fields=code"},{"method":"DELETE","path":"/chantiers/1"}]}`},
		{name: "batch-invalid-400", method: http.MethodPost, path: v + "/batch", as: admin,
			body: `{"operations":[{"method":"POST","path":"/batch","body":{}}]}`},

		// the audit trail (added after the freeze; its 200 holds hashes
		// and times of the run, so only its refusals are recorded here)
		{name: "audit-logs-anonymous-401", method: http.MethodGet, path: v + "/admin/audit-logs"},
		{name: "audit-logs-worker-403", method: http.MethodGet, path: v + "/admin/audit-logs", as: worker},
		{name: "audit-logs-bad-filter-400", method: http.MethodGet, path: v + "/admin/audit-logs?status=99&from=yesterday&colour=red", as: admin},
		// GDPR rights (recorded when they joined v1; the server sends no
		// e-mail, so a new e-mail is refused)
		{name: "me-patch", method: http.MethodPatch, path: v + "/users/me", as: chef,
			header: ct("application/merge-patch+json"), body: `{"prenom":"Chef"}`},
		{name: "me-patch-stale-412", method: http.MethodPatch, path: v + "/users/me", as: chef,
			header: map[string]string{"Content-Type": "application/merge-patch+json", "If-Match": `"v1"`}, body: `{"nom":"X"}`},
		{name: "me-patch-role-400", method: http.MethodPatch, path: v + "/users/me", as: chef, body: `{"role":"admin"}`},
		{name: "me-patch-email-without-mail-422", method: http.MethodPatch, path: v + "/users/me", as: chef,
			body: `{"email":"chef.nouveau@exemple.fr"}`},
		{name: "me-email-verify-invalid-422", method: http.MethodPost, path: v + "/users/me/email/verify", as: chef,
			body: `{"token":"hcv_nope"}`},
		{name: "me-export", method: http.MethodGet, path: v + "/users/me/export", as: chef},
		{name: "admin-users-erase-worker-403", method: http.MethodDelete, path: v + "/admin/users/4", as: worker},
		{name: "admin-users-erase-self-409", method: http.MethodDelete, path: v + "/admin/users/1", as: admin},
		{name: "admin-users-erase", method: http.MethodDelete, path: v + "/admin/users/4", as: admin},
		{name: "admin-users-erase-again", method: http.MethodDelete, path: v + "/admin/users/4", as: admin},
		{name: "admin-users-erase-unknown-404", method: http.MethodDelete, path: v + "/admin/users/999", as: admin},
	}
}

// longText is n bytes of text.
func longText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}
