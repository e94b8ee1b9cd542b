package service_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/service"
)

func TestParseExportMonth(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{"": "2026-11", "2026-11": "2026-11", "2026-12": "2026-12", "2000-01": "2000-01"} {
		m, err := service.ParseExportMonth(in, now)
		if err != nil || m.Format("2006-01") != want || m.Day() != 1 {
			t.Errorf("%q → %v %v, want %s", in, m, err, want)
		}
	}
	t.Run("january asks for december of the year before", func(t *testing.T) {
		m, _ := service.ParseExportMonth("", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		if m.Format("2006-01") != "2026-12" {
			t.Fatal(m)
		}
	})
	for _, bad := range []string{"2027-01", "2026-13", "11-2026", "2026-1", "1999-12", "2026-11-01", "x"} {
		if _, err := service.ParseExportMonth(bad, now); !errors.Is(err, hubapi.ErrInvalid) {
			t.Errorf("%q → %v, want invalid", bad, err)
		}
	}
}

func FuzzParseExportMonth(f *testing.F) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "2026-11", "2026-13", "\x00", "9999-99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := service.ParseExportMonth(s, now)
		if err != nil {
			if !errors.Is(err, hubapi.ErrInvalid) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if m.Day() != 1 || m.After(now) || m.Year() < 2000 {
			t.Fatalf("%q → %v", s, m)
		}
	})
}
