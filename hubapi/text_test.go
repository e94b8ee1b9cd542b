package hubapi_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
)

func TestTextRules(t *testing.T) {
	for _, tc := range []struct {
		name              string
		s                 string
		single, multiline bool // accepted as
	}{
		{"plain accented text", "Réfection façade – été", true, true},
		{"right-to-left letters", "עברית", true, true},
		{"NUL", "a\x00b", false, false},
		{"invalid UTF-8", "caf\xe9", false, false},
		{"tab", "a\tb", false, true},
		{"line feed", "a\nb", false, true},
		{"CR LF", "a\r\nb", false, true},
		{"bell (C0)", "a\x07b", false, false},
		{"escape (C0)", "\x1b[31m", false, false},
		{"DEL", "a\x7fb", false, false},
		{"NEL (C1)", "a\u0085b", false, false},
		{"CSI (C1)", "a\u009bb", false, false},
		{"right-to-left override", "facture\u202Efdp.exe", false, true},
		{"left-to-right embedding", "a\u202Ab", false, true},
		{"first-strong isolate", "a\u2068b", false, true},
		{"pop directional isolate", "a\u2069b", false, true},
		{"left-to-right mark (not an override)", "a\u200Eb", true, true},
	} {
		if got := hubapi.TextProblem(tc.s) == ""; got != tc.single {
			t.Errorf("%s: single-line accepted %v, want %v (%q)", tc.name, got, tc.single, hubapi.TextProblem(tc.s))
		}
		if got := hubapi.MultilineTextProblem(tc.s) == ""; got != tc.multiline {
			t.Errorf("%s: multi-line accepted %v, want %v", tc.name, got, tc.multiline)
		}
	}
}

func TestDateRange(t *testing.T) {
	for s, ok := range map[string]bool{
		"0000-01-01": false, "0001-01-01": false, "1899-12-31": false, "1900-01-01": true,
		"2026-03-03": true, "2200-12-31": true, "2201-01-01": false, "9999-12-31": false,
	} {
		d, err := hubapi.ParseDate(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if d.IsZero() {
			t.Errorf("%s parses as unset", s)
		}
		if d.InRange() != ok {
			t.Errorf("%s: in range %v, want %v", s, d.InRange(), ok)
		}
		in := hubapi.PointageInput{UserID: 1, ChantierID: 1, Date: d, Minutes: 60}
		in.Normalize()
		var ve *hubapi.ValidationError
		if err := in.Validate(); ok != (err == nil) || (!ok && (!errors.As(err, &ve) || ve.Fields["date"] == "")) {
			t.Errorf("pointage on %s: %v", s, err)
		}
		f := hubapi.AffectationFilter{From: d}
		if err := f.Validate(); ok != (err == nil) {
			t.Errorf("filter from %s: %v", s, err)
		}
	}
	late := time.Date(2201, 1, 1, 0, 0, 0, 0, time.UTC)
	last := late.Add(-time.Nanosecond)
	if hubapi.TimeInRange(late) || !hubapi.TimeInRange(last) || hubapi.TimeInRange(time.Time{}) {
		t.Error("TimeInRange bounds")
	}
	k := hubapi.APIKeyInput{Name: " k ", ExpiresAt: &late}
	if err := k.Validate(); err == nil || k.Name != "k" {
		t.Errorf("api key expiring in 2201: %v, name %q", err, k.Name)
	}
}

func TestFiltersRefuseWhatNoAdapterSends(t *testing.T) {
	for name, err := range map[string]error{
		"chantier ville with NUL":   (&hubapi.ChantierFilter{Ville: "a\x00"}).Validate(),
		"chantier unknown statut":   (&hubapi.ChantierFilter{Statut: "x"}).Validate(),
		"pointage unknown statut":   (&hubapi.PointageFilter{Statut: "valide\x00"}).Validate(),
		"document unknown category": (&hubapi.DocumentFilter{Categorie: "x"}).Validate(),
		"signalement unknown level": (&hubapi.SignalementFilter{Gravite: "x"}).Validate(),
		"negative chantier id":      (&hubapi.SignalementFilter{ChantierID: -1}).Validate(),
	} {
		if !errors.Is(err, hubapi.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := (&hubapi.ChantierFilter{Ville: "Lyon", Statut: hubapi.ChantierOuvert}).Validate(); err != nil {
		t.Error(err)
	}
}
