package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
)

// TestRealPrometheusScrapesServer starts a real Prometheus (Debian package
// "prometheus") that scrapes a test server with Basic credentials and loads
// the deployment's alert rules, then checks through its HTTP API that the
// target is up, request series arrived, every rule evaluates without error
// and every dashboard query is accepted. It runs when HUB_TEST_PROMETHEUS=1.
func TestRealPrometheusScrapesServer(t *testing.T) {
	if os.Getenv("HUB_TEST_PROMETHEUS") != "1" {
		t.Skip("set HUB_TEST_PROMETHEUS=1 to run a real Prometheus")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found (apt-get install prometheus)")
	}

	// The server under test: the API with the middleware and a /metrics
	// behind loopback + Basic authentication.
	const password = "scrape-secret"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics(t, metrics.Config{})
	scrape, err := m.Handler(metrics.AccessConfig{Username: "prometheus", PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", scrape)
	mux.Handle("/", apiRouter(m))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for range 5 {
		for _, p := range []string{"/api/v1/chantiers/1", "/api/v1/chantiers/404"} {
			resp, err := srv.Client().Get(srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
	}
	m.RateLimitExceeded("/api/v1/chantiers")
	m.CacheHit()

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile(filepath.Join(deployDir, "alert_rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alert_rules.yml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	target := strings.TrimPrefix(srv.URL, "http://")
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alert_rules.yml]
scrape_configs:
  - job_name: hubchantier
    basic_auth:
      username: prometheus
      password_file: %s
    static_configs:
      - targets: [%q]
`, filepath.Join(dir, "password"), target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel() // kills the Prometheus this test started
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})

	api := "http://" + addr + "/api/v1/"
	// Integration wait: Prometheus needs a few scrape and evaluation cycles.
	deadline := time.Now().Add(90 * time.Second)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	waitFor(`up{job="hubchantier"} == 1`, func() bool {
		v, ok := promQuery(api, `up{job="hubchantier"}`)
		return ok && len(v) == 1 && v[0] == "1"
	})
	waitFor("request series", func() bool {
		v, ok := promQuery(api, `api_requests_total{job="hubchantier",route="/api/v1/chantiers/{id}",status="404"}`)
		return ok && len(v) == 1 && v[0] == "5"
	})
	waitFor("every rule evaluated", func() bool {
		var body struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name, Health, LastError string
					}
				}
			}
		}
		if !promGet(api+"rules", &body) {
			return false
		}
		n := 0
		for _, g := range body.Data.Groups {
			for _, r := range g.Rules {
				if r.Health == "err" {
					t.Fatalf("rule %s: %s", r.Name, r.LastError)
				}
				if r.Health != "ok" {
					return false
				}
				n++
			}
		}
		return n > 0
	})

	vars := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$instance", ".*", "$route", ".*")
	for _, d := range dashboards {
		for _, q := range dashboardQueries(t, d) {
			q = reLabelValues.ReplaceAllString(q, "$1")
			var body struct{ Status, Error string }
			if !promGet(api+"query?query="+url.QueryEscape(vars.Replace(q)), &body) || body.Status != "success" {
				t.Errorf("%s: Prometheus refused %q: %s", d, q, body.Error)
			}
		}
	}
}

// promQuery runs an instant query and returns the sample values.
func promQuery(api, q string) ([]string, bool) {
	var body struct {
		Status string
		Data   struct {
			Result []struct {
				Value []any
			}
		}
	}
	if !promGet(api+"query?query="+url.QueryEscape(q), &body) || body.Status != "success" {
		return nil, false
	}
	var out []string
	for _, r := range body.Data.Result {
		if len(r.Value) == 2 {
			s, _ := r.Value[1].(string)
			out = append(out, s)
		}
	}
	return out, true
}

func promGet(u string, v any) bool {
	resp, err := http.Get(u) // #nosec G107 -- URL of the Prometheus this test started
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v) == nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
