package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/hubchantier/hubchantier/client"
	"github.com/hubchantier/hubchantier/client/apiv2"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestV2(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := startEnv(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		var deprecations []client.Deprecation
		c := e.client(t, hubapi.RoleConducteur, client.WithOnDeprecation(func(d client.Deprecation) { deprecations = append(deprecations, d) }))
		other := e.client(t, hubapi.RoleAdmin)
		ctx := context.Background()

		var ids []int64
		for i := range 5 {
			ch, err := c.V2.Chantiers.Create(ctx, &apiv2.ChantierInput{Code: fmt.Sprintf("V2-%d", i), Name: fmt.Sprintf("Site %d", i),
				Location: "1 place Bellecour", City: ptr("Lyon")})
			if err != nil {
				t.Fatal(err)
			}
			if ch.Name != fmt.Sprintf("Site %d", i) || ch.Location != "1 place Bellecour" || ch.Version != 1 {
				t.Fatalf("created %+v", ch)
			}
			ids = append(ids, ch.Id)
		}
		e.front.exchanges()

		t.Run("iteration follows v2 cursors", func(t *testing.T) {
			var got []int64
			for ch, err := range c.V2.Chantiers.List(ctx, &apiv2.ListChantiersParams{Limit: ptr(2), Sort: ptr("id"), City: ptr("Lyon")}) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ch.Id)
			}
			if !slices.Equal(got, ids) {
				t.Fatalf("ids %v, want %v", got, ids)
			}
			exs := e.front.exchanges()
			if len(exs) != 3 {
				t.Fatalf("5 items by 2 → %d requests, want 3", len(exs))
			}
			for _, ex := range exs[1:] {
				if !strings.Contains(ex.RawQuery, "cursor=") || !strings.Contains(ex.RawQuery, "city=Lyon") {
					t.Errorf("next page query %q: want the cursor and the filter", ex.RawQuery)
				}
			}
		})

		t.Run("304, If-Match 412 and merge patch with null", func(t *testing.T) {
			a, err := c.V2.Chantiers.Get(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.V2.Chantiers.Get(ctx, ids[0]); err != nil {
				t.Fatal(err)
			}
			if got := codes(e.front.exchanges()); !slices.Equal(got, []int{200, 304}) {
				t.Errorf("two Gets → %v, want [200 304]", got)
			}
			if _, err := other.V2.Chantiers.Update(ctx, a.Id, &apiv2.ChantierPatch{Name: ptr("Theirs")}); err != nil {
				t.Fatal(err)
			}
			_, err = c.V2.Chantiers.Update(ctx, a.Id, &apiv2.ChantierPatch{Name: ptr("Mine")}, client.IfVersion(a.Version))
			var perr *client.Error
			if !errors.As(err, &perr) || !errors.Is(err, client.ErrPreconditionFailed) || perr.Code() != "precondition-failed" {
				t.Fatalf("stale If-Match on v2 → %v", err)
			}
			up, err := c.V2.Chantiers.Update(ctx, a.Id, &apiv2.ChantierPatch{City: nullable.NewNullNullable[string]()}, client.IfVersion(a.Version+1))
			if err != nil || up.City != "" || up.Name != "Theirs" || up.Version != 3 {
				t.Fatalf("patch {city: null} → %+v %v", up, err)
			}
		})

		t.Run("problems keep v2's extension members", func(t *testing.T) {
			cc := e.client(t, hubapi.RoleCompagnon)
			_, err := cc.V2.Chantiers.Create(ctx, &apiv2.ChantierInput{Code: "V2-X", Name: "n", Location: "l"})
			var perr *client.Error
			var scope apiv2.Scope
			if !errors.As(err, &perr) || !errors.Is(err, client.ErrForbidden) {
				t.Fatalf("→ %v, want 403", err)
			}
			if ok, _ := perr.Extension("requiredScope", &scope); !ok || scope != "chantiers:write" {
				t.Errorf("requiredScope = %q, want chantiers:write (extensions %v)", scope, perr.Extensions)
			}
		})

		t.Run("documents, me and stats", func(t *testing.T) {
			doc, err := c.V2.Documents.Create(ctx, &apiv2.DocumentUpload{ChantierId: ids[1], Name: ptr("plan v2")}, "plan.txt", "text/plain", strings.NewReader("v2"))
			if err != nil {
				t.Fatal(err)
			}
			if body, _, err := c.V2.Documents.Content(ctx, doc.Id); err != nil || string(body) != "v2" {
				t.Errorf("content → %q %v", body, err)
			}
			me, err := c.V2.Me(ctx)
			if err != nil || me.Id != e.User(hubapi.RoleConducteur).ID {
				t.Errorf("me → %+v %v", me, err)
			}
			if _, err := c.V2.Stats(ctx); err != nil {
				t.Error(err)
			}
		})

		t.Run("a batch of v2 operations: references, dependsOn, typed results and problems", func(t *testing.T) {
			res, err := c.V2.Batch(ctx, &apiv2.BatchRequest{Operations: []apiv2.BatchOperation{
				{Id: ptr("site"), Method: apiv2.POST, Path: "/chantiers", Body: map[string]any{"code": "V2-B", "name": "Lot B", "location": "3 rue Neuve"}},
				{Method: apiv2.POST, Path: "/signalements", Body: map[string]any{"title": "Fuite", "chantierId": map[string]any{"$ref": "site.body.id"}}},
				{Method: apiv2.GET, Path: "/chantiers/{site.body.id}?fields=id,name", DependsOn: &[]string{"op2"}},
				{Method: apiv2.GET, Path: "/chantiers/999999"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Results) != 4 {
				t.Fatalf("%d results", len(res.Results))
			}
			site, err := client.DecodeBatchResult[apiv2.Chantier](res.Results[0])
			if err != nil || site.Name != "Lot B" || site.Location != "3 rue Neuve" {
				t.Fatalf("site → %+v %v", site, err)
			}
			sg, err := client.DecodeBatchResult[apiv2.Signalement](res.Results[1])
			if err != nil || sg.ChantierId != site.Id || sg.Title != "Fuite" {
				t.Fatalf("signalement → %+v %v", sg, err)
			}
			if got, err := client.DecodeBatchResult[apiv2.Chantier](res.Results[2]); err != nil || got.Id != site.Id || got.Name != "Lot B" || got.Location != "" {
				t.Fatalf("selection → %+v %v", got, err)
			}
			var perr *client.Error
			if _, err := client.DecodeBatchResult[apiv2.Chantier](res.Results[3]); !errors.Is(err, client.ErrNotFound) || !errors.As(err, &perr) || perr.Code() != "not-found" {
				t.Fatalf("missing chantier → %v, want a 404 *Error", err)
			}

			res, err = c.V2.Batch(ctx, &apiv2.BatchRequest{Atomic: ptr(true), Operations: []apiv2.BatchOperation{
				{Id: ptr("a"), Method: apiv2.POST, Path: "/chantiers", Body: map[string]any{"code": "V2-ATOM", "name": "n", "location": "l"}},
				{Id: ptr("dup"), Method: apiv2.POST, Path: "/chantiers", Body: map[string]any{"code": "V2-ATOM", "name": "n", "location": "l"}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.DecodeBatchResult[apiv2.Chantier](res.Results[0])
			var failed string
			if !errors.As(err, &perr) || perr.Status != 424 || perr.Code() != "rolled-back" {
				t.Fatalf("rolled-back operation → %v", err)
			}
			if ok, _ := perr.Extension("failedOperation", &failed); !ok || failed != "dup" {
				t.Fatalf("failedOperation %q (extensions %v)", failed, perr.Extensions)
			}
			if _, err := client.DecodeBatchResult[apiv2.Chantier](res.Results[1]); !errors.Is(err, client.ErrConflict) {
				t.Fatalf("duplicate → %v, want 409", err)
			}
			for ch, err := range c.V2.Chantiers.List(ctx, nil) {
				if err != nil {
					t.Fatal(err)
				}
				if ch.Code == "V2-ATOM" {
					t.Fatal("the rolled-back chantier exists")
				}
			}

			_, err = c.V2.Batch(ctx, &apiv2.BatchRequest{Operations: []apiv2.BatchOperation{{Id: ptr("old"), Method: apiv2.GET, Path: "/api/v1/users/me"}}})
			var op string
			if !errors.Is(err, client.ErrBadRequest) || !errors.As(err, &perr) || perr.Code() != "invalid-batch" {
				t.Fatalf("a v1 path in a v2 batch → %v, want 400 invalid-batch", err)
			}
			if ok, _ := perr.Extension("operation", &op); !ok || op != "old" {
				t.Fatalf("operation %q", op)
			}
		})

		t.Run("v1 reports its deprecation, v2 does not", func(t *testing.T) {
			if len(deprecations) != 0 {
				t.Fatalf("v2 answers reported deprecations: %+v", deprecations)
			}
			if _, err := c.V1.Me(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.V1.Stats(ctx); err != nil {
				t.Fatal(err)
			}
			if len(deprecations) != 1 || deprecations[0].Path != "/api/v1/users/me" || deprecations[0].Sunset.Before(deprecations[0].Since) ||
				deprecations[0].Sunset.IsZero() || deprecations[0].Link == "" {
				t.Errorf("deprecations %+v: want one for v1 with its sunset and guide", deprecations)
			}
			if !deprecations[0].Sunset.Equal(time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)) {
				t.Errorf("sunset %v, want the default 2026-12-31T23:59:59Z", deprecations[0].Sunset)
			}
		})
	})
}
