package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// The deployment files live outside the package; tests run in its directory.
const deployDir = "../../examples/deploy"

var dashboards = []string{"api_overview.json", "cache_performance.json", "rate_limiting.json"}

// synthesized are series Prometheus itself adds to every scrape target.
var synthesized = map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true}

func readDeploy(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dashboardQueries returns every PromQL expression of a Grafana dashboard:
// panel targets ("expr") and template variable queries.
func dashboardQueries(t *testing.T, name string) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(readDeploy(t, "grafana/dashboards/"+name)), &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(k, c)
			}
		case []any:
			for _, c := range v {
				walk(key, c)
			}
		case string:
			if key == "expr" || key == "definition" {
				out = append(out, v)
			}
		}
	}
	walk("", doc)
	return out
}

// ruleExprs returns the expressions and alert names of a Prometheus rules
// file. It reads the subset of YAML the file uses (expr as a plain scalar
// or a block scalar); the test checks it found one expression per rule.
func ruleExprs(text string) (exprs, alerts []string) {
	lines := strings.Split(text, "\n")
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		if name, ok := strings.CutPrefix(trimmed, "- alert:"); ok {
			alerts = append(alerts, strings.TrimSpace(name))
		}
		v, ok := strings.CutPrefix(trimmed, "expr:")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v != "" && v[0] != '|' && v[0] != '>' {
			exprs = append(exprs, strings.Trim(v, `"'`))
			continue
		}
		keyIndent := indent(lines[i])
		var block []string
		for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || indent(lines[i+1]) > keyIndent) {
			i++
			block = append(block, strings.TrimSpace(lines[i]))
		}
		exprs = append(exprs, strings.Join(block, " "))
	}
	return exprs, alerts
}

var (
	reLabelValues = regexp.MustCompile(`label_values\(\s*([^,()]+?)\s*,\s*\w+\s*\)`)
	reString      = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	reMatchers    = regexp.MustCompile(`\{[^{}]*\}`)
	reRange       = regexp.MustCompile(`\[[^\]]*\]`)
	reGrouping    = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	reVariable    = regexp.MustCompile(`\$\{?\w+\}?`)
	reIdent       = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlWords   = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true,
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
		"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
	}
)

