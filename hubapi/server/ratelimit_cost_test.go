package server_test

import (
	"strconv"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// A read with a wide field selection (fields=*, an expanded responsable)
// costs server.WideSelectionCost units of its quota, and the RateLimit
// fields show it: with 4 requests a minute, four narrow reads pass, two wide
// ones do.
func TestWideSelectionsCostMoreInTheRateLimiter(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits + ";GET /api/v1/chantiers=4/m;GET /api/v1/chantiers/{id}=4/m"})
		admin := env.User(hubapi.RoleAdmin)
		ch := newChantier(t, env.As(hubapi.RoleAdmin), nil)
		remaining := func(r *apitest.Response) int {
			n, err := strconv.Atoi(r.Header.Get("X-RateLimit-Remaining"))
			if err != nil {
				t.Fatalf("X-RateLimit-Remaining %q", r.Header.Get("X-RateLimit-Remaining"))
			}
			return n
		}
		for _, tc := range []struct {
			name, path string
			passes     int
		}{
			{"no fields → 1 unit: four pass", v1 + "/chantiers", 4},
			{"a narrow selection → 1 unit: four pass", v1 + "/chantiers?fields=id,nom", 4},
			{"fields=* → 2 units: two pass", v1 + "/chantiers?fields=*", 2},
			{"an expanded responsable → 2 units: two pass", v1 + "/chantiers?fields=id,responsable(nom)", 2},
			{"fields=* on a single resource → 2 units: two pass", idPath("chantiers", ch.ID) + "?fields=*", 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := env.WithKey(env.NewKey(t, admin.ID, hubapi.ScopeChantiersRead)) // a fresh quota
				cost := 4 / tc.passes
				for i := range tc.passes {
					r := c.Get(t, tc.path).Expect(200)
					if got, want := remaining(r), 4-(i+1)*cost; got != want {
						t.Fatalf("request %d: X-RateLimit-Remaining %d, want %d", i+1, got, want)
					}
				}
				r := c.Get(t, tc.path)
				r.Problem(429, "rate-limit-exceeded")
				if r.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			})
		}
		if server.WideSelectionCost != 2 {
			t.Fatalf("WideSelectionCost %d: the test and the documents say 2", server.WideSelectionCost)
		}
	})
}
