package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/client"
	"github.com/hubchantier/hubchantier/client/apiv2"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestListsTodayAndPatches(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		key := e.Key(hubapi.RoleConducteur)
		ctx := context.Background()
		c, err := client.New(e.URL, client.WithAPIKey(key))
		if err != nil {
			t.Fatal(err)
		}
		var made []*apiv2.Chantier
		for i := range 3 {
			ch, err := c.V2.Chantiers.Create(ctx, &apiv2.ChantierInput{Code: fmt.Sprintf("EX-%d", i), Name: fmt.Sprintf("Site %d", i), Location: "1 rue"})
			if err != nil {
				t.Fatal(err)
			}
			made = append(made, ch)
		}
		vars := env(map[string]string{"HUB_URL": e.URL, "HUB_API_KEY": key})

		var out bytes.Buffer
		if err := run(ctx, nil, vars, &out, time.Now()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "3 chantier(s) updated today") || !strings.Contains(out.String(), "EX-2") {
			t.Errorf("listing today:\n%s", out.String())
		}

		out.Reset()
		if err := run(ctx, nil, vars, &out, time.Now().Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "0 chantier(s) updated today") {
			t.Errorf("two days later:\n%s", out.String())
		}

		out.Reset()
		if err := run(ctx, []string{"-status", "receptionne", "-id", fmt.Sprint(made[0].Id)}, vars, &out, time.Now()); err != nil {
			t.Fatal(err)
		}
		got, err := c.V2.Chantiers.Get(ctx, made[0].Id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != apiv2.ChantierStatusReceptionne || got.Version != 2 || !strings.Contains(out.String(), "is now receptionne, version 2") {
			t.Errorf("after -status receptionne: %s v%d\n%s", got.Status, got.Version, out.String())
		}

		out.Reset()
		if err := run(ctx, []string{"-status", "ferme"}, vars, &out, time.Now()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), fmt.Sprintf("chantier %d (EX-0) is now ferme", made[0].Id)) {
			t.Errorf("without -id the most recently updated is patched:\n%s", out.String())
		}

		for _, tc := range []struct {
			args []string
			vars map[string]string
		}{
			{nil, map[string]string{"HUB_URL": e.URL}},
			{[]string{"-status", "demoli"}, map[string]string{"HUB_URL": e.URL, "HUB_API_KEY": key}},
			{[]string{"-nope"}, nil},
			{[]string{"-key", "not-a-key", "-url", e.URL}, nil},
			{[]string{"-status", "ferme"}, map[string]string{"HUB_URL": e.URL, "HUB_API_KEY": key, "": ""}},
		} {
			now := time.Now()
			if len(tc.args) == 2 && tc.args[1] == "ferme" {
				now = now.Add(48 * time.Hour) // nothing updated "today": nothing to patch
			}
			if err := run(ctx, tc.args, env(tc.vars), &bytes.Buffer{}, now); err == nil {
				t.Errorf("run %v with %v: no error", tc.args, tc.vars)
			}
		}

		t.Run("a conflicting write is retried once", func(t *testing.T) {
			// Someone renames the chantier between our read and our first
			// patch: the patch gets 412, the chantier is read again and
			// the second patch applies on top of the rename.
			other, err := client.New(e.URL, client.WithAPIKey(e.Key(hubapi.RoleAdmin)))
			if err != nil {
				t.Fatal(err)
			}
			var patches int
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.Method == http.MethodPatch {
					if patches++; patches == 1 {
						if _, err := other.V2.Chantiers.Update(r.Context(), made[1].Id, &apiv2.ChantierPatch{Name: ptr("Renamed")}); err != nil {
							return nil, err
						}
					}
				}
				return http.DefaultTransport.RoundTrip(r)
			})
			cc, err := client.New(e.URL, client.WithAPIKey(key), client.WithHTTPClient(&http.Client{Transport: rt}))
			if err != nil {
				t.Fatal(err)
			}
			ch, err := setStatus(ctx, cc, made[1].Id, apiv2.ChantierPatchStatusEnCours)
			if err != nil || ch.Status != apiv2.ChantierStatusEnCours || ch.Name != "Renamed" || ch.Version != 3 || patches != 2 {
				t.Fatalf("→ %+v %v after %d patches, want en_cours on top of the rename (v3) after 2 patches", ch, err, patches)
			}
			if _, err := setStatus(ctx, c, 999999, apiv2.ChantierPatchStatusEnCours); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("missing chantier → %v", err)
			}
		})
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
