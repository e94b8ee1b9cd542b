package promtext_test

import (
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/internal/promtext"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, text string
		problems   []string
	}{
		{"counter, gauge, histogram and summary with help and type → no problem",
			"# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 2\n" +
				"# HELP g G.\n# TYPE g gauge\ng 1\n" +
				"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n" +
				"# HELP s S.\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n", nil},
		{"empty HELP → reported", "# HELP a_total\n# TYPE a_total counter\na_total 1\n", []string{"a_total: empty HELP text"}},
		{"no metadata → reported", "a_total 1\n", []string{"a_total: no HELP line", "a_total: no TYPE line"}},
		{"TYPE without HELP → reported", "# TYPE g gauge\ng 1\n", []string{"g: no HELP line"}},
		{"metadata after samples → reported", "g 1\n# HELP g G.\n# TYPE g gauge\n", []string{"line 2: g metadata after its samples", "line 3: g metadata after its samples"}},
		{"second HELP → reported", "# HELP g G.\n# HELP g G.\n# TYPE g gauge\ng 1\n", []string{"line 2: g has a second HELP line"}},
		{"samples split → reported", "# HELP g G.\n# TYPE g gauge\ng{a=\"1\"} 1\n# HELP f F.\n# TYPE f gauge\nf 1\ng{a=\"2\"} 1\n",
			[]string{"line 7: samples of g are not contiguous"}},
		{"_count of a gauge family is its own family → reported", "# HELP g G.\n# TYPE g gauge\ng_count 1\n",
			[]string{"g_count: no HELP line", "g_count: no TYPE line"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := promtext.Parse(tc.text)
			if strings.Join(problems, "\n") != strings.Join(tc.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(tc.problems, "\n"))
			}
		})
	}
}

func TestParseFamilies(t *testing.T) {
	fams, _ := promtext.Parse("# HELP h Durations.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n")
	if len(fams) != 1 || fams[0].Name != "h" || fams[0].Help != "Durations." || fams[0].Type != "histogram" || fams[0].Samples != 3 {
		t.Fatalf("%+v", fams)
	}
}
