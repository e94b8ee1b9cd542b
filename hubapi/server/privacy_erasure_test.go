package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// TestErasureLeavesNoPersonalData is the erasure test of docs/PRIVACY.md:
// a person uses the API (pointages, a signalement, a webhook subscription,
// an OAuth application, an e-mail change in progress), their data is read
// through two instances (response caches, authentication caches) and
// delivered to webhooks; after DELETE /admin/users/{id}, no table of the
// schema (enumerated from the database's catalogue) holds any of their
// personal values, no cache serves them, no other user's export holds
// them, and neither their API keys nor their OAuth token authenticate.
// Every personal value carries one random marker, which the search looks
// for.
func TestErasureLeavesNoPersonalData(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		mail := &mailbox{}
		redisURL := testenv.RedisURL()
		configure := func(c *server.Config) {
			c.Notifier, c.RedisURL = mail, redisURL
		}
		a := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: configure})
		// A second instance on the same database, told of the erasure
		// through Redis only (several instances share PostgreSQL; SQLite is
		// the embedded, single-instance mode).
		var b *httptest.Server
		var bs *server.Server
		if redisURL != "" && db.Name == "postgres" {
			bcfg := server.Config{DB: store.Wrap(db.DB), BlobDir: t.TempDir(), CursorKeys: [][]byte{[]byte(strings.Repeat("c", 32))},
				SkipMigrate: true, SecretKeys: a.Server.Secrets, RateLimits: apitest.LiftedRateLimits,
				Logger: slog.New(slog.DiscardHandler)}
			configure(&bcfg)
			var err error
			bs, err = server.New(context.Background(), bcfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(bs.Close)
			b = httptest.NewServer(bs.Handler)
			t.Cleanup(b.Close)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, s := range []*server.Server{a.Server, bs} {
				if err := s.WaitBroadcasts(ctx); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			t.Log("one instance only (SQLite, or HUB_TEST_REDIS_URL not set)")
		}

		rnd := make([]byte, 6)
		_, _ = rand.Read(rnd)
		tag := "zq" + hex.EncodeToString(rnd)
		person := &hubapi.User{Email: tag + ".perso@exemple.fr", Nom: "Dupontel" + tag, Prenom: "Amélie" + tag, Role: hubapi.RoleConducteur}
		if err := a.Server.Operator.CreateUser(context.Background(), person, oauthPassword); err != nil {
			t.Fatal(err)
		}
		admin := a.As(hubapi.RoleAdmin)
		colleague := a.User(hubapi.RoleConducteur)
		var key struct {
			Key string `json:"key"`
		}
		admin.Post(t, v1+"/admin/api-keys", map[string]any{"user_id": person.ID, "name": "Portable de " + tag,
			"scopes": hubapi.RoleScopes(hubapi.RoleConducteur)}).Expect(201).JSON(&key)
		me := a.WithKey(key.Key)

		// The subscriptions first: an event reaches the subscriptions that
		// exist when its job runs, which may be at once.
		me.Post(t, v1+"/webhooks", map[string]any{"url": "https://93.184.215.14/hooks/" + tag, "event_types": []string{"*"},
			"description": "Intégration de " + tag}).Expect(201)
		admin.Post(t, v1+"/webhooks", map[string]any{"url": publicTarget, "event_types": []string{"*"}}).Expect(201)

		// What the person does and what is recorded about them.
		ch := newChantier(t, admin, nil)
		pt := newPointage(t, me, map[string]any{"chantier_id": ch.ID, "commentaire": "Commentaire privé " + tag})
		sg := newSignalement(t, me, map[string]any{"chantier_id": ch.ID, "titre": "Chute " + tag,
			"description": "Description " + tag, "assigned_to": colleague.ID})
		newAffectation(t, admin, map[string]any{"user_id": person.ID, "chantier_id": ch.ID, "date": "2026-03-04", "note": "Note sur " + tag})
		me.Patch(t, v1+"/users/me", map[string]any{"email": tag + ".nouvelle@exemple.fr"}).Expect(200)
		tok, _ := oauthAccessToken(t, a.URL, a.Server.OAuth(), person.Email, "chantiers:read")
		bearer := a.WithAuthorization("Bearer " + tok.AccessToken)
		bearer.Get(t, v1+"/users/me").Expect(200)
		// an application may not take the whole archive nor change the e-mail
		bearer.Get(t, v1+"/users/me/export").Problem(403, "forbidden")
		bearer.Patch(t, v1+"/users/me", map[string]any{"email": tag + ".app@exemple.fr"}).Problem(403, "forbidden")

		// The events reach the webhook deliveries (every subscription's).
		delivered := func() bool {
			n, err := db.DB.NewSelect().TableExpr("webhook_deliveries").Where("payload LIKE ?", "%"+tag+"%").Count(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n > 0
		}
		for deadline := time.Now().Add(2 * time.Minute); !delivered(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				var jobs []struct {
					Kind, State string
					Attempt     int
					Errors      string
				}
				_ = db.DB.NewRaw("SELECT kind, state, attempt, COALESCE(CAST(errors AS TEXT), '') AS errors FROM river_job ORDER BY id").
					Scan(context.Background(), &jobs)
				t.Fatalf("the person's data is in no webhook delivery after 2 min; jobs: %+v", jobs)
			}
		}
		before := tablesHolding(t, db.DB, tag)
		for _, want := range []string{"users:", "pointages:", "signalements:", "affectations:", "api_keys:", "webhook_subscriptions:"} {
			if !slices.ContainsFunc(before, func(s string) bool { return strings.HasPrefix(s, want) }) {
				t.Fatalf("before the erasure, the search finds %v, not %s", before, want)
			}
		}

		// Caches: the admin's list on both instances, the person's key on b.
		list := v1 + "/pointages?user_id=" + itoa(person.ID)
		if r := admin.Get(t, list).Expect(200); !bytes.Contains(r.Body, []byte(tag)) {
			t.Fatalf("list before the erasure: %s", r.Body)
		}
		if b != nil {
			for range 2 { // the second answer comes from b's cache
				if st, body := rawGet(t, b.URL+list, a.Key(hubapi.RoleAdmin)); st != 200 || !strings.Contains(body, tag) {
					t.Fatalf("b's list: %d %s", st, body)
				}
			}
			if st, _ := rawGet(t, b.URL+v1+"/users/me", key.Key); st != 200 {
				t.Fatalf("b: the person's key answers %d", st)
			}
		}

		// What the second instance queued for the audit trail: its writer
		// appends within 200 ms; flushed before the erasure so that the
		// check does not race it (docs/PRIVACY.md: an event queued on
		// another instance in the last 200 ms before an erasure is written
		// after it, and anonymised by the 30-day job).
		if bs != nil {
			if err := bs.AuditWriter.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		admin.Delete(t, v1+"/admin/users/"+itoa(person.ID)).Expect(204)

		t.Run("no table holds a personal value", func(t *testing.T) {
			if found := tablesHolding(t, db.DB, tag); len(found) > 0 {
				t.Errorf("after the erasure, %q is still in %v", tag, found)
			}
			if found := tablesHolding(t, db.DB, person.Email); len(found) > 0 {
				t.Errorf("the e-mail is still in %v", found)
			}
		})
		t.Run("the pointage is kept, pseudonymised", func(t *testing.T) {
			var got hubapi.Pointage
			admin.Get(t, idPath("pointages", pt.ID)).Expect(200).JSON(&got)
			if got.UserID != person.ID || got.Minutes != pt.Minutes || got.Date != pt.Date || got.Commentaire != "" {
				t.Errorf("pointage after the erasure: %+v", got)
			}
		})
		t.Run("no cache serves them, on either instance", func(t *testing.T) {
			if r := admin.Get(t, list).Expect(200); bytes.Contains(r.Body, []byte(tag)) {
				t.Errorf("a's list still holds the comment: %s", r.Body)
			}
			if b != nil {
				waitFor(t, 2*time.Second, "b's cache flushed", func() bool {
					st, body := rawGet(t, b.URL+list, a.Key(hubapi.RoleAdmin))
					return st == 200 && !strings.Contains(body, tag)
				})
			}
		})
		t.Run("keys and tokens no longer authenticate", func(t *testing.T) {
			me.Get(t, v1+"/users/me").Problem(401, "unauthorized")
			bearer.Get(t, v1+"/users/me").Problem(401, "unauthorized")
			if b != nil {
				waitFor(t, 2*time.Second, "b refuses the key", func() bool {
					st, _ := rawGet(t, b.URL+v1+"/users/me", key.Key)
					return st == 401
				})
			}
		})
		t.Run("other users' exports hold nothing of them", func(t *testing.T) {
			for _, c := range []*apitest.Client{admin, a.As(hubapi.RoleConducteur)} {
				r := c.Get(t, v1+"/users/me/export").Expect(200)
				if bytes.Contains(r.Body, []byte(tag)) {
					t.Errorf("an export holds %q: %s", tag, r.Body)
				}
			}
			// the colleague still has the signalement assigned, anonymised
			var ex struct {
				Signalements []hubapi.Signalement `json:"signalements"`
			}
			a.As(hubapi.RoleConducteur).Get(t, v1+"/users/me/export").Expect(200).JSON(&ex)
			if !slices.ContainsFunc(ex.Signalements, func(s hubapi.Signalement) bool {
				return s.ID == sg.ID && s.Description == "" && s.Titre == "Signalement anonymisé"
			}) {
				t.Errorf("the colleague's export: %+v", ex.Signalements)
			}
		})
		t.Run("no OAuth consent of theirs remains", func(t *testing.T) {
			list, err := a.Server.OAuth().Authorizations(context.Background(), itoa(person.ID))
			if err != nil || len(list) != 0 {
				t.Errorf("consents after the erasure: %+v %v", list, err)
			}
		})
		t.Run("the audit trail is anonymised at once and its chain still verifies", func(t *testing.T) {
			ctx := context.Background()
			if err := a.Server.AuditWriter.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			evs, _, err := a.Server.Audit.List(ctx, audit.Filter{UserID: person.ID}, audit.Page{Limit: 1000})
			if err != nil || len(evs) == 0 {
				t.Fatalf("%d audit events of the person, err %v", len(evs), err)
			}
			for _, e := range evs {
				if e.AnonymisedAt == nil || e.UserAgent != "" || e.Changes != "" || e.ClientIP != "127.0.0.0/24" {
					t.Errorf("event %s %d (%s %s %d) after the erasure: ip %q ua %q changes %q", e.Chain, e.Seq, e.Method, e.Route, e.Status, e.ClientIP, e.UserAgent, e.Changes)
				}
			}
			if b, err := a.Server.Audit.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
				t.Errorf("audit verify after the erasure: break %v, err %v", b, err)
			}
		})
		t.Run("erasing again → 204; an unknown user → 404", func(t *testing.T) {
			admin.Delete(t, v1+"/admin/users/"+itoa(person.ID)).Expect(204)
			admin.Delete(t, v1+"/admin/users/99999999").Problem(404, "not-found")
		})
	})
}

// rawGet sends a GET with a bearer key outside the OpenAPI checks (to
// another instance) and returns the status and body.
func rawGet(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// waitFor polls cond until it holds, or fails after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
