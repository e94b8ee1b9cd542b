package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oapi-codegen/nullable"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/client"
	"github.com/hubchantier/hubchantier/client/apiv1"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func ptr[T any](v T) *T { return &v }

func createChantiers(t *testing.T, c *client.Client, prefix string, n int) []*apiv1.Chantier {
	t.Helper()
	var out []*apiv1.Chantier
	for i := range n {
		ch, err := c.V1.Chantiers.Create(context.Background(), &apiv1.ChantierInput{
			Code: fmt.Sprintf("%s-%02d", prefix, i), Nom: fmt.Sprintf("Chantier %d", i), Adresse: "1 rue de la Paix",
			Ville: ptr("Lyon"),
		})
		if err != nil {
			t.Fatalf("create chantier %d: %v", i, err)
		}
		out = append(out, ch)
	}
	return out
}

func TestIterationFollowsCursors(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := startEnv(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		c := e.client(t, hubapi.RoleConducteur)
		ctx := context.Background()
		made := createChantiers(t, c, "IT", 7)
		e.front.exchanges()

		params := &apiv1.ListChantiersParams{Limit: ptr(3), Sort: ptr("id"), Ville: ptr("Lyon")}
		var got []int64
		for ch, err := range c.V1.Chantiers.List(ctx, params) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ch.Id)
		}
		var want []int64
		for _, ch := range made {
			want = append(want, ch.Id)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("7 chantiers over pages of 3 → ids %v, want %v", got, want)
		}
		exs := e.front.exchanges()
		if len(exs) != 3 {
			t.Fatalf("7 items by 3 → %d requests, want 3", len(exs))
		}
		if strings.Contains(exs[0].RawQuery, "cursor=") {
			t.Errorf("first page query %q has a cursor", exs[0].RawQuery)
		}
		for _, ex := range exs[1:] {
			if !strings.Contains(ex.RawQuery, "cursor=") || strings.Contains(ex.RawQuery, "page=") ||
				!strings.Contains(ex.RawQuery, "ville=Lyon") || !strings.Contains(ex.RawQuery, "limit=3") {
				t.Errorf("next page query %q: want the cursor with the same filters, limit and no page", ex.RawQuery)
			}
		}

		t.Run("pages report total and boundaries", func(t *testing.T) {
			var sizes []int
			total := -2
			for pg, err := range c.V1.Chantiers.Pages(ctx, params) {
				if err != nil {
					t.Fatal(err)
				}
				if total == -2 {
					total = pg.Total
				}
				sizes = append(sizes, len(pg.Items))
			}
			if !slices.Equal(sizes, []int{3, 3, 1}) || total != 7 {
				t.Errorf("pages %v total %d, want [3 3 1] total 7", sizes, total)
			}
		})

		t.Run("break stops fetching", func(t *testing.T) {
			e.front.exchanges()
			n := 0
			for _, err := range c.V1.Chantiers.List(ctx, params) {
				if err != nil {
					t.Fatal(err)
				}
				if n++; n == 4 {
					break
				}
			}
			if exs := e.front.exchanges(); len(exs) != 2 {
				t.Errorf("break after 4 items with pages of 3 → %d requests, want 2", len(exs))
			}
		})

		t.Run("error ends the iteration with a problem", func(t *testing.T) {
			defer e.front.sendInvalid()()
			var errs int
			for _, err := range c.V1.Chantiers.List(ctx, &apiv1.ListChantiersParams{Limit: ptr(3), Sort: ptr("no_such_key")}) {
				if err == nil {
					t.Fatal("an invalid sort yields items")
				}
				errs++
				if !errors.Is(err, client.ErrBadRequest) {
					t.Errorf("invalid sort → %v, want ErrBadRequest", err)
				}
			}
			if errs != 1 {
				t.Errorf("%d errors yielded, want 1", errs)
			}
		})
	})
}

