package metrics_test

import (
	"bufio"
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"testing"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
)

func newMetrics(t testing.TB, cfg metrics.Config) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func exposition(m *metrics.Metrics) string {
	var b bytes.Buffer
	m.WritePrometheus(&b)
	return b.String()
}

// value returns the value of the series written exactly as series (name and
// labels as exposed), and whether it is present.
func value(t testing.TB, text, series string) (float64, bool) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("series %s: bad value %q", series, rest)
			}
			return v, true
		}
	}
	return 0, false
}

func mustValue(t testing.TB, text, series string) float64 {
	t.Helper()
	v, ok := value(t, text, series)
	if !ok {
		t.Fatalf("series %s not exposed; exposition:\n%s", series, grepAPI(text))
	}
	return v
}

// grepAPI keeps the non-runtime lines, for readable failure messages.
func grepAPI(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, "go_") && !strings.Contains(l, "process_") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// familyNames returns the metric names of the samples in an exposition.
func familyNames(text string) map[string]bool {
	names := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	return names
}

// lintExposition checks the text format rules promtool enforces that the
// exposition could break: every sample parses, metadata precedes samples,
// counters end in _total, other types do not, and "_count" only ends
// histogram and summary series.
func lintExposition(t testing.TB, text string) {
	t.Helper()
	types := map[string]string{}
	for i, l := range strings.Split(text, "\n") {
		switch {
		case l == "":
			continue
		case strings.HasPrefix(l, "# TYPE "):
			f := strings.Fields(l)
			if len(f) != 4 {
				t.Fatalf("line %d: bad TYPE line %q", i+1, l)
			}
			if _, dup := types[f[2]]; dup {
				t.Errorf("line %d: second TYPE line for %s", i+1, f[2])
			}
			types[f[2]] = f[3]
			total := strings.HasSuffix(f[2], "_total")
			if f[3] == "counter" && !total {
				t.Errorf("counter %s does not end in _total", f[2])
			}
			if f[3] != "counter" && total {
				t.Errorf("%s %s ends in _total", f[3], f[2])
			}
			if f[3] != "histogram" && f[3] != "summary" && strings.HasSuffix(f[2], "_count") {
				t.Errorf("%s %s ends in _count", f[3], f[2])
			}
		case strings.HasPrefix(l, "#"):
			continue
		default:
			sp := strings.LastIndexByte(l, ' ')
			if sp < 0 {
				t.Fatalf("line %d: no value: %q", i+1, l)
			}
			if err := vm.ValidateMetric(l[:sp]); err != nil {
				t.Errorf("line %d: %v", i+1, err)
			}
			if _, err := strconv.ParseFloat(l[sp+1:], 64); err != nil {
				t.Errorf("line %d: bad value in %q", i+1, l)
			}
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
