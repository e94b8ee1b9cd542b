package metrics_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/internal/promtext"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// Every family of the exposition, the Go runtime and process families
// included, has a TYPE and the one-line HELP text of the package's table:
// the check promtool makes, without promtool.
func TestEveryFamilyHasHelpAndType(t *testing.T) {
	db := testenv.SQLite(t)
	text := exposition(withTraffic(t, db.DB.DB))
	fams, problems := promtext.Parse(text)
	for _, p := range problems {
		t.Error(p)
	}
	if len(fams) < 50 {
		t.Fatalf("only %d families", len(fams))
	}
	for _, f := range fams {
		if want := metrics.Help(f.Name); f.Help != want {
			t.Errorf("%s: HELP %q, want the table's %q", f.Name, f.Help, want)
		}
	}
}

// The table holds no text for a family the package does not write: every
// API family in it is exposed once every hook has been called.
func TestEveryAPIFamilyOfTheHelpTableIsExposed(t *testing.T) {
	db := testenv.SQLite(t)
	fams, _ := promtext.Parse(exposition(withTraffic(t, db.DB.DB)))
	exposed := map[string]bool{}
	for _, f := range fams {
		exposed[f.Name] = true
	}
	for name := range metrics.HelpTexts() {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue // depend on the platform
		}
		if !exposed[name] {
			t.Errorf("%s has a HELP text but is not exposed", name)
		}
	}
}

func TestHelpTextsAreOneSentenceOnOneLine(t *testing.T) {
	texts := metrics.HelpTexts()
	if len(texts) == 0 {
		t.Fatal("empty table")
	}
	for name, text := range texts {
		switch {
		case strings.ContainsAny(text, "\\\n\r"):
			t.Errorf("%s: the text needs escaping: %q", name, text)
		case text != strings.TrimSpace(text) || !strings.HasSuffix(text, ".") || !unicode.IsUpper([]rune(text)[0]) && !unicode.IsDigit([]rune(text)[0]):
			t.Errorf("%s: %q is not one sentence", name, text)
		case len(text) > 120:
			t.Errorf("%s: %d characters, keep HELP short", name, len(text))
		}
	}
	if metrics.Help("no_such_family") != "" {
		t.Error("help for an unknown family")
	}
	texts["api_requests_total"] = "changed"
	if metrics.Help("api_requests_total") == "changed" {
		t.Error("HelpTexts returns the table itself")
	}
}
