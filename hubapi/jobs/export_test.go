package jobs

import "github.com/riverqueue/river"

// Quick makes River skip its start-up staggering.
func Quick(c *Config) { c.testOnly = true }

// ConnectorSyncJob is the job of a sync of connector id, for tests that
// insert it without its uniqueness.
func ConnectorSyncJob(id int64) river.JobArgs { return connectorSyncArgs{ConnectorID: id} }