func TestConditionalGetAnswersFromCacheOn304(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := startEnv(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		c := e.client(t, hubapi.RoleConducteur)
		other := e.client(t, hubapi.RoleAdmin)
		ctx := context.Background()
		ch := createChantiers(t, c, "CG", 1)[0]
		e.front.exchanges()

		first, err := c.V1.Chantiers.Get(ctx, ch.Id)
		if err != nil {
			t.Fatal(err)
		}
		second, err := c.V1.Chantiers.Get(ctx, ch.Id)
		if err != nil {
			t.Fatal(err)
		}
		exs := e.front.exchanges()
		if got := codes(exs); !slices.Equal(got, []int{200, 304}) {
			t.Fatalf("two Gets → statuses %v, want [200 304]", got)
		}
		if exs[1].Header.Get("If-None-Match") != `"v1"` {
			t.Errorf("second Get sent If-None-Match %q, want \"v1\"", exs[1].Header.Get("If-None-Match"))
		}
		if second.Nom != first.Nom || second.Version != first.Version || second.Id != ch.Id {
			t.Errorf("304 → %+v, want the cached %+v", second, first)
		}

		if _, err := other.V1.Chantiers.Update(ctx, ch.Id, &apiv1.ChantierPatch{Nom: ptr("Renamed")}); err != nil {
			t.Fatal(err)
		}
		e.front.exchanges()
		third, err := c.V1.Chantiers.Get(ctx, ch.Id)
		if err != nil {
			t.Fatal(err)
		}
		if got := codes(e.front.exchanges()); !slices.Equal(got, []int{200}) || third.Nom != "Renamed" || third.Version != 2 {
			t.Errorf("Get after a write elsewhere → %v %q v%d, want a fresh 200 with Renamed v2", got, third.Nom, third.Version)
		}

		t.Run("list pages are revalidated too", func(t *testing.T) {
			params := &apiv1.ListChantiersParams{Limit: ptr(10)}
			for range 2 {
				for _, err := range c.V1.Chantiers.List(ctx, params) {
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := codes(e.front.exchanges()); !slices.Equal(got, []int{200, 304}) {
				t.Errorf("a one-page list read twice → %v, want [200 304]", got)
			}
		})

		t.Run("cache off sends no If-None-Match", func(t *testing.T) {
			nc := e.client(t, hubapi.RoleConducteur, client.WithETagCache(0))
			for range 2 {
				if _, err := nc.V1.Chantiers.Get(ctx, ch.Id); err != nil {
					t.Fatal(err)
				}
			}
			if got := codes(e.front.exchanges()); !slices.Equal(got, []int{200, 200}) {
				t.Errorf("without cache → %v, want [200 200]", got)
			}
		})
	})
}

func TestIfMatchConflictIsATyped412(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := startEnv(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		c := e.client(t, hubapi.RoleConducteur)
		other := e.client(t, hubapi.RoleAdmin)
		ctx := context.Background()
		ch := createChantiers(t, c, "IM", 1)[0]

		read, err := c.V1.Chantiers.Get(ctx, ch.Id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.V1.Chantiers.Update(ctx, ch.Id, &apiv1.ChantierPatch{Nom: ptr("Theirs")}, client.IfVersion(read.Version)); err != nil {
			t.Fatalf("first conditional write: %v", err)
		}
		e.front.exchanges()
		_, err = c.V1.Chantiers.Update(ctx, ch.Id, &apiv1.ChantierPatch{Nom: ptr("Mine")}, client.IfVersion(read.Version))
		if !errors.Is(err, client.ErrPreconditionFailed) {
			t.Fatalf("stale If-Match → %v, want ErrPreconditionFailed", err)
		}
		var perr *client.Error
		if !errors.As(err, &perr) || perr.Status != 412 || perr.Code() != "precondition-failed" {
			t.Fatalf("stale If-Match → %#v, want *Error 412 precondition-failed", err)
		}
		var header string
		if ok, err := perr.Extension("precondition", &header); !ok || err != nil || header != "If-Match" {
			t.Errorf("precondition extension = %q (%v, %v), want If-Match", header, ok, err)
		}
		exs := e.front.exchanges()
		if len(exs) != 1 || exs[0].Header.Get("If-Match") != `"v1"` || exs[0].Header.Get("Content-Type") != "application/merge-patch+json" {
			t.Errorf("sent %+v, want one PATCH with If-Match \"v1\" as a merge patch", exs)
		}
		now, err := c.V1.Chantiers.Get(ctx, ch.Id)
		if err != nil {
			t.Fatal(err)
		}
		if now.Nom != "Theirs" || now.Version != 2 {
			t.Errorf("after the 412 the chantier is %q v%d, want Theirs v2 (nothing written)", now.Nom, now.Version)
		}

		t.Run("fresh version writes, null resets a member", func(t *testing.T) {
			up, err := c.V1.Chantiers.Update(ctx, ch.Id, &apiv1.ChantierPatch{Ville: nullable.NewNullNullable[string]()}, client.IfVersion(now.Version))
			if err != nil {
				t.Fatal(err)
			}
			if up.Ville != "" || up.Version != 3 || up.Nom != "Theirs" {
				t.Errorf("patch {ville: null} → ville %q nom %q v%d, want empty ville, nom kept, v3", up.Ville, up.Nom, up.Version)
			}
		})

		t.Run("If-Unmodified-Since before the last write → 412", func(t *testing.T) {
			_, err := c.V1.Chantiers.Update(ctx, ch.Id, &apiv1.ChantierPatch{Nom: ptr("Late")}, client.IfUnmodifiedSince(ch.CreatedAt.Add(-time.Hour)))
			var perr *client.Error
			var header string
			if !errors.As(err, &perr) || perr.Status != 412 {
				t.Fatalf("→ %v, want 412", err)
			}
			if _, _ = perr.Extension("precondition", &header); header != "If-Unmodified-Since" {
				t.Errorf("precondition = %q, want If-Unmodified-Since", header)
			}
		})

		t.Run("replace and delete take the precondition too", func(t *testing.T) {
			_, err := c.V1.Chantiers.Replace(ctx, ch.Id, &apiv1.ChantierInput{Code: ch.Code, Nom: "Put", Adresse: "2 rue"}, client.IfVersion(1))
			if !errors.Is(err, client.ErrPreconditionFailed) {
				t.Errorf("stale PUT → %v, want ErrPreconditionFailed", err)
			}
			if err := c.V1.Chantiers.Delete(ctx, ch.Id, client.IfVersion(1)); !errors.Is(err, client.ErrPreconditionFailed) {
				t.Errorf("stale DELETE → %v, want ErrPreconditionFailed", err)
			}
			if err := c.V1.Chantiers.Delete(ctx, ch.Id, client.IfVersion(3)); err != nil {
				t.Errorf("DELETE with the current version → %v", err)
			}
			if _, err := c.V1.Chantiers.Get(ctx, ch.Id); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("Get after delete → %v, want ErrNotFound", err)
			}
		})
	})
}

