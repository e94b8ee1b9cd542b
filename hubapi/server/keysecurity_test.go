package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// createdKey is the answer to POST /admin/api-keys and …/rotate.
type createdKey struct {
	ID                      int64      `json:"id"`
	Key                     string     `json:"key"`
	IPAllowlist             []string   `json:"ip_allowlist"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

// callFrom sends a request straight to the server's handler from peer, with an
// X-Forwarded-For header when xff is set: the client address is whatever
// the server's one resolver makes of them.
func callFrom(h http.Handler, method, path, key, peer, xff string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = peer
	req.Header.Set("Authorization", "Bearer "+key)
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// A key with an allow-list is refused (403 problem, audited, not counted
// against its quota) from any other address, whether it comes directly,
// through a trusted proxy or through an untrusted one; a spoofed
// X-Forwarded-For never passes.
func TestIPAllowlist(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits + ";GET /api/v1/chantiers=3/m",
			Configure: func(c *server.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }})
		admin := env.As(hubapi.RoleAdmin)
		owner := env.User(hubapi.RoleConducteur)

		t.Run("a bad CIDR → 422 naming the entry", func(t *testing.T) {
			p := admin.Post(t, v1+"/admin/api-keys", map[string]any{"user_id": owner.ID, "name": "x", "scopes": []string{"chantiers:read"},
				"ip_allowlist": []string{"10.0.0.0/8", "192.168.1.0/33"}}).FieldProblem(422, "validation-error", "ip_allowlist")
			if msg, _ := p.Field("ip_allowlist"); !strings.Contains(msg, "192.168.1.0/33") || !strings.Contains(msg, "entry 1") {
				t.Fatalf("message %q does not name the entry", msg)
			}
		})

		var k createdKey
		admin.Post(t, v1+"/admin/api-keys", map[string]any{"user_id": owner.ID, "name": "restricted", "scopes": []string{"chantiers:read"},
			"ip_allowlist": []string{"192.168.10.0/24", "2001:db8::/32"}}).Expect(201).JSON(&k)
		if strings.Join(k.IPAllowlist, ",") != "192.168.10.0/24,2001:db8::/32" {
			t.Fatalf("allow-list %v", k.IPAllowlist)
		}
		// Quota: 3 a minute on GET /chantiers. Refused requests first.
		refused := []struct{ name, peer, xff string }{
			{"direct client outside the list → 403", "203.0.113.9:5000", ""},
			{"trusted proxy, client outside the list → 403", "10.0.0.2:443", "203.0.113.9"},
			{"trusted proxy, spoofed left-most entry inside the list → 403", "10.0.0.2:443", "192.168.10.20, 203.0.113.9"},
			{"untrusted peer claiming an allowed client → 403", "203.0.113.9:443", "192.168.10.20"},
			{"untrusted peer inside 10/8 claims nothing → refused as itself", "172.16.0.1:443", "192.168.10.20"},
		}
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				rec := callFrom(env.Server.Handler, http.MethodGet, v1+"/chantiers", k.Key, tc.peer, tc.xff)
				if rec.Code != 403 || !strings.Contains(rec.Body.String(), "ip-not-allowed") ||
					!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
					t.Fatalf("status %d %s", rec.Code, rec.Body.String())
				}
				if rec.Header().Get("X-RateLimit-Remaining") != "" {
					t.Fatal("a refused request went through the rate limiter")
				}
			})
		}
		allowed := []struct{ name, peer, xff string }{
			{"direct client inside the list → 200", "192.168.10.20:5000", ""},
			{"trusted proxy, client inside the list → 200", "10.0.0.2:443", "192.168.10.20"},
			{"IPv6 client inside the list → 200", "[2001:db8::5]:443", ""},
		}
		for i, tc := range allowed {
			t.Run(tc.name+" (the refused requests used no quota)", func(t *testing.T) {
				rec := callFrom(env.Server.Handler, http.MethodGet, v1+"/chantiers", k.Key, tc.peer, tc.xff)
				if rec.Code != 200 {
					t.Fatalf("status %d %s", rec.Code, rec.Body.String())
				}
				if got, want := rec.Header().Get("X-RateLimit-Remaining"), itoa(int64(2-i)); got != want {
					t.Fatalf("X-RateLimit-Remaining %s, want %s", got, want)
				}
			})
		}
		t.Run("the refusals are in the audit trail with the key", func(t *testing.T) {
			if err := env.Server.AuditWriter.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			n, err := env.Server.DB.NewSelect().TableExpr("audit_events").Where("api_key_id = ?", k.ID).
				Where("status = 403").Where("route = ?", v1+"/chantiers").Count(t.Context())
			if err != nil || int(n) != len(refused) {
				t.Fatalf("%d audit events of refusals, want %d (%v)", n, len(refused), err)
			}
		})
		t.Run("PATCH a bad entry → 422; null lifts the restriction at once", func(t *testing.T) {
			admin.Patch(t, v1+"/admin/api-keys/"+itoa(k.ID), map[string]any{"ip_allowlist": []string{"fe80::1%eth0"}},
				apitest.ContentType("application/merge-patch+json")).FieldProblem(422, "validation-error", "ip_allowlist")
			var out struct {
				IPAllowlist []string `json:"ip_allowlist"`
			}
			admin.Patch(t, v1+"/admin/api-keys/"+itoa(k.ID), map[string]any{"ip_allowlist": nil},
				apitest.ContentType("application/merge-patch+json")).Expect(200).JSON(&out)
			if out.IPAllowlist != nil {
				t.Fatalf("allow-list %v after null", out.IPAllowlist)
			}
			rec := callFrom(env.Server.Handler, http.MethodGet, v1+"/chantiers/1", k.Key, "203.0.113.9:5000", "")
			if rec.Code == 403 {
				t.Fatalf("still refused after lifting: %s", rec.Body.String())
			}
		})
		t.Run("a key without allow-list is served from anywhere", func(t *testing.T) {
			rec := callFrom(env.Server.Handler, http.MethodGet, v1+"/chantiers", env.Key(hubapi.RoleAdmin), "203.0.113.9:5000", "")
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
		})
	})
}

// POST …/rotate returns the new secret once; the old one works with
// Deprecation, Sunset and Link headers until the end of the grace period,
// then gets 401 api-key-rotated.
func TestRotateAPIKeyOverHTTP(t *testing.T) {
	const grace = 2 * time.Second
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits,
		Configure: func(c *server.Config) { c.APIKeyRotationGrace = grace }})
	admin := env.As(hubapi.RoleAdmin)
	owner := env.User(hubapi.RoleConducteur)
	var k createdKey
	admin.Post(t, v1+"/admin/api-keys", map[string]any{"user_id": owner.ID, "name": "to rotate", "scopes": []string{"chantiers:read"}}).Expect(201).JSON(&k)
	var rot createdKey
	r := admin.Post(t, v1+"/admin/api-keys/"+itoa(k.ID)+"/rotate", nil).Expect(200).JSON(&rot)
	if rot.Key == "" || rot.Key == k.Key || r.Header.Get("Cache-Control") != "no-store" || rot.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotation answer %+v, Cache-Control %q", rot, r.Header.Get("Cache-Control"))
	}
	t.Run("a second rotation at once → 409", func(t *testing.T) {
		admin.Post(t, v1+"/admin/api-keys/"+itoa(k.ID)+"/rotate", nil).Problem(409, "conflict")
	})
	t.Run("an unknown key → 404", func(t *testing.T) {
		admin.Post(t, v1+"/admin/api-keys/999999/rotate", nil).Problem(404, "not-found")
	})
	t.Run("the old secret during the grace → 200 with Deprecation, Sunset and Link", func(t *testing.T) {
		r := env.WithKey(k.Key).Get(t, "/api/v2/chantiers").Expect(200)
		if d := r.Header.Get("Deprecation"); !strings.HasPrefix(d, "@") {
			t.Fatalf("Deprecation %q", d)
		}
		if r.Header.Get("Sunset") == "" || !strings.Contains(strings.Join(r.Header.Values("Link"), ","), `rel="deprecation"`) {
			t.Fatalf("Sunset %q, Link %q", r.Header.Get("Sunset"), r.Header.Values("Link"))
		}
	})
	t.Run("the new secret → 200 without Deprecation", func(t *testing.T) {
		r := env.WithKey(rot.Key).Get(t, "/api/v2/chantiers").Expect(200)
		if d := r.Header.Get("Deprecation"); d != "" {
			t.Fatalf("Deprecation %q on the new secret", d)
		}
	})
	t.Run("the old secret after the grace → 401 api-key-rotated", func(t *testing.T) {
		time.Sleep(time.Until(*rot.PreviousSecretExpiresAt) + 50*time.Millisecond)
		r := env.WithKey(k.Key).Get(t, v1+"/chantiers")
		r.Problem(401, "api-key-rotated")
		if !strings.Contains(r.Header.Get("WWW-Authenticate"), "rotated") {
			t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
		env.WithKey(rot.Key).Get(t, v1+"/chantiers").Expect(200)
	})
}

// Requests answered 404 over and over, made through the server, leave
// their events in the audit trail; the anomaly scan finds them, and
// GET /admin/anomalies lists them with its filters.
func TestAnomaliesOverHTTP(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits + ";GET /api/v1/chantiers/{id}=1000/m"})
	admin := env.As(hubapi.RoleAdmin)
	owner := env.User(hubapi.RoleConducteur)
	key := env.NewKey(t, owner.ID, hubapi.ScopeChantiersRead)
	c := env.WithKey(key)
	for i := range 40 {
		c.Get(t, v1+"/chantiers/"+itoa(int64(900000+i))).Problem(404, "not-found")
	}
	ctx := context.Background()
	if err := env.Server.AuditWriter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := env.Server.Operator.DetectAnomalies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Opened) != 2 {
		t.Fatalf("opened %+v", run.Opened)
	}
	var list struct {
		Data []struct {
			APIKeyID int64  `json:"api_key_id"`
			Rule     string `json:"rule"`
		} `json:"data"`
	}
	admin.Get(t, v1+"/admin/anomalies?rule=scanning_behavior&state=open").Expect(200).JSON(&list)
	if len(list.Data) != 1 || list.Data[0].Rule != hubapi.AnomalyScanning {
		t.Fatalf("list %+v", list)
	}
	admin.Get(t, "/api/v2/admin/anomalies?apiKeyId="+itoa(list.Data[0].APIKeyID)).Expect(200)
	admin.Get(t, v1+"/admin/anomalies?rule=nope", apitest.Invalid()).Expect(422)
	env.As(hubapi.RoleConducteur).Get(t, v1+"/admin/anomalies").Problem(403, "insufficient-scope")
}

// testKeySecurity exercises the key security operations of one version
// (v1 snake_case, v2 camelCase) inside the API suites.
func testKeySecurity(t *testing.T, env *apitest.Env, base string) {
	admin := env.As(hubapi.RoleAdmin)
	owner := env.User(hubapi.RoleConducteur)
	names := map[string]string{"user_id": "user_id", "ip_allowlist": "ip_allowlist", "auto_rotate": "auto_rotate",
		"rotation_interval_days": "rotation_interval_days"}
	if base == v2 {
		names = map[string]string{"user_id": "userId", "ip_allowlist": "ipAllowlist", "auto_rotate": "autoRotate",
			"rotation_interval_days": "rotationIntervalDays"}
	}
	var k struct {
		ID  int64  `json:"id"`
		Key string `json:"key"`
	}
	admin.Post(t, base+"/admin/api-keys", map[string]any{names["user_id"]: owner.ID, "name": "secured", "scopes": []string{"chantiers:read"},
		names["ip_allowlist"]: []string{"127.0.0.0/8", "::1"}, names["auto_rotate"]: true, names["rotation_interval_days"]: 30}).Expect(201).JSON(&k)
	env.WithKey(k.Key).Get(t, base+"/chantiers").Expect(200) // the test client is on loopback
	var patched map[string]any
	admin.Patch(t, base+"/admin/api-keys/"+itoa(k.ID), map[string]any{names["ip_allowlist"]: []string{"192.0.2.0/24"}},
		apitest.ContentType("application/merge-patch+json")).Expect(200).JSON(&patched)
	if _, ok := patched[names["ip_allowlist"]]; !ok {
		t.Fatalf("PATCH answer without %s: %v", names["ip_allowlist"], patched)
	}
	env.WithKey(k.Key).Get(t, base+"/chantiers").Problem(403, "ip-not-allowed")
	admin.Patch(t, base+"/admin/api-keys/"+itoa(k.ID), map[string]any{"name": ""},
		apitest.ContentType("application/merge-patch+json"), apitest.Invalid()).FieldProblem(422, "validation-error", "name")
	admin.Patch(t, base+"/admin/api-keys/999999", map[string]any{"name": "x"}, apitest.ContentType("application/merge-patch+json")).Problem(404, "not-found")
	var rot struct {
		Key string `json:"key"`
	}
	admin.Post(t, base+"/admin/api-keys/"+itoa(k.ID)+"/rotate", nil).Expect(200).JSON(&rot)
	if rot.Key == "" || rot.Key == k.Key {
		t.Fatal("no new secret")
	}
	admin.Get(t, base+"/admin/anomalies").Expect(200)
	// an automatic rotation, due since the key is two days old
	var auto struct {
		ID int64 `json:"id"`
	}
	admin.Post(t, base+"/admin/api-keys", map[string]any{names["user_id"]: owner.ID, "name": "auto", "scopes": []string{"chantiers:read"},
		names["auto_rotate"]: true, names["rotation_interval_days"]: 1}).Expect(201).JSON(&auto)
	if _, err := env.Server.DB.NewUpdate().Table("api_keys").Set("created_at = ?", time.Now().Add(-48*time.Hour)).
		Where("id = ?", auto.ID).Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Server.Operator.RotateDueAPIKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	var collected struct {
		Key string `json:"key"`
	}
	admin.Post(t, base+"/admin/api-keys/"+itoa(auto.ID)+"/secret", nil).Expect(200).JSON(&collected)
	env.WithKey(collected.Key).Get(t, base+"/chantiers").Expect(200)
	admin.Post(t, base+"/admin/api-keys/"+itoa(auto.ID)+"/secret", nil).Problem(404, "not-found")
	env.As(hubapi.RoleConducteur).Post(t, base+"/admin/api-keys/"+itoa(k.ID)+"/rotate", nil).Problem(403, "insufficient-scope")
}