// metricNames returns the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	expr = reLabelValues.ReplaceAllString(expr, "$1")
	expr = reString.ReplaceAllString(expr, `""`)
	expr = reMatchers.ReplaceAllString(expr, " ")
	expr = reRange.ReplaceAllString(expr, " ")
	expr = reGrouping.ReplaceAllString(expr, " ")
	expr = reVariable.ReplaceAllString(expr, " ")
	var names []string
	for _, loc := range reIdent.FindAllStringIndex(expr, -1) {
		name := expr[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(expr[loc[0]-1:loc[0]], "0123456789.") {
			continue // exponent or duration unit: 1e3, 1h
		}
		if rest := strings.TrimLeft(expr[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // function call
		}
		if promqlWords[name] {
			continue
		}
		names = append(names, name)
	}
	return names
}

func TestMetricNameExtraction(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{`sum by (le, route) (rate(api_request_duration_seconds_bucket{job="x",route=~"$route"}[$__rate_interval]))`, "api_request_duration_seconds_bucket"},
		{`label_values(api_requests_total{job="hubchantier"}, route)`, "api_requests_total"},
		{`a_total / on (instance) group_left b > 1e3 and c offset 1h`, "a_total b c"},
		{`topk(10, sum without (status) (increase(x_total[24h]))) > bool 0.5`, "x_total"},
		{`histogram_quantile(0.95, sum(rate(h_bucket[5m])) by (le))`, "h_bucket"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			if got := strings.Join(metricNames(tc.expr), " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// exportedNames returns every metric name the package exposes once
// requests went through the middleware and every hook was called.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	db := testenv.SQLite(t)
	names := familyNames(exposition(withTraffic(t, db.DB.DB)))
	for n := range synthesized {
		names[n] = true
	}
	return names
}

func TestDashboardsAndAlertsUseOnlyExportedMetrics(t *testing.T) {
	exported := exportedNames(t)
	check := func(t *testing.T, source string, exprs []string) {
		t.Helper()
		if len(exprs) == 0 {
			t.Fatalf("%s: no expression found", source)
		}
		used := 0
		for _, e := range exprs {
			names := metricNames(e)
			if len(names) == 0 {
				t.Errorf("%s: no metric in %q", source, e)
			}
			for _, n := range names {
				used++
				if !exported[n] {
					t.Errorf("%s: %s is not exported (in %q)", source, n, e)
				}
			}
		}
		if used == 0 {
			t.Errorf("%s: no metric name extracted", source)
		}
	}
	for _, d := range dashboards {
		t.Run(d, func(t *testing.T) { check(t, d, dashboardQueries(t, d)) })
	}
	t.Run("alert_rules.yml", func(t *testing.T) {
		text := readDeploy(t, "alert_rules.yml")
		exprs, alerts := ruleExprs(text)
		if n := strings.Count(text, "expr:"); len(exprs) != n || len(alerts) != n {
			t.Fatalf("read %d expressions and %d alerts, the file has %d expr keys", len(exprs), len(alerts), n)
		}
		check(t, "alert_rules.yml", exprs)
	})
}

func TestDashboardsCoverTheirSubject(t *testing.T) {
	want := map[string][]string{
		"api_overview.json":      {"api_requests_total", "api_request_duration_seconds_bucket", "api_requests_in_flight", "api_auth_failures_total", "active_api_keys", "db_pool_in_use_connections", "up"},
		"cache_performance.json": {"api_cache_hits_total", "api_cache_misses_total", "api_cache_evictions_total", "api_cache_errors_total"},
		"rate_limiting.json":     {"api_rate_limit_exceeded_total", "api_rate_limit_store_errors_total"},
	}
	for d, names := range want {
		t.Run(d, func(t *testing.T) {
			used := map[string]bool{}
			for _, e := range dashboardQueries(t, d) {
				for _, n := range metricNames(e) {
					used[n] = true
				}
			}
			for _, n := range names {
				if !used[n] {
					t.Errorf("%s does not chart %s", d, n)
				}
			}
			var doc struct {
				UID    string `json:"uid"`
				Panels []struct {
					Datasource struct{ UID string } `json:"datasource"`
					Type       string               `json:"type"`
				} `json:"panels"`
			}
			if err := json.Unmarshal([]byte(readDeploy(t, "grafana/dashboards/"+d)), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.UID == "" {
				t.Error("dashboard without a uid")
			}
			for i, p := range doc.Panels {
				if p.Type != "row" && p.Datasource.UID != "prometheus" {
					t.Errorf("panel %d uses data source %q, not the provisioned uid prometheus", i, p.Datasource.UID)
				}
			}
		})
	}
}

func TestEveryAlertIsDocumented(t *testing.T) {
	rules := readDeploy(t, "alert_rules.yml")
	ops := readDeploy(t, "../../docs/OPERATIONS.md")
	_, alerts := ruleExprs(rules)
	if len(alerts) < 4 {
		t.Fatalf("only %d alerts", len(alerts))
	}
	for _, a := range []string{"HubHigh5xxRatio", "HubHighLatencyP95", "HubRateLimitSpike", "HubAuthFailureSpike"} {
		if !strings.Contains(rules, "- alert: "+a+"\n") {
			t.Errorf("the issue's alert %s is missing", a)
		}
	}
	for _, a := range alerts {
		if !strings.Contains(ops, "\n### "+a+"\n") {
			t.Errorf("docs/OPERATIONS.md has no section \"### %s\"", a)
		}
		if !strings.Contains(rules, `runbook_url: "docs/OPERATIONS.md#`+strings.ToLower(a)+`"`) {
			t.Errorf("%s has no runbook_url to its section", a)
		}
	}
}

// Every API family with a HELP text is listed in the operations guide's
// series table.
func TestOperationsGuideListsEveryAPIFamily(t *testing.T) {
	ops := readDeploy(t, "../../docs/OPERATIONS.md")
	for name := range metrics.HelpTexts() {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		if !strings.Contains(ops, "`"+name+"`") {
			t.Errorf("docs/OPERATIONS.md does not list %s", name)
		}
	}
}

func TestPrometheusConfigScrapesEvery15s(t *testing.T) {
	cfg := readDeploy(t, "prometheus.yml")
	for _, want := range []string{"  scrape_interval: 15s\n", "  - job_name: hubchantier\n", "password_file: /run/secrets/metrics_password\n", "  - alert_rules.yml\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("prometheus.yml lacks %q", want)
		}
	}
}

func TestComposeHasNoDefaultSecrets(t *testing.T) {
	compose := readDeploy(t, "docker-compose.prod.yml")
	refs := regexp.MustCompile(`\$\{([A-Z_]+)([^}]*)\}`).FindAllStringSubmatch(compose, -1)
	secret := regexp.MustCompile(`PASSWORD|HASH|SECRET|TOKEN`)
	seen := 0
	for _, r := range refs {
		if !secret.MatchString(r[1]) {
			continue
		}
		seen++
		if !strings.HasPrefix(r[2], ":?") {
			t.Errorf("${%s%s}: a secret must be required (:?), never defaulted", r[1], r[2])
		}
	}
	if seen < 4 {
		t.Errorf("only %d secret references found", seen)
	}
	if regexp.MustCompile(`(?i)(password|secret)\w*[ \t]*[:=][ \t]*["']?[A-Za-z0-9]{4,}`).MatchString(
		regexp.MustCompile(`\$\{[^}]*\}`).ReplaceAllString(compose, "")) {
		t.Error("a literal password appears in docker-compose.prod.yml")
	}
	env := readDeploy(t, "hub.env.example")
	for _, l := range strings.Split(env, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") && secret.MatchString(k) && strings.Trim(v, "'\"") != "" {
			t.Errorf("hub.env.example gives %s a value", k)
		}
	}
}

func runTool(t *testing.T, bin string, stdin []byte, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolChecksDeployFiles(t *testing.T) {
	bin := promtool(t)
	t.Run("prometheus.yml and its rule file", func(t *testing.T) {
		runTool(t, bin, nil, "check", "config", filepath.Join(deployDir, "prometheus.yml"))
	})
	t.Run("alert_rules.yml", func(t *testing.T) {
		runTool(t, bin, nil, "check", "rules", filepath.Join(deployDir, "alert_rules.yml"))
	})
	t.Run("every dashboard query parses", func(t *testing.T) {
		// Grafana variables replaced by values, each query written as a
		// recording rule: promtool then parses it with Prometheus' parser.
		vars := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$instance", ".*", "$route", ".*")
		var b strings.Builder
		b.WriteString("groups:\n  - name: dashboards\n    rules:\n")
		n := 0
		for _, d := range dashboards {
			for _, q := range dashboardQueries(t, d) {
				if strings.HasPrefix(q, "label_values(") {
					q = reLabelValues.ReplaceAllString(q, "$1")
				}
				n++
				qj, _ := json.Marshal(vars.Replace(q))
				fmt.Fprintf(&b, "      - record: dashboard_query_%d\n        expr: %s\n", n, qj)
			}
		}
		path := filepath.Join(t.TempDir(), "dashboards.rules.yml")
		if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		runTool(t, bin, nil, "check", "rules", path)
	})
}

func TestAmtoolChecksAlertmanagerConfig(t *testing.T) {
	bin, err := exec.LookPath("amtool")
	if err != nil {
		if os.Getenv("HUB_TEST_PROMTOOL") == "1" {
			t.Fatal("amtool not found and HUB_TEST_PROMTOOL=1 (apt-get install prometheus-alertmanager)")
		}
		t.Skip("amtool not installed (apt-get install prometheus-alertmanager)")
	}
	runTool(t, bin, nil, "check-config", filepath.Join(deployDir, "alertmanager.yml"))
}
