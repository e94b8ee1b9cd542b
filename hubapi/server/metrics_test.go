package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/promtext"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// A live scrape of /metrics, after traffic that feeds every API family
// (requests, errors, cache hits and misses, a 429, authentication failures,
// the database pool, the API keys), has a TYPE and the table's one-line
// HELP text for every family, Go runtime and process families included; and
// `promtool check metrics` prints nothing about it.
func TestMetricsScrapeAfterTrafficHasHelpForEveryFamily(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits + ";GET /api/v1/users/me=1/m"})
		admin := env.As(hubapi.RoleAdmin)
		ch := newChantier(t, admin, nil)
		admin.Get(t, v1+"/chantiers").Expect(200) // cache miss
		admin.Get(t, v1+"/chantiers").Expect(200) // cache hit
		admin.Get(t, idPath("chantiers", ch.ID)).Expect(200)
		admin.Get(t, idPath("chantiers", ch.ID+1_000_000)).Problem(404, "not-found")
		env.Anonymous().Get(t, v1+"/chantiers", apitest.Invalid()).Expect(401)
		env.WithKey("hck_not-a-key").Get(t, v1+"/chantiers").Expect(401)
		admin.Get(t, v1+"/users/me").Expect(200)
		admin.Get(t, v1+"/users/me").Expect(429)

		text := scrape(t, env.URL+"/metrics")
		fams, problems := promtext.Parse(text)
		for _, p := range problems {
			t.Error(p)
		}
		exposed := map[string]bool{}
		for _, f := range fams {
			exposed[f.Name] = true
			if want := metrics.Help(f.Name); f.Help != want {
				t.Errorf("%s: HELP %q, want %q", f.Name, f.Help, want)
			}
		}
		for name := range metrics.HelpTexts() {
			if !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !exposed[name] {
				t.Errorf("%s is not exposed by the server", name)
			}
		}
		for _, series := range []string{
			`api_cache_hits_total `, `api_cache_misses_total `,
			`api_rate_limit_exceeded_total{route="/api/v1/users/me"} `,
			`api_auth_failures_total{reason="missing"} `, `api_auth_failures_total{reason="invalid"} `,
			`api_requests_total{method="GET",route="/api/v1/chantiers/{id}",status="404"} `,
		} {
			if !strings.Contains(text, "\n"+series) || strings.Contains(text, "\n"+series+"0\n") {
				t.Errorf("%s is missing or zero", strings.TrimSpace(series))
			}
		}
		promtoolCheckMetrics(t, text)
	})
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) // #nosec G107 -- the test server's loopback URL
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v\n%s", resp.StatusCode, err, b)
	}
	return string(b)
}

// promtoolCheckMetrics runs `promtool check metrics` on text and fails on
// any output. Without promtool the check is skipped, unless
// HUB_TEST_PROMTOOL=1 (CI) makes its absence a failure.
func promtoolCheckMetrics(t *testing.T, text string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("HUB_TEST_PROMTOOL") == "1" {
			t.Fatal("promtool not found and HUB_TEST_PROMTOOL=1")
		}
		t.Log("promtool not installed (apt-get install prometheus): only the Go check ran")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("promtool check metrics must print nothing: %v\n%s", err, out.String())
	}
}