func TestRetries(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := startEnv(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits + ";GET /api/v1/users/me=1/s"})
		ctx := context.Background()

		t.Run("429 waits for Retry-After then succeeds", func(t *testing.T) {
			var events []client.RetryEvent
			c := e.client(t, hubapi.RoleConducteur, client.WithOnRetry(func(ev client.RetryEvent) { events = append(events, ev) }))
			e.front.exchanges()
			// The quota is one per second: a call within the window of the
			// previous one is refused, retried after Retry-After and then
			// served (three calls: one window boundary may fall between
			// two of them, not between all three).
			start := time.Now()
			for i := range 3 {
				if _, err := c.V1.Me(ctx); err != nil {
					t.Fatalf("Me #%d: %v", i+1, err)
				}
			}
			exs := e.front.exchanges()
			got := codes(exs)
			i := slices.Index(got, 429)
			if got[0] != 200 || i < 0 || i+1 >= len(got) || got[i+1] != 304 {
				t.Fatalf("three Me with a quota of 1/s → %v, want a 429 followed by its retry (304: the cached answer revalidated, no quota spent)", got)
			}
			if exs[i+1].Header.Get("If-None-Match") == "" {
				t.Errorf("the retry of a cached read sent no If-None-Match")
			}
			if len(events) == 0 || events[0].Status != 429 || events[0].Err.RetryAfter < time.Second || events[0].Wait < events[0].Err.RetryAfter {
				t.Fatalf("retry events %+v: want a 429 retry waiting at least its Retry-After (≥ 1 s)", events)
			}
			if waited := time.Since(start); waited < events[0].Err.RetryAfter {
				t.Errorf("the calls took %v, less than the Retry-After %v", waited, events[0].Err.RetryAfter)
			}
		})

		t.Run("429 past MaxWait returns the error with RetryAfter", func(t *testing.T) {
			c := e.client(t, hubapi.RoleCompagnon, client.WithRetryPolicy(client.RetryPolicy{MaxWait: time.Millisecond}))
			var err error
			for range 3 {
				if _, err = c.V1.Me(ctx); err != nil {
					break
				}
			}
			var perr *client.Error
			if !errors.As(err, &perr) || perr.Status != 429 || perr.RetryAfter <= 0 || perr.Code() != "rate-limit-exceeded" || !errors.Is(err, client.ErrRateLimited) {
				t.Fatalf("over quota with MaxWait 1ms → %v, want the 429 problem with its RetryAfter", err)
			}
			var policies []string
			if ok, _ := perr.Extension("violated-policies", &policies); !ok || len(policies) == 0 {
				t.Errorf("429 problem extension violated-policies = %v, want the quota", policies)
			}
		})

		t.Run("503 on a read is retried after Retry-After", func(t *testing.T) {
			var n atomic.Int32
			e.front.setInject(func(r *http.Request) (int, string, bool) {
				return 503, "0", r.Method == http.MethodGet && n.Add(1) <= 2
			})
			defer e.front.setInject(nil)
			c := e.client(t, hubapi.RoleConducteur)
			e.front.exchanges()
			if _, err := c.V1.Stats(ctx); err != nil {
				t.Fatal(err)
			}
			if got := codes(e.front.exchanges()); !slices.Equal(got, []int{503, 503, 200}) {
				t.Errorf("two 503 then the server → %v, want [503 503 200]", got)
			}
		})

		t.Run("503 on a POST is not retried", func(t *testing.T) {
			e.front.setInject(func(r *http.Request) (int, string, bool) { return 503, "0", true })
			defer e.front.setInject(nil)
			c := e.client(t, hubapi.RoleConducteur)
			e.front.exchanges()
			_, err := c.V1.Chantiers.Create(ctx, &apiv1.ChantierInput{Code: "R-1", Nom: "n", Adresse: "a"})
			var perr *client.Error
			if !errors.As(err, &perr) || perr.Status != 503 || perr.RequestID != "injected" || !errors.Is(err, client.ErrUnavailable) {
				t.Fatalf("POST answered 503 → %v, want the 503 problem", err)
			}
			if got := codes(e.front.exchanges()); !slices.Equal(got, []int{503}) {
				t.Errorf("POST answered 503 → %v, want one attempt", got)
			}
		})

		t.Run("503 on a conditional PATCH is retried", func(t *testing.T) {
			c := e.client(t, hubapi.RoleConducteur)
			ch := createChantiers(t, c, "RP", 1)[0]
			var n atomic.Int32
			e.front.setInject(func(r *http.Request) (int, string, bool) {
				return 503, "0", r.Method == http.MethodPatch && n.Add(1) == 1
			})
			defer e.front.setInject(nil)
			e.front.exchanges()
			up, err := c.V1.Chantiers.Update(ctx, ch.Id, &apiv1.ChantierPatch{Nom: ptr("Once")}, client.IfVersion(ch.Version))
			if err != nil || up.Version != 2 {
				t.Fatalf("conditional PATCH after a 503 → %v, %v; want v2", up, err)
			}
			if got := codes(e.front.exchanges()); !slices.Equal(got, []int{503, 200}) {
				t.Errorf("conditional PATCH → %v, want [503 200]", got)
			}
		})

		t.Run("budget exhaustion stops retrying across requests", func(t *testing.T) {
			e.front.setInject(func(r *http.Request) (int, string, bool) { return 503, "0", true })
			defer e.front.setInject(nil)
			c := e.client(t, hubapi.RoleConducteur, client.WithRetryPolicy(client.RetryPolicy{
				MaxAttempts: 10, Budget: client.RetryBudget{Tokens: 3, Refill: 0.5}}))
			e.front.exchanges()
			_, err := c.V1.Stats(ctx)
			if !errors.Is(err, client.ErrRetryBudgetExhausted) || !errors.Is(err, client.ErrUnavailable) {
				t.Fatalf("503 forever with a budget of 3 → %v, want ErrRetryBudgetExhausted and the 503", err)
			}
			if n := len(e.front.exchanges()); n != 4 {
				t.Errorf("budget of 3 → %d attempts, want 4 (1 + 3 retries)", n)
			}
			if _, err := c.V1.Stats(ctx); !errors.Is(err, client.ErrRetryBudgetExhausted) {
				t.Fatalf("next request → %v, want ErrRetryBudgetExhausted at once", err)
			}
			if n := len(e.front.exchanges()); n != 1 {
				t.Errorf("empty budget → %d attempts, want 1", n)
			}
			// Answers that are not 429/503 refill the budget.
			e.front.setInject(nil)
			for range 2 {
				if _, err := c.V1.Stats(ctx); err != nil {
					t.Fatal(err)
				}
			}
			e.front.setInject(func(r *http.Request) (int, string, bool) { return 503, "0", true })
			e.front.exchanges()
			_, _ = c.V1.Stats(ctx)
			if n := len(e.front.exchanges()); n != 2 {
				t.Errorf("after two good answers (refill 0.5 each) → %d attempts, want 2 (one retry)", n)
			}
		})

		t.Run("MaxAttempts bounds one request", func(t *testing.T) {
			e.front.setInject(func(r *http.Request) (int, string, bool) { return 503, "", true })
			defer e.front.setInject(nil)
			c := e.client(t, hubapi.RoleConducteur, client.WithRetryPolicy(client.RetryPolicy{
				MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}))
			e.front.exchanges()
			_, err := c.V1.Stats(ctx)
			if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrRetryBudgetExhausted) {
				t.Fatalf("→ %v, want the 503 alone", err)
			}
			if n := len(e.front.exchanges()); n != 3 {
				t.Errorf("MaxAttempts 3 → %d attempts", n)
			}
		})

		t.Run("context cancelled during the wait", func(t *testing.T) {
			e.front.setInject(func(r *http.Request) (int, string, bool) { return 503, "20", true })
			defer e.front.setInject(nil)
			c := e.client(t, hubapi.RoleConducteur)
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := c.V1.Stats(cctx)
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, client.ErrUnavailable) {
				t.Errorf("deadline during a 20 s Retry-After → %v, want the 503 and DeadlineExceeded", err)
			}
		})
	})
}

