package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

func testAuthentication(t *testing.T, env *apitest.Env) {
	unknown, err := hubapi.NewAPIKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	valid := env.Key(hubapi.RoleAdmin)
	last := "a"
	if strings.HasSuffix(valid, "a") {
		last = "b"
	}
	badChecksum := valid[:len(valid)-1] + last

	cases := []struct {
		name      string
		client    *apitest.Client
		opts      []apitest.Option
		challenge string // WWW-Authenticate error parameter
	}{
		{"no Authorization header → 401", env.Anonymous(), []apitest.Option{apitest.Invalid()}, ""},
		{"Basic credentials → 401 invalid_request", env.WithAuthorization("Basic YWRtaW46YWRtaW4="), []apitest.Option{apitest.Invalid()}, "invalid_request"},
		{"Bearer without token → 401 invalid_request", env.WithAuthorization("Bearer"), []apitest.Option{apitest.Invalid()}, "invalid_request"},
		{"garbage bearer token → 401 invalid_token", env.WithKey("not-a-key"), nil, "invalid_token"},
		{"well-formed unknown key → 401 invalid_token", env.WithKey(unknown), nil, "invalid_token"},
		{"key with a wrong checksum → 401 invalid_token", env.WithKey(badChecksum), nil, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.client.Get(t, v1+"/chantiers", tc.opts...)
			r.Problem(401, "unauthorized")
			ch := r.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer realm="hubchantier"`) {
				t.Errorf("WWW-Authenticate %q", ch)
			}
			if tc.challenge != "" && !strings.Contains(ch, `error="`+tc.challenge+`"`) {
				t.Errorf("WWW-Authenticate %q, want error=%q", ch, tc.challenge)
			}
		})
	}

	// Every operation of the document but the document itself needs a key:
	// none is left open by a route registered outside the authenticated
	// subrouter (TestOpenAPIDescribesEveryRoute shows the document lists
	// every route).
	t.Run("every operation without credentials → 401", func(t *testing.T) {
		spec, err := apitest.V1()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, op := range spec.Operations() {
			if op.Path == v1+"/openapi.json" {
				continue
			}
			path := strings.ReplaceAll(op.Path, "{id}", "1")
			env.Anonymous().Do(t, op.Method, path, nil, apitest.Unchecked("no credentials and no body")).Problem(401, "unauthorized")
			n++
		}
		if n < 30 {
			t.Fatalf("only %d operations checked", n)
		}
	})

	t.Run("revoked key → 401", func(t *testing.T) {
		u, key := env.NewUser(t, hubapi.RoleChefChantier)
		c := env.WithKey(key)
		c.Get(t, v1+"/users/me").Expect(200)
		var keys struct{ Data []struct{ ID int64 } }
		env.As(hubapi.RoleAdmin).Get(t, v1+"/admin/api-keys?user_id="+itoa(u.ID)).Expect(200).JSON(&keys)
		if len(keys.Data) != 1 {
			t.Fatalf("%d keys for the new user", len(keys.Data))
		}
		env.As(hubapi.RoleAdmin).Delete(t, idPath("admin/api-keys", keys.Data[0].ID)).Expect(204)
		c.Get(t, v1+"/users/me").Problem(401, "unauthorized")
	})
}

func testAuthorization(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	ch := newChantier(t, admin, nil)
	conducteur := env.User(hubapi.RoleConducteur)
	readOnly := env.WithKey(env.NewKey(t, conducteur.ID, hubapi.ScopeChantiersRead))

	t.Run("key lacking the scope → 403 insufficient-scope", func(t *testing.T) {
		readOnly.Get(t, v1+"/chantiers").Expect(200)
		r := readOnly.Post(t, v1+"/chantiers", map[string]any{"code": uniq("S"), "nom": "n", "adresse": "a"})
		p := r.Problem(403, "insufficient-scope")
		if p.RequiredScope != "chantiers:write" {
			t.Errorf("required_scope %q", p.RequiredScope)
		}
		if ch := r.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="chantiers:write"`) {
			t.Errorf("WWW-Authenticate %q", ch)
		}
		readOnly.Delete(t, idPath("chantiers", ch.ID)).Problem(403, "insufficient-scope")
		readOnly.Get(t, v1+"/pointages").Problem(403, "insufficient-scope")
		readOnly.Get(t, v1+"/stats").Problem(403, "insufficient-scope")
	})

	// A key holding a single scope is refused, before any handler runs, by
	// every operation that needs another one.
	t.Run("every operation needing another scope → 403 insufficient-scope", func(t *testing.T) {
		spec, err := apitest.V1()
		if err != nil {
			t.Fatal(err)
		}
		admin := env.User(hubapi.RoleAdmin)
		statsOnly := env.WithKey(env.NewKey(t, admin.ID, hubapi.ScopeStatsRead))
		for _, op := range spec.Operations() {
			switch op.Path {
			case v1 + "/openapi.json", v1 + "/users/me", v1 + "/batch", v1 + "/users/me/authorizations", v1 + "/users/me/authorizations/{client_id}",
				v1 + "/users/me/export", v1 + "/users/me/email/verify":
				continue // public document; any key may read its own user and authorizations, export and rectify its own data, or send a batch (each operation is checked: TestBatch)
			}
			c := statsOnly
			if op.Path == v1+"/stats" {
				c = readOnly
			}
			path := strings.ReplaceAll(op.Path, "{id}", "1")
			c.Do(t, op.Method, path, nil, apitest.Unchecked("no body: the scope is checked first")).Problem(403, "insufficient-scope")
		}
	})

	t.Run("the scope check comes before the handler: 403 even for a missing resource", func(t *testing.T) {
		readOnly.Delete(t, idPath("chantiers", 987654321)).Problem(403, "insufficient-scope")
	})

	// Each role's key holds every scope its role allows; these operations
	// need a scope outside the role.
	bounded := []struct {
		name   string
		role   hubapi.Role
		method string
		path   string
		body   any
		scope  string
	}{
		{"compagnon cannot create chantiers", hubapi.RoleCompagnon, "POST", "/chantiers", map[string]any{"code": "X1", "nom": "n", "adresse": "a"}, "chantiers:write"},
		{"compagnon cannot read stats", hubapi.RoleCompagnon, "GET", "/stats", nil, "stats:read"},
		{"compagnon cannot delete documents", hubapi.RoleCompagnon, "DELETE", "/documents/1", nil, "documents:write"},
		{"compagnon cannot plan", hubapi.RoleCompagnon, "POST", "/affectations", map[string]any{"user_id": 1, "chantier_id": 1, "date": "2026-03-03"}, "planning:write"},
		{"chef de chantier cannot edit chantiers", hubapi.RoleChefChantier, "PATCH", "/chantiers/1", map[string]any{"nom": "x"}, "chantiers:write"},
		{"conducteur cannot list API keys", hubapi.RoleConducteur, "GET", "/admin/api-keys", nil, "admin"},
		{"chef de chantier cannot create API keys", hubapi.RoleChefChantier, "POST", "/admin/api-keys", map[string]any{"user_id": 1, "name": "k", "scopes": []string{"stats:read"}}, "admin"},
	}
	for _, tc := range bounded {
		t.Run("role-bounded: "+tc.name+" → 403", func(t *testing.T) {
			c := env.As(tc.role)
			var r *apitest.Response
			switch tc.method {
			case "PATCH":
				r = c.Patch(t, v1+tc.path, tc.body)
			default:
				r = c.Do(t, tc.method, v1+tc.path, tc.body)
			}
			if p := r.Problem(403, "insufficient-scope"); p.RequiredScope != tc.scope {
				t.Errorf("required_scope %q, want %q", p.RequiredScope, tc.scope)
			}
		})
	}

	t.Run("an API key cannot be granted a scope beyond its owner's role → 422", func(t *testing.T) {
		admin.Post(t, v1+"/admin/api-keys", map[string]any{
			"user_id": env.User(hubapi.RoleCompagnon).ID, "name": "too much", "scopes": []string{"chantiers:write"},
		}).FieldProblem(422, "validation-error", "scopes")
	})
}

