package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Quick makes River skip its start-up staggering.
func Quick(c *Config) { c.testOnly = true }

// ConnectorSyncJob is the job of a sync of connector id, for tests that
// insert it without its uniqueness.
func ConnectorSyncJob(id int64) river.JobArgs { return connectorSyncArgs{ConnectorID: id} }

// RunMonthlyPayroll runs the monthly payroll job for the period day.
func (q *Queue) RunMonthlyPayroll(ctx context.Context, db *store.DB, day time.Time) error {
	return q.runMonthlyPayroll(ctx, db, day)
}