func TestStartingServerRetryAfterBeyondMaxWait(t *testing.T) {
	// The real server's answer while it starts: 503 with Retry-After: 5.
	sw := server.NewSwapHandler(server.StartingHandler())
	hs := httptestServer(t, sw)
	c, err := client.New(hs, client.WithAPIKey("hck_0123456789"), client.WithRetryPolicy(client.RetryPolicy{MaxWait: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.V1.Me(context.Background())
	var perr *client.Error
	if !errors.As(err, &perr) || perr.Status != 503 || perr.RetryAfter != 5*time.Second || perr.Code() != "not-ready" {
		t.Fatalf("starting server → %v, want 503 not-ready with RetryAfter 5s returned at once", err)
	}
}

func TestProblemDecoding(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := startEnv(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		ctx := context.Background()
		c := e.client(t, hubapi.RoleConducteur)

		t.Run("422 lists the invalid members", func(t *testing.T) {
			defer e.front.sendInvalid()()
			_, err := c.V1.Chantiers.Create(ctx, &apiv1.ChantierInput{Code: "ok-1", Nom: "n", Adresse: "a", CodePostal: ptr("123")})
			var perr *client.Error
			if !errors.As(err, &perr) || perr.Status != 422 || perr.Code() != "validation-error" || !errors.Is(err, client.ErrValidation) {
				t.Fatalf("bad code_postal → %v, want 422 validation-error", err)
			}
			if len(perr.Errors) != 1 || perr.Errors[0].Field != "code_postal" || perr.Errors[0].Message == "" {
				t.Errorf("errors[] = %+v, want code_postal", perr.Errors)
			}
			if perr.Title == "" || perr.Detail == "" || perr.Method != "POST" || perr.Path != "/api/v1/chantiers" || perr.RequestID == "" {
				t.Errorf("problem %+v: want title, detail, method, path and request id", perr)
			}
			if !strings.Contains(perr.Error(), "code_postal") {
				t.Errorf("Error() = %q, want the field named", perr.Error())
			}
		})

		t.Run("403 names the missing scope", func(t *testing.T) {
			cc := e.client(t, hubapi.RoleCompagnon)
			_, err := cc.V1.Chantiers.Create(ctx, &apiv1.ChantierInput{Code: "ok-2", Nom: "n", Adresse: "a"})
			var perr *client.Error
			if !errors.As(err, &perr) || !errors.Is(err, client.ErrForbidden) || perr.Code() != "insufficient-scope" {
				t.Fatalf("compagnon creating → %v, want 403 insufficient-scope", err)
			}
			var scope apiv1.Scope
			if ok, err := perr.Extension("required_scope", &scope); !ok || err != nil || scope != "chantiers:write" {
				t.Errorf("required_scope = %q (%v %v), want chantiers:write", scope, ok, err)
			}
		})

		t.Run("401 for an unknown key", func(t *testing.T) {
			bad, err := client.New(e.URL, client.WithAPIKey("hck_unknownunknownunknownunknown0000000000"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bad.V1.Me(ctx); !errors.Is(err, client.ErrUnauthorized) {
				t.Errorf("unknown key → %v, want ErrUnauthorized", err)
			}
		})

		t.Run("404 and 400", func(t *testing.T) {
			if _, err := c.V1.Signalements.Get(ctx, 999999); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("missing signalement → %v, want ErrNotFound", err)
			}
			_, err := c.V1.Chantiers.Get(ctx, 1, client.Fields("nope"))
			var perr *client.Error
			if !errors.As(err, &perr) || perr.Status != 400 {
				t.Fatalf("unknown field → %v, want 400", err)
			}
			var suggestion string
			if ok, _ := perr.Extension("allowed", &[]string{}); !ok || perr.Code() != "unknown-field" {
				t.Errorf("unknown field problem %+v: want unknown-field with allowed names", perr)
			}
			_, _ = perr.Extension("suggestion", &suggestion)
		})
	})
}

// fakeTokens hands out tokens in turn, like an OAuth token source
// refreshing; its tokens are the user's API key so that the real server
// accepts them.
type fakeTokens struct {
	mu     sync.Mutex
	tokens []string
	calls  int
	err    error
}

func (f *fakeTokens) Token() (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	tok := f.tokens[f.calls%len(f.tokens)]
	f.calls++
	return &oauth2.Token{AccessToken: tok, TokenType: "Bearer"}, nil
}

func TestTokenSourceAuthAndUserAgent(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := startEnv(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		ctx := context.Background()
		_, second := e.NewUser(t, hubapi.RoleConducteur)
		ts := &fakeTokens{tokens: []string{e.Key(hubapi.RoleConducteur), second}}
		c, err := client.New(e.URL, client.WithTokenSource(ts), client.WithUserAgent("planner/2.1"))
		if err != nil {
			t.Fatal(err)
		}
		e.front.exchanges()
		var ids []int64
		for range 2 {
			me, err := c.V1.Me(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, me.Id)
		}
		exs := e.front.exchanges()
		if len(exs) != 2 {
			t.Fatalf("%d requests, want 2", len(exs))
		}
		for i, want := range ts.tokens {
			if got := exs[i].Header.Get("Authorization"); got != "Bearer "+want {
				t.Errorf("request %d Authorization %q, want the token source's token #%d", i+1, got, i+1)
			}
			if ua := exs[i].Header.Get("User-Agent"); ua != "planner/2.1 "+client.DefaultUserAgent {
				t.Errorf("User-Agent %q", ua)
			}
		}
		if ids[0] == ids[1] || ids[0] != e.User(hubapi.RoleConducteur).ID {
			t.Errorf("Me with two tokens → users %v, want the two users", ids)
		}

		t.Run("token error: nothing sent", func(t *testing.T) {
			boom := errors.New("token endpoint down")
			bad, err := client.New(e.URL, client.WithTokenSource(&fakeTokens{err: boom}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bad.V1.Me(ctx); !errors.Is(err, boom) {
				t.Errorf("→ %v, want the token source's error", err)
			}
			if n := len(e.front.exchanges()); n != 0 {
				t.Errorf("%d requests sent without a token", n)
			}
		})
	})
}

func TestOtherV1Resources(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := startEnv(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		ctx := context.Background()
		c := e.client(t, hubapi.RoleConducteur)
		admin := e.client(t, hubapi.RoleAdmin)
		ch := createChantiers(t, c, "OR", 1)[0]
		me := e.User(hubapi.RoleConducteur)
		worker := e.User(hubapi.RoleCompagnon)

		doc, err := c.V1.Documents.Create(ctx, &apiv1.DocumentUpload{ChantierId: ch.Id, Nom: ptr("plan.txt")}, "plan.txt", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		body, ctype, err := c.V1.Documents.Content(ctx, doc.Id)
		if err != nil || string(body) != "hello" || !strings.HasPrefix(ctype, "text/plain") {
			t.Errorf("content → %q %q %v, want hello text/plain", body, ctype, err)
		}
		n := 0
		for _, err := range c.V1.Documents.List(ctx, &apiv1.ListDocumentsParams{ChantierId: &ch.Id}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 1 {
			t.Errorf("documents of the chantier: %d, want 1", n)
		}

		p, err := c.V1.Pointages.Create(ctx, &apiv1.PointageInput{ChantierId: ch.Id, UserId: &worker.ID, Date: dateOf(t, "2026-03-02"), Minutes: 450,
			Statut: ptr(apiv1.PointageInputStatutSoumis)})
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.V1.Pointages.Validate(ctx, p.Id, client.IfVersion(p.Version))
		if err != nil || v.Statut != apiv1.PointageStatutValide {
			t.Errorf("validate → %v %v", v, err)
		}
		if _, err := c.V1.Stats(ctx); err != nil {
			t.Error(err)
		}
		res, err := c.V1.Batch(ctx, &apiv1.BatchRequest{Atomic: ptr(true), Operations: []apiv1.BatchOperation{
			{Id: ptr("new"), Method: "POST", Path: "/chantiers", Body: map[string]any{"code": "OR-B", "nom": "Batch", "adresse": "3 rue"}},
			{Method: "GET", Path: "/chantiers/{new.body.id}"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != 2 || res.Results[0].Status != 201 || res.Results[1].Status != 200 {
			t.Errorf("batch results %+v, want 201 then 200", res.Results)
		}
		if got, err := client.DecodeBatchResult[apiv1.Chantier](res.Results[1]); err != nil || got.Nom != "Batch" || got.Code != "OR-B" {
			t.Errorf("batch result read back → %+v %v", got, err)
		}
		if _, err := c.V1.Planning(ctx, apiv1.GetPlanningParams{From: dateOf(t, "2026-03-01"), To: dateOf(t, "2026-03-31")}); err != nil {
			t.Error(err)
		}
		created, err := admin.V1.APIKeys.Create(ctx, &apiv1.ApiKeyInput{UserId: me.ID, Name: "sdk", Scopes: []apiv1.Scope{"chantiers:read"}})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := admin.V1.APIKeys.List(ctx, &apiv1.ListApiKeysParams{UserId: &me.ID})
		if err != nil || len(keys) < 2 {
			t.Fatalf("keys of the user → %d %v, want at least 2", len(keys), err)
		}
		if err := admin.V1.APIKeys.Revoke(ctx, created.Id); err != nil {
			t.Error(err)
		}
		ro, err := client.New(e.URL, client.WithAPIKey(created.Key))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ro.V1.Me(ctx); !errors.Is(err, client.ErrUnauthorized) {
			t.Errorf("revoked key → %v, want ErrUnauthorized", err)
		}
	})
}

func dateOf(t *testing.T, s string) openapi_types.Date {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return openapi_types.Date{Time: d}
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}