func testMe(t *testing.T, env *apitest.Env) {
	for _, role := range hubapi.Roles {
		t.Run(string(role)+" sees itself and its role's scopes", func(t *testing.T) {
			var me struct {
				hubapi.User
				Scopes []hubapi.Scope `json:"scopes"`
			}
			env.As(role).Get(t, v1+"/users/me").Expect(200).JSON(&me)
			if me.ID != env.User(role).ID || me.Role != role || me.Email != env.User(role).Email {
				t.Errorf("got user %d %s %s", me.ID, me.Role, me.Email)
			}
			want := hubapi.RoleScopes(role)
			slices.Sort(want)
			got := slices.Clone(me.Scopes)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("scopes %v, want %v", got, want)
			}
		})
	}
	t.Run("a key's scopes are those granted", func(t *testing.T) {
		key := env.NewKey(t, env.User(hubapi.RoleConducteur).ID, hubapi.ScopeStatsRead, hubapi.ScopeChantiersRead)
		var me struct {
			Scopes []hubapi.Scope `json:"scopes"`
		}
		env.WithKey(key).Get(t, v1+"/users/me").Expect(200).JSON(&me)
		if !slices.Equal(me.Scopes, []hubapi.Scope{hubapi.ScopeChantiersRead, hubapi.ScopeStatsRead}) {
			t.Errorf("scopes %v", me.Scopes)
		}
	})
}
