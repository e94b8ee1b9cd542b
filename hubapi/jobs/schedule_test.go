package jobs_test

import (
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/jobs"
)

// The nightly connector sync runs at midnight, whatever the time the
// leader started.
func TestNextMidnight(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		name string
		at   time.Time
		loc  *time.Location
		want time.Time
	}{
		{"late evening → that night", time.Date(2026, 12, 8, 23, 59, 59, 0, time.UTC), nil, time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC)},
		{"at midnight → the next one", time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), nil, time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC)},
		{"end of the year", time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), nil, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"another zone: its midnight", time.Date(2026, 12, 8, 23, 30, 0, 0, time.UTC), paris, time.Date(2026, 12, 10, 0, 0, 0, 0, paris)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := jobs.NextMidnight(c.at, c.loc); !got.Equal(c.want) {
				t.Errorf("NextMidnight(%s) = %s, want %s", c.at, got, c.want)
			}
		})
	}
}
